//! Incremental HTTP/1.1 response parser: bytes in, progress out.
//!
//! Owns: finding where each response ends on a connection — the head (via httparse) and
//! the body length per RFC 9112 §6.3 — and whether the connection may be reused after it.
//! Gives the same result however the bytes are split across `feed` calls.
//!
//! Must not: touch sockets or clocks, store body bytes, grow memory without bound, or panic
//! on any input. (`feed_with` shows the current response's head and body bytes to a
//! `BodySink` as it passes over them — for chunked bodies the de-chunked data — so a caller
//! can keep a bounded sample; the parser still keeps none.) The only allocation is the head buffer, used only when a head is split
//! across reads, bounded by `Limits::max_head`, and freed when it grew above ~1 KiB.
//!
//! Choices worth knowing:
//! - Leading empty lines before a status line are skipped by httparse; they count in
//!   `head_len`.
//! - Interim 1xx heads (not 101) are skipped; their bytes are added to the final
//!   response's `head_len`.
//! - For responses without a body (HEAD, 1xx, 204, 304) Content-Length and
//!   Transfer-Encoding are ignored entirely (not validated), as RFC 9112 §6.3 rule 1 says the
//!   message ends at the empty line regardless.
//! - A split head is re-parsed only when the new bytes complete an empty line (`\n\n` or
//!   `\n\r\n`), the only way an httparse head can complete; errors that show up before
//!   that are reported when the buffer fills, at the empty line, or at `eof`, so the
//!   outcome is still independent of how the bytes were split.
//! - At most [`HEADERS_CAP`] (512) header fields per head; `Limits::max_headers` above that is
//!   clamped.
//! - [`HeadMemo`]: a head is a pure function of its bytes, so a caller that keeps the last
//!   head of a stream of alike responses (the worker keeps one per endpoint) lets the
//!   parser skip httparse when the next head is the same bytes: one comparison instead of
//!   a parse. The result is the same with or without it (tested, fuzzed).

use std::fmt;
use std::mem::MaybeUninit;

use super::chunked::ChunkedDecoder;

/// Hard cap on header fields per head (the size of the on-stack httparse array).
pub const HEADERS_CAP: usize = 512;
/// A head buffer whose capacity grew above this is freed after the head completes.
const KEEP_HEAD_CAPACITY: usize = 4096;
/// First allocation of the head buffer: most split heads fit, so steady state never regrows.
const INITIAL_HEAD_CAPACITY: usize = 512;

/// Sees the bytes of each final response as the parser passes over them (see
/// `ResponseParser::feed_with`). Borrowed slices of the input or of the head buffer: no
/// copy unless the sink makes one.
pub trait BodySink {
    /// A final response's head was parsed: `head` is its status line, fields and empty
    /// line (skipped 1xx heads and leading empty lines before it are not included).
    /// Return true to be given its body bytes.
    fn head(&mut self, status: u16, head: &[u8]) -> bool;
    /// Body bytes of the current response, in order (for chunked: the chunk data only).
    fn body(&mut self, data: &[u8]);
}

/// A sink that wants nothing: `feed` uses it.
pub struct NoSink;

impl BodySink for NoSink {
    #[inline]
    fn head(&mut self, _status: u16, _head: &[u8]) -> bool {
        false
    }
    #[inline]
    fn body(&mut self, _data: &[u8]) {}
}

/// Bounds against hostile or broken servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes of one head (status line + fields + empty line). Default 64 KiB.
    pub max_head: usize,
    /// Maximum header fields in one head. Default 512 (also the hard cap).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 64 * 1024,
            max_headers: HEADERS_CAP,
        }
    }
}

/// One complete final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    pub minor_version: u8,
    /// Bytes of the head, including skipped 1xx heads and leading empty lines.
    pub head_len: usize,
    /// Body bytes as framed on the wire (for chunked: everything after the head, including
    /// chunk framing and trailers).
    pub body_len: u64,
    /// False: the connection must be closed after this response.
    pub keep_alive: bool,
}

/// Why a response could not be parsed. Any of these poisons the parser until `reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    HeadTooLarge,
    TooManyHeaders,
    /// httparse rejected the head.
    BadHead,
    BadContentLength,
    BadChunked,
    UnexpectedEof,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::HeadTooLarge => "response head too large",
            ParseError::TooManyHeaders => "too many response header fields",
            ParseError::BadHead => "malformed response head",
            ParseError::BadContentLength => "invalid Content-Length",
            ParseError::BadChunked => "malformed chunked body",
            ParseError::UnexpectedEof => "connection closed mid-response",
        })
    }
}

impl std::error::Error for ParseError {}

/// Where the parser is in the current response.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for (the rest of) a head; partial bytes, if any, are in `head_buf`.
    Head,
    /// Skipping a Content-Length body.
    Length { resp: Response, remaining: u64 },
    /// Skipping a chunked body.
    Chunked { resp: Response, dec: ChunkedDecoder },
    /// Skipping a body that ends when the server closes the connection.
    UntilClose { resp: Response },
    /// An error was returned; it is returned again until `reset`.
    Poisoned(ParseError),
}

/// How the body of a just-parsed head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// A 1xx other than 101: not the final response, another head follows.
    Interim,
    NoBody,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What one parsed head says, with no borrow of the bytes left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    len: usize,
    status: u16,
    minor_version: u8,
    framing: Framing,
    keep_alive: bool,
}

/// Longest head a [`HeadMemo`] keeps (typical heads are 100-400 bytes; longer ones are
/// parsed every time).
pub const MEMO_CAP: usize = 512;

/// The last final head parsed for one stream of alike responses (one endpoint's, in the
/// worker), and what it parsed to.
///
/// `parse_head` is a pure function of the head's bytes, the limits and whether the request
/// was HEAD: httparse stops at the empty line and the framing rules only read the fields.
/// So input that starts with exactly the remembered bytes, under the same limits and
/// method, parses to the remembered `Head`, and a memcmp replaces the parse (for the
/// micro-benchmark's nginx-like head, 228 instructions instead of 2,180; nginx's Date field
/// changes once a second, and then one parse refreshes the memo). Fixed size, no allocation; heads over [`MEMO_CAP`] bytes, interim
/// 1xx heads and heads that ended in an error are not remembered.
#[derive(Debug, Clone)]
pub struct HeadMemo {
    bytes: [u8; MEMO_CAP],
    /// What `bytes` parsed to (`head.len` bytes of them); `None` while empty.
    head: Option<Head>,
    head_request: bool,
    limits: Limits,
    /// Heads found here instead of parsed.
    hits: u64,
}

impl Default for HeadMemo {
    fn default() -> Self {
        HeadMemo {
            bytes: [0; MEMO_CAP],
            head: None,
            head_request: false,
            limits: Limits::default(),
            hits: 0,
        }
    }
}

impl HeadMemo {
    /// The remembered head, if `input` starts with its bytes under these limits and method.
    #[inline]
    fn lookup(&mut self, input: &[u8], limits: &Limits, head_request: bool) -> Option<Head> {
        let head = self.head?;
        let known = self.bytes.get(..head.len)?;
        let hit = input.get(..head.len) == Some(known)
            && head_request == self.head_request
            && *limits == self.limits;
        self.hits += u64::from(hit);
        hit.then_some(head)
    }

    /// Remembers `bytes` (a whole final head) and what it parsed to, if it fits.
    #[inline]
    fn store(&mut self, bytes: &[u8], head: Head, limits: &Limits, head_request: bool) {
        let Some(dst) = self.bytes.get_mut(..bytes.len()) else {
            return;
        };
        dst.copy_from_slice(bytes);
        self.head = Some(head);
        self.head_request = head_request;
        self.limits = *limits;
    }

    /// Whether a head is remembered (tests).
    pub fn is_set(&self) -> bool {
        self.head.is_some()
    }

    /// How many heads were found here instead of parsed (tests, benches).
    pub fn hits(&self) -> u64 {
        self.hits
    }
}

