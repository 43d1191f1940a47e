//! One worker thread's event loop — the only code that touches mio. Owns a `Poll`, a
//! `Slab` of connections grouped in pools, the timer wheel (connect timeouts, response
//! timeouts, reconnect back-off, rate wake-ups), each rated endpoint's send schedule and
//! wait queue, one read scratch buffer and its `WorkerStats`. Shares nothing with other
//! workers while running: no locks or atomics per request (a snapshot is published to
//! `Control` a few times a second). Must not allocate per request: every buffer and
//! queue is sized before the loop starts.
//!
//! Pools: each pool holds connections to one address and is either *open* (serves the
//! rated endpoints of that address: every token of an endpoint's schedule is a request
//! with an intended send time; it goes to a connection with room, or waits in the pool's
//! bounded queue, its wait counting in its response time) or *closed* (keeps its
//! connections full with requests of the unrated endpoints of that address, taken by
//! smooth weighted round-robin).

use super::conn::{Conn, InFlight, Outcome, Phase, ReadBuf};
use super::progress::{Control, PUBLISH_EVERY_NS};
use super::transport::{Progress, TlsTarget, Transport};
use crate::http::response::Limits;
use crate::rate::bucket::Bucket;
use crate::rate::swrr::Swrr;
use crate::rate::wheel::{TimerId, TimerWheel};
use crate::request::Requests;
use crate::signal;
use crate::stats::{ErrorKind, WorkerStats};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Size of the per-worker read buffer.
const SCRATCH: usize = 64 * 1024;
/// Wheel resolution and size: 1 ms ticks, 4096 slots (a rotation is ~4 s; longer
/// deadlines wait for later rotations).
const TICK_NS: u64 = 1_000_000;
const SLOTS: usize = 4096;
/// Longest poll timeout, so a stop request is noticed promptly.
const MAX_POLL_NS: u64 = 100_000_000;
/// Most tokens one endpoint releases per loop turn: an absurd rate must not stall the
/// loop (tokens left due are counted as never sent at the stop).
const MAX_TOKENS_PER_TURN: usize = 4096;
/// After SIGINT/SIGTERM, responses still outstanding are waited for this long at most
/// (or the longest response timeout, if shorter); nothing new is sent meanwhile.
const DRAIN_NS: u64 = 1_000_000_000;
/// Reconnect back-off: 10 ms doubling to 1 s.
const BACKOFF_MIN_NS: u64 = 10_000_000;
const BACKOFF_MAX_NS: u64 = 1_000_000_000;
/// Wheel keys at or above this are rate wake-ups of endpoint `key - WAKE_KEY`; below,
/// they are connection slab keys.
const WAKE_KEY: usize = 1 << 40;
/// Poll token of the worker's precise timer (slot tokens never reach it: keys and
/// generations are 32-bit).
const TIMER_TOKEN: Token = Token(usize::MAX);

/// A timerfd that ends the poll at a deadline to the nanosecond. mio's poll timeout is
/// in whole milliseconds, rounded up, so an idle worker would send a rated request up to
/// 1 ms after its intended time — and that delay would show in the corrected latency.
/// Armed only when a deadline is near and only when it changes (one `timerfd_settime`).
struct PreciseTimer {
    fd: std::os::fd::OwnedFd,
    /// Deadline it is armed for (ns since the run's origin).
    armed: Option<u64>,
    /// CLOCK_MONOTONIC of the run's origin, in ns (`Instant` is CLOCK_MONOTONIC).
    origin_mono_ns: u64,
}

impl PreciseTimer {
    fn new(poll: &Poll, origin: Instant) -> io::Result<PreciseTimer> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain syscalls; the returned descriptor is owned from here on.
        let fd = unsafe {
            let fd = libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            std::os::fd::OwnedFd::from_raw_fd(fd)
        };
        let raw = fd.as_raw_fd();
        poll.registry().register(
            &mut mio::unix::SourceFd(&raw),
            TIMER_TOKEN,
            Interest::READABLE,
        )?;
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes the current time into `ts`.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let mono_now = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        let origin_mono_ns = mono_now.saturating_sub(origin.elapsed().as_nanos() as u64);
        // Less timer slack for this thread: epoll and the timer wake when asked.
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
        Ok(PreciseTimer {
            fd,
            armed: None,
            origin_mono_ns,
        })
    }

    /// Makes sure the timer fires at `at_ns` (since the origin).
    fn arm(&mut self, at_ns: u64) {
        use std::os::fd::AsRawFd;
        if self.armed == Some(at_ns) {
            return;
        }
        let abs = self.origin_mono_ns.saturating_add(at_ns).max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (abs / 1_000_000_000) as libc::time_t,
                tv_nsec: (abs % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not wanted.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        self.armed = (rc == 0).then_some(at_ns);
    }
}

