//! Tests of the report formats: the text report's parts and width, golden files of the
//! text, Markdown and CSV output of the fixed fixture summary, the JSON round trip with
//! its histograms, `.hgrm`/`.hlog` parsed back, redaction in every format, the summary
//! schema, and the export files.
//!
//! Golden files live in `tests/golden/`. To update them deliberately after a change of
//! format: `TRESSI_UPDATE_GOLDEN=1 cargo test --lib report::tests::golden`, then review
//! the diff.

use super::*;
use crate::plan::{Endpoint, Plan};
use crate::stats::{decode_histogram, ErrorKind, RunFacts, WorkerStats};
use crate::target::Target;

fn plan(urls: &[(&str, Option<f64>)], connections: usize) -> Plan {
    let mut p = Plan::new(
        urls.iter()
            .map(|(u, rate)| Endpoint {
                rate: *rate,
                ..Endpoint::get(Target::parse(u).unwrap())
            })
            .collect(),
    );
    p.connections = connections;
    p
}

fn summary(st: &WorkerStats, plan: &Plan, threads: usize, secs: f64) -> Summary {
    let facts = RunFacts {
        plan,
        threads,
        pipelining: 1,
        duration_s: secs,
    };
    let mut s = Summary::new(st, facts, None);
    finish(&mut s, false);
    s
}

fn sample() -> Summary {
    let mut st = WorkerStats::new(1);
    for _ in 0..1_234_600 {
        st.record_sent(0);
    }
    for i in 0..1_234_567u64 {
        let lat = 100_000 + (i % 5000) * 100;
        st.record_response(0, if i % 1000 == 0 { 503 } else { 200 }, lat, lat);
    }
    for _ in 0..3 {
        st.record_failed(0, ErrorKind::Timeout);
    }
    st.record_conn_error(ErrorKind::Connect);
    st.endpoints[0].in_flight_at_stop = 30;
    st.bytes_read = 123_456_789;
    st.bytes_written = 45_678_901;
    st.slots_established = 48;
    summary(&st, &plan(&[("http://127.0.0.1:8080/", None)], 50), 2, 10.0)
}

