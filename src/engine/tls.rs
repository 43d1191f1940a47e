//! TLS for the engine (cargo feature `tls`): rustls with the ring provider, driven by the
//! worker's mio loop — no threads, no async runtime. Owns the certificate material of a
//! run (webpki roots, `--cacert`, `--cert`/`--key`, `--insecure`), one `ClientConfig`
//! per worker (its own session cache: resumption without cross-thread locking), the
//! `TlsStream` (a `Read + Write` over a non-blocking socket and a `ClientConnection`),
//! the mapping of rustls errors to `ErrorKind`s, and the blocking probe handshake of the
//! set-up. Must not register with mio, read a clock or count anything: the worker
//! decides what a handshake's outcome means.

use super::transport::TlsFault;
use crate::plan::TlsOptions;
use crate::stats::ErrorKind;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind,
    RootCertStore, SignatureScheme,
};
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

/// Sessions remembered per worker for resumption (per server name).
const SESSIONS: usize = 256;

/// Stack buffer that gathers pipelined requests into one TLS record.
const STAGE: usize = 4096;

/// The certificate material of a run, read once at set-up and shared (read-only) by the
/// workers, each of which makes its own `ClientConfig` from it.
pub struct Material {
    roots: Arc<RootCertStore>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    insecure: bool,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("roots", &self.roots.len())
            .field("client_cert", &self.client.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Material {
    /// Reads `--cacert`, `--cert` and `--key`; an unreadable or unusable file is a
    /// set-up error naming the file.
    pub fn load(opts: &TlsOptions) -> Result<Material, String> {
        let provider = Arc::new(ring::default_provider());
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &opts.cacert {
            let shown = path.display();
            let pem = std::fs::read(path).map_err(|e| format!("--cacert '{shown}': {e}"))?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--cacert '{shown}': bad PEM: {e}"))?;
            if certs.is_empty() {
                return Err(format!("--cacert '{shown}': no certificate in it"));
            }
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "--cacert '{shown}': no usable CA certificate in it"
                ));
            }
        }
        let client = match (&opts.cert, &opts.key) {
            (None, None) => None,
            (Some(cert), key) => {
                let shown = cert.display();
                let pem = std::fs::read(cert).map_err(|e| format!("--cert '{shown}': {e}"))?;
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--cert '{shown}': bad PEM: {e}"))?;
                if chain.is_empty() {
                    return Err(format!("--cert '{shown}': no certificate in it"));
                }
                // Without --key the key is looked for in the certificate file.
                let (kpath, kpem) = match key {
                    Some(k) => (
                        k.display().to_string(),
                        std::fs::read(k).map_err(|e| format!("--key '{}': {e}", k.display()))?,
                    ),
                    None => (shown.to_string(), pem),
                };
                let key = PrivateKeyDer::from_pem_slice(&kpem)
                    .map_err(|e| key_error(key.is_some(), &kpath, &kpem, &e.to_string()))?;
                Some((chain, key))
            }
            (None, Some(_)) => return Err("--key needs --cert".into()),
        };
        let m = Material {
            roots: Arc::new(roots),
            client,
            insecure: opts.insecure,
            provider,
        };
        // Build one config now so a key that does not fit its certificate is a set-up
        // error, not a failure in every worker.
        m.config()?;
        Ok(m)
    }

    /// A new client configuration with its own session cache (one per worker).
    pub fn config(&self) -> Result<Arc<ClientConfig>, String> {
        let builder = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .map_err(|e| format!("TLS set-up: {e}"))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(self.provider.clone())))
        } else {
            builder.with_root_certificates(self.roots.clone())
        };
        let mut config = match &self.client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| format!("--cert/--key: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = Resumption::in_memory_sessions(SESSIONS);
        Ok(Arc::new(config))
    }
}

