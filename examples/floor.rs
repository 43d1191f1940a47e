//! The floor of an epoll load generator: the least a client can do per response with
//! mio and plain sockets, to measure tressi's CPU per response against.
//!
//! It keeps `-p` requests in flight on each of `-c` connections, and does nothing else:
//! one prebuilt request repeated, no parsing (every response must have the byte size of
//! the first one, which it learns from one request before the run), no clock per
//! response, no histogram, no counters but one. Per readable event: one `read` into one
//! scratch buffer, then one `write` of as many requests as responses were completed.
//! That is tressi's own syscall pattern, so the difference between the two is what
//! tressi's parsing, timing and bookkeeping cost, and the floor's own figure is what
//! the kernel's socket path costs with epoll.
//!
//! With `--uring` it does the same over io_uring instead of epoll: one `recv` kept
//! armed per connection, a `send` queued per completed batch, one `io_uring_enter` per
//! turn (single issuer, deferred task work). That answers whether another I/O model
//! would lower the floor.
//!
//! It owns nothing of tressi and is not part of the product: it exists for
//! `scripts/floor.sh` and BENCHMARKS.md. It must only be pointed at a loopback server
//! whose responses all have one size (nginx's static file, the built-in target).
//!
//!     cargo run --release --example floor -- 127.0.0.1:18080 -c 50 -p 1 -d 5 [--uring]
//!
//! Prints `responses N seconds S cpu_user S cpu_sys S us_per_response X`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

struct Conn {
    sock: mio::net::TcpStream,
    /// Bytes of the response being received that have arrived so far.
    partial: usize,
}

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
    let (mut conns, mut depth, mut secs, mut uring) = (50usize, 1usize, 5u64, false);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "-c" => conns = num("-c")? as usize,
            "-p" => depth = num("-p")? as usize,
            "-d" => secs = num("-d")?,
            "--uring" => uring = true,
            _ if addr.is_none() => {
                let parsed: SocketAddr = a.parse().map_err(|_| format!("bad address {a}"))?;
                if !parsed.ip().is_loopback() {
                    return Err("the floor client only targets loopback".into());
                }
                addr = Some(parsed);
            }
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    let addr = addr.ok_or("usage: floor HOST:PORT [-c N] [-p N] [-d SECS] [--uring]")?;
    if conns == 0 || depth == 0 || secs == 0 {
        return Err("-c, -p and -d must be at least 1".into());
    }
    Ok(Args {
        addr,
        conns,
        depth,
        secs,
        uring,
    })
}

/// One request on a blocking socket: the byte size of the whole response.
fn response_size(addr: SocketAddr, request: &[u8]) -> Result<usize, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(request).map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed before a whole response".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| "head is not UTF-8")?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("expected a 200, got {:?}", head.lines().next()));
        }
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

/// Responses completed by the fresh bytes `buf` on a connection that had `partial`
/// bytes of its current response; updates `partial`. Each response that starts inside
/// the bytes must start with a status line, or the sizes differ and counting is void.
fn complete(partial: &mut usize, buf: &[u8], size: usize) -> Result<usize, String> {
    let mut at = (size - *partial) % size;
    while at < buf.len() {
        let rest = &buf[at..];
        if rest.len() >= 12 && !rest.starts_with(b"HTTP/1.1 200") {
            return Err("responses differ in size: the floor cannot count them".into());
        }
        at += size;
    }
    let total = *partial + buf.len();
    *partial = total % size;
    Ok(total / size)
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
        let mut s = TcpStream::connect(a.addr).map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        // The whole depth fits in the socket buffer of a fresh connection.
        s.write_all(&run_of).map_err(|e| format!("write: {e}"))?;
        socks.push(s);
    }
    Ok(Setup {
        req: one.len(),
        run_of,
        size,
        socks,
    })
}

