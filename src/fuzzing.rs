//! Check functions shared by the fuzz targets (`fuzz/fuzz_targets/{cli,url,config}.rs`) and by
//! `tests/fuzz_corpus.rs`, which replays the seed corpora through exactly the same code on
//! stable Rust, so every finding stays a regression test.
//!
//! Each check panics (the fuzzer's signal) when an invariant is broken and returns
//! normally otherwise. They must not touch the network; `check_cli` may read a
//! `--body-file` but refuses inputs that could name a device or pseudo-file (see below).

use crate::cli;
use crate::config;
use crate::target::{Scheme, Target};
use crate::Command;
use std::ffi::OsString;

/// Splits `data` on NUL bytes into arguments (as raw OS strings: any bytes, not only
/// UTF-8). Used by `check_cli` and by the corpus files, which are NUL-separated argv.
pub fn split_args(data: &[u8]) -> Vec<OsString> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0).map(os_string).collect()
}

#[cfg(unix)]
fn os_string(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

#[cfg(not(unix))]
fn os_string(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// True when the input could make `--body-file` read something that is not a plain file
/// (`/dev/zero` never ends, `/dev/stdin` blocks): such inputs are skipped, not checked.
fn may_read_special_file(data: &[u8]) -> bool {
    let has = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
    has(b"body-file") && [&b"dev"[..], b"proc", b"sys", b"fd"].iter().any(|n| has(n))
}

/// `cli::parse` on NUL-separated arguments: never panics; an error is one non-empty
/// line (it is printed as `tressi: <message>`); a run plan is internally consistent.
pub fn check_cli(data: &[u8]) {
    if may_read_special_file(data) {
        return;
    }
    match cli::parse(split_args(data)) {
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.trim().is_empty(), "empty error message for {data:?}");
            assert!(
                !msg.contains(['\n', '\r']),
                "error is not one line: {msg:?} (input {data:?})"
            );
        }
        Ok(Command::Run(plan)) => {
            assert!(plan.connections >= 1, "0 connections accepted: {data:?}");
            assert!(
                (1..=plan.connections).contains(&plan.threads),
                "threads {} outside 1..={} for {data:?}",
                plan.threads,
                plan.connections
            );
            assert!(plan.pipelining >= 1, "pipelining 0 accepted: {data:?}");
            assert!(
                plan.duration.is_some() || plan.requests.is_some(),
                "a run with neither duration nor request count: {data:?}"
            );
            assert!(plan.duration.is_none_or(|d| !d.is_zero()));
            assert!(plan.requests != Some(0), "-n 0 accepted: {data:?}");
            assert!(!plan.timeout.is_zero() && !plan.connect_timeout.is_zero());
            assert!(
                !plan.endpoints.is_empty(),
                "a run without endpoint: {data:?}"
            );
            for ep in &plan.endpoints {
                check_target(&ep.target);
                assert!(
                    !ep.method.is_empty() && ep.method.bytes().all(|b| b.is_ascii_graphic()),
                    "bad method {:?} accepted",
                    ep.method
                );
                for (name, value) in &ep.headers {
                    assert!(
                        !name.is_empty() && !name.contains([':', '\r', '\n', ' ']),
                        "bad header name {name:?} accepted"
                    );
                    assert!(
                        !value.contains(['\r', '\n']),
                        "header value with CR/LF accepted: {value:?}"
                    );
                }
            }
        }
        Ok(_) => {}
    }
}

/// `Target::parse` on any bytes (lossily decoded, as argv would be): never panics; on
/// `Ok`, the parts are consistent and safe to put on the wire.
pub fn check_url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Target::parse(&text) {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains(['\n', '\r']),
                "URL error is not one line: {msg:?}"
            );
        }
        Ok(t) => {
            check_target(&t);
            // Parsing what we print gives the same target back.
            let again = Target::parse(&t.url())
                .unwrap_or_else(|e| panic!("{:?} → url {:?} does not parse: {e}", text, t.url()));
            assert_eq!(again, t, "round trip through url() changed {text:?}");
        }
    }
}

