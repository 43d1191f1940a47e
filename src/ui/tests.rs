//! Tests of the live view: the panel's goldens at 80 and 120 columns and its fit to any
//! terminal size, colour and `NO_COLOR`, the progress line, the rates taken from the
//! workers' snapshots (and which sums are no rate sample), and the bounded endpoint rows.

use super::*;
use crate::engine::progress::Snapshot;
use crate::plan::{Endpoint, Plan};
use crate::target::Target;

fn endpoint(url: &str, rate: Option<f64>) -> Endpoint {
    Endpoint {
        rate,
        ..Endpoint::get(Target::parse(url).unwrap())
    }
}

fn row(label: &str, rps: f64, target: Option<f64>, p: (u64, u64), classes: Classes) -> Row {
    Row {
        label: label.into(),
        rps,
        target,
        p50_us: Some(p.0),
        p99_us: Some(p.1),
        classes,
    }
}

/// A fixed view: a timed run 3.2 s into 10 s, two endpoints shown, three summed.
fn sample_view() -> View {
    View {
        elapsed_s: 3.2,
        progress: Progress::Time { total_s: 10.0 },
        heading: "http://127.0.0.1:8080".into(),
        total: row(
            "",
            12_345.0,
            Some(15_000.0),
            (1_230, 4_560),
            [36_000, 0, 12, 3, 1],
        ),
        line_rps: 12_001.0,
        conn_errors: 0,
        spark: vec![0.0, 5_000.0, 10_000.0, 12_000.0, 12_345.0],
        rows: vec![
            row(
                "GET /",
                10_000.0,
                Some(10_000.0),
                (1_100, 4_000),
                [30_000, 0, 12, 0, 0],
            ),
            row(
                "POST /api/v1/users/very/long/path/that/cannot/fit/anywhere?x=1",
                2_000.0,
                Some(5_000.0),
                (2_500, 9_990),
                [5_000, 0, 0, 3, 1],
            ),
        ],
        more: Some(row(
            "+3 more",
            345.0,
            None,
            (900, 1_000),
            [1_000, 0, 0, 0, 0],
        )),
    }
}
#[test]
fn panel_golden_at_80_columns_without_colour() {
    let want = [
        "█████████████░░░░░░░░░░░░░░░░░░░░░░░░░░░  3.2s / 10s   32%",
        "12,345 / 15,000 req/s  p50 1.23ms  p99 4.56ms  2xx 36,000  4xx 12  5xx 3  err 1",
        "req/s ▁▄▇██  peak 12.3k",
        "127.0.0.1:8080       req/s target     p50     p99   2xx   3xx   4xx   5xx   err",
        "GET /                10.0k  10.0k  1.10ms  4.00ms 30.0k     0    12     0     0",
        "POST /api…where?x=1  2.00k  5.00k  2.50ms  9.99ms 5.00k     0     0     3     1",
        "+3 more                345      -   900µs  1.00ms 1.00k     0     0     0     0",
    ];
    assert_eq!(render_panel(&sample_view(), 80, 24, false), want);
}

#[test]
fn panel_golden_at_120_columns_keeps_every_column() {
    let got = render_panel(&sample_view(), 120, 24, false);
    assert_eq!(
        got[3],
        "http://127.0.0.1:8080                                        req/s target     p50     p99   2xx   3xx   4xx   5xx   err"
    );
    assert_eq!(
        got[5],
        "POST /api/v1/users/very/long/…/that/cannot/fit/anywhere?x=1  2.00k  5.00k  2.50ms  9.99ms 5.00k     0     0     3     1"
    );
}

