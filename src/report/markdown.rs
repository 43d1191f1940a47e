//! `report.md`: the report in Markdown (GitHub flavour): analysis (the findings in a few
//! lines) and warnings first, the configuration used (secrets as the summary carries
//! them: redacted by `report::finish`), the summary and endpoint tables, the latency
//! distribution, the generator's health, and sample responses per endpoint in
//! collapsible `<details>` blocks. Pure: writes into any `io::Write`.

use super::{
    achieved_pct, classes, distribution, endpoint_name, failure_pct, failures, global_achieved_pct,
    grouped, us, us_f,
};
use crate::stats::{Latency, Summary};
use crate::units::format_bytes;
use std::io::{self, Write};

/// Text safe inside a Markdown table cell or a line: `|`, `\`, `` ` ``, `*`, `_`, `<`,
/// `>` and `[`/`]` escaped, newlines as spaces.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text as an inline code span, safe in a table cell (backticks become `'`, pipes are
/// escaped, line breaks become spaces).
pub fn code(text: &str) -> String {
    let inner: String = text
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect();
    format!("`{}`", inner.replace('|', "\\|"))
}

/// A code fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn table(out: &mut dyn Write, head: &[&str], right: &[bool]) -> io::Result<()> {
    writeln!(out, "| {} |", head.join(" | "))?;
    let align: Vec<&str> = right
        .iter()
        .map(|r| if *r { "--:" } else { "---" })
        .collect();
    writeln!(out, "|{}|", align.join("|"))
}

fn row(out: &mut dyn Write, cells: &[String]) -> io::Result<()> {
    writeln!(out, "| {} |", cells.join(" | "))
}

/// Writes the Markdown report.
pub fn write(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# tressi report")?;
    writeln!(out)?;
    let what = if s.endpoints.len() > 1 {
        format!("{} endpoints", s.endpoints.len())
    } else {
        code(&format!("{} {}", s.method, s.url))
    };
    writeln!(
        out,
        "{what}: {:.2}s, {}, {}, pipelining {}.",
        s.duration_s,
        super::plural(s.threads as u64, "thread", "threads"),
        super::plural(s.connections.requested, "connection", "connections"),
        s.pipelining
    )?;
    if let Some(why) = &s.early_exit {
        writeln!(out)?;
        writeln!(out, "> **Stopped early:** {}", esc(why))?;
    }
    if s.interrupted {
        writeln!(out)?;
        writeln!(
            out,
            "> **Interrupted:** stopped by a signal before the end; the figures cover the \
             run up to then."
        )?;
    }

    writeln!(out)?;
    writeln!(out, "## Analysis and warnings")?;
    writeln!(out)?;
    analysis(s, out)?;
    if s.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "No warnings.")?;
    }
    for w in &s.warnings {
        writeln!(out, "- **Warning:** {}", esc(w))?;
    }

    configuration(s, out)?;
    summary(s, out)?;
    endpoints(s, out)?;
    status(s, out)?;
    chart(s, out)?;
    health(s, out)?;
    samples(s, out)
}

