//! One client connection: its phase (down / connecting / open), its queue of in-flight
//! requests (each with its own intended and actual send time), its partial write, and its
//! response parser. Generic over `Read + Write` so it is tested against in-memory streams;
//! it never reads a clock (time is an argument), never registers with mio, and never
//! copies request bytes: it writes slices of the worker's prebuilt request buffer. Reads
//! land in the worker's one `ReadBuf`, lent to each connection in turn.

use crate::http::response::{BodySink, HeadMemo, Limits, ResponseParser};
use crate::request::Requests;
use crate::samples::SampleStore;
use crate::stats::{ErrorKind, WorkerStats};
use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No socket: not started yet, or waiting out a reconnect back-off.
    Down,
    /// A non-blocking connect is in progress.
    Connecting,
    /// Connected; the TLS handshake is in progress.
    Handshaking,
    /// Connected: requests may be written and responses read.
    Open,
}

/// One request that was handed to the connection and has not ended yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// When the request should have been sent (open model); equal to `sent_ns` in the
    /// closed model. Response time is measured from here.
    pub intended_ns: u64,
    /// When it was handed to the socket. Service time is measured from here.
    pub sent_ns: u64,
    /// Its response is late after this (send time + its endpoint's timeout): a response
    /// completed later counts as a timeout, never as a success.
    pub deadline_ns: u64,
    /// Index of its endpoint (`Plan::endpoints`).
    pub endpoint: u32,
    /// It is a HEAD request: its response has no body.
    pub head: bool,
    /// It says `Connection: close`: nothing more may be sent on the connection, which
    /// ends after its response.
    pub close: bool,
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
    /// Still open, and the read budget ran out with data still coming: read again soon
    /// (after the other connections have had their turn) without waiting for readiness.
    Yield,
}

/// Reads per `on_readable` call before yielding to other connections (256 KiB with the
/// worker's 64 KiB buffer): one fast stream must not starve the loop.
pub const MAX_READS: usize = 4;

/// Most head memos a `ReadBuf` keeps (endpoints past this share them, by index).
pub const MAX_MEMOS: usize = 64;

/// The read side a worker lends to each of its connections in turn: the scratch buffer
/// every read lands in, and one [`HeadMemo`] per endpoint (the last head of that
/// endpoint's responses, so an unchanged head is compared, not parsed). Allocated once
/// per worker; no connection keeps any of it.
#[derive(Debug)]
pub struct ReadBuf {
    bytes: Box<[u8]>,
    memos: Box<[HeadMemo]>,
}

impl ReadBuf {
    /// A `size`-byte buffer and memos for `endpoints` endpoints (at least 1, at most
    /// [`MAX_MEMOS`]).
    pub fn new(size: usize, endpoints: usize) -> Self {
        ReadBuf {
            bytes: vec![0; size.max(1)].into_boxed_slice(),
            memos: vec![HeadMemo::default(); endpoints.clamp(1, MAX_MEMOS)].into_boxed_slice(),
        }
    }

    /// Heads found in the memos instead of parsed (tests, benches).
    pub fn memo_hits(&self) -> u64 {
        self.memos.iter().map(HeadMemo::hits).sum()
    }
}

/// Most request slices gathered into one vectored write.
const MAX_IOV: usize = 64;

/// One connection's state. `S` is the socket (mio's `TcpStream` in the worker).
#[derive(Debug)]
pub struct Conn<S> {
    pub io: Option<S>,
    pub phase: Phase,
    parser: ResponseParser,
    /// Capacity fixed at the pipelining depth; never grows.
    inflight: VecDeque<InFlight>,
    depth: usize,
    /// `inflight[write_idx..]` are not completely written yet; `write_off` bytes of
    /// `inflight[write_idx]` are.
    write_idx: usize,
    write_off: usize,
    /// Consecutive failures without a response in between (drives the back-off).
    pub failures: u32,
    /// True once this slot has been connected at least once.
    pub ever_connected: bool,
    /// The response being parsed is being sampled into the worker's store as this.
    sample: Option<u32>,
}

/// Shows the parser's view of the current response to the worker's sample store: only a
/// response whose endpoint and status have no sample yet is copied (bounded); for every
/// other one this costs one bitmap test.
struct Capture<'a> {
    store: &'a mut SampleStore,
    slot: &'a mut Option<u32>,
    endpoint: usize,
    now_ns: u64,
}

