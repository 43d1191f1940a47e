//! The built-in HTTP/1.1 target (`tressi target`, used by `tressi demo` and end-to-end
//! tests): keep-alive, pipelining, one fixed small body, one mio loop per thread.
//!
//! Owns: binding the listening socket, its threads, per-connection request parsing
//! (httparse) and the prebuilt responses. Must not: allocate per request (responses
//! are prebuilt and copied into a per-connection output buffer that is reused), keep
//! unbounded per-connection memory (a leftover of at most `MAX_HEAD` bytes of an
//! unfinished head plus one read; output reading pauses above `OUT_HIGH`), or panic
//! on any input (bad bytes get `400` and a close).
//!
//! Choices:
//! - Request bodies framed by Content-Length are skipped, also across reads.
//!   `Transfer-Encoding` on a request (chunked bodies) is answered `501` and the
//!   connection closed: tressi never sends one, and decoding is not worth it here.
//! - `Connection: close` (or HTTP/1.0 without `Connection: keep-alive`) → the response
//!   carries `Connection: close`, then the connection closes once it is written.
//!   HTTP/1.0 keep-alive responses carry `Connection: keep-alive`.
//! - `served` counts responses whose bytes were fully written: a connection's queued
//!   responses are counted when its output buffer drains completely. Each thread keeps
//!   a plain counter and publishes it to its atomic once per poll turn.
//! - Sockets are registered once for READABLE | WRITABLE (edge-triggered, no
//!   re-registration syscalls); each thread accepts on its own dup of one listener.

use crate::error::Error;
use crate::plan::TargetOptions;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The listener's token (connections use their slab key).
const LISTENER: Token = Token(usize::MAX - 1);
/// The waker's token (stop requests).
const WAKER: Token = Token(usize::MAX);
/// Per-thread read buffer.
const SCRATCH: usize = 64 * 1024;
/// Largest unfinished request head kept between reads; beyond it: 400 and close.
const MAX_HEAD: usize = 64 * 1024;
/// Stop reading / parsing while this much output is waiting for the socket.
const OUT_HIGH: usize = 256 * 1024;
/// An idle connection's output buffer is shrunk back to this when it grew larger.
const OUT_KEEP: usize = 16 * 1024;
/// Headers parsed per request.
const MAX_HEADERS: usize = 64;

/// Configuration of the built-in target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig {
    pub listen: SocketAddr,
    pub threads: usize,
    /// Body size: 13 gives "hello, world\n", any other size that many b'x'.
    pub body_size: usize,
    /// Count requests per path (see `TargetServer::stop_counting`); off by default.
    pub count_paths: bool,
}

impl From<&TargetOptions> for TargetConfig {
    fn from(o: &TargetOptions) -> Self {
        TargetConfig {
            listen: o.listen,
            threads: o.threads,
            body_size: o.body_size,
            count_paths: false,
        }
    }
}

/// A running target: its threads, its address and its served counters.
pub struct TargetServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<WorkerHandle>,
    path_counts: Arc<Mutex<PathCounts>>,
}

struct WorkerHandle {
    waker: Arc<Waker>,
    served: Arc<AtomicU64>,
    join: Option<JoinHandle<()>>,
}

