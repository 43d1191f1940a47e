//! Human units: parse durations ("10s", "1m30s", "500ms", "350us"), counts ("5k", "2M")
//! and sizes ("4096", "4KiB", "4k"), and format durations, byte counts and rates for
//! reports.
//!
//! Pure string <-> number conversion: no I/O, no clock, no panics on any input. Errors
//! are plain `String`s that quote the bad value; callers (`cli`, `config`) add the flag
//! or field name.
//!
//! Choices:
//! - A duration is one or more `<number><unit>` parts (`1m30s`, `1h2m3.5s`); units are
//!   `h`, `m`, `s`, `ms`, `us`/`µs`, `ns`. A bare number (`10`, `0.5`) means seconds.
//!   Decimals are allowed in each part (`1.5s`). Durations above ~584 years (u64
//!   nanoseconds) are rejected as overflow; sub-nanosecond fractions are truncated.
//! - A count is a whole number with an optional `k`/`K` (10^3), `m`/`M` (10^6) or
//!   `g`/`G` (10^9) suffix; `_` may separate digits (`1_000`); a decimal is allowed
//!   only if the result is whole (`1.5k` = 1500, `1.5` is rejected).
//! - A size is a whole number of bytes with an optional unit, case-insensitive:
//!   `B`; `k`/`KB`, `M`/`MB`, `G`/`GB` are 1000-based; `Ki`/`KiB`, `Mi`/`MiB`,
//!   `Gi`/`GiB` are 1024-based. So `4k` = 4000 and `4KiB` = 4096.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A decimal number split into its integer digits and fraction digits.
struct Decimal<'a> {
    int: &'a str,
    frac: &'a str,
}

/// Splits `s` into a leading decimal number (`12`, `1.5`, `.5`, `3.`) and the rest.
/// Underscores between digits are allowed when `underscores` is set.
fn split_number(s: &str, underscores: bool) -> Option<(Decimal<'_>, &str)> {
    let bytes = s.as_bytes();
    let is_digit = |b: u8| b.is_ascii_digit() || (underscores && b == b'_');
    let mut i = 0;
    while i < bytes.len() && is_digit(bytes[i]) {
        i += 1;
    }
    let int = &s[..i];
    let mut frac = "";
    let mut end = i;
    if i < bytes.len() && bytes[i] == b'.' {
        let start = i + 1;
        let mut j = start;
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        frac = &s[start..j];
        end = j;
    }
    let has_digit = int.bytes().any(|b| b.is_ascii_digit()) || !frac.is_empty();
    if !has_digit || int.starts_with('_') || int.ends_with('_') || int.contains("__") {
        return None;
    }
    Some((Decimal { int, frac }, &s[end..]))
}

/// `number * mult` exactly, as (whole part, whether a fraction was cut off).
/// `None` on overflow of u128.
fn scale(d: &Decimal<'_>, mult: u128) -> Option<(u128, bool)> {
    let mut int: u128 = 0;
    for b in d.int.bytes().filter(|b| b.is_ascii_digit()) {
        int = int.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    let mut whole = int.checked_mul(mult)?;
    // Fraction: only the first 30 digits matter for any multiplier we use (<= 3.6e12).
    let frac = d.frac.get(..d.frac.len().min(30)).unwrap_or("");
    let mut f: u128 = 0;
    let mut den: u128 = 1;
    for b in frac.bytes() {
        f = f * 10 + u128::from(b - b'0');
        den *= 10;
    }
    let cut_digits = d.frac.len() > 30 && d.frac[30..].bytes().any(|b| b != b'0');
    let part = f.checked_mul(mult)?;
    whole = whole.checked_add(part / den)?;
    Some((whole, cut_digits || part % den != 0))
}

/// Parses a duration: `10` (seconds), `10s`, `1m30s`, `500ms`, `350us`, `350µs`, `2h`,
/// `1.5s`, `0.5`. Zero is accepted here (callers decide whether it is allowed).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration '{s}': {why}");
    let text = s.trim();
    if text.is_empty() {
        return Err(bad("empty (expected e.g. 10s, 1m30s, 500ms)"));
    }
    if text.starts_with('-') {
        return Err(bad("must not be negative"));
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    let mut total: u128 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let Some((num, after)) = split_number(rest, false) else {
            return Err(bad("expected a number with a unit, e.g. 10s, 1m30s, 500ms"));
        };
        let unit_len = after
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphabetic() || c == 'µ' || c == 'μ'))
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        let mult: u128 = match unit {
            "" if parts == 0 && next.is_empty() => NANOS_PER_SEC,
            "" => return Err(bad("each number needs a unit (h, m, s, ms, us, ns)")),
            "h" => 3600 * NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "s" => NANOS_PER_SEC,
            "ms" => 1_000_000,
            "us" | "µs" | "μs" => 1_000,
            "ns" => 1,
            other => {
                return Err(bad(&format!(
                    "unknown unit '{other}' (use h, m, s, ms, us, ns)"
                )))
            }
        };
        let Some((ns, _cut)) = scale(&num, mult) else {
            return Err(bad("too large"));
        };
        total = total.checked_add(ns).ok_or_else(|| bad("too large"))?;
        parts += 1;
        rest = next;
    }
    let ns = u64::try_from(total).map_err(|_| bad("too large"))?;
    Ok(Duration::from_nanos(ns))
}