/// Incremental parser for the responses on one connection.
///
/// 112 bytes on 64-bit targets (checked by a test), plus a heap head buffer only while a
/// head is split across reads (≤ `max_head`; ≤ 1 KiB is kept for reuse, larger is freed).
#[derive(Debug)]
pub struct ResponseParser {
    limits: Limits,
    state: State,
    /// Bytes of a head split across `feed` calls; empty otherwise.
    head_buf: Vec<u8>,
    /// Bytes of 1xx heads skipped for the current request (saturating; u32 keeps the
    /// parser small).
    interim_len: u32,
    /// The sink asked for the current response's body.
    capture: bool,
}

impl ResponseParser {
    pub fn new(limits: Limits) -> Self {
        ResponseParser {
            limits,
            state: State::Head,
            head_buf: Vec::new(),
            interim_len: 0,
            capture: false,
        }
    }

    /// Consumes bytes of the response to the oldest outstanding request. `head_request`:
    /// that request was HEAD.
    ///
    /// Returns `(consumed, Some(response))` when a response completed within `input`
    /// (`consumed` may be less than `input.len()`: the rest belongs to the next pipelined
    /// response; call `feed` again with it), or `(input.len(), None)` when all bytes were
    /// consumed and more are needed.
    pub fn feed(
        &mut self,
        input: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Response>), ParseError> {
        self.feed_with(input, head_request, &mut NoSink)
    }

    /// Like `feed`, and shows `sink` each final head and, when it asks for it, the body
    /// bytes consumed in this call (the same bytes however the input is split).
    #[inline]
    pub fn feed_with<S: BodySink + ?Sized>(
        &mut self,
        input: &[u8],
        head_request: bool,
        sink: &mut S,
    ) -> Result<(usize, Option<Response>), ParseError> {
        self.feed_memo(input, head_request, sink, None)
    }

    /// Like `feed_with`, and looks each head up in `memo` first (see [`HeadMemo`]): same
    /// results, fewer parses.
    #[inline]
    pub fn feed_memo<S: BodySink + ?Sized>(
        &mut self,
        input: &[u8],
        head_request: bool,
        sink: &mut S,
        mut memo: Option<&mut HeadMemo>,
    ) -> Result<(usize, Option<Response>), ParseError> {
        match self.feed_inner(input, head_request, sink, &mut memo) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.poison(e)),
        }
    }

    /// The server closed the connection. `Ok(Some)` finishes a close-delimited body;
    /// `Ok(None)` if between responses; `Err(UnexpectedEof)` if mid-response (or the
    /// buffered partial head is already malformed: its httparse error).
    pub fn eof(&mut self) -> Result<Option<Response>, ParseError> {
        let result = match &self.state {
            State::Poisoned(e) => Err(*e),
            State::UntilClose { resp } => Ok(Some(*resp)),
            State::Length { .. } | State::Chunked { .. } => Err(ParseError::UnexpectedEof),
            State::Head if self.head_buf.is_empty() && self.interim_len == 0 => Ok(None),
            State::Head if self.head_buf.is_empty() => Err(ParseError::UnexpectedEof),
            State::Head => match parse_head(&self.head_buf, &self.limits, false) {
                // Errors found late (re-parsing is lazy) are reported as what they are.
                Err(e) => Err(e),
                Ok(_) => Err(ParseError::UnexpectedEof),
            },
        };
        match result {
            Ok(r) => {
                self.state = State::Head;
                self.interim_len = 0;
                self.release_head_buf();
                Ok(r)
            }
            Err(e) => Err(self.poison(e)),
        }
    }

    /// True when between responses with nothing buffered.
    pub fn is_idle(&self) -> bool {
        self.state == State::Head && self.head_buf.is_empty() && self.interim_len == 0
    }

    /// Forget all state (connection replaced). Keeps no allocation.
    pub fn reset(&mut self) {
        self.state = State::Head;
        // Keep a small buffer across reconnects (no allocation per reconnect when heads
        // split); drop a large one.
        self.release_head_buf();
        self.interim_len = 0;
        self.capture = false;
    }

    /// Capacity of the head buffer (for tests and memory accounting).
    pub fn head_buffer_capacity(&self) -> usize {
        self.head_buf.capacity()
    }

    fn poison(&mut self, e: ParseError) -> ParseError {
        self.state = State::Poisoned(e);
        self.capture = false;
        self.head_buf = Vec::new();
        e
    }

    fn feed_inner<S: BodySink + ?Sized>(
        &mut self,
        input: &[u8],
        head_request: bool,
        sink: &mut S,
        memo: &mut Option<&mut HeadMemo>,
    ) -> Result<(usize, Option<Response>), ParseError> {
        let mut pos = 0usize;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match &mut self.state {
                State::Poisoned(e) => return Err(*e),
                State::Head => {
                    let Some((used, head)) = self.feed_head(rest, head_request, sink, memo)? else {
                        return Ok((input.len(), None));
                    };
                    pos = pos.saturating_add(used);
                    let head_len = (self.interim_len as usize).saturating_add(head.len);
                    if head.framing == Framing::Interim {
                        self.interim_len = u32::try_from(head_len).unwrap_or(u32::MAX);
                        continue;
                    }
                    self.interim_len = 0;
                    let resp = Response {
                        status: head.status,
                        minor_version: head.minor_version,
                        head_len,
                        body_len: 0,
                        keep_alive: head.keep_alive,
                    };
                    match head.framing {
                        Framing::NoBody | Framing::Length(0) | Framing::Interim => {
                            return Ok((pos, Some(resp)))
                        }
                        Framing::Length(n) => self.state = State::Length { resp, remaining: n },
                        Framing::Chunked => {
                            self.state = State::Chunked {
                                resp,
                                dec: ChunkedDecoder::new(),
                            }
                        }
                        Framing::UntilClose => self.state = State::UntilClose { resp },
                    }
                }
                State::Length { resp, remaining } => {
                    // Bulk skip: one subtraction however many bytes arrived.
                    let take = (*remaining).min(rest.len() as u64);
                    if self.capture {
                        // take <= rest.len(), so the cast is lossless.
                        sink.body(rest.get(..take as usize).unwrap_or_default());
                    }
                    *remaining -= take;
                    resp.body_len = resp.body_len.saturating_add(take);
                    if *remaining > 0 {
                        return Ok((input.len(), None));
                    }
                    let done = *resp;
                    self.state = State::Head;
                    // take <= rest.len(), so the cast is lossless.
                    return Ok((pos.saturating_add(take as usize), Some(done)));
                }
                State::Chunked { resp, dec } => {
                    let capture = self.capture;
                    let (used, done) = dec
                        .feed_data(rest, |data| {
                            if capture {
                                sink.body(data);
                            }
                        })
                        .map_err(|_| ParseError::BadChunked)?;
                    resp.body_len = resp.body_len.saturating_add(used as u64);
                    if !done {
                        return Ok((input.len(), None));
                    }
                    let finished = *resp;
                    self.state = State::Head;
                    return Ok((pos.saturating_add(used), Some(finished)));
                }
                State::UntilClose { resp } => {
                    if self.capture {
                        sink.body(rest);
                    }
                    resp.body_len = resp.body_len.saturating_add(rest.len() as u64);
                    return Ok((input.len(), None));
                }
            }
        }
    }

    /// Feeds head bytes. `Ok(None)`: all of `rest` was buffered, more is needed.
    /// `Ok(Some((used, head)))`: a head completed after `used` bytes of `rest`.
    fn feed_head<S: BodySink + ?Sized>(
        &mut self,
        rest: &[u8],
        head_request: bool,
        sink: &mut S,
        memo: &mut Option<&mut HeadMemo>,
    ) -> Result<Option<(usize, Head)>, ParseError> {
        let max_head = self.limits.max_head;
        if self.head_buf.is_empty() {
            // Fast path: parse in place, no copy. Only the first max_head bytes matter: a
            // head that does not complete within them is too large.
            let window = rest.get(..max_head).unwrap_or(rest);
            let known = memo
                .as_deref_mut()
                .and_then(|m| m.lookup(window, &self.limits, head_request));
            let parsed = match known {
                Some(head) => Some(head),
                None => parse_head(window, &self.limits, head_request)?,
            };
            if let Some(head) = parsed {
                if head.framing != Framing::Interim {
                    let bytes = window.get(..head.len).unwrap_or(window);
                    if known.is_none() {
                        if let Some(m) = memo.as_deref_mut() {
                            m.store(bytes, head, &self.limits, head_request);
                        }
                    }
                    self.capture = sink.head(head.status, bytes);
                }
                return Ok(Some((head.len, head)));
            }
            if rest.len() > max_head {
                return Err(ParseError::HeadTooLarge);
            }
            self.append_head(rest);
            return Ok(None);
        }

        let old = self.head_buf.len();
        let room = max_head.saturating_sub(old);
        let take = rest.get(..room).unwrap_or(rest);
        self.append_head(take);
        let full = self.head_buf.len() >= max_head;
        if completes_empty_line(&self.head_buf, old) || full {
            if let Some(head) = parse_head(&self.head_buf, &self.limits, head_request)? {
                // The empty line is in the new bytes (else it would have completed before).
                let used = head.len.checked_sub(old).ok_or(ParseError::BadHead)?;
                if head.framing != Framing::Interim {
                    let bytes = self.head_buf.get(..head.len).unwrap_or(&self.head_buf);
                    self.capture = sink.head(head.status, bytes);
                }
                self.release_head_buf();
                return Ok(Some((used, head)));
            }
        }
        if take.len() < rest.len() {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(None)
    }

    /// Appends to the head buffer, growing it by hand so its capacity never exceeds
    /// `max_head` (Vec's doubling could reach nearly twice that).
    fn append_head(&mut self, bytes: &[u8]) {
        let needed = self.head_buf.len().saturating_add(bytes.len());
        if needed > self.head_buf.capacity() {
            let target = needed
                .max(self.head_buf.capacity().saturating_mul(2))
                .max(INITIAL_HEAD_CAPACITY)
                .min(self.limits.max_head.max(needed));
            self.head_buf
                .reserve_exact(target.saturating_sub(self.head_buf.len()));
        }
        self.head_buf.extend_from_slice(bytes);
    }

    /// Empties the head buffer; frees it if it grew large, keeps it otherwise so steady
    /// state does not allocate.
    fn release_head_buf(&mut self) {
        if self.head_buf.capacity() > KEEP_HEAD_CAPACITY {
            self.head_buf = Vec::new();
        } else {
            self.head_buf.clear();
        }
    }
}

