//! The floor of an epoll load generator: the least a client can do per response with
//! mio and plain sockets, to measure tressi's CPU per response against.
//!
//! It keeps `-p` requests in flight on each of `-c` connections, and does nothing else:
//! one prebuilt request repeated, no parsing (every response must have the byte size of
//! the first one, which it learns from one request before the run), no clock per
//! response, no histogram. Per readable event: one `read` into one scratch buffer, then
//! one `write` of as many requests as responses were completed. That is tressi's own
//! syscall pattern, so the difference between the two is what tressi's parsing, timing
//! and bookkeeping cost, and the floor's own figure is what the kernel's socket path
//! costs with epoll.
//!
//! With `--uring` it does the same over io_uring instead of epoll: one `recv` kept
//! armed per connection, a `send` queued per completed batch (all of it or an error:
//! `MSG_WAITALL`; no completion on success where the kernel can skip it), one
//! `io_uring_enter` per turn (single issuer, deferred task work). A simple design, not
//! the last word: no multishot receive, no registered buffers or files.
//!
//! Counting by size is checked, not assumed: the first 12 bytes of every response must
//! be `HTTP/1.1 200`, however the reads split them; a connection never completes more
//! responses than it has requests outstanding; and at the stop the floor sends no more
//! and drains every connection (up to 2 s), requiring each to end exactly on a response
//! boundary with nothing outstanding. A count that does not add up is an error (exit
//! 2), never a figure.
//!
//! It owns nothing of tressi and is not part of the product: it exists for
//! `scripts/floor.sh` and BENCHMARKS.md. Point it only at a loopback server whose
//! responses to `GET /` all have one size (the built-in target; nginx with the shared
//! bench's `nginx.conf`, whose `/` is a fixed `return 200`).
//!
//!     cargo run --release --example floor -- 127.0.0.1:18080 -c 50 -p 1 -d 5 [--uring]
//!
//! Prints `responses N drained N seconds S cpu_user S cpu_sys S us_per_response X`
//! (`responses`: completed until the stop, what the CPU figure is divided by;
//! `drained`: completed after it, while checking).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

/// Every response starts with these bytes.
const STATUS: &[u8] = b"HTTP/1.1 200";
/// How long the drain at the stop may take.
const DRAIN: Duration = Duration::from_secs(2);
const MAX_CONNS: u64 = 10_000;
const MAX_DEPTH: u64 = 1024;
const MAX_SECS: u64 = 3600;

struct Args {
    addr: SocketAddr,
    conns: usize,
    depth: usize,
    secs: u64,
    uring: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = None;
    let (mut conns, mut depth, mut secs, mut uring) = (50u64, 1u64, 5u64, false);
    while let Some(a) = args.next() {
        let mut num = |name: &str, max: u64| -> Result<u64, String> {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!("{name} needs a number from 1 to {max}")),
            }
        };
        match a.as_str() {
            "-c" => conns = num("-c", MAX_CONNS)?,
            "-p" => depth = num("-p", MAX_DEPTH)?,
            "-d" => secs = num("-d", MAX_SECS)?,
            "--uring" => uring = true,
            _ if addr.is_none() => {
                let parsed: SocketAddr = a
                    .parse()
                    .map_err(|_| format!("bad address {a} (want IP:PORT)"))?;
                if !parsed.ip().is_loopback() {
                    return Err("the floor client only targets loopback".into());
                }
                addr = Some(parsed);
            }
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    Ok(Args {
        addr: addr.ok_or("usage: floor IP:PORT [-c N] [-p N] [-d SECS] [--uring]")?,
        conns: conns as usize,
        depth: depth as usize,
        secs,
        uring,
    })
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!("{what}: timed out"),
        _ => format!("{what}: {e}"),
    }
}

