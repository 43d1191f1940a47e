//! tressi: an HTTP/1.1 load generator and latency benchmark.
//!
//! The library API is `run(&Plan) -> Result<Summary, Error>`; `cli::parse` turns
//! arguments into a `Command`. Only `engine::worker`, `target_server`, `signal`,
//! `ui::term`, the resource-usage readers in `health` and the set-up in this file touch
//! the OS; every other module is pure and tested with time as an argument.

pub mod cli;
pub mod config;
pub mod early_exit;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod plan;
pub mod rate;
pub mod report;
pub mod request;
pub mod samples;
pub mod signal;
pub mod stats;
pub mod target;
pub mod target_server;
pub mod timeline;
pub mod ui;
pub mod units;

pub use error::Error;
pub use plan::{Command, Endpoint, Output, Plan};
pub use stats::Summary;

use engine::progress::{Control, Snapshot};
use engine::worker::{self, PoolKind, PoolPlan, WorkerEndpoint, WorkerPlan};
use stats::{RunFacts, WorkerStats};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The smallest rate accepted: one request every ~11.6 days.
pub const MIN_RATE: f64 = 1e-6;

/// The request says `Connection: close` (`--no-keepalive`, or the header given by hand).
fn asks_to_close(plan: &Plan, e: &Endpoint) -> bool {
    !plan.keepalive
        || e.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("connection")
                && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
        })
}

/// Runs a load test to its end and returns the merged results.
///
/// Set-up problems (bad scheme, name resolution, nothing accepts a connection, thread
/// spawn) are an `Error`; everything that goes wrong during the run is counted in the
/// `Summary`.
pub fn run(plan: &Plan) -> Result<Summary, Error> {
    run_watched(plan, &mut |_| {})
}

/// Like `run`, calling `watch` with the summed counts of all workers once when they
/// start, then about four times a second while the run goes on (for live progress), and
/// once more when they have all ended (the final counts).
pub fn run_watched(plan: &Plan, watch: &mut dyn FnMut(&Snapshot)) -> Result<Summary, Error> {
    Ok(collect(plan, watch)?.summary(plan))
}

/// What a run measured, before it is turned into a `Summary` (merged worker counts and
/// the facts the summary needs). `run` is `collect` then `Collected::summary`; they are
/// apart so that tests can tell the engine's allocations (none per request) from the
/// summary's (its timeline and intervals: a few per second of the run).
#[derive(Debug)]
pub struct Collected {
    pub stats: WorkerStats,
    pub threads: usize,
    pub pipelining: usize,
    /// The early-exit rule that fired, as report text.
    pub early_exit: Option<String>,
    usage0: health::Usage,
    usage1: health::Usage,
    /// Wall-clock time of the start, for the reports' time stamps.
    started: std::time::SystemTime,
}

impl Collected {
    /// The merged `Summary` of the run.
    pub fn summary(self, plan: &Plan) -> Summary {
        let facts = RunFacts {
            plan,
            threads: self.threads,
            pipelining: self.pipelining,
            duration_s: self.stats.stopped_ns as f64 / 1e9,
        };
        let (u0, u1) = (self.usage0, self.usage1);
        let mut summary = Summary::new(&self.stats, facts, self.early_exit);
        summary.interrupted = signal::stop_requested();
        summary.start_unix_s = self
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        summary.health.cpu_user_s = round3(u1.user_s - u0.user_s);
        summary.health.cpu_sys_s = round3(u1.sys_s - u0.sys_s);
        summary.health.peak_rss_kib = u1.max_rss_kib;
        summary
    }
}