/// Parses a count: `100000`, `1_000`, `5k`, `2M`, `1G`, `1.5k`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid count '{s}': {why}");
    let text = s.trim();
    if text.is_empty() {
        return Err(bad("empty (expected e.g. 100, 5k, 2M)"));
    }
    if text.starts_with('-') {
        return Err(bad("must not be negative"));
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let Some((num, unit)) = split_number(text, true) else {
        return Err(bad("expected a whole number, e.g. 100, 5k, 2M"));
    };
    let mult: u128 = match unit {
        "" => 1,
        "k" | "K" => 1_000,
        "m" | "M" => 1_000_000,
        "g" | "G" => 1_000_000_000,
        other => return Err(bad(&format!("unknown suffix '{other}' (use k, M or G)"))),
    };
    let (n, cut) = scale(&num, mult).ok_or_else(|| bad("too large"))?;
    if cut {
        return Err(bad("not a whole number"));
    }
    u64::try_from(n).map_err(|_| bad("too large"))
}

/// Parses a size in bytes: `4096`, `4k` (4000), `4KB` (4000), `4KiB` (4096), `1.5MiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("invalid size '{s}': {why}");
    let text = s.trim();
    if text.is_empty() {
        return Err(bad("empty (expected e.g. 4096, 4KiB, 1MB)"));
    }
    if text.starts_with('-') {
        return Err(bad("must not be negative"));
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    let Some((num, unit)) = split_number(text, true) else {
        return Err(bad("expected a number of bytes, e.g. 4096, 4KiB, 1MB"));
    };
    let unit = unit.trim_start().to_ascii_lowercase();
    let mult: u128 =
        match unit.as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "ki" | "kib" => 1 << 10,
            "mi" | "mib" => 1 << 20,
            "gi" | "gib" => 1 << 30,
            _ => return Err(bad(
                "unknown unit (use B, k/KB, M/MB, G/GB for 1000-based, KiB/MiB/GiB for 1024-based)",
            )),
        };
    let (n, cut) = scale(&num, mult).ok_or_else(|| bad("too large"))?;
    if cut {
        return Err(bad("not a whole number of bytes"));
    }
    u64::try_from(n).map_err(|_| bad("too large"))
}

/// Three significant digits: `1.23`, `45.6`, `123`.
fn sig3(v: f64) -> String {
    if v < 9.995 {
        format!("{v:.2}")
    } else if v < 99.95 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Formats a duration for humans: `850ns`, `45.6µs`, `1.23ms`, `10.00s`.
/// Below one second: three significant digits in the largest unit that keeps the value
/// under 1000; from one second on: seconds with two decimals (`90.00s`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let us = ns as f64 / 1e3;
    if us < 999.5 {
        return format!("{}µs", sig3(us));
    }
    let ms = ns as f64 / 1e6;
    if ms < 999.5 {
        return format!("{}ms", sig3(ms));
    }
    format!("{:.2}s", d.as_secs_f64())
}

/// Formats a byte count with 1024-based units: `512B`, `1.50KiB`, `1.21MiB`, `3.00GiB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1023.995 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2}{}", UNITS[unit])
}

