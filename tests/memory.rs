//! Bounded memory against hostile servers (issue 5): the `tressi` binary runs in a child
//! process against an endless header, an endless chunk, a 1 GiB body and a slowloris
//! server (one byte a second); its peak RSS (`VmHWM` in `/proc/<pid>/status`, sampled
//! every 50 ms while it runs) must stay under [`BOUND_KIB`], it must exit 0 without a
//! panic, and the damage must be counted (parse errors, timeouts, bytes read).
//!
//! The bound: 64 MiB for 100 connections. What the design allows is one 64 KiB read
//! buffer per worker plus, per connection, at most one unfinished head (≤ 64 KiB, the
//! documented head limit): 100 × 64 KiB = 6.25 MiB on top of the process baseline
//! (a debug build measures ~5–10 MiB with two worker threads' stacks touched). 64 MiB
//! leaves room for allocator slack while still catching any per-connection body buffer
//! (100 connections buffering even 1 MiB each would be 100 MiB). Linux only (`/proc`).

mod common;

use common::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// Peak resident set allowed for the client, in KiB (64 MiB).
const BOUND_KIB: u64 = 64 * 1024;

/// `VmHWM` of `pid` in KiB, if the process still exists.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `tressi ARGS --json --no-ui`, sampling its peak RSS every 50 ms; returns the
/// summary and the largest `VmHWM` seen (KiB). Expects exit 0 and no panic.
fn run_sampled(args: &[&str]) -> (serde_json::Value, u64) {
    let mut child = Command::new(bin())
        .args(args)
        .args(["--json", "--no-ui"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tressi");
    // Drain stdout/stderr on threads so a full pipe can never stall the child.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(12) {
            let _ = child.kill();
            panic!("tressi {args:?} did not finish in time");
        }
        thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_t.join().unwrap();
    let stderr = err_t.join().unwrap();
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(status.success(), "{args:?}: {status}\n{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&stdout)));
    check_totals(&v);
    assert!(peak > 0, "no RSS sample taken");
    eprintln!("{args:?}: peak RSS {peak} KiB\n  {v}");
    (v, peak)
}

/// A server that, for every request, writes `head` and then `filler` forever (until the
/// client goes away or the test ends), `pause` between writes.
fn endless(head: &'static [u8], filler: &'static [u8], pause: Duration) -> HostileServer {
    HostileServer::start(move |mut s| {
        if s.next_request().is_none() || !s.write(head) {
            return;
        }
        while !s.stop.load(Ordering::Relaxed) {
            if !s.write(filler) {
                return;
            }
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
    })
}

fn assert_bounded(peak: u64, what: &str) {
    assert!(
        peak < BOUND_KIB,
        "{what}: peak RSS {peak} KiB is over the {BOUND_KIB} KiB bound"
    );
}

#[test]
fn endless_header_is_a_parse_error_in_bounded_memory() {
    static FILL: [u8; 16384] = [b'a'; 16384];
    let srv = endless(b"HTTP/1.1 200 OK\r\nX-Endless: ", &FILL, Duration::ZERO);
    let (v, peak) = run_sampled(&[&srv.url("/"), "-c", "100", "-t", "2", "-d", "2s"]);
    assert_bounded(peak, "endless header");
    let parse = count(&v, &["errors", "parse"]);
    assert!(parse >= 100, "each connection hits the head limit: {v}");
    assert_eq!(count(&v, &["requests", "completed"]), 0, "{v}");
}

#[test]
fn endless_chunk_times_out_in_bounded_memory() {
    static FILL: [u8; 65536] = [0; 65536];
    let srv = endless(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFF\r\n",
        &FILL,
        Duration::ZERO,
    );
    let (v, peak) = run_sampled(&[
        &srv.url("/"),
        "-c",
        "100",
        "-t",
        "2",
        "-d",
        "2500ms",
        "--timeout",
        "1s",
    ]);
    assert_bounded(peak, "endless chunk");
    assert!(count(&v, &["errors", "timeout"]) >= 100, "{v}");
    assert_eq!(count(&v, &["requests", "completed"]), 0, "{v}");
    assert!(
        count(&v, &["bytes", "read"]) > 64 << 20,
        "the body really streamed: {v}"
    );
}

#[test]
fn one_gib_body_is_skipped_not_stored() {
    static FILL: [u8; 65536] = [0; 65536];
    let srv = HostileServer::start(|mut s| {
        while s.next_request().is_some() {
            if !s.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n") {
                return;
            }
            let mut left: usize = 1 << 30;
            while left > 0 {
                if s.stop.load(Ordering::Relaxed) || !s.write(&FILL[..left.min(FILL.len())]) {
                    return;
                }
                left -= left.min(FILL.len());
            }
            s.counters.responses.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (v, peak) = run_sampled(&[
        &srv.url("/"),
        "-c",
        "100",
        "-t",
        "2",
        "-d",
        "2500ms",
        "--timeout",
        "1s",
    ]);
    assert_bounded(peak, "1 GiB bodies");
    assert!(
        count(&v, &["bytes", "read"]) > 256 << 20,
        "the bodies really streamed: {v}"
    );
    // 100 GiB in 2.5 s is beyond loopback: the responses end as timeouts (counted) or
    // are in flight at stop; any that complete were counted by the server first.
    let done = count(&v, &["requests", "completed"]);
    assert!(done <= srv.n(|c| &c.responses), "{v}");
    assert!(
        count(&v, &["errors", "timeout"]) + count(&v, &["requests", "in_flight_at_stop"]) > 0,
        "{v}"
    );
    assert_eq!(
        error_total(&v),
        count(&v, &["errors", "timeout"]),
        "only timeouts: {v}"
    );
}

#[test]
fn slowloris_one_byte_a_second_times_out_in_bounded_memory() {
    let srv = HostileServer::start(|mut s| {
        if s.next_request().is_none() {
            return;
        }
        for &b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".iter() {
            if !s.write(&[b]) {
                return;
            }
            let until = Instant::now() + Duration::from_secs(1);
            while Instant::now() < until {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    });
    let (v, peak) = run_sampled(&[
        &srv.url("/"),
        "-c",
        "100",
        "-t",
        "2",
        "-d",
        "2500ms",
        "--timeout",
        "1s",
    ]);
    assert_bounded(peak, "slowloris");
    assert!(count(&v, &["errors", "timeout"]) >= 100, "{v}");
    assert_eq!(count(&v, &["requests", "completed"]), 0, "{v}");
    assert_eq!(
        error_total(&v),
        count(&v, &["errors", "timeout"]),
        "only timeouts: {v}"
    );
}