/// One endpoint as this worker drives it.
#[derive(Debug, Clone)]
pub struct WorkerEndpoint {
    /// Its rendered request.
    pub request: Vec<u8>,
    /// HEAD: responses carry no body.
    pub head: bool,
    /// The request says `Connection: close`: one request per connection.
    pub close: bool,
    pub timeout: Duration,
    /// This worker's share of the endpoint's rate (req/s); `None` = closed loop.
    pub rate: Option<f64>,
    pub ramp_up: Duration,
    /// Offset of this worker's schedule from the run's origin, so workers sharing an
    /// endpoint interleave.
    pub phase: Duration,
    /// Index of the pool that serves it.
    pub pool: usize,
}

/// What a pool serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolKind {
    /// The rated endpoints pointing at `PoolPlan::addr` (open model).
    Open,
    /// These unrated endpoints, by weight (closed model).
    Closed {
        endpoints: Vec<usize>,
        weights: Vec<u32>,
    },
}

/// One pool of connections to one address.
#[derive(Debug, Clone)]
pub struct PoolPlan {
    pub addr: SocketAddr,
    pub kind: PoolKind,
    /// Connections opened at the start.
    pub connections: usize,
    /// Autoscale may grow an open pool up to this many connections.
    pub max_connections: usize,
    /// https: the TLS set-up of this pool's origin (this worker's own config).
    pub tls: Option<TlsTarget>,
}

/// What one worker does.
#[derive(Debug, Clone)]
pub struct WorkerPlan {
    /// This worker's index (for its `Control` snapshot).
    pub index: usize,
    pub endpoints: Vec<WorkerEndpoint>,
    pub pools: Vec<PoolPlan>,
    /// Requests this worker may send in all (`-n` share); `None` = unlimited.
    pub quota: Option<u64>,
    pub pipelining: usize,
    pub connect_timeout: Duration,
    /// Stop at this time (ns since `origin`); `None` = when the quota is done.
    pub stop_at_ns: Option<u64>,
    pub limits: Limits,
    /// Bytes of each sampled response body kept (`--sample-size`).
    pub sample_size: usize,
}

/// One connection slot: the connection, its pool, and its single pending timer.
struct Slot {
    conn: Conn<Transport>,
    /// When the current connect (then the TLS handshake) started.
    started_ns: u64,
    /// The connection is new and no response byte has arrived yet (time to first byte).
    first_byte: bool,
    timer: Option<TimerId>,
    pool: usize,
    /// Queued in its open pool's `free` connections.
    listed: bool,
    /// In the worker's `hot` list: its last read ran out of budget with data left.
    /// `Some(drain)` keeps the drain flag of the event that started it.
    hot: Option<bool>,
    /// Bumped at every connect and carried in the poll token, so an event of a socket
    /// this slot already closed is recognised and ignored.
    generation: u32,
}

/// Poll token of slot `key` in its `generation`.
#[inline]
fn token(key: usize, generation: u32) -> Token {
    Token(key | ((generation as usize) << 32))
}

/// Slot key and generation of a poll token.
#[inline]
fn untoken(t: Token) -> (usize, u32) {
    (t.0 & 0xffff_ffff, (t.0 >> 32) as u32)
}

/// A request of an open pool waiting for a connection with room.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    endpoint: u32,
    intended_ns: u64,
}

struct Pool {
    addr: SocketAddr,
    tls: Option<TlsTarget>,
    /// Closed pools: the weighted picker and the endpoints it picks from.
    closed: Option<(Swrr, Vec<usize>)>,
    /// Open pools: connections that have room, first come first served so that with
    /// pipelining the requests spread over the connections (may hold stale keys; checked
    /// on pop).
    free: VecDeque<usize>,
    /// Open pools: requests due but not sent yet, oldest first (bounded).
    waiting: VecDeque<Waiting>,
    waiting_cap: usize,
    /// Connection slots of this pool, and how many are connecting right now.
    slots: usize,
    connecting: usize,
    max_slots: usize,
}