/// The epoll loop (tressi's pattern). Returns the responses counted until `stop`.
fn run_epoll(su: Setup, stop: Instant) -> Result<u64, String> {
    let Setup {
        run_of,
        req,
        size,
        socks,
    } = su;
    let poll = Poll::new().map_err(|e| e.to_string())?;
    let mut conns = Vec::with_capacity(socks.len());
    for (i, s) in socks.into_iter().enumerate() {
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut sock = mio::net::TcpStream::from_std(s);
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE)
            .map_err(|e| e.to_string())?;
        conns.push(Conn { sock, partial: 0 });
    }
    let mut poll = poll;
    let mut scratch = vec![0u8; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    let mut responses: u64 = 0;
    while Instant::now() < stop {
        match poll.poll(&mut events, Some(Duration::from_millis(100))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            loop {
                let n = match c.sock.read(&mut scratch) {
                    Ok(0) => return Err("the server closed a connection".into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("read: {e}")),
                };
                let done = complete(&mut c.partial, &scratch[..n], size)?;
                if done > 0 {
                    responses += done as u64;
                    let bytes = &run_of[..done * req];
                    match c.sock.write(bytes) {
                        Ok(w) if w == bytes.len() => {}
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
    Ok(responses)
}

/// The io_uring loop. User data: the connection's index, with `SEND` set for a send.
fn run_uring(su: Setup, stop: Instant) -> Result<u64, String> {
    use io_uring::{opcode, types, IoUring};
    use std::os::fd::AsRawFd;
    const SEND: u64 = 1 << 32;
    const BUF: usize = 16 * 1024;
    let Setup {
        run_of,
        req,
        size,
        socks,
    } = su;
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(4096)
        .map_err(|e| format!("io_uring: {e}"))?;
    let mut bufs = vec![0u8; BUF * socks.len()];
    let mut partial = vec![0usize; socks.len()];
    let recv = |i: usize, bufs: &mut [u8]| {
        let fd = types::Fd(socks[i].as_raw_fd());
        opcode::Recv::new(fd, bufs[i * BUF..].as_mut_ptr(), BUF as u32)
            .build()
            .user_data(i as u64)
    };
    let (submitter, mut sq, mut cq) = ring.split();
    for i in 0..socks.len() {
        // SAFETY: the buffer lives until the ring is dropped (end of this function).
        unsafe { sq.push(&recv(i, &mut bufs)) }.map_err(|_| "submission queue full")?;
    }
    sq.sync();
    let mut responses: u64 = 0;
    while Instant::now() < stop {
        submitter
            .submit_and_wait(1)
            .map_err(|e| format!("io_uring_enter: {e}"))?;
        cq.sync();
        for cqe in &mut cq {
            let (ud, res) = (cqe.user_data(), cqe.result());
            if res <= 0 {
                return Err(format!(
                    "{} returned {res}",
                    if ud & SEND != 0 { "send" } else { "recv" }
                ));
            }
            if ud & SEND != 0 {
                continue;
            }
            let i = ud as usize;
            let fresh = &bufs[i * BUF..i * BUF + res as usize];
            let done = complete(&mut partial[i], fresh, size)?;
            if done > 0 {
                responses += done as u64;
                let fd = types::Fd(socks[i].as_raw_fd());
                let send = opcode::Send::new(fd, run_of.as_ptr(), (done * req) as u32)
                    .build()
                    .user_data(SEND | i as u64);
                // SAFETY: `run_of` outlives the ring.
                unsafe { sq.push(&send) }.map_err(|_| "submission queue full")?;
            }
            // SAFETY: as above.
            unsafe { sq.push(&recv(i, &mut bufs)) }.map_err(|_| "submission queue full")?;
        }
        sq.sync();
    }
    Ok(responses)
}

fn run(a: &Args) -> Result<(), String> {
    let su = setup(a)?;
    let (u0, s0) = cpu_seconds();
    let start = Instant::now();
    let stop = start + Duration::from_secs(a.secs);
    let responses = if a.uring {
        run_uring(su, stop)?
    } else {
        run_epoll(su, stop)?
    };
    let secs = start.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let (user, sys) = (u1 - u0, s1 - s0);
    println!(
        "responses {responses} seconds {secs:.3} cpu_user {user:.3} cpu_sys {sys:.3} us_per_response {:.3}",
        (user + sys) * 1e6 / responses.max(1) as f64
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
