//! Final reports: the `Summary` as a text report (wrk/autocannon style, fits 80 columns)
//! or as one JSON object, and the `--export DIR` files. Writes into any `io::Write` (the
//! export functions are the only file I/O); never reads a clock, never touches stats
//! while a run is going.

use crate::error::Error;
use crate::stats::Summary;
use crate::units::{format_bytes, format_duration};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes the summary as one pretty-printed JSON object and a newline.
pub fn write_json(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s).map_err(io::Error::other)?;
    writeln!(out)
}

/// Checks before a run that `dir` can take the export files (creating it if missing),
/// so a typo costs a clear error instead of a finished run with nowhere to go.
pub fn prepare_export_dir(dir: &Path) -> Result<(), Error> {
    let fail = |e: io::Error| Error::Setup(format!("--export {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".tressi-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// Writes the export files into `dir` (created if missing): `summary.json` (the same
/// object `--json` prints). Each file is written whole under a temporary name, then
/// renamed, so a reader never sees half a file. Returns the paths written.
pub fn write_exports(s: &Summary, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let fail =
        |what: &Path, e: io::Error| Error::Setup(format!("--export {}: {e}", what.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut json = Vec::new();
    write_json(s, &mut json).map_err(|e| fail(dir, e))?;
    let path = dir.join("summary.json");
    write_whole(&path, &json).map_err(|e| fail(&path, e))?;
    Ok(vec![path])
}

fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn us(v: u64) -> String {
    format_duration(Duration::from_micros(v))
}

fn us_f(v: f64) -> String {
    format_duration(Duration::from_nanos((v.max(0.0) * 1000.0).round() as u64))
}

/// Thousands separators: 1234567 → "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

fn latency_lines(out: &mut dyn Write, label: &str, l: &crate::stats::Latency) -> io::Result<()> {
    writeln!(
        out,
        "  {label:<12} mean {}, stdev {}, min {}, max {}",
        us_f(l.mean),
        us_f(l.stdev),
        us(l.min),
        us(l.max)
    )?;
    writeln!(
        out,
        "               p50 {}, p75 {}, p90 {}, p99 {}",
        us(l.p50),
        us(l.p75),
        us(l.p90),
        us(l.p99)
    )?;
    writeln!(
        out,
        "               p99.9 {}, p99.99 {}",
        us(l.p99_9),
        us(l.p99_99)
    )
}

/// Writes the human-readable report.
pub fn write_text(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let secs = s.duration_s.max(1e-9);
    if s.endpoints.len() > 1 {
        writeln!(out, "{} endpoints", s.endpoints.len())?;
    } else {
        writeln!(out, "{} {}", s.method, s.url)?;
    }
    writeln!(
        out,
        "  {:.2}s, {}, {}, pipelining {}",
        s.duration_s,
        plural(s.threads as u64, "thread", "threads"),
        plural(s.connections.requested, "connection", "connections"),
        s.pipelining
    )?;
    if let Some(why) = &s.early_exit {
        writeln!(out, "  Stopped early: {why}")?;
    }
    if s.interrupted {
        writeln!(out, "  Interrupted: stopped by a signal before the end")?;
    }
    writeln!(out)?;
    let r = &s.requests;
    writeln!(
        out,
        "  Requests     {} completed, {:.1}/s",
        grouped(r.completed),
        s.rps
    )?;
    writeln!(
        out,
        "               {} sent, {} failed, {} in flight at stop",
        grouped(r.sent),
        grouped(r.failed),
        grouped(r.in_flight_at_stop)
    )?;
    if let Some(target) = s.target_rps {
        writeln!(
            out,
            "  Rate         target {target:.1}/s (rated endpoints), {} never sent",
            grouped(r.unsent)
        )?;
        let ramps: Vec<f64> = s
            .endpoints
            .iter()
            .filter_map(|e| e.ramp_up_s)
            .filter(|r| *r > 0.0)
            .collect();
        if let (Some(lo), Some(hi)) = (
            ramps.iter().copied().reduce(f64::min),
            ramps.iter().copied().reduce(f64::max),
        ) {
            let span = if lo == hi {
                format!("{lo:.1}s")
            } else {
                format!("{lo:.1}s to {hi:.1}s")
            };
            writeln!(
                out,
                "               rates ramped up linearly from 0 over {span}"
            )?;
        }
    }
    if r.completed > 0 {
        if s.target_rps.is_some() {
            latency_lines(out, "Latency", &s.latency_us)?;
            writeln!(
                out,
                "               (from intended send times: coordinated omission corrected)"
            )?;
            latency_lines(out, "Service", &s.service_us)?;
        } else {
            latency_lines(out, "Latency", &s.latency_us)?;
        }
    } else {
        writeln!(out, "  Latency      no responses")?;
    }
    let mut line = String::new();
    for (code, n) in &s.status {
        push_item(&mut line, &format!("{code}: {}", grouped(*n)));
    }
    write_wrapped(out, "Status", if line.is_empty() { "none" } else { &line })?;
    let mut line = String::new();
    for (name, n) in s.errors.iter().filter(|(_, n)| *n > 0) {
        push_item(&mut line, &format!("{name}: {}", grouped(n)));
    }
    write_wrapped(out, "Errors", if line.is_empty() { "none" } else { &line })?;
    writeln!(
        out,
        "  Transfer     read {} ({}/s), written {} ({}/s)",
        format_bytes(s.bytes.read),
        format_bytes((s.bytes.read as f64 / secs) as u64),
        format_bytes(s.bytes.written),
        format_bytes((s.bytes.written as f64 / secs) as u64)
    )?;
    let c = &s.connections;
    writeln!(
        out,
        "  Connections  {} requested, {} established, {} reconnects",
        grouped(c.requested),
        grouped(c.established),
        grouped(c.reconnects)
    )?;
    if c.autoscaled > 0 {
        writeln!(
            out,
            "               {} opened by autoscale",
            grouped(c.autoscaled)
        )?;
    }
    if s.connect_us.max > 0 {
        let l = &s.connect_us;
        writeln!(
            out,
            "  Connect      p50 {}, p99 {}, max {} (TCP connect)",
            us(l.p50),
            us(l.p99),
            us(l.max)
        )?;
    }
    if s.first_byte_us.max > 0 {
        let l = &s.first_byte_us;
        writeln!(
            out,
            "  First byte   p50 {}, p99 {}, max {} (new connections)",
            us(l.p50),
            us(l.p99),
            us(l.max)
        )?;
    }
    if let Some(t) = &s.tls {
        let l = &t.handshake_us;
        let times = if t.handshakes > 0 {
            format!(", p50 {}, p99 {}, max {}", us(l.p50), us(l.p99), us(l.max))
        } else {
            String::new()
        };
        writeln!(
            out,
            "  TLS          {} handshakes, {} resumed{times}",
            grouped(t.handshakes),
            grouped(t.resumed)
        )?;
        if t.insecure {
            writeln!(out, "               certificates NOT verified (--insecure)")?;
        }
    }
    if s.endpoints.len() > 1 || s.target_rps.is_some() {
        writeln!(out)?;
        writeln!(
            out,
            "  Endpoint                            req/s    target      done  failed     p99"
        )?;
        for e in &s.endpoints {
            let mut name = format!("{} {}", e.method, short_url(&e.url));
            if name.chars().count() > 32 {
                name = name.chars().take(31).collect::<String>() + "…";
            }
            let target = e
                .target_rps
                .map_or_else(|| "closed".to_string(), |t| format!("{t:.1}"));
            writeln!(
                out,
                "  {name:<32} {:>8.1} {target:>9} {:>9} {:>7} {:>7}",
                e.rps,
                grouped(e.requests.completed),
                grouped(e.requests.failed),
                if e.requests.completed > 0 {
                    us(e.latency_us.p99)
                } else {
                    "-".into()
                }
            )?;
        }
    }
    if c.established < c.requested {
        writeln!(
            out,
            "  Warning: only {} of {} connections were established",
            grouped(c.established),
            grouped(c.requested)
        )?;
    }
    Ok(())
}

/// The path and query of a URL (the host is in the header line already when there is
/// one endpoint, and usually shared when there are several).
fn short_url(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}

fn push_item(line: &mut String, item: &str) {
    if !line.is_empty() {
        line.push_str(", ");
    }
    line.push_str(item);
}

/// "  Label        text", wrapping `text` at commas to stay within 80 columns.
fn write_wrapped(out: &mut dyn Write, label: &str, text: &str) -> io::Result<()> {
    const INDENT: usize = 15;
    const WIDTH: usize = 80;
    let mut current = format!("  {label:<12} ");
    let mut first = true;
    for item in text.split(", ") {
        let sep = if first { "" } else { ", " };
        if !first && current.len() + sep.len() + item.len() > WIDTH {
            writeln!(out, "{},", current)?;
            current = " ".repeat(INDENT);
            current.push_str(item);
        } else {
            current.push_str(sep);
            current.push_str(item);
        }
        first = false;
    }
    writeln!(out, "{current}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Endpoint, Plan};
    use crate::stats::{ErrorKind, RunFacts, WorkerStats};
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
        Summary::new(st, facts, None)
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

    fn text(s: &Summary) -> String {
        let mut buf = Vec::new();
        write_text(s, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
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
        let out = text(&s);
        for needle in [
            "Connect      p50 150µs, p99 150µs, max 150µs (TCP connect)",
            "First byte   p50 3.00ms, p99 3.00ms, max 3.00ms (new connections)",
            "TLS          2 handshakes, 1 resumed, p50 900µs, p99 2.00ms, max 2.00ms",
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
            "1,234,600 sent, 3 failed, 30 in flight at stop",
            "p50 ",
            "p99.99 ",
            "200: 1,233,332",
            "503: 1,235",
            "timeout: 3",
            "connect: 1",
            "50 requested, 48 established",
            "Warning: only 48 of 50",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(
            !text.contains("Service"),
            "closed loop: one latency\n{text}"
        );
        assert!(
            !text.contains("Endpoint "),
            "one endpoint: no table\n{text}"
        );
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
            "target 10.0/s (rated endpoints), 7 never sent",
            "rates ramped up linearly from 0 over 5.0s",
            "coordinated omission corrected",
            "Service      mean 1.00ms",
            "GET /users?page=1",
            "closed",
            "…",
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
        let text = text(&summary(&st, &plan(&[("http://h/", None)], 1), 1, 0.0));
        assert!(text.contains("no responses"));
        assert!(text.contains("Status       none"));
        assert!(text.contains("Errors       none"));
    }

    #[test]
    fn exports_write_summary_json_whole() {
        let dir = std::env::temp_dir().join(format!("tressi-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let nested = dir.join("a/b");
        prepare_export_dir(&nested).unwrap();
        let written = write_exports(&sample(), &nested).unwrap();
        assert_eq!(written, vec![nested.join("summary.json")]);
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
        assert_eq!(v["requests"]["completed"], 1_234_567);
        let names: Vec<_> = std::fs::read_dir(&nested)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["summary.json"], "no temporary or probe file left");
        // A file where the directory should be is a clear error.
        let file = dir.join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare_export_dir(&file).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("--export {}:", file.display())),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
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
}
