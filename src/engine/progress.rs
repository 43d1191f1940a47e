//! What workers share with the main thread while a run goes on: a stop flag (read once
//! per loop turn) and one snapshot of counts per worker, published about four times a
//! second (never per request) for early exit and live progress. Owns no I/O and no
//! clock; must stay off the per-request path.

use crate::stats::{ErrorKind, WorkerStats, STATUS_SLOTS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// How often workers publish their counts.
pub const PUBLISH_EVERY_NS: u64 = 250_000_000;
/// The same, as a `Duration`.
pub const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_nanos(PUBLISH_EVERY_NS);

/// One endpoint's counts in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCounts {
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
    pub unsent: u64,
    pub errors: [u64; ErrorKind::COUNT],
    pub status: Vec<u64>,
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
    }

    /// Requests that ended (response or error).
    pub fn ended(&self) -> u64 {
        self.completed + self.failed
    }
}

/// A worker's counts at one moment (cumulative since the start).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// When it was taken (ns since the run's origin).
    pub at_ns: u64,
    pub endpoints: Vec<EndpointCounts>,
    pub conn_errors: [u64; ErrorKind::COUNT],
    pub bytes_read: u64,
    pub established: u64,
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
        }
        self.conn_errors = [0; ErrorKind::COUNT];
        self.bytes_read = 0;
        self.established = 0;
    }

    /// Copies the worker's counts in, reusing this snapshot's storage.
    pub fn fill(&mut self, at_ns: u64, stats: &WorkerStats) {
        self.at_ns = at_ns;
        for (dst, src) in self.endpoints.iter_mut().zip(stats.endpoints.iter()) {
            dst.sent = src.sent;
            dst.completed = src.completed;
            dst.failed = src.failed;
            dst.unsent = src.unsent;
            dst.errors = src.errors;
            dst.status.copy_from_slice(&src.status[..]);
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
}
