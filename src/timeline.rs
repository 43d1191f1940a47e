//! The per-second timeline: for each endpoint, responses, errors and the response-time
//! histogram of every second of the run, aligned to the run's origin (shared by all
//! workers: second `t` is `[t, t + 1)` s after it), merged exactly across workers.
//!
//! Owns: one endpoint's live histogram for the current second in one worker, and the
//! compact record of the seconds already closed (each second's histogram in HdrHistogram's
//! V2 encoding, appended to one byte arena — one encoding per endpoint per second, never
//! per request); building the summary's rows (`Second`) and the run's interval histograms
//! (`Interval`, for `.hlog`) from them.
//!
//! Must not: read a clock (times are arguments), allocate per request, or keep a full
//! histogram per second (~188 KB each): closed seconds are only kept encoded.

use crate::stats::{encode_histogram, new_histogram, Interval, Second};
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

/// Nanoseconds per second.
pub const NS: u64 = 1_000_000_000;
/// Arena bytes reserved per expected second (a loopback second encodes in a few hundred
/// bytes to ~2 KiB), so a run of the expected length does not reallocate.
const BYTES_PER_SECOND: usize = 4096;
/// Seconds reserved up front when the run's length is unknown (`-n` only), and at most.
pub const DEFAULT_SECONDS: usize = 64;

/// One closed second of one endpoint in one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec {
    t: u32,
    responses: u64,
    errors: u64,
    /// Its histogram's V2 encoding is `data[off..off + len]` (empty: no responses).
    off: usize,
    len: usize,
}

/// One endpoint's timeline in one worker (or, after `absorb`, of several workers).
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Response times (µs) of the current second.
    live: Histogram<u64>,
    responses: u64,
    errors: u64,
    recs: Vec<Rec>,
    data: Vec<u8>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            live: new_histogram(),
            responses: 0,
            errors: 0,
            recs: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Reserves room for `seconds` seconds, so a run of that length does not reallocate.
    pub fn reserve(&mut self, seconds: usize) {
        self.recs.reserve(seconds);
        self.data.reserve(seconds.saturating_mul(BYTES_PER_SECOND));
    }

    /// A response of the current second, `us` µs after its intended send time.
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.responses += 1;
        self.live.saturating_record(us);
    }

    /// An error ended a request in the current second.
    #[inline]
    pub fn error(&mut self) {
        self.errors += 1;
    }

    /// Closes second `t`: keeps its counts and encoded histogram (when it had any), then
    /// starts the next one empty.
    pub fn close(&mut self, t: u32, ser: &mut V2Serializer) {
        if self.responses == 0 && self.errors == 0 {
            return;
        }
        let off = self.data.len();
        if self.responses > 0 && ser.serialize(&self.live, &mut self.data).is_err() {
            self.data.truncate(off);
        }
        self.recs.push(Rec {
            t,
            responses: self.responses,
            errors: self.errors,
            off,
            len: self.data.len() - off,
        });
        if self.responses > 0 {
            self.live.reset();
        }
        self.responses = 0;
        self.errors = 0;
    }

    /// Adds another worker's closed seconds (of the same endpoint).
    pub fn absorb(&mut self, other: &Timeline) {
        let base = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.recs.extend(other.recs.iter().map(|r| Rec {
            off: r.off + base,
            ..*r
        }));
    }

    /// Bytes this timeline keeps for its closed seconds (for tests and accounting).
    pub fn stored_bytes(&self) -> usize {
        self.data.len() + self.recs.len() * std::mem::size_of::<Rec>()
    }
}

/// A worker's clock of seconds: which second is open, when it ends, and the encoder
/// (its buffer grown once at the start so closing a second never reallocates).
pub struct Clock {
    /// The open second.
    pub second: u32,
    /// When it ends (ns since the origin).
    pub next_ns: u64,
    ser: V2Serializer,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("second", &self.second)
            .field("next_ns", &self.next_ns)
            .finish_non_exhaustive()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Clock {
    fn clone(&self) -> Self {
        Clock {
            second: self.second,
            next_ns: self.next_ns,
            ser: V2Serializer::new(),
        }
    }
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            second: 0,
            next_ns: NS,
            ser: V2Serializer::new(),
        }
    }

    /// Grows the encoder's buffer to its largest size (a histogram reaching the top of
    /// the range), once, so encoding never allocates during the run.
    pub fn warm_up(&mut self) {
        let mut h = new_histogram();
        h.saturating_record(h.high());
        let _ = self.ser.serialize(&h, &mut std::io::sink());
    }

    /// At `now_ns`, closes the open second of every timeline if it has ended and opens
    /// the one containing `now_ns`.
    #[inline]
    pub fn tick(&mut self, now_ns: u64, timelines: &mut [Timeline]) {
        if now_ns >= self.next_ns {
            self.roll(now_ns, timelines);
        }
    }

    #[cold]
    fn roll(&mut self, now_ns: u64, timelines: &mut [Timeline]) {
        for tl in timelines.iter_mut() {
            tl.close(self.second, &mut self.ser);
        }
        let s = now_ns / NS;
        self.second = u32::try_from(s).unwrap_or(u32::MAX);
        self.next_ns = s.saturating_add(1).saturating_mul(NS);
    }

    /// The run ended: closes the open second of every timeline.
    pub fn finish(&mut self, timelines: &mut [Timeline]) {
        for tl in timelines.iter_mut() {
            tl.close(self.second, &mut self.ser);
        }
    }
}

