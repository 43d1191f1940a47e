//! Final reports: the `Summary` as the text report, JSON, Markdown, CSV, HdrHistogram
//! `.hgrm` and `.hlog`, and a self-contained HTML page, plus the `--export DIR` files.
//! Every format writes into any `io::Write` and is pure (no clock, no environment);
//! `prepare_export_dir` and `write_exports` are the only file I/O. Never touches stats
//! while a run is going; never redacts by itself: `finish` redacts the summary once, and
//! every format prints what it is given.

pub mod csv;
#[doc(hidden)]
pub mod fixture;
pub mod hgrm;
pub mod hlog;
pub mod html;
pub mod markdown;
pub mod redact;
pub mod schema;
pub mod text;

use crate::error::Error;
use crate::plan::Plan;
use crate::stats::{EndpointSummary, Histograms, Summary};
use crate::units::format_duration;
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use text::write as write_text;

/// The run's configuration as the reports show it (headers are per endpoint, in
/// `EndpointSummary::headers`).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RunConfig {
    /// `-c`, `-t`, `-p` as asked for.
    pub connections: u64,
    pub threads: u64,
    pub pipelining: u64,
    /// Planned length of the run, seconds (`null` with `-n` alone).
    pub duration_s: Option<f64>,
    /// `-n`: requests to end (`null` when not set).
    pub requests: Option<u64>,
    pub timeout_s: f64,
    pub connect_timeout_s: f64,
    pub keepalive: bool,
    /// Default ramp-up of the rates, seconds.
    pub ramp_up_s: Option<f64>,
    pub autoscale: bool,
    pub max_connections: u64,
    /// The run-wide early-exit rule in words (`null` when none).
    pub early_exit: Option<String>,
}

impl RunConfig {
    pub fn of(plan: &Plan) -> RunConfig {
        RunConfig {
            connections: plan.connections as u64,
            threads: plan.threads as u64,
            pipelining: plan.pipelining as u64,
            duration_s: plan.duration.map(|d| d.as_secs_f64()),
            requests: plan.requests,
            timeout_s: plan.timeout.as_secs_f64(),
            connect_timeout_s: plan.connect_timeout.as_secs_f64(),
            keepalive: plan.keepalive,
            ramp_up_s: plan.ramp_up.map(|d| d.as_secs_f64()),
            autoscale: plan.autoscale,
            max_connections: plan.max_connections as u64,
            early_exit: plan.early_exit.as_ref().map(describe_early_exit),
        }
    }
}

fn describe_early_exit(e: &crate::plan::EarlyExit) -> String {
    let mut parts = Vec::new();
    if let Some(r) = e.error_rate {
        parts.push(format!("error rate over {:.1}%", r * 100.0));
    }
    if let Some(n) = e.error_count {
        parts.push(format!("{n} errors"));
    }
    if !e.status_codes.is_empty() {
        let codes: Vec<String> = e.status_codes.iter().map(u16::to_string).collect();
        parts.push(format!("status {}", codes.join(",")));
    }
    let mut text = parts.join(" or ");
    if let Some(w) = e.window {
        text.push_str(&format!(" (over the last {})", format_duration(w)));
    }
    text
}

/// Makes the summary ready to print: encodes its histograms, fills `warnings` and,
/// unless `show_secrets`,
/// redacts secret header values in the config and the sample responses.
pub fn finish(s: &mut Summary, show_secrets: bool) {
    s.histograms = Histograms::of(&s.histogram, &s.service_histogram);
    for e in &mut s.endpoints {
        e.histograms = Histograms::of(&e.latency_histogram, &e.service_histogram);
    }
    s.warnings = warnings(s);
    if !show_secrets {
        redact::summary(s);
    }
}

/// Share of the target rate an endpoint achieved, in percent (`None` in the closed
/// model). The target is the mean scheduled rate over the run: a linear ramp-up of `r`
/// seconds lowers it to `t·(1 − r/2d)` (or `t·d/2r` when the ramp outlasts the run).
pub fn achieved_pct(e: &EndpointSummary, duration_s: f64) -> Option<f64> {
    let target = expected_rps(e, duration_s)?;
    Some(if target > 0.0 {
        e.rps / target * 100.0
    } else {
        100.0
    })
}

fn expected_rps(e: &EndpointSummary, d: f64) -> Option<f64> {
    let t = e.target_rps?;
    let r = e.ramp_up_s.unwrap_or(0.0);
    Some(if r <= 0.0 || d <= 0.0 {
        t
    } else if r >= d {
        t * d / (2.0 * r)
    } else {
        t * (1.0 - r / (2.0 * d))
    })
}