/// The set-up error for a key file with no usable key in it: an encrypted key (PKCS#8
/// `ENCRYPTED PRIVATE KEY` or a legacy `Proc-Type: 4,ENCRYPTED` one) is said to be one,
/// and without `--key` (the key looked for in the `--cert` file) the flag to use is named.
fn key_error(given: bool, path: &str, pem: &[u8], why: &str) -> String {
    if pem.windows(9).any(|w| w == b"ENCRYPTED") {
        let flag = if given { "--key" } else { "--cert" };
        format!(
            "{flag} '{path}': the private key is encrypted; tressi reads unencrypted keys \
             only (decrypt it: openssl pkey -in KEY -out PLAIN)"
        )
    } else if given {
        format!("--key '{path}': no usable private key: {why}")
    } else {
        format!("--cert '{path}': no private key in it; give it with --key FILE")
    }
}

/// The server name to verify and send as SNI: `--sni` or the URL's host.
pub fn server_name(host: &str, sni: Option<&str>) -> Result<ServerName<'static>, String> {
    let name = sni.unwrap_or(host);
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("'{name}' is not a valid TLS server name (see --sni)"))
}

/// What the workers need to open TLS connections to one origin.
#[derive(Clone)]
pub struct TlsTarget {
    pub name: ServerName<'static>,
    material: Arc<Material>,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTarget")
            .field("name", &self.name)
            .finish()
    }
}

impl TlsTarget {
    pub fn new(name: ServerName<'static>, material: Arc<Material>) -> Result<TlsTarget, String> {
        let config = material.config()?;
        Ok(TlsTarget {
            name,
            material,
            config,
        })
    }

    /// The same target with a configuration (and session cache) of its own, for one
    /// worker. Falls back to sharing the current one if building fails (it cannot: the
    /// same material built a config at set-up).
    pub fn for_worker(&self) -> TlsTarget {
        TlsTarget {
            config: self
                .material
                .config()
                .unwrap_or_else(|_| self.config.clone()),
            ..self.clone()
        }
    }

    /// This target with `other`'s configuration (one per worker, shared by its pools).
    pub fn sharing(&self, other: &TlsTarget) -> TlsTarget {
        TlsTarget {
            config: other.config.clone(),
            ..self.clone()
        }
    }

    /// A client connection for a new socket.
    pub fn connect<S>(&self, sock: S) -> Result<TlsStream<S>, ErrorKind> {
        let tls = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|_| ErrorKind::TlsHandshake)?;
        Ok(TlsStream {
            sock,
            tls,
            eof_pending: false,
            failed: None,
        })
    }

    /// The set-up's check: a blocking handshake with `addr`, so that a certificate
    /// nothing could accept is one clear error before the run. `left` says how much of
    /// the `timeout` the handshake has left (the caller owns the clock): the whole
    /// handshake must end within it, however slowly the server dribbles its bytes.
    pub fn probe(
        &self,
        addr: std::net::SocketAddr,
        timeout: std::time::Duration,
        mut left: impl FnMut() -> std::time::Duration,
    ) -> Result<(), String> {
        let mut sock = std::net::TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("{addr}: {e}"))?;
        let mut tls = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| format!("TLS: {e}"))?;
        let mut answered = false;
        while tls.is_handshaking() {
            let budget = left();
            let late = || {
                let what = if answered { "not done" } else { "no answer" };
                format!("TLS handshake failed: {what} within {timeout:?} (--connect-timeout)")
            };
            if budget.is_zero() {
                return Err(late());
            }
            let _ = sock.set_read_timeout(Some(budget));
            let _ = sock.set_write_timeout(Some(budget));
            match probe_step(&mut tls, &mut sock) {
                Ok(read) => answered |= read > 0,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(late());
                }
                Err(e) => {
                    let hint = probe_hint(&e);
                    return Err(format!("TLS handshake failed: {e}{hint}"));
                }
            }
        }
        // Our last handshake message (Finished), best effort.
        while tls.wants_write() && matches!(tls.write_tls(&mut sock), Ok(n) if n > 0) {}
        Ok(())
    }
}

