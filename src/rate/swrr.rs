//! Smooth weighted round-robin (nginx's algorithm) over the closed-loop endpoints: each
//! pick adds every weight to its running score, takes the highest score (the first on a
//! tie) and subtracts the total weight from it. Over any `total` consecutive picks each
//! endpoint is picked exactly `weight` times, spread out rather than in runs.
//!
//! Pure and deterministic: no clock, no randomness, no allocation in `next`. Weights of
//! zero are rejected at construction (`Swrr::new` returns `None`), as is an empty list,
//! so `next` always has an answer.

/// The round-robin state: weights and running scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swrr {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl Swrr {
    /// A round-robin over `weights` (index = endpoint). `None` if the list is empty or a
    /// weight is 0.
    pub fn new(weights: &[u32]) -> Option<Swrr> {
        if weights.is_empty() || weights.contains(&0) {
            return None;
        }
        let weights: Vec<i64> = weights.iter().map(|&w| i64::from(w)).collect();
        // At most usize::MAX/8 entries of at most 2^32: the sum fits in i64 on 64-bit.
        let total = weights.iter().try_fold(0i64, |a, &w| a.checked_add(w))?;
        Some(Swrr {
            current: vec![0; weights.len()],
            weights,
            total,
        })
    }

    /// The index of the next endpoint. (Not an `Iterator`: it never ends, and the
    /// name is the brief's.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> usize {
        let mut best = 0;
        let mut best_score = i64::MIN;
        for (i, (c, w)) in self.current.iter_mut().zip(&self.weights).enumerate() {
            *c += w;
            if *c > best_score {
                best_score = *c;
                best = i;
            }
        }
        if let Some(c) = self.current.get_mut(best) {
            *c -= self.total;
        }
        best
    }

    /// Number of endpoints.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always false (an empty round-robin cannot be built).
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(weights: &[u32], n: usize) -> Vec<usize> {
        let mut s = Swrr::new(weights).unwrap();
        (0..n).map(|_| s.next()).collect()
    }

    #[test]
    fn sequences() {
        let cases: &[(&[u32], &[usize])] = &[
            (&[1], &[0, 0, 0]),
            (&[1, 1], &[0, 1, 0, 1]),
            (&[2, 2, 2], &[0, 1, 2, 0, 1, 2]),
            (&[1, 3], &[1, 0, 1, 1, 1, 0, 1, 1]),
            // nginx's own example: a b c weights 5 1 1 -> a a b a c a a.
            (&[5, 1, 1], &[0, 0, 1, 0, 2, 0, 0]),
        ];
        for (weights, want) in cases {
            assert_eq!(picks(weights, want.len()), *want, "{weights:?}");
        }
    }

    #[test]
    fn exact_shares_per_cycle() {
        for weights in [&[1u32, 3][..], &[5, 1, 1], &[7, 2, 9, 1], &[100, 1]] {
            let total: u32 = weights.iter().sum();
            let seq = picks(weights, total as usize * 5);
            for cycle in seq.chunks(total as usize) {
                for (i, w) in weights.iter().enumerate() {
                    let n = cycle.iter().filter(|&&p| p == i).count();
                    assert_eq!(n, *w as usize, "{weights:?} endpoint {i}");
                }
            }
        }
    }

    #[test]
    fn smooth_no_long_runs() {
        // 1:3 never picks the light one twice in a row, nor the heavy one 4 times.
        let seq = picks(&[1, 3], 400);
        assert!(seq.windows(2).all(|w| w != [0, 0]));
        assert!(seq.windows(4).all(|w| w != [1, 1, 1, 1]));
    }

    #[test]
    fn rejected_weights() {
        assert_eq!(Swrr::new(&[]), None);
        assert_eq!(Swrr::new(&[1, 0]), None);
        assert_eq!(Swrr::new(&[0]), None);
        let s = Swrr::new(&[u32::MAX, u32::MAX]).unwrap();
        assert_eq!(s.len(), 2);
        assert!(!s.is_empty());
        assert_eq!(picks(&[u32::MAX, u32::MAX], 4), vec![0, 1, 0, 1]);
    }
}
