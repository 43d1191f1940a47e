//! One client connection: its phase (down / connecting / open), its queue of in-flight
//! requests (each with its own intended and actual send time), its partial write, and its
//! response parser. Generic over `Read + Write` so it is tested against in-memory streams;
//! it never reads a clock (time is an argument), never registers with mio, and never
//! copies request bytes: it writes slices of the worker's prebuilt request buffer.

use crate::http::response::{Limits, ResponseParser};
use crate::stats::{ErrorKind, WorkerStats};
use std::collections::VecDeque;
use std::io::{self, Read, Write};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No socket: not started yet, or waiting out a reconnect back-off.
    Down,
    /// A non-blocking connect is in progress.
    Connecting,
    /// Connected: requests may be written and responses read.
    Open,
}

/// One request that was handed to the connection and has not ended yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// When the request should have been sent (open model); equal to `sent_ns` in the
    /// closed model. Response time is measured from here.
    pub intended_ns: u64,
    /// When it was handed to the socket.
    pub sent_ns: u64,
}

/// How a read or write turn left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still open; wait for the next readiness event.
    Open,
    /// The server ended the connection in an orderly way (`Connection: close`, HTTP/1.0,
    /// close-delimited body, or an idle keep-alive close): reconnect at once.
    Finished,
    /// The connection failed; its outstanding requests were counted as errors of this
    /// kind. Reconnect after a back-off.
    Failed(ErrorKind),
}

/// One connection's state. `S` is the socket (mio's `TcpStream` in the worker).
#[derive(Debug)]
pub struct Conn<S> {
    pub io: Option<S>,
    pub phase: Phase,
    parser: ResponseParser,
    /// Capacity fixed at the pipelining depth; never grows.
    inflight: VecDeque<InFlight>,
    depth: usize,
    /// Unwritten request bytes: `remaining` bytes starting at `offset` (< one request's
    /// length) in the prebuilt buffer of `depth + 1` identical copies.
    offset: usize,
    remaining: usize,
    /// Consecutive failures without a response in between (drives the back-off).
    pub failures: u32,
    /// True once this slot has been connected at least once.
    pub ever_connected: bool,
}

impl<S: Read + Write> Conn<S> {
    pub fn new(depth: usize, limits: Limits) -> Self {
        let depth = depth.max(1);
        Conn {
            io: None,
            phase: Phase::Down,
            parser: ResponseParser::new(limits),
            inflight: VecDeque::with_capacity(depth),
            depth,
            offset: 0,
            remaining: 0,
            failures: 0,
            ever_connected: false,
        }
    }

    /// Requests in flight (sent, not yet answered).
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// How many more requests this connection can take now.
    pub fn room(&self) -> usize {
        match self.phase {
            Phase::Open => self.depth - self.inflight.len(),
            Phase::Down | Phase::Connecting => 0,
        }
    }

    /// Send time of the oldest outstanding request (its response is due first).
    pub fn oldest_sent(&self) -> Option<u64> {
        self.inflight.front().map(|f| f.sent_ns)
    }

    /// True while request bytes wait for the socket to become writable.
    pub fn write_pending(&self) -> bool {
        self.remaining > 0
    }

    /// Attaches a socket whose connect is in progress.
    pub fn connecting(&mut self, io: S) {
        self.io = Some(io);
        self.phase = Phase::Connecting;
    }

    /// The connect finished.
    pub fn established(&mut self) {
        self.phase = Phase::Open;
        self.ever_connected = true;
    }

    /// Hands one request to the connection (at most `room()` times per turn). The bytes
    /// are written by the next `flush`.
    #[inline]
    pub fn enqueue(
        &mut self,
        intended_ns: u64,
        sent_ns: u64,
        req_len: usize,
        stats: &mut WorkerStats,
    ) {
        debug_assert!(self.inflight.len() < self.depth);
        self.inflight.push_back(InFlight {
            intended_ns,
            sent_ns,
        });
        self.remaining += req_len;
        stats.sent += 1;
    }

