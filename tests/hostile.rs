//! Hostile and odd servers (issue 5, items 1–15 and 18; 16–17 need rate mode).
//!
//! Each test starts a small server in-process on 127.0.0.1:0 (`common::HostileServer`:
//! one thread per connection, counting the requests it read and the responses and bytes
//! it wrote), runs the `tressi` binary against it with `--json --no-ui` (bounded in
//! time), and checks the stated outcome plus the reconciliation: responses the server
//! wrote == `completed` (exactly with `-n`; within `in_flight_at_stop` with `-d`), and
//! `sent == completed + failed + in_flight_at_stop` (`common::check_totals`).

mod common;

use common::*;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(15);

/// Runs the binary; `HOSTILE_VERBOSE=1` prints each summary (with `--nocapture`).
fn run(args: &[&str]) -> Value {
    let v = tressi_json_within(args, LIMIT);
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        eprintln!("{args:?}\n  → {v}");
    }
    v
}

fn completed(v: &Value) -> u64 {
    count(v, &["requests", "completed"])
}

fn status(v: &Value, code: &str) -> u64 {
    v["status"][code].as_u64().unwrap_or(0)
}

/// A server that answers every request with `response` and keeps the connection open.
fn fixed(response: &'static [u8]) -> HostileServer {
    HostileServer::start(move |mut s| {
        while s.next_request().is_some() {
            if !s.respond(response) {
                return;
            }
        }
    })
}

/// `completed` equals what the server wrote exactly (a `-n` run ends when every request
/// has ended).
fn reconciles_exactly(v: &Value, srv: &HostileServer) {
    assert_eq!(
        completed(v),
        srv.n(|c| &c.responses),
        "completed == responses the server wrote: {v}"
    );
}

// 1 -------------------------------------------------------------------------------------

