//! tressi: an HTTP/1.1 load generator and latency benchmark.
//!
//! The library API is `run(&Plan) -> Result<Summary, Error>`; `cli::parse` turns
//! arguments into a `Command`. Only `engine::worker`, `target_server`, `signal` and the
//! set-up in this file touch the OS; every other module is pure and tested with time as
//! an argument.

pub mod cli;
pub mod config;
pub mod early_exit;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod plan;
pub mod rate;
pub mod report;
pub mod request;
pub mod signal;
pub mod stats;
pub mod target;
pub mod target_server;
pub mod units;

pub use error::Error;
pub use plan::{Command, Endpoint, Output, Plan};
pub use stats::Summary;

use engine::progress::{Control, Snapshot};
use engine::worker::{self, PoolKind, PoolPlan, WorkerEndpoint, WorkerPlan};
use stats::{RunFacts, WorkerStats};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How often the main thread looks at the workers' snapshots during a run.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// Runs a load test to its end and returns the merged results.
///
/// Set-up problems (bad scheme, name resolution, nothing accepts a connection, thread
/// spawn) are an `Error`; everything that goes wrong during the run is counted in the
/// `Summary`.
pub fn run(plan: &Plan) -> Result<Summary, Error> {
    run_watched(plan, &mut |_| {})
}

/// Like `run`, calling `watch` with the summed counts of all workers about four times a
/// second while the run goes on (for live progress).
pub fn run_watched(plan: &Plan, watch: &mut dyn FnMut(&Snapshot)) -> Result<Summary, Error> {
    if plan.endpoints.is_empty() {
        return Err(Error::Usage("no URL to test".into()));
    }
    if let Some(e) = plan
        .endpoints
        .iter()
        .find(|e| e.target.scheme == target::Scheme::Https)
    {
        return Err(Error::Setup(format!(
            "{}: https is not supported yet (TLS support is planned); use an http:// URL",
            e.target.url()
        )));
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
    // Without keep-alive every response ends its connection: pipelining cannot apply.
    let pipelining = if plan.keepalive {
        plan.pipelining.max(1)
    } else {
        1
    };
    let stop_at_ns = plan.duration.map(|d| d.as_nanos() as u64);
    let plans: Vec<WorkerPlan> = (0..threads)
        .map(|i| worker_plan(plan, &layout, threads, i, pipelining, stop_at_ns))
        .collect();
    let control = Control::new(threads, plan.endpoints.len());
    let mut exits = EarlyExits::new(plan);
    let mut fired: Option<String> = None;
    let origin = Instant::now();
    let results: Vec<std::io::Result<WorkerStats>> = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        for wp in &plans {
            let control = &control;
            let h = std::thread::Builder::new()
                .name(format!("tressi-worker-{}", wp.index))
                .spawn_scoped(s, move || worker::run(wp, control, origin));
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    control.request_stop();
                    return vec![Err(e)];
                }
            }
        }
        let mut snapshot = Snapshot::new(plan.endpoints.len());
        let mut next_watch = Duration::ZERO;
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(WATCH_EVERY);
            if origin.elapsed() >= next_watch {
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
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("worker thread panicked")))
            })
            .collect()
    });
    let mut total = WorkerStats::new(plan.endpoints.len());
    for r in results {
        let st = r.map_err(|e| Error::Setup(format!("worker failed: {e}")))?;
        total.merge(&st);
    }
    let facts = RunFacts {
        plan,
        threads,
        pipelining,
        duration_s: total.stopped_ns as f64 / 1e9,
    };
    Ok(Summary::new(&total, facts, fired))
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
struct Layout {
    pools: Vec<PoolPlan>,
    /// Pool of each endpoint.
    endpoint_pool: Vec<usize>,
}