/// Runs a load test to its end and returns the merged counts (see `Collected`).
pub fn collect(plan: &Plan, watch: &mut dyn FnMut(&Snapshot)) -> Result<Collected, Error> {
    if plan.endpoints.is_empty() {
        return Err(Error::Usage("no URL to test".into()));
    }
    #[cfg(not(feature = "tls"))]
    if let Some(e) = plan
        .endpoints
        .iter()
        .find(|e| e.target.scheme == target::Scheme::Https)
    {
        return Err(Error::Setup(format!(
            "{}: this tressi was built without TLS (cargo feature `tls`); use an http:// URL",
            e.target.url()
        )));
    }
    for e in &plan.endpoints {
        if let Some(r) = e.rate {
            if !(r.is_finite() && r >= MIN_RATE) {
                return Err(Error::Usage(format!(
                    "{}: rate {r} req/s is out of range (at least {MIN_RATE})",
                    e.target.url()
                )));
            }
        }
    }
    let layout = layout(plan)?;
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    // Each connection is a descriptor; keep a margin for stdio, epoll and the probe.
    let per_worker_max: usize = layout.pools.iter().map(|p| p.max_connections.max(1)).sum();
    let want = (per_worker_max.max(plan.connections) + threads * layout.pools.len()) as u64 + 64;
    let limit = raise_fd_limit(want);
    if limit < want {
        return Err(Error::Setup(format!(
            "{} connections need {want} open files but the limit is {limit} \
             (raise it with `ulimit -n`, or use fewer connections)",
            plan.connections
        )));
    }
    // A request that says `Connection: close` ends its connection: pipelining behind it
    // cannot apply.
    let closes = plan.endpoints.iter().any(|e| asks_to_close(plan, e));
    let pipelining = if closes { 1 } else { plan.pipelining.max(1) };
    let stop_at_ns = plan.duration.map(|d| d.as_nanos() as u64);
    // `-n` is split in proportion to each worker's connections (a worker without any
    // could never send its share).
    let conns: Vec<u64> = (0..threads)
        .map(|i| {
            (0..layout.pools.len())
                .map(|k| pool_share(&layout, k, threads, i))
                .sum()
        })
        .collect();
    let quotas = plan.requests.map(|n| split_by(n, &conns));
    let plans: Vec<WorkerPlan> = (0..threads)
        .map(|i| {
            let quota = quotas.as_ref().map(|q| q[i]);
            worker_plan(plan, &layout, threads, i, quota, pipelining, stop_at_ns)
        })
        .collect();
    let control = Control::new(threads, plan.endpoints.len());
    let mut exits = EarlyExits::new(plan);
    let mut fired: Option<String> = None;
    let usage0 = health::process_usage();
    let origin = Instant::now();
    let started = std::time::SystemTime::now();
    let results: Vec<std::io::Result<WorkerStats>> = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        // Each worker says when it is done, so the main thread wakes at once (a one-
        // request run must not wait out a watch interval).
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        for wp in &plans {
            let control = &control;
            let done = done_tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("tressi-worker-{}", wp.index))
                .spawn_scoped(s, move || {
                    let r = worker::run(wp, control, origin);
                    let _ = done.send(());
                    r
                });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    control.request_stop();
                    return vec![Err(e)];
                }
            }
        }
        drop(done_tx);
        let mut snapshot = Snapshot::new(plan.endpoints.len());
        // A first call as soon as the workers run (the caller may install its signal
        // handlers now: until here a signal simply ends the process).
        watch(&snapshot);
        let mut next_watch = engine::progress::PUBLISH_INTERVAL;
        let mut running = handles.len();
        while running > 0 {
            let wait = next_watch.saturating_sub(origin.elapsed());
            match done_rx.recv_timeout(wait) {
                Ok(()) => running -= 1,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if running > 0 && origin.elapsed() >= next_watch {
                next_watch = origin.elapsed() + engine::progress::PUBLISH_INTERVAL;
                control.sum(&mut snapshot);
                watch(&snapshot);
                if fired.is_none() {
                    fired = exits.check(&snapshot);
                    if fired.is_some() {
                        control.request_stop();
                    }
                }
            }
        }
        // One last look, at the workers' final publishes: the run ends between two
        // looks, and the live view (the last progress line, the panel's last frame)
        // would otherwise miss up to 250 ms of it, a second it entered included.
        control.sum(&mut snapshot);
        watch(&snapshot);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("worker thread panicked")))
            })
            .collect()
    });
    let usage1 = health::process_usage();
    // The first worker's stats are the sum's start: no fresh set of histograms to zero.
    let mut total: Option<WorkerStats> = None;
    for r in results {
        let st = r.map_err(|e| Error::Setup(format!("worker failed: {e}")))?;
        match total.as_mut() {
            Some(t) => t.merge(&st),
            None => total = Some(st),
        }
    }
    let total = total.unwrap_or_else(|| WorkerStats::new(plan.endpoints.len()));
    Ok(Collected {
        stats: total,
        threads,
        pipelining,
        early_exit: fired,
        usage0,
        usage1,
        started,
    })
}