/// Cumulative requests of a schedule of `rate` req/s ramping up linearly over `ramp_s`
/// from the origin, by `t_s` seconds (the closed form of `rate::bucket`).
pub fn scheduled_by(rate: f64, ramp_s: f64, t_s: f64) -> f64 {
    let t = t_s.max(0.0);
    if ramp_s > 0.0 && t < ramp_s {
        rate * t * t / (2.0 * ramp_s)
    } else {
        rate * (t - ramp_s.max(0.0) / 2.0)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The rows of every endpoint and the run's intervals, built from the merged timelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// Per endpoint, one row per second of the run (`0..ceil(duration)`, a last sliver
    /// under 0.1 s without data left out).
    pub endpoints: Vec<Vec<Second>>,
    /// One interval per second: all endpoints' response times merged.
    pub intervals: Vec<Interval>,
}

/// Builds the rows. `schedules[e]`: endpoint `e`'s (rate, ramp-up s), `None` in the
/// closed model. `duration_s`: the run's length (the last second may be partial).
pub fn build(timelines: &[Timeline], schedules: &[Option<(f64, f64)>], duration_s: f64) -> Built {
    let last = timelines
        .iter()
        .flat_map(|tl| tl.recs.iter().map(|r| r.t as usize + 1))
        .max()
        .unwrap_or(0);
    // A run stops a little after its duration (µs, or ms on a busy machine): that sliver
    // is not a second of its own unless something was recorded in it.
    let n = last.max((duration_s - 0.1).max(0.0).ceil() as usize);
    // Per second, its records as (endpoint, index).
    let mut by_second: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (e, tl) in timelines.iter().enumerate() {
        for (i, r) in tl.recs.iter().enumerate() {
            if let Some(slot) = by_second.get_mut(r.t as usize) {
                slot.push((e, i));
            }
        }
    }
    let mut de = Deserializer::new();
    let mut ep_acc = new_histogram();
    let mut all_acc = new_histogram();
    let mut endpoints: Vec<Vec<Second>> = vec![Vec::with_capacity(n); timelines.len()];
    let mut intervals = Vec::with_capacity(n);
    for (t, recs) in by_second.iter().enumerate() {
        let len = (duration_s - t as f64).clamp(0.0, 1.0);
        let len = if len > 0.0 { len } else { 1.0 };
        all_acc.reset();
        for (e, tl) in timelines.iter().enumerate() {
            ep_acc.reset();
            let (mut responses, mut errors) = (0, 0);
            for &(_, i) in recs.iter().filter(|(x, _)| *x == e) {
                let r = tl.recs[i];
                responses += r.responses;
                errors += r.errors;
                if r.len == 0 {
                    continue;
                }
                let Some(mut bytes) = tl.data.get(r.off..r.off + r.len) else {
                    continue;
                };
                if let Ok(h) = de.deserialize::<u64, _>(&mut bytes) {
                    add(&mut ep_acc, &h);
                }
            }
            let q = |x: f64| {
                if ep_acc.is_empty() {
                    0
                } else {
                    ep_acc.value_at_quantile(x)
                }
            };
            let target_rps = schedules.get(e).copied().flatten().map(|(rate, ramp)| {
                let t0 = t as f64;
                round2((scheduled_by(rate, ramp, t0 + len) - scheduled_by(rate, ramp, t0)) / len)
            });
            endpoints[e].push(Second {
                t: t as u32,
                responses,
                errors,
                rps: round2(responses as f64 / len),
                target_rps,
                p50_us: q(0.5),
                p99_us: q(0.99),
                max_us: if ep_acc.is_empty() { 0 } else { ep_acc.max() },
            });
            add(&mut all_acc, &ep_acc);
        }
        intervals.push(Interval {
            start_s: t as f64,
            duration_s: (len * 1e6).round() / 1e6,
            max_us: if all_acc.is_empty() { 0 } else { all_acc.max() },
            histogram: encode_histogram(&all_acc),
        });
    }
    Built {
        endpoints,
        intervals,
    }
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if from.is_empty() {
        return;
    }
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::decode_histogram;

    /// Records `(at_ns, µs or None for an error)` events into `workers` timelines of one
    /// endpoint, each worker its own clock, and merges them.
    fn run(events: &[&[(u64, Option<u64>)]], end_ns: u64) -> Timeline {
        let mut merged = Timeline::new();
        for worker in events {
            let mut clock = Clock::new();
            clock.warm_up();
            let mut tl = vec![Timeline::new()];
            for &(at, us) in *worker {
                clock.tick(at, &mut tl);
                match us {
                    Some(us) => tl[0].record(us),
                    None => tl[0].error(),
                }
            }
            clock.tick(end_ns, &mut tl);
            clock.finish(&mut tl);
            merged.absorb(&tl[0]);
        }
        merged
    }

    #[test]
    fn seconds_merge_exactly_across_workers() {
        let a: &[(u64, Option<u64>)] = &[
            (10, Some(100)),
            (500_000_000, Some(300)),
            (999_999_999, None),
            (1_000_000_000, Some(50)),
            (3_200_000_000, Some(2_000)),
        ];
        let b: &[(u64, Option<u64>)] = &[
            (20, Some(200)),
            (1_500_000_000, None),
            (1_600_000_000, Some(1_000)),
        ];
        let tl = run(&[a, b], 3_500_000_000);
        let built = build(&[tl], &[None], 3.5);
        let rows = &built.endpoints[0];
        assert_eq!(rows.len(), 4);
        let got: Vec<(u32, u64, u64, u64, u64)> = rows
            .iter()
            .map(|r| (r.t, r.responses, r.errors, r.p50_us, r.max_us))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 3, 1, 200, 300),
                (1, 2, 1, 50, 1_000),
                (2, 0, 0, 0, 0),
                (3, 1, 0, 2_000, 2_000),
            ]
        );
        assert_eq!(rows[0].p99_us, 300);
        // The last second is half a second long.
        assert_eq!(rows[3].rps, 2.0);
        assert_eq!(rows[0].rps, 3.0);
        assert_eq!(rows[0].target_rps, None);
        // Intervals: the same histograms, encoded.
        assert_eq!(built.intervals.len(), 4);
        assert_eq!(built.intervals[3].duration_s, 0.5);
        let h = decode_histogram(&built.intervals[0].histogram).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.max(), 300);
        assert_eq!(built.intervals[0].max_us, 300);
        assert!(decode_histogram(&built.intervals[2].histogram)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn many_endpoints_make_one_interval_per_second() {
        let mut clock = Clock::new();
        let mut tls = vec![Timeline::new(), Timeline::new()];
        for i in 0..1000u64 {
            clock.tick(i * 2_000_000, &mut tls);
            tls[(i % 2) as usize].record(i + 1);
        }
        clock.finish(&mut tls);
        let built = build(&tls, &[Some((250.0, 0.0)), None], 2.0);
        assert_eq!(built.intervals.len(), 2);
        let h0 = decode_histogram(&built.intervals[0].histogram).unwrap();
        let h1 = decode_histogram(&built.intervals[1].histogram).unwrap();
        assert_eq!((h0.len(), h1.len()), (500, 500));
        assert_eq!(built.endpoints[0][0].responses, 250);
        assert_eq!(built.endpoints[1][1].responses, 250);
        assert_eq!(built.endpoints[0][1].target_rps, Some(250.0));
        assert_eq!(built.endpoints[1][1].target_rps, None);
    }

    #[test]
    fn target_follows_the_ramp() {
        // 100 req/s ramping over 4 s: the first second averages 12.5, the fourth 87.5,
        // then 100.
        let cases = [
            (0.0, 1.0, 12.5),
            (3.0, 1.0, 87.5),
            (4.0, 1.0, 100.0),
            (1.0, 2.0, 50.0),
            (2.0, 4.0, 87.5),
        ];
        for (t, len, want) in cases {
            let got = (scheduled_by(100.0, 4.0, t + len) - scheduled_by(100.0, 4.0, t)) / len;
            assert!((got - want).abs() < 1e-9, "t={t}: {got} != {want}");
        }
        assert_eq!(scheduled_by(10.0, 0.0, 3.0), 30.0);
    }

    #[test]
    fn closing_a_second_does_not_allocate_once_reserved() {
        let mut clock = Clock::new();
        clock.warm_up();
        let mut tls = vec![Timeline::new()];
        tls[0].reserve(100);
        let cap = tls[0].data.capacity();
        for s in 0..100u64 {
            for i in 0..200 {
                clock.tick(s * NS + i, &mut tls);
                tls[0].record(50 + (i * 37) % 3000);
            }
        }
        clock.finish(&mut tls);
        assert_eq!(tls[0].recs.len(), 100);
        assert_eq!(tls[0].data.capacity(), cap, "no reallocation");
        assert!(tls[0].stored_bytes() < 100 * BYTES_PER_SECOND);
    }
}