/// One request on a blocking socket: the byte size of the whole response.
fn response_size(addr: SocketAddr, request: &[u8]) -> Result<usize, String> {
    let mut s = TcpStream::connect(addr).map_err(io_err("connect"))?;
    s.set_read_timeout(Some(DRAIN)).map_err(io_err("socket"))?;
    s.set_write_timeout(Some(DRAIN)).map_err(io_err("socket"))?;
    s.write_all(request).map_err(io_err("write"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s
            .read(&mut chunk)
            .map_err(io_err("waiting for the first response"))?;
        if n == 0 {
            return Err("the server closed before a whole response".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() > 64 * 1024 {
                return Err("no end of the response head in 64 KiB".into());
            }
            continue;
        };
        if !buf.starts_with(STATUS) {
            let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
            return Err(format!(
                "expected a 200, got {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let head = String::from_utf8_lossy(&buf[..end]);
        let len = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .ok_or("the response has no Content-Length")?;
        return Ok(end + 4 + len);
    }
}

/// One connection's accounting: responses are counted by size.
#[derive(Clone, Copy)]
struct Count {
    /// Bytes of the response being received that have arrived so far.
    partial: usize,
    /// Requests sent and not answered yet.
    outstanding: usize,
}

impl Count {
    /// Takes the fresh bytes `buf`: returns the responses they complete.
    fn feed(&mut self, buf: &[u8], size: usize) -> Result<usize, String> {
        // Every response overlapping `buf` (the first may have started in an earlier
        // read): its bytes at offsets 0..12 must be the status line's.
        let mut start = -(self.partial as isize);
        while start < buf.len() as isize {
            let lo = start.max(0) as usize;
            let hi = ((start + STATUS.len() as isize).max(0) as usize).min(buf.len());
            if lo < hi {
                let off = (lo as isize - start) as usize;
                if buf[lo..hi] != STATUS[off..off + (hi - lo)] {
                    return Err("a response does not start where the first one's size \
                                says: responses differ in size or status"
                        .into());
                }
            }
            start += size as isize;
        }
        let total = self.partial + buf.len();
        let done = total / size;
        if done > self.outstanding {
            return Err(
                "more responses than requests: responses differ in size, or the \
                        server answers what was not asked"
                    .into(),
            );
        }
        self.partial = total % size;
        self.outstanding -= done;
        Ok(done)
    }

    fn settled(&self) -> bool {
        self.partial == 0 && self.outstanding == 0
    }
}

fn cpu_seconds() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (s(ru.ru_utime), s(ru.ru_stime))
}

/// What both loops need: the request repeated up to the depth, its length, the size
/// of every response, and the connections, blocking, each with `depth` requests sent.
struct Setup {
    run_of: Vec<u8>,
    req: usize,
    size: usize,
    socks: Vec<TcpStream>,
    depth: usize,
}

impl Setup {
    /// Each connection's accounting at the start: `depth` requests outstanding.
    fn counts(&self) -> Vec<Count> {
        let fresh = Count {
            partial: 0,
            outstanding: self.depth,
        };
        vec![fresh; self.socks.len()]
    }
}

fn setup(a: &Args) -> Result<Setup, String> {
    let one = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUser-Agent: tressi/{}\r\n\r\n",
        a.addr,
        env!("CARGO_PKG_VERSION")
    );
    let size = response_size(a.addr, one.as_bytes())?;
    let run_of = one.repeat(a.depth).into_bytes();
    let mut socks = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        let mut s = TcpStream::connect(a.addr).map_err(io_err("connect"))?;
        s.set_nodelay(true).map_err(io_err("socket"))?;
        s.set_write_timeout(Some(DRAIN)).map_err(io_err("socket"))?;
        s.write_all(&run_of)
            .map_err(io_err("writing the first requests"))?;
        socks.push(s);
    }
    Ok(Setup {
        req: one.len(),
        run_of,
        size,
        socks,
        depth: a.depth,
    })
}

/// Until the stop, then while draining.
enum Phase {
    Run { stop: Instant },
    Drain { until: Instant, counted: u64 },
}

impl Phase {
    /// Moves to the drain at the stop; `Some((counted, drained))` once every
    /// connection has settled; an error when the drain outlasts `DRAIN`.
    fn step(
        &mut self,
        now: Instant,
        total: u64,
        counts: &[Count],
    ) -> Result<Option<(u64, u64)>, String> {
        if let Phase::Run { stop } = *self {
            if now < stop {
                return Ok(None);
            }
            *self = Phase::Drain {
                until: now + DRAIN,
                counted: total,
            };
        }
        let Phase::Drain { until, counted } = *self else {
            return Ok(None);
        };
        if counts.iter().all(Count::settled) {
            if counted == 0 {
                return Err("no response completed: the server is too slow or the \
                            responses are shorter than the first"
                    .into());
            }
            return Ok(Some((counted, total - counted)));
        }
        if now >= until {
            let open = counts.iter().filter(|c| !c.settled()).count();
            return Err(format!(
                "{open} connections still waited for responses {DRAIN:?} after the stop: \
                 responses shorter than the first, or a stalled server"
            ));
        }
        Ok(None)
    }

    fn sending(&self) -> bool {
        matches!(self, Phase::Run { .. })
    }
}

/// The epoll loop (tressi's pattern). Returns (responses until the stop, drained).
fn run_epoll(su: Setup, stop: Instant) -> Result<(u64, u64), String> {
    let mut counts = su.counts();
    let (run_of, req, size) = (su.run_of, su.req, su.size);
    let mut poll = Poll::new().map_err(io_err("epoll"))?;
    let mut socks: Vec<mio::net::TcpStream> = su
        .socks
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.set_nonblocking(true).map_err(io_err("socket"))?;
            let mut sock = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut sock, Token(i), Interest::READABLE)
                .map_err(io_err("epoll"))?;
            Ok(sock)
        })
        .collect::<Result<_, String>>()?;
    let mut scratch = vec![0u8; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    let mut responses: u64 = 0;
    let mut phase = Phase::Run { stop };
    loop {
        if let Some(done) = phase.step(Instant::now(), responses, &counts)? {
            return Ok(done);
        }
        match poll.poll(&mut events, Some(Duration::from_millis(100))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for ev in events.iter() {
            let i = ev.token().0;
            let (sock, count) = (&mut socks[i], &mut counts[i]);
            loop {
                let n = match sock.read(&mut scratch) {
                    Ok(0) => return Err("the server closed a connection".into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("read: {e}")),
                };
                let done = count.feed(&scratch[..n], size)?;
                responses += done as u64;
                if done > 0 && phase.sending() {
                    let bytes = &run_of[..done * req];
                    match sock.write(bytes) {
                        Ok(w) if w == bytes.len() => count.outstanding += done,
                        Ok(_) => return Err("short write: the floor does not buffer".into()),
                        Err(e) => return Err(format!("write: {e}")),
                    }
                }
                // A short read drained the socket: no second read to see WouldBlock.
                if n < scratch.len() {
                    break;
                }
            }
        }
    }
}

/// The io_uring loop. User data: the connection's index in the low 32 bits; for a send,
/// `SEND` and the bytes it must send above it.
fn run_uring(su: Setup, stop: Instant) -> Result<(u64, u64), String> {
    use io_uring::{opcode, squeue, types, IoUring, SubmissionQueue, Submitter};
    use std::os::fd::AsRawFd;
    const SEND: u64 = 1 << 32;
    const BUF: usize = 16 * 1024;
    let mut counts = su.counts();
    let Setup {
        run_of,
        req,
        size,
        socks,
        ..
    } = su;
    // Declared before the ring, so dropped after it: armed receives write into them.
    let mut bufs = vec![0u8; BUF * socks.len()];
    // At most one receive and one send per connection in flight.
    let entries = (2 * socks.len() + 8).next_power_of_two().max(64) as u32;
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(entries)
        .map_err(io_err("io_uring"))?;
    let skip = ring.params().is_feature_skip_cqe_on_success();
    if !ring.params().is_feature_ext_arg() {
        return Err("io_uring: the kernel has no timed waits (IORING_FEAT_EXT_ARG)".into());
    }
    let recv = |i: usize, bufs: &mut [u8]| {
        let fd = types::Fd(socks[i].as_raw_fd());
        opcode::Recv::new(fd, bufs[i * BUF..].as_mut_ptr(), BUF as u32)
            .build()
            .user_data(i as u64)
    };
    fn push(
        sq: &mut SubmissionQueue<'_>,
        sub: &Submitter<'_>,
        e: &squeue::Entry,
    ) -> Result<(), String> {
        for _ in 0..2 {
            // SAFETY: the buffers an entry points at (`bufs`, `run_of`) outlive the ring.
            if unsafe { sq.push(e) }.is_ok() {
                return Ok(());
            }
            sq.sync();
            sub.submit().map_err(io_err("io_uring_enter"))?;
            sq.sync();
        }
        Err("io_uring: the submission queue stays full".into())
    }
    let (submitter, mut sq, mut cq) = ring.split();
    for i in 0..socks.len() {
        push(&mut sq, &submitter, &recv(i, &mut bufs))?;
    }
    sq.sync();
    let wait = types::Timespec::new().nsec(100_000_000);
    let args = types::SubmitArgs::new().timespec(&wait);
    let mut responses: u64 = 0;
    let mut phase = Phase::Run { stop };
    loop {
        if let Some(done) = phase.step(Instant::now(), responses, &counts)? {
            return Ok(done);
        }
        match submitter.submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
            Err(e) => return Err(format!("io_uring_enter: {e}")),
        }
        sq.sync();
        cq.sync();
        for cqe in &mut cq {
            let (ud, res) = (cqe.user_data(), cqe.result());
            let i = (ud & u64::from(u32::MAX)) as usize;
            if ud & SEND != 0 {
                // Failures only, or every send where success cannot be skipped.
                if res < 0 {
                    let e = std::io::Error::from_raw_os_error(-res);
                    return Err(format!("send: {e}"));
                }
                if res as u64 != ud >> 33 {
                    return Err(format!("send: {res} of {} bytes sent", ud >> 33));
                }
                continue;
            }
            if res == 0 {
                return Err("the server closed a connection".into());
            }
            if res < 0 {
                return Err(format!("recv: {}", std::io::Error::from_raw_os_error(-res)));
            }
            let count = &mut counts[i];
            let done = count.feed(&bufs[i * BUF..i * BUF + res as usize], size)?;
            responses += done as u64;
            if done > 0 && phase.sending() {
                let fd = types::Fd(socks[i].as_raw_fd());
                let len = done * req;
                let mut send = opcode::Send::new(fd, run_of.as_ptr(), len as u32)
                    .flags(libc::MSG_WAITALL)
                    .build()
                    .user_data((len as u64) << 33 | SEND | i as u64);
                if skip {
                    send = send.flags(squeue::Flags::SKIP_SUCCESS);
                }
                push(&mut sq, &submitter, &send)?;
                count.outstanding += done;
            }
            if !count.settled() {
                push(&mut sq, &submitter, &recv(i, &mut bufs))?;
            }
        }
        sq.sync();
    }
}

