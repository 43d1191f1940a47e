//! Measurements: each worker's `WorkerStats` (latency histogram, status and error counts,
//! bytes, connection counts) and the merged `Summary` the reports read.
//! Recording is plain arithmetic on preallocated storage: no allocation, no locks, no
//! clock reads (times come in as arguments). Must not format or print anything.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Highest latency the histograms track exactly, in µs (1 hour); larger values saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Why a connection or request failed. Counted per kind; the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connect failed (refused, unreachable, ...).
    Connect,
    /// The TCP connect did not finish within `--connect-timeout`.
    ConnectTimeout,
    /// A response did not arrive within `--timeout`.
    Timeout,
    /// A read failed (other than a reset).
    Read,
    /// A write failed (other than a reset).
    Write,
    /// The peer reset the connection.
    Reset,
    /// The response could not be parsed (bad head, bad framing, over the limits).
    Parse,
    /// The server closed the connection with requests outstanding.
    Closed,
}

impl ErrorKind {
    pub const COUNT: usize = 8;
    pub const ALL: [ErrorKind; Self::COUNT] = [
        ErrorKind::Connect,
        ErrorKind::ConnectTimeout,
        ErrorKind::Timeout,
        ErrorKind::Read,
        ErrorKind::Write,
        ErrorKind::Reset,
        ErrorKind::Parse,
        ErrorKind::Closed,
    ];

    /// The name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Read => "read",
            ErrorKind::Write => "write",
            ErrorKind::Reset => "reset",
            ErrorKind::Parse => "parse",
            ErrorKind::Closed => "closed",
        }
    }
}

/// Status codes are three digits (httparse guarantees it); index by the code itself.
const STATUS_SLOTS: usize = 1000;

/// One worker's counters. Owned by its thread; merged after join.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    /// Response time in µs: done − intended send time (equal to the actual send in the
    /// closed model).
    pub latency: Histogram<u64>,
    pub status: Box<[u64; STATUS_SLOTS]>,
    /// Error events by kind: one per request an error ended, or one per failed connection
    /// attempt / failure with no request outstanding.
    pub errors: [u64; ErrorKind::COUNT],
    /// Requests handed to a connection (written or being written).
    pub sent: u64,
    /// Requests that ended with a response (the sum of `status`).
    pub completed: u64,
    /// Requests that ended with an error.
    pub failed: u64,
    /// Requests still outstanding when the run stopped.
    pub in_flight_at_stop: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Successful TCP connects.
    pub established: u64,
    /// Connects after the first one of each connection slot.
    pub reconnects: u64,
    /// Connection slots that were ever established (distinct slots).
    pub slots_established: u64,
    /// When the worker stopped sending and measuring (ns since the run's origin).
    pub stopped_ns: u64,
}

impl Default for WorkerStats {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerStats {
    pub fn new() -> Self {
        // Bounds and precision are constants, so creation cannot fail.
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
            .expect("constant histogram bounds are valid");
        WorkerStats {
            latency,
            status: Box::new([0; STATUS_SLOTS]),
            errors: [0; ErrorKind::COUNT],
            sent: 0,
            completed: 0,
            failed: 0,
            in_flight_at_stop: 0,
            bytes_read: 0,
            bytes_written: 0,
            established: 0,
            reconnects: 0,
            slots_established: 0,
            stopped_ns: 0,
        }
    }

    /// A response ended a request. `latency_ns` is done − intended.
    #[inline]
    pub fn record_response(&mut self, status: u16, latency_ns: u64) {
        if let Some(slot) = self.status.get_mut(status as usize) {
            *slot += 1;
        }
        self.completed += 1;
        // Round to the nearest µs; 0 is recorded as 1 (the histogram's lowest value).
        let us = ((latency_ns + 500) / 1000).max(1);
        self.latency.saturating_record(us);
    }