fn render_to_string(s: &Summary, name: &str) -> String {
    let mut buf = Vec::new();
    render(s, name, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn text(s: &Summary) -> String {
    let text = render_to_string(s, "report.txt");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
        assert_eq!(line.trim_end(), line, "trailing blanks");
    }
    text
}

#[test]
fn tls_lines_show_handshakes_and_insecure() {
    let mut st = WorkerStats::new(1);
    st.record_sent(0);
    st.record_response(0, 200, 1_000_000, 1_000_000);
    st.record_connect(150_000);
    st.record_first_byte(3_000_000);
    st.record_handshake(2_000_000, false);
    st.record_handshake(900_000, true);
    st.record_failed(0, ErrorKind::TlsCert);
    let mut p = plan(&[("https://127.0.0.1:8443/", None)], 2);
    let s = summary(&st, &p, 1, 1.0);
    let t = s.tls.expect("an https run has a TLS summary");
    assert_eq!((t.handshakes, t.resumed, t.insecure), (2, 1, false));
    schema::check(&schema::summary(), &serde_json::to_value(&s).unwrap(), "$").unwrap();
    let out = text(&s);
    for needle in [
        "Connect      p50 150µs, p99 150µs, max 150µs (TCP connect)",
        // Connection times are kept to 2 significant digits (1 %): 3 ms reads as the
        // top of its 16 µs bucket.
        "First byte   p50 3.01ms, p99 3.01ms, max 3.01ms (new connections)",
        "TLS          2 handshakes, 1 resumed, p50 903µs, p99 2.01ms, max 2.01ms",
        "tls_cert: 1",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert!(!out.contains("NOT verified"));
    p.tls.insecure = true;
    let out = text(&summary(&st, &p, 1, 1.0));
    assert!(
        out.contains("certificates NOT verified (--insecure)"),
        "{out}"
    );
    // Every format says so: it is one of the warnings.
    let s = summary(&st, &p, 1, 1.0);
    assert!(s
        .warnings
        .iter()
        .any(|w| w == "server certificates were NOT verified (--insecure)"));
    for name in ["report.md", "report.html"] {
        assert!(
            render_to_string(&s, name).contains("NOT verified (--insecure)"),
            "{name}"
        );
    }
    // A plain-http run has no TLS part.
    let p = plan(&[("http://127.0.0.1:8080/", None)], 2);
    let s = summary(&st, &p, 1, 1.0);
    assert!(s.tls.is_none());
    assert!(!text(&s).contains("TLS  "));
}

#[test]
fn text_report_has_every_part_and_fits_80_columns() {
    let text = text(&sample());
    for needle in [
        "GET http://127.0.0.1:8080/",
        "2 threads, 50 connections",
        "1,234,567 completed, 123456.7/s",
        // "failed" is the Outcome's word (errors and >= 400): the requests an error
        // ended are "errors" here, so one word never counts two things.
        "1,234,600 sent, 3 errors, 30 in flight at stop",
        "Outcome      1,233,332 succeeded, 1,238 failed (3 errors, 1,235 >= 400)",
        "p50 ",
        "p95 ",
        "p99.99 ",
        "200: 1,233,332",
        "503: 1,235",
        "timeout: 3",
        "connect: 1",
        "50 requested, 48 established",
        "Run configuration",
        "Endpoints",
        "Latency by endpoint",
        "Status codes",
        "Latency distribution",
        "Warning: only 48 of 50 connections were established",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(
        !text.contains("Service"),
        "closed loop: one latency\n{text}"
    );
    assert!(!text.contains("all "), "one endpoint: no total row\n{text}");
    assert!(text.contains('█'), "a bar chart\n{text}");
    assert!(!text.contains(" 3 failed"), "{text}");
}

#[test]
fn rated_endpoints_show_targets_service_time_and_a_table() {
    let mut st = WorkerStats::new(2);
    for e in 0..2 {
        for _ in 0..100 {
            st.record_sent(e);
            st.record_response(e, 200, 900_000_000, 1_000_000);
        }
    }
    st.endpoints[1].unsent = 7;
    st.slots_established = 4;
    let mut p = plan(
        &[
            ("http://h:8080/users?page=1", Some(10.0)),
            (
                "http://h:8080/a/very/long/path/that/does/not/fit/in/the/column",
                None,
            ),
        ],
        4,
    );
    p.ramp_up = Some(std::time::Duration::from_secs(5));
    let text = text(&summary(&st, &p, 1, 10.0));
    for needle in [
        "2 endpoints",
        "target 10.0/s (rated endpoints), actual 10.0/s",
        // A 5 s ramp over 10 s schedules 7.5/s on average: 10/s is 133%.
        "133.3% achieved, 7 never sent",
        "rates ramped up linearly from 0 over 5.0s",
        "coordinated omission corrected",
        "Service      mean 1.00ms",
        "GET /users?page=1",
        "closed",
        "…",
        "Warnings\n  none",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn many_status_codes_wrap() {
    let mut st = WorkerStats::new(1);
    for code in 200..260u16 {
        st.record_response(0, code, 1000, 1000);
    }
    let text = text(&summary(&st, &plan(&[("http://h/", None)], 1), 1, 1.0));
    assert!(text.contains("259: 1"));
}

#[test]
fn json_report_round_trips() {
    let mut buf = Vec::new();
    write_json(&sample(), &mut buf).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["requests"]["completed"], 1_234_567);
    assert_eq!(v["errors"]["timeout"], 3);
    assert_eq!(v["errors"]["connect"], 1);
    assert_eq!(v["connections"]["established"], 48);
    assert_eq!(v["endpoints"][0]["requests"]["completed"], 1_234_567);
}

#[test]
fn empty_run_reports_no_responses() {
    let st = WorkerStats::new(1);
    let s = summary(&st, &plan(&[("http://h/", None)], 1), 1, 0.0);
    let text = text(&s);
    assert!(text.contains("no responses"));
    assert!(text.contains("Status       none"));
    assert!(text.contains("Errors       none"));
    // Every other format copes with an empty run too.
    for name in EXPORT_FILES {
        assert!(!render_to_string(&s, name).is_empty(), "{name}");
    }
}

#[test]
fn early_exit_is_stated() {
    let st = WorkerStats::new(1);
    let p = plan(&[("http://h/", None)], 1);
    let facts = RunFacts {
        plan: &p,
        threads: 1,
        pipelining: 1,
        duration_s: 1.0,
    };
    let s = Summary::new(&st, facts, Some("error rate 50.0% > 5.0%".into()));
    assert!(text(&s).contains("Stopped early: error rate 50.0% > 5.0%"));
}

#[test]
fn warnings_fire_at_their_thresholds() {
    // (completed at 100/s target over 10 s, failures, established, bottleneck) → warnings
    let cases: &[(u64, u64, u64, bool, &[&str])] = &[
        (1000, 0, 2, false, &[]),
        (801, 0, 2, false, &[]),
        (
            799,
            0,
            2,
            false,
            &["target rate unreachable: GET / achieved 79.9 of 100.0"],
        ),
        (1000, 100, 2, false, &[]),
        (
            1000,
            112,
            2,
            false,
            &["GET / failed 10.1% of its requests (112 errors"],
        ),
        (
            1000,
            0,
            1,
            false,
            &["only 1 of 2 connections were established"],
        ),
        (
            1000,
            0,
            2,
            true,
            &["the client was the bottleneck: behind by 3ms"],
        ),
    ];
    for (done, failed, established, bottleneck, want) in cases {
        let mut st = WorkerStats::new(1);
        for _ in 0..*done {
            st.record_sent(0);
            st.record_response(0, 200, 1_000_000, 1_000_000);
        }
        for _ in 0..*failed {
            st.record_sent(0);
            st.record_failed(0, ErrorKind::Timeout);
        }
        st.slots_established = *established;
        let p = plan(&[("http://h/", Some(100.0))], 2);
        let facts = RunFacts {
            plan: &p,
            threads: 1,
            pipelining: 1,
            duration_s: 10.0,
        };
        let mut s = Summary::new(&st, facts, None);
        // Failures count against the rate too: the rate test uses responses only.
        if *failed > 0 {
            s.endpoints[0].rps = 100.0;
        }
        if *bottleneck {
            s.health.bottleneck = Some("behind by 3ms".into());
        }
        let got = warnings(&s);
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(g.starts_with(w), "{g:?} should start with {w:?}");
        }
    }
}

#[test]
fn a_rated_endpoint_that_sent_nothing_is_a_warning() {
    // 0.3 req/s over 2 s: the first request is due after the end (the shortfall rule
    // wants 2 requests missing, so it alone would say nothing).
    let mut st = WorkerStats::new(2);
    st.slots_established = 1;
    st.record_sent(1);
    st.record_response(1, 200, 1000, 1000);
    let s = summary(
        &st,
        &plan(&[("http://h/slow", Some(0.3)), ("http://h/b", None)], 1),
        1,
        2.0,
    );
    assert_eq!(
        s.warnings,
        ["GET /slow sent no request: at 0.3 req/s none was due within the run's 2.0s"]
    );
}

#[test]
fn responses_of_400_and_above_count_as_failures() {
    let mut st = WorkerStats::new(1);
    for i in 0..100 {
        st.record_sent(0);
        st.record_response(0, if i < 20 { 404 } else { 200 }, 1000, 1000);
    }
    st.slots_established = 1;
    let s = summary(&st, &plan(&[("http://h/x", None)], 1), 1, 1.0);
    assert_eq!(failures(&s.endpoints[0]), 20);
    assert_eq!(
        s.warnings,
        ["GET /x failed 20.0% of its requests (0 errors, 20 responses >= 400)"]
    );
}

// ---- golden files of the fixture

fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("TRESSI_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (create it with TRESSI_UPDATE_GOLDEN=1)",
            path.display()
        )
    });
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from {} at line {}:\n want: {:?}\n  got: {:?}\n\
             (if the change is intended: TRESSI_UPDATE_GOLDEN=1 and review the diff)",
            path.display(),
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

#[test]
fn golden_text_markdown_and_csv() {
    let s = fixture::finished();
    let text = text(&s);
    golden("report.txt", &text);
    golden("report.md", &render_to_string(&s, "report.md"));
    golden("timeline.csv", &render_to_string(&s, "timeline.csv"));
    golden("endpoints.csv", &render_to_string(&s, "endpoints.csv"));
}

#[test]
fn fixture_report_warns_about_everything_it_should() {
    let s = fixture::finished();
    let joined = s.warnings.join("\n");
    for needle in [
        "target rate unreachable: GET /a/rather/long/path/to/search?q=x,y achieved 60.0 of 200.0",
        "POST /orders failed 27.5% of its requests (11 errors, 110 responses >= 400)",
        "the client was the bottleneck: sends fell behind schedule",
        "only 18 of 20 connections were established",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
    }
    assert_eq!(s.warnings.len(), 4, "{joined}");
}

#[test]
fn csv_rows_match_the_summary() {
    let s = fixture::finished();
    let timeline = render_to_string(&s, "timeline.csv");
    let rows: Vec<&str> = timeline.lines().collect();
    assert_eq!(rows[0], csv::TIMELINE_HEADER);
    assert_eq!(rows.len(), 1 + 3 * fixture::SECONDS as usize);
    // A URL with a comma is quoted; every row has as many fields as the header.
    assert!(
        timeline.contains("\"http://api.example.test:8080/a/rather/long/path/to/search?q=x,y\"")
    );
    let endpoints = render_to_string(&s, "endpoints.csv");
    for text in [&timeline, &endpoints] {
        let mut lines = text.lines();
        let n = lines.next().unwrap().split(',').count();
        for line in lines {
            assert_eq!(split_csv(line).len(), n, "{line}");
        }
    }
    let row1 = split_csv(endpoints.lines().nth(1).unwrap());
    assert_eq!(row1[0], "1");
    assert_eq!(row1[7], s.endpoints[0].requests.completed.to_string());
    let sum: u64 = s.endpoints[1].timeline.iter().map(|r| r.responses).sum();
    assert_eq!(sum, s.endpoints[1].requests.completed);
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

// ---- JSON, .hgrm, .hlog against the histograms

#[test]
fn json_histograms_decode_to_the_reported_percentiles() {
    let s = fixture::finished();
    let v: serde_json::Value = serde_json::from_str(&render_to_string(&s, "summary.json")).unwrap();
    let check = |enc: &serde_json::Value, lat: &serde_json::Value, label: &str| {
        let h = decode_histogram(enc.as_str().unwrap()).unwrap();
        for (key, q) in [
            ("p50", 0.5),
            ("p90", 0.9),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p99_9", 0.999),
        ] {
            assert_eq!(
                lat[key].as_u64().unwrap(),
                h.value_at_quantile(q),
                "{label} {key}"
            );
        }
        assert_eq!(lat["min"].as_u64().unwrap(), h.min(), "{label} min");
        assert_eq!(lat["max"].as_u64().unwrap(), h.max(), "{label} max");
        h
    };
    let all = check(&v["histograms"]["latency"], &v["latency_us"], "all");
    check(&v["histograms"]["service"], &v["service_us"], "all service");
    let mut merged = hdrhistogram::Histogram::<u64>::new_from(&all);
    for (i, e) in v["endpoints"].as_array().unwrap().iter().enumerate() {
        let h = check(
            &e["histograms"]["latency"],
            &e["latency_us"],
            &format!("#{i}"),
        );
        check(
            &e["histograms"]["service"],
            &e["service_us"],
            &format!("#{i} service"),
        );
        assert_eq!(h.len(), e["requests"]["completed"].as_u64().unwrap());
        merged.add(&h).unwrap();
    }
    // The endpoints' histograms merge exactly into the run's.
    assert_eq!(merged, all);
    // And the text report prints the same percentiles.
    let text = text(&s);
    let l = &s.latency_us;
    let all_row = format!(
        "  all {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        us(l.min),
        us_f(l.mean),
        us(all.value_at_quantile(0.5)),
        us(all.value_at_quantile(0.9)),
        us(all.value_at_quantile(0.95)),
        us(all.value_at_quantile(0.99)),
        us(all.value_at_quantile(0.999)),
        us(all.max())
    );
    assert!(text.contains(&all_row), "missing {all_row:?} in\n{text}");
}

#[test]
fn hgrm_parses_back_to_the_histogram() {
    let s = fixture::finished();
    let text = render_to_string(&s, "latency.hgrm");
    let h = &s.histogram;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    assert_eq!(lines.next(), Some(""));
    let mut rows = 0;
    let mut last_q = -1.0;
    let mut last_total = 0;
    let mut footer = Vec::new();
    for line in lines {
        if line.starts_with('#') {
            footer.push(line);
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let value: f64 = f[0].parse().unwrap();
        let q: f64 = f[1].parse().unwrap();
        let total: u64 = f[2].parse().unwrap();
        assert!(q >= last_q && total >= last_total, "{line}");
        let want = h.value_at_quantile(q) as f64 / 1000.0;
        assert!(
            (value - want).abs() <= h.equivalent_range(h.value_at_quantile(q)) as f64 / 1000.0,
            "{line}: value {value} vs {want}"
        );
        if q < 1.0 {
            let inv: f64 = f[3].parse().unwrap();
            assert!((inv - 1.0 / (1.0 - q)).abs() < 0.01, "{line}");
        } else {
            assert_eq!(f.len(), 3, "the last row has no 1/(1-q)");
        }
        // TotalCount: values at or below this one.
        assert_eq!(
            total,
            h.count_between(0, (value * 1000.0).round() as u64),
            "{line}"
        );
        last_q = q;
        last_total = total;
        rows += 1;
    }
    assert!(rows > 20, "{rows} rows");
    assert_eq!(last_q, 1.0);
    assert_eq!(last_total, h.len());
    assert_eq!(footer.len(), 3, "{footer:?}");
    let num = |line: &str, key: &str| -> f64 {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        let rest = rest.trim_start_matches([' ', '=']);
        rest[..rest.find([',', ']']).unwrap()]
            .trim()
            .parse()
            .unwrap()
    };
    assert!((num(footer[0], "Mean") - h.mean() / 1000.0).abs() < 0.001);
    assert!((num(footer[0], "StdDeviation") - h.stdev() / 1000.0).abs() < 0.001);
    assert!((num(footer[1], "Max") - h.max() as f64 / 1000.0).abs() < 0.001);
    assert_eq!(num(footer[1], "Total count") as u64, h.len());
    assert_eq!(num(footer[2], "SubBuckets") as u64, 2048);
}

#[test]
fn hlog_parses_back_to_the_intervals() {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let s = fixture::finished();
    let text = render_to_string(&s, "latency.hlog");
    assert!(text.contains("#[StartTime: 1796000000.250 (seconds since epoch)]"));
    assert!(text.contains(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    ));
    let mut merged = hdrhistogram::Histogram::<u64>::new_from(&s.histogram);
    let mut n = 0;
    let mut start = None;
    for entry in IntervalLogIterator::new(text.as_bytes()) {
        match entry.unwrap() {
            LogEntry::StartTime(t) => start = Some(t.as_secs_f64()),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(i) => {
                let want = &s.intervals[n];
                assert_eq!(i.start_timestamp().as_secs_f64(), want.start_s);
                assert_eq!(i.duration().as_secs_f64(), want.duration_s);
                let h = decode_histogram(i.encoded_histogram()).unwrap();
                assert!((i.max() - h.max() as f64 / 1000.0).abs() < 1e-9);
                merged.add(&h).unwrap();
                n += 1;
            }
        }
    }
    assert_eq!(start, Some(1_796_000_000.25));
    assert_eq!(n, fixture::SECONDS as usize);
    assert_eq!(merged, s.histogram, "the intervals add up to the run");
}

// ---- redaction

#[test]
fn secrets_are_redacted_in_every_format() {
    let s = fixture::finished();
    for name in EXPORT_FILES {
        let out = render_to_string(&s, name);
        for secret in fixture::SECRETS {
            assert!(!out.contains(secret), "{name} shows {secret:?}");
        }
        if ["report.md", "report.html", "report.txt", "summary.json"].contains(&name) {
            let shown = if name == "report.html" {
                "&lt;redacted&gt;"
            } else {
                "<redacted>"
            };
            assert!(out.contains(shown), "{name} marks nothing redacted");
            assert!(out.contains("Accept"), "{name} shows other headers");
            assert!(
                out.contains("application/json"),
                "{name} shows their values"
            );
        }
    }
    // The sample's Set-Cookie and the request headers, in the JSON.
    let v: serde_json::Value = serde_json::from_str(&render_to_string(&s, "summary.json")).unwrap();
    assert_eq!(v["endpoints"][0]["headers"][0][1], "<redacted>");
    assert!(v["endpoints"][0]["samples"][0]["head"]
        .as_str()
        .unwrap()
        .contains("Set-Cookie: <redacted>"));
}

#[test]
fn show_secrets_keeps_them() {
    let mut s = fixture::summary();
    finish(&mut s, true);
    let md = render_to_string(&s, "report.md");
    let json = render_to_string(&s, "summary.json");
    for secret in fixture::SECRETS {
        assert!(json.contains(secret), "summary.json lacks {secret:?}");
    }
    assert!(md.contains(fixture::SECRETS[2]));
    assert!(!json.contains("<redacted>"));
}

// ---- schema

#[test]
fn summary_matches_its_schema() {
    let schema = schema::summary();
    for s in [fixture::finished(), sample()] {
        let v = serde_json::to_value(&s).unwrap();
        schema::check(&schema, &v, "$").unwrap();
    }
    // The check can fail: a missing key, a wrong type, an unknown key.
    let mut v = serde_json::to_value(fixture::finished()).unwrap();
    v.as_object_mut().unwrap().remove("rps");
    assert!(schema::check(&schema, &v, "$").unwrap_err().contains("rps"));
    let mut v = serde_json::to_value(fixture::finished()).unwrap();
    v["endpoints"][0]["timeline"][0]["p50_us"] = serde_json::json!("x");
    assert!(schema::check(&schema, &v, "$")
        .unwrap_err()
        .contains("timeline[0].p50_us"));
    let mut v = serde_json::to_value(fixture::finished()).unwrap();
    v["health"]["new_key"] = serde_json::json!(1);
    assert!(schema::check(&schema, &v, "$")
        .unwrap_err()
        .contains("new_key"));
}

#[test]
fn schema_describes_every_key() {
    fn walk(v: &serde_json::Value, path: &str) {
        if let Some(o) = v.as_object() {
            if o.contains_key("properties") || o.contains_key("type") {
                assert!(
                    o.contains_key("description") || path.contains("items"),
                    "{path} has no description"
                );
            }
            if let Some(p) = o.get("properties").and_then(|p| p.as_object()) {
                for (k, sub) in p {
                    walk(sub, &format!("{path}.{k}"));
                }
            }
            if let Some(items) = o.get("items") {
                walk(items, &format!("{path}.items"));
            }
        }
    }
    walk(&schema::summary(), "$");
}

// ---- exports

#[test]
fn exports_write_every_file_whole() {
    let dir = std::env::temp_dir().join(format!("tressi-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let nested = dir.join("a/b");
    prepare_export_dir(&nested).unwrap();
    let s = fixture::finished();
    let written = write_exports(&s, &nested).unwrap();
    let want: Vec<PathBuf> = EXPORT_FILES.iter().map(|n| nested.join(n)).collect();
    assert_eq!(written, want);
    for (path, name) in written.iter().zip(EXPORT_FILES) {
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            render_to_string(&s, name),
            "{name}"
        );
    }
    let mut names: Vec<_> = std::fs::read_dir(&nested)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<_> = EXPORT_FILES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want, "no temporary or probe file left");
    // A file where the directory should be is a clear error.
    let file = dir.join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = prepare_export_dir(&file).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("--export {}: exists and is not a directory", file.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interrupted_runs_are_marked_in_every_report() {
    let mut s = fixture::finished();
    s.interrupted = true;
    for (name, needle) in [
        ("report.txt", "Interrupted"),
        ("report.md", "Interrupted"),
        ("report.html", "Interrupted"),
        ("latency.hlog", "Interrupted"),
        ("summary.json", "\"interrupted\": true"),
    ] {
        assert!(render_to_string(&s, name).contains(needle), "{name}");
    }
}

#[test]
fn html_is_self_contained_with_data_in_every_plot() {
    let s = fixture::finished();
    let html = render_to_string(&s, "report.html");
    for banned in ["<script", "<link", "@import", "url(", "src=", "@font-face"] {
        assert!(
            !html.contains(banned),
            "external or script content: {banned}"
        );
    }
    for id in ["plot-rps", "plot-latency", "plot-percentiles"] {
        let start = html.find(&format!("id=\"{id}\"")).unwrap();
        let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
        let points: usize = svg
            .match_indices("data-points=\"")
            .map(|(i, m)| {
                let rest = &svg[i + m.len()..];
                rest[..rest.find('"').unwrap()].parse::<usize>().unwrap()
            })
            .sum();
        assert!(points >= 10, "{id}: {points} points");
    }
    assert_eq!(html.matches("<details>").count(), 3);
}

#[test]
fn long_and_odd_inputs_stay_within_80_columns_in_every_format() {
    let long = "x".repeat(300);
    let mut st = WorkerStats::new(1);
    st.record_sent(0);
    st.record_response(0, 200, 1000, 1000);
    let mut p = plan(&[(&format!("http://h/{long}?q={long}"), Some(1.0))], 1);
    p.endpoints[0].method = "M".repeat(100);
    p.endpoints[0].headers = vec![
        ("X-Long".into(), long.clone()),
        ("X-Auth-Token".into(), long.clone()),
    ];
    let facts = RunFacts {
        plan: &p,
        threads: 1,
        pipelining: 1,
        duration_s: 1.0,
    };
    let mut s = Summary::new(&st, facts, Some(format!("why {long}")));
    s.health.bottleneck = Some(long.clone());
    s.endpoints[0].samples = vec![crate::stats::Sample {
        status: 200,
        head: format!("HTTP/1.1 200 OK\nSet-Cookie: {long}\n\u{0}\u{1b}[31m: x"),
        body: "```\n</details>\n<script>alert(1)</script>|".into(),
        truncated: true,
    }];
    finish(&mut s, false);
    text(&s);
    for name in EXPORT_FILES {
        render_to_string(&s, name);
    }
    let html = render_to_string(&s, "report.html");
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    let md = render_to_string(&s, "report.md");
    assert!(md.contains("````http"), "a fence longer than the body's");
}

#[test]
fn escaping_helpers() {
    for (input, want) in [
        ("plain", "plain"),
        ("a,b", "\"a,b\""),
        ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("two\nlines", "\"two\nlines\""),
    ] {
        assert_eq!(csv::field(input), want, "{input:?}");
    }
    for (input, want) in [
        ("GET /a|b", "`GET /a\\|b`"),
        ("x`y", "`x'y`"),
        ("a\nb", "`a b`"),
    ] {
        assert_eq!(markdown::code(input), want, "{input:?}");
    }
    for (input, want) in [
        ("a|b", "a\\|b"),
        ("<b>*x*</b>", "&lt;b&gt;\\*x\\*&lt;/b&gt;"),
        ("[link](u)", "\\[link\\](u)"),
    ] {
        assert_eq!(markdown::esc(input), want, "{input:?}");
    }
}

#[test]
fn many_endpoints_and_big_figures_keep_the_text_tables_aligned_within_80_columns() {
    // (endpoints, figures scaled up): the numbers stay in their columns past #9 and #99,
    // and with a day-long run at a million req/s.
    for (n, big) in [(9usize, false), (12, false), (12, true), (120, true)] {
        let urls: Vec<String> = (0..n).map(|i| format!("http://h/{i}")).collect();
        let rated: Vec<(&str, Option<f64>)> = urls
            .iter()
            .map(|u| (u.as_str(), Some(if big { 1_234_567.0 } else { 10.0 })))
            .collect();
        let mut st = WorkerStats::new(n);
        for i in 0..n {
            st.record_sent(i);
            st.record_response(i, 200, 1000, 1000);
        }
        let p = plan(&rated, n);
        let mut s = summary(&st, &p, 1, 1.0);
        if big {
            for e in &mut s.endpoints {
                e.rps = 1_234_567.8;
                e.requests.completed = 123_456_789_012;
                e.requests.failed = 12_345_678_901;
                e.status.insert(200, 123_456_789_012);
            }
        }
        let text = text(&s);
        let lines: Vec<&str> = text.lines().collect();
        // Run configuration: the method of every endpoint in one column, the lines
        // under it in the same one.
        let firsts: Vec<usize> = lines
            .iter()
            .filter(|l| l.trim_start().starts_with('#') && l.contains(" GET "))
            .map(|l| l.find("GET").unwrap())
            .collect();
        assert_eq!(firsts.len(), n, "{text}");
        assert!(firsts.iter().all(|c| *c == firsts[0]), "{firsts:?}\n{text}");
        let rate_col = lines
            .iter()
            .find(|l| l.trim_start().starts_with("rate "))
            .map(|l| l.find("rate").unwrap());
        assert_eq!(rate_col, Some(firsts[0]), "{text}");
        // The endpoint table: one row per endpoint, each as wide as the heading.
        let head = lines.iter().position(|l| l.contains("Endpoint ")).unwrap();
        let width = lines[head].chars().count();
        for row in &lines[head + 1..head + 1 + n] {
            assert_eq!(row.chars().count(), width, "{row:?}\n{text}");
        }
        // Status classes by endpoint: likewise.
        let head = lines.iter().position(|l| l.contains("2xx")).unwrap();
        let width = lines[head].chars().count();
        for row in &lines[head + 1..head + 1 + n] {
            assert_eq!(row.chars().count(), width, "{row:?}\n{text}");
        }
    }
}

#[test]
fn text_cells_fit_their_columns() {
    for (n, width, want) in [
        (0u64, 9usize, "0"),
        (9_999_999, 9, "9,999,999"),
        (10_000_000, 9, "10000000"),
        (123_456_789, 9, "123456789"),
        (1_234_567_890, 9, "1.23G"),
        (999_999_999_999, 8, "1.00T"),
        (u64::MAX, 8, "18.4E"),
    ] {
        let got = text::count_cell(n, width);
        assert!(got.chars().count() <= width, "{n}: {got}");
        assert_eq!(got, want, "{n}");
    }
    for (r, want) in [
        (0.0, "0.0"),
        (181_265.7, "181265.7"),
        (1_234_567.8, "1234568"),
        (123_456_789.0, "123M"),
    ] {
        assert_eq!(text::rate_cell(r, 8), want, "{r}");
    }
}

#[test]
fn sample_control_characters_are_shown_not_obeyed() {
    for (input, want) in [
        ("plain\ttext\nline", "plain\ttext\nline"),
        ("crlf\r\nend", "crlf\r\nend"),
        ("lone\rcr", "lone␍cr"),
        ("\u{1b}[2J\u{1b}]0;title\u{7}", "␛[2J␛]0;title␇"),
        ("nul\u{0}del\u{7f}", "nul␀del␡"),
        ("csi\u{9b}31m", "csi\u{fffd}31m"),
        ("\u{fffd}é✓", "\u{fffd}é✓"),
    ] {
        assert_eq!(printable(input), want, "{input:?}");
    }
    // In the reports that show samples, from a server that sends escape sequences.
    let mut s = fixture::summary();
    s.endpoints[0].samples = vec![crate::stats::Sample {
        status: 200,
        head: "HTTP/1.1 200 OK\nX-Odd: \u{1b}[31m".into(),
        body: "\u{fffd}\u{0}\u{1b}[2J\u{1b}]0;pwned\u{7}\r\nok\r".into(),
        truncated: false,
    }];
    finish(&mut s, false);
    for name in ["report.md", "report.html"] {
        let out = render_to_string(&s, name);
        let bad: Vec<char> = out
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:?}");
        assert!(out.contains("␛[2J␛]0;pwned␇"), "{name}");
    }
}

#[test]
fn run_length_is_said_in_good_grammar() {
    for (duration_s, requests, want) in [
        (None, Some(1), "Load         1 request, 1 connection"),
        (
            None,
            Some(2_000),
            "Load         2,000 requests, 1 connection",
        ),
        (
            Some(1.5),
            Some(1),
            "Load         1.5s or 1 request, 1 connection",
        ),
        (Some(10.0), None, "Load         10s, 1 connection"),
    ] {
        let mut s = sample();
        s.config.connections = 1;
        (s.config.duration_s, s.config.requests) = (duration_s, requests);
        let text = text(&s);
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
}

#[test]
fn an_endpoint_without_responses_shows_no_latency_rather_than_zero() {
    // Endpoint 1 answered, endpoint 2 only failed.
    let mut st = WorkerStats::new(2);
    st.record_sent(0);
    st.record_response(0, 200, 1_500_000, 1_500_000);
    st.record_sent(1);
    st.record_failed(1, ErrorKind::Timeout);
    let s = summary(
        &st,
        &plan(&[("http://h/a", Some(1.0)), ("http://h/b", Some(1.0))], 2),
        1,
        1.0,
    );
    let md = render_to_string(&s, "report.md");
    assert!(md.contains("| 1 | 1.50ms |"), "{md}");
    assert!(md.contains("| 2 | - | - | - | - | - | - | - | - |"), "{md}");
    let html = render_to_string(&s, "report.html");
    assert!(html.contains("1.50ms"), "{html}");
    assert!(
        html.contains(r#"<td class="l">2</td><td>-</td><td>-</td>"#),
        "{html}"
    );
    // A run with no response at all: the totals too.
    let st = WorkerStats::new(1);
    let s = summary(&st, &plan(&[("http://h/", Some(1.0))], 1), 1, 1.0);
    let md = render_to_string(&s, "report.md");
    assert!(md.contains("| all | - | - |"), "{md}");
    assert!(md.contains("| service | - | - |"), "{md}");
    let html = render_to_string(&s, "report.html");
    assert!(
        html.contains(r#"<td class="l">all</td><td>-</td>"#),
        "{html}"
    );
}

#[test]
fn one_thread_and_one_connection_in_the_singular_in_every_header() {
    let mut st = WorkerStats::new(1);
    st.record_sent(0);
    st.record_response(0, 200, 1_000_000, 1_000_000);
    let s = summary(&st, &plan(&[("http://h/", None)], 1), 1, 1.0);
    for name in ["report.txt", "report.md", "report.html"] {
        let out = render_to_string(&s, name);
        assert!(
            out.contains("1.00s, 1 thread, 1 connection, pipelining 1"),
            "{name}: {out}"
        );
    }
}

#[test]
fn an_unreachable_rate_is_a_shortfall_of_whole_requests() {
    // (target req/s, seconds, responses) → warned
    for (target, secs, done, warned) in [
        (0.5, 0.1, 0u64, false), // 0.05 requests due: none sent is on schedule
        (0.5, 3.0, 1, false),    // 1.5 "expected", one due (at 2 s)
        (1.0, 2.5, 0, true),     // two due, none answered
        (100.0, 10.0, 799, true),
        (100.0, 10.0, 801, false),
        (2.0, 1.0, 0, true),
    ] {
        let mut st = WorkerStats::new(1);
        for _ in 0..done {
            st.record_sent(0);
            st.record_response(0, 200, 1_000_000, 1_000_000);
        }
        let p = plan(&[("http://h/", Some(target))], 1);
        let s = summary(&st, &p, 1, secs);
        let got = s
            .warnings
            .iter()
            .any(|w| w.starts_with("target rate unreachable"));
        assert_eq!(
            got, warned,
            "{target}/s over {secs}s, {done} done: {:?}",
            s.warnings
        );
    }
}

#[test]
fn csv_latency_cells_are_empty_without_responses_rather_than_zero() {
    // Endpoint 1 answered in 1.5 ms; endpoint 2 only failed (a timeout in second 0).
    let mut st = WorkerStats::new(2);
    st.record_sent(0);
    st.record_response(0, 200, 1_500_000, 1_500_000);
    st.record_sent(1);
    st.record_failed(1, ErrorKind::Timeout);
    st.finish_timeline(1_000_000_000);
    let s = summary(
        &st,
        &plan(&[("http://h/a", Some(1.0)), ("http://h/b", Some(1.0))], 2),
        1,
        1.0,
    );
    let endpoints = render_to_string(&s, "endpoints.csv");
    let header: Vec<&str> = csv::ENDPOINTS_HEADER.split(',').collect();
    let rows: Vec<Vec<String>> = endpoints.lines().skip(1).map(split_csv).collect();
    assert_eq!(rows.len(), 2, "{endpoints}");
    for (k, name) in header.iter().enumerate() {
        if name.starts_with("latency_") || name.starts_with("service_") {
            assert!(!rows[0][k].is_empty(), "{name}: {endpoints}");
            assert_eq!(rows[1][k], "", "{name} of an endpoint without responses");
        }
    }
    assert_eq!(
        rows[0][header.iter().position(|n| *n == "latency_p50_us").unwrap()],
        "1500"
    );
    let timeline = render_to_string(&s, "timeline.csv");
    let header: Vec<&str> = csv::TIMELINE_HEADER.split(',').collect();
    let rows: Vec<Vec<String>> = timeline.lines().skip(1).map(split_csv).collect();
    assert_eq!(rows.len(), 2, "{timeline}");
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    assert_eq!(rows[1][col("errors")], "1", "{timeline}");
    for name in ["p50_us", "p99_us", "max_us"] {
        assert!(!rows[0][col(name)].is_empty(), "{name}: {timeline}");
        assert_eq!(
            rows[1][col(name)],
            "",
            "{name} of a second without responses"
        );
    }
}

#[test]
fn the_time_requests_waited_for_a_connection_is_in_every_report() {
    // The fixture: 300 requests waited 4.5 s in all, the longest 90 ms.
    let s = fixture::finished();
    let txt = text(&s);
    assert!(
        txt.contains("300 waited for a connection: 4.50s in all, longest 90.0ms"),
        "{txt}"
    );
    let md = render_to_string(&s, "report.md");
    assert!(
        md.contains("| Total wait for a connection | 4.50s |"),
        "{md}"
    );
    assert!(md.contains("| Longest wait | 90.0ms |"), "{md}");
    let html = render_to_string(&s, "report.html");
    assert!(html.contains("Total wait for a connection"), "{html}");
    // Nobody waited: no times to give.
    let mut s = fixture::finished();
    s.health.queued = 0;
    s.health.queue_wait_total_us = 0;
    s.health.queue_wait_max_us = 0;
    assert!(text(&s).contains("               0 waited for a connection\n"));
}

#[test]
fn markdown_analysis_states_the_findings_before_the_warnings() {
    let s = fixture::finished();
    let md = render_to_string(&s, "report.md");
    let start = md.find("## Analysis and warnings").unwrap();
    let end = start + md[start..].find("\n## Run configuration").unwrap();
    let analysis = &md[start..end];
    let ended: u64 = s
        .endpoints
        .iter()
        .map(|e| e.requests.completed + e.requests.failed)
        .sum();
    let failed: u64 = s.endpoints.iter().map(failures).sum();
    for needle in [
        format!(
            "- **Throughput:** {} responses in {:.2}s, {:.1} req/s against a target of {:.1} req/s ({:.1}% achieved)",
            grouped(s.requests.completed),
            s.duration_s,
            s.rps,
            s.target_rps.unwrap(),
            global_achieved_pct(&s).unwrap()
        ),
        format!(
            "- **Failures:** {} of {} requests ({:.1}%): {} errors, {} responses &gt;= 400",
            grouped(failed),
            grouped(ended),
            failed as f64 / ended as f64 * 100.0,
            grouped(s.requests.failed),
            grouped(failed - s.requests.failed)
        ),
        format!(
            "- **Latency:** p50 {}, p99 {}, max {} (from the intended send times)",
            us(s.latency_us.p50),
            us(s.latency_us.p99),
            us(s.latency_us.max)
        ),
        "- **Slowest endpoint:** `#3 GET /a/rather/long/path/to/search?q=x,y`".to_string(),
        "- **Warning:** only 18 of 20 connections were established".to_string(),
    ] {
        assert!(analysis.contains(&needle), "missing {needle:?} in\n{analysis}");
    }
    // A clean closed-loop run: no target, no failures, no warnings.
    let md = render_to_string(&sample_clean(), "report.md");
    assert!(md.contains("- **Failures:** none of "), "{md}");
    assert!(md.contains("(closed loop)"), "{md}");
    assert!(md.contains("No warnings."), "{md}");
    // Rated and closed-loop endpoints: the target is the rated ones'.
    let mut st = WorkerStats::new(2);
    for e in 0..2 {
        for _ in 0..10 * (e + 1) {
            st.record_sent(e);
            st.record_response(e, 200, 1_000_000, 1_000_000);
        }
    }
    st.slots_established = 2;
    let s = summary(
        &st,
        &plan(&[("http://h/a", Some(10.0)), ("http://h/b", None)], 2),
        1,
        1.0,
    );
    let md = render_to_string(&s, "report.md");
    assert!(
        md.contains(
            "30 responses in 1.00s, 30.0 req/s; the rated endpoints 10.0 of 10.0 req/s (100.0% achieved)"
        ),
        "{md}"
    );
}

fn sample_clean() -> Summary {
    let mut st = WorkerStats::new(1);
    for _ in 0..10 {
        st.record_sent(0);
        st.record_response(0, 200, 1_000_000, 1_000_000);
    }
    st.slots_established = 1;
    summary(&st, &plan(&[("http://h/", None)], 1), 1, 1.0)
}