/// One step of the probe's blocking handshake: sends what is due, then reads once (what
/// rustls' `complete_io` does, but it loops until the handshake is done, so no deadline
/// could be checked between reads). Returns the bytes read.
fn probe_step(tls: &mut ClientConnection, sock: &mut std::net::TcpStream) -> io::Result<usize> {
    while tls.wants_write() {
        tls.write_tls(sock)?;
    }
    if !tls.wants_read() {
        return Ok(0);
    }
    let n = tls.read_tls(sock)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if let Err(e) = tls.process_new_packets() {
        let _ = tls.write_tls(sock); // the alert, best effort
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    Ok(n)
}

/// What to say after a failed probe handshake, if the error suggests a way out.
fn probe_hint(e: &io::Error) -> &'static str {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        // The usual `openssl req -x509` self-signed certificate: trusting it with
        // --cacert does not help, so the usual hint would mislead.
        Some(te) if ca_as_end_entity(te) => {
            " (the server's certificate is a CA certificate, basicConstraints CA:TRUE, \
             which is never accepted as a server's own certificate, even with --cacert: \
             serve a leaf certificate signed by it, or skip verification with --insecure)"
        }
        Some(te) if error_kind(te, true) == ErrorKind::TlsCert => {
            " (trust its CA with --cacert FILE, or skip verification with --insecure)"
        }
        // What a plain-HTTP server's answer to a ClientHello looks like.
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            " (the server does not speak TLS on this port: plain HTTP? try http://)"
        }
        _ => "",
    }
}

/// True when the server's certificate was refused for being a CA certificate (webpki's
/// `CaUsedAsEndEntity`, which rustls passes on only as an opaque `Other` error).
fn ca_as_end_entity(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))
            if format!("{o:?}").contains("CaUsedAsEndEntity")
    )
}

/// Which error kind a rustls error counts as. Certificate problems (either side's) are
/// `tls_cert`; other failures during the handshake are `tls_handshake`; after it, a
/// broken record stream is a `read` error.
pub fn error_kind(e: &rustls::Error, handshaking: bool) -> ErrorKind {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(_)
        | E::NoCertificatesPresented
        | E::UnsupportedNameType
        | E::InvalidCertRevocationList(_) => ErrorKind::TlsCert,
        E::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateRequired,
        ) => ErrorKind::TlsCert,
        _ if handshaking => ErrorKind::TlsHandshake,
        _ => ErrorKind::Read,
    }
}

/// How a handshake step left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the socket (readable or writable: both are registered, edge-triggered).
    Pending,
    /// Done; `resumed` says whether a remembered session was used.
    Done {
        resumed: bool,
    },
    Failed(ErrorKind),
}

/// A TLS client connection over a non-blocking socket. `Read` gives plaintext (filling
/// the buffer until it is full or the socket would block, which is what an edge-
/// triggered reader needs); `Write` takes plaintext only while no earlier record waits
/// for the socket, so rustls' outgoing buffer stays bounded.
pub struct TlsStream<S> {
    pub sock: S,
    tls: ClientConnection,
    /// The stream ended (close_notify, or the socket's end) after the bytes the last
    /// read returned: the next read returns 0. The socket has nothing more to say, so
    /// no readiness event will come: the caller must read again on its own.
    eof_pending: bool,
    /// The stream broke (a bad record, a socket error) after the bytes the last read
    /// returned: the next read returns this error once the plaintext decrypted before
    /// it is out (the caller must read again on its own, as for `eof_pending`).
    failed: Option<io::Error>,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsStream")
    }
}

fn fault(kind: ErrorKind, e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, TlsFault(kind, e.to_string()))
}

impl<S: Read + Write> TlsStream<S> {
    /// True when the last read returned bytes and the end of the stream, or its error,
    /// is already known (see `eof_pending`, `failed`).
    pub fn read_pending(&self) -> bool {
        self.eof_pending || self.failed.is_some()
    }

