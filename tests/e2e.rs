//! End-to-end runs of the `tressi` binary on loopback: against the built-in target
//! (counts must match the target's own `served` exactly), against nginx (when installed;
//! required under CI), and against small scripted servers for the framing cases
//! (close after every response, close-delimited bodies, HEAD, chunked with extensions and
//! trailers, timeouts). Each run is bounded by a short duration or a request count.

mod common;

use common::*;
use std::time::Duration;

const CLOSE_EVERY: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";

#[test]
fn built_in_target_counts_match_exactly() {
    for (p, c, n) in [("1", "8", "20000"), ("16", "4", "40000")] {
        let target = TargetProcess::start(&[]);
        let v = tressi_json(&[&target.url("/"), "-c", c, "-t", "2", "-n", n, "-p", p]);
        let served = target.stop();
        let n: u64 = n.parse().unwrap();
        assert_eq!(count(&v, &["requests", "completed"]), n, "p={p}: {v}");
        assert_eq!(count(&v, &["status", "200"]), n);
        assert_eq!(
            served, n,
            "the target served exactly what tressi completed (p={p})"
        );
        assert_eq!(error_total(&v), 0, "{v}");
        assert_eq!(count(&v, &["requests", "in_flight_at_stop"]), 0);
        assert_eq!(
            count(&v, &["connections", "established"]),
            c.parse::<u64>().unwrap()
        );
        assert_eq!(count(&v, &["connections", "reconnects"]), 0);
        // 13-byte body + head per response; request bytes per request.
        assert!(count(&v, &["bytes", "read"]) > 13 * n);
        assert!(count(&v, &["bytes", "written"]) >= 16 * n);
        // Closed loop: each request is sent when intended, so service time = response
        // time, for the run and its endpoint, figures and exchange histograms alike.
        for s in [&v, &v["endpoints"][0]] {
            assert_eq!(s["service_us"], s["latency_us"], "p={p}");
            assert_eq!(s["histograms"]["service"], s["histograms"]["latency"]);
            assert!(s["histograms"]["service"]
                .as_str()
                .is_some_and(|h| h.len() > 8));
        }
    }
}

