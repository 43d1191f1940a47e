//! Incremental HTTP/1.1 response parser: bytes in, progress out.
//!
//! Owns: finding where each response ends on a connection — the head (via httparse) and
//! the body length per RFC 9112 §6.3 — and whether the connection may be reused after it.
//! Gives the same result however the bytes are split across `feed` calls.
//!
//! Must not: touch sockets or clocks, store body bytes, grow memory without bound, or panic
//! on any input. The only allocation is the head buffer, used only when a head is split
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

use std::fmt;
use std::mem::MaybeUninit;

use super::chunked::ChunkedDecoder;

/// Hard cap on header fields per head (the size of the on-stack httparse array).
pub const HEADERS_CAP: usize = 512;
/// A head buffer whose capacity grew above this is freed after the head completes.
const KEEP_HEAD_CAPACITY: usize = 1024;
/// First allocation of the head buffer: most split heads fit, so steady state never regrows.
const INITIAL_HEAD_CAPACITY: usize = 512;

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

/// Incremental parser for the responses on one connection.
#[derive(Debug)]
pub struct ResponseParser {
    limits: Limits,
    state: State,
    /// Bytes of a head split across `feed` calls; empty otherwise.
    head_buf: Vec<u8>,
    /// Bytes of 1xx heads skipped for the current request.
    interim_len: usize,
}

impl ResponseParser {
    pub fn new(limits: Limits) -> Self {
        ResponseParser {
            limits,
            state: State::Head,
            head_buf: Vec::new(),
            interim_len: 0,
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
        match self.feed_inner(input, head_request) {
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
        self.head_buf = Vec::new();
        self.interim_len = 0;
    }

    /// Capacity of the head buffer (for tests and memory accounting).
    pub fn head_buffer_capacity(&self) -> usize {
        self.head_buf.capacity()
    }

    fn poison(&mut self, e: ParseError) -> ParseError {
        self.state = State::Poisoned(e);
        self.head_buf = Vec::new();
        e
    }

    fn feed_inner(
        &mut self,
        input: &[u8],
        head_request: bool,
    ) -> Result<(usize, Option<Response>), ParseError> {
        let mut pos = 0usize;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match &mut self.state {
                State::Poisoned(e) => return Err(*e),
                State::Head => {
                    let Some((used, head)) = self.feed_head(rest, head_request)? else {
                        return Ok((input.len(), None));
                    };
                    pos = pos.saturating_add(used);
                    let head_len = self.interim_len.saturating_add(head.len);
                    if head.framing == Framing::Interim {
                        self.interim_len = head_len;
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
                        Framing::Length(n) => {
                            self.state = State::Length { resp, remaining: n }
                        }
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
                    let (used, done) = dec.feed(rest).map_err(|_| ParseError::BadChunked)?;
                    resp.body_len = resp.body_len.saturating_add(used as u64);
                    if !done {
                        return Ok((input.len(), None));
                    }
                    let finished = *resp;
                    self.state = State::Head;
                    return Ok((pos.saturating_add(used), Some(finished)));
                }
                State::UntilClose { resp } => {
                    resp.body_len = resp.body_len.saturating_add(rest.len() as u64);
                    return Ok((input.len(), None));
                }
            }
        }
    }

    /// Feeds head bytes. `Ok(None)`: all of `rest` was buffered, more is needed.
    /// `Ok(Some((used, head)))`: a head completed after `used` bytes of `rest`.
    fn feed_head(
        &mut self,
        rest: &[u8],
        head_request: bool,
    ) -> Result<Option<(usize, Head)>, ParseError> {
        let max_head = self.limits.max_head;
        if self.head_buf.is_empty() {
            // Fast path: parse in place, no copy. Only the first max_head bytes matter: a
            // head that does not complete within them is too large.
            let window = rest.get(..max_head).unwrap_or(rest);
            if let Some(head) = parse_head(window, &self.limits, head_request)? {
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