/// The file name `check_config` gives `config::parse`.
pub const CONFIG_NAME: &str = "fuzz.json";

/// `config::parse("fuzz.json", text)` on any bytes (lossily decoded: the loader only
/// ever sees text): never panics; the same input gives the same result twice.
///
/// An error is one non-empty line `config fuzz.json:LINE:COL: MESSAGE` whose LINE is a
/// line of the text and COL in 1..=one past the end of that line, counted in
/// characters (also for syntax errors, whose serde_json byte columns the loader
/// converts; `tests/badinput.rs` pins it). When
/// the text is valid JSON, the error is a semantic one: COL >= 1 and the message names a
/// field path (or `(top level)`) before its second `: `, and a field's position is not
/// the start of the document (where the locator falls back when it cannot find it).
///
/// An accepted config is consistent: at least one request, each with a sound target
/// (as `check_url`), a known method, valid header names and values, a finite rate >= 0,
/// a weight in 1..=MAX_WEIGHT, non-zero timeouts; options in their documented ranges.
pub fn check_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let result = config::parse(CONFIG_NAME, &text);
    assert_eq!(
        result,
        config::parse(CONFIG_NAME, &text),
        "two parses differ"
    );
    let valid_json = serde_json::from_str::<serde_json::Value>(&text).is_ok();
    match result {
        Err(e) => check_config_error(&e.to_string(), &text, valid_json),
        Ok(c) => {
            assert!(valid_json, "invalid JSON accepted: {text:?}");
            assert!(!c.requests.is_empty(), "a config without requests");
            for r in &c.requests {
                let ep = &r.endpoint;
                check_target(&ep.target);
                assert!(
                    config::METHODS.contains(&ep.method.as_str()),
                    "method {:?} accepted",
                    ep.method
                );
                for (name, value) in &ep.headers {
                    assert!(
                        !name.is_empty()
                            && name
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric()
                                    || b"!#$%&'*+-.^_`|~".contains(&b)),
                        "bad header name {name:?} accepted"
                    );
                    assert!(
                        !value.chars().any(|c| c.is_control() && c != '\t'),
                        "control character in header value {value:?} accepted"
                    );
                }
                if let Some(rps) = r.rps {
                    assert!(rps.is_finite() && rps >= 0.0, "rps {rps} accepted");
                }
                assert!(ep.rate.is_none(), "the loader sets no rate itself");
                assert!(
                    (1..=config::MAX_WEIGHT).contains(&u64::from(ep.weight)),
                    "weight {} accepted",
                    ep.weight
                );
                assert!(
                    ep.timeout.is_none_or(|d| !d.is_zero()),
                    "timeout 0 accepted"
                );
                assert!(ep.ramp_up.is_none_or(|d| !d.is_zero()));
                if let Some(rule) = &ep.early_exit {
                    check_rule(rule);
                }
            }
            let o = &c.options;
            assert!(
                o.duration.is_none_or(|d| !d.is_zero()),
                "durationSec 0 accepted"
            );
            assert!(o.ramp_up.is_none_or(|d| !d.is_zero()));
            assert!(o.threads.is_none_or(|n| (1..=1024).contains(&n)));
            assert!(o.pipelining.is_none_or(|n| (1..=1024).contains(&n)));
            assert!(o.connections.is_none_or(|n| (1..=1_000_000).contains(&n)));
            if let Some(rule) = &o.early_exit {
                check_rule(rule);
            }
        }
    }
}

fn check_rule(rule: &crate::plan::EarlyExit) {
    assert!(
        rule.error_rate.is_some() || rule.error_count.is_some() || !rule.status_codes.is_empty(),
        "an enabled rule with no threshold: {rule:?}"
    );
    assert!(rule.error_rate.is_none_or(|x| x > 0.0 && x <= 1.0));
    assert!(rule.error_count != Some(0));
    assert!(rule.status_codes.iter().all(|c| (100..=599).contains(c)));
    assert!(
        rule.window.is_none_or(|d| !d.is_zero()),
        "window 0 accepted"
    );
}

