//! One endpoint's send schedule in one worker (open model): token `k` is the `k`-th
//! request of this worker for this endpoint, and it has an *intended send time* computed
//! in closed form from `k` alone.
//!
//! Pure: time is always an argument (ns since the run's origin); this module never reads
//! a clock, never allocates, never does I/O, and never panics (any rate, any time).
//!
//! The schedule, for a rate `r` (req/s, the worker's share; may be below 1) and a linear
//! ramp-up of `T` (0 = none): the cumulative count is `N(t) = r·t²/(2T)` for `t <= T`
//! and `r·T/2 + r·(t − T)` after. Token `k` is due at `phase + N⁻¹(k)`:
//! - during the ramp (`k < r·T/2`): `sqrt(2·T·k / r)`;
//! - after it: `k / r + T/2`.
//!
//! Each due time is computed from `k` directly (no accumulated sum), so there is no
//! drift however long the run: the only error is the rounding of one multiplication
//! (and one square root) to whole nanoseconds. Token 0 is due at `phase` exactly.
//!
//! Counting convention: over a run of length `D`, the tokens sent are those with an
//! intended time `< D` (the engine stops at `D`), i.e. exactly `ceil(r·D)` for a run
//! without ramp and phase 0: 200 req/s for 5 s is 1000 tokens (`k = 0..=999`, the last
//! at 4.995 s). Taking at `now = D` would give one more (the edge token at `D`).
//!
//! Phases: when `n` workers share an endpoint at total rate `R`, each holds `R/n` and
//! worker `i` gets `phase_ns(i, n, R/n)` = `i/R` seconds, so the union of their
//! schedules is the single schedule `j/R` (worker `i` has `j ≡ i mod n`) and the workers
//! interleave instead of bursting together.
//!
//! Bursts: after a gap (a slow turn of the loop), `take(now)` returns every token that
//! is due, one call each, each with its own intended time; nothing is dropped or merged.

/// A token schedule: rate, ramp and phase, and how many tokens were taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Nanoseconds between tokens after the ramp (`1e9 / r`); `None` = never.
    period_ns: Option<f64>,
    /// Ramp-up length in ns (0 = none).
    ramp_ns: f64,
    /// Tokens issued during the ramp: `r·T/2`.
    ramp_tokens: f64,
    phase_ns: u64,
    /// Tokens taken so far (= index of the next token).
    issued: u64,
}

impl Bucket {
    /// A schedule of `rate_per_s` tokens per second (this worker's share), rising
    /// linearly from 0 over `ramp_up_ns`, shifted by `phase_ns`. A rate of 0, negative,
    /// NaN or infinite gives a bucket that never issues.
    pub fn new(rate_per_s: f64, ramp_up_ns: u64, phase_ns: u64) -> Bucket {
        let period_ns = if rate_per_s.is_finite() && rate_per_s > 0.0 {
            let p = 1e9 / rate_per_s;
            (p.is_finite() && p > 0.0).then_some(p)
        } else {
            None
        };
        let ramp_ns = ramp_up_ns as f64;
        let ramp_tokens = match period_ns {
            Some(p) => ramp_ns / p / 2.0,
            None => 0.0,
        };
        Bucket {
            period_ns,
            ramp_ns,
            ramp_tokens,
            phase_ns,
            issued: 0,
        }
    }

    /// The phase of worker `worker` of `workers` sharing an endpoint, each with
    /// `share_per_s` (so the total rate is `workers × share_per_s`): `worker / total`
    /// seconds. 0 for a zero or invalid rate.
    pub fn phase_ns(worker: usize, workers: usize, share_per_s: f64) -> u64 {
        let total = workers.max(1) as f64 * share_per_s;
        if !(total.is_finite() && total > 0.0) {
            return 0;
        }
        let p = worker as f64 * 1e9 / total;
        if p.is_finite() && p >= 0.0 {
            p as u64 // saturating
        } else {
            0
        }
    }

    /// Intended time of token `k`, or `None` if it lies beyond `u64` nanoseconds
    /// (~584 years) or the bucket never issues.
    pub fn due_of(&self, k: u64) -> Option<u64> {
        let p = self.period_ns?;
        let kf = k as f64;
        let t = if kf < self.ramp_tokens {
            (2.0 * self.ramp_ns * kf * p).sqrt()
        } else {
            kf * p + self.ramp_ns / 2.0
        };
        let t = t.round();
        // 2^64 as f64; anything at or above it does not fit.
        if !(t.is_finite() && t < 18_446_744_073_709_551_616.0) {
            return None;
        }
        (t as u64).checked_add(self.phase_ns)
    }

    /// Intended time of the next token.
    pub fn next_due(&self) -> Option<u64> {
        self.due_of(self.issued)
    }

    /// If the next token is due at `now` (intended `<= now`), takes it and returns its
    /// intended time. Call in a loop to drain a burst.
    pub fn take(&mut self, now_ns: u64) -> Option<u64> {
        let due = self.next_due()?;
        if due > now_ns {
            return None;
        }
        self.issued = self.issued.saturating_add(1);
        Some(due)
    }

