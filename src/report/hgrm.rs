//! `latency.hgrm` and `--latency`: a histogram's percentile spectrum in the layout of
//! HdrHistogram's `outputPercentileDistribution` (what wrk2 prints and what HdrHistogram's
//! plotter reads): `Value Percentile TotalCount 1/(1-Percentile)` rows, five ticks per
//! half distance, then the `#[Mean ...]`, `#[Max ...]`, `#[Buckets ...]` footer.
//! Values are in milliseconds with three decimals (the histograms hold µs), as wrk2's.
//! Pure: writes into any `io::Write`.

use hdrhistogram::Histogram;
use std::io::{self, Write};

/// Histogram units (µs) per printed unit (ms).
pub const SCALE: f64 = 1000.0;

/// Writes the percentile spectrum of `h` (µs) in ms.
pub fn write(h: &Histogram<u64>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / SCALE;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    out,
                    "{value:>12.3} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{value:>12.3} {q:>2.12} {total:>10}")?;
            }
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / SCALE, h.stdev() / SCALE, h.max() as f64 / SCALE)
    };
    writeln!(
        out,
        "#[Mean    = {mean:>12.3}, StdDeviation   = {stdev:>12.3}]"
    )?;
    writeln!(
        out,
        "#[Max     = {max:>12.3}, Total count    = {:>12}]",
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets(h)
    )
}

/// Sub-buckets per bucket: 2^ceil(log2(2·10^sigfig)), as HdrHistogram computes it.
fn sub_buckets(h: &Histogram<u64>) -> u64 {
    let largest = 2 * 10u64.pow(u32::from(h.sigfig()));
    largest.next_power_of_two()
}