/// See `check_config`: the shape and position of one config error.
fn check_config_error(msg: &str, text: &str, valid_json: bool) {
    assert!(
        !msg.trim().is_empty() && !msg.contains(['\n', '\r']),
        "error is not one non-empty line: {msg:?} (input {text:?})"
    );
    let prefix = format!("config {CONFIG_NAME}:");
    let rest = msg
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("error does not start with {prefix:?}: {msg:?}"));
    let mut parts = rest.splitn(3, ':');
    let num = |s: Option<&str>| -> usize {
        s.and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no LINE:COL in {msg:?}"))
    };
    let (line, col) = (num(parts.next()), num(parts.next()));
    let tail = parts.next().unwrap_or_default();
    assert!(
        tail.starts_with(' ') && tail.len() > 1,
        "no message after LINE:COL in {msg:?}"
    );
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        (1..=lines.len()).contains(&line),
        "line {line} outside 1..={} in {msg:?}",
        lines.len()
    );
    let this = lines[line - 1];
    let len = this.chars().count();
    assert!(
        (1..=len + 1).contains(&col),
        "column {col} outside 1..={} of line {line} in {msg:?} (input {text:?})",
        len + 1
    );
    if valid_json {
        let path = tail[1..].split(": ").next().unwrap_or_default();
        assert!(
            tail[1..].contains(": ") && !path.is_empty(),
            "no field path in {msg:?}"
        );
        // A field inside the document is never at the very start of the text (that is
        // where the locator falls back to when it cannot find the field).
        let first = text.len() - text.trim_start_matches([' ', '\t', '\r', '\n']).len();
        if path != "(top level)" {
            assert!(
                (line, col) != config::line_col(text, first),
                "field {path} not located (points at the start) in {msg:?} (input {text:?})"
            );
        }
    }
}

/// Invariants of a parsed target: what goes into the request line and `Host`.
fn check_target(t: &Target) {
    let p = &t.path_and_query;
    assert!(p.starts_with('/'), "path {p:?} does not start with '/'");
    assert!(!p.contains('#'), "fragment kept in path {p:?}");
    assert!(
        p.bytes().all(|b| b.is_ascii_graphic()),
        "whitespace, control or non-ASCII byte in path {p:?}"
    );
    assert!(t.port >= 1, "port 0 accepted");
    assert!(!t.host.is_empty(), "empty host accepted");
    let a = &t.authority;
    assert!(
        !a.is_empty() && a.bytes().all(|b| b.is_ascii_graphic()),
        "bad authority {a:?}"
    );
    assert!(
        !a.contains(['/', '?', '#', '@']),
        "authority {a:?} has a delimiter"
    );
    let default = t.port
        == match t.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
    let host_part = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    let expected = if default {
        host_part
    } else {
        format!("{host_part}:{}", t.port)
    };
    assert_eq!(a, &expected, "authority does not match host and port");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args_on_nul() {
        assert!(split_args(b"").is_empty());
        assert_eq!(split_args(b"a\0b"), vec![OsString::from("a"), "b".into()]);
        assert_eq!(split_args(b"a\0"), vec![OsString::from("a"), "".into()]);
    }

    #[test]
    fn checks_accept_ordinary_inputs() {
        check_cli(b"http://127.0.0.1:8080/x?y=1\0-c\x0010\0-n\x00100");
        check_cli(b"--bogus");
        check_cli(b"target\0--listen\0:0");
        check_url(b"http://[::1]:8080/a#frag");
        check_url(b"localhost");
        check_url(b"ftp://x/");
        check_config(br#"{"requests": [{"url": "http://h/", "rps": 5}]}"#);
        check_config(br#"{"requests": [{"url": "http://h/", "rps": -5}]}"#);
        check_config(b"");
        check_config(b"{\n");
        check_config(b"\xff{}");
        check_config(b"[]");
    }

    #[test]
    fn special_files_are_skipped() {
        assert!(may_read_special_file(b"x\0--body-file\0/dev/zero"));
        assert!(!may_read_special_file(b"x\0-b\0/dev/zero"));
    }
}