/// True if the bytes from `old` on complete an empty line (`\n\n` or `\n\r\n`), the only
/// way httparse can complete a head.
fn completes_empty_line(buf: &[u8], old: usize) -> bool {
    let from = old.saturating_sub(2);
    let Some(window) = buf.get(from..) else {
        return false;
    };
    window.windows(2).any(|w| w == b"\n\n") || window.windows(3).any(|w| w == b"\n\r\n")
}

/// Runs httparse over `buf`. `Ok(None)`: incomplete. On completion, works out the framing
/// and connection reuse from the fields.
fn parse_head(buf: &[u8], limits: &Limits, head_request: bool) -> Result<Option<Head>, ParseError> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADERS_CAP];
    let n_headers = limits.max_headers.min(HEADERS_CAP);
    let headers = storage.get_mut(..n_headers).unwrap_or_default();
    let mut resp = httparse::Response::new(&mut []);
    let status = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, headers)
        .map_err(|e| match e {
            httparse::Error::TooManyHeaders => ParseError::TooManyHeaders,
            _ => ParseError::BadHead,
        })?;
    let httparse::Status::Complete(len) = status else {
        return Ok(None);
    };
    let (Some(code), Some(minor)) = (resp.code, resp.version) else {
        return Err(ParseError::BadHead);
    };
    // Three digits, but 000-099 is no status (RFC 9110 §15: the first digit is the
    // class, 1-5; 6xx-9xx are kept, as some servers use them, e.g. 999).
    if code < 100 {
        return Err(ParseError::BadHead);
    }
    let fields = Fields::scan(resp.headers);
    let framing = framing(code, head_request, &fields)?;
    let keep_alive = keep_alive(code, minor, framing, &fields);
    Ok(Some(Head {
        len,
        status: code,
        minor_version: minor,
        framing,
        keep_alive,
    }))
}

/// What the framing rules need from the header fields.
#[derive(Debug, Default)]
struct Fields {
    /// The agreed Content-Length value, if any field was present.
    content_length: Option<Result<u64, ParseError>>,
    /// Transfer-Encoding present: Some(final coding is chunked).
    te_chunked: Option<bool>,
    close: bool,
    keep_alive: bool,
}

impl Fields {
    fn scan(headers: &[httparse::Header<'_>]) -> Fields {
        let mut f = Fields::default();
        for h in headers {
            if h.name.eq_ignore_ascii_case("content-length") {
                // Kept as a Result: an invalid value only matters if the length is used.
                f.content_length = Some(match f.content_length {
                    None => parse_content_length(h.value),
                    Some(Ok(prev)) => parse_content_length(h.value).and_then(|v| {
                        if v == prev {
                            Ok(v)
                        } else {
                            Err(ParseError::BadContentLength)
                        }
                    }),
                    Some(Err(e)) => Err(e),
                });
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Several fields form one list; only the last non-empty coding matters.
                let last = list(h.value).last();
                f.te_chunked = match (last, f.te_chunked) {
                    (Some(coding), _) => Some(coding.eq_ignore_ascii_case(b"chunked")),
                    (None, Some(prev)) => Some(prev),
                    (None, None) => Some(false),
                };
            } else if h.name.eq_ignore_ascii_case("connection") {
                for token in list(h.value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        f.close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        f.keep_alive = true;
                    }
                }
            }
        }
        f
    }
}

/// RFC 9112 §6.3, in order, for a response.
fn framing(code: u16, head_request: bool, f: &Fields) -> Result<Framing, ParseError> {
    if (100..200).contains(&code) && code != 101 {
        return Ok(Framing::Interim);
    }
    // Rule 1: HEAD, 101 (the protocol switches), 204 and 304 end at the empty line.
    if head_request || code == 101 || code == 204 || code == 304 {
        return Ok(Framing::NoBody);
    }
    match (f.te_chunked, f.content_length) {
        // Rules 3-4: Transfer-Encoding overrides Content-Length (the connection then closes);
        // a final coding other than chunked means the body runs until close.
        (Some(true), _) => Ok(Framing::Chunked),
        (Some(false), _) => Ok(Framing::UntilClose),
        (None, Some(Ok(n))) => Ok(Framing::Length(n)),
        // Rule 5: the framing is unknowable.
        (None, Some(Err(e))) => Err(e),
        // Rule 8: no length at all.
        (None, None) => Ok(Framing::UntilClose),
    }
}

fn keep_alive(code: u16, minor: u8, framing: Framing, f: &Fields) -> bool {
    if code == 101 || framing == Framing::UntilClose || f.close {
        return false;
    }
    // A body framed by both TE and CL may be a smuggling attempt: never reuse.
    if framing == Framing::Chunked && f.content_length.is_some() {
        return false;
    }
    if minor == 0 {
        return f.keep_alive;
    }
    true
}

/// Content-Length: 1*DIGIT, or a comma list of identical such values (RFC 9110 §8.6).
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let mut agreed: Option<u64> = None;
    for element in value.split(|&b| b == b',') {
        let digits = trim_ows(element);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::BadContentLength);
        }
        let mut n: u64 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(ParseError::BadContentLength)?;
        }
        match agreed {
            Some(prev) if prev != n => return Err(ParseError::BadContentLength),
            _ => agreed = Some(n),
        }
    }
    agreed.ok_or(ParseError::BadContentLength)
}