/// The findings in a few lines: throughput against the target, the failures, the
/// latency, and (with several endpoints) the slowest one by p99.
fn analysis(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let r = &s.requests;
    let mut line = format!(
        "- **Throughput:** {} responses in {:.2}s, {:.1} req/s",
        grouped(r.completed),
        s.duration_s,
        s.rps
    );
    let rated: Vec<f64> = s
        .endpoints
        .iter()
        .filter(|e| e.target_rps.is_some())
        .map(|e| e.rps)
        .collect();
    match (s.target_rps, global_achieved_pct(s)) {
        (Some(t), Some(pct)) if rated.len() == s.endpoints.len() => line.push_str(&format!(
            " against a target of {t:.1} req/s ({pct:.1}% achieved)"
        )),
        (Some(t), Some(pct)) => line.push_str(&format!(
            "; the rated endpoints {:.1} of {t:.1} req/s ({pct:.1}% achieved)",
            rated.iter().sum::<f64>()
        )),
        _ => line.push_str(" (closed loop)"),
    }
    writeln!(out, "{line}")?;
    let ended: u64 = s
        .endpoints
        .iter()
        .map(|e| e.requests.completed + e.requests.failed)
        .sum();
    let failed: u64 = s.endpoints.iter().map(failures).sum();
    let errors: u64 = s.endpoints.iter().map(|e| e.requests.failed).sum();
    if failed == 0 {
        writeln!(out, "- **Failures:** none of {} requests", grouped(ended))?;
    } else {
        writeln!(
            out,
            "- **Failures:** {} of {} requests ({:.1}%): {} errors, {} responses &gt;= 400",
            grouped(failed),
            grouped(ended),
            failed as f64 / ended.max(1) as f64 * 100.0,
            grouped(errors),
            grouped(failed - errors)
        )?;
    }
    if !s.histogram.is_empty() {
        let l = &s.latency_us;
        writeln!(
            out,
            "- **Latency:** p50 {}, p99 {}, max {} ({})",
            us(l.p50),
            us(l.p99),
            us(l.max),
            if s.target_rps.is_some() {
                "from the intended send times"
            } else {
                "closed loop: from the actual send times"
            }
        )?;
    }
    let answered: Vec<(usize, &crate::stats::EndpointSummary)> = s
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.latency_histogram.is_empty())
        .collect();
    if answered.len() > 1 {
        if let Some((i, e)) = answered.iter().max_by_key(|(_, e)| e.latency_us.p99) {
            writeln!(
                out,
                "- **Slowest endpoint:** {} (p99 {})",
                code(&format!("#{} {}", i + 1, endpoint_name(e))),
                us(e.latency_us.p99)
            )?;
        }
    }
    Ok(())
}

fn configuration(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let c = &s.config;
    writeln!(out)?;
    writeln!(out, "## Run configuration")?;
    writeln!(out)?;
    table(out, &["Setting", "Value"], &[false, false])?;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for (k, v) in [
        ("Duration", opt(c.duration_s.map(|d| format!("{d}s")))),
        ("Requests", opt(c.requests.map(grouped))),
        ("Connections", grouped(c.connections)),
        ("Threads", c.threads.to_string()),
        ("Pipelining", c.pipelining.to_string()),
        ("Response timeout", format!("{}s", c.timeout_s)),
        ("Connect timeout", format!("{}s", c.connect_timeout_s)),
        ("Keep-alive", if c.keepalive { "on" } else { "off" }.into()),
        ("Ramp-up", opt(c.ramp_up_s.map(|r| format!("{r}s")))),
        (
            "Autoscale",
            if c.autoscale {
                format!("up to {} connections", c.max_connections)
            } else {
                "off".into()
            },
        ),
        ("Early exit", opt(c.early_exit.as_deref().map(esc))),
    ] {
        row(out, &[k.to_string(), v])?;
    }
    writeln!(out)?;
    table(
        out,
        &["#", "Method", "URL", "Rate", "Weight", "Body", "Headers"],
        &[true, false, false, true, true, true, false],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let headers: Vec<String> = e
            .headers
            .iter()
            .map(|(n, v)| code(&format!("{n}: {v}")))
            .collect();
        row(
            out,
            &[
                (i + 1).to_string(),
                esc(&e.method),
                code(&e.url),
                e.target_rps
                    .map_or_else(|| "closed".into(), |t| format!("{t}/s")),
                e.weight.to_string(),
                format_bytes(e.body_bytes),
                if headers.is_empty() {
                    "-".into()
                } else {
                    headers.join("<br>")
                },
            ],
        )?;
    }
    Ok(())
}

