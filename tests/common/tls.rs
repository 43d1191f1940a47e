//! TLS test helpers: certificates made with rcgen at test time (a CA, good / expired /
//! wrong-host / foreign-CA server certificates, a client CA and client certificate),
//! written as PEM files into a temporary directory, and a small blocking rustls HTTPS
//! server on 127.0.0.1 (a thread per connection) that counts handshakes, resumed
//! handshakes and responses. Test-only: nothing here ships in the binary.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
};
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// One server certificate (chain PEM, key PEM).
#[derive(Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Every certificate a TLS test needs, as files.
pub struct Certs {
    pub dir: PathBuf,
    /// The test CA (what `--cacert` trusts).
    pub ca: PathBuf,
    /// For `localhost` and 127.0.0.1, by the CA, valid now.
    pub good: Pair,
    /// Same names, by the CA, expired in 2001.
    pub expired: Pair,
    /// For `other.test` only, by the CA.
    pub wrong_host: Pair,
    /// For localhost/127.0.0.1, by another CA nobody trusts.
    pub foreign: Pair,
    /// The CA that signs client certificates, and one client certificate.
    pub client_ca: PathBuf,
    pub client: Pair,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    dir: &Path,
    file: &str,
    names: &[&str],
    issuer: &CertifiedIssuer<'static, KeyPair>,
    expired: bool,
) -> Pair {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("x"));
    if expired {
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    let pair = Pair {
        cert: dir.join(format!("{file}.pem")),
        key: dir.join(format!("{file}.key")),
    };
    // The chain: leaf, then its CA (as servers usually send it).
    std::fs::write(&pair.cert, cert.pem() + &issuer.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

impl Certs {
    pub fn make(tag: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("tressi-tls-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names = ["localhost", "127.0.0.1"];
        let the_ca = ca("tressi test CA");
        let other = ca("someone else's CA");
        let client_ca = ca("tressi test client CA");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, the_ca.pem()).unwrap();
        let client_ca_path = dir.join("client-ca.pem");
        std::fs::write(&client_ca_path, client_ca.pem()).unwrap();
        Certs {
            ca: ca_path,
            good: leaf(&dir, "good", &names, &the_ca, false),
            expired: leaf(&dir, "expired", &names, &the_ca, true),
            wrong_host: leaf(&dir, "wrong-host", &["other.test"], &the_ca, false),
            foreign: leaf(&dir, "foreign", &names, &other, false),
            client_ca: client_ca_path,
            client: leaf(&dir, "client", &["client.test"], &client_ca, false),
            dir,
        }
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn certified(pair: &Pair) -> Arc<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pair.cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&pair.key).unwrap();
    Arc::new(CertifiedKey::from_der(chain, key, &ring::default_provider()).unwrap())
}

/// Serves `first` to the first `n` full handshakes, `then` to the others.
#[derive(Debug)]
struct Switch {
    first: Arc<CertifiedKey>,
    then: Arc<CertifiedKey>,
    n: u64,
    seen: AtomicU64,
}

impl ResolvesServerCert for Switch {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let i = self.seen.fetch_add(1, Ordering::SeqCst);
        Some(if i < self.n {
            self.first.clone()
        } else {
            self.then.clone()
        })
    }
}

/// How the test server behaves.
pub struct ServerOptions {
    pub cert: Pair,
    /// Serve `cert` to this many full handshakes, then `then` (e.g. a good certificate
    /// to the set-up's probe, an expired one to the run).
    pub switch: Option<(u64, Pair)>,
    /// Require a client certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
    /// Offer session resumption (tickets and a session cache).
    pub resumption: bool,
    /// Answer each connection's first request with an HTTP/1.0 response delimited by
    /// the end of the stream: its bytes and a close_notify, then keep the TCP connection
    /// open until the client closes it.
    pub http10_close_notify: bool,
    /// Send each connection's first response with a broken record right behind it, in
    /// one write (so the client reads both at once), then close.
    pub garbage_after_response: bool,
    /// Connections after the first this many get no TLS answer at all (held open).
    pub answer_only: Option<u64>,
}

impl ServerOptions {
    pub fn new(cert: &Pair) -> ServerOptions {
        ServerOptions {
            cert: cert.clone(),
            switch: None,
            client_ca: None,
            resumption: true,
            http10_close_notify: false,
            garbage_after_response: false,
            answer_only: None,
        }
    }
}

#[derive(Default)]
pub struct Counters {
    /// Completed handshakes, of which resumed.
    pub handshakes: AtomicU64,
    pub resumed: AtomicU64,
    /// Handshakes that failed (the client refused our certificate, or we its).
    pub failed: AtomicU64,
    /// Responses written.
    pub served: AtomicU64,
    /// Completed handshakes that agreed on ALPN `http/1.1`.
    pub alpn_http11: AtomicU64,
    /// Completed handshakes whose ClientHello named a server (SNI), and the last name.
    pub with_sni: AtomicU64,
    pub last_sni: std::sync::Mutex<Option<String>>,
}

/// A blocking HTTPS/1.1 server answering every request (no body expected) with
/// `200 hello, world\n`, keep-alive and pipelining included.
pub struct TlsServer {
    addr: SocketAddr,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl TlsServer {
    pub fn start(opts: ServerOptions) -> TlsServer {
        let provider = Arc::new(ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .unwrap();
        let builder = match &opts.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in CertificateDer::pem_file_iter(ca).unwrap() {
                    roots.add(c.unwrap()).unwrap();
                }
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let first = certified(&opts.cert);
        let (n, then) = match &opts.switch {
            Some((n, p)) => (*n, certified(p)),
            None => (u64::MAX, first.clone()),
        };
        let mut config = builder.with_cert_resolver(Arc::new(Switch {
            first,
            then,
            n,
            seen: AtomicU64::new(0),
        }));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if !opts.resumption {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counters.clone(), stop.clone());
        let http10 = opts.http10_close_notify;
        let garbage = opts.garbage_after_response;
        let answer_only = opts.answer_only.unwrap_or(u64::MAX);
        let accept = thread::spawn(move || {
            let mut accepted = 0u64;
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) if accepted >= answer_only => {
                        let s = s.clone();
                        thread::spawn(move || {
                            while !s.load(Ordering::SeqCst) {
                                thread::sleep(Duration::from_millis(10));
                            }
                            drop(sock);
                        });
                    }
                    Ok((sock, _)) => {
                        accepted += 1;
                        let (config, c, s) = (config.clone(), c.clone(), s.clone());
                        thread::spawn(move || serve(sock, config, &c, &s, http10, garbage));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        TlsServer {
            addr,
            counters,
            stop,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn n(&self, f: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        f(&self.counters).load(Ordering::SeqCst)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    mut sock: TcpStream,
    config: Arc<ServerConfig>,
    c: &Counters,
    stop: &AtomicBool,
    http10: bool,
    garbage: bool,
) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_nodelay(true);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let Ok(mut conn) = ServerConnection::new(config) else {
        return;
    };
    while conn.is_handshaking() {
        match conn.complete_io(&mut sock) {
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock && !stop.load(Ordering::SeqCst) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut && !stop.load(Ordering::SeqCst) => {}
            Err(_) => {
                c.failed.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    }
    c.handshakes.fetch_add(1, Ordering::SeqCst);
    if conn.alpn_protocol() == Some(b"http/1.1") {
        c.alpn_http11.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(name) = conn.server_name() {
        c.with_sni.fetch_add(1, Ordering::SeqCst);
        *c.last_sni.lock().unwrap() = Some(name.to_string());
    }
    if conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
        c.resumed.fetch_add(1, Ordering::SeqCst);
    }
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n";
    while !stop.load(Ordering::SeqCst) {
        let n = match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        pending.extend_from_slice(&buf[..n]);
        let mut out = Vec::new();
        let mut close = false;
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            close |= head.contains("connection: close");
            pending.drain(..end + 4);
            out.extend_from_slice(RESPONSE);
            c.served.fetch_add(1, Ordering::SeqCst);
        }
        if garbage && !out.is_empty() {
            let mut wire = Vec::new();
            let _ = tls.conn.writer().write_all(RESPONSE);
            while tls.conn.wants_write() {
                let _ = tls.conn.write_tls(&mut wire);
            }
            wire.extend_from_slice(b"\x17\x03\x03\x00\x05hello");
            let _ = tls.sock.write_all(&wire);
            thread::sleep(Duration::from_millis(50));
            return;
        }
        if http10 && !out.is_empty() {
            let _ = tls.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello, world\n");
            tls.conn.send_close_notify();
            let _ = tls.flush();
            // Keep the TCP connection until the client closes it.
            while !stop.load(Ordering::SeqCst) {
                match tls.sock.read(&mut buf) {
                    Ok(0) => return,
                    Err(e)
                        if e.kind() != std::io::ErrorKind::WouldBlock
                            && e.kind() != std::io::ErrorKind::TimedOut =>
                    {
                        return
                    }
                    _ => {}
                }
            }
            return;
        }
        if !out.is_empty() && tls.write_all(&out).and_then(|()| tls.flush()).is_err() {
            return;
        }
        if close {
            tls.conn.send_close_notify();
            let _ = tls.flush();
            return;
        }
    }
}

/// nginx (see `super::Nginx`) with two more servers on loopback: plain TLS on
/// `tls_port` with a self-signed certificate for localhost/127.0.0.1 that the openssl
/// CLI makes at test time (`cert`, also the CA to trust), and the same requiring a client
/// certificate signed by `client_ca` (`ssl_verify_client on`) on `mtls_port`.
pub struct NginxTls {
    pub nginx: super::Nginx,
    pub tls_port: u16,
    pub mtls_port: u16,
    pub cert: PathBuf,
}

/// Starts it; `None` (skip) when nginx or openssl is missing, unless `CI` is set.
pub fn nginx_tls(client_ca: &Path) -> Option<NginxTls> {
    let openssl = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !openssl {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the openssl CLI is not installed"
        );
        eprintln!("openssl not installed: skipping");
        return None;
    }
    let (tls_port, mtls_port) = (super::free_port(), super::free_port());
    let client_ca = client_ca.to_path_buf();
    let mut cert = PathBuf::new();
    let nginx = super::Nginx::start_with(|dir| {
        cert = dir.join("server.pem");
        let key = dir.join("server.key");
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (c, k, ca) = (cert.display(), key.display(), client_ca.display());
        format!(
            r#"
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {c};
        ssl_certificate_key {k};
        location = / {{ return 200 "hello, world\n"; }}
        location = /status {{ stub_status; }}
    }}
    server {{
        listen 127.0.0.1:{mtls_port} ssl;
        ssl_certificate {c};
        ssl_certificate_key {k};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        location = / {{ return 200 "hello, client\n"; }}
    }}"#
        )
    })?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", tls_port)).is_err()
        || TcpStream::connect(("127.0.0.1", mtls_port)).is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "nginx TLS did not start"
        );
        thread::sleep(Duration::from_millis(20));
    }
    Some(NginxTls {
        nginx,
        tls_port,
        mtls_port,
        cert,
    })
}