fn round3(x: f64) -> f64 {
    (x.max(0.0) * 1000.0).round() / 1000.0
}

/// The run's early-exit rules: the run-wide one over all endpoints, and each
/// endpoint's own over that endpoint.
struct EarlyExits {
    global: Option<early_exit::Evaluator>,
    endpoints: Vec<(usize, early_exit::Evaluator)>,
}

impl EarlyExits {
    fn new(plan: &Plan) -> EarlyExits {
        EarlyExits {
            global: plan.early_exit.clone().map(early_exit::Evaluator::new),
            endpoints: plan
                .endpoints
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    e.early_exit
                        .clone()
                        .map(|r| (i, early_exit::Evaluator::new(r)))
                })
                .collect(),
        }
    }

    /// Feeds the summed snapshot to every rule; the first that fires, as report text.
    fn check(&mut self, snap: &Snapshot) -> Option<String> {
        fn totals(counts: &[&engine::progress::EndpointCounts]) -> (u64, u64, Vec<(u16, u64)>) {
            let mut ended = 0;
            let mut errors = 0;
            let mut status = Vec::new();
            for c in counts {
                ended += c.ended();
                errors += c.failed;
                for (code, n) in c.status.iter().enumerate().filter(|(_, n)| **n > 0) {
                    if code >= 400 {
                        errors += n;
                    }
                    status.push((code as u16, *n));
                }
            }
            (ended, errors, status)
        }
        if let Some(g) = self.global.as_mut() {
            let all: Vec<_> = snap.endpoints.iter().collect();
            let (ended, errors, status) = totals(&all);
            // Connection failures that ended no request (refused connects, failed TLS
            // handshakes...) belong to no endpoint, but they are errors of the run, as
            // the summary counts them: each is one failed attempt.
            let failed_conns: u64 = snap.conn_errors.iter().sum();
            let (ended, errors) = (ended + failed_conns, errors + failed_conns);
            if let Some(f) = g.observe(snap.at_ns, ended, errors, &status) {
                return Some(f.to_string());
            }
        }
        for (i, ev) in &mut self.endpoints {
            let Some(c) = snap.endpoints.get(*i) else {
                continue;
            };
            let (ended, errors, status) = totals(&[c]);
            if let Some(f) = ev.observe(snap.at_ns, ended, errors, &status) {
                return Some(format!("endpoint {}: {f}", *i + 1));
            }
        }
        None
    }
}

/// Where the connections go: one pool per (address, open or closed), with its share of
/// `-c`.
#[derive(Debug)]
struct Layout {
    pools: Vec<PoolPlan>,
    /// Pool of each endpoint.
    endpoint_pool: Vec<usize>,
}