impl BodySink for Capture<'_> {
    #[inline]
    fn head(&mut self, status: u16, head: &[u8]) -> bool {
        if !self.store.wants(self.endpoint, status) {
            return false;
        }
        *self.slot = self.store.begin(self.endpoint, status, head, self.now_ns);
        self.slot.is_some()
    }

    #[inline]
    fn body(&mut self, data: &[u8]) {
        if let Some(i) = *self.slot {
            self.store.append(i, data);
        }
    }
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
            write_idx: 0,
            write_off: 0,
            failures: 0,
            ever_connected: false,
            sample: None,
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
            Phase::Down | Phase::Connecting | Phase::Handshaking => 0,
        }
    }

    /// Send time of the oldest outstanding request (its response is due first).
    pub fn oldest_sent(&self) -> Option<u64> {
        self.inflight.front().map(|f| f.sent_ns)
    }

    /// The oldest outstanding request.
    pub fn oldest(&self) -> Option<&InFlight> {
        self.inflight.front()
    }

    /// True while request bytes wait for the socket to become writable.
    pub fn write_pending(&self) -> bool {
        self.write_idx < self.inflight.len()
    }

    /// Attaches a socket whose connect is in progress.
    pub fn connecting(&mut self, io: S) {
        self.io = Some(io);
        self.phase = Phase::Connecting;
    }

    /// The TCP connect finished; a TLS handshake follows.
    pub fn handshaking(&mut self) {
        self.phase = Phase::Handshaking;
    }

    /// The connect (and handshake) finished.
    pub fn established(&mut self) {
        self.phase = Phase::Open;
        self.ever_connected = true;
    }

    /// Hands one request to the connection (at most `room()` times per turn). Its bytes
    /// are written by the next `flush`.
    #[inline]
    pub fn enqueue(&mut self, req: InFlight, stats: &mut WorkerStats) {
        debug_assert!(self.inflight.len() < self.depth);
        stats.record_sent(req.endpoint as usize);
        self.inflight.push_back(req);
    }

    /// Writes pending request bytes until done or the socket would block. Consecutive
    /// requests of one endpoint go out as one slice of `reqs`' repeated bytes; several
    /// slices (pipelining, mixed endpoints) as one vectored write.
    pub fn flush(&mut self, reqs: &Requests, stats: &mut WorkerStats) -> Outcome {
        while self.write_pending() {
            let Some(io) = self.io.as_mut() else {
                return self.fail(ErrorKind::Write, stats);
            };
            let mut pending = self.inflight.range(self.write_idx..).peekable();
            // The next run of requests of one endpoint, as one slice.
            let mut next_run = || {
                let e = pending.next()?.endpoint;
                let max = reqs.max_run(e as usize);
                let mut k = 1;
                while k < max && pending.next_if(|r| r.endpoint == e).is_some() {
                    k += 1;
                }
                Some(reqs.run(e as usize, k))
            };
            let first = next_run().unwrap_or_default();
            let first = first.get(self.write_off..).unwrap_or_default();
            let result = match next_run() {
                // One slice (no pipelining, or one endpoint's run): a plain write, no
                // slice list to fill.
                None => io.write(first),
                Some(second) => {
                    let mut iov = [IoSlice::new(&[]); MAX_IOV];
                    iov[0] = IoSlice::new(first);
                    iov[1] = IoSlice::new(second);
                    let mut n_iov = 2;
                    for slot in iov.iter_mut().skip(2) {
                        let Some(run) = next_run() else { break };
                        *slot = IoSlice::new(run);
                        n_iov += 1;
                    }
                    io.write_vectored(&iov[..n_iov])
                }
            };
            match result {
                Ok(0) => return self.fail(ErrorKind::Write, stats),
                Ok(mut n) => {
                    stats.bytes_written += n as u64;
                    // Advance over the requests the write covered.
                    while n > 0 {
                        let Some(req) = self.inflight.get(self.write_idx) else {
                            break;
                        };
                        let left = reqs
                            .len_of(req.endpoint as usize)
                            .saturating_sub(self.write_off);
                        if let Some(c) = stats.endpoints.get_mut(req.endpoint as usize) {
                            c.bytes_written += n.min(left) as u64;
                        }
                        if n >= left {
                            n -= left;
                            self.write_idx += 1;
                            self.write_off = 0;
                        } else {
                            self.write_off += n;
                            n = 0;
                        }
                    }
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
    /// After `MAX_READS` full reads it returns `Yield`.
    pub fn on_readable(
        &mut self,
        buf: &mut ReadBuf,
        now_ns: u64,
        drain: bool,
        stats: &mut WorkerStats,
    ) -> Outcome {
        let ReadBuf { bytes, memos } = buf;
        for _ in 0..MAX_READS {
            let Some(io) = self.io.as_mut() else {
                return Outcome::Open;
            };
            match io.read(bytes) {
                Ok(0) => return self.on_eof(now_ns, stats),
                Ok(n) => {
                    stats.bytes_read += n as u64;
                    let data = bytes.get(..n).unwrap_or_default();
                    let outcome = self.on_bytes(data, memos, now_ns, stats);
                    if outcome != Outcome::Open {
                        return outcome;
                    }
                    if n < bytes.len() && !drain {
                        return Outcome::Open;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Outcome::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(io_error_kind(&e, ErrorKind::Read), stats),
            }
        }
        Outcome::Yield
    }

    /// Feeds received bytes to the parser; each completed response ends the oldest
    /// in-flight request.
    fn on_bytes(
        &mut self,
        mut data: &[u8],
        memos: &mut [HeadMemo],
        now_ns: u64,
        stats: &mut WorkerStats,
    ) -> Outcome {
        while !data.is_empty() {
            let Some(front) = self.inflight.front() else {
                // Bytes nobody asked for: the stream is out of step; count and close.
                return self.fail(ErrorKind::Parse, stats);
            };
            let (head, close, deadline) = (front.head, front.close, front.deadline_ns);
            let ep = front.endpoint as usize;
            let mut sink = Capture {
                store: &mut stats.samples,
                slot: &mut self.sample,
                endpoint: ep,
                now_ns,
            };
            let memo = memos.get_mut(ep % memos.len().max(1));
            let fed = self.parser.feed_memo(data, head, &mut sink, memo);
            if let Some(c) = stats.endpoints.get_mut(ep) {
                let used = match fed {
                    Ok((used, Some(_))) => used,
                    _ => data.len(),
                };
                c.bytes_read += used as u64;
            }
            match fed {
                Ok((used, Some(resp))) => {
                    if now_ns > deadline {
                        // Later than its timeout (the timer had not fired yet): it ends as
                        // a timeout, like those queued behind it, and is not counted.
                        return self.fail(ErrorKind::Timeout, stats);
                    }
                    data = data.get(used..).unwrap_or(&[]);
                    let complete_request = self.write_idx > 0;
                    self.complete(resp.status, now_ns, stats);
                    if !resp.keep_alive || close || !complete_request {
                        // The server closes, the request asked to close, or the server
                        // answered a request we had not finished writing (its remaining
                        // bytes would now be misread): this connection is done.
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
            self.write_idx = self.write_idx.saturating_sub(1);
            stats.record_response_at(
                req.endpoint as usize,
                status,
                now_ns.saturating_sub(req.intended_ns),
                now_ns.saturating_sub(req.sent_ns),
                now_ns,
            );
            if let Some(i) = self.sample.take() {
                stats.samples.finish(i);
            }
            self.failures = 0;
        }
    }

    fn on_eof(&mut self, now_ns: u64, stats: &mut WorkerStats) -> Outcome {
        match self.parser.eof() {
            Ok(Some(_))
                if self
                    .inflight
                    .front()
                    .is_some_and(|f| now_ns > f.deadline_ns) =>
            {
                self.fail(ErrorKind::Timeout, stats)
            }
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

    /// Ends every outstanding request with `kind` (or counts one connection error when
    /// none is outstanding) and drops the connection state (the socket stays in `io` for
    /// the caller to deregister).
    pub fn fail(&mut self, kind: ErrorKind, stats: &mut WorkerStats) -> Outcome {
        if let Some(i) = self.sample.take() {
            stats.samples.abort(i);
        }
        if self.inflight.is_empty() {
            stats.record_conn_error(kind);
        }
        for req in &self.inflight {
            stats.record_failed(req.endpoint as usize, kind);
        }
        self.failures = self.failures.saturating_add(1);
        self.reset();
        Outcome::Failed(kind)
    }

    /// The run stopped: outstanding requests are counted as in flight at stop.
    pub fn abandon(&mut self, stats: &mut WorkerStats) {
        if let Some(i) = self.sample.take() {
            stats.samples.abort(i);
        }
        for req in &self.inflight {
            if let Some(c) = stats.endpoints.get_mut(req.endpoint as usize) {
                c.in_flight_at_stop += 1;
            }
        }
        self.reset();
    }

    fn reset(&mut self) {
        self.inflight.clear();
        self.parser.reset();
        self.write_idx = 0;
        self.write_off = 0;
        self.phase = Phase::Down;
    }
}

/// Maps an I/O error to its kind: a TLS failure is its own kind, resets (and their
/// cousins) are `reset`, the rest is the direction's own kind.
pub fn io_error_kind(e: &io::Error, otherwise: ErrorKind) -> ErrorKind {
    if let Some(kind) = super::transport::tls_fault_kind(e) {
        return kind;
    }
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

    /// An in-memory socket: reads come from scripted chunks (then WouldBlock or EOF),
    /// writes go to `written`, at most `write_cap` bytes per call and `write_budget`
    /// bytes in all before WouldBlock.
    #[derive(Default)]
    struct Mem {
        reads: VecDeque<io::Result<Vec<u8>>>,
        eof_when_empty: bool,
        written: Vec<u8>,
        write_cap: usize,
        write_budget: Option<usize>,
        writes: usize,
        /// Slices in the last write (1 for a plain `write`).
        last_slices: usize,
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

    impl Mem {
        fn allowance(&mut self) -> io::Result<usize> {
            let cap = if self.write_cap == 0 {
                usize::MAX
            } else {
                self.write_cap
            };
            match self.write_budget {
                Some(0) => Err(io::ErrorKind::WouldBlock.into()),
                Some(b) => Ok(cap.min(b)),
                None => Ok(cap),
            }
        }
        fn take(&mut self, n: usize) {
            if let Some(b) = self.write_budget.as_mut() {
                *b -= n;
            }
            self.writes += 1;
        }
    }

    impl Write for Mem {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.allowance()?);
            self.written.extend_from_slice(&buf[..n]);
            self.take(n);
            self.last_slices = 1;
            Ok(n)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.last_slices = bufs.len();
            let mut left = self.allowance()?;
            let mut n = 0;
            for b in bufs {
                let k = b.len().min(left);
                self.written.extend_from_slice(&b[..k]);
                n += k;
                left -= k;
            }
            self.take(n);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const REQ_B: &[u8] = b"HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

    /// The two endpoints' requests, repeated for up to 4 in a run (so that longer runs of
    /// one endpoint take several slices).
    fn reqs() -> Requests {
        Requests::new(&[REQ, REQ_B], 4)
    }

    fn open(depth: usize, mem: Mem) -> Conn<Mem> {
        let mut c = Conn::new(depth, Limits::default());
        c.connecting(mem);
        c.established();
        c
    }

    fn req(endpoint: u32, intended: u64, sent: u64) -> InFlight {
        InFlight {
            intended_ns: intended,
            sent_ns: sent,
            deadline_ns: sent + 1_000_000_000,
            endpoint,
            head: endpoint == 1,
            close: false,
        }
    }

    fn send(c: &mut Conn<Mem>, n: usize, now: u64, st: &mut WorkerStats) -> Outcome {
        for _ in 0..n {
            c.enqueue(req(0, now, now), st);
        }
        c.flush(&reqs(), st)
    }

    fn mem(c: &mut Conn<Mem>) -> &mut Mem {
        c.io.as_mut().unwrap()
    }

    #[test]
    fn one_request_one_response() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        assert_eq!(c.room(), 1);
        assert_eq!(send(&mut c, 1, 1_000, &mut st), Outcome::Open);
        assert_eq!(mem(&mut c).written, REQ);
        assert_eq!(c.room(), 0);
        mem(&mut c).reads.push_back(Ok(OK.to_vec()));
        let mut scratch = ReadBuf::new(4096, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 51_000, false, &mut st),
            Outcome::Open
        );
        let t = st.total();
        assert_eq!(t.completed, 1);
        assert_eq!(t.status[200], 1);
        assert_eq!(t.latency.max(), 50);
        assert_eq!(c.room(), 1);
        assert_eq!(st.bytes_written, REQ.len() as u64);
        assert_eq!(st.bytes_read, OK.len() as u64);
    }

    #[test]
    fn response_and_service_time_are_measured_from_intended_and_sent() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        // Intended at 0, but only sent at 30 µs (it waited for a connection).
        c.enqueue(req(0, 0, 30_000), &mut st);
        c.flush(&reqs(), &mut st);
        mem(&mut c).reads.push_back(Ok(OK.to_vec()));
        let mut scratch = ReadBuf::new(1024, 1);
        c.on_readable(&mut scratch, 100_000, false, &mut st);
        let t = st.total();
        assert_eq!(t.latency.max(), 100);
        assert_eq!(t.service.max(), 70);
    }

    #[test]
    fn pipelined_responses_split_anywhere_each_keep_their_send_time() {
        let all: Vec<u8> = OK.repeat(4);
        for cut in 0..=all.len() {
            let mut st = WorkerStats::new(2);
            let mut c = open(4, Mem::default());
            // Two requests at t=0, two at t=10µs.
            send(&mut c, 2, 0, &mut st);
            send(&mut c, 2, 10_000, &mut st);
            assert_eq!(mem(&mut c).written, REQ.repeat(4));
            let m = mem(&mut c);
            // An empty read would mean end of stream: only push non-empty pieces.
            for piece in [&all[..cut], &all[cut..]] {
                if !piece.is_empty() {
                    m.reads.push_back(Ok(piece.to_vec()));
                }
            }
            let mut scratch = ReadBuf::new(8192, 1);
            // Call twice, as edge-triggered readiness would after each arrival.
            c.on_readable(&mut scratch, 20_000, false, &mut st);
            c.on_readable(&mut scratch, 20_000, false, &mut st);
            let t = st.total();
            assert_eq!(t.completed, 4, "cut {cut}");
            // 20 µs for the first two, 10 µs for the last two.
            assert_eq!(t.latency.max(), 20);
            assert_eq!(t.latency.min(), 10);
            assert_eq!(c.in_flight(), 0);
        }
    }

    #[test]
    fn mixed_endpoints_pipelined_in_one_vectored_write() {
        let mut st = WorkerStats::new(2);
        let mut c = open(4, Mem::default());
        for e in [0, 1, 0, 1] {
            c.enqueue(req(e, 0, 0), &mut st);
        }
        c.flush(&reqs(), &mut st);
        assert_eq!(mem(&mut c).writes, 1, "one writev for four requests");
        assert_eq!(mem(&mut c).written, [REQ, REQ_B, REQ, REQ_B].concat());
        // HEAD answers (endpoint 1) carry a length but no body.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        let answers = [OK, &head[..], OK, &head[..]].concat();
        mem(&mut c).reads.push_back(Ok(answers));
        let mut scratch = ReadBuf::new(4096, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Open
        );
        assert_eq!(st.endpoints[0].completed, 2);
        assert_eq!(st.endpoints[1].completed, 2);
        assert_eq!(st.endpoints[1].sent, 2);
    }

    /// The bytes of requests of these endpoints (0: `REQ`, 1: `REQ_B`), in order.
    fn wire(order: &[u32]) -> Vec<u8> {
        let one = [REQ, REQ_B];
        order
            .iter()
            .flat_map(|&e| one[e as usize])
            .copied()
            .collect()
    }

    #[test]
    fn runs_of_one_endpoint_go_out_as_one_slice_each() {
        let cases: &[(&[u32], usize, usize)] = &[
            // (endpoints in order, slices in the write, writes)
            (&[0], 1, 1),
            (&[0, 0, 0, 0], 1, 1),
            (&[0; 10], 3, 1),
            (&[0, 0, 1, 1, 1, 0], 3, 1),
            (&[1, 0, 1, 0], 4, 1),
        ];
        for &(order, slices, writes) in cases {
            let mut st = WorkerStats::new(2);
            let mut c = open(order.len(), Mem::default());
            for &e in order {
                c.enqueue(req(e, 0, 0), &mut st);
            }
            assert_eq!(c.flush(&reqs(), &mut st), Outcome::Open, "{order:?}");
            let m = mem(&mut c);
            assert_eq!((m.last_slices, m.writes), (slices, writes), "{order:?}");
            assert_eq!(m.written, wire(order), "{order:?}");
        }
    }

    #[test]
    fn more_requests_than_one_vectored_write_takes_go_out_in_order() {
        let mut st = WorkerStats::new(2);
        let n = MAX_IOV + 36;
        let mut c = open(n, Mem::default());
        let order: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
        for &e in &order {
            c.enqueue(req(e, 0, 0), &mut st);
        }
        assert_eq!(c.flush(&reqs(), &mut st), Outcome::Open);
        assert!(!c.write_pending());
        // 67 runs (one request of endpoint 1, then two of endpoint 0, ...).
        assert_eq!(mem(&mut c).writes, 2, "{MAX_IOV} slices, then the rest");
        assert_eq!(mem(&mut c).last_slices, 67 - MAX_IOV);
        assert_eq!(mem(&mut c).written, wire(&order));
        assert_eq!(
            st.endpoints[1].bytes_written,
            (n as u64).div_ceil(3) * REQ_B.len() as u64
        );
    }

    #[test]
    fn bytes_are_attributed_to_the_endpoint_of_each_request() {
        let mut st = WorkerStats::new(2);
        let mut c = open(4, Mem::default());
        for e in [0, 1, 0] {
            c.enqueue(req(e, 0, 0), &mut st);
        }
        c.flush(&reqs(), &mut st);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        let answers = [OK, &head[..], OK].concat();
        // Split mid-response, as reads do.
        let (a, b) = answers.split_at(OK.len() + 10);
        mem(&mut c).reads.push_back(Ok(a.to_vec()));
        mem(&mut c).reads.push_back(Ok(b.to_vec()));
        let mut scratch = ReadBuf::new(4096, 1);
        c.on_readable(&mut scratch, 5, true, &mut st);
        assert_eq!(st.total().completed, 3);
        assert_eq!(st.endpoints[0].bytes_written, 2 * REQ.len() as u64);
        assert_eq!(st.endpoints[1].bytes_written, REQ_B.len() as u64);
        assert_eq!(st.endpoints[0].bytes_read, 2 * OK.len() as u64);
        assert_eq!(st.endpoints[1].bytes_read, head.len() as u64);
        assert_eq!(
            st.bytes_read,
            st.endpoints[0].bytes_read + st.endpoints[1].bytes_read
        );
    }

    #[test]
    fn first_response_of_each_status_is_sampled_then_nothing_is_copied() {
        let mut st = WorkerStats::new(2);
        st.prepare(8, 4);
        let mut c = open(8, Mem::default());
        send(&mut c, 6, 0, &mut st);
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
                        4\r\nnope\r\n6\r\n, gone\r\n0\r\n\r\n";
        let other = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nworld";
        let stream = [OK, &chunked[..], OK, &other[..], &chunked[..], OK].concat();
        // Every split gives the same samples.
        for at in 0..=stream.len() {
            let mut st2 = WorkerStats::new(2);
            st2.prepare(8, 4);
            let mut c2 = open(8, Mem::default());
            send(&mut c2, 6, 0, &mut st2);
            let (a, b) = stream.split_at(at);
            for piece in [a, b] {
                if !piece.is_empty() {
                    mem(&mut c2).reads.push_back(Ok(piece.to_vec()));
                }
            }
            let mut scratch = ReadBuf::new(4096, 1);
            c2.on_readable(&mut scratch, 5, true, &mut st2);
            c2.on_readable(&mut scratch, 5, true, &mut st2);
            assert_eq!(st2.total().completed, 6, "at {at}");
            let got: Vec<(u16, String, bool)> = st2
                .samples
                .samples_of(0)
                .into_iter()
                .map(|s| (s.status, s.body, s.truncated))
                .collect();
            assert_eq!(
                got,
                vec![(200, "hello".into(), false), (404, "nope, go".into(), true)],
                "at {at}"
            );
        }
        mem(&mut c).reads.push_back(Ok(stream));
        let mut scratch = ReadBuf::new(4096, 1);
        c.on_readable(&mut scratch, 5, true, &mut st);
        let s = st.samples.samples_of(0);
        assert_eq!(
            s[1].head,
            "HTTP/1.1 404 Not Found\nTransfer-Encoding: chunked"
        );
        assert!(st.samples.samples_of(1).is_empty());
    }

    #[test]
    fn a_failed_response_is_not_kept_as_the_sample() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = mem(&mut c);
        m.reads.push_back(Ok(
            b"HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\nabc".to_vec()
        ));
        m.eof_when_empty = true;
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, true, &mut st),
            Outcome::Failed(ErrorKind::Closed)
        );
        assert!(st.samples.samples_of(0).is_empty());
        assert!(st.samples.wants(0, 500), "a later 500 is sampled instead");
    }

    #[test]
    fn a_hostile_huge_body_stays_bounded() {
        let mut st = WorkerStats::new(2);
        st.prepare(4096, 1);
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = mem(&mut c);
        m.reads.push_back(Ok(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()
        ));
        // 64 MiB of chunk data in 64 KiB chunks, then the end.
        let chunk = [b"10000\r\n".as_slice(), &[b'z'; 0x10000], b"\r\n"].concat();
        for _ in 0..1024 {
            m.reads.push_back(Ok(chunk.clone()));
        }
        m.reads.push_back(Ok(b"0\r\n\r\n".to_vec()));
        let mut scratch = ReadBuf::new(64 * 1024, 1);
        for _ in 0..2000 {
            c.on_readable(&mut scratch, 5, false, &mut st);
            if st.total().completed == 1 {
                break;
            }
        }
        assert_eq!(st.total().completed, 1);
        let s = &st.samples.samples_of(0)[0];
        assert_eq!(s.body.len(), 4096);
        assert!(s.truncated);
        assert!(
            st.samples.stored_bytes() <= 4096 + 64,
            "{}",
            st.samples.stored_bytes()
        );
        assert!(st.bytes_read > 64 << 20);
    }

    #[test]
    fn partial_writes_resume_at_the_right_byte() {
        let mut st = WorkerStats::new(2);
        let m = Mem {
            write_cap: 7,
            write_budget: Some(30),
            ..Mem::default()
        };
        let mut c = open(3, m);
        for e in [0, 1, 0] {
            c.enqueue(req(e, 0, 0), &mut st);
        }
        assert_eq!(c.flush(&reqs(), &mut st), Outcome::Open);
        assert!(c.write_pending());
        assert_eq!(mem(&mut c).written.len(), 30);
        mem(&mut c).write_budget = None;
        assert_eq!(c.flush(&reqs(), &mut st), Outcome::Open);
        assert!(!c.write_pending());
        assert_eq!(mem(&mut c).written, [REQ, REQ_B, REQ].concat());
        assert_eq!(st.bytes_written, (2 * REQ.len() + REQ_B.len()) as u64);
    }

    #[test]
    fn more_requests_join_a_partial_write() {
        let mut st = WorkerStats::new(2);
        let m = Mem {
            write_budget: Some(REQ.len() + 5),
            ..Mem::default()
        };
        let mut c = open(2, m);
        c.enqueue(req(0, 0, 0), &mut st);
        c.enqueue(req(0, 0, 0), &mut st);
        c.flush(&reqs(), &mut st);
        // First request answered while the second is half written; a third joins.
        mem(&mut c).reads.push_back(Ok(OK.to_vec()));
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 1, false, &mut st),
            Outcome::Open
        );
        assert_eq!(c.room(), 1);
        c.enqueue(req(1, 2, 2), &mut st);
        mem(&mut c).write_budget = None;
        c.flush(&reqs(), &mut st);
        assert_eq!(mem(&mut c).written, [REQ, REQ, REQ_B].concat());
    }

    #[test]
    fn an_answer_to_a_request_not_fully_written_ends_the_connection() {
        let mut st = WorkerStats::new(2);
        let m = Mem {
            write_budget: Some(5),
            ..Mem::default()
        };
        let mut c = open(1, m);
        send(&mut c, 1, 0, &mut st);
        mem(&mut c).reads.push_back(Ok(
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ));
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Finished
        );
        assert_eq!(st.total().status[413], 1);
        assert!(!c.write_pending());
    }

    #[test]
    fn connection_close_after_response_is_an_orderly_end() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        mem(&mut c).reads.push_back(Ok(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ));
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Finished
        );
        let t = st.total();
        assert_eq!(t.completed, 1);
        assert_eq!(t.failed, 0);
        assert_eq!(c.phase, Phase::Down);
    }

    #[test]
    fn close_delimited_body_completes_at_eof() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = mem(&mut c);
        m.reads
            .push_back(Ok(b"HTTP/1.1 200 OK\r\n\r\nsome body".to_vec()));
        m.eof_when_empty = true;
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, true, &mut st),
            Outcome::Finished
        );
        let t = st.total();
        assert_eq!(t.completed, 1);
        assert_eq!(t.failed, 0);
    }

    #[test]
    fn silent_close_with_requests_outstanding_counts_each_as_closed() {
        let mut st = WorkerStats::new(2);
        let mut c = open(4, Mem::default());
        send(&mut c, 4, 0, &mut st);
        let m = mem(&mut c);
        m.reads.push_back(Ok(OK.to_vec()));
        m.eof_when_empty = true;
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, true, &mut st),
            Outcome::Failed(ErrorKind::Closed)
        );
        let t = st.total();
        assert_eq!(t.completed, 1);
        assert_eq!(t.failed, 3);
        assert_eq!(st.error_count(ErrorKind::Closed), 3);
        assert_eq!(t.sent, t.completed + t.failed);
    }

    #[test]
    fn eof_mid_response_is_closed_and_reset_is_reset() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = mem(&mut c);
        m.reads
            .push_back(Ok(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()));
        m.eof_when_empty = true;
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, true, &mut st),
            Outcome::Failed(ErrorKind::Closed)
        );

        let mut st = WorkerStats::new(2);
        let mut c = open(2, Mem::default());
        send(&mut c, 2, 0, &mut st);
        mem(&mut c)
            .reads
            .push_back(Err(io::ErrorKind::ConnectionReset.into()));
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Failed(ErrorKind::Reset)
        );
        assert_eq!(st.error_count(ErrorKind::Reset), 2);
        assert_eq!(st.total().failed, 2);
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
            let mut st = WorkerStats::new(2);
            let mut c = open(1, Mem::default());
            send(&mut c, *sent, 0, &mut st);
            mem(&mut c).reads.push_back(Ok(bytes.to_vec()));
            let mut scratch = ReadBuf::new(1024, 1);
            assert_eq!(
                c.on_readable(&mut scratch, 5, false, &mut st),
                Outcome::Failed(ErrorKind::Parse),
                "{name}"
            );
            assert_eq!(st.error_count(ErrorKind::Parse), 1, "{name}");
            assert_eq!(st.total().failed, *sent as u64, "{name}");
            assert_eq!(st.total().completed, 0, "{name}");
        }
    }

    #[test]
    fn short_read_stops_without_an_extra_read_unless_draining() {
        let mut st = WorkerStats::new(2);
        let mut c = open(2, Mem::default());
        send(&mut c, 2, 0, &mut st);
        let m = mem(&mut c);
        m.reads.push_back(Ok(OK.to_vec()));
        m.reads.push_back(Ok(OK.to_vec()));
        let mut scratch = ReadBuf::new(1024, 1);
        c.on_readable(&mut scratch, 5, false, &mut st);
        assert_eq!(
            st.total().completed,
            1,
            "a short read drained the socket: no second read"
        );
        c.on_readable(&mut scratch, 5, true, &mut st);
        assert_eq!(st.total().completed, 2);
    }

    #[test]
    fn a_fast_stream_yields_after_the_read_budget() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        send(&mut c, 1, 0, &mut st);
        let m = mem(&mut c);
        let mut stream = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
        stream.resize(64 * (2 * MAX_READS + 5), b'x');
        for chunk in stream.chunks(64) {
            m.reads.push_back(Ok(chunk.to_vec()));
        }
        let mut scratch = ReadBuf::new(64, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Yield
        );
        assert_eq!(st.bytes_read, 64 * MAX_READS as u64);
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Yield
        );
    }

    #[test]
    fn a_response_after_the_deadline_is_a_timeout_not_a_success() {
        let mut st = WorkerStats::new(2);
        let mut c = open(2, Mem::default());
        send(&mut c, 2, 0, &mut st);
        mem(&mut c).reads.push_back(Ok(OK.repeat(2)));
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 1_000_000_001, false, &mut st),
            Outcome::Failed(ErrorKind::Timeout)
        );
        assert_eq!(st.total().completed, 0);
        assert_eq!(st.error_count(ErrorKind::Timeout), 2);
    }

    #[test]
    fn a_request_that_asked_to_close_ends_the_connection_after_its_response() {
        let mut st = WorkerStats::new(2);
        let mut c = open(1, Mem::default());
        c.enqueue(
            InFlight {
                close: true,
                ..req(0, 0, 0)
            },
            &mut st,
        );
        c.flush(&reqs(), &mut st);
        // The server ignores the request's `Connection: close` and keeps the connection.
        mem(&mut c).reads.push_back(Ok(OK.to_vec()));
        let mut scratch = ReadBuf::new(1024, 1);
        assert_eq!(
            c.on_readable(&mut scratch, 5, false, &mut st),
            Outcome::Finished
        );
        assert_eq!(st.total().completed, 1);
    }

    #[test]
    fn abandon_counts_in_flight_per_endpoint() {
        let mut st = WorkerStats::new(2);
        let mut c = open(3, Mem::default());
        for e in [0, 1, 1] {
            c.enqueue(req(e, 0, 0), &mut st);
        }
        c.abandon(&mut st);
        assert_eq!(st.endpoints[0].in_flight_at_stop, 1);
        assert_eq!(st.endpoints[1].in_flight_at_stop, 2);
        assert_eq!(c.in_flight(), 0);
    }

    /// Endpoints in order, the server's stream cut into reads, the write budget added
    /// before each read, the per-call write cap.
    type ScriptedConn = (Vec<u32>, Vec<Vec<u8>>, Vec<usize>, usize);

    /// Decisions of one differential scenario, drawn before either run so both see the same.
    struct Scenario {
        requests: Vec<Vec<u8>>,
        head: Vec<bool>,
        close: Vec<bool>,
        depth: usize,
        memos: usize,
        /// Per connection: endpoints in order, the server's stream cut into reads, the
        /// write budget added before each read and the per-call write cap.
        conns: Vec<ScriptedConn>,
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Final heads that share prefixes with one another (and a 1xx, a leading empty
    /// line, HTTP/1.0, a close, a bad length), each with the body a GET would get.
    const VARIANTS: &[(&[u8], &[u8])] = &[
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"hello"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: 1\r\n\r\n",
            b"hello",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
            &[b'z'; 50],
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\n", b"hello"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n",
            b"nope!",
        ),
        (
            b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            b"hello",
        ),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", b"hello"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
            b"hello",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", b""),
    ];

    fn scenario(seed: u64) -> Scenario {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let n = 1 + r.below(5);
        let requests: Vec<Vec<u8>> = (0..n)
            .map(|e| {
                let pad = "p".repeat(r.below(200));
                format!("GET /{e}?{pad} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
            })
            .collect();
        let head: Vec<bool> = (0..n).map(|_| r.below(3) == 0).collect();
        let close: Vec<bool> = (0..n).map(|_| r.below(8) == 0).collect();
        let depth = 1 + r.below(12);
        let memos = 1 + r.below(2);
        let conns = (0..3)
            .map(|_| {
                let mut order: Vec<u32> = Vec::new();
                for _ in 0..depth {
                    let e = match order.last() {
                        Some(&p) if r.below(2) == 0 => p,
                        _ => r.below(n) as u32,
                    };
                    order.push(e);
                }
                // Mostly one variant per endpoint (memo hits), sometimes another.
                let mut stream = Vec::new();
                for &e in &order {
                    let v = if r.below(4) == 0 {
                        r.below(VARIANTS.len())
                    } else {
                        e as usize % 3
                    };
                    let (h, body) = VARIANTS[v];
                    stream.extend_from_slice(h);
                    // Mostly right for the method; sometimes a body after a HEAD head.
                    if !head[e as usize] || r.below(10) == 0 {
                        stream.extend_from_slice(body);
                    }
                }
                let mut pieces = Vec::new();
                let mut rest = &stream[..];
                while !rest.is_empty() {
                    let k = 1 + r.below(rest.len().min(80));
                    pieces.push(rest[..k].to_vec());
                    rest = &rest[k..];
                }
                let budgets = (0..=pieces.len()).map(|_| r.below(400)).collect();
                (order, pieces, budgets, r.below(3) * 37)
            })
            .collect();
        Scenario {
            requests,
            head,
            close,
            depth,
            memos,
            conns,
        }
    }

    /// What a scenario left: bytes on the wire, per-endpoint counts, outcomes, samples.
    fn simulate(s: &Scenario, optimised: bool) -> (Vec<Vec<u8>>, String, Vec<Outcome>, u64) {
        let n = s.requests.len();
        let mut st = WorkerStats::new(n);
        // Without the optimisations: no memo, one slice per request.
        let reqs = Requests::new(&s.requests, if optimised { s.depth } else { 1 });
        let mut buf = ReadBuf::new(64, s.memos);
        if !optimised {
            buf.memos = Box::new([]);
        }
        let mut wire = Vec::new();
        let mut outcomes = Vec::new();
        for (order, pieces, budgets, cap) in &s.conns {
            let mut c = open(s.depth, Mem::default());
            mem(&mut c).write_cap = *cap;
            mem(&mut c).write_budget = Some(budgets[0]);
            for &e in order {
                let r = InFlight {
                    head: s.head[e as usize],
                    close: s.close[e as usize],
                    ..req(e, 0, 0)
                };
                c.enqueue(r, &mut st);
            }
            let mut out = c.flush(&reqs, &mut st);
            for (piece, budget) in pieces.iter().zip(&budgets[1..]) {
                if out != Outcome::Open {
                    break;
                }
                *mem(&mut c).write_budget.as_mut().unwrap() += budget;
                out = c.flush(&reqs, &mut st);
                if out != Outcome::Open {
                    break;
                }
                mem(&mut c).reads.push_back(Ok(piece.clone()));
                out = c.on_readable(&mut buf, 7, false, &mut st);
                outcomes.push(out);
            }
            if out == Outcome::Open {
                c.abandon(&mut st);
            }
            let written = c.io.as_ref().map_or(Vec::new(), |m| m.written.clone());
            let want: Vec<u8> = order
                .iter()
                .flat_map(|&e| s.requests[e as usize].iter().copied())
                .collect();
            assert!(want.starts_with(&written), "not the requests in order");
            wire.push(written);
        }
        let mut counts = String::new();
        for (e, k) in st.endpoints.iter().enumerate() {
            let status: Vec<(usize, u64)> = k
                .status
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > 0)
                .map(|(i, &v)| (i, v))
                .collect();
            counts += &format!(
                "ep {e}: sent {} completed {} failed {} errors {:?} stop {} written {} read {} status {:?} samples {:?}\n",
                k.sent,
                k.completed,
                k.failed,
                k.errors,
                k.in_flight_at_stop,
                k.bytes_written,
                k.bytes_read,
                status,
                st.samples.samples_of(e),
            );
        }
        counts += &format!(
            "total read {} written {}\n",
            st.bytes_read, st.bytes_written
        );
        (wire, counts, outcomes, buf.memo_hits())
    }

    #[test]
    fn memo_and_runs_change_nothing_against_a_plain_parse_and_one_slice_per_request() {
        let mut hits = 0;
        for seed in 0..1500 {
            let s = scenario(seed);
            let plain = simulate(&s, false);
            let fast = simulate(&s, true);
            assert_eq!(plain.0, fast.0, "wire, seed {seed}");
            assert_eq!(plain.1, fast.1, "counts, seed {seed}");
            assert_eq!(plain.2, fast.2, "outcomes, seed {seed}");
            assert_eq!(plain.3, 0);
            hits += fast.3;
        }
        // The memo was used (and so could have changed something).
        assert!(hits > 1000, "{hits}");
    }
}
