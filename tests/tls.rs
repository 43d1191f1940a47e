//! HTTPS end to end, on loopback: the `tressi` binary against a test rustls server
//! (certificates from rcgen) and against nginx with TLS (a certificate from the openssl
//! CLI). Counts are checked on both sides; every run is bounded in time.
#![cfg(feature = "tls")]

mod common;

use common::tls::{nginx_tls, Certs, ServerOptions, TlsServer};
use common::{check_totals, count, error_total, tressi, tressi_json};
use std::time::Duration;

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// Runs tressi expecting the set-up error exit (2); returns its stderr.
fn setup_error(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--no-ui");
    let out = tressi(&all, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "tressi {all:?}: {err}");
    assert!(out.stdout.is_empty(), "no report after a set-up error");
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    err
}

#[test]
fn https_with_cacert_counts_every_response_on_both_sides() {
    let certs = Certs::make("cacert");
    let server = TlsServer::start(ServerOptions::new(&certs.good));
    let url = server.url("/");
    let v = tressi_json(&[
        "-n",
        "3000",
        "-c",
        "4",
        "-t",
        "2",
        "--cacert",
        path(&certs.ca),
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 3000);
    assert_eq!(error_total(&v), 0, "{v}");
    // The set-up's probe is one more handshake on the server's side.
    assert_eq!(count(&v, &["tls", "handshakes"]), 4);
    assert_eq!(server.n(|c| &c.handshakes), 5);
    assert_eq!(server.n(|c| &c.served), 3000);
    // Every handshake offered ALPN http/1.1; an IP address host sends no SNI.
    assert_eq!(server.n(|c| &c.alpn_http11), 5);
    assert_eq!(server.n(|c| &c.with_sni), 0);
    // A host name is sent as SNI.
    let url = server.url("/").replace("127.0.0.1", "localhost");
    let v = tressi_json(&["-n", "10", "-c", "1", "--cacert", path(&certs.ca), &url]);
    assert_eq!(count(&v, &["requests", "completed"]), 10, "{v}");
    assert_eq!(server.n(|c| &c.with_sni), 2, "the probe's and the run's");
    let sni = server.counters.last_sni.lock().unwrap().clone();
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert_eq!(v["tls"]["insecure"], false);
    assert!(count(&v, &["tls", "handshake_us", "max"]) > 0, "{v}");
    assert!(count(&v, &["connect_us", "max"]) > 0, "{v}");
    assert!(count(&v, &["first_byte_us", "max"]) > 0, "{v}");
}

#[test]
fn pipelining_over_tls() {
    let certs = Certs::make("pipe");
    let server = TlsServer::start(ServerOptions::new(&certs.good));
    let url = server.url("/");
    let v = tressi_json(&[
        "-n",
        "20000",
        "-c",
        "2",
        "-t",
        "1",
        "-p",
        "16",
        "--cacert",
        path(&certs.ca),
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 20000);
    assert_eq!(v["pipelining"], 16);
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(server.n(|c| &c.served), 20000);
}

#[test]
fn sessions_resume_on_reconnect() {
    let certs = Certs::make("resume");
    let server = TlsServer::start(ServerOptions::new(&certs.good));
    let url = server.url("/");
    // One connection, one request per connection: every reconnect can resume.
    let v = tressi_json(&[
        "-n",
        "40",
        "-c",
        "1",
        "-t",
        "1",
        "--no-keepalive",
        "--cacert",
        path(&certs.ca),
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 40);
    let hs = count(&v, &["tls", "handshakes"]);
    let resumed = count(&v, &["tls", "resumed"]);
    assert!(hs >= 40, "{v}");
    // The first handshake of the worker is a full one (the probe's session is not
    // shared with the workers); every later one resumes.
    assert_eq!(resumed, hs - 1, "{v}");
    assert!(server.n(|c| &c.resumed) >= 39);
}

#[test]
fn a_close_notify_that_ends_a_response_is_seen_at_once() {
    // HTTP/1.0, body delimited by the end of the stream: the response bytes and the
    // close_notify come together while the TCP connection stays open, so no socket
    // event follows; the response must complete anyway (not time out).
    let certs = Certs::make("closenotify");
    let server = TlsServer::start(ServerOptions {
        http10_close_notify: true,
        ..ServerOptions::new(&certs.good)
    });
    let url = server.url("/");
    let v = tressi_json(&[
        "-n",
        "20",
        "-c",
        "1",
        "-t",
        "1",
        "--timeout",
        "3s",
        "--cacert",
        path(&certs.ca),
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 20, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(count(&v, &["tls", "handshakes"]), 20, "{v}");
}

#[test]
fn a_response_read_together_with_a_broken_record_counts() {
    // The response's record and a bad one arrive in one read: the response completes
    // (as it would over TCP), then the connection fails as a read error.
    let certs = Certs::make("garbage");
    let server = TlsServer::start(ServerOptions {
        garbage_after_response: true,
        ..ServerOptions::new(&certs.good)
    });
    let url = server.url("/");
    let out = tressi(
        &[
            "-d",
            "1s",
            "-c",
            "1",
            "-t",
            "1",
            "--cacert",
            path(&certs.ca),
            "--json",
            "--no-ui",
            &url,
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    let ok = count(&v, &["status", "200"]);
    assert!(ok >= 1, "{v}");
    // One response per connection: each connection's one handshake.
    let hs = count(&v, &["tls", "handshakes"]);
    assert!(
        ok + 1 >= hs && ok <= hs,
        "{ok} responses, {hs} handshakes: {v}"
    );
    // Then the next request on each connection fails, as a read error (the broken
    // record), not as a write refused by the broken stream.
    let read = count(&v, &["errors", "read"]);
    assert!(read + 1 >= ok, "{v}");
    assert_eq!(error_total(&v), read, "only read errors: {v}");
}

#[test]
fn sni_overrides_the_host_name() {
    let certs = Certs::make("sni");
    let server = TlsServer::start(ServerOptions::new(&certs.wrong_host));
    let url = server.url("/");
    // The certificate names other.test, not 127.0.0.1: --sni makes it match.
    let v = tressi_json(&[
        "-n",
        "100",
        "-c",
        "2",
        "--cacert",
        path(&certs.ca),
        "--sni",
        "other.test",
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 100);
    assert_eq!(error_total(&v), 0, "{v}");
    // It is also the name sent (SNI), on every handshake, the probe's included.
    let hs = server.n(|c| &c.handshakes);
    assert_eq!(hs, 3, "the probe and two connections");
    assert_eq!(server.n(|c| &c.with_sni), hs);
    let sni = server.counters.last_sni.lock().unwrap().clone();
    assert_eq!(sni.as_deref(), Some("other.test"));
}

#[test]
fn bad_certificates_are_one_setup_error_and_insecure_passes_them() {
    let certs = Certs::make("bad");
    let cases = [
        ("wrong host", &certs.wrong_host, "not valid for name"),
        ("expired", &certs.expired, "certificate expired"),
        ("untrusted CA", &certs.foreign, "UnknownIssuer"),
    ];
    for (what, pair, needle) in cases {
        let server = TlsServer::start(ServerOptions::new(pair));
        let url = server.url("/");
        let err = setup_error(&["-n", "10", "-c", "2", "--cacert", path(&certs.ca), &url]);
        assert!(
            err.starts_with(&format!(
                "tressi: cannot connect to {url}: TLS handshake failed: invalid peer certificate: "
            )),
            "{what}: {err}"
        );
        assert!(err.contains(needle), "{what}: {err}");
        assert!(err.contains("--insecure"), "{what}: the hint: {err}");
        // Nothing was sent but the probe.
        assert_eq!(server.n(|c| &c.served), 0, "{what}");
        // --insecure runs against the same server, and says so.
        let v = tressi_json(&["-n", "50", "-c", "2", "--insecure", &url]);
        assert_eq!(count(&v, &["requests", "completed"]), 50, "{what}: {v}");
        assert_eq!(error_total(&v), 0, "{what}: {v}");
        assert_eq!(v["tls"]["insecure"], true, "{what}");
        let out = tressi(
            &["-n", "50", "-c", "2", "--insecure", "--no-ui", &url],
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "{what}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("certificates NOT verified (--insecure)"),
            "{what}: {text}"
        );
    }
    // Without --cacert the test CA is not trusted either (only the built-in roots are).
    let server = TlsServer::start(ServerOptions::new(&certs.good));
    let err = setup_error(&["-n", "10", &server.url("/")]);
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[test]
fn a_self_signed_ca_certificate_is_a_setup_error_that_says_why() {
    // What `openssl req -x509` makes: self-signed, basicConstraints CA:TRUE. webpki
    // never accepts a CA certificate as the server's own, even when --cacert trusts it,
    // so the usual hint ("trust its CA with --cacert") would send the user in circles.
    let certs = Certs::make("selfca");
    let mut p =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    let pair = common::tls::Pair {
        cert: certs.dir.join("self-ca.pem"),
        key: certs.dir.join("self-ca.key"),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    let server = TlsServer::start(ServerOptions::new(&pair));
    let url = server.url("/");
    for trusted in [false, true] {
        let mut args = vec!["-n", "1", &url];
        if trusted {
            args.extend(["--cacert", path(&pair.cert)]);
        }
        let err = setup_error(&args);
        assert!(err.contains("is a CA certificate"), "{trusted}: {err}");
        assert!(
            !err.contains("trust its CA with --cacert"),
            "{trusted}: {err}"
        );
        assert!(err.contains("--insecure"), "{trusted}: {err}");
    }
    let v = tressi_json(&["-n", "20", "-c", "2", "--insecure", &url]);
    assert_eq!(count(&v, &["requests", "completed"]), 20, "{v}");
}

#[test]
fn a_certificate_that_goes_bad_mid_run_is_counted_as_tls_cert() {
    let certs = Certs::make("switch");
    for (what, then) in [
        ("expired", &certs.expired),
        ("wrong host", &certs.wrong_host),
        ("untrusted CA", &certs.foreign),
    ] {
        // The probe sees the good certificate; every handshake of the run a bad one.
        let server = TlsServer::start(ServerOptions {
            switch: Some((1, then.clone())),
            resumption: false,
            ..ServerOptions::new(&certs.good)
        });
        let url = server.url("/");
        let out = tressi(
            &[
                "-d",
                "1s",
                "-c",
                "2",
                "-t",
                "1",
                "--cacert",
                path(&certs.ca),
                "--json",
                "--no-ui",
                &url,
            ],
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        check_totals(&v);
        assert_eq!(count(&v, &["requests", "completed"]), 0, "{what}: {v}");
        assert_eq!(count(&v, &["requests", "sent"]), 0, "{what}: {v}");
        let bad = count(&v, &["errors", "tls_cert"]);
        assert!(
            bad >= 2,
            "{what}: both connections fail (then back off): {v}"
        );
        assert_eq!(error_total(&v), bad, "{what}: only tls_cert errors: {v}");
        assert_eq!(count(&v, &["tls", "handshakes"]), 0, "{what}: {v}");
        assert_eq!(server.n(|c| &c.served), 0, "{what}");
    }
}

#[test]
fn a_server_that_is_not_tls_is_a_setup_error() {
    // The built-in target speaks plain HTTP: the TLS probe fails at once.
    let target = common::TargetProcess::start(&[]);
    let url = target.url("/").replacen("http://", "https://", 1);
    let err = setup_error(&["-n", "10", &url]);
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(
        err.trim_end()
            .ends_with("(the server does not speak TLS on this port: plain HTTP? try http://)"),
        "{err}"
    );
    target.stop();
}

#[test]
fn a_server_that_never_answers_the_handshake_is_a_setup_error() {
    // Accepts TCP connections and says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/", listener.local_addr().unwrap());
    let hold = std::thread::spawn(move || {
        let (_s, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let err = setup_error(&["-n", "1", "--connect-timeout", "300ms", "--insecure", &url]);
    assert!(
        err.trim_end()
            .ends_with("TLS handshake failed: no answer within 300ms (--connect-timeout)"),
        "{err}"
    );
    hold.join().unwrap();
}

#[test]
fn a_server_that_dribbles_its_handshake_is_a_setup_error_within_the_connect_timeout() {
    // Answers the ClientHello with the header of a full-size handshake record, then one
    // byte every 10 ms (16 KiB would take minutes): every read gets something, so only a
    // deadline on the whole handshake ends the probe.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/", listener.local_addr().unwrap());
    let dribble = std::thread::spawn(move || {
        use std::io::{Read, Write};
        // The set-up's TCP probe connects and closes: the TLS probe is the one that
        // says something.
        let mut s = loop {
            let (mut s, _) = listener.accept().unwrap();
            if s.read(&mut [0u8; 4096]).unwrap_or(0) > 0 {
                break s;
            }
        };
        let _ = s.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00]);
        for _ in 0..1000 {
            std::thread::sleep(Duration::from_millis(10));
            if s.write_all(&[0]).is_err() {
                return;
            }
        }
    });
    let start = std::time::Instant::now();
    let err = setup_error(&["-n", "1", "--connect-timeout", "300ms", "--insecure", &url]);
    let took = start.elapsed();
    assert!(
        err.trim_end()
            .ends_with("TLS handshake failed: not done within 300ms (--connect-timeout)"),
        "{err}"
    );
    assert!(took < Duration::from_secs(3), "the probe took {took:?}");
    dribble.join().unwrap();
}

#[test]
fn a_handshake_that_outlasts_the_connect_timeout_is_counted_as_tls_handshake() {
    let certs = Certs::make("stall");
    // The set-up's two connections (the TCP probe, then the TLS probe) are answered;
    // the run's get no answer.
    let server = TlsServer::start(ServerOptions {
        answer_only: Some(2),
        ..ServerOptions::new(&certs.good)
    });
    let url = server.url("/");
    let out = tressi(
        &[
            "-d",
            "1s",
            "-c",
            "2",
            "-t",
            "1",
            "--connect-timeout",
            "200ms",
            "--cacert",
            path(&certs.ca),
            "--json",
            "--no-ui",
            &url,
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert_eq!(count(&v, &["requests", "sent"]), 0, "{v}");
    let stalled = count(&v, &["errors", "tls_handshake"]);
    assert!(
        stalled >= 2,
        "both connections time out in the handshake: {v}"
    );
    assert_eq!(error_total(&v), stalled, "only tls_handshake errors: {v}");
    assert_eq!(count(&v, &["tls", "handshakes"]), 0, "{v}");
}

#[test]
fn client_certificates_with_the_test_server() {
    let certs = Certs::make("mtls");
    let server = TlsServer::start(ServerOptions {
        client_ca: Some(certs.client_ca.clone()),
        ..ServerOptions::new(&certs.good)
    });
    let url = server.url("/");
    let ca = path(&certs.ca);
    let (cert, key) = (path(&certs.client.cert), path(&certs.client.key));
    let v = tressi_json(&[
        "-n", "500", "-c", "2", "--cacert", ca, "--cert", cert, "--key", key, &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 500);
    assert_eq!(error_total(&v), 0, "{v}");
    // Without one the server refuses: with TLS 1.3 the client only learns it from the
    // server's alert after its own side of the handshake, so the probe passes and the
    // run counts certificate errors.
    let out = tressi(
        &[
            "-d", "1s", "-c", "2", "-t", "1", "--cacert", ca, "--json", "--no-ui", &url,
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert_eq!(count(&v, &["requests", "completed"]), 0, "{v}");
    assert!(count(&v, &["errors", "tls_cert"]) > 0, "{v}");
    assert_eq!(error_total(&v), count(&v, &["errors", "tls_cert"]), "{v}");
    // A key that is not the certificate's is a set-up error.
    let err = setup_error(&[
        "-n",
        "1",
        "--cacert",
        ca,
        "--cert",
        cert,
        "--key",
        path(&certs.good.key),
        &url,
    ]);
    assert!(err.contains("--cert/--key"), "{err}");
}

#[test]
fn bad_tls_files_are_setup_errors() {
    let certs = Certs::make("files");
    let server = TlsServer::start(ServerOptions::new(&certs.good));
    let url = server.url("/");
    let missing = certs.dir.join("missing.pem");
    let err = setup_error(&["-n", "1", "--cacert", path(&missing), &url]);
    assert!(
        err.contains(&format!("--cacert '{}'", missing.display())),
        "{err}"
    );
    let err = setup_error(&["-n", "1", "--cacert", path(&certs.good.key), &url]);
    assert!(err.contains("no certificate in it"), "{err}");
    let err = setup_error(&[
        "-n",
        "1",
        "--insecure",
        "--cert",
        path(&certs.client.cert),
        &url,
    ]);
    assert!(
        err.contains("--key"),
        "a certificate file without its key: {err}"
    );
    // An encrypted key (what `openssl pkey -aes256` writes) is said to be one.
    let encrypted = certs.dir.join("encrypted.key");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = setup_error(&[
        "-n",
        "1",
        "--insecure",
        "--cert",
        path(&certs.client.cert),
        "--key",
        path(&encrypted),
        &url,
    ]);
    assert!(
        err.contains(&format!(
            "--key '{}': the private key is encrypted",
            encrypted.display()
        )),
        "{err}"
    );
    let err = setup_error(&["-n", "1", "--insecure", "--sni", "not a name", &url]);
    assert!(err.contains("not a valid TLS server name"), "{err}");
}

#[test]
fn config_options_carry_the_tls_settings() {
    let certs = Certs::make("config");
    let server = TlsServer::start(ServerOptions::new(&certs.good));
    let file = certs.dir.join("t.json");
    let cfg = serde_json::json!({
        "options": { "caCert": path(&certs.ca), "sni": "localhost" },
        "requests": [ { "url": server.url("/a") }, { "url": server.url("/b") } ]
    });
    std::fs::write(&file, cfg.to_string()).unwrap();
    let v = tressi_json(&["run", path(&file), "-n", "200", "-c", "2"]);
    assert_eq!(count(&v, &["requests", "completed"]), 200);
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(v["tls"]["insecure"], false);
    // The same file without its CA fails; "insecure": true passes.
    let cfg = serde_json::json!({
        "options": { "insecure": true },
        "requests": [ { "url": server.url("/a") } ]
    });
    std::fs::write(&file, cfg.to_string()).unwrap();
    let v = tressi_json(&["run", path(&file), "-n", "20", "-c", "1"]);
    assert_eq!(count(&v, &["requests", "completed"]), 20);
    assert_eq!(v["tls"]["insecure"], true);
}

#[test]
fn nginx_over_tls_counts_match_and_client_certificates_work() {
    let certs = Certs::make("nginx");
    let Some(n) = nginx_tls(&certs.client_ca) else {
        return;
    };
    let url = format!("https://127.0.0.1:{}/", n.tls_port);
    let before = n.nginx.requests();
    let v = tressi_json(&[
        "-n",
        "5000",
        "-c",
        "4",
        "-t",
        "2",
        "-p",
        "4",
        "--cacert",
        path(&n.cert),
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 5000);
    assert_eq!(count(&v, &["status", "200"]), 5000);
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(count(&v, &["tls", "handshakes"]), 4);
    // nginx counts every request of every server: ours, plus the status request.
    assert_eq!(n.nginx.requests() - before, 5000 + 1);
    // Reconnects resume sessions with nginx too.
    let v = tressi_json(&[
        "-n",
        "30",
        "-c",
        "1",
        "-t",
        "1",
        "--no-keepalive",
        "--cacert",
        path(&n.cert),
        &url,
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 30);
    assert!(count(&v, &["tls", "resumed"]) >= 28, "{v}");
    // ssl_verify_client on: with our client certificate every request is served...
    let murl = format!("https://localhost:{}/", n.mtls_port);
    let (cert, key) = (path(&certs.client.cert), path(&certs.client.key));
    let v = tressi_json(&[
        "-n",
        "300",
        "-c",
        "2",
        "--cacert",
        path(&n.cert),
        "--cert",
        cert,
        "--key",
        key,
        &murl,
    ]);
    assert_eq!(count(&v, &["status", "200"]), 300, "{v}");
    // ...and without one nginx answers 400 ("No required SSL certificate was sent").
    let v = tressi_json(&["-n", "30", "-c", "1", "--cacert", path(&n.cert), &murl]);
    assert_eq!(count(&v, &["status", "400"]), 30, "{v}");
}