    /// An error of `kind` ended `requests` outstanding requests (0: a connection-level
    /// failure with nothing outstanding, still counted once).
    #[inline]
    pub fn record_error(&mut self, kind: ErrorKind, requests: u64) {
        self.errors[kind as usize] += requests.max(1);
        self.failed += requests;
    }

    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.errors[kind as usize]
    }

    /// Adds another worker's counts into this one.
    pub fn merge(&mut self, other: &WorkerStats) {
        // Same bounds on both sides, so `add` cannot fail; saturate defensively anyway.
        if self.latency.add(&other.latency).is_err() {
            for v in other.latency.iter_recorded() {
                self.latency
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        self.sent += other.sent;
        self.completed += other.completed;
        self.failed += other.failed;
        self.in_flight_at_stop += other.in_flight_at_stop;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.established += other.established;
        self.reconnects += other.reconnects;
        self.slots_established += other.slots_established;
        self.stopped_ns = self.stopped_ns.max(other.stopped_ns);
    }
}

/// Request totals. `sent == completed + failed + in_flight_at_stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requests {
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
    pub in_flight_at_stop: u64,
}

/// Error counts by kind (see `ErrorKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Errors {
    pub connect: u64,
    pub connect_timeout: u64,
    pub timeout: u64,
    pub read: u64,
    pub write: u64,
    pub reset: u64,
    pub parse: u64,
    pub closed: u64,
}

impl Errors {
    fn from_counts(c: &[u64; ErrorKind::COUNT]) -> Self {
        let g = |k: ErrorKind| c[k as usize];
        Errors {
            connect: g(ErrorKind::Connect),
            connect_timeout: g(ErrorKind::ConnectTimeout),
            timeout: g(ErrorKind::Timeout),
            read: g(ErrorKind::Read),
            write: g(ErrorKind::Write),
            reset: g(ErrorKind::Reset),
            parse: g(ErrorKind::Parse),
            closed: g(ErrorKind::Closed),
        }
    }

    /// (name, count) in report order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("connect", self.connect),
            ("connect_timeout", self.connect_timeout),
            ("timeout", self.timeout),
            ("read", self.read),
            ("write", self.write),
            ("reset", self.reset),
            ("parse", self.parse),
            ("closed", self.closed),
        ]
        .into_iter()
    }

    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }
}

/// Latency percentiles in µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub p99_99: u64,
    pub max: u64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency {
                min: 0,
                mean: 0.0,
                stdev: 0.0,
                p50: 0,
                p75: 0,
                p90: 0,
                p99: 0,
                p99_9: 0,
                p99_99: 0,
                max: 0,
            };
        }
        let q = |x: f64| h.value_at_quantile(x);
        Latency {
            min: h.min(),
            mean: round2(h.mean()),
            stdev: round2(h.stdev()),
            p50: q(0.50),
            p75: q(0.75),
            p90: q(0.90),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: h.max(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bytes {
    pub read: u64,
    pub written: u64,
}

/// Connection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Connections {
    /// `-c`: connections asked for.
    pub requested: u64,
    /// Connection slots that were established at least once.
    pub established: u64,
    /// Connects beyond the first of each slot (after a close, error or timeout).
    pub reconnects: u64,
}

/// The merged result of a run: what every report format is made from.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Format version of this object.
    pub version: u32,
    pub url: String,
    pub method: String,
    pub threads: usize,
    pub pipelining: usize,
    /// Wall time from the start of the load to its stop, in seconds.
    pub duration_s: f64,
    /// Completed responses per second over `duration_s`.
    pub rps: f64,
    pub requests: Requests,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    pub errors: Errors,
    pub latency_us: Latency,
    pub bytes: Bytes,
    pub connections: Connections,
    /// Merged response-time histogram (µs), for reports that need more than percentiles.
    #[serde(skip)]
    pub histogram: Histogram<u64>,
}

