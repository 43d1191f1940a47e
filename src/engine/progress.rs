//! What workers share with the main thread while a run goes on: a stop flag (read once
//! per loop turn) and one snapshot of counts per worker, published about four times a
//! second (never per request) for early exit and live progress. A snapshot also carries
//! each endpoint's latency so far in a small fixed histogram (`LiveHist`), so the live
//! view's percentiles sum exactly over workers. Owns no I/O and no clock; must stay off
//! the per-request path, and publishing reuses the snapshot's storage (no allocation).

use crate::stats::{ErrorKind, WorkerStats, STATUS_SLOTS};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// How often workers publish their counts.
pub const PUBLISH_EVERY_NS: u64 = 250_000_000;
/// The same, as a `Duration`.
pub const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_nanos(PUBLISH_EVERY_NS);

/// One endpoint's counts in a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointCounts {
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
    pub unsent: u64,
    pub errors: [u64; ErrorKind::COUNT],
    pub status: Vec<u64>,
    /// Response times so far (µs, coordinated-omission corrected), at live precision.
    pub latency: LiveHist,
    /// Responses a second over the worker's last publish interval (in a sum: the
    /// workers' rates added, each over its own interval, so workers publishing at
    /// different moments do not skew it).
    pub rps: f64,
}

impl Default for EndpointCounts {
    fn default() -> Self {
        EndpointCounts {
            sent: 0,
            completed: 0,
            failed: 0,
            unsent: 0,
            errors: [0; ErrorKind::COUNT],
            status: vec![0; STATUS_SLOTS],
            latency: LiveHist::new(),
            rps: 0.0,
        }
    }
}

impl EndpointCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &EndpointCounts) {
        self.sent += other.sent;
        self.completed += other.completed;
        self.failed += other.failed;
        self.unsent += other.unsent;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        self.latency.add(&other.latency);
        self.rps += other.rps;
    }

    /// Requests that ended (response or error).
    pub fn ended(&self) -> u64 {
        self.completed + self.failed
    }
}

/// Sub-buckets per power of two in a `LiveHist` (values below twice this are exact).
const LIVE_SUB: u64 = 64;
const LIVE_SUB_BITS: u32 = 6;
/// Buckets of a `LiveHist`: exact below 128 µs, then 64 per power of two up to 2^32 µs
/// (past `MAX_LATENCY_US`).
pub const LIVE_BUCKETS: usize = (LIVE_SUB as usize) * 27;

/// A small latency histogram for the live view: log-linear buckets in µs, 64 per power of
/// two, so a quantile read from it is within 0.8% of the value (its bucket's middle).
/// Fixed size (about 14 KiB), so copying and summing it never allocates and summing over
/// workers and endpoints is exact up to the bucket width. Filled from a worker's
/// full-precision histogram at publish time, never on the per-request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveHist {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for LiveHist {
    fn default() -> Self {
        LiveHist::new()
    }
}

impl LiveHist {
    pub fn new() -> LiveHist {
        LiveHist {
            counts: vec![0; LIVE_BUCKETS].into_boxed_slice(),
            total: 0,
        }
    }

    /// The bucket of a value in µs.
    fn index(us: u64) -> usize {
        let us = us.min(u64::from(u32::MAX));
        if us < 2 * LIVE_SUB {
            return us as usize;
        }
        let shift = (63 - us.leading_zeros()) - LIVE_SUB_BITS; // >= 1
        (u64::from(shift) * LIVE_SUB + (us >> shift)) as usize
    }

    /// The lowest value and the width of bucket `i`.
    fn bucket(i: usize) -> (u64, u64) {
        let i = i as u64;
        if i < 2 * LIVE_SUB {
            return (i, 1);
        }
        let shift = i / LIVE_SUB - 1;
        let mantissa = i - shift * LIVE_SUB;
        (mantissa << shift, 1 << shift)
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }

    /// Records `n` values of `us` µs.
    pub fn record_n(&mut self, us: u64, n: u64) {
        if let Some(c) = self.counts.get_mut(Self::index(us)) {
            *c += n;
            self.total += n;
        }
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &LiveHist) {
        if other.total == 0 {
            return;
        }
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    /// Replaces the contents with `h`'s values (µs), at this histogram's precision.
    pub fn fill_from(&mut self, h: &Histogram<u64>) {
        self.clear();
        for v in h.iter_recorded() {
            self.record_n(v.value_iterated_to(), v.count_at_value());
        }
    }

    /// The value (µs) at quantile `q` in 0..=1: the middle of the bucket holding the
    /// `ceil(q × len)`-th smallest value. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, width) = Self::bucket(i);
                return Some(lo + width / 2);
            }
        }
        None
    }
}

