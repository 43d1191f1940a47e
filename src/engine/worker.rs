//! One worker thread's event loop — the only code that touches mio. Owns a `Poll`, a
//! `Slab` of connections, the timer wheel (connect timeouts, response timeouts, reconnect
//! back-off), one read scratch buffer and its `WorkerStats`. Shares nothing with other
//! workers while running: no locks, no atomics per request; the stats are handed back at
//! the end. Must not allocate per request: everything is sized before the loop starts.

use super::conn::{Conn, Outcome, Phase};
use crate::http::response::Limits;
use crate::rate::wheel::{TimerId, TimerWheel};
use crate::request::pipelined;
use crate::signal;
use crate::stats::{ErrorKind, WorkerStats};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Size of the per-worker read buffer.
const SCRATCH: usize = 64 * 1024;
/// Wheel resolution and size: 1 ms ticks, 4096 slots (a rotation is ~4 s; longer
/// deadlines wait for later rotations).
const TICK_NS: u64 = 1_000_000;
const SLOTS: usize = 4096;
/// Longest poll timeout, so a stop signal is noticed promptly.
const MAX_POLL_NS: u64 = 100_000_000;
/// Reconnect back-off: 10 ms doubling to 1 s.
const BACKOFF_MIN_NS: u64 = 10_000_000;
const BACKOFF_MAX_NS: u64 = 1_000_000_000;

/// What one worker does.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    pub connections: usize,
    /// Requests this worker may send in all (`-n` share); `None` = unlimited.
    pub quota: Option<u64>,
    pub addr: SocketAddr,
    /// One rendered request.
    pub request: Vec<u8>,
    /// The request is HEAD: responses carry no body.
    pub head: bool,
    pub pipelining: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Stop at this time (ns since `origin`); `None` = when the quota is done.
    pub stop_at_ns: Option<u64>,
    pub limits: Limits,
}

/// One connection slot: the connection and its single pending timer.
struct Slot {
    conn: Conn<TcpStream>,
    timer: Option<TimerId>,
}

/// Nanoseconds since `origin`.
#[inline]
fn clock(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

struct Worker<'a> {
    plan: &'a WorkerPlan,
    origin: Instant,
    poll: Poll,
    slots: Slab<Slot>,
    wheel: TimerWheel,
    /// `pipelining + 1` copies of the request (see `Conn::flush`).
    reqs: Vec<u8>,
    req_len: usize,
    scratch: Vec<u8>,
    stats: WorkerStats,
    /// Requests this worker may still send (`u64::MAX` = unlimited).
    remaining: u64,
    timeout_ns: u64,
    connect_timeout_ns: u64,
    /// Connect failures since the last successful connect (for `-n` runs without a
    /// duration, which give up when nothing can connect).
    connect_failures: u64,
}

/// Runs one worker to the end and returns its counts.
pub fn run(plan: &WorkerPlan, origin: Instant) -> io::Result<WorkerStats> {
    let mut w = Worker {
        plan,
        origin,
        poll: Poll::new()?,
        slots: Slab::with_capacity(plan.connections),
        wheel: TimerWheel::new(TICK_NS, SLOTS),
        reqs: pipelined(&plan.request, plan.pipelining + 1),
        req_len: plan.request.len(),
        scratch: vec![0; SCRATCH],
        stats: WorkerStats::new(),
        remaining: plan.quota.unwrap_or(u64::MAX),
        timeout_ns: plan.timeout.as_nanos() as u64,
        connect_timeout_ns: plan.connect_timeout.as_nanos() as u64,
        connect_failures: 0,
    };
    w.run_loop()?;
    Ok(w.stats)
}