fn summary(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## Summary")?;
    writeln!(out)?;
    let r = &s.requests;
    let bad: u64 = s.status.range(400..).map(|(_, n)| n).sum();
    table(out, &["Metric", "Value"], &[false, true])?;
    let mut rows = vec![
        ("Duration", format!("{:.2}s", s.duration_s)),
        ("Requests sent", grouped(r.sent)),
        ("Responses", grouped(r.completed)),
        (
            "Succeeded (< 400)",
            grouped(r.completed.saturating_sub(bad)),
        ),
        ("Failed (errors and >= 400)", grouped(r.failed + bad)),
        ("In flight at stop", grouped(r.in_flight_at_stop)),
        ("Actual req/s", format!("{:.1}", s.rps)),
    ];
    if let Some(t) = s.target_rps {
        rows.push(("Target req/s", format!("{t:.1}")));
        rows.push((
            "Achieved",
            format!("{:.1}%", global_achieved_pct(s).unwrap_or(0.0)),
        ));
        rows.push(("Never sent", grouped(r.unsent)));
    }
    let errors: Vec<String> = s
        .errors
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}: {}", grouped(n)))
        .collect();
    rows.push((
        "Errors",
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        },
    ));
    rows.push(("Bytes read", format_bytes(s.bytes.read)));
    rows.push(("Bytes written", format_bytes(s.bytes.written)));
    let c = &s.connections;
    rows.push((
        "Connections",
        format!(
            "{} requested, {} established, {} reconnects",
            grouped(c.requested),
            grouped(c.established),
            grouped(c.reconnects)
        ),
    ));
    for (k, v) in rows {
        row(out, &[k.to_string(), v])?;
    }
    Ok(())
}

/// The latency cells of a table row; `-` when no response was measured (`0ns` would
/// read as a measured latency).
fn lat_cells(l: &Latency, responses: u64) -> Vec<String> {
    if responses == 0 {
        return vec!["-".to_string(); 8];
    }
    vec![
        us(l.min),
        us_f(l.mean),
        us(l.p50),
        us(l.p90),
        us(l.p95),
        us(l.p99),
        us(l.p99_9),
        us(l.max),
    ]
}

fn endpoints(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## Endpoints")?;
    writeln!(out)?;
    table(
        out,
        &[
            "#", "Endpoint", "req/s", "Target", "Achieved", "Ended", "Failed", "Fail %",
        ],
        &[true, false, true, true, true, true, true, true],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        row(
            out,
            &[
                (i + 1).to_string(),
                code(&endpoint_name(e)),
                format!("{:.1}", e.rps),
                e.target_rps
                    .map_or_else(|| "closed".into(), |t| format!("{t:.1}")),
                achieved_pct(e, s.duration_s).map_or_else(|| "-".into(), |p| format!("{p:.1}%")),
                grouped(e.requests.completed + e.requests.failed),
                grouped(failures(e)),
                format!("{:.1}%", failure_pct(e)),
            ],
        )?;
    }
    writeln!(out)?;
    writeln!(out, "### Latency by endpoint")?;
    writeln!(out)?;
    table(
        out,
        &[
            "#", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max",
        ],
        &[true; 9],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let mut cells = vec![(i + 1).to_string()];
        cells.extend(lat_cells(&e.latency_us, e.requests.completed));
        row(out, &cells)?;
    }
    let mut cells = vec!["all".to_string()];
    cells.extend(lat_cells(&s.latency_us, s.requests.completed));
    row(out, &cells)?;
    if s.target_rps.is_some() {
        writeln!(
            out,
            "\nLatency is measured from each request's intended send time (coordinated \
             omission corrected). Service time, from the actual send:"
        )?;
        writeln!(out)?;
        table(
            out,
            &[
                "", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max",
            ],
            &[true; 9],
        )?;
        let mut cells = vec!["service".to_string()];
        cells.extend(lat_cells(&s.service_us, s.requests.completed));
        row(out, &cells)?;
    }
    Ok(())
}

