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

use engine::worker::{self, WorkerPlan};
use stats::WorkerStats;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Runs a load test to its end and returns the merged results.
///
/// Set-up problems (bad scheme, name resolution, nothing accepts a connection, thread
/// spawn) are an `Error`; everything that goes wrong during the run is counted in the
/// `Summary`.
pub fn run(plan: &Plan) -> Result<Summary, Error> {
    let endpoint = match plan.endpoints.as_slice() {
        [one] => one,
        [] => return Err(Error::Usage("no URL to test".into())),
        _ => {
            return Err(Error::Usage(
                "several endpoints in one run are not supported yet".into(),
            ))
        }
    };
    if endpoint.target.scheme == target::Scheme::Https {
        return Err(Error::Setup(format!(
            "{}: https is not supported yet (TLS support is planned); use an http:// URL",
            endpoint.target.url()
        )));
    }
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    // Each connection is a descriptor; keep a margin for stdio, epoll and the probe.
    let want = plan.connections as u64 + 64;
    let limit = raise_fd_limit(want);
    if limit < want {
        return Err(Error::Setup(format!(
            "{} connections need {want} open files but the limit is {limit} \
             (raise it with `ulimit -n`, or use fewer connections)",
            plan.connections
        )));
    }
    let addrs = if plan.addrs.is_empty() {
        endpoint.target.resolve()?
    } else {
        plan.addrs.clone()
    };
    let addr = first_reachable(&addrs, plan.connect_timeout)
        .map_err(|e| Error::Setup(format!("cannot connect to {}: {e}", endpoint.target.url())))?;
    // Without keep-alive every response ends its connection: pipelining cannot apply.
    let pipelining = if plan.keepalive {
        plan.pipelining.max(1)
    } else {
        1
    };
    let request = request::render(endpoint, plan.keepalive);
    let origin = Instant::now();
    let stop_at_ns = plan.duration.map(|d| d.as_nanos() as u64);
    let plans: Vec<WorkerPlan> = (0..threads)
        .map(|i| WorkerPlan {
            connections: share(plan.connections as u64, threads, i) as usize,
            quota: plan.requests.map(|n| share(n, threads, i)),
            addr,
            request: request.clone(),
            head: endpoint.method == "HEAD",
            pipelining,
            timeout: plan.timeout,
            connect_timeout: plan.connect_timeout,
            stop_at_ns,
            limits: Default::default(),
        })
        .collect();
    let results: Vec<std::io::Result<WorkerStats>> = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads);
        for (i, wp) in plans.iter().enumerate() {
            let h = std::thread::Builder::new()
                .name(format!("tressi-worker-{i}"))
                .spawn_scoped(s, move || worker::run(wp, origin));
            handles.push(h);
        }
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("worker thread panicked"))),
                Err(e) => Err(e),
            })
            .collect()
    });
    let mut total = WorkerStats::new();
    for r in results {
        let st = r.map_err(|e| Error::Setup(format!("worker failed: {e}")))?;
        total.merge(&st);
    }
    let elapsed = total.stopped_ns as f64 / 1e9;
    Ok(Summary::new(
        &total,
        endpoint.target.url(),
        endpoint.method.clone(),
        threads,
        pipelining,
        plan.connections,
        elapsed,
    ))
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