fn layout(plan: &Plan) -> Result<Layout, Error> {
    // Origins in order of first appearance; each resolved and probed once.
    let mut origins: Vec<(String, u16, target::Scheme, SocketAddr)> = Vec::new();
    let mut origin_tls: Vec<Option<engine::transport::TlsTarget>> = Vec::new();
    let mut origin_of = Vec::with_capacity(plan.endpoints.len());
    let mut tls = TlsSetUp::default();
    for ep in &plan.endpoints {
        let t = &ep.target;
        let idx = match origins
            .iter()
            .position(|(h, p, s, _)| *h == t.host && *p == t.port && *s == t.scheme)
        {
            Some(i) => i,
            None => {
                let addrs = if plan.addrs.is_empty() {
                    t.resolve()?
                } else {
                    plan.addrs.clone()
                };
                let addr = first_reachable(&addrs, plan.connect_timeout)
                    .map_err(|e| Error::Setup(format!("cannot connect to {}: {e}", t.url())))?;
                origin_tls.push(tls.target(plan, t, addr)?);
                origins.push((t.host.clone(), t.port, t.scheme, addr));
                origins.len() - 1
            }
        };
        origin_of.push(idx);
    }
    let addrs: Vec<SocketAddr> = origins.iter().map(|(_, _, _, a)| *a).collect();
    let mut layout = pools_for(plan, &origin_of, &addrs)?;
    for (e, &pool) in layout.endpoint_pool.iter().enumerate() {
        if let Some(p) = layout.pools.get_mut(pool) {
            p.tls = origin_tls[origin_of[e]].clone();
        }
    }
    Ok(layout)
}

/// The TLS side of the set-up: the certificate material (read once, at the first https
/// origin) and, per https origin, its server name, checked by one probe handshake so
/// that a certificate nothing could accept is one clear error before the run.
#[derive(Default)]
struct TlsSetUp {
    #[cfg(feature = "tls")]
    material: Option<std::sync::Arc<engine::tls::Material>>,
}

impl TlsSetUp {
    #[cfg(feature = "tls")]
    fn target(
        &mut self,
        plan: &Plan,
        t: &target::Target,
        addr: SocketAddr,
    ) -> Result<Option<engine::transport::TlsTarget>, Error> {
        use engine::tls;
        if t.scheme != target::Scheme::Https {
            return Ok(None);
        }
        let material = match &self.material {
            Some(m) => m.clone(),
            None => {
                let m = std::sync::Arc::new(tls::Material::load(&plan.tls).map_err(Error::Setup)?);
                self.material = Some(m.clone());
                m
            }
        };
        let name = tls::server_name(&t.host, plan.tls.sni.as_deref()).map_err(Error::Setup)?;
        let target = tls::TlsTarget::new(name, material).map_err(Error::Setup)?;
        // The TCP connect and the handshake each get --connect-timeout.
        let mut deadline = None;
        let left = || {
            let now = std::time::Instant::now();
            let end = *deadline.get_or_insert(now + plan.connect_timeout);
            end.saturating_duration_since(now)
        };
        target
            .probe(addr, plan.connect_timeout, left)
            .map_err(|e| Error::Setup(format!("cannot connect to {}: {e}", t.url())))?;
        Ok(Some(target))
    }

    #[cfg(not(feature = "tls"))]
    fn target(
        &mut self,
        _plan: &Plan,
        _t: &target::Target,
        _addr: SocketAddr,
    ) -> Result<Option<engine::transport::TlsTarget>, Error> {
        Ok(None)
    }
}