    /// Writes pending request bytes until done or the socket would block.
    /// `reqs` holds `depth + 1` copies of one request of `req_len` bytes.
    pub fn flush(&mut self, reqs: &[u8], req_len: usize, stats: &mut WorkerStats) -> Outcome {
        while self.remaining > 0 {
            let Some(io) = self.io.as_mut() else {
                return Outcome::Failed(ErrorKind::Write);
            };
            let end = self.offset + self.remaining;
            let Some(chunk) = reqs.get(self.offset..end) else {
                // Cannot happen while in-flight <= depth; fail safe rather than panic.
                return self.fail(ErrorKind::Write, stats);
            };
            match io.write(chunk) {
                Ok(0) => return self.fail(ErrorKind::Write, stats),
                Ok(n) => {
                    stats.bytes_written += n as u64;
                    self.remaining -= n;
                    self.offset = (self.offset + n) % req_len.max(1);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(io_error_kind(&e, ErrorKind::Write), stats),
            }
        }
        Outcome::Open
    }

    /// Reads what the socket has, parses responses, records each one that completes.
    ///
    /// Stops after a short read (the socket was drained; edge-triggered readiness will
    /// fire again for new data) unless `drain` is set (the peer half-closed or the event
    /// reported an error), in which case it reads until end of stream or `WouldBlock`.
    /// `head` says the requests on this connection are HEAD requests.
    pub fn on_readable(
        &mut self,
        scratch: &mut [u8],
        now_ns: u64,
        head: bool,
        drain: bool,
        stats: &mut WorkerStats,
    ) -> Outcome {
        loop {
            let Some(io) = self.io.as_mut() else {
                return Outcome::Open;
            };
            match io.read(scratch) {
                Ok(0) => return self.on_eof(now_ns, stats),
                Ok(n) => {
                    stats.bytes_read += n as u64;
                    let outcome = self.on_bytes(&scratch[..n], now_ns, head, stats);
                    if outcome != Outcome::Open {
                        return outcome;
                    }
                    if n < scratch.len() && !drain {
                        return Outcome::Open;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Outcome::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(io_error_kind(&e, ErrorKind::Read), stats),
            }
        }
    }

    /// Feeds received bytes to the parser; each completed response ends the oldest
    /// in-flight request.
    fn on_bytes(
        &mut self,
        mut data: &[u8],
        now_ns: u64,
        head: bool,
        stats: &mut WorkerStats,
    ) -> Outcome {
        while !data.is_empty() {
            if self.inflight.is_empty() {
                // Bytes nobody asked for: the stream is out of step; count and close.
                return self.fail(ErrorKind::Parse, stats);
            }
            match self.parser.feed(data, head) {
                Ok((used, Some(resp))) => {
                    data = data.get(used..).unwrap_or(&[]);
                    self.complete(resp.status, now_ns, stats);
                    if !resp.keep_alive {
                        return self.finish(stats);
                    }
                }
                Ok((_, None)) => break,
                Err(_) => return self.fail(ErrorKind::Parse, stats),
            }
        }
        Outcome::Open
    }

    #[inline]
    fn complete(&mut self, status: u16, now_ns: u64, stats: &mut WorkerStats) {
        if let Some(req) = self.inflight.pop_front() {
            stats.record_response(status, now_ns.saturating_sub(req.intended_ns));
            self.failures = 0;
        }
    }

    fn on_eof(&mut self, now_ns: u64, stats: &mut WorkerStats) -> Outcome {
        match self.parser.eof() {
            Ok(Some(resp)) => {
                self.complete(resp.status, now_ns, stats);
                self.finish(stats)
            }
            Ok(None) => self.finish(stats),
            Err(_) => self.fail(ErrorKind::Closed, stats),
        }
    }

    /// The server ended the connection in an orderly way. Requests still outstanding
    /// were never answered: they count as `closed`.
    fn finish(&mut self, stats: &mut WorkerStats) -> Outcome {
        if self.inflight.is_empty() {
            self.reset();
            Outcome::Finished
        } else {
            self.fail(ErrorKind::Closed, stats)
        }
    }

    /// Ends every outstanding request with `kind` and drops the connection state (the
    /// socket stays in `io` for the caller to deregister).
    pub fn fail(&mut self, kind: ErrorKind, stats: &mut WorkerStats) -> Outcome {
        stats.record_error(kind, self.inflight.len() as u64);
        self.failures = self.failures.saturating_add(1);
        self.reset();
        Outcome::Failed(kind)
    }

    /// Forgets outstanding requests without counting them (run stopped) and returns how
    /// many there were.
    pub fn abandon(&mut self) -> usize {
        let n = self.inflight.len();
        self.reset();
        n
    }

    fn reset(&mut self) {
        self.inflight.clear();
        self.parser.reset();
        self.offset = 0;
        self.remaining = 0;
        self.phase = Phase::Down;
    }
}

/// Maps an I/O error to its kind: resets (and their cousins) are `reset`, the rest is the
/// direction's own kind.
pub fn io_error_kind(e: &io::Error, otherwise: ErrorKind) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
        _ => otherwise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::pipelined;

    /// An in-memory socket: reads come from scripted chunks (then WouldBlock or EOF),
    /// writes go to `written`, at most `write_cap` bytes per call.
    #[derive(Default)]
    struct Mem {
        reads: VecDeque<io::Result<Vec<u8>>>,
        eof_when_empty: bool,
        written: Vec<u8>,
        write_cap: usize,
        write_budget: Option<usize>,
    }

    impl Read for Mem {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.reads.pop_front() {
                Some(Ok(mut chunk)) => {
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    if n < chunk.len() {
                        chunk.drain(..n);
                        self.reads.push_front(Ok(chunk));
                    }
                    Ok(n)
                }
                Some(Err(e)) => Err(e),
                None if self.eof_when_empty => Ok(0),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    impl Write for Mem {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut n = buf.len().min(if self.write_cap == 0 {
                usize::MAX
            } else {
                self.write_cap
            });
            if let Some(b) = self.write_budget.as_mut() {
                if *b == 0 {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                n = n.min(*b);
                *b -= n;
            }
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

    fn open(depth: usize, mem: Mem) -> Conn<Mem> {
        let mut c = Conn::new(depth, Limits::default());
        c.connecting(mem);
        c.established();
        c
    }

    fn send(c: &mut Conn<Mem>, n: usize, now: u64, st: &mut WorkerStats) -> Outcome {
        let reqs = pipelined(REQ, c.depth + 1);
        for _ in 0..n {
            c.enqueue(now, now, REQ.len(), st);
        }
        c.flush(&reqs, REQ.len(), st)
    }

    #[test]
    fn one_request_one_response() {
        let mut st = WorkerStats::new();
        let mut c = open(1, Mem::default());
        assert_eq!(c.room(), 1);
        assert_eq!(send(&mut c, 1, 1_000, &mut st), Outcome::Open);
        assert_eq!(c.io.as_ref().unwrap().written, REQ);
        assert_eq!(c.room(), 0);
        c.io.as_mut().unwrap().reads.push_back(Ok(OK.to_vec()));
        let mut scratch = [0u8; 4096];
        assert_eq!(
            c.on_readable(&mut scratch, 51_000, false, false, &mut st),
            Outcome::Open
        );
        assert_eq!(st.completed, 1);
        assert_eq!(st.status[200], 1);
        assert_eq!(st.latency.max(), 50);
        assert_eq!(c.room(), 1);
        assert_eq!(st.bytes_written, REQ.len() as u64);
        assert_eq!(st.bytes_read, OK.len() as u64);
    }

    #[test]
    fn pipelined_responses_split_anywhere_each_keep_their_send_time() {
        let all: Vec<u8> = OK.repeat(4);
        for cut in 0..=all.len() {
            let mut st = WorkerStats::new();
            let mut c = open(4, Mem::default());
            // Two requests at t=0, two at t=10µs.
            send(&mut c, 2, 0, &mut st);
            send(&mut c, 2, 10_000, &mut st);
            assert_eq!(c.io.as_ref().unwrap().written, REQ.repeat(4));
            let m = c.io.as_mut().unwrap();
            // An empty read would mean end of stream: only push non-empty pieces.
            for piece in [&all[..cut], &all[cut..]] {
                if !piece.is_empty() {
                    m.reads.push_back(Ok(piece.to_vec()));
                }
            }
            let mut scratch = [0u8; 8192];
            // Both chunks are read in one call only if drain is set or reads are full;
            // call twice as edge-triggered readiness would.
            c.on_readable(&mut scratch, 20_000, false, false, &mut st);
            c.on_readable(&mut scratch, 20_000, false, false, &mut st);
            assert_eq!(st.completed, 4, "cut {cut}");
            // 20 µs for the first two, 10 µs for the last two.
            assert_eq!(st.latency.max(), 20);
            assert_eq!(st.latency.min(), 10);
            assert_eq!(c.in_flight(), 0);
        }
    }

    #[test]
    fn partial_writes_resume_at_the_right_byte() {
        let mut st = WorkerStats::new();
        let m = Mem {
            write_cap: 7,
            write_budget: Some(30),
            ..Mem::default()
        };
        let mut c = open(3, m);
        let reqs = pipelined(REQ, 4);
        for _ in 0..3 {
            c.enqueue(0, 0, REQ.len(), &mut st);
        }
        assert_eq!(c.flush(&reqs, REQ.len(), &mut st), Outcome::Open);
        assert!(c.write_pending());
        assert_eq!(c.io.as_ref().unwrap().written.len(), 30);
        c.io.as_mut().unwrap().write_budget = None;
        assert_eq!(c.flush(&reqs, REQ.len(), &mut st), Outcome::Open);
        assert!(!c.write_pending());
        assert_eq!(c.io.as_ref().unwrap().written, REQ.repeat(3));
        assert_eq!(st.bytes_written, 3 * REQ.len() as u64);
    }

    #[test]
    fn write_offset_wraps_when_more_requests_join_a_partial_write() {
        let mut st = WorkerStats::new();
        let m = Mem {
            write_budget: Some(REQ.len() + 5),
            ..Mem::default()
        };
        let mut c = open(2, m);
        let reqs = pipelined(REQ, 3);
        c.enqueue(0, 0, REQ.len(), &mut st);
        c.enqueue(0, 0, REQ.len(), &mut st);
        c.flush(&reqs, REQ.len(), &mut st);
        // First request answered while the second is half written; a third joins.
        c.io.as_mut().unwrap().reads.push_back(Ok(OK.to_vec()));
        let mut scratch = [0u8; 1024];
        c.on_readable(&mut scratch, 1, false, false, &mut st);
        assert_eq!(c.room(), 1);
        c.enqueue(2, 2, REQ.len(), &mut st);
        c.io.as_mut().unwrap().write_budget = None;
        c.flush(&reqs, REQ.len(), &mut st);
        assert_eq!(c.io.as_ref().unwrap().written, REQ.repeat(3));
    }

    #[test]
    fn connection_close_after_response_is_an_orderly_end() {
        let mut st = WorkerStats::new();
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        c.io.as_mut().unwrap().reads.push_back(Ok(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ));
        let mut scratch = [0u8; 1024];
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, false, &mut st),
            Outcome::Finished
        );
        assert_eq!(st.completed, 1);
        assert_eq!(st.failed, 0);
        assert_eq!(c.phase, Phase::Down);
    }

    #[test]
    fn close_delimited_body_completes_at_eof() {
        let mut st = WorkerStats::new();
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = c.io.as_mut().unwrap();
        m.reads
            .push_back(Ok(b"HTTP/1.1 200 OK\r\n\r\nsome body".to_vec()));
        m.eof_when_empty = true;
        let mut scratch = [0u8; 1024];
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, true, &mut st),
            Outcome::Finished
        );
        assert_eq!(st.completed, 1);
        assert_eq!(st.failed, 0);
    }

    #[test]
    fn silent_close_with_requests_outstanding_counts_each_as_closed() {
        let mut st = WorkerStats::new();
        let mut c = open(4, Mem::default());
        send(&mut c, 4, 0, &mut st);
        let m = c.io.as_mut().unwrap();
        m.reads.push_back(Ok(OK.to_vec()));
        m.eof_when_empty = true;
        let mut scratch = [0u8; 1024];
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, true, &mut st),
            Outcome::Failed(ErrorKind::Closed)
        );
        assert_eq!(st.completed, 1);
        assert_eq!(st.failed, 3);
        assert_eq!(st.error_count(ErrorKind::Closed), 3);
        assert_eq!(st.sent, st.completed + st.failed);
    }