fn layout(plan: &Plan) -> Result<Layout, Error> {
    // Origins in order of first appearance; each resolved and probed once.
    let mut origins: Vec<(String, u16, SocketAddr)> = Vec::new();
    let mut origin_of = Vec::with_capacity(plan.endpoints.len());
    for ep in &plan.endpoints {
        let t = &ep.target;
        let idx = match origins
            .iter()
            .position(|(h, p, _)| *h == t.host && *p == t.port)
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
                origins.push((t.host.clone(), t.port, addr));
                origins.len() - 1
            }
        };
        origin_of.push(idx);
    }
    // Pools: per origin, an open pool for its rated endpoints and a closed pool for the
    // others. Connections are split in proportion to the endpoints each pool serves
    // (at least one each).
    let mut pools = Vec::new();
    let mut endpoint_pool = vec![0; plan.endpoints.len()];
    let n_endpoints = plan.endpoints.len();
    let mut given = 0usize;
    for (o, (_, _, addr)) in origins.iter().enumerate() {
        for open in [true, false] {
            let members: Vec<usize> = (0..n_endpoints)
                .filter(|&e| origin_of[e] == o && plan.endpoints[e].rate.is_some() == open)
                .collect();
            if members.is_empty() {
                continue;
            }
            let conns = (plan.connections * members.len() / n_endpoints).max(1);
            given += conns;
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
                addr: *addr,
                kind,
                connections: conns,
                max_connections,
            });
        }
    }
    // Rounding down may leave connections unassigned: give them out in pool order.
    let mut i = 0;
    while given < plan.connections && !pools.is_empty() {
        let n = pools.len();
        let p = &mut pools[i % n];
        p.connections += 1;
        p.max_connections = p.max_connections.max(p.connections);
        given += 1;
        i += 1;
    }
    Ok(Layout {
        pools,
        endpoint_pool,
    })
}

/// Worker `i`'s part of the plan: its share of every pool's connections (at least one
/// per pool), of every rate (phase-shifted so the workers interleave) and of `-n`.
fn worker_plan(
    plan: &Plan,
    layout: &Layout,
    threads: usize,
    i: usize,
    pipelining: usize,
    stop_at_ns: Option<u64>,
) -> WorkerPlan {
    let endpoints = plan
        .endpoints
        .iter()
        .enumerate()
        .map(|(e, ep)| {
            let rate = ep.rate.map(|r| r / threads as f64);
            WorkerEndpoint {
                request: request::render(ep, plan.keepalive),
                head: ep.method == "HEAD",
                timeout: ep.timeout.unwrap_or(plan.timeout),
                rate,
                ramp_up: ep.ramp_up.or(plan.ramp_up).unwrap_or(Duration::ZERO),
                phase: Duration::from_nanos(
                    rate.map_or(0, |r| rate::bucket::Bucket::phase_ns(i, threads, r)),
                ),
                pool: layout.endpoint_pool[e],
            }
        })
        .collect();
    let pools = layout
        .pools
        .iter()
        .map(|p| {
            let connections = (share(p.connections as u64, threads, i) as usize).max(1);
            PoolPlan {
                connections,
                max_connections: (share(p.max_connections as u64, threads, i) as usize)
                    .max(connections),
                ..p.clone()
            }
        })
        .collect();
    WorkerPlan {
        index: i,
        endpoints,
        pools,
        quota: plan.requests.map(|n| share(n, threads, i)),
        pipelining,
        connect_timeout: plan.connect_timeout,
        stop_at_ns,
        limits: Default::default(),
    }
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
    let server = target_server::TargetServer::start(&target_server::TargetConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        body_size: 13,
    })?;
    let url = format!("http://{}/", server.addr());
    let plan = Plan {
        duration: Some(Duration::from_secs(3)),
        output: Output { json, ui },
        addrs: vec![server.addr()],
        ..Plan::new(vec![Endpoint::get(target::Target::parse(&url)?)])
    };
    let summary = run(&plan);
    let served = server.stop();
    Ok((summary?, served))
}

#[cfg(test)]
mod tests {
    use super::*;

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