impl TargetServer {
    /// Binds `cfg.listen`, spawns `cfg.threads` (at least 1) threads and returns once
    /// the socket is listening and registered with every thread's poll.
    pub fn start(cfg: &TargetConfig) -> Result<TargetServer, Error> {
        let setup =
            |what: &str, e: io::Error| Error::Setup(format!("target: {what} {}: {e}", cfg.listen));
        let listener =
            std::net::TcpListener::bind(cfg.listen).map_err(|e| setup("cannot listen on", e))?;
        raise_backlog(&listener);
        listener
            .set_nonblocking(true)
            .map_err(|e| setup("cannot set non-blocking on", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| setup("cannot read the address of", e))?;
        let responses = Arc::new(Responses::new(cfg.body_size));
        let mut server = TargetServer {
            addr,
            stop: Arc::new(AtomicBool::new(false)),
            workers: Vec::new(),
            path_counts: Arc::default(),
        };
        for n in 0..cfg.threads.max(1) {
            // On error, `server` is dropped here, which stops the threads started so far.
            let std_clone = listener
                .try_clone()
                .map_err(|e| setup("cannot clone the listener of", e))?;
            let mut lst = TcpListener::from_std(std_clone);
            let poll = Poll::new().map_err(|e| setup("cannot create a poll for", e))?;
            poll.registry()
                .register(&mut lst, LISTENER, Interest::READABLE)
                .map_err(|e| setup("cannot register", e))?;
            let waker = Arc::new(
                Waker::new(poll.registry(), WAKER)
                    .map_err(|e| setup("cannot create a waker for", e))?,
            );
            let served = Arc::new(AtomicU64::new(0));
            let mut worker = Worker {
                poll,
                listener: lst,
                conns: Slab::new(),
                scratch: vec![0; SCRATCH],
                responses: Arc::clone(&responses),
                stop: Arc::clone(&server.stop),
                served_local: 0,
                served: Arc::clone(&served),
                paths: cfg.count_paths.then(PathCounts::new),
                path_counts: Arc::clone(&server.path_counts),
            };
            let join = std::thread::Builder::new()
                .name(format!("tressi-target-{n}"))
                .spawn(move || worker.run())
                .map_err(|e| setup("cannot spawn a thread for", e))?;
            server.workers.push(WorkerHandle {
                waker,
                served,
                join: Some(join),
            });
        }
        Ok(server)
    }

    /// The bound address (port 0 resolved).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Responses fully written so far, over all threads (published once per poll turn).
    pub fn served(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.served.load(Ordering::Relaxed))
            .sum()
    }

    /// Stops and joins every thread; returns the final served count.
    pub fn stop(mut self) -> u64 {
        self.shutdown();
        self.served()
    }

    /// Like `stop`, and also returns the requests received per path (empty unless the
    /// server was started with `count_paths`).
    pub fn stop_counting(mut self) -> (u64, BTreeMap<String, u64>) {
        self.shutdown();
        let counts = match self.path_counts.lock() {
            Ok(m) => m
                .iter()
                .map(|(p, n)| (String::from_utf8_lossy(p).into_owned(), *n))
                .collect(),
            Err(_) => BTreeMap::new(),
        };
        (self.served(), counts)
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for w in &self.workers {
            // If waking fails the thread still sees the flag at its poll timeout.
            let _ = w.waker.wake();
        }
        for w in &mut self.workers {
            if let Some(j) = w.join.take() {
                let _ = j.join();
            }
        }
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `tressi target`: serve until SIGINT/SIGTERM. Prints `listening on ADDR` first and
/// `served N responses` (`response` for 1) last, both on stdout.
pub fn run_cli(opts: &TargetOptions) -> Result<(), Error> {
    crate::signal::install();
    let server = TargetServer::start(&TargetConfig::from(opts))?;
    {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.addr());
        let _ = out.flush();
    }
    while !crate::signal::stop_requested() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let served = server.stop();
    let mut out = io::stdout().lock();
    let noun = if served == 1 { "response" } else { "responses" };
    let _ = writeln!(out, "served {served} {noun}");
    let _ = out.flush();
    Ok(())
}

/// Raises the listen backlog above std's default (the kernel caps it at somaxconn);
/// best effort: a benchmark opens many connections at once.
fn raise_backlog(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    // SAFETY: listen(2) on a valid, already listening socket fd only updates its
    // backlog; the result is ignored (the default backlog stays on failure).
    unsafe {
        libc::listen(listener.as_raw_fd(), 4096);
    }
}

// ---------------------------------------------------------------------------------
// Prebuilt responses

/// Which `Connection` header a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnHeader {
    /// None: HTTP/1.1 keep-alive.
    Default,
    /// `Connection: keep-alive` (HTTP/1.0 asking for it).
    KeepAlive,
    /// `Connection: close`.
    Close,
}

impl ConnHeader {
    fn index(self) -> usize {
        match self {
            ConnHeader::Default => 0,
            ConnHeader::KeepAlive => 1,
            ConnHeader::Close => 2,
        }
    }
}