fn status(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## Status codes")?;
    writeln!(out)?;
    let total: u64 = s.status.values().sum::<u64>() + s.requests.failed;
    table(out, &["Code", "Count", "Share"], &[false, true, true])?;
    let share = |n: u64| format!("{:.1}%", n as f64 / total.max(1) as f64 * 100.0);
    for (code, n) in &s.status {
        row(out, &[code.to_string(), grouped(*n), share(*n)])?;
    }
    if s.requests.failed > 0 {
        row(
            out,
            &[
                "errors".into(),
                grouped(s.requests.failed),
                share(s.requests.failed),
            ],
        )?;
    }
    writeln!(out)?;
    table(
        out,
        &["#", "2xx", "3xx", "4xx", "5xx", "errors"],
        &[true; 6],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let c = classes(&e.status);
        row(
            out,
            &[
                (i + 1).to_string(),
                grouped(c[0]),
                grouped(c[1]),
                grouped(c[2]),
                grouped(c[3]),
                grouped(e.requests.failed),
            ],
        )?;
    }
    Ok(())
}

fn chart(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## Latency distribution")?;
    writeln!(out)?;
    let bins = distribution(&s.histogram);
    if bins.is_empty() {
        return writeln!(out, "No responses.");
    }
    let max = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1);
    let total: u64 = bins.iter().map(|b| b.2).sum();
    writeln!(out, "```text")?;
    for (lo, hi, n) in bins {
        let len = if n == 0 {
            0
        } else {
            ((n as f64 / max as f64) * 40.0).round().max(1.0) as usize
        };
        writeln!(
            out,
            "{}",
            format!(
                "{:<17} {:>9} {:>6.1}%  {}",
                format!("{} - {}", us(lo), us(hi)),
                grouped(n),
                n as f64 / total.max(1) as f64 * 100.0,
                "█".repeat(len)
            )
            .trim_end()
        )?;
    }
    writeln!(out, "```")
}

fn health(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let h = &s.health;
    writeln!(out)?;
    writeln!(out, "## Load generator health")?;
    writeln!(out)?;
    table(out, &["Metric", "Value"], &[false, true])?;
    for (k, v) in [
        ("Event-loop turns", grouped(h.loop_turns)),
        ("Late sends (> 1 ms)", grouped(h.late_sends)),
        ("Most lateness", us(h.lateness_max_us)),
        ("Mean lateness (all sends)", us_f(h.lateness_mean_us)),
        ("Waited for a connection", grouped(h.queued)),
        ("Total wait for a connection", us(h.queue_wait_total_us)),
        ("Longest wait", us(h.queue_wait_max_us)),
        ("CPU user", format!("{:.2}s", h.cpu_user_s)),
        ("CPU system", format!("{:.2}s", h.cpu_sys_s)),
        (
            "Busiest worker",
            format!("{:.0}%", h.busiest_worker * 100.0),
        ),
        (
            "Peak RSS",
            format_bytes(h.peak_rss_kib.saturating_mul(1024)),
        ),
        (
            "Bottleneck",
            h.bottleneck.as_deref().map_or_else(|| "none".into(), esc),
        ),
    ] {
        row(out, &[k.to_string(), v])?;
    }
    Ok(())
}

fn samples(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## Sample responses")?;
    if s.endpoints.iter().all(|e| e.samples.is_empty()) {
        writeln!(out)?;
        writeln!(out, "None recorded.")?;
        return Ok(());
    }
    for (i, e) in s.endpoints.iter().enumerate() {
        if e.samples.is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "### {}. {}", i + 1, esc(&endpoint_name(e)))?;
        for sample in &e.samples {
            let text = super::printable(&format!("{}\n\n{}", sample.head, sample.body));
            let fence = fence(&text);
            writeln!(out)?;
            writeln!(
                out,
                "<details><summary>{} ({} bytes{})</summary>",
                sample.status,
                sample.body.len(),
                if sample.truncated { ", truncated" } else { "" }
            )?;
            writeln!(out)?;
            writeln!(out, "{fence}http")?;
            writeln!(out, "{}", text.trim_end_matches('\n'))?;
            writeln!(out, "{fence}")?;
            writeln!(out)?;
            writeln!(out, "</details>")?;
        }
    }
    Ok(())
}