#[test]
fn panel_lines_fit_any_width_and_height() {
    let v = sample_view();
    for width in [0, 1, 10, 20, 40, 50, 60, 79, 80, 81, 100, 200, 500] {
        for height in [0, 1, 2, 3, 5, 8, 24, 100] {
            for color in [false, true] {
                let lines = render_panel(&v, width, height, color);
                assert!(!lines.is_empty());
                assert!(lines.len() < height.max(2), "{width}x{height}: {lines:?}");
                for l in &lines {
                    let shown = strip_sgr(l);
                    assert!(
                        shown.chars().count() < width.max(20),
                        "{width}x{height}: {shown:?}"
                    );
                    assert!(!shown.contains('\n') && !shown.contains('\x1b'), "{l:?}");
                }
            }
        }
    }
    // A heading too long for its column loses `http://` first.
    assert!(render_panel(&v, 60, 24, false)[3].starts_with("127.0.0.1:8080 "));
    assert!(render_panel(&v, 80, 24, false)[3].starts_with("127.0.0.1:8080 "));
    assert!(render_panel(&v, 100, 24, false)[3].starts_with("http://127.0.0.1:8080 "));
    // Narrow terminals drop columns in order, keeping req/s, p99, 2xx and err.
    let header = |width| render_panel(&v, width, 24, false)[3].clone();
    let cases: &[(usize, &[&str], &[&str])] = &[
        (120, &["target", "3xx", "p50"], &[]),
        // The standard terminal keeps every column: 2xx/3xx/4xx/5xx/err per endpoint.
        (
            80,
            &["target", "p50", "2xx", "3xx", "4xx", "5xx", "err"],
            &[],
        ),
        (70, &["p50", "4xx", "5xx"], &["3xx", "target"]),
        (
            50,
            &["req/s", "p99", "2xx", "5xx", "err"],
            &["3xx", "target", "p50", "4xx"],
        ),
        (
            45,
            &["req/s", "p99", "2xx", "err"],
            &["3xx", "target", "p50", "4xx", "5xx"],
        ),
    ];
    for (width, kept, dropped) in cases {
        let h = header(*width);
        for c in *kept {
            assert!(h.contains(c), "{width}: {h}");
        }
        for c in *dropped {
            assert!(!h.contains(c), "{width}: {h}");
        }
    }
}

/// `s` without SGR (colour) sequences.
fn strip_sgr(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('m').expect("an SGR sequence ends with m");
        assert!(after[..end]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b';'));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn colour_only_when_asked_and_the_same_text_either_way() {
    let v = sample_view();
    let plain = render_panel(&v, 80, 24, false);
    let coloured = render_panel(&v, 80, 24, true);
    assert!(plain.iter().all(|l| !l.contains('\x1b')));
    assert!(coloured.iter().any(|l| l.contains("\x1b[32m")));
    assert!(
        coloured[1].contains("5xx \x1b[31m3\x1b[0m"),
        "{:?}",
        coloured[1]
    );
    // 2.00k of a 5.00k target is behind (under 80%): flagged.
    assert!(
        coloured[5].contains("\x1b[33m 2.00k\x1b[0m"),
        "{:?}",
        coloured[5]
    );
    let stripped: Vec<String> = coloured.iter().map(|l| strip_sgr(l)).collect();
    assert_eq!(stripped, plain);
}

#[test]
fn colour_wanted_follows_no_color_and_the_terminal() {
    use std::ffi::OsStr;
    let cases: &[(Option<&str>, bool, bool)] = &[
        (None, true, true),
        (Some(""), true, true),
        (Some("1"), true, false),
        (Some("0"), true, false), // any non-empty value
        (None, false, false),
        (Some("1"), false, false),
    ];
    for &(env, tty, want) in cases {
        assert_eq!(
            color_wanted(env.map(OsStr::new), tty),
            want,
            "{env:?} {tty}"
        );
    }
}

#[test]
fn progress_line_golden() {
    let mut v = sample_view();
    assert_eq!(
        progress_line(&v),
        "[  3s/10s] 12,001 / 15,000 req/s  p50 1.23ms  p99 4.56ms  2xx 36,000  4xx 12  5xx 3  err 1"
    );
    // Closed loop, no errors, connection errors shown, a counted run.
    v.total.target = None;
    v.total.classes = [1_234_567, 0, 0, 0, 0];
    v.conn_errors = 2;
    v.line_rps = 0.0;
    v.total.p50_us = None;
    v.total.p99_us = None;
    v.progress = Progress::Requests {
        done: 4_000,
        total: 10_000,
    };
    v.elapsed_s = 75.9;
    assert_eq!(
        progress_line(&v),
        "[1m15s 4,000/10,000] 0 req/s  p50 -  p99 -  2xx 1,234,567  err 0  conn err 2"
    );
}