/// Every response the target sends, built once.
struct Responses {
    /// 200 with body, by `ConnHeader::index`.
    full: [Vec<u8>; 3],
    /// 200 head only (HEAD), by `ConnHeader::index`.
    head: [Vec<u8>; 3],
    bad_request: Vec<u8>,
    not_implemented: Vec<u8>,
}

impl Responses {
    fn new(body_size: usize) -> Self {
        let body: Vec<u8> = if body_size == 13 {
            b"hello, world\n".to_vec()
        } else {
            vec![b'x'; body_size]
        };
        let conn = ["", "Connection: keep-alive\r\n", "Connection: close\r\n"];
        let head_of = |c: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n{c}\r\n",
                body.len()
            )
            .into_bytes()
        };
        let full_of = |c: &str| {
            let mut v = head_of(c);
            v.extend_from_slice(&body);
            v
        };
        let error = |status: &str| {
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_bytes()
        };
        Responses {
            full: [full_of(conn[0]), full_of(conn[1]), full_of(conn[2])],
            head: [head_of(conn[0]), head_of(conn[1]), head_of(conn[2])],
            bad_request: error("400 Bad Request"),
            not_implemented: error("501 Not Implemented"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Request parsing (pure: bytes in, responses appended to `out`)

/// Where the parser is in the request stream of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReqState {
    /// Expecting (the rest of) a request head.
    Head,
    /// Skipping this many request body bytes; `close` after it when the request
    /// asked for it.
    Body { left: u64, close: bool },
}

/// Why `process` stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// All bytes consumed, or the rest is an unfinished head (kept by the caller).
    NeedMore,
    /// Output is above `OUT_HIGH`: the rest is unprocessed and kept for later.
    Backpressure,
    /// A response asking to close was queued: ignore further input, flush, close.
    Close,
}

/// Output side of `process`: the buffer and the number of responses queued in it.
struct Out<'a> {
    buf: &'a mut Vec<u8>,
    pending_from: usize,
    queued: &'a mut u64,
    /// Requests per path, when the server counts them (tests of per-endpoint rates).
    paths: Option<&'a mut PathCounts>,
}

/// Requests received per request-target (path and query), per thread.
pub type PathCounts = HashMap<Vec<u8>, u64>;

impl Out<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        *self.queued += 1;
    }
    fn pending(&self) -> usize {
        self.buf.len() - self.pending_from
    }
}

/// Parses as many requests from `data` as possible, appending one response each.
/// Returns the bytes consumed and why it stopped.
fn process(state: &mut ReqState, data: &[u8], out: &mut Out<'_>, r: &Responses) -> (usize, Stop) {
    let mut pos = 0;
    loop {
        match *state {
            ReqState::Body { left, close } => {
                let avail = (data.len() - pos) as u64;
                let take = left.min(avail);
                pos += take as usize;
                if take < left {
                    *state = ReqState::Body {
                        left: left - take,
                        close,
                    };
                    return (pos, Stop::NeedMore);
                }
                *state = ReqState::Head;
                if close {
                    return (pos, Stop::Close);
                }
            }
            ReqState::Head => {
                if pos == data.len() {
                    return (pos, Stop::NeedMore);
                }
                if out.pending() > OUT_HIGH {
                    return (pos, Stop::Backpressure);
                }
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&data[pos..]) {
                    Ok(httparse::Status::Partial) => {
                        if data.len() - pos > MAX_HEAD {
                            out.push(&r.bad_request);
                            return (data.len(), Stop::Close);
                        }
                        return (pos, Stop::NeedMore);
                    }
                    Ok(httparse::Status::Complete(n)) => {
                        pos += n;
                        if let (Some(counts), Some(path)) = (out.paths.as_deref_mut(), req.path) {
                            // Allocates only the first time a path is seen.
                            match counts.get_mut(path.as_bytes()) {
                                Some(c) => *c += 1,
                                None => {
                                    counts.insert(path.as_bytes().to_vec(), 1);
                                }
                            }
                        }
                        match analyze(&req) {
                            Verdict::Ok {
                                head_only,
                                conn,
                                body,
                            } => {
                                let i = conn.index();
                                out.push(if head_only { &r.head[i] } else { &r.full[i] });
                                let close = conn == ConnHeader::Close;
                                if body > 0 {
                                    *state = ReqState::Body { left: body, close };
                                } else if close {
                                    return (pos, Stop::Close);
                                }
                            }
                            Verdict::Bad => {
                                out.push(&r.bad_request);
                                return (data.len(), Stop::Close);
                            }
                            Verdict::Chunked => {
                                out.push(&r.not_implemented);
                                return (data.len(), Stop::Close);
                            }
                        }
                    }
                    Err(_) => {
                        out.push(&r.bad_request);
                        return (data.len(), Stop::Close);
                    }
                }
            }
        }
    }
}