/// Nanoseconds since `origin`.
#[inline]
fn clock(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

struct EndpointState {
    head: bool,
    close: bool,
    timeout_ns: u64,
    pool: usize,
    /// The send schedule (rated endpoints), made when the worker's connections are up.
    bucket: Option<Bucket>,
    wake: Option<TimerId>,
}

struct Worker<'a> {
    plan: &'a WorkerPlan,
    control: &'a Control,
    origin: Instant,
    poll: Poll,
    slots: Slab<Slot>,
    pools: Vec<Pool>,
    endpoints: Vec<EndpointState>,
    wheel: TimerWheel,
    /// Rendered request of each endpoint.
    reqs: Requests,
    scratch: ReadBuf,
    stats: WorkerStats,
    /// Requests this worker may still send (`u64::MAX` = unlimited).
    remaining: u64,
    connect_timeout_ns: u64,
    /// Connect failures since the last successful connect (for `-n` runs without a
    /// duration, which give up when nothing can connect).
    connect_failures: u64,
    next_publish_ns: u64,
    /// Connections to read again without waiting for readiness (see `Outcome::Yield`),
    /// and a spare list to swap with while they are served.
    hot: Vec<usize>,
    hot_spare: Vec<usize>,
    /// Keys of expired timers, reused by every `run_timers`.
    expired: Vec<usize>,
    /// When the rated endpoints' schedules started (once the initial connections were
    /// up, so the connect storm is not measured as latency); `None` before.
    schedule_start_ns: Option<u64>,
    /// When `release_due` last ran.
    last_release_ns: u64,
    /// A signal asked to stop: nothing more is sent, and the run ends when nothing is
    /// outstanding or at this time (ns since the origin), whichever comes first.
    draining_until: Option<u64>,
    /// How long to wait for outstanding responses after a signal.
    drain_ns: u64,
}

/// Runs one worker to the end and returns its counts.
pub fn run(plan: &WorkerPlan, control: &Control, origin: Instant) -> io::Result<WorkerStats> {
    let total_slots: usize = plan
        .pools
        .iter()
        .map(|p| p.max_connections.max(p.connections))
        .sum();
    let pools = plan
        .pools
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (closed, waiting_cap) = match &p.kind {
                PoolKind::Closed { endpoints, weights } => {
                    let weights: Vec<u32> = weights.iter().map(|w| (*w).max(1)).collect();
                    (Swrr::new(&weights).map(|s| (s, endpoints.clone())), 0)
                }
                PoolKind::Open => {
                    // Room for 10 s of this pool's rate (at least 16k, at most 1M waiting
                    // requests): a stalled server must not make requests vanish.
                    let rate: f64 = plan
                        .endpoints
                        .iter()
                        .filter(|e| e.pool == i)
                        .filter_map(|e| e.rate)
                        .sum();
                    (None, ((rate * 10.0) as usize).clamp(16_384, 1 << 20))
                }
            };
            Pool {
                addr: p.addr,
                tls: p.tls.clone(),
                closed,
                free: VecDeque::with_capacity(p.max_connections.max(p.connections)),
                waiting: VecDeque::with_capacity(waiting_cap),
                waiting_cap,
                slots: 0,
                connecting: 0,
                max_slots: p.max_connections.max(p.connections),
            }
        })
        .collect();
    let endpoints = plan
        .endpoints
        .iter()
        .map(|e| EndpointState {
            head: e.head,
            close: e.close,
            timeout_ns: e.timeout.as_nanos() as u64,
            pool: e.pool,
            bucket: None,
            wake: None,
        })
        .collect();
    let mut stats = WorkerStats::new(plan.endpoints.len());
    for p in &plan.pools {
        if let PoolKind::Closed { endpoints, .. } = &p.kind {
            // `refill` sends these at their intended time: one histogram stands for two.
            for &ep in endpoints {
                if let Some(c) = stats.endpoints.get_mut(ep) {
                    c.service_is_latency = true;
                }
            }
        }
    }
    let mut w = Worker {
        plan,
        control,
        origin,
        poll: Poll::new()?,
        slots: Slab::with_capacity(total_slots),
        pools,
        endpoints,
        wheel: TimerWheel::new(TICK_NS, SLOTS),
        reqs: Requests::new(
            &plan
                .endpoints
                .iter()
                .map(|e| e.request.as_slice())
                .collect::<Vec<_>>(),
            plan.pipelining,
        ),
        scratch: ReadBuf::new(SCRATCH, plan.endpoints.len()),
        stats,
        remaining: plan.quota.unwrap_or(u64::MAX),
        connect_timeout_ns: plan.connect_timeout.as_nanos() as u64,
        connect_failures: 0,
        next_publish_ns: PUBLISH_EVERY_NS,
        hot: Vec::with_capacity(total_slots),
        hot_spare: Vec::with_capacity(total_slots),
        expired: Vec::with_capacity(total_slots + plan.endpoints.len()),
        schedule_start_ns: None,
        last_release_ns: 0,
        draining_until: None,
        drain_ns: plan
            .endpoints
            .iter()
            .map(|e| e.timeout.as_nanos() as u64)
            .max()
            .unwrap_or(DRAIN_NS)
            .min(DRAIN_NS),
    };
    // Room for the run's seconds of timeline (reserved, not touched: it costs no memory
    // until used), so closing a second does not reallocate in a run of that length.
    let seconds = plan
        .stop_at_ns
        .map_or(crate::timeline::DEFAULT_SECONDS, |t| {
            (t / crate::timeline::NS) as usize + 2
        });
    w.stats.prepare(plan.sample_size, seconds.min(3600));
    let cpu0 = crate::health::thread_cpu_ns();
    let wall0 = clock(origin);
    w.run_loop()?;
    w.stats.health.cpu_ns = crate::health::thread_cpu_ns().saturating_sub(cpu0);
    w.stats.health.wall_ns = clock(origin).saturating_sub(wall0);
    Ok(w.stats)
}

