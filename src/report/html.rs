//! `report.html`: one self-contained page (inline CSS and SVG; no scripts, no external
//! fonts, images or links to fetch) with the warnings, the tables of the text report, and
//! three plots: req/s over time per endpoint (with the target rate dashed), p50/p99
//! latency over time (from the per-second intervals), and the latency percentile curve
//! on a log axis. Each data line is an SVG `path` with `class="series"` and a
//! `data-points` count, so tests can check every plot has data. Pure: writes into any
//! `io::Write`.

use super::{
    achieved_pct, classes, distribution, endpoint_name, failure_pct, failures, global_achieved_pct,
    grouped, us, us_f,
};
use crate::stats::{decode_histogram, Latency, Summary};
use crate::units::format_bytes;
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Text safe in HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;\
text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f6f6}\
td.l,th.l{text-align:left}.warn{background:#fff4e5;border-left:4px solid #f0a020;\
padding:6px 10px;margin:4px 0}.note{background:#eef4ff;border-left:4px solid #4a7bd0;\
padding:6px 10px}svg{background:#fff;border:1px solid #ddd;margin:6px 0}\
svg text{font-size:12px;fill:#333}pre{background:#f6f6f6;padding:8px;overflow:auto}\
.bar{display:inline-block;height:10px;background:#4a7bd0}code{font-size:0.95em}";

/// Writes the HTML report.
pub fn write(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    page(s, &mut h).map_err(io::Error::other)?;
    out.write_all(h.as_bytes())
}

fn page(s: &Summary, h: &mut String) -> std::fmt::Result {
    writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>tressi report</title><style>{STYLE}</style></head><body>"
    )?;
    writeln!(h, "<h1>tressi report</h1>")?;
    let what = if s.endpoints.len() > 1 {
        format!("{} endpoints", s.endpoints.len())
    } else {
        format!("<code>{} {}</code>", esc(&s.method), esc(&s.url))
    };
    writeln!(
        h,
        "<p>{what}: {:.2}s, {}, {}, pipelining {}.</p>",
        s.duration_s,
        super::plural(s.threads as u64, "thread", "threads"),
        super::plural(s.connections.requested, "connection", "connections"),
        s.pipelining
    )?;
    if let Some(why) = &s.early_exit {
        writeln!(
            h,
            "<p class=\"note\"><b>Stopped early:</b> {}</p>",
            esc(why)
        )?;
    }
    if s.interrupted {
        writeln!(
            h,
            "<p class=\"note\"><b>Interrupted:</b> stopped by a signal before the end.</p>"
        )?;
    }
    writeln!(h, "<h2>Analysis and warnings</h2>")?;
    if s.warnings.is_empty() {
        writeln!(h, "<p>No warnings.</p>")?;
    }
    for w in &s.warnings {
        writeln!(h, "<div class=\"warn\"><b>Warning:</b> {}</div>", esc(w))?;
    }
    summary_table(s, h)?;
    writeln!(h, "<h2>Requests per second</h2>")?;
    rps_plot(s, h)?;
    writeln!(h, "<h2>Latency over time</h2>")?;
    latency_plot(s, h)?;
    writeln!(h, "<h2>Latency by percentile</h2>")?;
    percentile_plot(s, h)?;
    endpoint_tables(s, h)?;
    status_table(s, h)?;
    distribution_table(s, h)?;
    config_table(s, h)?;
    health_table(s, h)?;
    samples(s, h)?;
    writeln!(h, "</body></html>")
}

fn table_head(h: &mut String, cols: &[&str]) -> std::fmt::Result {
    h.push_str("<table><tr>");
    for (i, c) in cols.iter().enumerate() {
        let left = i == 0 || ["Endpoint", "Method", "URL", "Headers", ""].contains(c);
        let class = if left { " class=\"l\"" } else { "" };
        write!(h, "<th{class}>{}</th>", esc(c))?;
    }
    h.push_str("</tr>\n");
    Ok(())
}

/// A row whose first cell, code and bars are left-aligned; cells are already escaped.
fn table_row(h: &mut String, cells: &[String]) -> std::fmt::Result {
    h.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let left = i == 0 || c.starts_with("<code>") || c.starts_with("<span");
        let class = if left { " class=\"l\"" } else { "" };
        write!(h, "<td{class}>{c}</td>")?;
    }
    h.push_str("</tr>\n");
    Ok(())
}

fn summary_table(s: &Summary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Summary</h2>")?;
    let r = &s.requests;
    let bad: u64 = s.status.range(400..).map(|(_, n)| n).sum();
    table_head(h, &["Metric", "Value"])?;
    let mut rows = vec![
        ("Duration", format!("{:.2}s", s.duration_s)),
        ("Requests sent", grouped(r.sent)),
        ("Responses", grouped(r.completed)),
        (
            "Succeeded (&lt; 400)",
            grouped(r.completed.saturating_sub(bad)),
        ),
        ("Failed (errors and &ge; 400)", grouped(r.failed + bad)),
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
        table_row(h, &[k.to_string(), v])?;
    }
    h.push_str("</table>\n");
    Ok(())
}

/// The latency cells of a table row; `-` when no response was measured (`0ns` would
/// read as a measured latency).
fn lat_cells(l: &Latency, responses: u64) -> [String; 8] {
    if responses == 0 {
        return std::array::from_fn(|_| "-".to_string());
    }
    [
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

fn endpoint_tables(s: &Summary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Endpoints</h2>")?;
    table_head(
        h,
        &[
            "#", "Endpoint", "req/s", "Target", "Achieved", "Ended", "Failed", "Fail %",
        ],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        table_row(
            h,
            &[
                (i + 1).to_string(),
                format!("<code>{}</code>", esc(&endpoint_name(e))),
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
    h.push_str("</table>\n");
    writeln!(h, "<h2>Latency by endpoint</h2>")?;
    table_head(
        h,
        &[
            "#", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max",
        ],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let mut cells = vec![(i + 1).to_string()];
        cells.extend(lat_cells(&e.latency_us, e.requests.completed));
        table_row(h, &cells)?;
    }
    let mut cells = vec!["all".to_string()];
    cells.extend(lat_cells(&s.latency_us, s.requests.completed));
    table_row(h, &cells)?;
    if s.target_rps.is_some() {
        let mut cells = vec!["service time".to_string()];
        cells.extend(lat_cells(&s.service_us, s.requests.completed));
        table_row(h, &cells)?;
    }
    h.push_str("</table>\n");
    Ok(())
}

fn status_table(s: &Summary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Status codes</h2>")?;
    let total: u64 = s.status.values().sum::<u64>() + s.requests.failed;
    table_head(h, &["Code", "Count", "Share"])?;
    let share = |n: u64| format!("{:.1}%", n as f64 / total.max(1) as f64 * 100.0);
    for (code, n) in &s.status {
        table_row(h, &[code.to_string(), grouped(*n), share(*n)])?;
    }
    if s.requests.failed > 0 {
        table_row(
            h,
            &[
                "errors".into(),
                grouped(s.requests.failed),
                share(s.requests.failed),
            ],
        )?;
    }
    h.push_str("</table>\n");
    table_head(h, &["#", "2xx", "3xx", "4xx", "5xx", "errors"])?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let c = classes(&e.status);
        table_row(
            h,
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
    h.push_str("</table>\n");
    Ok(())
}

fn distribution_table(s: &Summary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Latency distribution</h2>")?;
    let bins = distribution(&s.histogram);
    if bins.is_empty() {
        return writeln!(h, "<p>No responses.</p>");
    }
    let max = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1);
    let total: u64 = bins.iter().map(|b| b.2).sum();
    table_head(h, &["Latency", "Count", "Share", ""])?;
    for (lo, hi, n) in bins {
        let width = (n as f64 / max as f64 * 300.0).round() as u64;
        table_row(
            h,
            &[
                format!("{} &ndash; {}", us(lo), us(hi)),
                grouped(n),
                format!("{:.1}%", n as f64 / total.max(1) as f64 * 100.0),
                format!("<span class=\"bar\" style=\"width:{width}px\"></span>"),
            ],
        )?;
    }
    h.push_str("</table>\n");
    Ok(())
}

fn config_table(s: &Summary, h: &mut String) -> std::fmt::Result {
    let c = &s.config;
    writeln!(h, "<h2>Run configuration</h2>")?;
    table_head(h, &["Setting", "Value"])?;
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
        table_row(h, &[k.to_string(), v])?;
    }
    h.push_str("</table>\n");
    table_head(
        h,
        &["#", "Method", "URL", "Rate", "Weight", "Body", "Headers"],
    )?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let headers: Vec<String> = e
            .headers
            .iter()
            .map(|(n, v)| format!("<code>{}: {}</code>", esc(n), esc(v)))
            .collect();
        table_row(
            h,
            &[
                (i + 1).to_string(),
                format!("<code>{}</code>", esc(&e.method)),
                format!("<code>{}</code>", esc(&e.url)),
                e.target_rps
                    .map_or_else(|| "closed".into(), |t| format!("{t}/s")),
                e.weight.to_string(),
                format_bytes(e.body_bytes),
                headers.join("<br>"),
            ],
        )?;
    }
    h.push_str("</table>\n");
    Ok(())
}

fn health_table(s: &Summary, h: &mut String) -> std::fmt::Result {
    let g = &s.health;
    writeln!(h, "<h2>Load generator health</h2>")?;
    table_head(h, &["Metric", "Value"])?;
    for (k, v) in [
        ("Event-loop turns", grouped(g.loop_turns)),
        ("Late sends (&gt; 1 ms)", grouped(g.late_sends)),
        ("Most lateness", us(g.lateness_max_us)),
        ("Mean lateness (all sends)", us_f(g.lateness_mean_us)),
        ("Waited for a connection", grouped(g.queued)),
        ("Total wait for a connection", us(g.queue_wait_total_us)),
        ("Longest wait", us(g.queue_wait_max_us)),
        ("CPU user", format!("{:.2}s", g.cpu_user_s)),
        ("CPU system", format!("{:.2}s", g.cpu_sys_s)),
        (
            "Busiest worker",
            format!("{:.0}%", g.busiest_worker * 100.0),
        ),
        (
            "Peak RSS",
            format_bytes(g.peak_rss_kib.saturating_mul(1024)),
        ),
        (
            "Bottleneck",
            g.bottleneck.as_deref().map_or_else(|| "none".into(), esc),
        ),
    ] {
        table_row(h, &[k.to_string(), v])?;
    }
    h.push_str("</table>\n");
    Ok(())
}

fn samples(s: &Summary, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<h2>Sample responses</h2>")?;
    if s.endpoints.iter().all(|e| e.samples.is_empty()) {
        return writeln!(h, "<p>None recorded.</p>");
    }
    for (i, e) in s.endpoints.iter().enumerate() {
        for sample in &e.samples {
            writeln!(
                h,
                "<details><summary>{}. <code>{}</code>: {} ({} bytes{})</summary>\
                 <pre>{}\n\n{}</pre></details>",
                i + 1,
                esc(&endpoint_name(e)),
                sample.status,
                sample.body.len(),
                if sample.truncated { ", truncated" } else { "" },
                esc(&super::printable(&sample.head)),
                esc(&super::printable(&sample.body))
            )?;
        }
    }
    Ok(())
}

// ---- plots

const W: f64 = 1000.0;
const H: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 45.0;

struct Series {
    label: String,
    color: &'static str,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// Ticks at 1, 2, 5 × 10^k covering `[0, hi]`, about five of them.
fn nice_ticks(hi: f64) -> (f64, Vec<f64>) {
    let hi = if hi > 0.0 && hi.is_finite() { hi } else { 1.0 };
    let raw = hi / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let top = (hi / step).ceil() * step;
    let n = (top / step).round() as usize;
    (top, (0..=n).map(|i| i as f64 * step).collect())
}

/// A tick value without float noise and with as many decimals as it needs (up to six),
/// so that ticks 0.005 apart do not all read "0.01".
fn fmt_tick(v: f64) -> String {
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// One SVG line chart. `x_log`: the x values are 1/(1-q) on a log10 axis from 1. The x
/// axis reaches at least `x_span` (the run's length on a time axis).
fn plot(
    h: &mut String,
    id: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_log: bool,
    x_span: f64,
) -> std::fmt::Result {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let x_max = xs.fold(x_span.max(0.0), f64::max);
    let y_max = ys.fold(0.0f64, f64::max);
    let (y_top, y_ticks) = nice_ticks(y_max);
    let (x_lo, x_hi, x_ticks): (f64, f64, Vec<f64>) = if x_log {
        let decades = x_max.max(10.0).log10().ceil().max(1.0);
        (
            0.0,
            decades,
            (0..=decades as usize).map(|d| d as f64).collect(),
        )
    } else {
        let (top, ticks) = nice_ticks(x_max);
        (0.0, top, ticks)
    };
    let px = |x: f64| {
        let v = if x_log { x.max(1.0).log10() } else { x };
        LEFT + (v - x_lo) / (x_hi - x_lo).max(1e-12) * (W - LEFT - RIGHT)
    };
    let py = |y: f64| H - BOTTOM - y / y_top.max(1e-12) * (H - TOP - BOTTOM);
    // The legend goes under the plot, two entries a row.
    let shown = series.iter().filter(|s| !s.points.is_empty()).count();
    let full = H + 8.0 + shown.div_ceil(2) as f64 * 18.0;
    writeln!(
        h,
        "<svg id=\"{id}\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{W}\" height=\"{full}\" viewBox=\"0 0 {W} {full}\" role=\"img\">"
    )?;
    for t in &y_ticks {
        let y = py(*t);
        writeln!(
            h,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(*t)
        )?;
    }
    for t in &x_ticks {
        let x = if x_log {
            LEFT + (t - x_lo) / (x_hi - x_lo).max(1e-12) * (W - LEFT - RIGHT)
        } else {
            px(*t)
        };
        let label = if x_log {
            percentile_label(*t)
        } else {
            fmt_tick(*t)
        };
        writeln!(
            h,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#eee\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            H - BOTTOM,
            H - BOTTOM + 16.0
        )?;
    }
    writeln!(
        h,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{b}\" stroke=\"#888\"/>\
         <line x1=\"{LEFT}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#888\"/>\
         <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text x=\"14\" y=\"{cy}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {cy})\">{}</text>",
        H - 6.0,
        esc(x_label),
        esc(y_label),
        b = H - BOTTOM,
        r = W - RIGHT,
        cx = (LEFT + W - RIGHT) / 2.0,
        cy = (TOP + H - BOTTOM) / 2.0,
    )?;
    let mut drawn = 0;
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let mut d = String::with_capacity(s.points.len() * 16);
        for (i, (x, y)) in s.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                px(*x),
                py(*y)
            );
        }
        writeln!(
            h,
            "<path class=\"series\" data-points=\"{}\" data-label=\"{}\" d=\"{d}\" fill=\"none\" \
             stroke=\"{}\" stroke-width=\"{}\"{}/>",
            s.points.len(),
            esc(&s.label),
            s.color,
            if s.dashed { 1.5 } else { 2.0 },
            if s.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            }
        )?;
        // A path of one point draws nothing: mark it (the percentile curve of a run with
        // one response).
        if let [(x, y)] = s.points.as_slice() {
            writeln!(
                h,
                "<circle class=\"marker\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"/>",
                px(*x),
                py(*y),
                s.color
            )?;
        }
        drawn += 1;
    }
    if drawn == 0 {
        writeln!(
            h,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>",
            W / 2.0,
            H / 2.0
        )?;
    }
    for (i, s) in series.iter().filter(|s| !s.points.is_empty()).enumerate() {
        let x = LEFT + (i % 2) as f64 * 440.0;
        let y = H + 14.0 + (i / 2) as f64 * 18.0;
        writeln!(
            h,
            "<line x1=\"{x}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"3\"{}/>\
             <text x=\"{}\" y=\"{y}\">{}</text>",
            x + 24.0,
            y - 4.0,
            y - 4.0,
            s.color,
            if s.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            },
            x + 30.0,
            esc(&super::text::clip(&s.label, 60))
        )?;
    }
    writeln!(h, "</svg>")
}

/// The percentile at 10^decade on a 1/(1-q) axis: 0 → "0%", 1 → "90%", 2 → "99%", ...
fn percentile_label(decade: f64) -> String {
    match decade as u32 {
        0 => "0%".into(),
        1 => "90%".into(),
        d => format!("99.{}%", "9".repeat(d as usize - 2)).replace("99.%", "99%"),
    }
}

/// Per-interval values `(start_s, length_s, y)` as the points of a line: each at the
/// middle of its interval, so a run of 3 s spans the axis to 3; a lone interval (a run
/// under a second, common with `-n`) as a flat segment over it, since a path of one
/// point draws nothing in a browser.
fn interval_points(values: &[(f64, f64, f64)]) -> Vec<(f64, f64)> {
    match values {
        [(start, len, y)] => vec![(*start, *y), (start + len.max(0.0), *y)],
        many => many
            .iter()
            .map(|(start, len, y)| (start + len.max(0.0) / 2.0, *y))
            .collect(),
    }
}

/// How far a time axis reaches: the run's length to the millisecond (a 3 s run lasts
/// 3.0002 s, which would stretch the axis to 4).
fn time_span(s: &Summary) -> f64 {
    (s.duration_s * 1000.0).round() / 1000.0
}

/// The length of timeline second `t` in a run of `duration_s` (the last one may be
/// partial).
fn second_len(t: u32, duration_s: f64) -> f64 {
    (duration_s - t as f64).clamp(0.0, 1.0)
}

fn rps_plot(s: &Summary, h: &mut String) -> std::fmt::Result {
    let mut series = Vec::new();
    for (i, e) in s.endpoints.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let name = format!("{}. {}", i + 1, endpoint_name(e));
        series.push(Series {
            label: name.clone(),
            color,
            dashed: false,
            points: interval_points(
                &e.timeline
                    .iter()
                    .map(|r| (r.t as f64, second_len(r.t, s.duration_s), r.rps))
                    .collect::<Vec<_>>(),
            ),
        });
        let targets = interval_points(
            &e.timeline
                .iter()
                .filter_map(|r| {
                    r.target_rps
                        .map(|t| (r.t as f64, second_len(r.t, s.duration_s), t))
                })
                .collect::<Vec<_>>(),
        );
        if !targets.is_empty() {
            series.push(Series {
                label: format!("{name} (target)"),
                color,
                dashed: true,
                points: targets,
            });
        }
    }
    plot(
        h,
        "plot-rps",
        "seconds",
        "req/s",
        &series,
        false,
        time_span(s),
    )
}

