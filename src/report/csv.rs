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

/// A latency cell: empty when there were no responses to measure (a 0 would read as a
/// zero latency, and pull down any mean a spreadsheet takes of the column).
fn latency<T: std::fmt::Display>(v: T, measured: bool) -> String {
    if measured {
        v.to_string()
    } else {
        String::new()
    }
}

pub const TIMELINE_HEADER: &str =
    "endpoint,method,url,second,responses,errors,rps,target_rps,p50_us,p99_us,max_us";

/// One row per second per endpoint; `endpoint` is the 1-based index, `second` the start
/// of the row's second since the start of the load; `target_rps` is empty in the
/// closed model, and the latency cells in a second without responses.
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
                latency(r.p50_us, r.responses > 0),
                latency(r.p99_us, r.responses > 0),
                latency(r.max_us, r.responses > 0)
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

/// One row per endpoint (`failures` = errors plus responses >= 400); the latency cells
/// are empty for an endpoint without responses.
pub fn write_endpoints(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{ENDPOINTS_HEADER}")?;
    for (i, e) in s.endpoints.iter().enumerate() {
        let r = &e.requests;
        let l = &e.latency_us;
        let c = classes(&e.status);
        let has = !e.latency_histogram.is_empty();
        let service = !e.service_histogram.is_empty();
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
            latency(l.min, has),
            latency(l.mean, has),
            latency(l.p50, has),
            latency(l.p90, has),
            latency(l.p95, has),
            latency(l.p99, has),
            latency(l.p99_9, has),
            latency(l.max, has),
            latency(e.service_us.p50, service),
            latency(e.service_us.p99, service),
            e.bytes.read,
            e.bytes.written
        )?;
    }
    Ok(())
}