/// What a parsed request head asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ok {
        head_only: bool,
        conn: ConnHeader,
        body: u64,
    },
    Bad,
    Chunked,
}

fn analyze(req: &httparse::Request<'_, '_>) -> Verdict {
    let http10 = req.version == Some(0);
    let head_only = req.method == Some("HEAD");
    let mut ask_close = false;
    let mut ask_keep = false;
    let mut body: Option<u64> = None;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let Some(n) = parse_len(h.value) else {
                return Verdict::Bad;
            };
            if body.is_some_and(|b| b != n) {
                return Verdict::Bad;
            }
            body = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Verdict::Chunked;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for tok in h.value.split(|&b| b == b',') {
                let tok = tok.trim_ascii();
                if tok.eq_ignore_ascii_case(b"close") {
                    ask_close = true;
                } else if tok.eq_ignore_ascii_case(b"keep-alive") {
                    ask_keep = true;
                }
            }
        }
    }
    let conn = if ask_close || (http10 && !ask_keep) {
        ConnHeader::Close
    } else if http10 {
        ConnHeader::KeepAlive
    } else {
        ConnHeader::Default
    };
    Verdict::Ok {
        head_only,
        conn,
        body: body.unwrap_or(0),
    }
}

/// A Content-Length value: ASCII digits only (surrounding blanks allowed), no overflow.
fn parse_len(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

// ---------------------------------------------------------------------------------
// Connections and the per-thread loop

/// Lifecycle of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    /// Reading requests, writing responses.
    Open,
    /// The peer shut down its side: answer what is buffered, flush, close.
    PeerDone,
    /// A response asked to close (or a 400): flush, then close; input ignored.
    Closing,
}

/// Whether `inbuf` holds complete-but-unprocessed requests (paused by backpressure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backlog {
    /// `inbuf` is empty or holds only an unfinished head.
    None,
    /// `inbuf` holds bytes not yet parsed.
    Pending,
}

/// What `drive` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drive {
    Keep,
    Close,
}

struct Conn {
    sock: TcpStream,
    /// Unparsed input: an unfinished head, or a backlog (bounded, see module docs).
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// Responses in `out` not yet counted as served.
    queued: u64,
    req: ReqState,
    life: Life,
    backlog: Backlog,
}

impl Conn {
    fn new(sock: TcpStream) -> Self {
        Conn {
            sock,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            queued: 0,
            req: ReqState::Head,
            life: Life::Open,
            backlog: Backlog::None,
        }
    }

    fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Writes as much of `out` as the socket takes. Err on a fatal write error.
    fn flush(&mut self, served: &mut u64) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.sock.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        *served += self.queued;
        self.queued = 0;
        self.out.clear();
        self.out_pos = 0;
        if self.out.capacity() > OUT_KEEP.max(SCRATCH) {
            self.out.shrink_to(OUT_KEEP);
        }
        Ok(())
    }

    /// Parses `inbuf` (or `fresh` bytes just read, when `inbuf` is empty) and keeps
    /// what is left over.
    fn feed(&mut self, fresh: Option<&[u8]>, r: &Responses, paths: Option<&mut PathCounts>) {
        let mut out = Out {
            pending_from: self.out_pos,
            buf: &mut self.out,
            queued: &mut self.queued,
            paths,
        };
        let stop = match fresh {
            Some(data) if self.inbuf.is_empty() => {
                let (used, stop) = process(&mut self.req, data, &mut out, r);
                if stop != Stop::Close {
                    self.inbuf.extend_from_slice(&data[used..]);
                }
                stop
            }
            _ => {
                if let Some(data) = fresh {
                    self.inbuf.extend_from_slice(data);
                }
                let (used, stop) = process(&mut self.req, &self.inbuf, &mut out, r);
                if stop == Stop::Close {
                    self.inbuf.clear();
                } else {
                    self.inbuf.drain(..used);
                }
                stop
            }
        };
        match stop {
            Stop::NeedMore => self.backlog = Backlog::None,
            Stop::Backpressure => self.backlog = Backlog::Pending,
            Stop::Close => {
                self.backlog = Backlog::None;
                self.life = Life::Closing;
            }
        }
        if self.inbuf.is_empty() && self.inbuf.capacity() > 2 * SCRATCH {
            self.inbuf = Vec::new();
        }
    }

    /// Before dropping the socket: discard input already received (closing with
    /// unread bytes makes the kernel send RST, which can destroy the response still
    /// in flight to the peer), then send FIN. Bounded: a few reads at most.
    fn linger(&mut self, scratch: &mut [u8]) {
        for _ in 0..4 {
            match self.sock.read(scratch) {
                Ok(n) if n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }

    /// Does all the work the socket allows now: flush, parse backlog, read.
    fn drive(
        &mut self,
        scratch: &mut [u8],
        r: &Responses,
        served: &mut u64,
        read_closed: bool,
        mut paths: Option<&mut PathCounts>,
    ) -> Drive {
        // A read shorter than the buffer emptied the socket: skip the read that would
        // only say WouldBlock (one syscall per batch saved). Safe with epoll's edge
        // trigger: bytes (or FIN) arriving later raise a new event; tokio relies on
        // the same. Not when the event already reported the FIN (`read_closed`): that
        // edge is spent, so read on until `Ok(0)`.
        let mut drained = false;
        loop {
            if self.flush(served).is_err() {
                return Drive::Close;
            }
            let pending = self.pending();
            match self.life {
                Life::Closing => {
                    return if pending == 0 {
                        Drive::Close
                    } else {
                        Drive::Keep
                    };
                }
                Life::Open | Life::PeerDone => {}
            }
            if pending > OUT_HIGH {
                // Wait for WRITABLE: the flush above stopped at WouldBlock.
                return Drive::Keep;
            }
            if self.backlog == Backlog::Pending {
                self.feed(None, r, paths.as_deref_mut());
                continue;
            }
            if self.life == Life::PeerDone {
                return if pending == 0 {
                    Drive::Close
                } else {
                    Drive::Keep
                };
            }
            if drained {
                return Drive::Keep;
            }
            match self.sock.read(scratch) {
                Ok(0) => self.life = Life::PeerDone,
                Ok(n) => {
                    drained = n < scratch.len() && !read_closed;
                    self.feed(Some(&scratch[..n]), r, paths.as_deref_mut());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drive::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Drive::Close,
            }
        }
    }
}

struct Worker {
    poll: Poll,
    listener: TcpListener,
    conns: Slab<Conn>,
    scratch: Vec<u8>,
    responses: Arc<Responses>,
    stop: Arc<AtomicBool>,
    served_local: u64,
    served: Arc<AtomicU64>,
    /// Requests per path (when counting), handed to `path_counts` at the end.
    paths: Option<PathCounts>,
    path_counts: Arc<Mutex<PathCounts>>,
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        // The timeout only bounds how long a lost wake-up could delay a stop.
        let timeout = Some(Duration::from_millis(200));
        while !self.stop.load(Ordering::Relaxed) {
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            for ev in events.iter() {
                match ev.token() {
                    WAKER => {}
                    LISTENER => self.accept(),
                    Token(key) => self.drive(key, ev.is_read_closed()),
                }
            }
            self.served.store(self.served_local, Ordering::Relaxed);
        }
        self.served.store(self.served_local, Ordering::Relaxed);
        if let (Some(mine), Ok(mut all)) = (self.paths.take(), self.path_counts.lock()) {
            for (p, n) in mine {
                *all.entry(p).or_default() += n;
            }
        }
        for mut c in self.conns.drain() {
            let _ = self.poll.registry().deregister(&mut c.sock);
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    let _ = sock.set_nodelay(true);
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    let mut conn = Conn::new(sock);
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut conn.sock,
                            Token(key),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_ok()
                    {
                        entry.insert(conn);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock: done; other errors (EMFILE, ECONNABORTED…): try again at
                // the next readiness event rather than spin.
                Err(_) => return,
            }
        }
    }

    fn drive(&mut self, key: usize, read_closed: bool) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match conn.drive(
            &mut self.scratch,
            &self.responses,
            &mut self.served_local,
            read_closed,
            self.paths.as_mut(),
        ) {
            Drive::Keep => {}
            Drive::Close => {
                let mut c = self.conns.remove(key);
                let _ = self.poll.registry().deregister(&mut c.sock);
                c.linger(&mut self.scratch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{Shutdown, TcpStream as StdStream};
    use std::time::Instant;

    fn start(threads: usize, body_size: usize) -> TargetServer {
        TargetServer::start(&TargetConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            threads,
            body_size,
            count_paths: true,
        })
        .expect("start")
    }

    #[test]
    fn counts_requests_per_path_when_asked() {
        let s = start(2, 13);
        for (path, n) in [("/a", 3), ("/b?x=1", 2)] {
            let mut c = connect(&s);
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").repeat(n);
            c.write_all(req.as_bytes()).unwrap();
            let mut r = BufReader::new(c);
            for _ in 0..n {
                read_response(&mut r, false);
            }
        }
        let (served, paths) = s.stop_counting();
        assert_eq!(served, 5);
        assert_eq!(paths.get("/a"), Some(&3));
        assert_eq!(paths.get("/b?x=1"), Some(&2));
        assert_eq!(paths.len(), 2);
    }

    fn connect(s: &TargetServer) -> StdStream {
        let c = StdStream::connect(s.addr()).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        c
    }

    /// Reads one response: (status line, headers lowercased, body).
    fn read_response(
        r: &mut impl BufRead,
        head_only: bool,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let mut status = String::new();
        r.read_line(&mut status).expect("status");
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).expect("header");
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("colon");
            let (k, v) = (k.to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                len = v.parse().expect("len");
            }
            headers.push((k, v));
        }
        let mut body = vec![0; if head_only { 0 } else { len }];
        r.read_exact(&mut body).expect("body");
        (status.trim_end().to_string(), headers, body)
    }

    fn assert_closed(r: &mut impl Read) {
        let mut rest = Vec::new();
        let n = r.read_to_end(&mut rest).expect("read to end");
        assert_eq!(n, 0, "extra bytes: {:?}", String::from_utf8_lossy(&rest));
    }

    /// `served` is published once per poll turn: wait briefly for it.
    fn wait_served(s: &TargetServer, n: u64) {
        let t = Instant::now();
        while s.served() < n && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(s.served(), n);
    }

    #[test]
    fn one_request() {
        let s = start(1, 13);
        let mut c = connect(&s);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut r = BufReader::new(c);
        let (status, headers, body) = read_response(&mut r, false);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains(&("content-type".into(), "text/plain".into())));
        assert_eq!(body, b"hello, world\n");
        wait_served(&s, 1);
        assert_eq!(s.stop(), 1);
    }

    #[test]
    fn pipelined_100_in_one_write() {
        let s = start(1, 13);
        let mut c = connect(&s);
        let req = b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n";
        let all: Vec<u8> = req.iter().copied().cycle().take(req.len() * 100).collect();
        c.write_all(&all).expect("write");
        let mut r = BufReader::new(c);
        for _ in 0..100 {
            let (status, _, body) = read_response(&mut r, false);
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body, b"hello, world\n");
        }
        wait_served(&s, 100);
        assert_eq!(s.stop(), 100);
    }

    #[test]
    fn requests_split_byte_by_byte() {
        let s = start(1, 13);
        let mut c = connect(&s);
        c.set_nodelay(true).expect("nodelay");
        for &b in b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n" {
            c.write_all(&[b]).expect("write");
        }
        let mut r = BufReader::new(c);
        for _ in 0..2 {
            assert_eq!(read_response(&mut r, false).0, "HTTP/1.1 200 OK");
        }
        wait_served(&s, 2);
    }

    #[test]
    fn head_has_length_but_no_body() {
        let s = start(1, 100);
        let mut c = connect(&s);
        c.write_all(b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
            .expect("write");
        let mut r = BufReader::new(c);
        let (status, headers, _) = read_response(&mut r, true);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains(&("content-length".into(), "100".into())));
        // the next response follows right away: no body bytes in between
        let (status, _, body) = read_response(&mut r, false);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, vec![b'x'; 100]);
    }

    #[test]
    fn post_body_split_across_writes() {
        let s = start(1, 13);
        let mut c = connect(&s);
        c.set_nodelay(true).expect("nodelay");
        c.write_all(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello")
            .expect("write");
        std::thread::sleep(Duration::from_millis(20));
        c.write_all(b" worlGET / HTTP/1.1\r\n").expect("write");
        std::thread::sleep(Duration::from_millis(20));
        c.write_all(b"\r\n").expect("write");
        let mut r = BufReader::new(c);
        for _ in 0..2 {
            let (status, _, body) = read_response(&mut r, false);
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body, b"hello, world\n");
        }
        wait_served(&s, 2);
    }

    #[test]
    fn connection_close_replies_then_closes() {
        let s = start(1, 13);
        let mut c = connect(&s);
        c.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n")
            .expect("write");
        let mut r = BufReader::new(c);
        let (status, headers, _) = read_response(&mut r, false);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains(&("connection".into(), "close".into())));
        assert_closed(&mut r);
        wait_served(&s, 1);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let s = start(1, 13);
        let mut c = connect(&s);
        c.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
        let mut r = BufReader::new(c);
        let (_, headers, body) = read_response(&mut r, false);
        assert!(headers.contains(&("connection".into(), "close".into())));
        assert_eq!(body, b"hello, world\n");
        assert_closed(&mut r);

        let mut c = connect(&s);
        c.write_all(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .expect("write");
        let mut r = BufReader::new(c);
        for _ in 0..2 {
            let (_, headers, _) = read_response(&mut r, false);
            assert!(headers.contains(&("connection".into(), "keep-alive".into())));
        }
        wait_served(&s, 3);
    }

    #[test]
    fn garbage_gets_400_and_close() {
        let s = start(1, 13);
        for bad in [
            &b"\x00\x01\x02 garbage\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
        ] {
            let mut c = connect(&s);
            c.write_all(bad).expect("write");
            let mut r = BufReader::new(c);
            let (status, _, _) = read_response(&mut r, false);
            assert_eq!(status, "HTTP/1.1 400 Bad Request", "{bad:?}");
            assert_closed(&mut r);
        }
        let mut c = connect(&s);
        c.write_all(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .expect("write");
        let mut r = BufReader::new(c);
        assert_eq!(
            read_response(&mut r, false).0,
            "HTTP/1.1 501 Not Implemented"
        );
        assert_closed(&mut r);
        // error responses count as served too
        wait_served(&s, 5);
    }

    #[test]
    fn oversized_head_gets_400() {
        let s = start(1, 13);
        let mut c = connect(&s);
        let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
        req.resize(MAX_HEAD + 1000, b'a');
        // The server may close before reading everything: ignore write errors.
        let _ = c.write_all(&req);
        let mut r = BufReader::new(c);
        let (status, _, _) = read_response(&mut r, false);
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
    }

    #[test]
    fn peer_shutdown_still_answers_buffered_requests() {
        let s = start(1, 13);
        let mut c = connect(&s);
        c.write_all(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
            .expect("write");
        c.shutdown(Shutdown::Write).expect("shutdown");
        let mut r = BufReader::new(c);
        for _ in 0..2 {
            assert_eq!(read_response(&mut r, false).0, "HTTP/1.1 200 OK");
        }
        assert_closed(&mut r);
    }

    #[test]
    fn backpressure_with_large_bodies() {
        // 2000 pipelined requests for 64 KiB bodies: ~128 MiB of output, far above
        // OUT_HIGH; the client only starts reading after writing everything.
        let s = start(1, 64 * 1024);
        let c = connect(&s);
        let mut w = c.try_clone().expect("clone");
        let n = 2000;
        let writer = std::thread::spawn(move || {
            let req = b"GET / HTTP/1.1\r\n\r\n";
            for _ in 0..n {
                w.write_all(req).expect("write");
            }
        });
        let mut r = BufReader::with_capacity(1 << 16, c);
        for _ in 0..n {
            let (status, _, body) = read_response(&mut r, false);
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(body.len(), 64 * 1024);
        }
        writer.join().expect("writer");
        wait_served(&s, n);
    }

    #[test]
    fn two_threads_many_connections() {
        let s = start(2, 13);
        let mut conns: Vec<_> = (0..8).map(|_| connect(&s)).collect();
        for c in &mut conns {
            c.write_all(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
                .expect("write");
        }
        for c in conns {
            let mut r = BufReader::new(c);
            for _ in 0..2 {
                assert_eq!(read_response(&mut r, false).0, "HTTP/1.1 200 OK");
            }
        }
        wait_served(&s, 16);
        let t = Instant::now();
        assert_eq!(s.stop(), 16);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "stop took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn bind_error_names_the_address() {
        let s = start(1, 13);
        let err = TargetServer::start(&TargetConfig {
            listen: s.addr(),
            threads: 1,
            body_size: 13,
            count_paths: false,
        });
        match err {
            Err(Error::Setup(m)) => assert!(m.contains(&s.addr().to_string()), "{m}"),
            Err(e) => panic!("wrong error: {e:?}"),
            Ok(_) => panic!("second bind succeeded"),
        }
    }

    #[test]
    fn process_is_split_invariant() {
        // Same responses however the bytes are split.
        let r = Responses::new(13);
        let input: &[u8] = b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcHEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let run = |split: usize| {
            let mut state = ReqState::Head;
            let mut buf = Vec::new();
            let mut queued = 0;
            let mut left: Vec<u8> = Vec::new();
            let mut closed = false;
            for chunk in input.chunks(split) {
                left.extend_from_slice(chunk);
                let mut out = Out {
                    pending_from: 0,
                    buf: &mut buf,
                    queued: &mut queued,
                    paths: None,
                };
                let (used, stop) = process(&mut state, &left, &mut out, &r);
                left.drain(..used);
                if stop == Stop::Close {
                    closed = true;
                    break;
                }
            }
            (buf, queued, closed)
        };
        let whole = run(input.len());
        assert_eq!(whole.1, 4);
        assert!(whole.2);
        for split in 1..input.len() {
            assert_eq!(run(split), whole, "split {split}");
        }
    }

    /// Rough throughput check (not a benchmark): `cargo test --release --lib
    /// target_server::tests::throughput -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn throughput() {
        let s = start(2, 13);
        let depth = 16;
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let mut c = connect(&s);
                std::thread::spawn(move || {
                    let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
                    let batch: Vec<u8> = req
                        .iter()
                        .copied()
                        .cycle()
                        .take(req.len() * depth)
                        .collect();
                    let resp_len = s_resp_len();
                    let mut buf = vec![0; resp_len * depth];
                    let t = Instant::now();
                    let mut n = 0u64;
                    while t.elapsed() < Duration::from_secs(1) {
                        c.write_all(&batch).expect("write");
                        c.read_exact(&mut buf).expect("read");
                        n += depth as u64;
                    }
                    n
                })
            })
            .collect();
        let total: u64 = clients.into_iter().map(|h| h.join().expect("client")).sum();
        println!("~{total} responses/s (4 blocking clients, depth {depth}, 2 server threads)");
        wait_served(&s, total);
    }

    fn s_resp_len() -> usize {
        Responses::new(13).full[0].len()
    }

    #[test]
    fn parse_len_cases() {
        assert_eq!(parse_len(b"0"), Some(0));
        assert_eq!(parse_len(b" 42 "), Some(42));
        assert_eq!(parse_len(b""), None);
        assert_eq!(parse_len(b"-1"), None);
        assert_eq!(parse_len(b"1x"), None);
        assert_eq!(parse_len(b"99999999999999999999"), None);
        assert_eq!(
            parse_len(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
    }
}