/// The run's achieved rate over its rated endpoints, in percent of their mean scheduled
/// rate (`None` when no endpoint has a rate).
pub fn global_achieved_pct(s: &Summary) -> Option<f64> {
    let mut want = 0.0;
    let mut got = 0.0;
    let mut any = false;
    for e in &s.endpoints {
        if let Some(x) = expected_rps(e, s.duration_s) {
            want += x;
            got += e.rps;
            any = true;
        }
    }
    any.then(|| {
        if want > 0.0 {
            got / want * 100.0
        } else {
            100.0
        }
    })
}

/// Requests of an endpoint that failed: ended by an error, or answered 400 or above.
pub fn failures(e: &EndpointSummary) -> u64 {
    e.requests.failed + e.status.range(400..).map(|(_, n)| n).sum::<u64>()
}

/// Failures over ended requests, in percent (0 when none ended).
pub fn failure_pct(e: &EndpointSummary) -> f64 {
    let ended = e.requests.completed + e.requests.failed;
    if ended == 0 {
        0.0
    } else {
        failures(e) as f64 / ended as f64 * 100.0
    }
}

/// Below this share of the target rate, the report warns that it was unreachable.
pub const ACHIEVED_WARN_PCT: f64 = 80.0;
/// …and only when that shortfall is at least this many requests: a schedule sends whole
/// requests, so `-R 0.5 -d 3s` sends one (at 2 s) where 1.5 are "expected", and a 100 ms
/// run at 0.5/s sends none; neither is an unreachable rate.
pub const SHORTFALL_WARN_REQUESTS: f64 = 2.0;
/// Above this share of failed requests, the report warns about the endpoint.
pub const FAILURE_WARN_PCT: f64 = 10.0;

/// What the report warns about, in plain words with the figures.
pub fn warnings(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    for e in &s.endpoints {
        let mut unreachable = false;
        if let (Some(pct), Some(t), Some(want)) = (
            achieved_pct(e, s.duration_s),
            e.target_rps,
            expected_rps(e, s.duration_s),
        ) {
            let short = (want - e.rps) * s.duration_s;
            if pct < ACHIEVED_WARN_PCT && s.duration_s > 0.0 && short >= SHORTFALL_WARN_REQUESTS {
                unreachable = true;
                out.push(format!(
                    "target rate unreachable: {} achieved {:.1} of {:.1} req/s ({pct:.1}%)",
                    endpoint_name(e),
                    e.rps,
                    t
                ));
            }
        }
        // A rate too low for the run's length: nothing was due, so nothing is short,
        // but an endpoint that sent nothing should not pass unnoticed.
        if let (false, Some(rate), 0, 0) = (
            unreachable,
            e.target_rps,
            e.requests.sent,
            e.requests.unsent,
        ) {
            out.push(format!(
                "{} sent no request: at {rate} req/s none was due within the run's {:.1}s",
                endpoint_name(e),
                s.duration_s
            ));
        }
    }
    for e in &s.endpoints {
        let pct = failure_pct(e);
        if pct > FAILURE_WARN_PCT {
            let responses = failures(e) - e.requests.failed;
            out.push(format!(
                "{} failed {pct:.1}% of its requests ({} errors, {} responses >= 400)",
                endpoint_name(e),
                grouped(e.requests.failed),
                grouped(responses)
            ));
        }
    }
    if s.tls.is_some_and(|t| t.insecure) {
        out.push("server certificates were NOT verified (--insecure)".to_string());
    }
    if let Some(why) = &s.health.bottleneck {
        out.push(format!("the client was the bottleneck: {why}"));
    }
    let c = &s.connections;
    if c.established < c.requested {
        out.push(format!(
            "only {} of {} connections were established",
            grouped(c.established),
            grouped(c.requested)
        ));
    }
    out
}

/// "GET /path" (the method and the path and query of the URL).
pub fn endpoint_name(e: &EndpointSummary) -> String {
    format!("{} {}", e.method, short_url(&e.url))
}

/// Writes the summary as one pretty-printed JSON object and a newline.
pub fn write_json(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s).map_err(io::Error::other)?;
    writeln!(out)
}

