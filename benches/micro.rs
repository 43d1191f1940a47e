//! Micro-benchmarks of the hot-path pieces: response parsing (small, chunked, many
//! headers), request rendering, timer-wheel operations, histogram recording, and one
//! connection's whole request/response turn (`Conn` over an in-memory socket: enqueue,
//! write, read, parse, record — the engine's per-request work without the syscalls).
//! `harness = false` with a tiny timing loop instead of criterion: no extra
//! dependencies, and `cargo bench` builds in seconds. Each figure is the best of 5
//! batches (least disturbed by other load on a shared machine).
//!
//! Run: `cargo bench --bench micro` (optionally a filter: `cargo bench --bench micro parse`).
//! `MICRO_ITERS=N` runs each benchmark exactly N times instead (no timing loop), for
//! instruction counts that do not depend on the machine's load:
//! `MICRO_ITERS=100000 valgrind --tool=callgrind target/release/deps/micro-… conn` and
//! divide the total by N.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};
use tressi::engine::conn::{Conn, InFlight, Outcome, ReadBuf};
use tressi::http::response::{HeadMemo, Limits, NoSink, ResponseParser};
use tressi::rate::wheel::TimerWheel;
use tressi::request::Requests;
use tressi::stats::WorkerStats;

fn bench(name: &str, filter: &Option<String>, bytes_per_op: usize, mut op: impl FnMut() -> usize) {
    if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
        return;
    }
    if let Some(n) = std::env::var("MICRO_ITERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        for _ in 0..n {
            black_box(op());
        }
        println!("{name:<40} {n} iterations");
        return;
    }
    // Calibrate a batch to ~50 ms.
    let mut n = 1usize;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            black_box(op());
        }
        if t.elapsed() > Duration::from_millis(50) || n > 1 << 30 {
            break;
        }
        n *= 2;
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            black_box(op());
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    if bytes_per_op > 0 {
        let mbs = bytes_per_op as f64 / best * 1e9 / (1 << 20) as f64;
        println!("{name:<40} {best:>9.1} ns/op {mbs:>9.0} MiB/s");
    } else {
        println!("{name:<40} {best:>9.1} ns/op");
    }
}

fn parse_all(p: &mut ResponseParser, input: &[u8]) -> usize {
    let mut data = input;
    let mut n = 0;
    while !data.is_empty() {
        match p.feed(data, false) {
            Ok((used, Some(_))) => {
                n += 1;
                data = &data[used..];
            }
            Ok((_, None)) => break,
            Err(_) => {
                p.reset();
                break;
            }
        }
    }
    n
}

/// An in-memory socket for `Conn`: every read returns `depth` copies of one response
/// (what a server sends back for `depth` pipelined requests); writes are accepted whole
/// and dropped.
struct Loop {
    responses: Vec<u8>,
}

impl Read for Loop {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.responses.len().min(buf.len());
        buf[..n].copy_from_slice(&self.responses[..n]);
        Ok(n)
    }
}

impl Write for Loop {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One turn of a connection with `depth` requests in flight: enqueue them, write them,
/// read and parse the `depth` responses, record each. Returns responses completed.
fn conn_turn(
    c: &mut Conn<Loop>,
    reqs: &Requests,
    scratch: &mut ReadBuf,
    stats: &mut WorkerStats,
    now: u64,
) -> usize {
    let before = stats.endpoints[0].completed;
    for _ in 0..c.room() {
        let req = InFlight {
            intended_ns: now,
            sent_ns: now,
            deadline_ns: u64::MAX,
            endpoint: 0,
            head: false,
            close: false,
        };
        c.enqueue(req, stats);
    }
    let w = c.flush(reqs, stats);
    let r = c.on_readable(scratch, now + 50_000, false, stats);
    debug_assert!(w == Outcome::Open && r == Outcome::Open);
    (stats.endpoints[0].completed - before) as usize
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let small = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Thu, 03 Dec 2026 17:00:00 GMT\r\n\
        Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nhello, world\n";
    let chunked = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nTransfer-Encoding: chunked\r\n\r\n\
        d\r\nhello, world\n\r\n0\r\n\r\n";
    let mut many = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
    for i in 0..100 {
        many.extend_from_slice(format!("X-Header-{i}: value number {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let pipelined16 = small.repeat(16);

    let mut p = ResponseParser::new(Limits::default());
    bench("parse small response (CL 13)", &filter, small.len(), || {
        parse_all(&mut p, small)
    });
    let mut memo = HeadMemo::default();
    bench(
        "parse small response, head memo hit",
        &filter,
        small.len(),
        || {
            let r = p.feed_memo(small, false, &mut NoSink, Some(&mut memo));
            usize::from(matches!(r, Ok((_, Some(_)))))
        },
    );
    assert!(memo.hits() > 0 || filter.is_some());
    bench("parse chunked response", &filter, chunked.len(), || {
        parse_all(&mut p, chunked)
    });
    bench("parse 100-header response", &filter, many.len(), || {
        parse_all(&mut p, &many)
    });
    bench(
        "parse 16 pipelined small responses",
        &filter,
        pipelined16.len(),
        || parse_all(&mut p, &pipelined16),
    );
    bench(
        "parse small response split in 2",
        &filter,
        small.len(),
        || {
            let (a, b) = small.split_at(40);
            parse_all(&mut p, a) + parse_all(&mut p, b)
        },
    );

    let endpoint = tressi::Endpoint {
        method: "POST".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"a":1}"#.to_vec(),
        ..tressi::Endpoint::get(
            tressi::target::Target::parse("http://127.0.0.1:8080/api?x=1").unwrap(),
        )
    };
    bench("render request (setup, once per run)", &filter, 0, || {
        tressi::request::render(&endpoint, true).len()
    });

    let mut wheel = TimerWheel::new(1_000_000, 4096);
    let mut now = 0u64;
    bench("wheel schedule + cancel", &filter, 0, || {
        let id = wheel.schedule(now + 10_000_000, 7);
        wheel.cancel(id) as usize
    });
    bench("wheel schedule + expire (1 ms later)", &filter, 0, || {
        wheel.schedule(now + 1_000_000, 7);
        now += 1_000_000;
        let mut n = 0;
        wheel.expire(now, |_| n += 1);
        n
    });

    let mut stats = WorkerStats::new(1);
    let mut lat = 12_345u64;
    bench("record response (histogram + status)", &filter, 0, || {
        lat = lat
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 40;
        stats.record_response(0, 200, lat, lat);
        1
    });

    // The engine's per-request work without syscalls: ns/op is per turn, so divide by
    // the depth for ns per request.
    let req = tressi::request::render(
        &tressi::Endpoint::get(tressi::target::Target::parse("http://127.0.0.1:8080/").unwrap()),
        true,
    );
    let mut scratch = ReadBuf::new(64 * 1024, 1);
    for depth in [1usize, 16] {
        let reqs = Requests::new(std::slice::from_ref(&req), depth);
        let mut c = Conn::new(depth, Limits::default());
        c.connecting(Loop {
            responses: small.repeat(depth),
        });
        c.established();
        let mut stats = WorkerStats::new(1);
        // As the worker sets it for a closed-loop endpoint (intended = sent, below).
        stats.endpoints[0].service_is_latency = true;
        let mut now = 0u64;
        bench(
            &format!("conn turn, {depth} in flight (per turn)"),
            &filter,
            small.len() * depth,
            || {
                now += 100_000;
                conn_turn(&mut c, &reqs, &mut scratch, &mut stats, now)
            },
        );
    }
}