#[test]
fn progress_lines_have_no_braces_or_escapes_whatever_the_labels() {
    let mut v = sample_view();
    v.heading = "http://h/{x}".into();
    v.rows[0].label = "GET /{a}\x1b[31m".into();
    v.total.label = "{".into();
    let line = progress_line(&v);
    assert!(!line.contains(['{', '}', '\x1b']), "{line}");
}

#[test]
fn clock_and_rate_text() {
    let clocks: &[(f64, usize, &str)] = &[
        (0.0, 0, "0s"),
        (3.0, 0, "3s"),
        (3.25, 1, "3.2s"),
        (59.96, 1, "1m00s"),
        (65.0, 0, "1m05s"),
        (3_725.0, 1, "1h02m"),
        (-1.0, 0, "0s"),
        (f64::NAN, 1, "0.0s"),
    ];
    for &(s, d, want) in clocks {
        assert_eq!(clock_text(s, d), want, "{s} {d}");
    }
    let totals: &[(f64, &str)] = &[(10.0, "10s"), (2.5, "2.5s"), (90.0, "1m30s")];
    for &(s, want) in totals {
        assert_eq!(total_text(s), want);
    }
    let rates: &[(f64, &str)] = &[
        (0.0, "0"),
        (0.5, "0.5"),
        (12.0, "12"),
        (12.34, "12.3"),
        (12_345.4, "12,345"),
        (f64::INFINITY, "0"),
        (-3.0, "0"),
    ];
    for &(r, want) in rates {
        assert_eq!(rate_text(r), want, "{r}");
    }
}

#[test]
fn fit_middle_cases() {
    let cases: &[(&str, usize, &str)] = &[
        ("abc", 5, "abc"),
        ("abcdef", 6, "abcdef"),
        ("abcdef", 5, "ab…ef"),
        ("abcdef", 4, "ab…f"),
        ("abcdef", 1, "…"),
        ("abcdef", 0, ""),
        ("µµµµµ", 3, "µ…µ"),
    ];
    for &(s, w, want) in cases {
        assert_eq!(fit_middle(s, w), want, "{s} {w}");
        assert!(fit_middle(s, w).chars().count() <= w.max(s.chars().count().min(w)));
    }
}

#[test]
fn sparkline_cases() {
    let cases: &[(&[f64], usize, &str)] = &[
        (&[], 10, ""),
        (&[0.0, 0.0], 10, "▁▁"),
        (&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 8, "▂▃▄▅▅▆▇█"),
        (&[0.0, 7.0], 10, "▁█"),
        (&[0.0, 7.0, 3.5], 2, "█▅"),
        (&[f64::NAN, 1.0], 5, "▁█"),
    ];
    for &(v, w, want) in cases {
        assert_eq!(sparkline(v, w), want, "{v:?} {w}");
    }
}

#[test]
fn frame_moves_up_over_the_previous_panel_and_erases_the_rest() {
    let lines = vec!["a".to_string(), "b".to_string()];
    assert_eq!(frame(0, &lines), "\ra\x1b[K\nb\x1b[K\n\x1b[J");
    assert_eq!(frame(3, &lines), "\r\x1b[3Aa\x1b[K\nb\x1b[K\n\x1b[J");
    assert_eq!(erase(2), "\r\x1b[2A\x1b[J");
    assert_eq!(erase(0), "\r\x1b[J");
}

#[test]
fn table_rows_fit_the_terminal_height() {
    let cases = [
        (0, 0),
        (4, 0),
        (5, 0),
        (6, 1),
        (10, 5),
        (24, MAX_ROWS + 1),
        (200, MAX_ROWS + 1),
    ];
    for (height, want) in cases {
        assert_eq!(table_rows_for(height), want, "{height}");
    }
}

