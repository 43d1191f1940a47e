//! Chunked transfer coding (RFC 9112 §7.1) as a pure byte-counting state machine.
//!
//! Owns: recognising where a chunked body ends — chunk sizes, chunk extensions, line
//! endings, chunk data, the last chunk and the trailer section — so that the next
//! pipelined response starts at exactly the right byte.
//!
//! Must not: store or decode body bytes, allocate, read a clock, touch a socket, or panic on
//! any input. Chunk data is skipped in bulk (one subtraction per `feed`); only the framing
//! bytes (size lines, CRLFs, trailers) are looked at one by one, and each of those is bounded.
//! `feed_data` hands each run of chunk data (the de-chunked body, as slices of the input)
//! to a callback, for a caller that keeps a bounded sample; the decoder itself keeps none.
//!
//! Leniency, on purpose (we are a client measuring servers, not a proxy):
//! - a bare LF is accepted wherever CRLF is expected; a CR must be followed by LF;
//! - optional whitespace (SP/HTAB) is accepted after the chunk size, around `;` and `=`;
//! - trailer field lines are counted and skipped, not validated.

use std::fmt;

/// Bound on one chunk-size line (size digits, leading zeros and extensions), in bytes.
pub const MAX_CHUNK_LINE: u32 = 4 * 1024;
/// Bound on the whole trailer section, in bytes.
pub const MAX_TRAILER: u32 = 64 * 1024;
/// A u64 holds 16 hex digits; more significant digits than that is an overflow.
const MAX_SIZE_DIGITS: u8 = 16;

/// Why a chunked body is malformed. All of them poison the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    /// The chunk size is missing or contains a byte that is not a hex digit.
    BadSize,
    /// More than 16 significant hex digits: the size does not fit in a u64.
    SizeOverflow,
    /// A chunk extension is not `;name[=token|"quoted"]`.
    BadExtension,
    /// The chunk-size line (with its extensions) is longer than [`MAX_CHUNK_LINE`].
    LineTooLong,
    /// A CR not followed by LF, or chunk data not followed by a line ending.
    BadLineEnding,
    /// The trailer section is longer than [`MAX_TRAILER`].
    TrailerTooLarge,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::BadSize => "invalid chunk size",
            ChunkedError::SizeOverflow => "chunk size overflows 64 bits",
            ChunkedError::BadExtension => "invalid chunk extension",
            ChunkedError::LineTooLong => "chunk-size line too long",
            ChunkedError::BadLineEnding => "missing or invalid CRLF in chunked body",
            ChunkedError::TrailerTooLarge => "chunked trailer section too large",
        })
    }
}

impl std::error::Error for ChunkedError {}

/// Where the decoder is inside the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a chunk-size line: at least one hex digit is required.
    SizeStart,
    /// Inside the hex digits of the chunk size.
    Size,
    /// Whitespace after the size digits.
    AfterSize,
    /// After `;`: optional whitespace, then an extension name is required.
    ExtPreName,
    /// Inside an extension name.
    ExtName,
    /// Whitespace after an extension name.
    ExtAfterName,
    /// After `=`: optional whitespace, then a token or a quoted string is required.
    ExtPreValue,
    /// Inside a token extension value.
    ExtToken,
    /// Inside a quoted-string extension value.
    ExtQuoted,
    /// Right after a backslash inside a quoted string.
    ExtQuotedPair,
    /// After an extension value: whitespace, `;` or the line end.
    ExtAfterValue,
    /// Saw CR at the end of the chunk-size line; LF must follow.
    SizeLf,
    /// Inside chunk data; this many bytes are still to be skipped.
    Data { remaining: u64 },
    /// Chunk data ended; a line ending must follow.
    DataEnd,
    /// Saw CR after chunk data; LF must follow.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// Saw CR at the start of a trailer line: this is the final empty line, LF must follow.
    FinalLf,
    /// The final CRLF was consumed; the body is complete.
    Done,
}