fn latency_plot(s: &Summary, h: &mut String) -> std::fmt::Result {
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for i in &s.intervals {
        if let Ok(hist) = decode_histogram(&i.histogram) {
            if !hist.is_empty() {
                let at = (i.start_s, i.duration_s);
                p50.push((at.0, at.1, hist.value_at_quantile(0.5) as f64 / 1000.0));
                p99.push((at.0, at.1, hist.value_at_quantile(0.99) as f64 / 1000.0));
            }
        }
    }
    let (p50, p99) = (interval_points(&p50), interval_points(&p99));
    let series = [
        Series {
            label: "p50".into(),
            color: COLORS[0],
            dashed: false,
            points: p50,
        },
        Series {
            label: "p99".into(),
            color: COLORS[1],
            dashed: false,
            points: p99,
        },
    ];
    plot(
        h,
        "plot-latency",
        "seconds",
        "latency (ms)",
        &series,
        false,
        time_span(s),
    )
}

/// The percentile curve points (1/(1-q), ms) of a histogram, q < 1.
fn curve(hist: &Histogram<u64>) -> Vec<(f64, f64)> {
    if hist.is_empty() {
        return Vec::new();
    }
    hist.iter_quantiles(5)
        .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
        .filter(|(q, _)| *q < 1.0)
        .map(|(q, v)| (1.0 / (1.0 - q), v as f64 / 1000.0))
        .collect()
}

