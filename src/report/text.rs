//! The final text report on stdout: the header, run configuration, global summary,
//! endpoint summary, endpoint latency, status code distribution, latency distribution
//! (a bar chart) and warnings. Every line fits 80 columns. Pure: writes the summary it is
//! given (already redacted by `report::finish`) into any `io::Write`.

use super::{
    achieved_pct, classes, distribution, endpoint_name, failure_pct, failures, global_achieved_pct,
    grouped, plural, us, us_f,
};
use crate::stats::{Latency, Summary};
use crate::units::format_bytes;
use std::io::{self, Write};

/// Widest line the report writes.
pub const WIDTH: usize = 80;
/// Longest bar of the charts.
const BAR: usize = 36;

/// Writes the human-readable report.
pub fn write(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    header(s, out)?;
    configuration(s, out)?;
    summary(s, out)?;
    endpoints(s, out)?;
    latency_table(s, out)?;
    status_table(s, out)?;
    latency_chart(s, out)?;
    warnings(s, out)
}

fn header(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    if s.endpoints.len() > 1 {
        writeln!(out, "{} endpoints", s.endpoints.len())?;
    } else {
        writeln!(out, "{}", clip(&format!("{} {}", s.method, s.url), WIDTH))?;
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
        wrap(out, "  ".into(), 4, &format!("Stopped early: {why}"), " ")?;
    }
    if s.interrupted {
        writeln!(out, "  Interrupted: stopped by a signal before the end")?;
    }
    Ok(())
}

fn section(out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{title}")
}

fn configuration(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let c = &s.config;
    section(out, "Run configuration")?;
    let length = match (c.duration_s, c.requests) {
        (Some(d), Some(n)) => format!("{d}s or {}", plural(n, "request", "requests")),
        (Some(d), None) => format!("{d}s"),
        (None, Some(n)) => plural(n, "request", "requests"),
        (None, None) => "until stopped".into(),
    };
    writeln!(
        out,
        "  Load         {length}, {}, {}, pipelining {}",
        plural(c.connections, "connection", "connections"),
        plural(c.threads, "thread", "threads"),
        c.pipelining
    )?;
    writeln!(
        out,
        "  Timeouts     response {}s, connect {}s, keep-alive {}",
        c.timeout_s,
        c.connect_timeout_s,
        if c.keepalive { "on" } else { "off" }
    )?;
    if c.autoscale {
        writeln!(
            out,
            "  Autoscale    up to {}",
            plural(c.max_connections, "connection", "connections")
        )?;
    }
    if let Some(rule) = &c.early_exit {
        write_wrapped(out, "Early exit", rule, " ")?;
    }
    // "#N" and a space, as wide as the widest number: the method starts in the same
    // column on every line (also past #9), and so do the lines under it.
    let indent = format!("#{}", s.endpoints.len()).len().max(2) + 3;
    for (i, e) in s.endpoints.iter().enumerate() {
        let drive = match (e.target_rps, e.ramp_up_s.filter(|r| *r > 0.0)) {
            (Some(t), Some(r)) => format!("rate {t}/s, ramp-up {r}s"),
            (Some(t), None) => format!("rate {t}/s"),
            (None, _) => format!("closed loop, weight {}", e.weight),
        };
        let body = if e.body_bytes > 0 {
            format!(", body {}", format_bytes(e.body_bytes))
        } else {
            String::new()
        };
        let label = format!("#{}", i + 1);
        let pad = " ".repeat(indent);
        writeln!(
            out,
            "  {label:<w$}{}",
            clip(&format!("{} {}", e.method, e.url), WIDTH - indent),
            w = indent - 2
        )?;
        wrap(out, pad.clone(), indent, &format!("{drive}{body}"), ", ")?;
        for (name, value) in &e.headers {
            writeln!(out, "{}", clip(&format!("{pad}{name}: {value}"), WIDTH))?;
        }
    }
    Ok(())
}