    /// Tokens taken so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Skips every token due strictly before `t_ns` that was not taken yet: they are
    /// neither issued nor counted (a worker warming up its connections).
    pub fn skip_before(&mut self, t_ns: u64) {
        self.issued = self.issued.max(self.due_before(t_ns));
    }

    /// How many tokens (from the first) are due strictly before `t_ns`: with `issued`,
    /// the tokens that were due but not taken by `t_ns` (a run stopping at `t_ns` reports
    /// them as never sent). Binary search over `due_of`, which never decreases.
    pub fn due_before(&self, t_ns: u64) -> u64 {
        let before = |k: u64| self.due_of(k).is_some_and(|d| d < t_ns);
        if !before(0) {
            return 0;
        }
        // Grow an upper bound, then bisect: `before(lo)` holds, `before(hi)` does not.
        let (mut lo, mut hi) = (0u64, 1u64);
        while before(hi) {
            lo = hi;
            hi = match hi.checked_mul(2) {
                Some(h) => h,
                None => return u64::MAX,
            };
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if before(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_before_counts_what_take_would_have_returned() {
        for (rate, ramp, phase) in [
            (200.0, 0, 0),
            (0.5, 0, 0),
            (100.0, 2 * S, 0),
            (1e6, 0, 7),
            (3.3, S, S / 3),
        ] {
            let b = Bucket::new(rate, ramp, phase);
            for t in [0, 1, S / 2, S, 5 * S, 5 * S + 1] {
                let mut c = b.clone();
                let mut taken = 0u64;
                // Everything due strictly before t.
                while c.next_due().is_some_and(|d| d < t) {
                    c.take(t);
                    taken += 1;
                }
                assert_eq!(
                    b.due_before(t),
                    taken,
                    "rate {rate} ramp {ramp} phase {phase} t {t}"
                );
            }
        }
        assert_eq!(Bucket::new(0.0, 0, 0).due_before(u64::MAX), 0);
        assert_eq!(Bucket::new(1e9, 0, 0).due_before(u64::MAX), u64::MAX);
    }

    const S: u64 = 1_000_000_000;

    /// Takes every token due up to and including `now`, returning their intended times.
    fn drain(b: &mut Bucket, now: u64) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(t) = b.take(now) {
            out.push(t);
            assert!(out.len() < 10_000_000, "runaway");
        }
        out
    }

    /// Tokens of a whole run of `d` ns, driven tick by tick (`step` ns).
    fn run(b: &mut Bucket, d: u64, step: u64) -> Vec<u64> {
        let mut out = Vec::new();
        let mut now = 0;
        while now < d {
            out.extend(drain(b, now));
            now += step;
        }
        out.extend(drain(b, d - 1));
        out
    }

    #[test]
    fn exact_counts_over_a_duration() {
        // (rate, seconds, expected tokens with intended < duration)
        let cases: &[(f64, u64, u64)] = &[
            (200.0, 5, 1000),
            (50.0, 5, 250),
            (1000.0, 5, 5000),
            (1.0, 10, 10),
            (0.5, 10, 5),
            (3.0, 1, 3),
            (7.5, 2, 15),
        ];
        for &(rate, secs, want) in cases {
            let mut b = Bucket::new(rate, 0, 0);
            let got = run(&mut b, secs * S, 1_000_000);
            assert_eq!(got.len() as u64, want, "rate {rate} for {secs}s");
            assert_eq!(b.issued(), want);
            // The edge token, at exactly D, comes with now = D.
            assert_eq!(b.take(secs * S), Some(secs * S), "rate {rate}");
        }
    }

    #[test]
    fn intended_times_are_exact() {
        let mut b = Bucket::new(200.0, 0, 0);
        let times = drain(&mut b, S);
        assert_eq!(times.len(), 201);
        for (k, t) in times.iter().enumerate() {
            assert_eq!(*t, k as u64 * 5_000_000);
        }
        // Rate that is not a divisor of 1e9: no drift after a million tokens.
        let b = Bucket::new(3.0, 0, 0);
        assert_eq!(b.due_of(3_000_000), Some(1_000_000 * S));
        assert_eq!(b.due_of(1), Some(333_333_333));
        assert_eq!(b.due_of(2), Some(666_666_667));
    }

    #[test]
    fn rates_below_one() {
        let mut b = Bucket::new(0.5, 0, 0);
        assert_eq!(b.take(0), Some(0));
        assert_eq!(b.take(2 * S - 1), None);
        assert_eq!(b.next_due(), Some(2 * S));
        assert_eq!(b.take(2 * S), Some(2 * S));
        assert_eq!(b.take(5 * S), Some(4 * S));
        assert_eq!(b.take(5 * S), None);
        let b = Bucket::new(1e-3, 0, 0);
        assert_eq!(b.due_of(1), Some(1000 * S));
    }

    #[test]
    fn never_issues_without_a_rate() {
        for rate in [
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-320,
        ] {
            let mut b = Bucket::new(rate, 0, 0);
            assert_eq!(b.next_due(), None, "{rate}");
            assert_eq!(b.take(u64::MAX), None, "{rate}");
            assert_eq!(b.issued(), 0);
        }
    }

    #[test]
    fn ramp_up() {
        // 100 req/s ramped over 4 s: 200 tokens during the ramp (r·T/2).
        let mut b = Bucket::new(100.0, 4 * S, 0);
        let ramp = run(&mut b, 4 * S, 1_000_000);
        assert_eq!(ramp.len(), 200);
        // First tokens: sqrt(2·T·k/r) = sqrt(0.08·k) s.
        assert_eq!(ramp[0], 0);
        assert_eq!(ramp[1], 282_842_712);
        assert_eq!(ramp[2], 400_000_000);
        // Gaps shrink during the ramp.
        assert!(ramp[2] - ramp[1] > ramp[199] - ramp[198]);
        // After the ramp: full rate, k/r + T/2.
        assert_eq!(b.next_due(), Some(4 * S));
        assert_eq!(b.due_of(201), Some(4 * S + 10_000_000));
        let mut b = Bucket::new(100.0, 4 * S, 0);
        assert_eq!(run(&mut b, 10 * S, 1_000_000).len(), 200 + 600);
        // Ramp with a fractional token count (r·T/2 = 2.5): ceil.
        let mut b = Bucket::new(1.0, 5 * S, 0);
        assert_eq!(run(&mut b, 5 * S, 1_000_000).len(), 3);
    }

    #[test]
    fn times_never_go_backwards() {
        for (rate, ramp) in [(100.0, 4 * S), (0.3, 7 * S), (12345.6, S / 3), (1e7, S)] {
            let b = Bucket::new(rate, ramp, 0);
            let mut last = 0;
            for k in 0..50_000u64 {
                let t = b.due_of(k).unwrap();
                assert!(t >= last, "rate {rate} k {k}: {t} < {last}");
                last = t;
            }
        }
    }

    #[test]
    fn phases_interleave_and_add_up() {
        let total = 300.0;
        let d = 3 * S;
        let single = run(&mut Bucket::new(total, 0, 0), d, 1_000_000);
        for n in [2usize, 3] {
            let share = total / n as f64;
            let mut all = Vec::new();
            for i in 0..n {
                let phase = Bucket::phase_ns(i, n, share);
                assert_eq!(phase, i as u64 * S / 300, "worker {i} of {n}");
                let mut b = Bucket::new(share, 0, phase);
                all.extend(run(&mut b, d, 1_000_000));
            }
            all.sort_unstable();
            assert_eq!(all.len(), single.len(), "{n} workers");
            for (a, b) in all.iter().zip(&single) {
                assert!(a.abs_diff(*b) <= 1, "{n} workers: {a} vs {b}");
            }
        }
        assert_eq!(Bucket::phase_ns(1, 2, 0.0), 0);
        assert_eq!(Bucket::phase_ns(0, 0, 10.0), 0);
    }

    #[test]
    fn bursts_return_every_token_with_its_own_time() {
        let mut b = Bucket::new(1000.0, 0, 0);
        assert_eq!(drain(&mut b, 0), vec![0]);
        // The loop stalls 50 ms: 50 tokens are due, returned one by one.
        let burst = drain(&mut b, 50_000_000);
        assert_eq!(burst.len(), 50);
        for (i, t) in burst.iter().enumerate() {
            assert_eq!(*t, (i as u64 + 1) * 1_000_000);
        }
        assert_eq!(b.issued(), 51);
        assert_eq!(b.next_due(), Some(51_000_000));
    }

    #[test]
    fn extreme_rates() {
        let mut b = Bucket::new(1e7, 0, 0);
        assert_eq!(drain(&mut b, S / 1000).len(), 10_001);
        assert_eq!(b.next_due(), Some(S / 1000 + 100));
        let mut b = Bucket::new(1e-3, 0, 7);
        assert_eq!(drain(&mut b, 999 * S), vec![7]);
        assert_eq!(b.take(1000 * S + 7), Some(1000 * S + 7));
        // Beyond a rate where a period rounds to 0 ns: still finite and ordered.
        let b = Bucket::new(1e12, 0, 0);
        assert_eq!(b.due_of(1000), Some(1));
    }

    #[test]
    fn no_overflow_on_long_runs() {
        let mut b = Bucket::new(1e-3, 0, u64::MAX - 10);
        assert_eq!(b.take(u64::MAX), Some(u64::MAX - 10));
        assert_eq!(b.next_due(), None, "next token is past u64 ns");
        assert_eq!(b.take(u64::MAX), None);
        let b = Bucket::new(1e6, u64::MAX, 0);
        assert!(b.due_of(u64::MAX).is_none());
        let b = Bucket::new(1e9, 0, 0);
        assert_eq!(b.due_of(u64::MAX), None);
        assert_eq!(b.due_of(1 << 40), Some(1 << 40));
        // A year at 1000 req/s: the last token is exactly on time.
        let year = 365 * 24 * 3600u64;
        let b = Bucket::new(1000.0, 0, 0);
        assert_eq!(b.due_of(year * 1000), Some(year * S));
    }
}