/// A summed snapshot at `at_ns` where endpoint `i` has `completed[i]` 200 responses of
/// `latency_us` each, plus `failed[i]` errors, at `completed[i]` responses a second.
fn snapshot(at_ns: u64, completed: &[u64], failed: &[u64], latency_us: u64) -> Snapshot {
    let rps: Vec<f64> = completed.iter().map(|&c| c as f64).collect();
    snapshot_at_rates(at_ns, completed, failed, latency_us, &rps)
}

/// The same at the given rates.
fn snapshot_at_rates(
    at_ns: u64,
    completed: &[u64],
    failed: &[u64],
    latency_us: u64,
    rps: &[f64],
) -> Snapshot {
    let mut s = Snapshot::new(completed.len());
    s.at_ns = at_ns;
    for (i, e) in s.endpoints.iter_mut().enumerate() {
        e.rps = rps[i];
        e.completed = completed[i];
        e.sent = completed[i] + failed[i];
        e.failed = failed[i];
        e.status[200] = completed[i];
        e.latency.record_n(latency_us, completed[i]);
    }
    s
}

fn plan(endpoints: Vec<Endpoint>) -> Plan {
    Plan::new(endpoints)
}

#[test]
fn live_rates_come_from_the_workers_and_lines_average_them() {
    let mut p = plan(vec![
        endpoint("http://127.0.0.1:8080/a", Some(100.0)),
        endpoint("http://127.0.0.1:8080/b", None),
    ]);
    p.ramp_up = Some(Duration::from_secs(2));
    let mut live = Live::new(&p);
    let snap = |at_ms: u64, completed: [u64; 2], failed: [u64; 2], rps: [f64; 2]| {
        snapshot_at_rates(at_ms * 1_000_000, &completed, &failed, 50, &rps)
    };
    // The first call (workers just started): nothing yet, no sample, no progress line.
    assert!(!live.update(&Snapshot::new(2)));
    assert!(live.view(MAX_ROWS).spark.is_empty());
    assert!(!live.update(&snap(250, [25, 100], [0, 0], [100.0, 400.0])));
    let v = live.view(MAX_ROWS);
    assert_eq!(v.rows.len(), 2);
    assert_eq!(v.heading, "http://127.0.0.1:8080");
    assert_eq!(v.rows[0].label, "GET /a");
    assert_eq!(v.rows[0].rps, 100.0);
    assert_eq!(v.rows[1].rps, 400.0);
    assert_eq!(v.total.rps, 500.0);
    // The target ramps up: an eighth of the way through a 2 s ramp.
    assert_eq!(v.rows[0].target, Some(12.5));
    assert_eq!(v.rows[1].target, None);
    // b is closed loop: its responses are no part of a's target, so the total has none.
    assert_eq!(v.total.target, None);
    assert_eq!(v.rows[0].p50_us, Some(50));
    assert_eq!(v.spark, [500.0]);
    assert_eq!(v.progress, Progress::Time { total_s: 10.0 });
    // One sample per update; a line is due on entering the first second, at the mean
    // of the totals since the start.
    assert!(!live.update(&snap(500, [50, 150], [0, 0], [100.0, 200.0])));
    assert!(!live.update(&snap(750, [75, 200], [0, 0], [100.0, 200.0])));
    assert!(live.update(&snap(1_000, [100, 250], [0, 5], [100.0, 200.0])));
    let v = live.view(MAX_ROWS);
    assert_eq!(v.rows[1].rps, 200.0);
    assert_eq!(v.line_rps, (500.0 + 300.0 * 3.0) / 4.0);
    assert_eq!(v.rows[1].classes, [250, 0, 0, 0, 5]);
    assert_eq!(v.spark, [500.0, 300.0, 300.0, 300.0]);
    // Still within that second: no new line. Bad rates from a sum never show.
    assert!(!live.update(&snap(1_250, [125, 250], [0, 5], [f64::NAN, -1.0])));
    assert_eq!(live.view(MAX_ROWS).total.rps, 0.0);
    assert!(!live.update(&snap(1_900, [190, 250], [0, 5], [100.0, 0.0])));
    assert!(live.update(&snap(2_100, [210, 250], [0, 5], [100.0, 0.0])));
    let v = live.view(MAX_ROWS);
    assert_eq!(v.line_rps, 200.0 / 3.0);
    assert_eq!(v.rows[0].target, Some(100.0)); // ramp done
    assert_eq!(
        progress_line(&v),
        "[  2s/10s] 66.7 req/s  p50 50.0µs  p99 50.0µs  2xx 460  err 5"
    );
}