#[test]
fn duration_run_reports_in_flight_and_reconciles_with_the_target() {
    let target = TargetProcess::start(&[]);
    let v = tressi_json(&[
        &target.url("/"),
        "-c",
        "20",
        "-t",
        "2",
        "-d",
        "1s",
        "-p",
        "4",
    ]);
    let served = target.stop();
    let completed = count(&v, &["requests", "completed"]);
    let in_flight = count(&v, &["requests", "in_flight_at_stop"]);
    assert!(completed > 1000, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    // Responses the target wrote but tressi had not read at the stop are in flight.
    assert!(
        served >= completed && served <= completed + in_flight,
        "served {served}, completed {completed}, in flight {in_flight}"
    );
    let d = v["duration_s"].as_f64().unwrap();
    assert!((0.95..2.0).contains(&d), "duration {d}");
}

#[test]
fn text_report_and_post_with_headers_and_body() {
    let target = TargetProcess::start(&[]);
    let out = tressi(
        &[
            &target.url("/api?x=1"),
            "-c",
            "4",
            "-n",
            "1000",
            "-p",
            "8",
            "-m",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-b",
            r#"{"a":1}"#,
            "--no-ui",
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("POST http://127.0.0.1:"), "{text}");
    assert!(text.contains("1,000 completed"), "{text}");
    assert!(text.contains("200: 1,000"), "{text}");
    assert!(text.contains("Errors       none"), "{text}");
    assert_eq!(target.stop(), 1000);
}

#[test]
fn head_requests_with_and_without_pipelining() {
    for p in ["1", "16"] {
        let target = TargetProcess::start(&[]);
        let v = tressi_json(&[
            &target.url("/"),
            "-m",
            "HEAD",
            "-c",
            "2",
            "-n",
            "2000",
            "-p",
            p,
        ]);
        assert_eq!(count(&v, &["status", "200"]), 2000, "p={p}: {v}");
        assert_eq!(error_total(&v), 0);
        assert_eq!(
            count(&v, &["connections", "reconnects"]),
            0,
            "HEAD reuses connections"
        );
        assert_eq!(target.stop(), 2000);
    }
}

#[test]
fn server_closing_after_every_response() {
    let srv = ScriptedServer::start(Script {
        response: CLOSE_EVERY.to_vec(),
        close_after: true,
        delay: Duration::ZERO,
    });
    let v = tressi_json(&[&srv.url("/"), "-c", "4", "-t", "1", "-n", "400"]);
    assert_eq!(count(&v, &["status", "200"]), 400, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert!(count(&v, &["connections", "reconnects"]) >= 396);
    assert_eq!(srv.served(), 400);
}

#[test]
fn no_keepalive_flag_sends_connection_close() {
    let target = TargetProcess::start(&[]);
    let v = tressi_json(&[
        &target.url("/"),
        "--no-keepalive",
        "-c",
        "2",
        "-n",
        "300",
        "-p",
        "8",
    ]);
    assert_eq!(count(&v, &["status", "200"]), 300, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(v["pipelining"], 1, "pipelining is off without keep-alive");
    assert!(count(&v, &["connections", "reconnects"]) >= 298);
    assert_eq!(target.stop(), 300);
}

#[test]
fn close_delimited_bodies() {
    let srv = ScriptedServer::start(Script {
        response: b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close".to_vec(),
        close_after: true,
        delay: Duration::ZERO,
    });
    let v = tressi_json(&[&srv.url("/"), "-c", "2", "-n", "200"]);
    assert_eq!(count(&v, &["status", "200"]), 200, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
}

#[test]
fn chunked_with_extensions_and_trailers_pipelined() {
    let body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value\r\nhello\r\n\
        00A;quoted=\"a;b\"\r\n, world!!!\r\n\
        0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n";
    let srv = ScriptedServer::start(Script {
        response: body.to_vec(),
        close_after: false,
        delay: Duration::ZERO,
    });
    for p in ["1", "16"] {
        let before = srv.served();
        let v = tressi_json(&[&srv.url("/"), "-c", "2", "-n", "1000", "-p", p]);
        assert_eq!(count(&v, &["status", "200"]), 1000, "p={p}: {v}");
        assert_eq!(error_total(&v), 0, "{v}");
        assert_eq!(
            count(&v, &["connections", "reconnects"]),
            0,
            "connections reused"
        );
        assert_eq!(count(&v, &["bytes", "read"]), 1000 * body.len() as u64);
        assert_eq!(srv.served() - before, 1000);
    }
}

#[test]
fn slow_responses_time_out_once_and_late_answers_are_not_counted() {
    let srv = ScriptedServer::start(Script {
        response: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        close_after: false,
        delay: Duration::from_millis(400),
    });
    let v = tressi_json(&[&srv.url("/"), "-c", "2", "-d", "1s", "--timeout", "100ms"]);
    assert_eq!(
        count(&v, &["requests", "completed"]),
        0,
        "late answers never count: {v}"
    );
    let timeouts = count(&v, &["errors", "timeout"]);
    assert!(timeouts >= 4, "each connection times out repeatedly: {v}");
    assert_eq!(count(&v, &["requests", "failed"]), timeouts);
    assert!(count(&v, &["connections", "reconnects"]) >= timeouts - 2);
}

#[test]
fn nothing_listening_is_one_setup_error() {
    let port = free_port();
    let out = tressi(
        &[&format!("http://127.0.0.1:{port}/"), "-d", "1s", "--no-ui"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("tressi: cannot connect to"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["--bogus"][..],
        &["http://127.0.0.1:1/", "-c", "zero"],
        &["http://127.0.0.1:1/", "-c", "0"],
        &["ftp://127.0.0.1/"],
        &[],
    ] {
        let out = tressi(args, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("tressi: "), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn help_and_version() {
    let out = tressi(&["--help"], Duration::from_secs(10));
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--connections"), "{help}");
    let out = tressi(&["-V"], Duration::from_secs(10));
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("tressi "));
}

#[test]
fn demo_runs_against_the_built_in_target() {
    let out = tressi(&["demo", "--json", "--no-ui"], Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert!(count(&v, &["requests", "completed"]) > 1000, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
}

#[test]
fn nginx_plain_chunked_and_pipelined() {
    let Some(nginx) = Nginx::start() else { return };
    let cases = [
        ("/", "1", "20000"),
        ("/", "16", "40000"),
        ("/chunked", "1", "10000"),
        ("/4k", "8", "10000"),
    ];
    for (path, p, n) in cases {
        let before = nginx.requests();
        let v = tressi_json(&[&nginx.url(path), "-c", "10", "-t", "2", "-n", n, "-p", p]);
        let n: u64 = n.parse().unwrap();
        assert_eq!(count(&v, &["status", "200"]), n, "{path} p={p}: {v}");
        assert_eq!(error_total(&v), 0, "{path} p={p}: {v}");
        assert_eq!(
            count(&v, &["connections", "reconnects"]),
            0,
            "{path} p={p}: {v}"
        );
        // The difference includes the second status request itself.
        assert_eq!(
            nginx.requests() - before - 1,
            n,
            "nginx counted every request once"
        );
    }
    // HEAD through nginx: Content-Length announced, no body.
    let v = tressi_json(&[
        &nginx.url("/4k"),
        "-m",
        "HEAD",
        "-c",
        "4",
        "-n",
        "4000",
        "-p",
        "16",
    ]);
    assert_eq!(count(&v, &["status", "200"]), 4000, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
}

#[test]
fn nginx_duration_run() {
    let Some(nginx) = Nginx::start() else { return };
    let v = tressi_json(&[&nginx.url("/"), "-c", "50", "-t", "2", "-d", "1s"]);
    assert!(count(&v, &["requests", "completed"]) > 1000, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(count(&v, &["connections", "established"]), 50);
}

/// Writes `text` as a config file in a fresh temp dir and returns its path.
fn config_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tressi-e2e-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_original_tools_example_config_runs_against_the_built_in_target() {
    // The original tool's README config (older shape: global headers, a GET and a POST
    // with a JSON payload), pointed at the built-in target.
    let target = TargetProcess::start(&[]);
    let text = format!(
        r#"{{
  "$schema": "https://raw.githubusercontent.com/kevinchatham/tressi/main/schemas/tressi.schema.v0.0.5.json",
  "headers": {{ "Content-Type": "application/json", "Authorization": "Bearer 123" }},
  "requests": [
    {{ "url": "{get}", "method": "GET" }},
    {{ "url": "{post}", "method": "POST", "payload": {{ "name": "Test User" }} }}
  ]
}}"#,
        get = target.url("/posts/1"),
        post = target.url("/posts"),
    );
    let path = config_file("original", &text);
    let v = tressi_json(&[
        "run",
        path.to_str().unwrap(),
        "-n",
        "2000",
        "--workers",
        "1",
    ]);
    assert_eq!(count(&v, &["requests", "completed"]), 2000, "{v}");
    assert_eq!(error_total(&v), 0, "{v}");
    let eps = v["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 2);
    assert_eq!(eps[0]["method"], "GET");
    assert_eq!(eps[1]["method"], "POST");
    // Closed loop, equal weights: the two endpoints alternate.
    assert_eq!(count(&eps[0], &["requests", "completed"]), 1000);
    assert_eq!(count(&eps[1], &["requests", "completed"]), 1000);
    assert_eq!(target.stop(), 2000);
}

#[test]
fn rps_flag_applies_to_every_endpoint_of_a_config() {
    let target = TargetProcess::start(&[]);
    let requests: Vec<String> = (0..10)
        .map(|i| format!(r#"{{ "url": "{}" }}"#, target.url(&format!("/e{i}"))))
        .collect();
    let text = format!(r#"{{ "requests": [{}] }}"#, requests.join(","));
    let path = config_file("ten", &text);
    let v = tressi_json(&[
        "--config",
        path.to_str().unwrap(),
        "--rps",
        "10",
        "--duration",
        "2",
        "--workers",
        "1",
        "-c",
        "10",
    ]);
    assert_eq!(v["target_rps"], 100.0, "ten endpoints at 10 req/s each");
    for e in v["endpoints"].as_array().unwrap() {
        assert_eq!(e["target_rps"], 10.0);
        let sent = count(e, &["requests", "sent"]);
        assert!(
            (19..=21).contains(&sent),
            "{sent} sent in 2 s at 10 req/s: {e}"
        );
    }
    assert_eq!(error_total(&v), 0, "{v}");
}

#[test]
fn early_exit_on_a_status_code_exits_3_and_says_why() {
    let srv = ScriptedServer::start(Script {
        response: b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec(),
        close_after: false,
        delay: Duration::ZERO,
    });
    let out = tressi(
        &[
            &srv.url("/"),
            "-c",
            "2",
            "-d",
            "20s",
            "--rps",
            "100",
            "--early-exit-on-error",
            "--error-status-codes",
            "503",
            "--no-ui",
        ],
        Duration::from_secs(15),
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Stopped early: status 503 seen"), "{text}");
}

#[test]
fn export_writes_the_summary_and_an_unwritable_dir_is_a_setup_error() {
    let target = TargetProcess::start(&[]);
    let dir = std::env::temp_dir().join(format!("tressi-e2e-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = tressi(
        &[
            &target.url("/"),
            "-n",
            "100",
            "-c",
            "2",
            "--no-ui",
            "--export",
            dir.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(count(&v, &["requests", "completed"]), 100);
    // A regular file where the directory should be: refused before any request is sent.
    let file = dir.join("summary.json");
    let out = tressi(
        &[
            &target.url("/"),
            "-n",
            "100",
            "--no-ui",
            "--export",
            file.to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("tressi: --export "), "{err}");
    assert_eq!(target.stop(), 100, "the refused run sent nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_stops_the_run_prints_the_report_marked_interrupted_and_exits_130() {
    let target = TargetProcess::start(&[]);
    let child = std::process::Command::new(bin())
        .args([
            &target.url("/"),
            "-c",
            "4",
            "-d",
            "20s",
            "--no-ui",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert_eq!(v["interrupted"], true, "{v}");
    assert!(v["duration_s"].as_f64().unwrap() < 5.0);
    assert!(count(&v, &["requests", "completed"]) > 0);
}

#[test]
fn a_count_run_gives_up_when_the_server_goes_away() {
    let target = TargetProcess::start(&[]);
    let url = target.url("/");
    let child = std::process::Command::new(bin())
        .args([&url, "-c", "2", "-n", "100M", "--no-ui", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(target); // killed: the port stops answering
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    check_totals(&v);
    assert!(count(&v, &["requests", "completed"]) > 0, "{v}");
    assert!(count(&v, &["errors", "connect"]) >= 16, "{v}");
}

/// More endpoints than the worker keeps head memos (64): endpoint `i` and `i + 64` share
/// one, and one of each pair is HEAD while the target sends the same head to both. With
/// deep pipelining (runs of one endpoint written as one slice), every endpoint's bytes
/// must still be exactly its own: each response read whole (the 13-byte body only after
/// a GET), each request written whole, and no parse error.
#[test]
fn head_and_get_endpoints_sharing_head_memos_keep_their_own_bytes() {
    let target = TargetProcess::start(&[]);
    let dir = std::env::temp_dir().join(format!("tressi-e2e-memo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("memo.json");
    let requests: Vec<serde_json::Value> = (0..70)
        .map(|i| {
            let head = (i % 64 < 6 && i >= 64) || (i % 64 >= 6 && i % 3 == 1);
            serde_json::json!({
                "url": target.url(&format!("/e{i:02}?{}", "q".repeat(i * 7))),
                "method": if head { "HEAD" } else { "GET" },
            })
        })
        .collect();
    let text = serde_json::json!({ "options": {}, "requests": requests }).to_string();
    std::fs::write(&cfg, text).unwrap();
    let n = 14_000u64;
    let v = tressi_json(&[
        "--config",
        cfg.to_str().unwrap(),
        "-c",
        "3",
        "-t",
        "2",
        "-p",
        "24",
        "-n",
        &n.to_string(),
    ]);
    let served = target.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(error_total(&v), 0, "{v}");
    assert_eq!(count(&v, &["requests", "completed"]), n, "{v}");
    assert_eq!(served, n);
    let eps = v["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 70);
    let per = |e: &serde_json::Value, what: &str, of: &str| {
        let bytes = e["bytes"][what].as_u64().unwrap();
        let k = e["requests"][of].as_u64().unwrap();
        assert!(k > 0, "{e}");
        assert_eq!(bytes % k, 0, "{what} not a whole number per request: {e}");
        bytes / k
    };
    let (mut get, mut head) = (None, None);
    for (i, e) in eps.iter().enumerate() {
        assert_eq!(e["requests"]["in_flight_at_stop"], 0, "{e}");
        let read = per(e, "read", "completed");
        let slot = if e["method"] == "HEAD" {
            &mut head
        } else {
            &mut get
        };
        assert_eq!(*slot.get_or_insert(read), read, "endpoint {i}: {e}");
        // The query grows by 7 bytes per endpoint; everything else is the same.
        let written = per(e, "written", "sent");
        let first = per(&eps[0], "written", "sent");
        let method_extra = if e["method"] == "HEAD" { 1 } else { 0 };
        assert_eq!(
            written,
            first + 7 * i as u64 + method_extra,
            "endpoint {i}: {e}"
        );
    }
    assert_eq!(
        get.unwrap(),
        head.unwrap() + 13,
        "a GET reads the head and the body"
    );
}

#[test]
fn tls_flags_on_an_http_run_are_noted_once_and_the_run_goes_on() {
    let target = TargetProcess::start(&[]);
    let url = target.url("/");
    let args = [
        url.as_str(),
        "-k",
        "--sni",
        "example.com",
        "-n",
        "10",
        "-c",
        "2",
    ];
    let out = tressi(
        &[&args[..], &["--json", "--no-ui"]].concat(),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("tressi: note:"))
            .collect::<Vec<_>>(),
        ["tressi: note: --insecure, --sni only apply to https URLs, and this run has none: ignored"],
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(count(&v, &["requests", "completed"]), 10, "{v}");
    assert!(v["tls"].is_null(), "no https endpoint, no TLS summary: {v}");
    assert_eq!(target.stop(), 10);
}

#[test]
fn a_report_that_cannot_be_written_is_an_error_and_a_closed_pipe_is_not() {
    use std::process::{Command, Stdio};
    let target = TargetProcess::start(&[]);
    let url = target.url("/");
    let args = [url.as_str(), "-n", "100", "-c", "2", "-q"];
    // A full disk: the report is lost, so the run must not look like a success.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let runs = if full.is_ok() { 2 } else { 1 };
    if let Ok(full) = full {
        let out = Command::new(bin())
            .args(args)
            .stdout(full)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "tressi: cannot write to standard output: No space left on device (os error 28)\n"
        );
    }
    // `| head` that has already gone: the reader closes before the report is written
    // (tressi writes it only after its 100 requests), so every write meets a broken
    // pipe. That is not a failure.
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        target.stop(),
        100 * runs,
        "each run still did its 100 requests"
    );
}
