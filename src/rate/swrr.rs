//! TEMP (replaced by the real module)
#![allow(clippy::should_implement_trait)]
pub struct Swrr {
    w: Vec<u32>,
    i: usize,
}
impl Swrr {
    pub fn new(w: &[u32]) -> Swrr {
        Swrr {
            w: w.to_vec(),
            i: 0,
        }
    }
    pub fn next(&mut self) -> usize {
        self.i = (self.i + 1) % self.w.len().max(1);
        self.i
    }
}