/// Non-empty elements of a comma-separated field value, OWS trimmed.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Feeds `pieces` in order to `parser` the way a connection would, and collects every
/// finished response or the error that ended it. `head_flags[i]` tells whether the i-th
/// request was HEAD (false beyond the slice). Stops after an error or after a response with
/// `keep_alive == false` (the caller would close); otherwise calls `eof()` at the end.
///
/// Also checks the contract on every call, panicking if it is broken: consumed bytes never
/// exceed the input, `None` means all bytes were consumed, every response accounts for
/// exactly the bytes consumed for it (`head_len + body_len`), and the head buffer stays
/// within `max_head`. Shared by the unit tests, the fuzz targets and `tests/fuzz_corpus.rs`.
/// With `memo`, heads are looked up in it first, as the worker does.
#[doc(hidden)]
pub fn drive(
    parser: &mut ResponseParser,
    pieces: &[&[u8]],
    head_flags: &[bool],
    mut memo: Option<&mut HeadMemo>,
) -> Vec<Result<Response, ParseError>> {
    let mut out = Vec::new();
    // Bytes consumed since the last response boundary.
    let mut since: u64 = 0;
    let cap_bound = parser.limits.max_head.max(INITIAL_HEAD_CAPACITY);
    let check = |since: u64, r: &Response| {
        assert_eq!(
            since,
            (r.head_len as u64).saturating_add(r.body_len),
            "bytes consumed != head_len + body_len for {r:?}"
        );
    };
    for piece in pieces {
        let mut rest: &[u8] = piece;
        while !rest.is_empty() {
            let head = head_flags.get(out.len()).copied().unwrap_or(false);
            match parser.feed_memo(rest, head, &mut NoSink, memo.as_deref_mut()) {
                Err(e) => {
                    assert_eq!(parser.feed(b"x", head), Err(e), "not poisoned");
                    out.push(Err(e));
                    return out;
                }
                Ok((n, resp)) => {
                    assert!(n <= rest.len(), "consumed {n} of {}", rest.len());
                    assert!(
                        parser.head_buffer_capacity() <= cap_bound,
                        "head buffer grew"
                    );
                    since += n as u64;
                    rest = rest.get(n..).unwrap_or_default();
                    match resp {
                        None => assert!(rest.is_empty(), "None but bytes left"),
                        Some(r) => {
                            check(since, &r);
                            since = 0;
                            out.push(Ok(r));
                            if !r.keep_alive {
                                return out;
                            }
                        }
                    }
                }
            }
        }
    }
    match parser.eof() {
        Ok(Some(r)) => {
            check(since, &r);
            assert!(!r.keep_alive, "close-delimited response marked keep-alive");
            out.push(Ok(r));
        }
        Ok(None) => assert_eq!(since, 0, "eof between responses after partial bytes"),
        Err(e) => out.push(Err(e)),
    }
    out
}

/// What a `BodySink` that wants everything saw: per final head, its status, head bytes
/// and body bytes (tests and fuzzing).
#[doc(hidden)]
#[derive(Debug, Default, PartialEq)]
pub struct Recorded(pub Vec<(u16, Vec<u8>, Vec<u8>)>);

impl BodySink for Recorded {
    fn head(&mut self, status: u16, head: &[u8]) -> bool {
        self.0.push((status, head.to_vec(), Vec::new()));
        true
    }
    fn body(&mut self, data: &[u8]) {
        if let Some(last) = self.0.last_mut() {
            last.2.extend_from_slice(data);
        }
    }
}

/// Feeds `pieces` with `feed_with` until an error or a response that closes: the
/// outcome of each `feed_with` call is checked against `drive`'s elsewhere; here only
/// what the sink saw is returned.
#[doc(hidden)]
pub fn record(
    parser: &mut ResponseParser,
    pieces: &[&[u8]],
    head_flags: &[bool],
    mut memo: Option<&mut HeadMemo>,
) -> Recorded {
    let mut seen = Recorded::default();
    let mut done = 0usize;
    for piece in pieces {
        let mut rest: &[u8] = piece;
        while !rest.is_empty() {
            let head = head_flags.get(done).copied().unwrap_or(false);
            match parser.feed_memo(rest, head, &mut seen, memo.as_deref_mut()) {
                Err(_) => return seen,
                Ok((n, resp)) => {
                    rest = rest.get(n..).unwrap_or_default();
                    if let Some(r) = resp {
                        done += 1;
                        if !r.keep_alive {
                            return seen;
                        }
                    }
                }
            }
        }
    }
    seen
}