impl Worker<'_> {
    fn run_loop(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut expired: Vec<usize> = Vec::with_capacity(self.plan.connections);
        let now = clock(self.origin);
        for _ in 0..self.plan.connections {
            let key = self.slots.insert(Slot {
                conn: Conn::new(self.plan.pipelining, self.plan.limits),
                timer: None,
            });
            self.connect(key, now);
        }
        loop {
            let now = clock(self.origin);
            if self.should_stop(now) {
                break;
            }
            let mut wake = now + MAX_POLL_NS;
            if let Some(t) = self.wheel.next_deadline() {
                wake = wake.min(t);
            }
            if let Some(t) = self.plan.stop_at_ns {
                wake = wake.min(t);
            }
            let timeout = Duration::from_nanos(wake.saturating_sub(now));
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for ev in events.iter() {
                // One clock read per readiness event: the best observation of when its
                // bytes were there, and the send time of what it writes.
                let now = clock(self.origin);
                self.on_event(ev.token().0, ev, now);
            }
            let now = clock(self.origin);
            self.wheel.expire(now, |key| expired.push(key));
            for key in expired.drain(..) {
                self.on_timer(key, now);
            }
        }
        // The run stopped: whatever is outstanding is "in flight at stop". (Closing the
        // sockets, when the slab drops, is not part of the measured time.)
        self.stats.stopped_ns = clock(self.origin);
        for (_, slot) in self.slots.iter_mut() {
            self.stats.in_flight_at_stop += slot.conn.abandon() as u64;
        }
        Ok(())
    }

    fn should_stop(&self, now: u64) -> bool {
        if self.plan.stop_at_ns.is_some_and(|t| now >= t) || signal::stop_requested() {
            return true;
        }
        if self.remaining == 0 {
            let outstanding = self.stats.sent - self.stats.completed - self.stats.failed;
            return outstanding == 0;
        }
        // A count-only run with nothing that can connect must not retry forever.
        self.plan.stop_at_ns.is_none()
            && self.stats.established == 0
            && self.connect_failures >= 3 * self.plan.connections as u64 + 10
    }

    fn on_event(&mut self, key: usize, ev: &mio::event::Event, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        match slot.conn.phase {
            Phase::Down => {} // a stale event for a socket already closed
            Phase::Connecting => {
                if ev.is_writable() || ev.is_error() || ev.is_write_closed() || ev.is_read_closed()
                {
                    self.on_connect_ready(key, now);
                }
            }
            Phase::Open => {
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    let drain = ev.is_read_closed() || ev.is_error();
                    let outcome = slot.conn.on_readable(
                        &mut self.scratch,
                        now,
                        self.plan.head,
                        drain,
                        &mut self.stats,
                    );
                    if outcome != Outcome::Open {
                        self.closed(key, outcome, now);
                        return;
                    }
                }
                self.send(key, now);
            }
        }
    }

    /// The connect of `key` reported readiness: find out whether it succeeded.
    fn on_connect_ready(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let Some(stream) = slot.conn.io.as_ref() else {
            return;
        };
        let failed = match stream.take_error() {
            Ok(Some(_)) | Err(_) => true,
            Ok(None) => match stream.peer_addr() {
                Ok(_) => false,
                // Not connected yet: a spurious wake-up; wait for the next event.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(_) => true,
            },
        };
        if failed {
            slot.conn.failures = slot.conn.failures.saturating_add(1);
            self.stats.record_error(ErrorKind::Connect, 0);
            self.connect_failures += 1;
            self.drop_socket(key);
            self.back_off(key, now, ErrorKind::Connect);
            return;
        }
        let _ = stream.set_nodelay(true);
        if slot.conn.ever_connected {
            self.stats.reconnects += 1;
        } else {
            self.stats.slots_established += 1;
        }
        self.stats.established += 1;
        self.connect_failures = 0;
        slot.conn.established();
        // The connect timer is no longer wanted; the response timer starts with the
        // first request.
        if let Some(id) = slot.timer.take() {
            self.wheel.cancel(id);
        }
        self.send(key, now);
    }

    /// Tops the connection up to its pipelining depth (within the quota) and writes.
    fn send(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let room = (slot.conn.room() as u64).min(self.remaining);
        if room > 0 && self.plan.stop_at_ns.is_none_or(|t| now < t) {
            for _ in 0..room {
                slot.conn.enqueue(now, now, self.req_len, &mut self.stats);
            }
            if self.remaining != u64::MAX {
                self.remaining -= room;
            }
            if slot.timer.is_none() {
                slot.timer = Some(
                    self.wheel
                        .schedule(now.saturating_add(self.timeout_ns), key),
                );
            }
        }
        if slot.conn.write_pending() {
            let outcome = slot.conn.flush(&self.reqs, self.req_len, &mut self.stats);
            if outcome != Outcome::Open {
                self.closed(key, outcome, now);
            }
        }
    }

    fn on_timer(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        slot.timer = None;
        match slot.conn.phase {
            Phase::Down => self.connect(key, now),
            Phase::Connecting => {
                slot.conn.failures = slot.conn.failures.saturating_add(1);
                self.stats.record_error(ErrorKind::ConnectTimeout, 0);
                self.connect_failures += 1;
                self.drop_socket(key);
                self.back_off(key, now, ErrorKind::ConnectTimeout);
            }
            Phase::Open => match slot.conn.oldest_sent() {
                None => {} // idle: the next request schedules a timer again
                Some(sent) if now >= sent.saturating_add(self.timeout_ns) => {
                    // The oldest response is late: it (and whatever is queued behind it
                    // on this connection) ends as a timeout; a late answer can never be
                    // counted because the connection is replaced.
                    let outcome = slot.conn.fail(ErrorKind::Timeout, &mut self.stats);
                    self.closed(key, outcome, now);
                }
                Some(sent) => {
                    slot.timer = Some(
                        self.wheel
                            .schedule(sent.saturating_add(self.timeout_ns), key),
                    );
                }
            },
        }
    }

    /// The connection ended (orderly or not): close the socket, then reconnect now or
    /// after a back-off.
    fn closed(&mut self, key: usize, outcome: Outcome, now: u64) {
        self.drop_socket(key);
        match outcome {
            Outcome::Open => {}
            Outcome::Finished => self.connect(key, now),
            Outcome::Failed(kind) => self.back_off(key, now, kind),
        }
    }

    fn back_off(&mut self, key: usize, now: u64, kind: ErrorKind) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let failures = slot.conn.failures;
        let connect_kind = matches!(kind, ErrorKind::Connect | ErrorKind::ConnectTimeout);
        let delay = if failures <= 1 && !connect_kind {
            0 // one failure after successes: replace the connection at once
        } else {
            let shift = failures.saturating_sub(1).min(7);
            (BACKOFF_MIN_NS << shift).min(BACKOFF_MAX_NS)
        };
        if delay == 0 {
            self.connect(key, now);
        } else {
            if let Some(id) = slot.timer.take() {
                self.wheel.cancel(id);
            }
            slot.timer = Some(self.wheel.schedule(now.saturating_add(delay), key));
        }
    }

    /// Deregisters and closes the socket of `key`, if any.
    fn drop_socket(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            if let Some(mut s) = slot.conn.io.take() {
                let _ = self.poll.registry().deregister(&mut s);
            }
            slot.conn.phase = Phase::Down;
        }
    }

    /// Starts a non-blocking connect for `key`.
    fn connect(&mut self, key: usize, now: u64) {
        if self.plan.stop_at_ns.is_some_and(|t| now >= t) {
            return;
        }
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if let Some(id) = slot.timer.take() {
            self.wheel.cancel(id);
        }
        let registered = TcpStream::connect(self.plan.addr).and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, Token(key), Interest::READABLE | Interest::WRITABLE)
                .map(|()| s)
        });
        match registered {
            Ok(s) => {
                slot.conn.connecting(s);
                slot.timer = Some(
                    self.wheel
                        .schedule(now.saturating_add(self.connect_timeout_ns), key),
                );
            }
            Err(_) => {
                slot.conn.failures = slot.conn.failures.saturating_add(1);
                self.stats.record_error(ErrorKind::Connect, 0);
                self.connect_failures += 1;
                self.back_off(key, now, ErrorKind::Connect);
            }
        }
    }
}