fn summary(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let secs = s.duration_s.max(1e-9);
    section(out, "Summary")?;
    let r = &s.requests;
    writeln!(out, "  Duration     {:.2}s", s.duration_s)?;
    writeln!(
        out,
        "  Requests     {} completed, {:.1}/s",
        grouped(r.completed),
        s.rps
    )?;
    writeln!(
        out,
        "               {} sent, {} errors, {} in flight at stop",
        grouped(r.sent),
        grouped(r.failed),
        grouped(r.in_flight_at_stop)
    )?;
    let bad: u64 = s.status.range(400..).map(|(_, n)| n).sum();
    writeln!(
        out,
        "  Outcome      {} succeeded, {} failed ({} errors, {} >= 400)",
        grouped(r.completed.saturating_sub(bad)),
        grouped(r.failed + bad),
        grouped(r.failed),
        grouped(bad)
    )?;
    if let Some(target) = s.target_rps {
        let rated: f64 = s
            .endpoints
            .iter()
            .filter(|e| e.target_rps.is_some())
            .map(|e| e.rps)
            .sum();
        writeln!(
            out,
            "  Rate         target {target:.1}/s (rated endpoints), actual {rated:.1}/s",
        )?;
        writeln!(
            out,
            "               {:.1}% achieved, {} never sent",
            global_achieved_pct(s).unwrap_or(0.0),
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
        latency_lines(out, "Latency", &s.latency_us)?;
        if s.target_rps.is_some() {
            writeln!(
                out,
                "               (from intended send times: coordinated omission corrected)"
            )?;
            latency_lines(out, "Service", &s.service_us)?;
        }
    } else {
        writeln!(out, "  Latency      no responses")?;
    }
    let items: Vec<String> = s
        .status
        .iter()
        .map(|(code, n)| format!("{code}: {}", grouped(*n)))
        .collect();
    write_wrapped(out, "Status", &or_none(&items), ", ")?;
    let items: Vec<String> = s
        .errors
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{name}: {}", grouped(n)))
        .collect();
    write_wrapped(out, "Errors", &or_none(&items), ", ")?;
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
    let h = &s.health;
    if h.loop_turns > 0 {
        writeln!(
            out,
            "  Client       CPU {:.2}s user, {:.2}s sys; busiest worker {:.0}%; RSS {}",
            h.cpu_user_s,
            h.cpu_sys_s,
            h.busiest_worker * 100.0,
            format_bytes(h.peak_rss_kib.saturating_mul(1024))
        )?;
        if s.target_rps.is_some() {
            // The mean is over every send that found a connection free, not over the
            // late ones only (it can be well under the 1 ms that makes a send late).
            writeln!(
                out,
                "  Late sends   {} over 1 ms; lateness max {}, mean {} (all sends)",
                grouped(h.late_sends),
                us(h.lateness_max_us),
                us_f(h.lateness_mean_us),
            )?;
            if h.queued > 0 {
                writeln!(
                    out,
                    "               {} waited for a connection: {} in all, longest {}",
                    grouped(h.queued),
                    us(h.queue_wait_total_us),
                    us(h.queue_wait_max_us)
                )?;
            } else {
                writeln!(out, "               0 waited for a connection")?;
            }
        }
    }
    Ok(())
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn latency_lines(out: &mut dyn Write, label: &str, l: &Latency) -> io::Result<()> {
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
        "               p50 {}, p75 {}, p90 {}, p95 {}, p99 {}",
        us(l.p50),
        us(l.p75),
        us(l.p90),
        us(l.p95),
        us(l.p99)
    )?;
    writeln!(
        out,
        "               p99.9 {}, p99.99 {}",
        us(l.p99_9),
        us(l.p99_99)
    )
}

/// A count in at most `width` columns: grouped (`12,345,678`) when that fits, else
/// plain digits, else three significant figures with a k/M/G/T/P suffix (`123G`).
pub(crate) fn count_cell(n: u64, width: usize) -> String {
    let g = grouped(n);
    if g.len() <= width {
        return g;
    }
    let plain = n.to_string();
    if plain.len() <= width {
        return plain;
    }
    si(n as f64, width)
}

/// A rate with one decimal in at most `width` columns (fewer decimals, then a suffix,
/// when it does not fit).
pub(crate) fn rate_cell(r: f64, width: usize) -> String {
    let one = format!("{r:.1}");
    if one.len() <= width {
        return one;
    }
    let whole = format!("{r:.0}");
    if whole.len() <= width {
        return whole;
    }
    si(r, width)
}

fn si(v: f64, width: usize) -> String {
    let mut v = v;
    for suffix in ["k", "M", "G", "T", "P", "E"] {
        v /= 1000.0;
        if v < 999.5 {
            let text = if v < 9.995 {
                format!("{v:.2}{suffix}")
            } else if v < 99.95 {
                format!("{v:.1}{suffix}")
            } else {
                format!("{v:.0}{suffix}")
            };
            if text.len() <= width {
                return text;
            }
        }
    }
    "-".into()
}

/// Digits of the highest endpoint number, at least 2: the width of the `#` column.
fn index_width(s: &Summary) -> usize {
    s.endpoints.len().to_string().len().max(2)
}

/// Endpoint summary: rate, target, achieved share, ended requests and failures.
fn endpoints(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    section(out, "Endpoints")?;
    let iw = index_width(s);
    // The name gives up the columns a wider `#` takes, so rows stay within 80.
    let nw = 24 - (iw - 2);
    writeln!(
        out,
        "  {:>iw$} {:<nw$} {:>8} {:>8} {:>6} {:>9} {:>8} {:>6}",
        "#", "Endpoint", "req/s", "target", "achv%", "ended", "failed", "fail%"
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let target = e
            .target_rps
            .map_or_else(|| "closed".to_string(), |t| rate_cell(t, 8));
        let achv = achieved_pct(e, s.duration_s).map_or_else(|| "-".into(), |p| pct_cell(p, 6));
        writeln!(
            out,
            "  {:>iw$} {:<nw$} {:>8} {target:>8} {achv:>6} {:>9} {:>8} {:>6}",
            i + 1,
            clip(&endpoint_name(e), nw),
            rate_cell(e.rps, 8),
            count_cell(e.requests.completed + e.requests.failed, 9),
            count_cell(failures(e), 8),
            pct_cell(failure_pct(e), 6)
        )?;
    }
    Ok(())
}

/// A share in percent in at most `width` columns (`100.0%`; `1234%` past 999.9%).
fn pct_cell(p: f64, width: usize) -> String {
    let one = pct(p);
    if one.chars().count() <= width {
        return one;
    }
    let whole = format!("{p:.0}%");
    if whole.chars().count() <= width {
        whole
    } else {
        ">999%".to_string()
    }
}

fn pct(p: f64) -> String {
    format!("{p:.1}%")
}

/// Endpoint latency: min, mean, p50, p90, p95, p99, p99.9, max per endpoint and over all.
fn latency_table(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    section(out, "Latency by endpoint")?;
    writeln!(
        out,
        "  {:>3} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "#", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    )?;
    let row = |out: &mut dyn Write, label: &str, n: u64, l: &Latency| -> io::Result<()> {
        if n == 0 {
            return writeln!(out, "  {label:>3} {:>8}", "-");
        }
        writeln!(
            out,
            "  {label:>3} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            us(l.min),
            us_f(l.mean),
            us(l.p50),
            us(l.p90),
            us(l.p95),
            us(l.p99),
            us(l.p99_9),
            us(l.max)
        )
    };
    for (i, e) in s.endpoints.iter().enumerate() {
        row(
            out,
            &(i + 1).to_string(),
            e.requests.completed,
            &e.latency_us,
        )?;
    }
    if s.endpoints.len() > 1 {
        row(out, "all", s.requests.completed, &s.latency_us)?;
    }
    Ok(())
}

/// Two spaces and a bar of `n` out of `max`, at most `BAR` long, at least one block when
/// `n > 0`; nothing at all when `n == 0` (no trailing blanks).
fn bar(n: u64, max: u64) -> String {
    if n == 0 || max == 0 {
        return String::new();
    }
    let len = ((n as f64 / max as f64) * BAR as f64).round().max(1.0) as usize;
    format!("  {}", "█".repeat(len.min(BAR)))
}

/// Status code distribution: each code's count and share; per endpoint by class when
/// there are several endpoints.
fn status_table(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    section(out, "Status codes")?;
    let total: u64 = s.status.values().sum::<u64>() + s.requests.failed;
    let max = s
        .status
        .values()
        .copied()
        .chain([s.requests.failed])
        .max()
        .unwrap_or(0);
    writeln!(out, "  {:<7} {:>11} {:>7}", "Code", "Count", "Share")?;
    let row = |out: &mut dyn Write, label: &str, n: u64| {
        let share = if total > 0 {
            n as f64 / total as f64 * 100.0
        } else {
            0.0
        };
        writeln!(
            out,
            "  {label:<7} {:>11} {:>7}{}",
            grouped(n),
            pct(share),
            bar(n, max)
        )
    };
    for (code, n) in &s.status {
        row(out, &code.to_string(), *n)?;
    }
    if s.requests.failed > 0 {
        row(out, "errors", s.requests.failed)?;
    }
    if total == 0 {
        writeln!(out, "  none")?;
    }
    if s.endpoints.len() > 1 {
        writeln!(out)?;
        let iw = index_width(s);
        writeln!(
            out,
            "  {:>iw$} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "#", "2xx", "3xx", "4xx", "5xx", "errors"
        )?;
        for (i, e) in s.endpoints.iter().enumerate() {
            let c = classes(&e.status);
            writeln!(
                out,
                "  {:>iw$} {:>10} {:>10} {:>10} {:>10} {:>10}",
                i + 1,
                count_cell(c[0], 10),
                count_cell(c[1], 10),
                count_cell(c[2], 10),
                count_cell(c[3], 10),
                count_cell(e.requests.failed, 10)
            )?;
        }
    }
    Ok(())
}

/// The latency distribution of all responses as a bar chart over 1-2-5 bins.
fn latency_chart(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    section(out, "Latency distribution")?;
    let bins = distribution(&s.histogram);
    if bins.is_empty() {
        return writeln!(out, "  no responses");
    }
    let total: u64 = bins.iter().map(|b| b.2).sum();
    let max = bins.iter().map(|b| b.2).max().unwrap_or(0);
    for (lo, hi, n) in bins {
        let range = format!("{} - {}", us(lo), us(hi));
        let share = n as f64 / total.max(1) as f64 * 100.0;
        writeln!(
            out,
            "  {range:<17} {:>9} {:>6}{}",
            grouped(n),
            pct(share),
            bar(n, max)
        )?;
    }
    Ok(())
}

fn warnings(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    section(out, "Warnings")?;
    if s.warnings.is_empty() {
        return writeln!(out, "  none");
    }
    for w in &s.warnings {
        wrap(out, "  ".into(), 4, &format!("Warning: {w}"), " ")?;
    }
    Ok(())
}

/// `text` cut to `max` characters, with "…" when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
}

/// "  Label        text", wrapping `text` after `sep` to stay within 80 columns. A piece
/// longer than a line is clipped.
fn write_wrapped(out: &mut dyn Write, label: &str, text: &str, sep: &str) -> io::Result<()> {
    wrap(out, format!("  {label:<12} "), 15, text, sep)
}

/// `first` then `text`, wrapped after `sep`, continuation lines indented by `indent`.
fn wrap(
    out: &mut dyn Write,
    first: String,
    indent: usize,
    text: &str,
    sep: &str,
) -> io::Result<()> {
    let mut current = first;
    let mut empty = true;
    let pieces: Vec<&str> = text.split(sep).collect();
    let last = pieces.len() - 1;
    for (i, piece) in pieces.iter().enumerate() {
        let piece = if i < last {
            format!("{piece}{}", sep.trim_end())
        } else {
            piece.to_string()
        };
        let gap = if empty { "" } else { " " };
        if !empty && current.chars().count() + gap.len() + piece.chars().count() > WIDTH {
            writeln!(out, "{current}")?;
            current = " ".repeat(indent);
            current.push_str(&clip(&piece, WIDTH - indent));
        } else {
            current.push_str(gap);
            let room = WIDTH.saturating_sub(current.chars().count());
            current.push_str(&clip(&piece, room));
        }
        empty = false;
    }
    writeln!(out, "{current}")
}