impl Worker<'_> {
    fn run_loop(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // Without a timerfd (an unusual sandbox), the poll timeout does it, to the ms.
        let mut timer = PreciseTimer::new(&self.poll, self.origin).ok();
        let now = clock(self.origin);
        for (p, pool) in self.plan.pools.iter().enumerate() {
            for _ in 0..pool.connections {
                self.add_slot(p, now);
            }
        }
        loop {
            let now = clock(self.origin);
            self.stats.tick(now);
            if self.should_stop(now) {
                break;
            }
            if self.draining_until.is_none() {
                self.start_schedules(now);
                self.release_due(now);
            }
            if now >= self.next_publish_ns {
                self.control.publish(self.plan.index, now, &self.stats);
                self.next_publish_ns = now + PUBLISH_EVERY_NS;
            }
            let mut wake = now + MAX_POLL_NS;
            if let Some(t) = self.wheel.next_deadline() {
                wake = wake.min(t);
            }
            if let Some(t) = self.plan.stop_at_ns {
                wake = wake.min(t);
            }
            if let Some(t) = self.draining_until {
                wake = wake.min(t);
            }
            if !self.hot.is_empty() {
                wake = now; // connections with data left: just collect new events
            }
            let timeout = match timer.as_mut() {
                // A near deadline: the timerfd ends the wait to the nanosecond.
                Some(t) if wake > now && wake < now + MAX_POLL_NS => {
                    t.arm(wake);
                    if t.armed == Some(wake) {
                        None
                    } else {
                        Some(Duration::from_nanos(wake - now))
                    }
                }
                _ => Some(Duration::from_nanos(wake.saturating_sub(now))),
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.stats.health.loop_turns += 1;
            let mut n = 0u32;
            for ev in events.iter() {
                // One clock read per readiness event: the best observation of when its
                // bytes were there, and the send time of what it writes.
                let now = clock(self.origin);
                self.stats.tick(now);
                if self.past_stop(now) {
                    break; // the rest of the batch is after the end of the run
                }
                if ev.token() == TIMER_TOKEN {
                    if let Some(t) = timer.as_mut() {
                        t.armed = None; // fired (or re-armed below when still wanted)
                    }
                    continue;
                }
                let (key, generation) = untoken(ev.token());
                self.on_event(key, generation, ev, now);
                // Timers are due while a long batch is handled: run them now, so a busy
                // loop cannot make timeouts late.
                n += 1;
                if n % 16 == 0 && self.timers_due(now) {
                    self.run_timers(now);
                }
            }
            self.serve_hot();
            let now = clock(self.origin);
            self.stats.tick(now);
            self.run_timers(now);
        }
        // The run stopped: whatever is outstanding is "in flight at stop", whatever still
        // waits for a connection was never sent. (Closing the sockets, when the slab
        // drops, is not part of the measured time.)
        // After SIGINT/SIGTERM, the run ended when sending stopped: the drain only
        // collects responses already on their way, and counting its wait in the duration
        // would understate every rate (a run on schedule read "80% achieved").
        let end = clock(self.origin);
        self.stats.stopped_ns = self
            .draining_until
            .map_or(end, |until| until.saturating_sub(self.drain_ns).min(end));
        self.stats.finish_timeline(end);
        for (_, slot) in self.slots.iter_mut() {
            slot.conn.abandon(&mut self.stats);
        }
        for pool in &mut self.pools {
            for w in pool.waiting.drain(..) {
                if let Some(c) = self.stats.endpoints.get_mut(w.endpoint as usize) {
                    c.unsent += 1;
                }
            }
        }
        // Tokens that were due at the last release but not taken (the per-turn cap)
        // were never sent either. (Those falling due between the last turn and the stop
        // simply come after the end of the run.)
        if self.remaining > 0 {
            let last = self.last_release_ns.saturating_add(1);
            for (e, c) in self.endpoints.iter().zip(self.stats.endpoints.iter_mut()) {
                if let Some(b) = &e.bucket {
                    let left = b.due_before(last).saturating_sub(b.issued());
                    let left = left.min(self.remaining);
                    c.unsent = c.unsent.saturating_add(left);
                    // Due but not released: the loop could not keep up with the schedule.
                    self.stats.health.capped_unsent += left;
                }
            }
        }
        self.control.publish(self.plan.index, end, &self.stats);
        Ok(())
    }

    /// The run's duration is over.
    #[inline]
    fn past_stop(&self, now: u64) -> bool {
        self.plan.stop_at_ns.is_some_and(|t| now >= t)
    }

    fn should_stop(&mut self, now: u64) -> bool {
        if self.past_stop(now) || self.control.stop_requested() {
            return true;
        }
        if signal::stop_requested() {
            // SIGINT/SIGTERM: stop sending, and give the responses already on their way a
            // moment to arrive (they are counted), then stop.
            let until = *self
                .draining_until
                .get_or_insert(now.saturating_add(self.drain_ns));
            return now >= until || self.stats.outstanding() == 0;
        }
        // A count-only run whose target cannot be reached (or went away) must not retry
        // forever: give up after a few failed connects of every slot in a row (about
        // 2 s of back-off).
        if self.plan.stop_at_ns.is_none()
            && self.connect_failures >= 8 * self.slots.len().max(1) as u64
        {
            return true;
        }
        self.remaining == 0
            && self.stats.outstanding() == 0
            && self.pools.iter().all(|p| p.waiting.is_empty())
    }

    /// Starts the rated endpoints' schedules once no initial connect is pending (all
    /// connected, or failed and backing off). The schedules keep the run's clock (so the
    /// workers' phases interleave), and the tokens that fell due while connecting are
    /// skipped — neither sent nor counted — so the connect storm is not measured as the
    /// server's latency.
    fn start_schedules(&mut self, now: u64) {
        if self.schedule_start_ns.is_some() || self.pools.iter().any(|p| p.connecting > 0) {
            return;
        }
        self.schedule_start_ns = Some(now);
        for (state, e) in self.endpoints.iter_mut().zip(&self.plan.endpoints) {
            state.bucket = e.rate.map(|r| {
                let mut b = Bucket::new(r, e.ramp_up.as_nanos() as u64, e.phase.as_nanos() as u64);
                b.skip_before(now);
                b
            });
        }
    }

    /// A request of endpoint `ep`, intended at `intended_ns`, sent now.
    #[inline]
    fn request(&self, ep: usize, intended_ns: u64, now: u64) -> InFlight {
        let e = self.endpoints.get(ep);
        InFlight {
            intended_ns,
            sent_ns: now,
            deadline_ns: now.saturating_add(e.map_or(0, |e| e.timeout_ns)),
            endpoint: ep as u32,
            head: e.is_some_and(|e| e.head),
            close: e.is_some_and(|e| e.close),
        }
    }

    /// Takes every token that is due from the rated endpoints' schedules and sends (or
    /// queues) its request; makes sure a wake-up is set for the next one.
    fn release_due(&mut self, now: u64) {
        self.last_release_ns = now;
        for ep in 0..self.endpoints.len() {
            for _ in 0..MAX_TOKENS_PER_TURN {
                if self.remaining == 0 {
                    break;
                }
                let Some(bucket) = self.endpoints[ep].bucket.as_mut() else {
                    break;
                };
                let Some(intended) = bucket.take(now) else {
                    break;
                };
                if self.remaining != u64::MAX {
                    self.remaining -= 1;
                }
                self.dispatch(ep, intended, now);
            }
            let e = &mut self.endpoints[ep];
            if e.wake.is_none() && self.remaining > 0 {
                if let Some(due) = e.bucket.as_ref().and_then(Bucket::next_due) {
                    // A token still due (the per-turn cap) wakes the loop at once.
                    e.wake = Some(self.wheel.schedule(due.max(now), WAKE_KEY + ep));
                }
            }
        }
    }

    /// A rated request is due: hand it to a connection with room, or let it wait.
    fn dispatch(&mut self, ep: usize, intended_ns: u64, now: u64) {
        let p = self.endpoints[ep].pool;
        while let Some(key) = self.pools[p].free.pop_front() {
            let req = self.request(ep, intended_ns, now);
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            slot.listed = false;
            if slot.conn.room() == 0 {
                continue; // stale entry
            }
            self.stats
                .health
                .record_send(now.saturating_sub(intended_ns), false);
            slot.conn.enqueue(req, &mut self.stats);
            self.arm_response_timer(key, now);
            self.flush(key, now);
            self.list_if_room(key);
            return;
        }
        let pool = &mut self.pools[p];
        if pool.waiting.len() < pool.waiting_cap {
            pool.waiting.push_back(Waiting {
                endpoint: ep as u32,
                intended_ns,
            });
        } else if let Some(c) = self.stats.endpoints.get_mut(ep) {
            c.unsent += 1;
        }
        // Autoscale: while requests wait, open more connections (up to the pool's max).
        let pool = &self.pools[p];
        if pool.slots < pool.max_slots && pool.waiting.len() > pool.connecting {
            self.stats.autoscaled += 1;
            self.add_slot(p, now);
        }
    }

    /// Queues `key` on its open pool's free connections when it has room.
    fn list_if_room(&mut self, key: usize) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let pool = &mut self.pools[slot.pool];
        if pool.closed.is_none() && !slot.listed && slot.conn.room() > 0 {
            slot.listed = true;
            pool.free.push_back(key);
        }
    }

    /// Tops connection `key` up: waiting rated requests first (open pool), or the next
    /// closed-loop requests by weight (closed pool), within the quota and the duration.
    fn refill(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get(key) else {
            return;
        };
        let p = slot.pool;
        let mut added = false;
        if self.draining_until.is_some() {
            return;
        }
        if self.pools[p].closed.is_some() {
            if self.past_stop(now) {
                return;
            }
            let room = (slot.conn.room() as u64).min(self.remaining);
            for _ in 0..room {
                let ep = match self.pools[p].closed.as_mut() {
                    Some((swrr, eps)) => eps.get(swrr.next()).copied().unwrap_or(0),
                    None => 0,
                };
                let req = self.request(ep, now, now);
                if let Some(slot) = self.slots.get_mut(key) {
                    slot.conn.enqueue(req, &mut self.stats);
                    added = true;
                }
            }
            if self.remaining != u64::MAX {
                self.remaining -= room;
            }
        } else {
            while self.slots.get(key).is_some_and(|s| s.conn.room() > 0) {
                let Some(w) = self.pools[p].waiting.pop_front() else {
                    break;
                };
                self.stats
                    .health
                    .record_send(now.saturating_sub(w.intended_ns), true);
                let req = self.request(w.endpoint as usize, w.intended_ns, now);
                if let Some(slot) = self.slots.get_mut(key) {
                    slot.conn.enqueue(req, &mut self.stats);
                    added = true;
                }
            }
        }
        if added {
            self.arm_response_timer(key, now);
        }
        self.list_if_room(key);
    }

    /// Makes sure connection `key` has a timer while requests are outstanding.
    fn arm_response_timer(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.timer.is_none() {
            let due = slot.conn.oldest().map_or(now, |r| r.deadline_ns);
            slot.timer = Some(self.wheel.schedule(due, key));
        }
    }

    fn flush(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let mut outcome = Outcome::Open;
        if slot.conn.write_pending() {
            outcome = slot.conn.flush(&self.reqs, &mut self.stats);
        }
        // TLS records still waiting for the socket (a no-op on plain TCP).
        if outcome == Outcome::Open {
            if let Some(Err(e)) = slot.conn.io.as_mut().map(std::io::Write::flush) {
                let kind = super::conn::io_error_kind(&e, ErrorKind::Write);
                outcome = slot.conn.fail(kind, &mut self.stats);
            }
        }
        if outcome != Outcome::Open {
            self.closed(key, outcome, now);
        }
    }

    /// True when the wheel has a timer due at `now`.
    #[inline]
    fn timers_due(&self, now: u64) -> bool {
        self.wheel.next_deadline().is_some_and(|d| d <= now)
    }

    /// Fires every timer due at `now`: connect and response timeouts, back-offs, rate
    /// wake-ups.
    fn run_timers(&mut self, now: u64) {
        let mut expired = std::mem::take(&mut self.expired);
        self.wheel.expire(now, |key| expired.push(key));
        for key in expired.drain(..) {
            if key >= WAKE_KEY {
                if let Some(e) = self.endpoints.get_mut(key - WAKE_KEY) {
                    e.wake = None;
                }
            } else {
                self.on_timer(key, now);
            }
        }
        self.expired = expired;
    }

    fn on_event(&mut self, key: usize, generation: u32, ev: &mio::event::Event, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return; // an event of a socket this slot has closed since
        }
        match slot.conn.phase {
            Phase::Down => {} // a stale event for a socket already closed
            Phase::Connecting => {
                if ev.is_writable() || ev.is_error() || ev.is_write_closed() || ev.is_read_closed()
                {
                    let clean = ev.is_writable()
                        && !ev.is_error()
                        && !ev.is_write_closed()
                        && !ev.is_read_closed();
                    self.on_connect_ready(key, clean, now);
                }
            }
            Phase::Handshaking => self.drive_handshake(key, now),
            Phase::Open => {
                let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                // A connection in the hot list is read there, in turn.
                if readable && slot.hot.is_none() {
                    let drain = ev.is_read_closed() || ev.is_error();
                    if !self.read(key, drain, now) {
                        return;
                    }
                }
                self.refill(key, now);
                self.flush(key, now);
            }
        }
    }

    /// Reads from `key`; false if the connection ended (and was replaced).
    fn read(&mut self, key: usize, drain: bool, now: u64) -> bool {
        let Some(slot) = self.slots.get_mut(key) else {
            return false;
        };
        let first_sent = slot.first_byte.then(|| slot.conn.oldest_sent());
        let before = self.stats.bytes_read;
        let outcome = slot
            .conn
            .on_readable(&mut self.scratch, now, drain, &mut self.stats);
        if let Some(sent) = first_sent {
            if self.stats.bytes_read > before {
                slot.first_byte = false;
                if let Some(sent) = sent {
                    self.stats.record_first_byte(now.saturating_sub(sent));
                }
            }
        }
        match outcome {
            // TLS: the end of the stream came with the last bytes; no event will say so.
            Outcome::Open if slot.conn.io.as_ref().is_some_and(Transport::read_pending) => {
                slot.hot = Some(drain);
                self.hot.push(key);
                true
            }
            Outcome::Open => true,
            Outcome::Yield => {
                slot.hot = Some(drain);
                self.hot.push(key);
                true
            }
            outcome => {
                self.closed(key, outcome, now);
                false
            }
        }
    }

    /// Gives each connection that yielded its next read turn.
    fn serve_hot(&mut self) {
        if self.hot.is_empty() {
            return;
        }
        let mut list = std::mem::take(&mut self.hot);
        std::mem::swap(&mut self.hot, &mut self.hot_spare);
        for key in list.drain(..) {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            let Some(drain) = slot.hot.take() else {
                continue;
            };
            if slot.conn.phase != Phase::Open {
                continue;
            }
            let now = clock(self.origin);
            self.stats.tick(now);
            if self.past_stop(now) {
                break;
            }
            if self.read(key, drain, now) {
                self.refill(key, now);
                self.flush(key, now);
            }
            if self.timers_due(now) {
                self.run_timers(now);
            }
        }
        self.hot_spare = list;
    }

    /// The connect of `key` reported readiness: find out whether it succeeded.
    ///
    /// `clean`: the event said writable with no error or hang-up, which on its own means
    /// the connect completed (saves a `getpeername` per connect); otherwise the peer
    /// address tells a spurious wake-up from a failure.
    fn on_connect_ready(&mut self, key: usize, clean: bool, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let Some(stream) = slot.conn.io.as_ref().map(Transport::tcp) else {
            return;
        };
        let failed = match stream.take_error() {
            Ok(Some(_)) | Err(_) => true,
            Ok(None) if clean => false,
            Ok(None) => match stream.peer_addr() {
                Ok(_) => false,
                // Not connected yet: a spurious wake-up; wait for the next event.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(_) => true,
            },
        };
        let pool = slot.pool;
        self.pools[pool].connecting = self.pools[pool].connecting.saturating_sub(1);
        if failed {
            slot.conn.failures = slot.conn.failures.saturating_add(1);
            self.stats.record_conn_error(ErrorKind::Connect);
            self.connect_failures += 1;
            self.drop_socket(key);
            self.back_off(key, now, ErrorKind::Connect);
            return;
        }
        let _ = stream.set_nodelay(true);
        self.stats
            .record_connect(now.saturating_sub(slot.started_ns));
        if slot.conn.io.as_ref().is_some_and(Transport::is_tls) {
            // The connect timer keeps running: it covers the handshake too. (Handshake
            // times use their own clock reads: one call may do the whole handshake.)
            slot.started_ns = clock(self.origin);
            slot.conn.handshaking();
            self.drive_handshake(key, now);
            return;
        }
        self.on_established(key, now);
    }

    /// Moves the TLS handshake of `key` on; when it is done the connection opens.
    fn drive_handshake(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let Some(io) = slot.conn.io.as_mut() else {
            return;
        };
        match io.handshake() {
            Progress::Pending => {}
            Progress::Done { resumed } => {
                let took = clock(self.origin).saturating_sub(slot.started_ns);
                self.stats.record_handshake(took, resumed);
                self.on_established(key, now);
            }
            Progress::Failed(kind) => {
                slot.conn.failures = slot.conn.failures.saturating_add(1);
                self.stats.record_conn_error(kind);
                self.connect_failures += 1;
                self.drop_socket(key);
                self.back_off(key, now, kind);
            }
        }
    }

    /// `key` is connected (and its TLS handshake done): requests may go.
    fn on_established(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        slot.first_byte = true;
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
        self.refill(key, now);
        self.flush(key, now);
    }

    fn on_timer(&mut self, key: usize, now: u64) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        slot.timer = None;
        match slot.conn.phase {
            Phase::Down => self.connect(key, now),
            Phase::Connecting | Phase::Handshaking => {
                // A handshake that outlasts the connect timeout is a TLS failure.
                let kind = if slot.conn.phase == Phase::Connecting {
                    let pool = slot.pool;
                    self.pools[pool].connecting = self.pools[pool].connecting.saturating_sub(1);
                    ErrorKind::ConnectTimeout
                } else {
                    ErrorKind::TlsHandshake
                };
                slot.conn.failures = slot.conn.failures.saturating_add(1);
                self.stats.record_conn_error(kind);
                self.connect_failures += 1;
                self.drop_socket(key);
                self.back_off(key, now, kind);
            }
            Phase::Open => {
                let Some(oldest) = slot.conn.oldest() else {
                    return; // idle: the next request arms a timer again
                };
                let due = oldest.deadline_ns;
                if now >= due {
                    // The oldest response is late: it (and whatever is queued behind it
                    // on this connection) ends as a timeout, and the connection is
                    // replaced. (A response completed after its deadline before this
                    // timer fired is a timeout too: see `Conn::on_bytes`.)
                    let outcome = slot.conn.fail(ErrorKind::Timeout, &mut self.stats);
                    self.closed(key, outcome, now);
                } else {
                    slot.timer = Some(self.wheel.schedule(due, key));
                }
            }
        }
    }

    /// The connection ended (orderly or not): close the socket, then reconnect now or
    /// after a back-off.
    fn closed(&mut self, key: usize, outcome: Outcome, now: u64) {
        self.drop_socket(key);
        match outcome {
            Outcome::Open | Outcome::Yield => {}
            Outcome::Finished => self.connect(key, now),
            Outcome::Failed(kind) => self.back_off(key, now, kind),
        }
    }

    fn back_off(&mut self, key: usize, now: u64, kind: ErrorKind) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let failures = slot.conn.failures;
        let connect_kind = matches!(
            kind,
            ErrorKind::Connect
                | ErrorKind::ConnectTimeout
                | ErrorKind::TlsHandshake
                | ErrorKind::TlsCert
        );
        let delay = if kind == ErrorKind::Timeout || (failures <= 1 && !connect_kind) {
            // A timeout already waited its time, and one failure after successes is a
            // glitch: replace the connection at once.
            0
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

    /// Closes the socket of `key`, if any. (Closing the descriptor removes it from the
    /// epoll set: no separate deregister call.)
    fn drop_socket(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            drop(slot.conn.io.take());
            slot.conn.phase = Phase::Down;
            slot.hot = None;
        }
    }

    /// Adds a connection slot to pool `p` and starts connecting it.
    fn add_slot(&mut self, p: usize, now: u64) {
        let key = self.slots.insert(Slot {
            conn: Conn::new(self.plan.pipelining, self.plan.limits),
            started_ns: now,
            first_byte: false,
            timer: None,
            pool: p,
            listed: false,
            hot: None,
            generation: 0,
        });
        self.pools[p].slots += 1;
        self.connect(key, now);
    }

    /// Starts a non-blocking connect for `key`.
    fn connect(&mut self, key: usize, now: u64) {
        if self.plan.stop_at_ns.is_some_and(|t| now >= t) || self.draining_until.is_some() {
            return;
        }
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if let Some(id) = slot.timer.take() {
            self.wheel.cancel(id);
        }
        let pool = &self.pools[slot.pool];
        let addr = pool.addr;
        slot.generation = slot.generation.wrapping_add(1);
        let tok = token(key, slot.generation);
        let registered = TcpStream::connect(addr).and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, tok, Interest::READABLE | Interest::WRITABLE)
                .map(|()| s)
        });
        let transport = registered
            .map_err(|_| ErrorKind::Connect)
            .and_then(|s| Transport::new(s, pool.tls.as_ref()));
        match transport {
            Ok(io) => {
                slot.conn.connecting(io);
                slot.started_ns = clock(self.origin);
                self.pools[slot.pool].connecting += 1;
                slot.timer = Some(
                    self.wheel
                        .schedule(now.saturating_add(self.connect_timeout_ns), key),
                );
            }
            Err(kind) => {
                slot.conn.failures = slot.conn.failures.saturating_add(1);
                self.stats.record_conn_error(kind);
                self.connect_failures += 1;
                self.back_off(key, now, kind);
            }
        }
    }
}