/// Counts its way through one chunked body. Create one per body (or [`reset`](Self::reset)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    /// The chunk size accumulated so far on the current size line.
    size: u64,
    /// Significant (non-leading-zero) hex digits seen in `size`.
    digits: u8,
    /// Bytes of the current chunk-size line so far (bounded by `MAX_CHUNK_LINE`).
    line: u32,
    /// Bytes of the trailer section so far (bounded by `MAX_TRAILER`).
    trailer: u32,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    pub const fn new() -> Self {
        ChunkedDecoder {
            state: State::SizeStart,
            size: 0,
            digits: 0,
            line: 0,
            trailer: 0,
        }
    }

    /// Start over at the beginning of a new chunked body.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True once the final CRLF of the body has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consume bytes of the chunked body. Returns how many bytes belong to the body and
    /// whether it is complete; when complete, `consumed` may be less than `input.len()` (the
    /// rest belongs to whatever follows the body). Feeding a completed decoder returns
    /// `(0, true)`. After an error the decoder is meaningless until `reset`.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, bool), ChunkedError> {
        self.feed_data(input, |_| {})
    }

    /// Like `feed`, and passes each run of chunk data within `input` (the de-chunked body
    /// bytes, in order, never framing) to `on_data`. No copy: the slices borrow `input`.
    #[inline]
    pub fn feed_data<F: FnMut(&[u8])>(
        &mut self,
        input: &[u8],
        mut on_data: F,
    ) -> Result<(usize, bool), ChunkedError> {
        let mut i = 0usize;
        while let Some(rest) = input.get(i..) {
            if rest.is_empty() {
                break;
            }
            match self.state {
                State::Done => return Ok((i, true)),
                State::Data { remaining } => {
                    // Bulk skip: the only per-feed work for chunk data is this subtraction.
                    let avail = rest.len() as u64;
                    let take = remaining.min(avail);
                    // take <= rest.len(), so it fits in usize.
                    if let Some(data) = rest.get(..take as usize) {
                        on_data(data);
                    }
                    i = i.saturating_add(take as usize);
                    let left = remaining - take;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data { remaining: left }
                    };
                }
                _ => {
                    if let Some(&b) = rest.first() {
                        self.step(b)?;
                    }
                    i += 1;
                    if self.state == State::Done {
                        return Ok((i, true));
                    }
                }
            }
        }
        Ok((i, self.state == State::Done))
    }

    /// Advance over one framing byte (never called in `Data` or `Done`).
    fn step(&mut self, b: u8) -> Result<(), ChunkedError> {
        use State::*;
        if self.in_size_line() {
            self.line = self.line.saturating_add(1);
            if self.line > MAX_CHUNK_LINE {
                return Err(ChunkedError::LineTooLong);
            }
        }
        self.state = match self.state {
            SizeStart => match hex(b) {
                Some(d) => {
                    self.push_digit(d)?;
                    Size
                }
                None => return Err(ChunkedError::BadSize),
            },
            Size => match hex(b) {
                Some(d) => {
                    self.push_digit(d)?;
                    Size
                }
                None => self.after_size(b, ChunkedError::BadSize)?,
            },
            AfterSize => self.after_size(b, ChunkedError::BadSize)?,
            ExtPreName => match b {
                b' ' | b'\t' => ExtPreName,
                _ if is_tchar(b) => ExtName,
                _ => return Err(ChunkedError::BadExtension),
            },
            ExtName => match b {
                _ if is_tchar(b) => ExtName,
                b' ' | b'\t' => ExtAfterName,
                b'=' => ExtPreValue,
                _ => self.line_end_or_semicolon(b)?,
            },
            ExtAfterName => match b {
                b' ' | b'\t' => ExtAfterName,
                b'=' => ExtPreValue,
                _ => self.line_end_or_semicolon(b)?,
            },
            ExtPreValue => match b {
                b' ' | b'\t' => ExtPreValue,
                b'"' => ExtQuoted,
                _ if is_tchar(b) => ExtToken,
                _ => return Err(ChunkedError::BadExtension),
            },
            ExtToken => match b {
                _ if is_tchar(b) => ExtToken,
                b' ' | b'\t' => ExtAfterValue,
                _ => self.line_end_or_semicolon(b)?,
            },
            ExtQuoted => match b {
                b'"' => ExtAfterValue,
                b'\\' => ExtQuotedPair,
                // qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF => ExtQuoted,
                _ => return Err(ChunkedError::BadExtension),
            },
            ExtQuotedPair => match b {
                // quoted-pair: "\" ( HTAB / SP / VCHAR / obs-text )
                b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF => ExtQuoted,
                _ => return Err(ChunkedError::BadExtension),
            },
            ExtAfterValue => match b {
                b' ' | b'\t' => ExtAfterValue,
                _ => self.line_end_or_semicolon(b)?,
            },
            SizeLf => match b {
                b'\n' => self.size_line_done(),
                _ => return Err(ChunkedError::BadLineEnding),
            },
            DataEnd => match b {
                b'\r' => DataLf,
                b'\n' => SizeStart,
                _ => return Err(ChunkedError::BadLineEnding),
            },
            DataLf => match b {
                b'\n' => SizeStart,
                _ => return Err(ChunkedError::BadLineEnding),
            },
            TrailerStart => match b {
                b'\r' => FinalLf,
                b'\n' => Done,
                _ => {
                    self.count_trailer(1)?;
                    Trailer
                }
            },
            Trailer => {
                self.count_trailer(1)?;
                match b {
                    b'\n' => TrailerStart,
                    _ => Trailer,
                }
            }
            FinalLf => match b {
                b'\n' => Done,
                _ => return Err(ChunkedError::BadLineEnding),
            },
            // Not reached: `feed` handles these without calling `step`.
            Data { .. } | Done => self.state,
        };
        Ok(())
    }

    fn in_size_line(&self) -> bool {
        use State::*;
        matches!(
            self.state,
            SizeStart
                | Size
                | AfterSize
                | ExtPreName
                | ExtName
                | ExtAfterName
                | ExtPreValue
                | ExtToken
                | ExtQuoted
                | ExtQuotedPair
                | ExtAfterValue
        )
    }

    fn push_digit(&mut self, d: u8) -> Result<(), ChunkedError> {
        // Leading zeros are not significant (and are bounded by MAX_CHUNK_LINE instead).
        if self.digits == 0 && d == 0 {
            return Ok(());
        }
        if self.digits >= MAX_SIZE_DIGITS {
            return Err(ChunkedError::SizeOverflow);
        }
        self.digits += 1;
        // At most 16 significant digits, so this shift never loses bits.
        self.size = (self.size << 4) | u64::from(d);
        Ok(())
    }

    /// After the size digits: whitespace, an extension, or the line end.
    fn after_size(&mut self, b: u8, err: ChunkedError) -> Result<State, ChunkedError> {
        match b {
            b' ' | b'\t' => Ok(State::AfterSize),
            b';' => Ok(State::ExtPreName),
            b'\r' => Ok(State::SizeLf),
            b'\n' => Ok(self.size_line_done()),
            _ => Err(err),
        }
    }

    /// After an extension name or value: another extension or the line end.
    fn line_end_or_semicolon(&mut self, b: u8) -> Result<State, ChunkedError> {
        match b {
            b';' => Ok(State::ExtPreName),
            b'\r' => Ok(State::SizeLf),
            b'\n' => Ok(self.size_line_done()),
            _ => Err(ChunkedError::BadExtension),
        }
    }

    /// The chunk-size line ended: chunk data follows, or the trailer if this was `0`.
    fn size_line_done(&mut self) -> State {
        let size = self.size;
        self.size = 0;
        self.digits = 0;
        self.line = 0;
        if size == 0 {
            State::TrailerStart
        } else {
            State::Data { remaining: size }
        }
    }

    fn count_trailer(&mut self, n: u32) -> Result<(), ChunkedError> {
        self.trailer = self.trailer.saturating_add(n);
        if self.trailer > MAX_TRAILER {
            return Err(ChunkedError::TrailerTooLarge);
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 9110 tchar.
fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Fuzz/replay check shared by `fuzz/fuzz_targets/chunked.rs` and `tests/fuzz_corpus.rs`:
/// the outcome (consumed, done, or error) must not depend on how `data` is split, and
/// `consumed` never exceeds the input. Panics if a property fails.
#[doc(hidden)]
pub fn fuzz_check_chunked(data: &[u8]) {
    let whole = run_pieces(&[data]);
    // Two pieces at a data-derived split, and at the middle.
    let split = data.first().map_or(0, |&b| usize::from(b)) % (data.len() + 1);
    for at in [split, data.len() / 2] {
        let (a, b) = data.split_at(at);
        assert_eq!(whole, run_pieces(&[a, b]), "split at {at}");
    }
    // Byte by byte (bounded so one fuzz input stays fast).
    if data.len() <= 4096 {
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(whole, run_pieces(&bytes), "byte by byte");
    }
}

/// Feeds the pieces in order until done or error; returns total consumed and the outcome.
fn run_pieces(pieces: &[&[u8]]) -> Result<(usize, bool), ChunkedError> {
    let mut dec = ChunkedDecoder::new();
    let mut total = 0usize;
    for piece in pieces {
        let (n, done) = dec.feed(piece)?;
        assert!(n <= piece.len(), "consumed more than given");
        assert!(done || n == piece.len(), "stopped early without being done");
        total += n;
        if done {
            return Ok((total, true));
        }
    }
    Ok((total, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected outcome of feeding a whole fixture: bytes consumed and done, or an error.
    type Outcome = Result<(usize, bool), ChunkedError>;

    fn cases() -> Vec<(&'static str, Vec<u8>, Outcome)> {
        let mut v: Vec<(&'static str, Vec<u8>, Outcome)> = vec![
            (
                "simple",
                b"5\r\nhello\r\n0\r\n\r\n".to_vec(),
                Ok((15, true)),
            ),
            (
                "two chunks",
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
                Ok((26, true)),
            ),
            ("empty body", b"0\r\n\r\n".to_vec(), Ok((5, true))),
            ("bare LF", b"5\nhello\n0\n\n".to_vec(), Ok((11, true))),
            (
                "upper hex",
                b"A\r\n0123456789\r\n0\r\n\r\n".to_vec(),
                Ok((20, true)),
            ),
            (
                "lower hex",
                b"a\r\n0123456789\r\n0\r\n\r\n".to_vec(),
                Ok((20, true)),
            ),
            (
                "leading zeros",
                b"0005\r\nhello\r\n000\r\n\r\n".to_vec(),
                Ok((20, true)),
            ),
            (
                "extensions",
                b"5;a;b=c ; d = e;q=\"x \\\" y;z\"\r\nhello\r\n0;last\r\n\r\n".to_vec(),
                Ok((47, true)),
            ),
            (
                "whitespace after size",
                b"5 \t\r\nhello\r\n0 ;x\r\n\r\n".to_vec(),
                Ok((20, true)),
            ),
            (
                "trailers",
                b"5\r\nhello\r\n0\r\nExpires: never\r\nX-A: b\r\n\r\n".to_vec(),
                Ok((39, true)),
            ),
            (
                "stops at end (pipelined rest)",
                b"1\r\nx\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec(),
                Ok((11, true)),
            ),
            ("incomplete", b"5\r\nhel".to_vec(), Ok((6, false))),
            (
                "incomplete trailer",
                b"0\r\nX: y\r\n".to_vec(),
                Ok((9, false)),
            ),
            (
                "16 digits ok",
                b"fffffffffffffff0\r\nab".to_vec(),
                Ok((20, false)),
            ),
            (
                "16 digits after zeros ok",
                b"00000ffffffffffffffff\r\n".to_vec(),
                Ok((23, false)),
            ),
            (
                "17 digits",
                b"10000000000000000\r\n".to_vec(),
                Err(ChunkedError::SizeOverflow),
            ),
            ("bad size", b"g\r\n".to_vec(), Err(ChunkedError::BadSize)),
            ("empty size", b"\r\n".to_vec(), Err(ChunkedError::BadSize)),
            (
                "sign",
                b"+5\r\nhello\r\n".to_vec(),
                Err(ChunkedError::BadSize),
            ),
            (
                "0x prefix",
                b"0x5\r\nhello\r\n".to_vec(),
                Err(ChunkedError::BadSize),
            ),
            (
                "space in size",
                b"5 5\r\n".to_vec(),
                Err(ChunkedError::BadSize),
            ),
            (
                "CR without LF",
                b"5\rhello".to_vec(),
                Err(ChunkedError::BadLineEnding),
            ),
            (
                "missing CRLF after data",
                b"5\r\nhelloX\r\n0\r\n\r\n".to_vec(),
                Err(ChunkedError::BadLineEnding),
            ),
            (
                "CR then garbage after data",
                b"5\r\nhello\rX".to_vec(),
                Err(ChunkedError::BadLineEnding),
            ),
            (
                "ext without name",
                b"5;\r\n".to_vec(),
                Err(ChunkedError::BadExtension),
            ),
            (
                "ext bad value",
                b"5;a=\r\n".to_vec(),
                Err(ChunkedError::BadExtension),
            ),
            (
                "ext bad char",
                b"5;a@b\r\n".to_vec(),
                Err(ChunkedError::BadExtension),
            ),
            (
                "ext control in quoted",
                b"5;a=\"x\x01\"\r\n".to_vec(),
                Err(ChunkedError::BadExtension),
            ),
            (
                "final CR without LF",
                b"0\r\n\rX".to_vec(),
                Err(ChunkedError::BadLineEnding),
            ),
        ];
        let mut long_ext = b"5;a=".to_vec();
        long_ext.extend_from_slice(&[b'x'; 4096]);
        long_ext.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        v.push((
            "oversized extension",
            long_ext,
            Err(ChunkedError::LineTooLong),
        ));
        let mut ok_ext = b"5;a=".to_vec();
        ok_ext.extend_from_slice(&[b'x'; 4000]);
        ok_ext.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        let n = ok_ext.len();
        v.push(("4000-byte extension ok", ok_ext, Ok((n, true))));
        let mut zeros = vec![b'0'; 5000];
        zeros.extend_from_slice(b"5\r\n");
        v.push((
            "endless leading zeros",
            zeros,
            Err(ChunkedError::LineTooLong),
        ));
        let mut big_trailer = b"0\r\n".to_vec();
        for _ in 0..2000 {
            big_trailer.extend_from_slice(b"X-Padding: 0123456789abcdef0123456789\r\n");
        }
        v.push((
            "oversized trailer",
            big_trailer,
            Err(ChunkedError::TrailerTooLarge),
        ));
        v
    }

    #[test]
    fn case_table_whole_split_and_bytewise() {
        for (name, bytes, want) in cases() {
            assert_eq!(run_pieces(&[&bytes]), want, "{name}: whole");
            let step = if bytes.len() > 2048 { 97 } else { 1 };
            for at in (0..=bytes.len()).step_by(step) {
                let (a, b) = bytes.split_at(at);
                assert_eq!(run_pieces(&[a, b]), want, "{name}: split at {at}");
            }
            let each: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run_pieces(&each), want, "{name}: byte by byte");
            fuzz_check_chunked(&bytes);
        }
    }

    /// Feeds `pieces` with `feed_data`, collecting the de-chunked bytes.
    fn dechunk(pieces: &[&[u8]]) -> (Result<(usize, bool), ChunkedError>, Vec<u8>) {
        let mut dec = ChunkedDecoder::new();
        let mut data = Vec::new();
        let mut total = 0;
        for piece in pieces {
            match dec.feed_data(piece, |d| data.extend_from_slice(d)) {
                Err(e) => return (Err(e), data),
                Ok((n, done)) => {
                    total += n;
                    if done {
                        return (Ok((total, true)), data);
                    }
                }
            }
        }
        (Ok((total, false)), data)
    }

    #[test]
    fn feed_data_gives_the_dechunked_body_however_split() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("simple", b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (
                "two chunks, extensions, trailer",
                b"3;a=b\r\nabc\r\n4 ; q=\"x\"\r\ndefg\r\n0\r\nT: v\r\n\r\n",
                b"abcdefg",
            ),
            ("bare LF, hex size", b"A\n0123456789\n0\n\n", b"0123456789"),
            (
                "data with CRLF inside",
                b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
                b"\r\n\r\n",
            ),
            ("empty body", b"0\r\n\r\n", b""),
            ("unfinished", b"6\r\nabc", b"abc"),
            ("bad size after data", b"2\r\nok\r\nzz\r\n", b"ok"),
        ];
        for (name, bytes, want) in cases {
            let (whole, data) = dechunk(&[bytes]);
            assert_eq!(data, *want, "{name}: whole");
            assert_eq!(whole, run_pieces(&[bytes]), "{name}: same outcome as feed");
            for at in 0..=bytes.len() {
                let (a, b) = bytes.split_at(at);
                assert_eq!(dechunk(&[a, b]), (whole, want.to_vec()), "{name}: at {at}");
            }
            let each: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(dechunk(&each), (whole, want.to_vec()), "{name}: bytewise");
        }
    }

    #[test]
    fn data_is_skipped_in_bulk() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"ffffffff\r\n"), Ok((10, false)));
        let big = vec![0u8; 1 << 20];
        assert_eq!(d.feed(&big), Ok((big.len(), false)));
        assert_eq!(
            d.state,
            State::Data {
                remaining: 0xffff_ffff - (1 << 20)
            }
        );
    }

    #[test]
    fn done_decoder_consumes_nothing() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"0\r\n\r\n"), Ok((5, true)));
        assert!(d.is_done());
        assert_eq!(d.feed(b"more"), Ok((0, true)));
        d.reset();
        assert!(!d.is_done());
        assert_eq!(d.feed(b"0\n\n"), Ok((3, true)));
    }

    #[test]
    fn decoder_is_small() {
        assert!(std::mem::size_of::<ChunkedDecoder>() <= 40);
    }
}
