//! `timeline.csv` (one row per second per endpoint) and `endpoints.csv` (one row per
//! endpoint): RFC 4180 CSV with a header row, times in µs, rates in req/s. Pure: writes
//! into any `io::Write`. Carries no header values, so it has nothing to redact.

use super::{achieved_pct, classes, failures};
use crate::stats::Summary;
use std::io::{self, Write};

/// A field quoted when it holds a comma, a quote or a line break.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

pub const TIMELINE_HEADER: &str =
    "endpoint,method,url,second,responses,errors,rps,target_rps,p50_us,p99_us,max_us";

/// One row per second per endpoint; `endpoint` is the 1-based index, `second` the start
/// of the row's second since the start of the load; `target_rps` is empty in the
/// closed model.
pub fn write_timeline(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{TIMELINE_HEADER}")?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let url = field(&e.url);
        for r in &e.timeline {
            writeln!(
                out,
                "{},{},{url},{},{},{},{},{},{},{},{}",
                i + 1,
                field(&e.method),
                r.t,
                r.responses,
                r.errors,
                r.rps,
                opt(r.target_rps),
                r.p50_us,
                r.p99_us,
                r.max_us
            )?;
        }
    }
    Ok(())
}

pub const ENDPOINTS_HEADER: &str = "endpoint,method,url,target_rps,rps,achieved_pct,sent,\
completed,failed,unsent,in_flight_at_stop,failures,status_2xx,status_3xx,status_4xx,\
status_5xx,latency_min_us,latency_mean_us,latency_p50_us,latency_p90_us,latency_p95_us,\
latency_p99_us,latency_p99_9_us,latency_max_us,service_p50_us,service_p99_us,bytes_read,\
bytes_written";

/// One row per endpoint (`failures` = errors plus responses >= 400).
pub fn write_endpoints(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{ENDPOINTS_HEADER}")?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let r = &e.requests;
        let l = &e.latency_us;
        let c = classes(&e.status);
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            i + 1,
            field(&e.method),
            field(&e.url),
            opt(e.target_rps),
            e.rps,
            opt(achieved_pct(e, s.duration_s).map(|p| (p * 10.0).round() / 10.0)),
            r.sent,
            r.completed,
            r.failed,
            r.unsent,
            r.in_flight_at_stop,
            failures(e),
            c[0],
            c[1],
            c[2],
            c[3],
            l.min,
            l.mean,
            l.p50,
            l.p90,
            l.p95,
            l.p99,
            l.p99_9,
            l.max,
            e.service_us.p50,
            e.service_us.p99,
            e.bytes.read,
            e.bytes.written
        )?;
    }
    Ok(())
}
