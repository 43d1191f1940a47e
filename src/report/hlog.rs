//! `latency.hlog`: the run's response-time histograms as an HdrHistogram interval log
//! (format version 1.3), one interval per second from `Summary::intervals`: comment
//! header, `#[StartTime: ...]`, `#[BaseTime: ...]`, the CSV column line, then
//! `start,length,max,histogram` rows (start relative to StartTime, seconds; max in ms;
//! each histogram in µs, V2 compressed, base64, exactly as carried in the summary).
//! Pure: writes into any `io::Write`.

use crate::stats::Summary;
use std::io::{self, Write};

/// Writes the interval log.
pub fn write(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "#[Logged with tressi {}: response time in µs (coordinated omission corrected), \
         Interval_Max in ms]",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "#[Histogram log format version 1.3]")?;
    if s.interrupted {
        writeln!(out, "#[Interrupted: stopped by a signal before the end]")?;
    }
    writeln!(
        out,
        "#[StartTime: {:.3} (seconds since epoch)]",
        s.start_unix_s
    )?;
    writeln!(
        out,
        "#[BaseTime: {:.3} (seconds since epoch)]",
        s.start_unix_s
    )?;
    writeln!(out, "#[MaxValueDivisor: 1000.000]")?;
    writeln!(
        out,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    for i in &s.intervals {
        writeln!(
            out,
            "{:.3},{:.3},{:.3},{}",
            i.start_s,
            i.duration_s,
            i.max_us as f64 / 1000.0,
            i.histogram
        )?;
    }
    Ok(())
}