/// Fuzz/replay check shared by `fuzz/fuzz_targets/response.rs` and `tests/fuzz_corpus.rs`.
/// Byte 0 holds HEAD flags for the first 8 responses, byte 1 seeds a split point; the rest
/// is the server's byte stream. Under the default limits and under small ones, the
/// responses must be the same whole, split in two, split in three and byte by byte (and
/// `drive` checks the per-call contract); so must what a `BodySink` is shown (heads and
/// de-chunked bodies); and so must both be with a [`HeadMemo`], fresh or primed by an
/// earlier pass (one memo is shared by every pass, under both limits). Panics if a
/// property fails.
#[doc(hidden)]
pub fn fuzz_check_response(data: &[u8]) {
    let (flags, seed, stream) = match data {
        [f, s, rest @ ..] => (*f, usize::from(*s), rest),
        _ => (0, 0, data),
    };
    let head_flags: Vec<bool> = (0..8).map(|i| flags & (1 << i) != 0).collect();
    let small = Limits {
        max_head: 256,
        max_headers: 8,
    };
    let mut memo = HeadMemo::default();
    for limits in [Limits::default(), small] {
        let run = |pieces: &[&[u8]], memo: Option<&mut HeadMemo>| {
            drive(&mut ResponseParser::new(limits), pieces, &head_flags, memo)
        };
        let whole = run(&[stream], None);
        let len = stream.len();
        let a = seed.wrapping_mul(7919) % (len + 1);
        let b = (a + (len - a) / 2).min(len);
        let (p, rest) = stream.split_at(a);
        let (q, r) = rest.split_at(b - a);
        assert_eq!(whole, run(&[p, rest], None), "split at {a}");
        assert_eq!(whole, run(&[p, q, r], None), "split at {a} and {b}");
        assert_eq!(whole, run(&[stream], Some(&mut memo)), "memo, first pass");
        assert_eq!(whole, run(&[stream], Some(&mut memo)), "memo, primed");
        assert_eq!(whole, run(&[p, q, r], Some(&mut memo)), "memo, split");
        let rec = |pieces: &[&[u8]], memo: Option<&mut HeadMemo>| {
            record(&mut ResponseParser::new(limits), pieces, &head_flags, memo)
        };
        let seen = rec(&[stream], None);
        for (status, head, body) in &seen.0 {
            assert!(*status >= 100 && head.len() <= limits.max_head, "{status}");
            assert!(body.len() <= stream.len());
        }
        assert_eq!(seen, rec(&[p, rest], None), "sink, split at {a}");
        assert_eq!(seen, rec(&[p, q, r], None), "sink, split at {a} and {b}");
        assert_eq!(seen, rec(&[stream], Some(&mut memo)), "sink, memo");
        if len <= 2048 {
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            assert_eq!(whole, run(&bytes, None), "byte by byte");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParseError::*;

    type Outcome = Vec<Result<Response, ParseError>>;

    struct Case {
        name: &'static str,
        bytes: Vec<u8>,
        head_flags: Vec<bool>,
        want: Outcome,
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// An expected response whose head and body are the given byte strings.
    fn ok(
        status: u16,
        minor: u8,
        head: &[u8],
        body: &[u8],
        keep_alive: bool,
    ) -> Result<Response, ParseError> {
        Ok(Response {
            status,
            minor_version: minor,
            head_len: head.len(),
            body_len: body.len() as u64,
            keep_alive,
        })
    }

    fn case(name: &'static str, bytes: Vec<u8>, want: Outcome) -> Case {
        Case {
            name,
            bytes,
            head_flags: vec![],
            want,
        }
    }

    fn head_case(name: &'static str, bytes: Vec<u8>, head_flags: Vec<bool>, want: Outcome) -> Case {
        Case {
            name,
            bytes,
            head_flags,
            want,
        }
    }

    fn cl_head(value: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n").into_bytes()
    }

    const CL5: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    const ENDLESS_LINE: &[u8] = b"X-Endless: 0123456789012345678901234567890123456789\
        0123456789012345678901234567890123456789012345678901234567890123456789\
        0123456789012345678901234567890123456789012345678901234567890123456789\r\n";

    fn cases() -> Vec<Case> {
        let mut v = vec![
            case(
                "200 with CL",
                cat(&[CL5, b"hello"]),
                vec![ok(200, 1, CL5, b"hello", true)],
            ),
            case(
                "CL 0",
                cl_head("0"),
                vec![ok(200, 1, &cl_head("0"), b"", true)],
            ),
            {
                let h = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
                case(
                    "repeated identical CL",
                    cat(&[h, b"hello"]),
                    vec![ok(200, 1, h, b"hello", true)],
                )
            },
            case(
                "CL list 5, 5",
                cat(&[&cl_head("5, 5"), b"hello"]),
                vec![ok(200, 1, &cl_head("5, 5"), b"hello", true)],
            ),
            case(
                "CL with OWS",
                cat(&[&cl_head("5 \t"), b"hello"]),
                vec![ok(200, 1, &cl_head("5 \t"), b"hello", true)],
            ),
            case(
                "CL leading zeros",
                cat(&[&cl_head("005"), b"hello"]),
                vec![ok(200, 1, &cl_head("005"), b"hello", true)],
            ),
            case(
                "conflicting CL",
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(),
                vec![Err(BadContentLength)],
            ),
            case("CL list 5, 6", cl_head("5, 6"), vec![Err(BadContentLength)]),
            case("CL +5", cl_head("+5"), vec![Err(BadContentLength)]),
            case("CL -1", cl_head("-1"), vec![Err(BadContentLength)]),
            case("CL 0x10", cl_head("0x10"), vec![Err(BadContentLength)]),
            case("CL empty", cl_head(""), vec![Err(BadContentLength)]),
            case("CL 5 5", cl_head("5 5"), vec![Err(BadContentLength)]),
            case(
                "CL list with empty element",
                cl_head("5,,5"),
                vec![Err(BadContentLength)],
            ),
            case(
                "CL overflow",
                cl_head("18446744073709551616"),
                vec![Err(BadContentLength)],
            ),
            case(
                "CL u64::MAX then eof",
                cat(&[&cl_head("18446744073709551615"), b"abc"]),
                vec![Err(UnexpectedEof)],
            ),
            case(
                "chunked simple",
                cat(&[CHUNKED, b"5\r\nhello\r\n0\r\n\r\n"]),
                vec![ok(200, 1, CHUNKED, b"5\r\nhello\r\n0\r\n\r\n", true)],
            ),
            {
                let body: &[u8] =
                    b"000A;a=b ; q=\"x \\\" y\"\r\n0123456789\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n";
                case(
                    "chunked ext, upper hex, zeros, trailers",
                    cat(&[CHUNKED, body]),
                    vec![ok(200, 1, CHUNKED, body, true)],
                )
            },
            case(
                "chunked bad size",
                cat(&[CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n"]),
                vec![Err(BadChunked)],
            ),
            case(
                "chunked missing CRLF after data",
                cat(&[CHUNKED, b"5\r\nhelloXY0\r\n\r\n"]),
                vec![Err(BadChunked)],
            ),
            case(
                "chunked oversized extension",
                cat(&[CHUNKED, b"5;a=", &[b'x'; 5000], b"\r\nhello\r\n0\r\n\r\n"]),
                vec![Err(BadChunked)],
            ),
            {
                let h = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
                case(
                    "TE gzip, chunked",
                    cat(&[h, b"3\r\nabc\r\n0\r\n\r\n", NEXT, b"hi"]),
                    vec![
                        ok(200, 1, h, b"3\r\nabc\r\n0\r\n\r\n", true),
                        ok(200, 1, NEXT, b"hi", true),
                    ],
                )
            },
            {
                let h = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
                case(
                    "TE gzip is close-delimited",
                    cat(&[h, b"3\r\nabc\r\n0\r\n\r\n"]),
                    vec![ok(200, 1, h, b"3\r\nabc\r\n0\r\n\r\n", false)],
                )
            },
            {
                let h =
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
                case(
                    "TE + CL: chunked, then close",
                    cat(&[h, b"5\r\nhello\r\n0\r\n\r\n", NEXT, b"hi"]),
                    vec![ok(200, 1, h, b"5\r\nhello\r\n0\r\n\r\n", false)],
                )
            },
            {
                let h =
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n";
                case(
                    "TE + invalid CL: CL ignored",
                    cat(&[h, b"0\r\n\r\n"]),
                    vec![ok(200, 1, h, b"0\r\n\r\n", false)],
                )
            },
            {
                let h = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
                case(
                    "close-delimited",
                    cat(&[h, b"the rest of the stream"]),
                    vec![ok(200, 1, h, b"the rest of the stream", false)],
                )
            },
            {
                let h = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
                head_case(
                    "HEAD with CL 1000",
                    cat(&[h, NEXT, b"hi"]),
                    vec![true],
                    vec![ok(200, 1, h, b"", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            head_case(
                "HEAD with chunked",
                cat(&[CHUNKED, NEXT, b"hi"]),
                vec![true, false],
                vec![
                    ok(200, 1, CHUNKED, b"", true),
                    ok(200, 1, NEXT, b"hi", true),
                ],
            ),
            {
                let h = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
                case(
                    "204 with CL 5",
                    cat(&[h, NEXT, b"hi"]),
                    vec![ok(204, 1, h, b"", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let h = b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n";
                case(
                    "304 with TE chunked",
                    cat(&[h, NEXT, b"hi"]),
                    vec![ok(304, 1, h, b"", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let h = b"HTTP/1.1 204 No Content\r\nContent-Length: junk\r\n\r\n";
                case(
                    "204 with invalid CL",
                    cat(&[h, NEXT, b"hi"]),
                    vec![ok(204, 1, h, b"", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let c: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
                let all = cat(&[c, NEXT]);
                case(
                    "100 Continue then 200",
                    cat(&[c, NEXT, b"hi"]),
                    vec![ok(200, 1, &all, b"hi", true)],
                )
            },
            {
                let e: &[u8] =
                    b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
                let c: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
                let all = cat(&[e, c, NEXT]);
                case(
                    "103 and 100 then 200",
                    cat(&[e, c, NEXT, b"hi"]),
                    vec![ok(200, 1, &all, b"hi", true)],
                )
            },
            {
                let c: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
                let all = cat(&[c, CL5]);
                head_case(
                    "100 then HEAD 200",
                    cat(&[c, CL5, NEXT, b"hi"]),
                    vec![true],
                    vec![ok(200, 1, &all, b"", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            case(
                "eof after 100 Continue",
                b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
                vec![Err(UnexpectedEof)],
            ),
            {
                let h = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 4\r\n\r\n";
                case(
                    "101",
                    cat(&[h, b"\x81\x05hello"]),
                    vec![ok(101, 1, h, b"", false)],
                )
            },
            {
                let h = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n";
                case(
                    "HTTP/1.0 without keep-alive",
                    cat(&[h, b"hi", NEXT]),
                    vec![ok(200, 0, h, b"hi", false)],
                )
            },
            {
                let h = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n";
                case(
                    "HTTP/1.0 keep-alive + CL",
                    cat(&[h, b"hi", NEXT, b"hi"]),
                    vec![ok(200, 0, h, b"hi", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let h = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n";
                case(
                    "HTTP/1.0 keep-alive without length",
                    cat(&[h, b"body"]),
                    vec![ok(200, 0, h, b"body", false)],
                )
            },
            {
                let h = b"HTTP/1.0 204 No Content\r\nConnection: Keep-Alive\r\n\r\n";
                case(
                    "HTTP/1.0 keep-alive 204",
                    cat(&[h, NEXT, b"hi"]),
                    vec![ok(204, 0, h, b"", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let h = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n";
                case(
                    "Connection: close",
                    cat(&[h, b"hi", NEXT]),
                    vec![ok(200, 1, h, b"hi", false)],
                )
            },
            {
                let h =
                    b"HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\nContent-Length: 2\r\n\r\n";
                case(
                    "Connection: Upgrade, CLOSE",
                    cat(&[h, b"hi", NEXT]),
                    vec![ok(200, 1, h, b"hi", false)],
                )
            },
            {
                let h = b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Upgrade\r\nContent-Length: 2\r\n\r\n";
                case(
                    "Connection: Keep-Alive, Upgrade",
                    cat(&[h, b"hi", NEXT, b"hi"]),
                    vec![ok(200, 1, h, b"hi", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let h = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive, Upgrade\r\nContent-Length: 2\r\n\r\n";
                case(
                    "HTTP/1.0 Connection: Keep-Alive, Upgrade",
                    cat(&[h, b"hi", NEXT, b"hi"]),
                    vec![ok(200, 0, h, b"hi", true), ok(200, 1, NEXT, b"hi", true)],
                )
            },
            {
                let h = b"\r\n\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                case(
                    "leading empty lines",
                    h.to_vec(),
                    vec![ok(200, 1, h, b"", true)],
                )
            },
            {
                let h = b"HTTP/1.1 200 OK\nContent-Length: 2\n\n";
                case(
                    "bare LF head",
                    cat(&[h, b"hi"]),
                    vec![ok(200, 1, h, b"hi", true)],
                )
            },
            {
                let h = b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n";
                case(
                    "no reason phrase",
                    h.to_vec(),
                    vec![ok(404, 1, h, b"", true)],
                )
            },
            case(
                "garbage",
                b"FOO BAR BAZ\r\n\r\n".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "garbage without newline",
                b"HTTP/1.1 20x".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "bad status",
                b"HTTP/1.1 2000 OK\r\n\r\n".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "status 000",
                b"HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "status 099",
                b"HTTP/1.1 099 X\r\n\r\n".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "HTTP/2.0",
                b"HTTP/2.0 200 OK\r\n\r\n".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "bad CR in leading line",
                b"\rXHTTP/1.1 200 OK\r\n\r\n".to_vec(),
                vec![Err(BadHead)],
            ),
            case(
                "eof mid-head",
                b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
                vec![Err(UnexpectedEof)],
            ),
            case(
                "eof mid-body",
                cat(&[CL5, b"hel"]),
                vec![Err(UnexpectedEof)],
            ),
            case(
                "eof mid-chunk",
                cat(&[CHUNKED, b"5\r\nhel"]),
                vec![Err(UnexpectedEof)],
            ),
            case(
                "eof in trailers",
                cat(&[CHUNKED, b"0\r\nX: y\r\n"]),
                vec![Err(UnexpectedEof)],
            ),
            case(
                "eof between responses",
                cat(&[CL5, b"hello"]),
                vec![ok(200, 1, CL5, b"hello", true)],
            ),
            case("empty stream", vec![], vec![]),
            case(
                "stray CRLF only",
                b"\r\n".to_vec(),
                vec![Err(UnexpectedEof)],
            ),
            {
                let h204: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
                let h0: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                let ch: &[u8] = b"1\r\na\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
                case(
                    "pipelined mix",
                    cat(&[
                        CL5,
                        b"hello",
                        CHUNKED,
                        ch,
                        h204,
                        h0,
                        CHUNKED,
                        b"0\r\n\r\n",
                        NEXT,
                        b"hi",
                    ]),
                    vec![
                        ok(200, 1, CL5, b"hello", true),
                        ok(200, 1, CHUNKED, ch, true),
                        ok(204, 1, h204, b"", true),
                        ok(200, 1, h0, b"", true),
                        ok(200, 1, CHUNKED, b"0\r\n\r\n", true),
                        ok(200, 1, NEXT, b"hi", true),
                    ],
                )
            },
        ];

        // 300 header fields (must work) and 513 (too many for the 512 cap).
        let fields = |n: usize| -> Vec<u8> {
            let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..n {
                h.extend_from_slice(format!("X-Field-{i}: value {i}\r\n").as_bytes());
            }
            h.extend_from_slice(b"Content-Length: 2\r\n\r\n");
            h
        };
        let h300 = fields(299);
        v.push(case(
            "300 header fields",
            cat(&[&h300, b"hi"]),
            vec![ok(200, 1, &h300, b"hi", true)],
        ));
        v.push(case(
            "513 header fields",
            cat(&[&fields(512), b"hi"]),
            vec![Err(TooManyHeaders)],
        ));

        // One 60 KiB field fits in 64 KiB; one above 64 KiB does not.
        let big = |n: usize| -> Vec<u8> {
            cat(&[
                b"HTTP/1.1 200 OK\r\nX-Big: ",
                &vec![b'a'; n],
                b"\r\nContent-Length: 2\r\n\r\n",
            ])
        };
        let h60 = big(60 * 1024);
        v.push(case(
            "60 KiB header",
            cat(&[&h60, b"hi", NEXT, b"hi"]),
            vec![ok(200, 1, &h60, b"hi", true), ok(200, 1, NEXT, b"hi", true)],
        ));
        v.push(case(
            "65 KiB header",
            cat(&[&big(65 * 1024), b"hi"]),
            vec![Err(HeadTooLarge)],
        ));
        let exact = big(64 * 1024 - 47);
        assert_eq!(exact.len(), 64 * 1024);
        v.push(case(
            "head of exactly max_head",
            cat(&[&exact, b"hi"]),
            vec![ok(200, 1, &exact, b"hi", true)],
        ));
        v.push(case(
            "head of max_head + 1",
            cat(&[&big(64 * 1024 - 46), b"hi"]),
            vec![Err(HeadTooLarge)],
        ));

        let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
        while endless.len() < 70 * 1024 {
            // Long lines, so the head outgrows max_head before it reaches 512 fields.
            endless.extend_from_slice(ENDLESS_LINE);
        }
        v.push(case(
            "head that never ends",
            endless,
            vec![Err(HeadTooLarge)],
        ));
        v
    }

    /// Split positions to try: all of them for small fixtures; for large ones a stride
    /// plus everything near both ends (each split re-parses up to 64 KiB in debug builds).
    fn split_points(len: usize) -> Vec<usize> {
        if len <= 8 * 1024 {
            return (0..=len).collect();
        }
        let mut v: Vec<usize> = (0..=len).step_by(257).collect();
        v.extend(0..300);
        v.extend(len.saturating_sub(300)..=len);
        v
    }

    #[test]
    fn case_table_whole() {
        for c in cases() {
            let got = drive(
                &mut ResponseParser::new(Limits::default()),
                &[&c.bytes],
                &c.head_flags,
                None,
            );
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn case_table_split_in_two_at_every_index() {
        for c in cases() {
            for at in split_points(c.bytes.len()) {
                let (a, b) = c.bytes.split_at(at);
                let got = drive(
                    &mut ResponseParser::new(Limits::default()),
                    &[a, b],
                    &c.head_flags,
                    None,
                );
                assert_eq!(got, c.want, "{}: split at {at}", c.name);
            }
        }
    }

    #[test]
    fn case_table_byte_by_byte() {
        for c in cases() {
            let bytes: Vec<&[u8]> = c.bytes.chunks(1).collect();
            let got = drive(
                &mut ResponseParser::new(Limits::default()),
                &bytes,
                &c.head_flags,
                None,
            );
            assert_eq!(got, c.want, "{}: byte by byte", c.name);
        }
    }

    /// One memo for the whole table, in order, as a worker's memo sees every response of
    /// an endpoint: each fixture whole (primes it), whole again (hits where the head
    /// fits), then split at every index with the primed memo. Every outcome is the
    /// table's, so a remembered head never leaks into a fixture whose bytes differ.
    #[test]
    fn case_table_with_one_memo_shared_by_every_fixture() {
        let mut memo = HeadMemo::default();
        for c in cases() {
            for pass in ["first", "primed"] {
                let got = drive(
                    &mut ResponseParser::new(Limits::default()),
                    &[&c.bytes],
                    &c.head_flags,
                    Some(&mut memo),
                );
                assert_eq!(got, c.want, "{}: {pass} pass", c.name);
            }
            for at in split_points(c.bytes.len()) {
                let (a, b) = c.bytes.split_at(at);
                let got = drive(
                    &mut ResponseParser::new(Limits::default()),
                    &[a, b],
                    &c.head_flags,
                    Some(&mut memo),
                );
                assert_eq!(got, c.want, "{}: memo, split at {at}", c.name);
            }
        }
        assert!(memo.hits() > 100, "the memo was used: {} hits", memo.hits());
    }

    #[test]
    fn memo_hits_only_the_same_bytes_method_and_limits() {
        let get = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let ok = |body_len, keep_alive| {
            Ok(Response {
                status: 200,
                minor_version: 1,
                head_len: 38,
                body_len,
                keep_alive,
            })
        };
        let mut memo = HeadMemo::default();
        let mut p = ResponseParser::new(Limits::default());
        let feed = |p: &mut ResponseParser, bytes: &[u8], head, memo: &mut HeadMemo| {
            drive(p, &[bytes], &[head], Some(memo))
        };
        assert_eq!(feed(&mut p, get, false, &mut memo), vec![ok(5, true)]);
        assert_eq!(memo.hits(), 0);
        assert!(memo.is_set());
        assert_eq!(feed(&mut p, get, false, &mut memo), vec![ok(5, true)]);
        assert_eq!(memo.hits(), 1);
        // The same head answering HEAD has no body: the body bytes are out of step.
        assert_eq!(
            feed(&mut p, &get[..38], true, &mut memo),
            vec![ok(0, true)],
            "HEAD"
        );
        assert_eq!(memo.hits(), 1, "a HEAD request does not use a GET's memo");
        // One byte differs (the length): parsed, and remembered instead.
        let six = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello!";
        assert_eq!(feed(&mut p, six, false, &mut memo), vec![ok(6, true)]);
        assert_eq!(feed(&mut p, get, false, &mut memo), vec![ok(5, true)]);
        // Other limits: the memo's head has 1 field, and a limit of 0 fields refuses it.
        let mut strict = ResponseParser::new(Limits {
            max_headers: 0,
            ..Limits::default()
        });
        assert_eq!(
            feed(&mut strict, get, false, &mut memo),
            vec![Err(TooManyHeaders)]
        );
        // An interim head is not remembered; the final head after it is.
        let mut fresh = HeadMemo::default();
        let with_100 = cat(&[b"HTTP/1.1 100 Continue\r\n\r\n", get]);
        let got = feed(&mut p, &with_100, false, &mut fresh);
        assert_eq!(got.len(), 1);
        assert_eq!(feed(&mut p, get, false, &mut fresh), vec![ok(5, true)]);
        assert_eq!(fresh.hits(), 1);
    }

    #[test]
    fn heads_longer_than_the_memo_are_parsed_every_time() {
        let mut long = b"HTTP/1.1 204 No Content\r\nX-Pad: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MEMO_CAP));
        long.extend_from_slice(b"\r\n\r\n");
        let mut memo = HeadMemo::default();
        for _ in 0..3 {
            let got = drive(
                &mut ResponseParser::new(Limits::default()),
                &[&long],
                &[false],
                Some(&mut memo),
            );
            assert!(
                matches!(got.as_slice(), [Ok(r)] if r.status == 204),
                "{got:?}"
            );
        }
        assert!(!memo.is_set());
        assert_eq!(memo.hits(), 0);
    }

    type Seen = Recorded;

    /// Feeds `pieces` with `feed_with` (as `drive` does with `feed`): the outcome and
    /// what the sink saw.
    fn capture(pieces: &[&[u8]], head_flags: &[bool]) -> (Outcome, Seen) {
        let mut p = ResponseParser::new(Limits::default());
        let mut seen = Seen::default();
        let mut out = Vec::new();
        for piece in pieces {
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                let head = head_flags.get(out.len()).copied().unwrap_or(false);
                match p.feed_with(rest, head, &mut seen) {
                    Err(e) => {
                        out.push(Err(e));
                        return (out, seen);
                    }
                    Ok((n, resp)) => {
                        rest = &rest[n..];
                        if let Some(r) = resp {
                            out.push(Ok(r));
                            if !r.keep_alive {
                                return (out, seen);
                            }
                        }
                    }
                }
            }
        }
        match p.eof() {
            Ok(Some(r)) => out.push(Ok(r)),
            Ok(None) => {}
            Err(e) => out.push(Err(e)),
        }
        (out, seen)
    }

    #[test]
    fn sink_sees_the_same_heads_and_bodies_however_the_fixtures_are_split() {
        for c in cases() {
            let (whole, seen) = capture(&[&c.bytes], &c.head_flags);
            assert_eq!(whole, c.want, "{}: same outcome as feed", c.name);
            // Each completed response was shown to the sink: its head (at most head_len
            // bytes, 1xx heads excluded) and never more body than it had on the wire.
            for (r, (status, head, body)) in whole.iter().flatten().zip(&seen.0) {
                assert_eq!(r.status, *status, "{}", c.name);
                assert!(head.len() <= r.head_len, "{}", c.name);
                assert!(head.ends_with(b"\n"), "{}", c.name);
                assert!(body.len() as u64 <= r.body_len, "{}", c.name);
            }
            for at in split_points(c.bytes.len()) {
                let (a, b) = c.bytes.split_at(at);
                let (got, got_seen) = capture(&[a, b], &c.head_flags);
                assert_eq!(got, whole, "{}: split at {at}", c.name);
                assert_eq!(got_seen, seen, "{}: split at {at}", c.name);
            }
            let bytes: Vec<&[u8]> = c.bytes.chunks(1).collect();
            assert_eq!(
                capture(&bytes, &c.head_flags),
                (whole, seen),
                "{}: byte by byte",
                c.name
            );
        }
    }

    #[test]
    fn sink_gets_the_exact_body_of_each_framing() {
        let head_100 = b"HTTP/1.1 100 Continue\r\n\r\n";
        type Want<'a> = Vec<(u16, &'a [u8], &'a [u8])>;
        let cases: &[(&str, Vec<u8>, Vec<bool>, Want)] = &[
            (
                "content-length, then pipelined",
                cat(&[CL5, b"hello", NEXT, b"ok"]),
                vec![],
                vec![(200, CL5, b"hello"), (200, NEXT, b"ok")],
            ),
            (
                "chunked is de-chunked",
                cat(&[
                    CHUNKED,
                    b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
                    NEXT,
                    b"ok",
                ]),
                vec![],
                vec![(200, CHUNKED, b"abcde"), (200, NEXT, b"ok")],
            ),
            (
                "1xx head is not shown",
                cat(&[head_100, CL5, b"hello"]),
                vec![],
                vec![(200, CL5, b"hello")],
            ),
            (
                "HEAD and 204 have no body",
                cat(&[CL5, b"HTTP/1.1 204 No Content\r\n\r\n", NEXT, b"ok"]),
                vec![true],
                vec![
                    (200, CL5, b""),
                    (204, b"HTTP/1.1 204 No Content\r\n\r\n", b""),
                    (200, NEXT, b"ok"),
                ],
            ),
            (
                "close-delimited",
                b"HTTP/1.0 404 Not Found\r\n\r\nno such thing".to_vec(),
                vec![],
                vec![(404, b"HTTP/1.0 404 Not Found\r\n\r\n", b"no such thing")],
            ),
            (
                "body cut short by a bad chunk",
                cat(&[CHUNKED, b"2\r\nab\r\nzz\r\n"]),
                vec![],
                vec![(200, CHUNKED, b"ab")],
            ),
        ];
        for (name, bytes, flags, want) in cases {
            let want: Vec<(u16, Vec<u8>, Vec<u8>)> = want
                .iter()
                .map(|(s, h, b)| (*s, h.to_vec(), b.to_vec()))
                .collect();
            let (_, seen) = capture(&[bytes], flags);
            assert_eq!(seen.0, want, "{name}: whole");
            for at in 0..=bytes.len() {
                let (a, b) = bytes.split_at(at);
                assert_eq!(capture(&[a, b], flags).1 .0, want, "{name}: split at {at}");
            }
            let each: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(capture(&each, flags).1 .0, want, "{name}: byte by byte");
        }
    }

    #[test]
    fn a_sink_that_declines_gets_no_body() {
        struct Decline(usize);
        impl BodySink for Decline {
            fn head(&mut self, _: u16, _: &[u8]) -> bool {
                false
            }
            fn body(&mut self, data: &[u8]) {
                self.0 += data.len();
            }
        }
        let mut p = ResponseParser::new(Limits::default());
        let mut sink = Decline(0);
        let bytes = cat(&[CL5, b"hello", CHUNKED, b"2\r\nab\r\n0\r\n\r\n"]);
        let (n, r) = p.feed_with(&bytes, false, &mut sink).unwrap();
        assert_eq!(r.map(|r| r.status), Some(200));
        let (_, r) = p.feed_with(&bytes[n..], false, &mut sink).unwrap();
        assert!(r.is_some());
        assert_eq!(sink.0, 0);
    }

    #[test]
    fn case_table_through_fuzz_check() {
        for c in cases().into_iter().filter(|c| c.bytes.len() <= 8 * 1024) {
            let flags = c
                .head_flags
                .iter()
                .enumerate()
                .fold(0u8, |acc, (i, &f)| acc | (u8::from(f) << i));
            fuzz_check_response(&cat(&[&[flags, 3], &c.bytes]));
        }
    }

    #[test]
    fn one_parser_reused_across_fixtures_with_reset() {
        let mut p = ResponseParser::new(Limits::default());
        for c in cases() {
            p.reset();
            assert!(p.is_idle());
            assert_eq!(
                drive(&mut p, &[&c.bytes], &c.head_flags, None),
                c.want,
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn max_headers_limit_is_honoured() {
        let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..300 {
            h.extend_from_slice(format!("F{i}: v\r\n").as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        let limits = |max_headers| Limits {
            max_headers,
            ..Limits::default()
        };
        let run = |l| drive(&mut ResponseParser::new(l), &[&h], &[true], None);
        assert_eq!(run(limits(300)), vec![ok(200, 1, &h, b"", true)]);
        assert_eq!(run(limits(299)), vec![Err(TooManyHeaders)]);
        assert_eq!(run(limits(10_000)), vec![ok(200, 1, &h, b"", true)]);
    }

    #[test]
    fn head_buffer_is_bounded_for_an_endless_head() {
        let limits = Limits::default();
        for piece_len in [1usize, 7, 1000, 4096] {
            let mut p = ResponseParser::new(limits);
            let line = ENDLESS_LINE;
            assert_eq!(p.feed(b"HTTP/1.1 200 OK\r\n", false), Ok((17, None)));
            let stream: Vec<u8> = line.iter().copied().cycle().take(piece_len * 64).collect();
            let mut fed = 0usize;
            let err = loop {
                match p.feed(&stream[..piece_len], false) {
                    Ok((n, None)) => assert_eq!(n, piece_len),
                    Ok((_, Some(r))) => panic!("endless head completed: {r:?}"),
                    Err(e) => break e,
                }
                fed += piece_len;
                assert!(
                    p.head_buffer_capacity() <= limits.max_head,
                    "capacity {}",
                    p.head_buffer_capacity()
                );
                assert!(fed < 2 * limits.max_head, "never failed");
            };
            assert_eq!(err, HeadTooLarge);
            assert_eq!(
                p.head_buffer_capacity(),
                0,
                "poisoned parser keeps no buffer"
            );
            p.reset();
            assert!(p.is_idle());
        }
    }

    #[test]
    fn split_heads_reuse_a_small_buffer_and_free_a_large_one() {
        let mut p = ResponseParser::new(Limits::default());
        let (a, b) = CL5.split_at(10);
        for _ in 0..3 {
            assert_eq!(p.feed(a, false), Ok((10, None)));
            assert!(!p.is_idle());
            assert_eq!(p.feed(b, false), Ok((b.len(), None)));
            assert_eq!(
                p.feed(b"hello", false),
                Ok((
                    5,
                    Some(Response {
                        status: 200,
                        minor_version: 1,
                        head_len: CL5.len(),
                        body_len: 5,
                        keep_alive: true
                    })
                ))
            );
            assert!(p.is_idle());
            assert_eq!(
                p.head_buffer_capacity(),
                INITIAL_HEAD_CAPACITY,
                "small buffer kept"
            );
        }
        let big = cat(&[
            b"HTTP/1.1 200 OK\r\nX: ",
            &[b'a'; 5000],
            b"\r\nContent-Length: 0\r\n\r\n",
        ]);
        let (a, b) = big.split_at(100);
        assert_eq!(p.feed(a, false), Ok((100, None)));
        let (n, r) = p.feed(b, false).unwrap();
        assert_eq!((n, r.map(|r| r.head_len)), (b.len(), Some(big.len())));
        assert_eq!(p.head_buffer_capacity(), 0, "large buffer freed");
        p.reset();
        assert_eq!(p.head_buffer_capacity(), 0);
    }

    #[test]
    fn body_is_skipped_in_bulk_without_buffering() {
        let mut p = ResponseParser::new(Limits::default());
        let h = cl_head("10000000");
        assert_eq!(p.feed(&h, false), Ok((h.len(), None)));
        let chunk = vec![0u8; 1 << 16];
        for _ in 0..(10_000_000 / chunk.len()) {
            assert_eq!(p.feed(&chunk, false), Ok((chunk.len(), None)));
        }
        assert_eq!(p.head_buffer_capacity(), 0);
        let left = 10_000_000 % chunk.len();
        let (n, r) = p.feed(&chunk, false).unwrap();
        assert_eq!(n, left);
        assert_eq!(r.map(|r| r.body_len), Some(10_000_000));
    }

    #[test]
    fn poisoned_until_reset() {
        let mut p = ResponseParser::new(Limits::default());
        assert_eq!(p.feed(b"garbage\r\n\r\n", false), Err(BadHead));
        assert_eq!(p.feed(CL5, false), Err(BadHead));
        assert_eq!(p.eof(), Err(BadHead));
        assert!(!p.is_idle());
        p.reset();
        assert_eq!(p.feed(CL5, false), Ok((CL5.len(), None)));
    }

    #[test]
    fn eof_resets_for_close_delimited() {
        let mut p = ResponseParser::new(Limits::default());
        assert_eq!(p.feed(b"HTTP/1.1 200 OK\r\n\r\nabc", false), Ok((22, None)));
        assert_eq!(
            p.eof().map(|r| r.map(|r| (r.body_len, r.keep_alive))),
            Ok(Some((3, false)))
        );
        assert!(p.is_idle());
        assert_eq!(p.eof(), Ok(None));
    }

    #[test]
    fn parser_is_small_when_idle() {
        let size = std::mem::size_of::<ResponseParser>();
        println!("size_of::<ResponseParser>() = {size}");
        assert!(size <= 112, "{size}");
        let p = ResponseParser::new(Limits::default());
        assert!(p.is_idle());
        assert_eq!(p.head_buffer_capacity(), 0);
    }

    #[test]
    fn display_is_lowercase_and_nonempty() {
        for e in [
            HeadTooLarge,
            TooManyHeaders,
            BadHead,
            BadContentLength,
            BadChunked,
            UnexpectedEof,
        ] {
            let s = e.to_string();
            assert!(
                !s.is_empty() && s.chars().next().is_some_and(|c| c.is_lowercase()),
                "{s}"
            );
        }
    }
}