#[test]
fn close_delimited_bodies_are_200s() {
    let srv = HostileServer::start(|mut s| {
        if s.next_request().is_some() {
            s.respond(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody ends at close");
        }
        // Dropping the stream closes it: that ends the body.
    });
    let v = run(&[&srv.url("/"), "-c", "4", "-n", "300"]);
    assert_eq!(status(&v, "200"), 300, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    reconciles_exactly(&v, &srv);
}

// 2 -------------------------------------------------------------------------------------

#[test]
fn head_with_announced_length_is_reused_and_pipelined() {
    let srv = fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for p in ["1", "8"] {
        let before = srv.n(|c| &c.responses);
        let v = run(&[
            &srv.url("/"),
            "-m",
            "HEAD",
            "-c",
            "2",
            "-n",
            "1000",
            "-p",
            p,
        ]);
        assert_eq!(status(&v, "200"), 1000, "p={p}: {v}");
        assert_eq!(error_total(&v), 0, "p={p}: {v}");
        assert_eq!(count(&v, &["connections", "reconnects"]), 0, "p={p}: {v}");
        assert_eq!(srv.n(|c| &c.responses) - before, 1000);
    }
}

// 3 -------------------------------------------------------------------------------------

#[test]
fn no_body_statuses_with_length_or_chunked_headers() {
    const VARIANTS: [&[u8]; 4] = [
        b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    ];
    let srv = HostileServer::start(|mut s| {
        let mut i = 0;
        while s.next_request().is_some() {
            let r = VARIANTS[i % 4];
            if !s.respond(r) {
                return;
            }
            if r.starts_with(b"HTTP/1.1 204") {
                s.counters.special.fetch_add(1, Ordering::SeqCst); // 204s written
            }
            i += 1;
        }
    });
    for p in ["1", "8"] {
        let (r0, s0) = (srv.n(|c| &c.responses), srv.n(|c| &c.special));
        let v = run(&[&srv.url("/"), "-c", "2", "-n", "800", "-p", p]);
        let (r, s204) = (srv.n(|c| &c.responses) - r0, srv.n(|c| &c.special) - s0);
        assert_eq!(r, 800);
        assert_eq!(status(&v, "204"), s204, "p={p}: {v}");
        assert_eq!(status(&v, "304"), r - s204, "p={p}: {v}");
        assert_eq!(error_total(&v), 0, "p={p}: {v}");
        assert_eq!(count(&v, &["connections", "reconnects"]), 0, "p={p}: {v}");
    }
}

// 4 -------------------------------------------------------------------------------------

const CHUNKY: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
    5;ext=1;q=\"a;b\"\r\nhello\r\n\
    00A\r\n0123456789\r\n\
    0000000003\r\nabc\r\n\
    1f\r\n0123456789abcdef0123456789abcde\r\n\
    1F;x\r\n0123456789abcdef0123456789abcde\r\n\
    0;end=yes\r\nTrailer-A: 1\r\nTrailer-B: two\r\n\r\n";

#[test]
fn chunked_variety_counts_bytes_exactly_and_reuses_connections() {
    let srv = fixed(CHUNKY);
    for p in ["1", "16"] {
        let v = run(&[&srv.url("/"), "-c", "3", "-n", "900", "-p", p]);
        assert_eq!(status(&v, "200"), 900, "p={p}: {v}");
        assert_eq!(error_total(&v), 0, "p={p}: {v}");
        assert_eq!(count(&v, &["bytes", "read"]), 900 * CHUNKY.len() as u64);
        assert_eq!(count(&v, &["connections", "reconnects"]), 0, "p={p}: {v}");
    }
}

// 5 -------------------------------------------------------------------------------------

/// Offsets that split `r` inside the status line, between every CR and LF, and inside
/// every chunk-size line, plus a few more.
fn nasty_cuts(r: &[u8]) -> Vec<usize> {
    let mut cuts = vec![1, 4, 9, 11];
    for (i, &b) in r.iter().enumerate() {
        if b == b'\r' {
            cuts.push(i + 1); // between CR and LF
        }
        if b == b'\n' && i + 2 < r.len() {
            cuts.push(i + 2); // one byte into the next line (chunk-size lines too)
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn dribbled_responses_split_anywhere() {
    const PLAIN: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\nhello world!";
    let srv = HostileServer::start(|mut s| {
        let mut i = 0u64;
        while s.next_request().is_some() {
            let r = if i % 2 == 0 { CHUNKY } else { PLAIN };
            let cuts = nasty_cuts(r);
            if !s.write_pieces(r, &cuts, Duration::from_micros(300)) {
                return;
            }
            s.counters.responses.fetch_add(1, Ordering::SeqCst);
            i += 1;
        }
    });
    let v = run(&[&srv.url("/"), "-c", "2", "-n", "40"]);
    assert_eq!(status(&v, "200"), 40, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(count(&v, &["connections", "reconnects"]), 0, "{v}");
    assert_eq!(count(&v, &["bytes", "read"]), srv.n(|c| &c.bytes_written));
    reconciles_exactly(&v, &srv);
}

// 6 -------------------------------------------------------------------------------------

#[test]
fn pipelined_responses_resliced_at_random_points() {
    const SHAPES: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        CHUNKY,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ];
    for p in ["1", "16"] {
        let srv = HostileServer::start(|mut s| {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (s.index + 1));
            while s.next_request().is_some() {
                // Answer everything that has arrived as one concatenation, cut at random.
                let mut n = 1;
                while s.buffered_request().is_some() {
                    n += 1;
                }
                let mut all = Vec::new();
                for _ in 0..n {
                    all.extend_from_slice(SHAPES[rng.below(4) as usize]);
                }
                let mut cuts: Vec<usize> = (0..rng.below(6))
                    .map(|_| rng.below(all.len() as u64) as usize)
                    .collect();
                cuts.sort_unstable();
                if !s.write_pieces(&all, &cuts, Duration::from_micros(100)) {
                    return;
                }
                s.counters.responses.fetch_add(n, Ordering::SeqCst);
            }
        });
        let v = run(&[&srv.url("/"), "-c", "2", "-n", "2000", "-p", p]);
        assert_eq!(completed(&v), 2000, "p={p}: {v}");
        assert_eq!(error_total(&v), 0, "p={p}: {v}");
        reconciles_exactly(&v, &srv);
        assert_eq!(
            count(&v, &["bytes", "read"]),
            srv.n(|c| &c.bytes_written),
            "p={p}: {v}"
        );
        assert_eq!(count(&v, &["connections", "reconnects"]), 0, "p={p}: {v}");
    }
}

// 7 -------------------------------------------------------------------------------------

#[test]
fn silent_close_after_n_responses_counts_lost_requests_as_closed() {
    for p in ["1", "8"] {
        let srv = HostileServer::start(|mut s| {
            let mut answered = 0;
            while answered < 5 {
                if s.next_request().is_none() {
                    return;
                }
                if !s.respond(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
                    return;
                }
                answered += 1;
            }
            s.close_quietly(); // FIN without a `Connection: close` header
        });
        let v = run(&[&srv.url("/"), "-c", "4", "-n", "400", "-p", p]);
        reconciles_exactly(&v, &srv);
        assert_eq!(status(&v, "200"), completed(&v), "only 200s: {v}");
        let failed = count(&v, &["requests", "failed"]);
        assert_eq!(
            count(&v, &["errors", "closed"]),
            failed,
            "every lost request is `closed`, once: {v}"
        );
        assert_eq!(completed(&v) + failed, 400, "p={p}: {v}");
        if p == "8" {
            assert!(failed > 0, "pipelined requests are lost at each close: {v}");
        }
    }
}

// 8 -------------------------------------------------------------------------------------

#[test]
fn connection_close_on_every_response() {
    let srv = HostileServer::start(|mut s| {
        if s.next_request().is_some() {
            s.respond(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
            s.close_quietly();
        }
    });
    let v = run(&[&srv.url("/"), "-c", "4", "-n", "300"]);
    assert_eq!(status(&v, "200"), 300, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    reconciles_exactly(&v, &srv);
    assert_eq!(srv.n(|c| &c.max_per_conn), 1, "one request per connection");
    // `established` counts connection slots that ever connected; `reconnects` the rest.
    assert_eq!(count(&v, &["connections", "established"]), 4, "{v}");
    let connects = 4 + count(&v, &["connections", "reconnects"]);
    assert!(
        (300..=304).contains(&connects),
        "one connection per request (and at most one spare per slot): {v}"
    );
}

// 9 -------------------------------------------------------------------------------------

#[test]
fn http10_server_keeps_alive_only_when_asked() {
    let srv = HostileServer::start(|mut s| {
        while let Some(req) = s.next_request() {
            let asked = req
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("keep-alive"));
            if asked {
                s.respond(
                    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
                );
                continue;
            }
            // Not asked: close after the response; every other reply has no length.
            let r: &[u8] = if s.index % 2 == 0 {
                b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            } else {
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, until close"
            };
            s.respond(r);
            s.close_quietly();
            return;
        }
    });
    let v = run(&[&srv.url("/"), "-c", "2", "-n", "200"]);
    assert_eq!(status(&v, "200"), 200, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    reconciles_exactly(&v, &srv);

    let before = srv.n(|c| &c.responses);
    let v = run(&[
        &srv.url("/"),
        "-c",
        "2",
        "-n",
        "200",
        "-H",
        "Connection: keep-alive",
    ]);
    assert_eq!(status(&v, "200"), 200, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(srv.n(|c| &c.responses) - before, 200);
    assert_eq!(
        count(&v, &["connections", "reconnects"]),
        0,
        "HTTP/1.0 keep-alive is honoured: {v}"
    );
}

// 10 ------------------------------------------------------------------------------------

fn many_fields(n: usize) -> &'static [u8] {
    let mut r = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..n {
        r.push_str(&format!("X-Field-{i}: value number {i}\r\n"));
    }
    r.push_str("Content-Length: 2\r\n\r\nok");
    Box::leak(r.into_bytes().into_boxed_slice())
}

#[test]
fn one_hundred_and_three_hundred_header_fields() {
    for n in [100, 300] {
        let srv = fixed(many_fields(n));
        let v = run(&[&srv.url("/"), "-c", "2", "-n", "500", "-p", "4"]);
        assert_eq!(status(&v, "200"), 500, "{n} fields: {v}");
        assert_eq!(error_total(&v), 0, "{n} fields: {v}");
        reconciles_exactly(&v, &srv);
    }
}

// 11 ------------------------------------------------------------------------------------

fn huge_header(value_len: usize) -> &'static [u8] {
    let mut r = b"HTTP/1.1 200 OK\r\nX-Huge: ".to_vec();
    r.resize(r.len() + value_len, b'h');
    r.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
    Box::leak(r.into_boxed_slice())
}

#[test]
fn sixty_kib_header_is_fine() {
    let srv = fixed(huge_header(60 * 1024));
    let v = run(&[&srv.url("/"), "-c", "2", "-n", "200", "-p", "2"]);
    assert_eq!(status(&v, "200"), 200, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    reconciles_exactly(&v, &srv);
}

#[test]
fn seventy_kib_header_is_a_counted_parse_error() {
    let srv = fixed(huge_header(70 * 1024));
    let v = run(&[&srv.url("/"), "-c", "2", "-n", "10"]);
    assert_eq!(completed(&v), 0, "{v}");
    assert_eq!(count(&v, &["errors", "parse"]), 10, "{v}");
    assert_eq!(error_total(&v), 10, "{v}");
    // The client kept going: every one of the 10 requests was sent and ended.
    assert_eq!(count(&v, &["requests", "sent"]), 10, "{v}");
}

// 12 ------------------------------------------------------------------------------------

#[test]
fn every_tenth_answer_too_slow_times_out_and_is_never_counted() {
    let srv = HostileServer::start(|mut s| {
        let mut i = 0u64;
        while s.next_request().is_some() {
            i += 1;
            if i % 10 == 0 {
                s.counters.special.fetch_add(1, Ordering::SeqCst); // slow ones
                thread::sleep(Duration::from_millis(350));
                // The late answer: the client has given up on this connection.
                s.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate");
                continue;
            }
            if !s.respond(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
                return;
            }
        }
    });
    let v = run(&[&srv.url("/"), "-c", "4", "-n", "200", "--timeout", "150ms"]);
    let slow = srv.n(|c| &c.special);
    assert!(slow >= 16, "{slow} slow answers: {v}");
    assert_eq!(count(&v, &["errors", "timeout"]), slow, "{v}");
    assert_eq!(error_total(&v), slow, "{v}");
    reconciles_exactly(&v, &srv);
    assert_eq!(completed(&v) + slow, 200, "{v}");
    let rc = count(&v, &["connections", "reconnects"]);
    assert!(
        rc + 4 >= slow && rc <= slow,
        "each timed-out connection is replaced: {rc} reconnects for {slow} timeouts"
    );
}

// 13 ------------------------------------------------------------------------------------

#[test]
fn rst_on_accept_is_counted_without_a_reconnect_spin() {
    let srv = HostileServer::start(|s| s.reset());
    let v = run(&[&srv.url("/"), "-c", "2", "-d", "1s"]);
    assert_eq!(completed(&v), 0, "{v}");
    let reset = count(&v, &["errors", "reset"]);
    let connect = count(&v, &["errors", "connect"]);
    assert!(reset + connect > 0, "{v}");
    assert_eq!(
        error_total(&v),
        reset + connect,
        "only reset/connect errors: {v}"
    );
    // Back-off 10 ms doubling to 1 s: about 8 attempts per connection in a second.
    let accepted = srv.n(|c| &c.accepted);
    assert!(
        accepted <= 2 * 15 + 1,
        "{accepted} connection attempts in 1 s: reconnect spin? {v}"
    );
}

#[test]
fn rst_mid_response_is_a_reset_error() {
    let srv = HostileServer::start(|mut s| {
        let mut i = 0;
        while s.next_request().is_some() {
            i += 1;
            if i == 5 {
                s.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of th");
                thread::sleep(Duration::from_millis(5));
                s.counters.special.fetch_add(1, Ordering::SeqCst);
                s.reset();
                return;
            }
            if !s.respond(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
                return;
            }
        }
    });
    let v = run(&[&srv.url("/"), "-c", "2", "-n", "100"]);
    let resets = srv.n(|c| &c.special);
    assert!(resets >= 20, "{v}");
    reconciles_exactly(&v, &srv);
    assert_eq!(count(&v, &["errors", "reset"]), resets, "{v}");
    assert_eq!(error_total(&v), resets, "{v}");
}

#[test]
fn listener_down_for_a_second_then_back() {
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;

    // A server whose listener (and every connection) goes away from 0.5 s to 1.5 s.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let down = Arc::new(AtomicBool::new(false));
    let after = Arc::new(AtomicU64::new(0)); // responses after the listener came back
    let total = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let serve = {
        let (down, after, total, accepted, done) = (
            down.clone(),
            after.clone(),
            total.clone(),
            accepted.clone(),
            done.clone(),
        );
        move |mut listener: Option<TcpListener>, back_at: Instant| {
            let start = Instant::now();
            let mut gen = 0u32;
            while !done.load(Ordering::Relaxed) {
                let t = start.elapsed();
                if gen == 0 && t >= Duration::from_millis(500) {
                    down.store(true, Ordering::SeqCst);
                    listener = None; // closed: connects are refused
                    gen = 1;
                }
                if gen == 1 && Instant::now() >= back_at {
                    listener = Some(TcpListener::bind(addr).expect("rebind the same port"));
                    down.store(false, Ordering::SeqCst);
                    gen = 2;
                }
                let Some(l) = listener.as_ref() else {
                    thread::sleep(Duration::from_millis(1));
                    continue;
                };
                l.set_nonblocking(true).unwrap();
                match l.accept() {
                    Ok((mut sock, _)) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        sock.set_nonblocking(false).unwrap();
                        sock.set_read_timeout(Some(Duration::from_millis(10)))
                            .unwrap();
                        let (down, after, total) = (down.clone(), after.clone(), total.clone());
                        let my_gen = gen;
                        thread::spawn(move || {
                            use std::io::{Read, Write};
                            let mut buf = [0u8; 4096];
                            loop {
                                if down.load(Ordering::SeqCst) && my_gen == 0 {
                                    return; // the "restart" drops every connection
                                }
                                match sock.read(&mut buf) {
                                    Ok(0) => return,
                                    Ok(_) => {
                                        // One request per read (-p 1, small requests).
                                        if sock
                                            .write_all(
                                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                                            )
                                            .is_err()
                                        {
                                            return;
                                        }
                                        total.fetch_add(1, Ordering::SeqCst);
                                        if my_gen == 2 {
                                            after.fetch_add(1, Ordering::SeqCst);
                                        }
                                    }
                                    Err(e)
                                        if e.kind() == std::io::ErrorKind::WouldBlock
                                            || e.kind() == std::io::ErrorKind::TimedOut => {}
                                    Err(_) => return,
                                }
                            }
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(1)),
                }
            }
        }
    };
    let back_at = Instant::now() + Duration::from_millis(1500);
    let server = thread::spawn(move || serve(Some(listener), back_at));
    let v = run(&[&format!("http://{addr}/"), "-c", "4", "-d", "3s"]);
    done.store(true, Ordering::Relaxed);
    server.join().unwrap();

    let connect = count(&v, &["errors", "connect"]);
    assert!(connect > 0, "refused connects are `connect` errors: {v}");
    assert!(
        connect <= 4 * 12,
        "{connect} refused connects in ~1 s: reconnect spin? {v}"
    );
    assert!(
        after.load(Ordering::SeqCst) > 0,
        "the run recovered once the listener came back: {v}"
    );
    let served = total.load(Ordering::SeqCst);
    let c = completed(&v);
    let in_flight = count(&v, &["requests", "in_flight_at_stop"]);
    let closed = count(&v, &["errors", "closed"]);
    assert!(
        c <= served && served <= c + in_flight + closed,
        "served {served} vs completed {c}: {v}"
    );
    let others = error_total(&v) - connect - closed - count(&v, &["errors", "reset"]);
    assert_eq!(others, 0, "only connect / closed / reset errors: {v}");
    assert!(accepted.load(Ordering::SeqCst) >= 8, "{v}");
}

// 14 ------------------------------------------------------------------------------------

/// Runs tressi under `ulimit -n LIMIT` (soft and hard).
fn tressi_with_fd_limit(limit: u32, args: &[&str]) -> std::process::Output {
    under_ulimit(&format!("-n {limit}"), args)
}

/// Runs tressi with only the soft open-files limit lowered.
fn tressi_with_fd_limit_soft(limit: u32, args: &[&str]) -> std::process::Output {
    under_ulimit(&format!("-S -n {limit}"), args)
}

fn under_ulimit(ulimit: &str, args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bash");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("tressi {args:?} under ulimit {ulimit} did not finish");
        }
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn more_connections_than_the_fd_limit() {
    let target = TargetProcess::start(&[]);
    let url = target.url("/");
    // Too few descriptors: one clear line before the run, exit 2.
    let out = tressi_with_fd_limit(100, &[&url, "-c", "200", "-n", "1000", "--json", "--no-ui"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("tressi: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("limit") && err.contains("200"), "{err}");
    assert!(out.stdout.is_empty());
    // Enough descriptors: every connection is established, exactly.
    let out = tressi_with_fd_limit(
        400,
        &[
            &url, "-c", "200", "-t", "2", "-n", "4000", "--json", "--no-ui",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert_eq!(count(&v, &["connections", "established"]), 200, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(status(&v, "200"), 4000, "{v}");
    // Only the soft limit is low: tressi raises it to the hard limit by itself.
    let out =
        tressi_with_fd_limit_soft(100, &[&url, "-c", "200", "-n", "2000", "--json", "--no-ui"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert_eq!(count(&v, &["connections", "established"]), 200, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(target.stop(), 6000);
}

// 15 ------------------------------------------------------------------------------------

#[test]
fn responses_still_in_flight_at_the_end_are_not_errors() {
    let srv = HostileServer::start(|mut s| {
        while s.next_request().is_some() {
            // Slower than the run; the stop flag ends the wait when the test is over.
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until && !s.stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(10));
            }
            if !s.respond(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
                return;
            }
        }
    });
    let v = run(&[&srv.url("/"), "-c", "4", "-p", "2", "-d", "1s"]);
    assert_eq!(count(&v, &["requests", "in_flight_at_stop"]), 8, "{v}");
    assert_eq!(count(&v, &["requests", "sent"]), 8, "{v}");
    assert_eq!(completed(&v), 0, "{v}");
    assert_eq!(error_total(&v), 0, "in flight is not an error: {v}");
    assert_eq!(srv.n(|c| &c.responses), 0);
}

// 18 ------------------------------------------------------------------------------------

#[test]
fn post_bodies_arrive_exactly_framed_with_content_length() {
    let srv = HostileServer::start(|mut s| {
        while let Some(req) = s.next_request() {
            let ok = req.method == "POST" && req.content_length.is_some();
            let r: &[u8] = if ok {
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
            };
            if !s.respond(r) {
                return;
            }
        }
    });
    let body = "x".repeat(1000);
    let v = run(&[
        &srv.url("/"),
        "-m",
        "POST",
        "-b",
        &body,
        "-c",
        "3",
        "-n",
        "300",
        "-p",
        "4",
    ]);
    assert_eq!(status(&v, "200"), 300, "{v}");
    assert_eq!(srv.n(|c| &c.requests), 300);
    assert_eq!(srv.n(|c| &c.body_bytes), 300 * 1000);
    assert_eq!(
        srv.n(|c| &c.bad_framing),
        0,
        "no Transfer-Encoding on requests"
    );

    // The same from a file, with bytes that are not text.
    let path = std::env::temp_dir().join(format!("tressi-post-{}", std::process::id()));
    let data: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let before = srv.n(|c| &c.body_bytes);
    let v = run(&[
        &srv.url("/"),
        "-m",
        "POST",
        "--body-file",
        path.to_str().unwrap(),
        "-c",
        "2",
        "-n",
        "100",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(status(&v, "200"), 100, "{v}");
    assert_eq!(srv.n(|c| &c.body_bytes) - before, 100 * 4096);
}

// Extra: interim responses and a stream that never pauses ---------------------------

#[test]
fn interim_100_continue_is_not_counted_as_a_response() {
    let srv = fixed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let v = run(&[&srv.url("/"), "-c", "2", "-n", "500", "-p", "4"]);
    assert_eq!(
        status(&v, "200"),
        500,
        "only the final response counts: {v}"
    );
    assert_eq!(completed(&v), 500, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    reconciles_exactly(&v, &srv);
}

/// 100 connections on one worker, each fed an endless chunk, `--timeout 250ms`, `-d 1s`:
/// the run must stop on time and every connection must time out three times (rounds end
/// at ~0.25, ~0.5, ~0.75 s plus reconnects, leaving slack before the stop).
/// (Reading every ready socket until `WouldBlock` made both late: 1.21 s for `-d 1s` and
/// 200 timeouts instead of ~300; each event now reads at most `conn::MAX_READS` buffers
/// and yields.) The server is one thread writing round-robin to every connection as fast
/// as they take it: a thread per connection writing flat out would take the CPU from the
/// client's one thread (100 runnable threads against 1) and make its timers late for
/// reasons of the test, not of the client.
#[test]
fn fast_streams_do_not_delay_the_stop_or_the_timeouts() {
    struct Streamer {
        addr: std::net::SocketAddr,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }
    impl Drop for Streamer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let srv = Streamer {
        addr: listener.local_addr().unwrap(),
        stop: Default::default(),
    };
    let stop = srv.stop.clone();
    thread::spawn(move || {
        use std::io::{Read, Write};
        static FILL: [u8; 65536] = [0; 65536];
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFF\r\n";
        // (socket, bytes of the head still to write; 0 = streaming)
        let mut conns: Vec<(std::net::TcpStream, usize)> = Vec::new();
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            while let Ok((s, _)) = listener.accept() {
                s.set_nonblocking(true).unwrap();
                conns.push((s, head.len()));
            }
            let mut wrote = false;
            conns.retain_mut(|(s, left)| {
                // Requests are read and ignored; the answer streams regardless.
                match s.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return false,
                }
                let out: &[u8] = if *left > 0 {
                    &head[head.len() - *left..]
                } else {
                    &FILL
                };
                match s.write(out) {
                    Ok(n) => {
                        wrote = true;
                        *left = left.saturating_sub(n);
                        true
                    }
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                }
            });
            if !wrote {
                thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let url = format!("http://{}/", srv.addr);
    let t = Instant::now();
    let v = run(&[
        &url,
        "-c",
        "100",
        "-t",
        "1",
        "-d",
        "1s",
        "--timeout",
        "250ms",
    ]);
    let wall = t.elapsed();
    let took = v["duration_s"].as_f64().unwrap();
    assert!(took < 1.05, "-d 1s ran {took} s: {v}");
    assert!(wall < Duration::from_millis(1300), "wall {wall:?}");
    let timeouts = count(&v, &["errors", "timeout"]);
    assert!(timeouts >= 280, "{timeouts} timeouts, want ~300: {v}");
    // The streams really were fast: hundreds of MB in the second.
    assert!(count(&v, &["bytes", "read"]) > 100_000_000, "{v}");
}