    #[test]
    fn eof_mid_response_is_closed_and_reset_is_reset() {
        let mut st = WorkerStats::new();
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = c.io.as_mut().unwrap();
        m.reads
            .push_back(Ok(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()));
        m.eof_when_empty = true;
        let mut scratch = [0u8; 1024];
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, true, &mut st),
            Outcome::Failed(ErrorKind::Closed)
        );

        let mut st = WorkerStats::new();
        let mut c = open(2, Mem::default());
        send(&mut c, 2, 0, &mut st);
        c.io.as_mut()
            .unwrap()
            .reads
            .push_back(Err(io::ErrorKind::ConnectionReset.into()));
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, false, &mut st),
            Outcome::Failed(ErrorKind::Reset)
        );
        assert_eq!(st.error_count(ErrorKind::Reset), 2);
        assert_eq!(st.failed, 2);
    }

    #[test]
    fn garbage_and_unsolicited_bytes_are_parse_errors() {
        let cases: &[(&str, usize, &[u8])] = &[
            ("garbage", 1, b"NOT HTTP AT ALL\r\n\r\n"),
            (
                "bad length",
                1,
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            ),
            ("unsolicited", 0, b"HTTP/1.1 408 Request Timeout\r\n\r\n"),
        ];
        for (name, sent, bytes) in cases {
            let mut st = WorkerStats::new();
            let mut c = open(1, Mem::default());
            send(&mut c, *sent, 0, &mut st);
            c.io.as_mut().unwrap().reads.push_back(Ok(bytes.to_vec()));
            let mut scratch = [0u8; 1024];
            assert_eq!(
                c.on_readable(&mut scratch, 5, false, false, &mut st),
                Outcome::Failed(ErrorKind::Parse),
                "{name}"
            );
            assert_eq!(st.error_count(ErrorKind::Parse), 1, "{name}");
            assert_eq!(st.failed, *sent as u64, "{name}");
            assert_eq!(st.completed, 0, "{name}");
        }
    }

    #[test]
    fn head_responses_have_no_body() {
        let mut st = WorkerStats::new();
        let mut c = open(2, Mem::default());
        send(&mut c, 2, 0, &mut st);
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        c.io.as_mut().unwrap().reads.push_back(Ok(one.repeat(2)));
        let mut scratch = [0u8; 1024];
        assert_eq!(
            c.on_readable(&mut scratch, 5, true, false, &mut st),
            Outcome::Open
        );
        assert_eq!(st.completed, 2);
    }

    #[test]
    fn short_read_stops_without_an_extra_read_unless_draining() {
        let mut st = WorkerStats::new();
        let mut c = open(2, Mem::default());
        send(&mut c, 2, 0, &mut st);
        let m = c.io.as_mut().unwrap();
        m.reads.push_back(Ok(OK.to_vec()));
        m.reads.push_back(Ok(OK.to_vec()));
        let mut scratch = [0u8; 1024];
        c.on_readable(&mut scratch, 5, false, false, &mut st);
        assert_eq!(
            st.completed, 1,
            "a short read drained the socket: no second read"
        );
        c.on_readable(&mut scratch, 5, false, true, &mut st);
        assert_eq!(st.completed, 2);
    }
}