/// Formats a count or rate with 1000-based suffixes: `523`, `12.5`, `12.3k`, `4.56M`.
/// Below 1000 a whole value is printed as an integer, otherwise with three significant
/// digits. Non-finite values print as Rust formats them (`NaN`, `inf`).
pub fn format_count(n: f64) -> String {
    if !n.is_finite() {
        return format!("{n}");
    }
    if n < 0.0 {
        return format!("-{}", format_count(-n));
    }
    if n < 999.5 {
        if n.fract() == 0.0 {
            return format!("{n:.0}");
        }
        return sig3(n);
    }
    const UNITS: [&str; 5] = ["k", "M", "G", "T", "P"];
    let mut v = n / 1000.0;
    let mut unit = 0;
    while v >= 999.5 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    format!("{}{}", sig3(v), UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_good() {
        let cases: &[(&str, Duration)] = &[
            ("10", Duration::from_secs(10)),
            ("0", Duration::ZERO),
            ("10s", Duration::from_secs(10)),
            ("1m30s", Duration::from_secs(90)),
            ("1m", Duration::from_secs(60)),
            ("2h", Duration::from_secs(7200)),
            ("1h2m3s", Duration::from_secs(3723)),
            ("500ms", ms(500)),
            ("350us", Duration::from_micros(350)),
            ("350µs", Duration::from_micros(350)),
            ("350μs", Duration::from_micros(350)),
            ("25ns", Duration::from_nanos(25)),
            ("1.5s", ms(1500)),
            ("0.5", ms(500)),
            (".5s", ms(500)),
            ("3.", Duration::from_secs(3)),
            ("1.5m", Duration::from_secs(90)),
            ("1s500ms", ms(1500)),
            ("0.0000000001s", Duration::ZERO),
            (" 10s ", Duration::from_secs(10)),
            ("+10s", Duration::from_secs(10)),
            ("18446744073s", Duration::from_secs(18_446_744_073)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_duration(input), Ok(*want), "input {input:?}");
        }
    }

    #[test]
    fn durations_bad() {
        let cases: &[(&str, &str)] = &[
            (
                "",
                "invalid duration '': empty (expected e.g. 10s, 1m30s, 500ms)",
            ),
            ("-1s", "invalid duration '-1s': must not be negative"),
            (
                "abc",
                "invalid duration 'abc': expected a number with a unit, e.g. 10s, 1m30s, 500ms",
            ),
            (
                "10x",
                "invalid duration '10x': unknown unit 'x' (use h, m, s, ms, us, ns)",
            ),
            (
                "10sec",
                "invalid duration '10sec': unknown unit 'sec' (use h, m, s, ms, us, ns)",
            ),
            (
                "1m30",
                "invalid duration '1m30': each number needs a unit (h, m, s, ms, us, ns)",
            ),
            (
                "1 s",
                "invalid duration '1 s': each number needs a unit (h, m, s, ms, us, ns)",
            ),
            (
                "s",
                "invalid duration 's': expected a number with a unit, e.g. 10s, 1m30s, 500ms",
            ),
            (
                ".s",
                "invalid duration '.s': expected a number with a unit, e.g. 10s, 1m30s, 500ms",
            ),
            (
                "99999999999999999999999h",
                "invalid duration '99999999999999999999999h': too large",
            ),
            ("18446744074s", "invalid duration '18446744074s': too large"),
            (
                "1e3s",
                "invalid duration '1e3s': unknown unit 'e' (use h, m, s, ms, us, ns)",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_duration(input),
                Err(want.to_string()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn durations_never_panic() {
        for s in [
            "µ", "1µ", "1.2.3s", "..", "1__0s", "+", "+-1", "1s1", "\u{0}", "1.s",
        ] {
            let _ = parse_duration(s);
        }
        let long = "9".repeat(500) + "." + &"9".repeat(500) + "ns";
        assert!(parse_duration(&long).is_err());
        let long_frac = "0.".to_string() + &"0".repeat(400) + "1s";
        assert_eq!(parse_duration(&long_frac), Ok(Duration::ZERO));
    }

    #[test]
    fn counts() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("100000", 100_000),
            ("1_000", 1000),
            ("5k", 5000),
            ("5K", 5000),
            ("2M", 2_000_000),
            ("2m", 2_000_000),
            ("1G", 1_000_000_000),
            ("1.5k", 1500),
            ("18446744073709551615", u64::MAX),
        ];
        for (input, want) in good {
            assert_eq!(parse_count(input), Ok(*want), "input {input:?}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "invalid count '': empty (expected e.g. 100, 5k, 2M)"),
            ("-5", "invalid count '-5': must not be negative"),
            (
                "abc",
                "invalid count 'abc': expected a whole number, e.g. 100, 5k, 2M",
            ),
            ("1.5", "invalid count '1.5': not a whole number"),
            ("1.0005k", "invalid count '1.0005k': not a whole number"),
            (
                "5x",
                "invalid count '5x': unknown suffix 'x' (use k, M or G)",
            ),
            (
                "5 k",
                "invalid count '5 k': unknown suffix ' k' (use k, M or G)",
            ),
            (
                "_1",
                "invalid count '_1': expected a whole number, e.g. 100, 5k, 2M",
            ),
            (
                "18446744073709551616",
                "invalid count '18446744073709551616': too large",
            ),
            ("99999999999G", "invalid count '99999999999G': too large"),
        ];
        for (input, want) in bad {
            assert_eq!(parse_count(input), Err(want.to_string()), "input {input:?}");
        }
    }

    #[test]
    fn sizes() {
        let good: &[(&str, u64)] = &[
            ("0", 0),
            ("4096", 4096),
            ("13B", 13),
            ("4k", 4000),
            ("4KB", 4000),
            ("4kb", 4000),
            ("4KiB", 4096),
            ("4kib", 4096),
            ("4Ki", 4096),
            ("1MiB", 1 << 20),
            ("1MB", 1_000_000),
            ("1M", 1_000_000),
            ("2GiB", 2 << 30),
            ("1.5KiB", 1536),
            ("1 KiB", 1024),
        ];
        for (input, want) in good {
            assert_eq!(parse_size(input), Ok(*want), "input {input:?}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "invalid size '': empty (expected e.g. 4096, 4KiB, 1MB)"),
            ("-1", "invalid size '-1': must not be negative"),
            ("KiB", "invalid size 'KiB': expected a number of bytes, e.g. 4096, 4KiB, 1MB"),
            ("1.5", "invalid size '1.5': not a whole number of bytes"),
            (
                "4XB",
                "invalid size '4XB': unknown unit (use B, k/KB, M/MB, G/GB for 1000-based, KiB/MiB/GiB for 1024-based)",
            ),
            ("99999999999999GiB", "invalid size '99999999999999GiB': too large"),
        ];
        for (input, want) in bad {
            assert_eq!(parse_size(input), Err(want.to_string()), "input {input:?}");
        }
    }

    #[test]
    fn format_durations() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0ns"),
            (Duration::from_nanos(850), "850ns"),
            (Duration::from_nanos(1_000), "1.00µs"),
            (Duration::from_nanos(45_600), "45.6µs"),
            (Duration::from_nanos(123_400), "123µs"),
            (Duration::from_nanos(999_400), "999µs"),
            (Duration::from_nanos(999_600), "1.00ms"),
            (Duration::from_nanos(1_234_000), "1.23ms"),
            (Duration::from_nanos(9_996_000), "10.0ms"),
            (ms(250), "250ms"),
            (Duration::from_nanos(999_600_000), "1.00s"),
            (Duration::from_secs(10), "10.00s"),
            (Duration::from_secs(90), "90.00s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn format_bytes_cases() {
        let cases: &[(u64, &str)] = &[
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1.00KiB"),
            (1536, "1.50KiB"),
            (1_268_777, "1.21MiB"),
            (1_048_575, "1.00MiB"),
            (3 << 30, "3.00GiB"),
            (u64::MAX, "16.00EiB"),
        ];
        for (n, want) in cases {
            assert_eq!(format_bytes(*n), *want, "{n}");
        }
    }

    #[test]
    fn format_count_cases() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (5.0, "5"),
            (523.0, "523"),
            (12.54, "12.5"),
            (1.234, "1.23"),
            (999.4, "999"),
            (999.6, "1.00k"),
            (12_345.0, "12.3k"),
            (4_560_000.0, "4.56M"),
            (999_600.0, "1.00M"),
            (-12_345.0, "-12.3k"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
        ];
        for (n, want) in cases {
            assert_eq!(format_count(*n), *want, "{n}");
        }
    }
}
