//! Final reports: the `Summary` as a text report (wrk/autocannon style, fits 80 columns)
//! or as one JSON object. Writes into any `io::Write`; never reads a clock, never touches
//! stats while a run is going.

use crate::stats::Summary;
use crate::units::{format_bytes, format_duration};
use std::io::{self, Write};
use std::time::Duration;

/// Writes the summary as one pretty-printed JSON object and a newline.
pub fn write_json(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s).map_err(io::Error::other)?;
    writeln!(out)
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

/// Writes the human-readable report.
pub fn write_text(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let secs = s.duration_s.max(1e-9);
    writeln!(out, "{} {}", s.method, s.url)?;
    writeln!(
        out,
        "  {:.2}s, {}, {}, pipelining {}",
        s.duration_s,
        plural(s.threads as u64, "thread", "threads"),
        plural(s.connections.requested, "connection", "connections"),
        s.pipelining
    )?;
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
    let l = &s.latency_us;
    if r.completed > 0 {
        writeln!(
            out,
            "  Latency      mean {}, stdev {}, min {}, max {}",
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
        )?;
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
    use crate::stats::{ErrorKind, WorkerStats};

    fn sample() -> Summary {
        let mut st = WorkerStats::new();
        st.sent = 1_234_600;
        for i in 0..1_234_567u64 {
            st.record_response(
                if i % 1000 == 0 { 503 } else { 200 },
                100_000 + (i % 5000) * 100,
            );
        }
        st.record_error(ErrorKind::Timeout, 3);
        st.record_error(ErrorKind::Connect, 0);
        st.in_flight_at_stop = 30;
        st.bytes_read = 123_456_789;
        st.bytes_written = 45_678_901;
        st.slots_established = 48;
        Summary::new(
            &st,
            "http://127.0.0.1:8080/".into(),
            "GET".into(),
            2,
            1,
            50,
            10.0,
        )
    }

    #[test]
    fn text_report_has_every_part_and_fits_80_columns() {
        let mut buf = Vec::new();
        write_text(&sample(), &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
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
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
    }

    #[test]
    fn many_status_codes_wrap() {
        let mut st = WorkerStats::new();
        for code in 200..260u16 {
            st.record_response(code, 1000);
        }
        let s = Summary::new(&st, "http://h/".into(), "GET".into(), 1, 1, 1, 1.0);
        let mut buf = Vec::new();
        write_text(&s, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("259: 1"));
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
    }

    #[test]
    fn json_report_round_trips() {
        let mut buf = Vec::new();
        write_json(&sample(), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["requests"]["completed"], 1_234_567);
        assert_eq!(v["errors"]["timeout"], 3);
        assert_eq!(v["connections"]["established"], 48);
    }

    #[test]
    fn empty_run_reports_no_responses() {
        let st = WorkerStats::new();
        let s = Summary::new(&st, "http://h/".into(), "GET".into(), 1, 1, 1, 0.0);
        let mut buf = Vec::new();
        write_text(&s, &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("no responses"));
        assert!(text.contains("Status       none"));
        assert!(text.contains("Errors       none"));
    }
}