/// A worker's counts at one moment (cumulative since the start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// When it was taken (ns since the run's origin).
    pub at_ns: u64,
    pub endpoints: Vec<EndpointCounts>,
    pub conn_errors: [u64; ErrorKind::COUNT],
    pub bytes_read: u64,
    pub established: u64,
    /// In a sum: the workers that had published nothing yet. Their counts and rates are
    /// not known, not 0, so a rate taken from this sum would be too low (the main thread
    /// looks every 250 ms, as the workers publish, and may look first).
    pub unpublished: usize,
    /// A worker's own snapshot: it has been filled at least once.
    filled: bool,
}

impl Snapshot {
    pub fn new(endpoints: usize) -> Snapshot {
        Snapshot {
            endpoints: (0..endpoints).map(|_| EndpointCounts::default()).collect(),
            ..Snapshot::default()
        }
    }

    /// Zeroes every count, keeping the storage.
    pub fn clear(&mut self) {
        self.at_ns = 0;
        for e in &mut self.endpoints {
            e.sent = 0;
            e.completed = 0;
            e.failed = 0;
            e.unsent = 0;
            e.errors = [0; ErrorKind::COUNT];
            e.status.fill(0);
            e.latency.clear();
            e.rps = 0.0;
        }
        self.conn_errors = [0; ErrorKind::COUNT];
        self.bytes_read = 0;
        self.established = 0;
        self.unpublished = 0;
        self.filled = false;
    }

    /// Copies the worker's counts in, reusing this snapshot's storage; the rates are
    /// over the time since the previous `fill` (kept when no time has passed).
    pub fn fill(&mut self, at_ns: u64, stats: &WorkerStats) {
        let dt = at_ns.saturating_sub(self.at_ns);
        self.at_ns = at_ns;
        self.filled = true;
        for (dst, src) in self.endpoints.iter_mut().zip(stats.endpoints.iter()) {
            if dt > 0 {
                dst.rps = src.completed.saturating_sub(dst.completed) as f64 * 1e9 / dt as f64;
            }
            dst.sent = src.sent;
            dst.completed = src.completed;
            dst.failed = src.failed;
            dst.unsent = src.unsent;
            dst.errors = src.errors;
            dst.status.copy_from_slice(&src.status[..]);
            // Rebuilt only when something new was recorded since the last publish.
            if dst.latency.len() != src.latency.len() {
                dst.latency.fill_from(&src.latency);
            }
        }
        self.conn_errors = stats.conn_errors;
        self.bytes_read = stats.bytes_read;
        self.established = stats.established;
    }

    /// Adds another worker's snapshot into this one (same endpoint list).
    pub fn add(&mut self, other: &Snapshot) {
        self.at_ns = self.at_ns.max(other.at_ns);
        for (a, b) in self.endpoints.iter_mut().zip(other.endpoints.iter()) {
            a.add(b);
        }
        for (a, b) in self.conn_errors.iter_mut().zip(other.conn_errors.iter()) {
            *a += b;
        }
        self.bytes_read += other.bytes_read;
        self.established += other.established;
        self.unpublished += other.unpublished;
    }
}

/// Shared between the main thread and the workers of one run.
#[derive(Debug)]
pub struct Control {
    stop: AtomicBool,
    snapshots: Vec<Mutex<Snapshot>>,
}

impl Control {
    pub fn new(workers: usize, endpoints: usize) -> Control {
        Control {
            stop: AtomicBool::new(false),
            snapshots: (0..workers)
                .map(|_| Mutex::new(Snapshot::new(endpoints)))
                .collect(),
        }
    }

    /// Asks every worker to stop at its next loop turn.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Worker `i` publishes its counts.
    pub fn publish(&self, i: usize, at_ns: u64, stats: &WorkerStats) {
        if let Some(m) = self.snapshots.get(i) {
            if let Ok(mut snap) = m.lock() {
                snap.fill(at_ns, stats);
            }
        }
    }