    /// Moves the handshake on as far as the socket allows.
    pub fn handshake(&mut self) -> Progress {
        loop {
            match self.push() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Progress::Failed(ErrorKind::TlsHandshake),
            }
            if !self.tls.is_handshaking() {
                return Progress::Done {
                    resumed: self.tls.handshake_kind() == Some(HandshakeKind::Resumed),
                };
            }
            if !self.tls.wants_read() {
                return Progress::Pending; // a record waits for the socket to drain
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Progress::Failed(ErrorKind::TlsHandshake),
                Ok(_) => {
                    if let Err(e) = self.tls.process_new_packets() {
                        // Tell the server why (best effort), then give up.
                        let _ = self.tls.write_tls(&mut self.sock);
                        return Progress::Failed(error_kind(&e, true));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Progress::Failed(ErrorKind::TlsHandshake),
            }
        }
    }

    /// WouldBlock once the stream is known to be broken (`failed`): nothing more is
    /// written, and the read the caller makes next reports why (rustls would refuse the
    /// bytes with its own error, which would count as a write error).
    fn unbroken(&self) -> io::Result<()> {
        match self.failed {
            Some(_) => Err(io::ErrorKind::WouldBlock.into()),
            None => Ok(()),
        }
    }

    /// Writes buffered records until none is left (`Ok`) or the socket would block.
    fn push(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Decrypts what `read_tls` brought in; answers (alerts, key updates) go out when
    /// the socket takes them.
    fn process(&mut self) -> io::Result<()> {
        let handshaking = self.tls.is_handshaking();
        self.tls
            .process_new_packets()
            .map_err(|e| fault(error_kind(&e, handshaking), e))?;
        match self.push() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(()),
        }
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut total = 0;
        let mut eof = false;
        // The last socket read was short: the socket is drained for now (edge-triggered
        // readiness fires again for new bytes), so no read just to see WouldBlock.
        let mut drained = false;
        while total < buf.len() {
            match self.tls.reader().read(&mut buf[total..]) {
                // The server's close_notify: the end of the stream (after these bytes).
                Ok(0) => {
                    self.eof_pending = total > 0;
                    return Ok(total);
                }
                Ok(n) => {
                    total += n;
                    continue;
                }
                // Every byte decrypted before the stream broke is out: now the error.
                Err(_) if self.failed.is_some() => {
                    return match self.failed.take() {
                        Some(e) if total == 0 => Err(e),
                        e => {
                            self.failed = e;
                            Ok(total)
                        }
                    };
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && drained && total > 0 => {
                    return Ok(total)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !eof => {}
                // The TCP stream ended without close_notify: an end of stream all the
                // same (the HTTP framing tells whether a response was cut short).
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof | io::ErrorKind::WouldBlock
                    ) =>
                {
                    self.eof_pending = total > 0;
                    return Ok(total);
                }
                Err(e) => return Err(e),
            }
            let mut sock = ShortRead {
                sock: &mut self.sock,
                short: false,
            };
            let got = self.tls.read_tls(&mut sock);
            drained = sock.short;
            match got {
                Ok(n) => {
                    eof = n == 0;
                    // Records before a broken one may have brought plaintext: it goes
                    // out first, as it would over TCP (see `failed`).
                    self.failed = self.process().err();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if total > 0 && e.kind() == io::ErrorKind::WouldBlock => return Ok(total),
                Err(e) if total > 0 => {
                    self.failed = Some(e);
                    return Ok(total);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.unbroken()?;
        self.push()?; // earlier records first; WouldBlock when they still wait
        let n = self.tls.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.push() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Small slices (pipelined requests) are gathered on the stack into one record:
    /// rustls allocates a buffer per record it encrypts, and its own vectored write
    /// allocates a list of the slices besides.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.unbroken()?;
        self.push()?; // earlier records first; WouldBlock when they still wait
        let mut stage = [0u8; STAGE];
        let mut staged = 0;
        let mut n = 0;
        for b in bufs.iter().filter(|b| !b.is_empty()) {
            if staged + b.len() <= STAGE {
                stage[staged..staged + b.len()].copy_from_slice(b);
                staged += b.len();
            } else {
                if staged == 0 {
                    n = self.tls.writer().write(b)?; // a large one on its own
                }
                break;
            }
        }
        if staged > 0 {
            n = self.tls.writer().write(&stage[..staged])?;
        }
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.push() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Sends records still buffered (`Ok` when the socket would block: the next
    /// writable event comes back here).
    fn flush(&mut self) -> io::Result<()> {
        match self.push() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            r => r,
        }
    }
}

/// A socket that notes whether its last read returned less than asked for.
struct ShortRead<'a, S> {
    sock: &'a mut S,
    short: bool,
}

impl<S: Read> Read for ShortRead<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

/// `--insecure`: accepts any server certificate (but still checks that the server holds
/// the key of the certificate it sent).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;

    #[test]
    fn rustls_errors_map_to_kinds() {
        use rustls::Error as E;
        let cases: [(E, bool, ErrorKind); 8] = [
            (
                E::InvalidCertificate(CertificateError::UnknownIssuer),
                true,
                ErrorKind::TlsCert,
            ),
            (
                E::InvalidCertificate(CertificateError::Expired),
                true,
                ErrorKind::TlsCert,
            ),
            (
                E::InvalidCertificate(CertificateError::NotValidForName),
                true,
                ErrorKind::TlsCert,
            ),
            (E::NoCertificatesPresented, true, ErrorKind::TlsCert),
            (
                E::AlertReceived(AlertDescription::CertificateRequired),
                false,
                ErrorKind::TlsCert,
            ),
            (
                E::AlertReceived(AlertDescription::HandshakeFailure),
                true,
                ErrorKind::TlsHandshake,
            ),
            (E::DecryptError, true, ErrorKind::TlsHandshake),
            (E::DecryptError, false, ErrorKind::Read),
        ];
        for (e, handshaking, want) in cases {
            assert_eq!(error_kind(&e, handshaking), want, "{e:?}");
        }
    }

    /// One end of an in-memory socket pair: reads take at most `max_read` bytes from
    /// `inbox` (WouldBlock when empty, end of stream once `closed`), writes go to `outbox`.
    struct End {
        inbox: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u8>>>,
        outbox: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u8>>>,
        closed: std::rc::Rc<std::cell::Cell<bool>>,
        max_read: usize,
    }

    impl Read for End {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut inbox = self.inbox.borrow_mut();
            if inbox.is_empty() {
                return if self.closed.get() {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = buf.len().min(self.max_read).min(inbox.len());
            for (b, x) in buf.iter_mut().zip(inbox.drain(..n)) {
                *b = x;
            }
            Ok(n)
        }
    }

    impl Write for End {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.outbox.borrow_mut().extend(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pair(max_read: usize) -> (End, End) {
        let a = std::rc::Rc::new(std::cell::RefCell::new(Default::default()));
        let b = std::rc::Rc::new(std::cell::RefCell::new(Default::default()));
        let closed = std::rc::Rc::new(std::cell::Cell::new(false));
        (
            End {
                inbox: a.clone(),
                outbox: b.clone(),
                closed: closed.clone(),
                max_read,
            },
            End {
                inbox: b,
                outbox: a,
                closed,
                max_read: usize::MAX,
            },
        )
    }

    /// TLS records in `wire` (5-byte headers: type, version, length).
    fn records(wire: &std::collections::VecDeque<u8>) -> usize {
        let bytes: Vec<u8> = wire.iter().copied().collect();
        let (mut n, mut at) = (0, 0);
        while let Some(h) = bytes.get(at..at + 5) {
            at += 5 + usize::from(u16::from_be_bytes([h[3], h[4]]));
            n += 1;
        }
        n
    }

    /// Moves what the client wrote into the server and the server's answer back.
    fn pump(server: &mut rustls::ServerConnection, end: &mut End) {
        while !end.inbox.borrow().is_empty() {
            server.read_tls(end).unwrap();
            server.process_new_packets().unwrap();
        }
        while server.wants_write() {
            server.write_tls(end).unwrap();
        }
    }

    #[test]
    fn stream_over_split_reads_handshakes_writes_reads_and_ends() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = std::env::temp_dir().join(format!("tressi-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        let material = Material::load(&TlsOptions {
            cacert: Some(ca),
            ..TlsOptions::default()
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let target =
            TlsTarget::new(server_name("localhost", None).unwrap(), Arc::new(material)).unwrap();
        let server_config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
                )
                .unwrap(),
        );
        for max_read in [1, 7, 100, usize::MAX] {
            let (client_end, mut server_end) = pair(max_read);
            let mut client = target.connect(client_end).unwrap();
            let mut server = rustls::ServerConnection::new(server_config.clone()).unwrap();
            let mut done = None;
            for _ in 0..20 {
                match client.handshake() {
                    Progress::Pending => pump(&mut server, &mut server_end),
                    Progress::Done { resumed } => {
                        done = Some(resumed);
                        break;
                    }
                    Progress::Failed(k) => panic!("handshake failed: {k:?}"),
                }
            }
            // The first connection does a full handshake; the later ones resume the
            // session it left in the target's cache.
            assert_eq!(done, Some(max_read != 1), "max_read {max_read}");
            // Three pipelined requests in one vectored write.
            let reqs: [&[u8]; 3] = [b"GET /a HTTP/1.1\r\n\r\n", b"GET /b HTTP/1.1\r\n\r\n", b""];
            pump(&mut server, &mut server_end); // the client's last handshake flight
            let n = client.write_vectored(&reqs.map(IoSlice::new)).unwrap();
            assert_eq!(n, reqs.iter().map(|r| r.len()).sum::<usize>());
            client.flush().unwrap();
            // In one TLS record: rustls allocates once per record it encrypts, so a
            // batch of pipelined requests costs one allocation (tests/alloc.rs).
            assert_eq!(
                records(&server_end.inbox.borrow()),
                1,
                "max_read {max_read}"
            );
            // And a run of requests as one slice (`request::Requests`): one record too.
            let run = b"GET /c HTTP/1.1\r\n\r\n".repeat(16);
            assert_eq!(client.write(&run).unwrap(), run.len());
            assert_eq!(
                records(&server_end.inbox.borrow()),
                2,
                "max_read {max_read}"
            );
            pump(&mut server, &mut server_end);
            let mut got = Vec::new();
            server.reader().read_to_end(&mut got).unwrap_err(); // WouldBlock after the data
            assert_eq!(got, [&reqs.concat()[..], &run].concat());
            // Three responses in three records, read back through small buffers.
            let want: Vec<u8> = (0..3)
                .flat_map(|i| {
                    format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{i}").into_bytes()
                })
                .collect();
            for chunk in want.chunks(want.len() / 3 + 1) {
                server.writer().write_all(chunk).unwrap();
            }
            pump(&mut server, &mut server_end);
            let mut back = Vec::new();
            let mut buf = [0u8; 13];
            loop {
                match client.read(&mut buf) {
                    Ok(0) => panic!("unexpected end"),
                    Ok(n) => back.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(back, want, "max_read {max_read}");
            assert!(!client.read_pending());
            // The server's close_notify, or a plain end of the TCP stream: the end.
            if max_read == 100 {
                // The last bytes and the close_notify in one go: the read returns the
                // bytes and says the end is pending (no socket event would tell).
                server.writer().write_all(b"bye").unwrap();
                server.send_close_notify();
                pump(&mut server, &mut server_end);
                let mut big = [0u8; 64];
                assert_eq!(client.read(&mut big).unwrap(), 3);
                assert!(client.read_pending());
            } else if max_read == 7 {
                server_end.closed.set(true);
            } else {
                server.send_close_notify();
                pump(&mut server, &mut server_end);
            }
            assert_eq!(client.read(&mut buf).unwrap(), 0, "max_read {max_read}");
            assert!(!client.read_pending());
        }
        // Garbage after the handshake is a read error, counted as `read`.
        let (client_end, mut server_end) = pair(usize::MAX);
        let mut client = target.connect(client_end).unwrap();
        let mut server = rustls::ServerConnection::new(server_config.clone()).unwrap();
        while !matches!(client.handshake(), Progress::Done { .. }) {
            pump(&mut server, &mut server_end);
        }
        server_end.write_all(b"\x17\x03\x03\x00\x05hello").unwrap();
        let e = client.read(&mut [0u8; 64]).unwrap_err();
        assert_eq!(
            super::super::transport::tls_fault_kind(&e),
            Some(ErrorKind::Read),
            "{e}"
        );
        // A response, then (in the same read) a broken record: the response's bytes
        // come first, as over TCP; the error follows at the next read, which the
        // caller is told to make at once (no socket event would come).
        for max_read in [7, usize::MAX] {
            let (client_end, mut server_end) = pair(max_read);
            let mut client = target.connect(client_end).unwrap();
            let mut server = rustls::ServerConnection::new(server_config.clone()).unwrap();
            while !matches!(client.handshake(), Progress::Done { .. }) {
                pump(&mut server, &mut server_end);
            }
            let want = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
            server.writer().write_all(want).unwrap();
            pump(&mut server, &mut server_end);
            server_end.write_all(b"\x17\x03\x03\x00\x05hello").unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            let e = loop {
                match client.read(&mut buf) {
                    Ok(0) => panic!("max_read {max_read}: an end, not the error"),
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        if got.len() == want.len() && max_read == usize::MAX {
                            // Read together with the response: the error is known.
                            assert!(client.read_pending(), "max_read {max_read}");
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        panic!("max_read {max_read}: WouldBlock after {got:?}")
                    }
                    Err(e) => break e,
                }
            };
            assert_eq!(got, want, "max_read {max_read}: {e}");
            assert_eq!(
                super::super::transport::tls_fault_kind(&e),
                Some(ErrorKind::Read),
                "{e}"
            );
            assert!(!client.read_pending());
        }
    }

    #[test]
    fn server_names() {
        assert!(server_name("example.com", None).is_ok());
        assert!(server_name("127.0.0.1", None).is_ok());
        assert!(server_name("[::1]", None).is_ok());
        assert!(server_name("::1", None).is_ok());
        assert_eq!(
            server_name("127.0.0.1", Some("api.test")).unwrap(),
            ServerName::try_from("api.test").unwrap()
        );
        assert_eq!(
            server_name("h", Some("bad name!")).unwrap_err(),
            "'bad name!' is not a valid TLS server name (see --sni)"
        );
    }

    #[test]
    fn bad_files_are_named() {
        let opts = TlsOptions {
            cacert: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let e = Material::load(&opts).unwrap_err();
        assert!(e.starts_with("--cacert '/nonexistent/ca.pem': "), "{e}");
        let opts = TlsOptions {
            key: Some("/nonexistent/k.pem".into()),
            ..TlsOptions::default()
        };
        assert_eq!(Material::load(&opts).unwrap_err(), "--key needs --cert");
        let encrypted: [(&str, &[u8]); 2] = [
            ("pkcs8", b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"),
            ("legacy", b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nMIIB\n-----END RSA PRIVATE KEY-----\n"),
        ];
        for (what, pem) in encrypted {
            for (given, flag) in [(true, "--key"), (false, "--cert")] {
                let e = key_error(given, "k.pem", pem, "x");
                assert!(
                    e.starts_with(&format!("{flag} 'k.pem': the private key is encrypted")),
                    "{what}: {e}"
                );
            }
        }
        let none = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(
            key_error(false, "c.pem", none, "no items found"),
            "--cert 'c.pem': no private key in it; give it with --key FILE"
        );
        assert_eq!(
            key_error(true, "k.pem", none, "no items found"),
            "--key 'k.pem': no usable private key: no items found"
        );
        assert!(Material::load(&TlsOptions::default()).is_ok());
    }
}