#[test]
fn sums_have_a_target_only_when_every_endpoint_in_them_is_rated() {
    let rates = [Some(10.0), Some(20.0), Some(30.0), None];
    let endpoints = rates
        .iter()
        .enumerate()
        .map(|(i, r)| endpoint(&format!("http://127.0.0.1:8080/{i}"), *r))
        .collect();
    let mut live = Live::new(&plan(endpoints));
    live.update(&snapshot(1_000_000_000, &[1, 2, 3, 4], &[0; 4], 10));
    // Shown: 0 and 1; summed: 2 (rated) and 3 (closed).
    let v = live.view(3);
    assert_eq!(v.total.target, None);
    assert_eq!(v.more.unwrap().target, None);
    // Room for all: each row keeps its own.
    let v = live.view(4);
    assert_eq!(v.more, None);
    let targets: Vec<Option<f64>> = v.rows.iter().map(|r| r.target).collect();
    assert_eq!(targets, rates);
    let mut p = plan(
        rates[..3]
            .iter()
            .map(|r| endpoint("http://127.0.0.1:8080/", *r))
            .collect(),
    );
    p.duration = Some(Duration::from_secs(5));
    let mut live = Live::new(&p);
    live.update(&snapshot(1_000_000_000, &[1, 2, 3], &[0; 3], 10));
    let v = live.view(2);
    assert_eq!(v.total.target, Some(60.0));
    assert_eq!(v.more.unwrap().target, Some(50.0));
}

#[test]
fn live_view_bounds_its_rows_and_sums_the_rest() {
    let endpoints: Vec<Endpoint> = (0..12)
        .map(|i| endpoint(&format!("http://127.0.0.1:{}/e{i}", 8000 + i % 2), None))
        .collect();
    let mut live = Live::new(&plan(endpoints));
    live.update(&Snapshot::new(12));
    let completed: Vec<u64> = (1..=12).collect();
    live.update(&snapshot(1_000_000_000, &completed, &[0; 12], 1_000));
    // Two origins: full URLs, generic heading.
    let v = live.view(5);
    assert_eq!(v.heading, "endpoint");
    assert_eq!(v.rows.len(), 4);
    assert_eq!(v.rows[0].label, "GET http://127.0.0.1:8000/e0");
    let more = v.more.as_ref().unwrap();
    assert_eq!(more.label, "+8 more");
    assert_eq!(more.classes[0], (5..=12).sum::<u64>());
    assert_eq!(more.rps, (5..=12).sum::<u64>() as f64);
    assert!((1_000..=1_010).contains(&more.p99_us.unwrap()));
    assert_eq!(v.total.classes[0], 78);
    let lines = render_panel(&v, 80, 24, false);
    assert_eq!(lines.len(), FIXED_LINES + 5);
    assert!(lines[3].starts_with("endpoint "), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("+8 more "), "{lines:?}");
    // Room for all: no "more" line; no room: only the fixed lines.
    assert!(live.view(12).more.is_none());
    let v = live.view(0);
    assert!(v.rows.is_empty() && v.more.as_ref().unwrap().label == "+12 more");
}

#[test]
fn a_counted_run_shows_requests_done_of_the_total() {
    let mut p = plan(vec![endpoint("http://127.0.0.1:8080/", None)]);
    p.duration = None;
    p.requests = Some(1_000);
    let mut live = Live::new(&p);
    live.update(&snapshot(500_000_000, &[240], &[10], 100));
    let v = live.view(MAX_ROWS);
    assert_eq!(
        v.progress,
        Progress::Requests {
            done: 250,
            total: 1_000
        }
    );
    let bar = &render_panel(&v, 80, 24, false)[0];
    assert_eq!(
        bar,
        "██████████░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░  250 / 1,000 requests  0.5s   25%"
    );
}

