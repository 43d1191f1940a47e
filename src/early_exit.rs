//! Early exit: decides, from cumulative counters sampled periodically (about 4×/s, by
//! the main thread, from the merged worker snapshots), whether a `plan::EarlyExit` rule
//! fires, and says which threshold fired with its figures for the report.
//!
//! Pure: time is an argument (ns since the run's origin); no clock, no I/O, no panic on
//! any input (counters that go backwards are treated as no change). It does not stop the
//! run itself: the caller does that when `observe` returns `Some`.
//!
//! Definitions (the caller's contract):
//! - `ended` = requests that ended: responses of any status + failed requests.
//! - `errors` = failed requests (connect, timeout, reset, bad response…) + responses with
//!   a status >= 400 (4xx and 5xx, as HTTP defines an error; 1xx-3xx are not errors).
//!   For the run-wide rule the caller also adds connection failures that ended no
//!   request (refused connects, failed TLS handshakes) to both `errors` and `ended`.
//! - error rate = errors / ended, over the window. It fires when it is strictly greater
//!   than the threshold, and only once at least `MIN_ENDED_FOR_RATE` (20) requests have
//!   ended in that window, so one early failure cannot stop a run.
//! - error count fires when the errors in the window reach the threshold (`>=`).
//! - a listed status code fires as soon as one response with it is seen in the window.
//! - window: `None` = the whole run; `Some(w)` = between the newest sample at least `w`
//!   old (or the run's start, counters all 0) and now. Samples older than that are
//!   dropped, and at most `MAX_SAMPLES` are kept (the oldest go first: at an absurd
//!   sampling rate the window shrinks rather than memory growing).
//! - Checked in this order: status codes, error count, error rate; the first that holds
//!   is reported.

use crate::plan::EarlyExit;
use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// Requests that must have ended (in the window) before the error rate can fire.
pub const MIN_ENDED_FOR_RATE: u64 = 20;
/// Samples kept for a windowed rule.
pub const MAX_SAMPLES: usize = 4096;

/// Which threshold fired, with the figures that made it fire.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    ErrorRate {
        errors: u64,
        ended: u64,
        threshold: f64,
    },
    ErrorCount {
        errors: u64,
        threshold: u64,
    },
    Status {
        code: u16,
        count: u64,
    },
}

/// A rule that fired: why, when (ns since the origin) and over which window.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub reason: Reason,
    pub at_ns: u64,
    /// `None` = over the whole run.
    pub window: Option<Duration>,
}

impl fmt::Display for Fired {
    /// E.g. "error rate 7.5% (15 of 200) over the last 5s > 5%".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let over = match self.window {
            Some(w) if w.subsec_nanos() == 0 => format!("over the last {}s", w.as_secs()),
            Some(w) => format!("over the last {}", crate::units::format_duration(w)),
            None => "over the run".to_string(),
        };
        match &self.reason {
            Reason::ErrorRate {
                errors,
                ended,
                threshold,
            } => {
                let rate = *errors as f64 / (*ended).max(1) as f64;
                write!(
                    f,
                    "error rate {} ({errors} of {ended}) {over} > {}",
                    percent(rate),
                    percent(*threshold)
                )
            }
            Reason::ErrorCount { errors, threshold } => {
                write!(f, "{errors} errors {over} >= {threshold}")
            }
            Reason::Status { code, count } => {
                let s = if *count == 1 { "" } else { "s" };
                write!(f, "status {code} seen ({count} response{s} {over})")
            }
        }
    }
}