/// The pools of a run and their connections (pure): per address, an open pool for its
/// rated endpoints and a closed pool for the others. Every pool gets one connection,
/// the rest of `-c` goes in proportion to the endpoints each pool serves, and among the
/// closed pools (one per host) in proportion to their endpoints' weights — so `weight`
/// holds across hosts too, as far as connections decide it. The total is exactly `-c`.
fn pools_for(plan: &Plan, origin_of: &[usize], addrs: &[SocketAddr]) -> Result<Layout, Error> {
    let n = plan.endpoints.len().max(1);
    let mut specs: Vec<(SocketAddr, bool, Vec<usize>)> = Vec::new();
    for (o, addr) in addrs.iter().enumerate() {
        for open in [true, false] {
            let members: Vec<usize> = (0..plan.endpoints.len())
                .filter(|&e| origin_of[e] == o && plan.endpoints[e].rate.is_some() == open)
                .collect();
            if !members.is_empty() {
                specs.push((*addr, open, members));
            }
        }
    }
    if plan.connections < specs.len() {
        return Err(Error::Usage(format!(
            "--connections {} is fewer than the {} connection pools this run needs \
             (one per host for its rated endpoints, one per host for the others)",
            plan.connections,
            specs.len()
        )));
    }
    let weight = |e: usize| u64::from(plan.endpoints[e].weight.max(1));
    let closed_endpoints = specs
        .iter()
        .filter(|s| !s.1)
        .map(|s| s.2.len())
        .sum::<usize>();
    let closed_weight: u64 = specs
        .iter()
        .filter(|s| !s.1)
        .flat_map(|s| s.2.iter())
        .map(|&e| weight(e))
        .sum();
    // Shares in millionths of -c.
    let shares: Vec<u64> = specs
        .iter()
        .map(|(_, open, members)| {
            let share = if *open {
                members.len() as f64 / n as f64
            } else {
                let w: u64 = members.iter().map(|&e| weight(e)).sum();
                closed_endpoints as f64 / n as f64 * w as f64 / closed_weight.max(1) as f64
            };
            (share * 1e6).round() as u64
        })
        .collect();
    let extra = split_by((plan.connections - specs.len()) as u64, &shares);
    let mut pools = Vec::with_capacity(specs.len());
    let mut endpoint_pool = vec![0; plan.endpoints.len()];
    for ((addr, open, members), extra) in specs.into_iter().zip(extra) {
        let conns = 1 + extra as usize;
        for &e in &members {
            endpoint_pool[e] = pools.len();
        }
        let kind = if open {
            PoolKind::Open
        } else {
            PoolKind::Closed {
                weights: members
                    .iter()
                    .map(|&e| plan.endpoints[e].weight.max(1))
                    .collect(),
                endpoints: members,
            }
        };
        let max_connections = if open && plan.autoscale {
            plan.max_connections.max(conns)
        } else {
            conns
        };
        pools.push(PoolPlan {
            addr,
            kind,
            connections: conns,
            max_connections,
            tls: None,
        });
    }
    Ok(Layout {
        pools,
        endpoint_pool,
    })
}

/// Worker `i`'s part of the plan: its share of every pool's connections (the first
/// workers get the remainder; a worker may get none of a small pool), of every rate in
/// proportion to its connections in that endpoint's pool (phase-shifted so the workers
/// interleave), and `quota` of `-n`.
fn worker_plan(
    plan: &Plan,
    layout: &Layout,
    threads: usize,
    i: usize,
    quota: Option<u64>,
    pipelining: usize,
    stop_at_ns: Option<u64>,
) -> WorkerPlan {
    // One TLS configuration (and session cache) per worker, shared by its pools.
    let mut worker_tls: Option<engine::transport::TlsTarget> = None;
    let pools: Vec<PoolPlan> = layout
        .pools
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let connections = pool_share(layout, k, threads, i) as usize;
            PoolPlan {
                connections,
                max_connections: (share(p.max_connections as u64, threads, i) as usize)
                    .max(connections),
                tls: p.tls.as_ref().map(|t| match &worker_tls {
                    Some(w) => t.sharing(w),
                    None => worker_tls.insert(t.for_worker()).clone(),
                }),
                ..p.clone()
            }
        })
        .collect();
    let endpoints = plan
        .endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| {
            let pool = layout.endpoint_pool[e];
            let of_pool =
                pools[pool].connections as f64 / layout.pools[pool].connections.max(1) as f64;
            let rate = ep.rate.map(|r| r * of_pool);
            WorkerEndpoint {
                request: request::render(ep, plan.keepalive),
                head: ep.method == "HEAD",
                close: asks_to_close(plan, ep),
                timeout: ep.timeout.unwrap_or(plan.timeout),
                rate,
                ramp_up: ep.ramp_up.or(plan.ramp_up).unwrap_or(Duration::ZERO),
                // Worker i starts i/R into endpoint's schedule (R its total rate).
                phase: Duration::from_nanos(
                    ep.rate
                        .map_or(0, |r| rate::bucket::Bucket::phase_ns(i, 1, r)),
                ),
                pool,
            }
        })
        .collect();
    WorkerPlan {
        index: i,
        endpoints,
        pools,
        quota,
        pipelining,
        connect_timeout: plan.connect_timeout,
        stop_at_ns,
        limits: Default::default(),
        sample_size: plan.sample_size,
    }
}