#[test]
fn banner_names_one_endpoint_counts_several_and_fits_the_terminal() {
    let mut one = Plan::new(vec![endpoint("http://127.0.0.1:8080/", None)]);
    (one.connections, one.threads) = (1, 1);
    one.duration = Some(Duration::from_secs(10));
    let mut many = Plan::new(
        (0..15)
            .map(|i| endpoint(&format!("http://127.0.0.1:18402/path-{i}"), Some(5.0)))
            .collect(),
    );
    (many.connections, many.threads) = (20, 2);
    many.duration = Some(Duration::from_millis(2500));
    many.requests = Some(100_000);
    let mut counted = one.clone();
    (counted.duration, counted.requests) = (None, Some(5_000));
    for (plan, want) in [
        (
            &one,
            "tressi: running 10s @ GET http://127.0.0.1:8080/ (1 connection, 1 thread)",
        ),
        (
            &many,
            "tressi: running 2.5s or 100,000 requests @ 15 endpoints (20 connections, 2 threads)",
        ),
        (
            &counted,
            "tressi: running 5,000 requests @ GET http://127.0.0.1:8080/ (1 connection, 1 thread)",
        ),
    ] {
        assert_eq!(banner(plan), want);
    }
    // On an 80-column terminal the line is cut in its middle, never wrapped.
    let long = Plan::new(vec![endpoint(
        &format!("http://127.0.0.1:8080/{}", "x".repeat(200)),
        None,
    )]);
    let fitted = fit_middle(&banner(&long), 80);
    assert_eq!(fitted.chars().count(), 80);
    assert!(fitted.starts_with("tressi: running") && fitted.ends_with(")"));
}

#[test]
fn sums_taken_before_every_worker_published_are_no_rate_sample() {
    use crate::engine::progress::Control;
    use crate::stats::WorkerStats;
    // Two workers at 100 responses a second each. The main thread sums every 250 ms, as
    // the workers publish, so a sum may come before a worker has published anything:
    // that worker's rate is not known yet, not 0.
    let p = plan(vec![endpoint("http://127.0.0.1:8080/", Some(200.0))]);
    let mut live = Live::new(&p);
    let c = Control::new(2, 1);
    let mut stats = [WorkerStats::new(1), WorkerStats::new(1)];
    let mut sum = Snapshot::new(1);
    let mut look = |live: &mut Live, c: &Control| {
        c.sum(&mut sum);
        live.update(&sum)
    };
    assert!(!look(&mut live, &c)); // as the workers start
    let mut publish = |c: &Control, w: usize, ms: u64| {
        let st: &mut WorkerStats = &mut stats[w];
        while st.endpoints[0].completed < ms / 10 {
            st.record_response(0, 200, 1_000, 1_000);
        }
        c.publish(w, ms * 1_000_000, st);
    };
    // 250 ms: the main thread looks first, then worker 0 publishes; worker 1 is late.
    assert!(!look(&mut live, &c));
    publish(&c, 0, 250);
    assert!(live.view(MAX_ROWS).spark.is_empty(), "no sample yet");
    // 500 ms: only worker 0 has published; then both do.
    assert!(!look(&mut live, &c));
    assert!(
        live.view(MAX_ROWS).spark.is_empty(),
        "half a sum is no sample"
    );
    publish(&c, 0, 500);
    publish(&c, 1, 500);
    assert!(!look(&mut live, &c));
    publish(&c, 0, 750);
    publish(&c, 1, 750);
    assert!(!look(&mut live, &c));
    publish(&c, 0, 1_000);
    publish(&c, 1, 1_000);
    assert!(
        look(&mut live, &c),
        "a progress line on entering the first second"
    );
    let v = live.view(MAX_ROWS);
    assert_eq!(v.spark, [200.0, 200.0, 200.0]);
    assert_eq!(v.line_rps, 200.0);
    assert_eq!(v.total.rps, 200.0);
}