fn percentile_plot(s: &Summary, h: &mut String) -> std::fmt::Result {
    let mut series = vec![Series {
        label: "all".into(),
        color: "#222222",
        dashed: false,
        points: curve(&s.histogram),
    }];
    if s.endpoints.len() > 1 {
        for (i, e) in s.endpoints.iter().enumerate() {
            series.push(Series {
                label: format!("{}. {}", i + 1, endpoint_name(e)),
                color: COLORS[i % COLORS.len()],
                dashed: true,
                points: curve(&e.latency_histogram),
            });
        }
    }
    plot(
        h,
        "plot-percentiles",
        "percentile",
        "latency (ms)",
        &series,
        true,
        0.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_second_values_are_placed_in_their_seconds() {
        type Case<'a> = (&'a [(f64, f64, f64)], &'a [(f64, f64)]);
        let cases: &[Case] = &[
            (&[], &[]),
            // A run under a second: one flat segment over it, not a lone invisible point.
            (&[(0.0, 0.25, 7.0)], &[(0.0, 7.0), (0.25, 7.0)]),
            // Three seconds, the last one partial: at the middle of each.
            (
                &[(0.0, 1.0, 1.0), (1.0, 1.0, 2.0), (2.0, 0.5, 3.0)],
                &[(0.5, 1.0), (1.5, 2.0), (2.25, 3.0)],
            ),
        ];
        for (values, want) in cases {
            assert_eq!(interval_points(values), *want, "{values:?}");
        }
        for (t, d, want) in [(0, 3.0, 1.0), (2, 2.5, 0.5), (3, 2.5, 0.0), (0, 0.01, 0.01)] {
            assert_eq!(second_len(t, d), want, "{t} of {d}");
        }
    }

    #[test]
    fn a_run_under_a_second_still_draws_a_line_in_every_plot() {
        use crate::stats::{RunFacts, WorkerStats};
        let mut st = WorkerStats::new(1);
        st.prepare(0, 4);
        for i in 0..100u64 {
            st.record_sent(0);
            st.record_response_at(0, 200, 1_000_000 + i * 1000, 1_000_000, i * 100_000);
        }
        st.finish_timeline(18_000_000);
        let plan = crate::plan::Plan::new(vec![crate::plan::Endpoint::get(
            crate::target::Target::parse("http://h/").unwrap(),
        )]);
        let facts = RunFacts {
            plan: &plan,
            threads: 1,
            pipelining: 1,
            duration_s: 0.018,
        };
        let mut s = Summary::new(&st, facts, None);
        super::super::finish(&mut s, false);
        assert_eq!(s.endpoints[0].timeline.len(), 1, "one (partial) second");
        let html = {
            let mut buf = Vec::new();
            write(&s, &mut buf).unwrap();
            String::from_utf8(buf).unwrap()
        };
        for id in ["plot-rps", "plot-latency", "plot-percentiles"] {
            let start = html.find(&format!("id=\"{id}\"")).unwrap();
            let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
            let path = svg.find("<path class=\"series\"").expect(id);
            let d = &svg[path..];
            let d = &d[d.find(" d=\"").unwrap()..];
            let d = &d[..d[4..].find('"').unwrap() + 4];
            assert!(
                d.contains(" L"),
                "{id}: a path of one point draws nothing: {d}"
            );
            // The x ticks (0.005 s apart on an 18 ms run) read differently.
            let labels: Vec<&str> = svg
                .split("text-anchor=\"middle\">")
                .skip(1)
                .map(|t| &t[..t.find('<').unwrap()])
                .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            let mut distinct = labels.clone();
            distinct.dedup();
            assert_eq!(distinct, labels, "{id}: tick labels repeat");
            assert!(labels.len() >= 3, "{id}: {labels:?}");
        }
        // One response: the percentile curve has one point, drawn as a marker.
        let mut one = WorkerStats::new(1);
        one.prepare(0, 4);
        one.record_sent(0);
        one.record_response_at(0, 200, 1_000_000, 1_000_000, 1_000_000);
        one.finish_timeline(2_000_000);
        let facts = RunFacts {
            plan: &plan,
            threads: 1,
            pipelining: 1,
            duration_s: 0.002,
        };
        let mut s1 = Summary::new(&one, facts, None);
        super::super::finish(&mut s1, false);
        let mut buf = Vec::new();
        write(&s1, &mut buf).unwrap();
        let html1 = String::from_utf8(buf).unwrap();
        let start = html1.find("id=\"plot-percentiles\"").unwrap();
        let svg = &html1[start..start + html1[start..].find("</svg>").unwrap()];
        assert!(
            svg.contains("data-points=\"1\"") && svg.contains("<circle class=\"marker\""),
            "{svg}"
        );
        // A time axis spans the run: 0 to 3 for three seconds (the points sit mid-second).
        let mut s3 = s.clone();
        s3.duration_s = 3.0002;
        let mut buf = Vec::new();
        write(&s3, &mut buf).unwrap();
        let html = String::from_utf8(buf).unwrap();
        let start = html.find("id=\"plot-rps\"").unwrap();
        let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
        assert!(svg.contains("text-anchor=\"middle\">3</text>"), "{svg}");
        assert!(!svg.contains("text-anchor=\"middle\">4</text>"), "{svg}");
    }

    #[test]
    fn ticks_and_labels() {
        let cases: &[(f64, f64, &[f64])] = &[
            (7.3, 8.0, &[0.0, 2.0, 4.0, 6.0, 8.0]),
            (100.0, 100.0, &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
            (0.0, 1.0, &[0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]),
            (
                f64::NAN,
                1.0,
                &[0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0],
            ),
        ];
        for (hi, top, ticks) in cases {
            let (t, got) = nice_ticks(*hi);
            assert_eq!(t, *top, "{hi}");
            assert_eq!(got, *ticks, "{hi}");
        }
        for (v, want) in [
            (0.6000000000000001, "0.6"),
            (2.0, "2"),
            (0.25, "0.25"),
            (0.005, "0.005"),
            (0.015, "0.015"),
            (0.0, "0"),
            (150000.0, "150000"),
        ] {
            assert_eq!(fmt_tick(v), want);
        }
        for (d, want) in [(0.0, "0%"), (1.0, "90%"), (2.0, "99%"), (4.0, "99.99%")] {
            assert_eq!(percentile_label(d), want);
        }
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
