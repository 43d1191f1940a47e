//! The byte stream of one connection as `Conn` sees it: plain TCP or TLS over TCP
//! (`tls` feature). Owns the choice between the two and the TLS handshake step the
//! worker drives after the TCP connect; the socket itself stays mio's `TcpStream`
//! (registered by the worker). Must not register with mio, read a clock or count.

use crate::stats::ErrorKind;
use mio::net::TcpStream;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};

#[cfg(feature = "tls")]
pub use super::tls::{Progress, TlsTarget};

/// Without the `tls` feature no TLS target can exist (the set-up refuses https first).
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum TlsTarget {}

#[cfg(not(feature = "tls"))]
impl TlsTarget {
    pub fn for_worker(&self) -> TlsTarget {
        match *self {}
    }

    pub fn sharing(&self, _other: &TlsTarget) -> TlsTarget {
        match *self {}
    }
}

/// How a handshake step left the connection (see `tls::Progress`).
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Pending,
    Done { resumed: bool },
    Failed(ErrorKind),
}

/// A TLS failure carried inside an `io::Error`, so that `Conn` counts it as its own
/// kind (`conn::io_error_kind` looks for it).
#[derive(Debug)]
pub struct TlsFault(pub ErrorKind, pub String);

impl fmt::Display for TlsFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.name(), self.1)
    }
}

impl std::error::Error for TlsFault {}

/// The error kind an I/O error carries, if it is a `TlsFault`.
pub fn tls_fault_kind(e: &io::Error) -> Option<ErrorKind> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<TlsFault>())
        .map(|f| f.0)
}

/// One connection's stream.
#[derive(Debug)]
pub enum Transport {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream<TcpStream>>),
}

impl Transport {
    /// Wraps a socket whose connect is in progress: TLS when `tls` is given.
    pub fn new(sock: TcpStream, tls: Option<&TlsTarget>) -> Result<Transport, ErrorKind> {
        match tls {
            None => Ok(Transport::Tcp(sock)),
            #[cfg(feature = "tls")]
            Some(t) => Ok(Transport::Tls(Box::new(t.connect(sock)?))),
            #[cfg(not(feature = "tls"))]
            Some(t) => match *t {},
        }
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => &t.sock,
        }
    }

    /// True when a TLS handshake follows the TCP connect.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Tcp(_))
    }

    /// True when the stream has more to report (its end) than the socket will announce:
    /// read again without waiting for readiness. (Never on plain TCP.)
    pub fn read_pending(&self) -> bool {
        match self {
            Transport::Tcp(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read_pending(),
        }
    }

    /// Moves the TLS handshake on (plain TCP has none: done at once).
    pub fn handshake(&mut self) -> Progress {
        match self {
            Transport::Tcp(_) => Progress::Done { resumed: false },
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.handshake(),
        }
    }
}

impl Read for Transport {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Transport {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write(buf),
        }
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write_vectored(bufs),
        }
    }

    /// TLS: sends records still waiting for the socket. TCP: nothing to do.
    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.flush(),
        }
    }
}