/// `total` split in proportion to `weights` (largest remainders first; all to the first
/// when every weight is 0).
fn split_by(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u64 = weights.iter().sum();
    if sum == 0 {
        let mut out = vec![0; weights.len()];
        if let Some(first) = out.first_mut() {
            *first = total;
        }
        return out;
    }
    let exact: Vec<u128> = weights
        .iter()
        .map(|&w| u128::from(total) * u128::from(w))
        .collect();
    let mut out: Vec<u64> = exact.iter().map(|x| (x / u128::from(sum)) as u64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(exact[k] % u128::from(sum)));
    let mut left = total - out.iter().sum::<u64>();
    for k in order {
        if left == 0 {
            break;
        }
        out[k] += 1;
        left -= 1;
    }
    out
}

/// Worker `i`'s connections of pool `k`. The remainders of successive pools go to
/// successive workers (pool `k` starts where pool `k - 1` left off), so small pools
/// spread over the workers instead of all landing on the first.
fn pool_share(layout: &Layout, k: usize, threads: usize, i: usize) -> u64 {
    let threads = threads.max(1);
    let before: usize = layout.pools[..k].iter().map(|p| p.connections).sum();
    let rotated = (i + threads - before % threads) % threads;
    share(layout.pools[k].connections as u64, threads, rotated)
}

/// Worker `i`'s share of `total` split over `n` workers (the first ones get the rest).
fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n.max(1) as u64;
    total / n + u64::from((i as u64) < total % n)
}

/// Connects once to each address in turn and returns the first that accepts, so that a
/// dead target is one clear set-up error and a name with several addresses (`localhost`
/// → ::1, 127.0.0.1) uses one that works.
fn first_reachable(addrs: &[SocketAddr], timeout: Duration) -> std::io::Result<SocketAddr> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(_) => return Ok(*a),
            // Something listens there and answered the handshake, then reset: the run
            // will count what it does.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                ) =>
            {
                return Ok(*a)
            }
            Err(e) => last = std::io::Error::new(e.kind(), format!("{a}: {e}")),
        }
    }
    Err(last)
}

/// Raises the soft open-files limit towards `want` (up to the hard limit), as thousands
/// of connections need more than the usual 1024. Returns the soft limit in force.
fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return u64::MAX; // unknown: let the connects report what happens
        }
        if (lim.rlim_cur as u64) < want {
            let old = lim.rlim_cur;
            lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                lim.rlim_cur = old;
            }
        }
        lim.rlim_cur as u64
    }
}

/// `tressi demo`: the built-in target on an ephemeral loopback port and a 3-second test
/// against it. Returns the summary and the number of responses the target served.
pub fn demo(json: bool, ui: bool) -> Result<(Summary, u64), Error> {
    let output = Output {
        json,
        ui,
        ..Output::default()
    };
    demo_watched(output, &mut |_, _| {})
}