    /// The sum of every worker's latest snapshot, into `into` (storage reused: no
    /// allocation, so watching a run costs nothing per tick).
    pub fn sum(&self, into: &mut Snapshot) {
        into.clear();
        for m in &self.snapshots {
            if let Ok(snap) = m.lock() {
                into.add(&snap);
                into.unpublished += usize::from(!snap.filled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_snapshots_sum_over_workers() {
        let c = Control::new(2, 2);
        let mut a = WorkerStats::new(2);
        a.record_sent(0);
        a.record_response(0, 200, 1, 1);
        a.record_failed(1, ErrorKind::Timeout);
        let mut b = WorkerStats::new(2);
        b.record_response(0, 503, 1, 1);
        b.record_conn_error(ErrorKind::Connect);
        c.publish(0, 10, &a);
        c.publish(1, 20, &b);
        let mut sum = Snapshot::new(2);
        c.sum(&mut sum);
        assert_eq!(sum.at_ns, 20);
        assert_eq!(sum.endpoints[0].completed, 2);
        assert_eq!(sum.endpoints[0].status[200], 1);
        assert_eq!(sum.endpoints[0].status[503], 1);
        assert_eq!(sum.endpoints[1].failed, 1);
        assert_eq!(sum.endpoints[1].errors[ErrorKind::Timeout as usize], 1);
        assert_eq!(sum.conn_errors[ErrorKind::Connect as usize], 1);
        assert!(!c.stop_requested());
        c.request_stop();
        assert!(c.stop_requested());
    }

    #[test]
    fn live_hist_buckets_are_contiguous_and_cover_their_values() {
        let mut next = 0;
        for i in 0..LIVE_BUCKETS {
            let (lo, width) = LiveHist::bucket(i);
            assert_eq!(lo, next, "bucket {i}");
            assert_eq!(LiveHist::index(lo), i);
            assert_eq!(LiveHist::index(lo + width - 1), i);
            // Never wider than 1/64 of its lowest value (exact below 128).
            assert!(width == 1 || width * 64 <= lo, "bucket {i}: {lo} +{width}");
            next = lo + width;
        }
        assert!(next > crate::stats::MAX_LATENCY_US);
        assert_eq!(LiveHist::index(u64::MAX), LIVE_BUCKETS - 1);
    }

    #[test]
    fn live_hist_quantiles_are_within_a_bucket_of_the_full_histogram() {
        // Each case: values (µs) and how many of each.
        let cases: &[&[(u64, u64)]] = &[
            &[(1, 1)],
            &[(100, 1000)],
            &[(90, 10), (1_000, 80), (250_000, 10)],
            &[(1_234, 500), (5_678, 400), (3_000_000, 100)],
            &[(3_600_000_000, 3)],
        ];
        for values in cases {
            let mut full = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
            for &(v, n) in *values {
                full.record_n(v, n).unwrap();
            }
            let mut live = LiveHist::new();
            live.fill_from(&full);
            assert_eq!(live.len(), full.len());
            for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
                let want = full.value_at_quantile(q) as f64;
                let got = live.quantile(q).unwrap() as f64;
                assert!(
                    (got - want).abs() <= want / 100.0 + 1.0,
                    "{values:?} q{q}: live {got} full {want}"
                );
            }
        }
        assert_eq!(LiveHist::new().quantile(0.5), None);
    }

    #[test]
    fn live_latency_sums_exactly_over_workers() {
        let c = Control::new(2, 1);
        let mut a = WorkerStats::new(1);
        let mut b = WorkerStats::new(1);
        // Worker a is fast, worker b slow: the merged median is b's, which a weighted mean
        // of the workers' own medians would miss.
        for _ in 0..40 {
            a.record_response(0, 200, 1_000_000, 1_000_000); // 1 ms
        }
        for _ in 0..60 {
            b.record_response(0, 200, 9_000_000, 9_000_000); // 9 ms
        }
        c.publish(0, 1, &a);
        c.publish(1, 1, &b);
        let mut sum = Snapshot::new(1);
        c.sum(&mut sum);
        let l = &sum.endpoints[0].latency;
        assert_eq!(l.len(), 100);
        assert!((1_000..=1_010).contains(&l.quantile(0.4).unwrap()));
        assert!((8_960..=9_040).contains(&l.quantile(0.5).unwrap()));
        // Publishing again with nothing new keeps the counts; with more, they follow.
        c.publish(0, 2, &a);
        a.record_response(0, 200, 1_000_000, 1_000_000);
        c.publish(0, 3, &a);
        c.sum(&mut sum);
        assert_eq!(sum.endpoints[0].latency.len(), 101);
    }

    #[test]
    fn summed_rates_hold_whatever_the_workers_publishing_phases() {
        // Two workers at 1000 and 3000 responses a second, publishing every 250 ms but
        // 200 ms apart: a rate from the sum's own successive times would swing wildly.
        let c = Control::new(2, 1);
        let mut stats = [WorkerStats::new(1), WorkerStats::new(1)];
        let per_ms = [1u64, 3];
        let mut sum = Snapshot::new(1);
        let mut done = [0u64; 2];
        for tick in 1..=40u64 {
            let now_ms = tick * 50;
            for w in 0..2 {
                let phase = if w == 0 { 0 } else { 200 };
                if now_ms >= phase && (now_ms - phase) % 250 == 0 {
                    let want = per_ms[w] * now_ms;
                    for _ in done[w]..want {
                        stats[w].record_response(0, 200, 1_000, 1_000);
                    }
                    done[w] = want;
                    c.publish(w, now_ms * 1_000_000, &stats[w]);
                }
            }
            c.sum(&mut sum);
            if now_ms >= 450 {
                assert_eq!(sum.endpoints[0].rps, 4_000.0, "at {now_ms} ms");
            }
        }
    }
}