fn run(a: &Args) -> Result<(), String> {
    let su = setup(a)?;
    let (u0, s0) = cpu_seconds();
    let start = Instant::now();
    let stop = start + Duration::from_secs(a.secs);
    let (responses, drained) = if a.uring {
        run_uring(su, stop)?
    } else {
        run_epoll(su, stop)?
    };
    // The CPU figure includes the drain: a few responses per connection, next to
    // millions; the count it is divided by does not.
    let secs = start.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let (user, sys) = (u1 - u0, s1 - s0);
    println!(
        "responses {responses} drained {drained} seconds {secs:.3} cpu_user {user:.3} \
         cpu_sys {sys:.3} us_per_response {:.3}",
        (user + sys) * 1e6 / responses as f64
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_status(status: u16, body: &str) -> Vec<u8> {
        let len = body.len();
        format!("HTTP/1.1 {status} OK\r\nContent-Length: {len}\r\n\r\n{body}").into_bytes()
    }

    fn resp(body: &str) -> Vec<u8> {
        with_status(200, body)
    }

    #[test]
    fn counts_by_size_however_the_bytes_are_split() {
        let one = resp("hello");
        let size = one.len();
        let stream: Vec<u8> = one.repeat(3);
        for cut in 0..=stream.len() {
            for cut2 in cut..=stream.len() {
                let mut c = Count {
                    partial: 0,
                    outstanding: 3,
                };
                let mut done = 0;
                for part in [&stream[..cut], &stream[cut..cut2], &stream[cut2..]] {
                    done += c.feed(part, size).expect("same size");
                }
                assert_eq!(done, 3, "cuts {cut} {cut2}");
                assert!(c.settled());
            }
        }
    }

    #[test]
    fn a_shorter_longer_or_different_response_is_an_error_at_any_split() {
        let size = resp("hello").len();
        let cases: [(&str, Vec<u8>); 3] = [
            ("shorter", [resp("hell"), resp("hello")].concat()),
            ("longer", [resp("hello!"), resp("hello")].concat()),
            (
                "status",
                [resp("hello"), with_status(404, "hello")].concat(),
            ),
        ];
        for (name, stream) in cases {
            for cut in 0..=stream.len() {
                let mut c = Count {
                    partial: 0,
                    outstanding: 2,
                };
                let r = c
                    .feed(&stream[..cut], size)
                    .and_then(|_| c.feed(&stream[cut..], size));
                assert!(r.is_err(), "{name}, cut at {cut}");
            }
        }
    }

    #[test]
    fn more_responses_than_requests_is_an_error() {
        let one = resp("hello");
        let mut c = Count {
            partial: 0,
            outstanding: 1,
        };
        assert!(c.feed(&one.repeat(2), one.len()).is_err());
    }
}