/// `0.075` → "7.5%", `0.05` → "5%".
fn percent(x: f64) -> String {
    let s = format!("{:.2}", x * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

#[derive(Debug, Clone)]
struct Sample {
    at_ns: u64,
    ended: u64,
    errors: u64,
    /// Cumulative count of each of the rule's status codes, in the rule's order.
    codes: Vec<u64>,
}

/// Evaluates one rule over a stream of cumulative samples.
#[derive(Debug, Clone)]
pub struct Evaluator {
    rule: EarlyExit,
    window_ns: Option<u64>,
    /// Oldest first; the front is the baseline of the window.
    samples: VecDeque<Sample>,
}

impl Evaluator {
    pub fn new(rule: EarlyExit) -> Evaluator {
        let window_ns = rule
            .window
            .map(|w| u64::try_from(w.as_nanos()).unwrap_or(u64::MAX));
        let mut samples = VecDeque::new();
        samples.push_back(Sample {
            at_ns: 0,
            ended: 0,
            errors: 0,
            codes: vec![0; rule.status_codes.len()],
        });
        Evaluator {
            rule,
            window_ns,
            samples,
        }
    }

    pub fn rule(&self) -> &EarlyExit {
        &self.rule
    }

    /// Feeds cumulative totals at `now_ns`; `Some` if a threshold holds over the window.
    /// `status_counts` lists (status, cumulative count) pairs in any order; a status may
    /// appear more than once (the counts add up).
    pub fn observe(
        &mut self,
        now_ns: u64,
        ended: u64,
        errors: u64,
        status_counts: &[(u16, u64)],
    ) -> Option<Fired> {
        let codes: Vec<u64> = self
            .rule
            .status_codes
            .iter()
            .map(|c| {
                status_counts
                    .iter()
                    .filter(|(s, _)| s == c)
                    .fold(0u64, |a, (_, n)| a.saturating_add(*n))
            })
            .collect();
        let now = Sample {
            at_ns: now_ns,
            ended,
            errors,
            codes,
        };
        let base = match self.window_ns {
            None => self.samples.front()?.clone(),
            Some(w) => {
                let edge = now_ns.saturating_sub(w);
                // Keep the newest sample at or before the edge as the baseline.
                while self.samples.len() >= 2
                    && self.samples.get(1).is_some_and(|s| s.at_ns <= edge)
                {
                    self.samples.pop_front();
                }
                let base = self.samples.front()?.clone();
                self.samples.push_back(now.clone());
                while self.samples.len() > MAX_SAMPLES {
                    self.samples.pop_front();
                }
                base
            }
        };
        let d_ended = now.ended.saturating_sub(base.ended);
        let d_errors = now.errors.saturating_sub(base.errors);
        let fired = |reason| {
            Some(Fired {
                reason,
                at_ns: now_ns,
                window: self.rule.window,
            })
        };
        for (i, code) in self.rule.status_codes.iter().enumerate() {
            let n = now.codes.get(i).copied().unwrap_or(0);
            let b = base.codes.get(i).copied().unwrap_or(0);
            if n > b {
                return fired(Reason::Status {
                    code: *code,
                    count: n - b,
                });
            }
        }
        if let Some(t) = self.rule.error_count {
            if d_errors >= t {
                return fired(Reason::ErrorCount {
                    errors: d_errors,
                    threshold: t,
                });
            }
        }
        if let Some(t) = self.rule.error_rate {
            if d_ended >= MIN_ENDED_FOR_RATE && (d_errors as f64 / d_ended as f64) > t {
                return fired(Reason::ErrorRate {
                    errors: d_errors,
                    ended: d_ended,
                    threshold: t,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// (time in quarter seconds, ended, errors, statuses).
    type Samples<'a> = Vec<S4<'a>>;
    type S4<'a> = (u64, u64, u64, &'a [(u16, u64)]);

    fn rule(
        rate: Option<f64>,
        count: Option<u64>,
        codes: &[u16],
        window: Option<u64>,
    ) -> Evaluator {
        Evaluator::new(EarlyExit {
            error_rate: rate,
            error_count: count,
            status_codes: codes.to_vec(),
            window: window.map(Duration::from_secs),
        })
    }

    /// (time s·4, ended, errors, statuses) samples → the index and text of the first firing.
    fn feed(ev: &mut Evaluator, samples: &[S4<'_>]) -> Option<(usize, String)> {
        for (i, (q, ended, errors, st)) in samples.iter().enumerate() {
            if let Some(f) = ev.observe(q * S / 4, *ended, *errors, st) {
                return Some((i, f.to_string()));
            }
        }
        None
    }

    #[test]
    fn error_rate_whole_run() {
        let mut ev = rule(Some(0.05), None, &[], None);
        let got = feed(
            &mut ev,
            &[
                (1, 10, 5, &[][..]),
                (2, 19, 19, &[][..]),
                (3, 100, 5, &[][..]),
                (4, 200, 15, &[][..]),
            ],
        );
        // 5 of 10 and 19 of 19: too few ended; 5 of 100 is not > 5%; 15 of 200 is.
        assert_eq!(
            got,
            Some((
                3,
                "error rate 7.5% (15 of 200) over the run > 5%".to_string()
            ))
        );
    }

    #[test]
    fn error_rate_windowed() {
        let mut ev = rule(Some(0.05), None, &[], Some(5));
        // 40 s of 100 req/s with 4% errors, then a burst of errors.
        let mut samples: Samples<'_> = Vec::new();
        for q in 1..=160u64 {
            samples.push((q, q * 25, q, &[]));
        }
        assert_eq!(feed(&mut ev, &samples), None);
        // Over the whole run it would still be below 5%; the last 5 s are at 7.5%.
        let mut extra: Samples<'_> = Vec::new();
        let (mut ended, mut errors) = (4000u64, 160u64);
        for q in 161..=180u64 {
            ended += 25;
            errors += 25 * 3 / 40 + u64::from(q % 2 == 0);
            extra.push((q, ended, errors, &[]));
        }
        let (i, text) = feed(&mut ev, &extra).unwrap();
        assert!(text.ends_with("over the last 5s > 5%"), "{text}");
        assert!(i > 0, "fired too early: {text}");
    }

    #[test]
    fn error_count_and_window() {
        let mut ev = rule(None, Some(10), &[], None);
        assert_eq!(
            feed(&mut ev, &[(1, 5, 9, &[][..]), (2, 6, 10, &[][..])]),
            Some((1, "10 errors over the run >= 10".to_string()))
        );
        // Windowed: 9 errors every 2 s never reach 10 in a 1 s window.
        let mut ev = rule(None, Some(10), &[], Some(1));
        let samples: Samples<'_> = (1..100).map(|q| (q, q * 10, q / 8 * 9, &[][..])).collect();
        assert_eq!(feed(&mut ev, &samples), None);
    }

    #[test]
    fn status_codes() {
        let mut ev = rule(None, None, &[500, 503], None);
        let got = feed(
            &mut ev,
            &[
                (1, 10, 0, &[(200, 10)][..]),
                (2, 20, 2, &[(200, 18), (503, 2)][..]),
            ],
        );
        assert_eq!(
            got,
            Some((1, "status 503 seen (2 responses over the run)".to_string()))
        );
        // In a window, an old 500 no longer counts.
        let mut ev = rule(None, None, &[500], Some(1));
        assert!(ev.observe(S / 4, 1, 1, &[(500, 1)]).is_some());
        assert!(ev.observe(3 * S, 10, 1, &[(500, 1), (200, 9)]).is_none());
        assert!(ev.observe(4 * S, 10, 1, &[(500, 1), (200, 9)]).is_none());
    }

    #[test]
    fn nothing_set_never_fires_and_odd_input_is_safe() {
        let mut ev = rule(None, None, &[], Some(2));
        assert_eq!(ev.observe(S, u64::MAX, u64::MAX, &[(500, u64::MAX)]), None);
        let mut ev = rule(Some(0.0), Some(1), &[], Some(u64::MAX / 2));
        // Counters going backwards: no change, no panic.
        assert!(ev.observe(S, 100, 50, &[]).is_some());
        let mut ev = rule(Some(0.5), None, &[], Some(1));
        assert_eq!(ev.observe(S, 100, 0, &[]), None);
        assert_eq!(ev.observe(S / 2, 10, 0, &[]), None);
        for i in 0..(MAX_SAMPLES as u64 * 2) {
            let _ = ev.observe(u64::MAX - 1000 + i % 1000, i, 0, &[(200, i), (200, i)]);
        }
        assert!(ev.samples.len() <= MAX_SAMPLES);
    }

    #[test]
    fn percents() {
        assert_eq!(percent(0.075), "7.5%");
        assert_eq!(percent(0.05), "5%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.12345), "12.35%");
    }
}
