//! Shared helpers for the end-to-end tests: run the `tressi` binary or the library on a
//! plan, start small scripted servers on loopback, and start nginx when it is installed.
//! Every server binds 127.0.0.1 on an ephemeral port; every run is bounded in time.
#![allow(dead_code)]

#[cfg(feature = "tls")]
pub mod tls;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tressi"))
}

/// Runs `tressi ARGS` with a hard time limit and returns its output.
pub fn tressi(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tressi");
    // Drained while it runs: a summary larger than the pipe buffer (many endpoints)
    // would otherwise block tressi on its stdout until the limit.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Output {
                status,
                stdout: stdout.join().expect("stdout"),
                stderr: stderr.join().expect("stderr"),
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("tressi {args:?} did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `tressi ARGS --json --no-ui`, expects exit 0, returns the parsed summary.
pub fn tressi_json(args: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--json", "--no-ui"]);
    let out = tressi(&all, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "tressi {all:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    check_totals(&v);
    v
}

/// The invariants every summary must satisfy.
pub fn check_totals(v: &serde_json::Value) {
    let r = &v["requests"];
    let n = |x: &serde_json::Value| x.as_u64().expect("a count");
    let status_sum: u64 = v["status"].as_object().unwrap().values().map(n).sum();
    assert_eq!(
        n(&r["completed"]),
        status_sum,
        "completed == sum of status: {v}"
    );
    assert_eq!(
        n(&r["sent"]),
        n(&r["completed"]) + n(&r["failed"]) + n(&r["in_flight_at_stop"]),
        "sent == completed + failed + in flight: {v}"
    );
}

pub fn count(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {v}"))
}

pub fn error_total(v: &serde_json::Value) -> u64 {
    v["errors"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_u64().unwrap())
        .sum()
}

/// The built-in target started as a child process (`tressi target`), so its
/// `served N responses` line can be checked like a user would.
pub struct TargetProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl TargetProcess {
    pub fn start(extra: &[&str]) -> TargetProcess {
        let mut child = Command::new(bin())
            .args(["target", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn target");
        let mut stdout = child.stdout.take().unwrap();
        let line = read_line(&mut stdout);
        child.stdout = Some(stdout);
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim()
            .parse()
            .expect("address");
        TargetProcess { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SIGTERM, then the served count from its last line.
    pub fn stop(mut self) -> u64 {
        unsafe_kill(self.child.id());
        let mut rest = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "target exited with {status}");
        let last = rest.lines().last().unwrap_or_default().to_string();
        last.strip_prefix("served ")
            .and_then(|s| {
                s.strip_suffix(" responses")
                    .or_else(|| s.strip_suffix(" response"))
            })
            .unwrap_or_else(|| panic!("unexpected last line {last:?}"))
            .parse()
            .unwrap()
    }
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32) {
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}

fn read_line(r: &mut impl Read) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match r.read(&mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// How a scripted server answers each request.
#[derive(Clone)]
pub struct Script {
    /// The bytes written for each request.
    pub response: Vec<u8>,
    /// Close the connection after each response.
    pub close_after: bool,
    /// Answer only after this long.
    pub delay: Duration,
}

/// A server answering every request with the same scripted bytes (a `HostileServer`
/// with a fixed handler). Counts the responses it wrote completely.
pub struct ScriptedServer {
    inner: HostileServer,
}

impl ScriptedServer {
    pub fn start(script: Script) -> ScriptedServer {
        let inner = HostileServer::start(move |mut s| {
            while s.next_request().is_some() {
                if !script.delay.is_zero() {
                    thread::sleep(script.delay);
                }
                if !s.respond(&script.response) {
                    return;
                }
                if script.close_after {
                    s.close_quietly();
                    return;
                }
            }
        });
        ScriptedServer { inner }
    }

    pub fn url(&self, path: &str) -> String {
        self.inner.url(path)
    }

    pub fn served(&self) -> u64 {
        self.inner.n(|c| &c.responses)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// nginx on an ephemeral loopback port, in the foreground, killed on drop.
pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    /// Starts nginx if it is installed. Without nginx: `None`, unless `CI` is set, where
    /// a missing nginx fails the test (CI must install it).
    pub fn start() -> Option<Nginx> {
        Nginx::start_with(|_| String::new())
    }

    /// Like `start`, with more server blocks: `extra(dir)` returns them (it may write
    /// files, certificates say, into nginx's directory `dir` first).
    pub fn start_with(extra: impl FnOnce(&std::path::Path) -> String) -> Option<Nginx> {
        let exe = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        let Some(exe) = exe else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but nginx is not installed"
            );
            eprintln!("nginx not installed: skipping");
            return None;
        };
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("tressi-nginx-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["logs", "www", "tmp"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(dir.join("www/4k"), vec![b'x'; 4096]).unwrap();
        let extra = extra(&dir);
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root www;
        default_type text/plain;
        location = / {{ return 200 "hello, world\n"; }}
        location = /4k {{ }}
        location = /chunked {{
            sub_filter_types *;
            sub_filter_once on;
            sub_filter "hello" "hello";
            return 200 "hello, world\n";
        }}
        location = /status {{ stub_status; }}
    }}
{extra}
}}
"#
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(&exe)
            .arg("-p")
            .arg(format!("{}/", dir.display()))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        let n = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            thread::sleep(Duration::from_millis(20));
        }
        Some(n)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// nginx's own request counter (stub_status), which counts this status request too.
    pub fn requests(&self) -> u64 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        // "... server accepts handled requests\n A H R \n"
        let line = text
            .lines()
            .skip_while(|l| !l.contains("accepts handled requests"))
            .nth(1)
            .unwrap_or_else(|| panic!("no counters in {text}"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------
// Hostile-server helpers (tests/hostile.rs, tests/memory.rs).

/// Runs `tressi ARGS --json --no-ui` bounded by `limit`: expects exit 0 and no panic,
/// checks the totals, returns the parsed summary.
pub fn tressi_json_within(args: &[&str], limit: Duration) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--json", "--no-ui"]);
    let out = tressi(&all, limit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "tressi {all:?} panicked: {stderr}"
    );
    assert!(
        out.status.success(),
        "tressi {all:?} failed: {}\n{stderr}",
        out.status
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    check_totals(&v);
    v
}

/// What a hostile server did, counted by the server itself.
#[derive(Default, Debug)]
pub struct Counters {
    /// Connections accepted (including tressi's set-up probe).
    pub accepted: AtomicU64,
    /// Complete request heads received.
    pub requests: AtomicU64,
    /// Request body bytes received (framed by Content-Length).
    pub body_bytes: AtomicU64,
    /// Requests that carried a Transfer-Encoding header or a body without Content-Length.
    pub bad_framing: AtomicU64,
    /// Responses written completely.
    pub responses: AtomicU64,
    /// Response bytes written.
    pub bytes_written: AtomicU64,
    /// Most requests seen on one connection.
    pub max_per_conn: AtomicU64,
    /// Free counter for the test's own use (e.g. slow or reset responses).
    pub special: AtomicU64,
}

impl Counters {
    pub fn get(&self, c: &AtomicU64) -> u64 {
        c.load(Ordering::SeqCst)
    }
}

/// One parsed request head.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub head: String,
    pub content_length: Option<u64>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One accepted connection of a `HostileServer`, handed to the test's handler on its own
/// thread. Reads poll a stop flag every 20 ms, so handlers end when the server drops.
pub struct Session {
    pub stream: TcpStream,
    pub counters: Arc<Counters>,
    /// 0-based index of this connection in accept order.
    pub index: u64,
    pub stop: Arc<AtomicBool>,
    buf: Vec<u8>,
    on_conn: u64,
}

impl Session {
    /// Waits for the next complete request (head and Content-Length body). `None` at end
    /// of stream, on error, or when the server stops.
    pub fn next_request(&mut self) -> Option<Req> {
        loop {
            if let Some(req) = self.buffered_request() {
                return Some(req);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// A complete request already in the buffer, without reading.
    pub fn buffered_request(&mut self) -> Option<Req> {
        let end = find(&self.buf, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let method = head.split(' ').next().unwrap_or_default().to_string();
        let mut req = Req {
            method,
            head,
            content_length: None,
        };
        req.content_length = req.header("content-length").and_then(|v| v.parse().ok());
        if req.header("transfer-encoding").is_some() {
            self.counters.bad_framing.fetch_add(1, Ordering::SeqCst);
        }
        let body = req.content_length.unwrap_or(0) as usize;
        if self.buf.len() < end + 4 + body {
            return None;
        }
        self.buf.drain(..end + 4 + body);
        self.on_conn += 1;
        self.counters.requests.fetch_add(1, Ordering::SeqCst);
        self.counters
            .body_bytes
            .fetch_add(body as u64, Ordering::SeqCst);
        self.counters
            .max_per_conn
            .fetch_max(self.on_conn, Ordering::SeqCst);
        Some(req)
    }

    /// One read into the buffer; false at end of stream, error or stop.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return false,
            }
        }
    }

    /// Writes bytes (counted in `bytes_written`); false if the peer is gone.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        match self.stream.write_all(bytes) {
            Ok(()) => {
                self.counters
                    .bytes_written
                    .fetch_add(bytes.len() as u64, Ordering::SeqCst);
                true
            }
            Err(_) => false,
        }
    }

    /// Writes one whole response and counts it.
    pub fn respond(&mut self, bytes: &[u8]) -> bool {
        let ok = self.write(bytes);
        if ok {
            self.counters.responses.fetch_add(1, Ordering::SeqCst);
        }
        ok
    }

    /// Writes `bytes` in the pieces given by `cuts` (ascending offsets), pausing `gap`
    /// between pieces so that they arrive apart (TCP_NODELAY is on).
    pub fn write_pieces(&mut self, bytes: &[u8], cuts: &[usize], gap: Duration) -> bool {
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let c = c.clamp(at, bytes.len());
            if c > at {
                if !self.write(&bytes[at..c]) {
                    return false;
                }
                at = c;
                thread::sleep(gap);
            }
        }
        true
    }

    /// Closes with an RST (SO_LINGER 0) instead of a FIN.
    pub fn reset(self) {
        set_linger_zero(&self.stream);
        drop(self.stream);
    }

    /// Closes the way a polite server does: FIN first, then discards what the client
    /// still sends (so the kernel does not answer unread data with an RST), then closes.
    pub fn close_quietly(mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut chunk = [0u8; 4096];
        while Instant::now() < deadline && !self.stop.load(Ordering::Relaxed) {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
    }
}

/// SO_LINGER {on, 0}: the next close sends an RST (std has no set_linger).
pub fn set_linger_zero<S: std::os::fd::AsRawFd>(s: &S) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `l`, which outlives the call; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

/// A loopback server that runs `handler` on its own thread for every accepted
/// connection and counts what it did (`Counters`). Stops accepting on drop; handlers
/// see `stop` within 20 ms.
pub struct HostileServer {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HostileServer {
    pub fn start<F>(handler: F) -> HostileServer
    where
        F: Fn(Session) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (c2, st2) = (counters.clone(), stop.clone());
        let accept = thread::spawn(move || {
            let mut index = 0;
            while !st2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        c2.accepted.fetch_add(1, Ordering::SeqCst);
                        let _ = sock.set_nonblocking(false);
                        let _ = sock.set_nodelay(true);
                        let _ = sock.set_read_timeout(Some(Duration::from_millis(20)));
                        let session = Session {
                            stream: sock,
                            counters: c2.clone(),
                            index,
                            stop: st2.clone(),
                            buf: Vec::new(),
                            on_conn: 0,
                        };
                        index += 1;
                        let h = handler.clone();
                        thread::spawn(move || h(session));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        HostileServer {
            addr,
            counters,
            stop,
            accept: Some(accept),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Shortcut: a counter's current value.
    pub fn n(&self, f: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        f(&self.counters).load(Ordering::SeqCst)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// A tiny xorshift64* generator (no rand crate): reproducible cuts from a seed.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

// ---------------------------------------------------------------------------------------
// Rate-accuracy helpers (tests/rates.rs, issue 5 items 16 and 17).

/// A loopback server that records the arrival time of every request head (a head ending
/// in CRLFCRLF; no request bodies) and answers each with a tiny 200. Optionally the whole
/// server freezes during a window measured from the first request's arrival: nothing is
/// read, answered or recorded until the window ends (requests that arrive meanwhile are
/// recorded when it ends, as a frozen process would see them).
pub struct TimestampServer {
    pub addr: SocketAddr,
    shared: Arc<StampShared>,
    accept: Option<JoinHandle<()>>,
}

struct StampShared {
    origin: Instant,
    first: std::sync::OnceLock<Instant>,
    arrivals: std::sync::Mutex<Vec<Duration>>,
    stall: Option<(Duration, Duration)>,
    stop: AtomicBool,
}

impl TimestampServer {
    pub fn start(stall: Option<(Duration, Duration)>) -> TimestampServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(StampShared {
            origin: Instant::now(),
            first: std::sync::OnceLock::new(),
            arrivals: std::sync::Mutex::new(Vec::with_capacity(16_384)),
            stall,
            stop: AtomicBool::new(false),
        });
        let sh = shared.clone();
        let accept = thread::spawn(move || {
            while !sh.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let sh = sh.clone();
                        thread::spawn(move || stamp_serve(sock, &sh));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        TimestampServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Arrival times so far, sorted, relative to the first one.
    pub fn arrivals(&self) -> Vec<Duration> {
        let mut v = self.shared.arrivals.lock().unwrap().clone();
        v.sort();
        let first = v.first().copied().unwrap_or_default();
        v.iter().map(|t| *t - first).collect()
    }

    /// Waits until no request arrived for `quiet` (or `limit` passed); returns the count.
    pub fn settle(&self, quiet: Duration, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let mut last = self.shared.arrivals.lock().unwrap().len();
        loop {
            thread::sleep(quiet);
            let n = self.shared.arrivals.lock().unwrap().len();
            if n == last || Instant::now() > deadline {
                return n;
            }
            last = n;
        }
    }
}

impl Drop for TimestampServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn stamp_serve(mut sock: TcpStream, sh: &StampShared) {
    const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let _ = sock.set_nodelay(true);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(20)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let mut out = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        match sock.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        let mut now = Instant::now();
        let first = *sh.first.get_or_init(|| now);
        if let Some((from, to)) = sh.stall {
            let t = now - first;
            if t >= from && t < to {
                thread::sleep(to - t);
                now = Instant::now();
            }
        }
        let at = now - sh.origin;
        let mut heads = 0;
        while let Some(end) = find(&buf, b"\r\n\r\n") {
            buf.drain(..end + 4);
            heads += 1;
        }
        if heads == 0 {
            continue;
        }
        sh.arrivals
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(at, heads));
        out.clear();
        for _ in 0..heads {
            out.extend_from_slice(ANSWER);
        }
        if sock.write_all(&out).is_err() {
            return;
        }
    }
}

/// Counts of `arrivals` (relative times) in consecutive buckets of `width` over `0..span`.
pub fn buckets(arrivals: &[Duration], width: Duration, span: Duration) -> Vec<u64> {
    let n = (span.as_nanos() / width.as_nanos()) as usize;
    let mut out = vec![0u64; n];
    for t in arrivals {
        let i = (t.as_nanos() / width.as_nanos()) as usize;
        if i < n {
            out[i] += 1;
        }
    }
    out
}