impl Summary {
    /// Builds the summary from merged worker stats.
    pub fn new(
        stats: &WorkerStats,
        url: String,
        method: String,
        threads: usize,
        pipelining: usize,
        connections_requested: usize,
        duration_s: f64,
    ) -> Self {
        let status = stats
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code as u16, *n))
            .collect();
        let rps = if duration_s > 0.0 {
            round2(stats.completed as f64 / duration_s)
        } else {
            0.0
        };
        Summary {
            version: 1,
            url,
            method,
            threads,
            pipelining,
            duration_s: (duration_s * 1e6).round() / 1e6,
            rps,
            requests: Requests {
                sent: stats.sent,
                completed: stats.completed,
                failed: stats.failed,
                in_flight_at_stop: stats.in_flight_at_stop,
            },
            status,
            errors: Errors::from_counts(&stats.errors),
            latency_us: Latency::from_histogram(&stats.latency),
            bytes: Bytes {
                read: stats.bytes_read,
                written: stats.bytes_written,
            },
            connections: Connections {
                requested: connections_requested as u64,
                established: stats.slots_established,
                reconnects: stats.reconnects,
            },
            histogram: stats.latency.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_distinct_and_ordered() {
        let names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "connect",
                "connect_timeout",
                "timeout",
                "read",
                "write",
                "reset",
                "parse",
                "closed"
            ]
        );
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn record_and_merge_add_up() {
        let mut a = WorkerStats::new();
        let mut b = WorkerStats::new();
        a.sent = 5;
        a.record_response(200, 1_000);
        a.record_response(200, 2_000);
        a.record_response(404, 499); // rounds to 0 µs, recorded as 1
        a.record_error(ErrorKind::Timeout, 2);
        b.sent = 3;
        b.record_response(200, 10_000_000);
        b.record_error(ErrorKind::Connect, 0);
        b.in_flight_at_stop = 2;
        a.merge(&b);
        assert_eq!(a.completed, 4);
        assert_eq!(a.failed, 2);
        assert_eq!(a.sent, a.completed + a.failed + a.in_flight_at_stop);
        assert_eq!(a.status[200], 3);
        assert_eq!(a.status[404], 1);
        assert_eq!(a.error_count(ErrorKind::Timeout), 2);
        assert_eq!(a.error_count(ErrorKind::Connect), 1);
        assert_eq!(a.latency.len(), 4);
        assert_eq!(a.latency.min(), 1);
        assert!(a.latency.max() >= 9_990 && a.latency.max() <= 10_010);
    }

    #[test]
    fn huge_latency_saturates() {
        let mut a = WorkerStats::new();
        a.record_response(200, u64::MAX / 2);
        assert_eq!(a.latency.len(), 1);
        assert!(a.latency.max() >= MAX_LATENCY_US / 2);
    }

    #[test]
    fn summary_json_has_the_documented_keys() {
        let mut s = WorkerStats::new();
        s.sent = 3;
        s.record_response(200, 50_000);
        s.record_response(503, 70_000);
        s.in_flight_at_stop = 1;
        s.slots_established = 2;
        let sum = Summary::new(&s, "http://x/".into(), "GET".into(), 1, 1, 2, 2.0);
        let v = serde_json::to_value(&sum).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["rps"], 1.0);
        assert_eq!(v["requests"]["sent"], 3);
        assert_eq!(v["requests"]["completed"], 2);
        assert_eq!(v["requests"]["in_flight_at_stop"], 1);
        assert_eq!(v["status"]["200"], 1);
        assert_eq!(v["status"]["503"], 1);
        for k in ErrorKind::ALL {
            assert_eq!(v["errors"][k.name()], 0, "{}", k.name());
        }
        for k in [
            "min", "mean", "stdev", "p50", "p75", "p90", "p99", "p99_9", "p99_99", "max",
        ] {
            assert!(v["latency_us"][k].is_number(), "{k}");
        }
        assert_eq!(v["latency_us"]["min"], 50);
        assert_eq!(v["bytes"]["read"], 0);
        assert_eq!(v["connections"]["requested"], 2);
        assert_eq!(v["connections"]["established"], 2);
        assert_eq!(v["connections"]["reconnects"], 0);
    }
}
