//! TEMP
pub struct Bucket {
    rate: f64,
    phase: u64,
    k: u64,
}
impl Bucket {
    pub fn new(rate: f64, _ramp: u64, phase: u64) -> Bucket {
        Bucket { rate, phase, k: 0 }
    }
    pub fn next_due(&self) -> Option<u64> {
        if self.rate > 0.0 {
            Some(self.phase + (self.k as f64 * 1e9 / self.rate) as u64)
        } else {
            None
        }
    }
    pub fn take(&mut self, now: u64) -> Option<u64> {
        let d = self.next_due()?;
        if d <= now {
            self.k += 1;
            Some(d)
        } else {
            None
        }
    }
}