/// Like `demo`, calling `watch` with the demo's plan and each summed snapshot (as
/// `run_watched` does) for live progress.
pub fn demo_watched(
    output: Output,
    watch: &mut dyn FnMut(&Plan, &Snapshot),
) -> Result<(Summary, u64), Error> {
    let server = target_server::TargetServer::start(&target_server::TargetConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        body_size: 13,
        count_paths: false,
    })?;
    let url = format!("http://{}/", server.addr());
    let plan = Plan {
        duration: Some(Duration::from_secs(3)),
        output,
        addrs: vec![server.addr()],
        ..Plan::new(vec![Endpoint::get(target::Target::parse(&url)?)])
    };
    let summary = run_watched(&plan, &mut |snap| watch(&plan, snap));
    let served = server.stop();
    Ok((summary?, served))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_count_in_the_run_wide_early_exit_rule() {
        let t = target::Target::parse("http://127.0.0.1:1/").unwrap();
        let rule = |count, rate| plan::EarlyExit {
            error_rate: rate,
            error_count: count,
            status_codes: vec![],
            window: None,
        };
        // (rule, completed 200s, failed connects) -> fires?
        let cases = [
            (rule(Some(5), None), 100, 4, None),
            (rule(Some(5), None), 100, 5, Some("5 errors")),
            (rule(None, Some(0.5)), 10, 11, Some("error rate")),
            (rule(None, Some(0.5)), 20, 19, None),
        ];
        for (r, ok, failed, want) in cases {
            let mut p = Plan::new(vec![Endpoint::get(t.clone())]);
            p.early_exit = Some(r.clone());
            let mut exits = EarlyExits::new(&p);
            let mut snap = Snapshot::new(1);
            snap.at_ns = 1_000_000_000;
            snap.endpoints[0].completed = ok;
            snap.endpoints[0].status[200] = ok;
            snap.conn_errors[stats::ErrorKind::TlsHandshake as usize] = failed;
            let got = exits.check(&snap);
            match want {
                None => assert_eq!(got, None, "{r:?} {ok} {failed}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{r:?} {ok} {failed}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn the_last_look_at_a_run_sees_its_final_counts() {
        // The live view and the progress lines follow the summed snapshots; the run ends
        // between two of the 250 ms looks, and its last second (here 1.0-1.3 s) must
        // still be seen, with the counts the report gives.
        let server = target_server::TargetServer::start(&target_server::TargetConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            threads: 1,
            body_size: 13,
            count_paths: false,
        })
        .unwrap();
        let url = format!("http://{}/", server.addr());
        let mut plan = Plan {
            duration: Some(Duration::from_millis(1_300)),
            addrs: vec![server.addr()],
            ..Plan::new(vec![Endpoint::get(target::Target::parse(&url).unwrap())])
        };
        (plan.connections, plan.threads) = (2, 2);
        let mut last = Snapshot::new(1);
        let c = collect(&plan, &mut |snap| last.clone_from(snap)).unwrap();
        server.stop();
        assert!(c.stats.endpoints[0].completed > 0);
        assert_eq!(last.unpublished, 0);
        assert!(
            last.at_ns >= 1_300_000_000,
            "last look at {} ns",
            last.at_ns
        );
        assert_eq!(last.endpoints[0].completed, c.stats.endpoints[0].completed);
        assert_eq!(last.endpoints[0].sent, c.stats.endpoints[0].sent);
        assert_eq!(
            last.endpoints[0].latency.len(),
            c.stats.endpoints[0].completed
        );
    }

    fn layout_of(conns: &[usize]) -> Layout {
        Layout {
            pools: conns
                .iter()
                .map(|&c| PoolPlan {
                    addr: SocketAddr::from(([127, 0, 0, 1], 1)),
                    kind: PoolKind::Open,
                    connections: c,
                    max_connections: c,
                    tls: None,
                })
                .collect(),
            endpoint_pool: vec![],
        }
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn https_without_the_tls_feature_is_a_setup_error() {
        let t = target::Target::parse("https://127.0.0.1:1/").unwrap();
        let e = run(&Plan::new(vec![Endpoint::get(t)])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "https://127.0.0.1:1/: this tressi was built without TLS (cargo feature `tls`); \
             use an http:// URL"
        );
        assert!(matches!(e, Error::Setup(_)));
    }

    #[test]
    fn small_pools_spread_over_the_workers() {
        // Two pools of one connection and two workers: one each, not both on worker 0.
        let l = layout_of(&[1, 1]);
        assert_eq!([pool_share(&l, 0, 2, 0), pool_share(&l, 1, 2, 0)], [1, 0]);
        assert_eq!([pool_share(&l, 0, 2, 1), pool_share(&l, 1, 2, 1)], [0, 1]);
        // Every pool's connections are handed out exactly.
        for conns in [&[5usize, 3, 1][..], &[1, 1, 1, 1], &[7], &[0, 2]] {
            let l = layout_of(conns);
            for threads in 1..5 {
                for (k, &c) in conns.iter().enumerate() {
                    let given: u64 = (0..threads).map(|i| pool_share(&l, k, threads, i)).sum();
                    assert_eq!(given, c as u64, "{conns:?} over {threads}");
                }
            }
        }
    }

    fn endpoint(url: &str, rate: Option<f64>, weight: u32) -> Endpoint {
        Endpoint {
            rate,
            weight,
            ..Endpoint::get(target::Target::parse(url).unwrap())
        }
    }

    #[test]
    fn pools_get_exactly_the_connections_asked_for() {
        let a = SocketAddr::from(([127, 0, 0, 1], 1));
        let b = SocketAddr::from(([127, 0, 0, 1], 2));
        // Host a: one rated, one closed (weight 3); host b: one closed (weight 1).
        let mut plan = Plan::new(vec![
            endpoint("http://a/", Some(10.0), 1),
            endpoint("http://a/x", None, 3),
            endpoint("http://b/", None, 1),
        ]);
        let origin_of = [0, 0, 1];
        for c in [3, 4, 10, 100, 1001] {
            plan.connections = c;
            let l = pools_for(&plan, &origin_of, &[a, b]).unwrap();
            let conns: Vec<usize> = l.pools.iter().map(|p| p.connections).collect();
            assert_eq!(conns.iter().sum::<usize>(), c, "{conns:?}");
            assert!(conns.iter().all(|&n| n >= 1));
            assert_eq!(l.endpoint_pool, [0, 1, 2]);
        }
        // The rated pool serves 1 of 3 endpoints; the closed ones split the other 2/3 by
        // weight, 3:1, across the hosts.
        plan.connections = 1001;
        let l = pools_for(&plan, &origin_of, &[a, b]).unwrap();
        let conns: Vec<usize> = l.pools.iter().map(|p| p.connections).collect();
        assert!((333..=335).contains(&conns[0]), "{conns:?}");
        assert!((499..=501).contains(&conns[1]), "{conns:?}");
        assert!((166..=168).contains(&conns[2]), "{conns:?}");
        plan.connections = 2;
        let e = pools_for(&plan, &origin_of, &[a, b])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--connections 2 is fewer than the 3 connection pools"),
            "{e}"
        );
    }

    #[test]
    fn split_by_weights_adds_up_and_follows_the_weights() {
        assert_eq!(split_by(10, &[1, 1]), [5, 5]);
        assert_eq!(split_by(10, &[3, 1]), [8, 2]); // 7.5 / 2.5: largest remainder first
        assert_eq!(split_by(7, &[0, 2, 1]), [0, 5, 2]);
        assert_eq!(split_by(5, &[0, 0]), [5, 0]);
        assert_eq!(split_by(0, &[1, 2]), [0, 0]);
        assert_eq!(split_by(u64::MAX, &[1, 1]).iter().sum::<u64>(), u64::MAX);
    }

    #[test]
    fn shares_add_up() {
        for total in [0u64, 1, 7, 100, 101] {
            for n in 1..5 {
                let parts: Vec<u64> = (0..n).map(|i| share(total, n, i)).collect();
                assert_eq!(parts.iter().sum::<u64>(), total);
                assert!(parts.iter().max().unwrap() - parts.iter().min().unwrap() <= 1);
            }
        }
    }
}