/// Checks before a run that `dir` can take the export files (creating it if missing),
/// so a typo costs a clear error instead of a finished run with nowhere to go.
pub fn prepare_export_dir(dir: &Path) -> Result<(), Error> {
    let fail = |e: io::Error| Error::Setup(format!("--export {}: {e}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Setup(format!(
            "--export {}: exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".tressi-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// The export files, in the order they are written.
pub const EXPORT_FILES: [&str; 8] = [
    "summary.json",
    "report.md",
    "timeline.csv",
    "endpoints.csv",
    "latency.hgrm",
    "latency.hlog",
    "report.html",
    "report.txt",
];

/// Renders one export file by name (see `EXPORT_FILES`).
pub fn render(s: &Summary, name: &str, out: &mut dyn Write) -> io::Result<()> {
    match name {
        "summary.json" => write_json(s, out),
        "report.md" => markdown::write(s, out),
        "timeline.csv" => csv::write_timeline(s, out),
        "endpoints.csv" => csv::write_endpoints(s, out),
        "latency.hgrm" => hgrm::write(&s.histogram, out),
        "latency.hlog" => hlog::write(s, out),
        "report.html" => html::write(s, out),
        "report.txt" => text::write(s, out),
        _ => Err(io::Error::other(format!("unknown export {name}"))),
    }
}

/// Writes the export files (`EXPORT_FILES`) into `dir`, created if missing and used as
/// given. Each file is written whole under a temporary name, then renamed, so a reader
/// never sees half a file. Returns the paths written.
pub fn write_exports(s: &Summary, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let fail =
        |what: &Path, e: io::Error| Error::Setup(format!("--export {}: {e}", what.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut written = Vec::with_capacity(EXPORT_FILES.len());
    for name in EXPORT_FILES {
        let mut bytes = Vec::new();
        let path = dir.join(name);
        render(s, name, &mut bytes).map_err(|e| fail(&path, e))?;
        write_whole(&path, &bytes).map_err(|e| fail(&path, e))?;
        written.push(path);
    }
    Ok(written)
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

/// A sample's text as the Markdown and HTML reports show it: control characters, which
/// a terminal would obey when the file is `cat` (`ESC [2J`, a title change, a bell) and
/// which HTML forbids (NUL), become their visible Unicode pictures (`␛`, `␀`); C1
/// controls become `�`. Line feeds and tabs stay, and so does a CR before a line feed.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => out.push(c),
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// µs as a short duration ("1.23ms").
pub(crate) fn us(v: u64) -> String {
    format_duration(Duration::from_micros(v))
}

pub(crate) fn us_f(v: f64) -> String {
    format_duration(Duration::from_nanos((v.max(0.0) * 1000.0).round() as u64))
}

/// Thousands separators: 1234567 → "1,234,567".
pub(crate) fn grouped(n: u64) -> String {
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

pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// The path and query of a URL (the host is in the header line already when there is
/// one endpoint, and usually shared when there are several).
pub(crate) fn short_url(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}

/// Responses by status class: [2xx, 3xx, 4xx, 5xx] (1xx and others count as 2xx's
/// neighbours are rare; they are left out).
pub(crate) fn classes(status: &std::collections::BTreeMap<u16, u64>) -> [u64; 4] {
    let mut c = [0; 4];
    for (code, n) in status {
        if let Some(slot) = (*code as usize / 100)
            .checked_sub(2)
            .and_then(|i| c.get_mut(i))
        {
            *slot += n;
        }
    }
    c
}

/// The merged histogram's bins for the latency distribution chart: 1-2-5 steps from
/// the bin holding the minimum to the one holding the maximum, as (low, high, count)
/// with `low <= value < high` in µs.
pub(crate) fn distribution(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut edges = vec![0u64];
    let mut decade = 1u64;
    while decade <= crate::stats::MAX_LATENCY_US * 10 {
        for m in [1, 2, 5] {
            edges.push(decade * m);
        }
        decade *= 10;
    }
    let mut bins: Vec<(u64, u64, u64)> = edges.windows(2).map(|w| (w[0], w[1], 0)).collect();
    for v in h.iter_recorded() {
        let value = h.median_equivalent(v.value_iterated_to());
        if let Some(b) = bins.iter_mut().find(|b| value < b.1) {
            b.2 += v.count_at_value();
        }
    }
    let first = bins.iter().position(|b| b.2 > 0).unwrap_or(0);
    let last = bins.iter().rposition(|b| b.2 > 0).unwrap_or(0);
    bins[first..=last].to_vec()
}

#[cfg(test)]
mod tests;
