//! Bad input never panics (issue 5): a table of bad command lines, each run through the
//! real binary. Every one must print exactly one line on stderr, starting with
//! `tressi: ` and naming the problem (a word from the table must appear in it), exit
//! with code 2, print nothing on stdout, and not panic.
//!
//! The URLs point at 127.0.0.1:9 (discard; nothing listens there in the test
//! environment) so that a line that were wrongly accepted would fail fast with its own
//! "cannot connect" set-up error rather than run a load test; that error would not name
//! the expected problem, so the case still fails.

mod common;

use common::*;
use std::time::Duration;

const U: &str = "http://127.0.0.1:9/";

/// (arguments, a word the error must contain (case-insensitive)).
fn cases(missing: &str, dir: &str) -> Vec<(Vec<String>, &'static str)> {
    let v =
        |args: &[&str], word: &'static str| (args.iter().map(|s| s.to_string()).collect(), word);
    vec![
        // Unknown flags and stray arguments.
        v(&["--bogus", U], "--bogus"),
        v(&[U, "-x"], "-x"),
        v(&[U, "--connection", "5"], "--connection"),
        v(&[U, "--JSON"], "--JSON"),
        v(&["demo", "--bogus"], "--bogus"),
        v(&["demo", "extra"], "extra"),
        v(&["target", "--bogus"], "--bogus"),
        v(&["target", "stray"], "stray"),
        v(&[U, "--json=yes"], "--json"),
        v(&[U, "--no-keepalive=1"], "--no-keepalive"),
        // Missing values.
        v(&[U, "-c"], "--connections"),
        v(&[U, "-d"], "--duration"),
        v(&[U, "-n"], "--requests"),
        v(&[U, "-H"], "--header"),
        v(&[U, "-m"], "--method"),
        v(&[U, "--timeout"], "--timeout"),
        v(&[U, "--body-file"], "--body-file"),
        v(&["target", "--listen"], "--listen"),
        // Bad numbers and units.
        v(&[U, "-c", "ten"], "--connections"),
        v(&[U, "-c", "1.5"], "--connections"),
        v(&[U, "-c", "-3"], "--connections"),
        v(&[U, "-c", ""], "--connections"),
        v(&[U, "-c", "99999999999999999999999"], "--connections"),
        v(&[U, "-n", "1x"], "--requests"),
        v(&[U, "-n", "-1"], "--requests"),
        v(&[U, "-t", "many"], "--threads"),
        v(&[U, "-p", "deep"], "--pipelining"),
        v(&[U, "-d", "10y"], "--duration"),
        v(&[U, "-d", "ten"], "--duration"),
        v(&[U, "-d", "-5s"], "--duration"),
        v(&[U, "-d", "1m-30s"], "--duration"),
        v(&[U, "--timeout", "fast"], "--timeout"),
        v(&[U, "--connect-timeout", "5 s"], "--connect-timeout"),
        v(&["target", "--body-size", "big"], "--body-size"),
        v(&["target", "--body-size", "2GiB"], "--body-size"),
        v(&["target", "--threads", "0"], "--threads"),
        v(&["target", "--listen", "nowhere"], "--listen"),
        v(&["target", "--listen", "127.0.0.1:99999"], "--listen"),
        // Zero where it makes no sense; out of range.
        v(&[U, "-c", "0"], "--connections"),
        v(&[U, "-t", "0"], "--threads"),
        v(&[U, "-n", "0"], "--requests"),
        v(&[U, "-p", "0"], "--pipelining"),
        v(&[U, "-d", "0"], "--duration"),
        v(&[U, "-d", "0s"], "--duration"),
        v(&[U, "--timeout", "0ms"], "--timeout"),
        v(&[U, "--connect-timeout", "0"], "--connect-timeout"),
        v(&[U, "-c", "2", "-t", "4"], "--threads"),
        // Bad methods and headers.
        v(&[U, "-m", "GE T"], "method"),
        v(&[U, "-m", ""], "method"),
        v(&[U, "-H", "NoColon"], "header"),
        v(&[U, "-H", ": empty name"], "header"),
        v(&[U, "-H", "Bad Name: x"], "header"),
        v(&[U, "-H", "X: a\r\nInjected: b"], "header"),
        // Bad URLs.
        v(&[], "URL"),
        v(&[""], "URL"),
        v(&["ftp://127.0.0.1/"], "scheme"),
        v(&["gopher://127.0.0.1/"], "scheme"),
        v(&["://127.0.0.1/"], "scheme"),
        v(&["http://"], "host"),
        v(&["http:///path"], "host"),
        v(&["http://:8080/"], "host"),
        v(&["http://127.0.0.1:/"], "port"),
        v(&["http://127.0.0.1:0/"], "port"),
        v(&["http://127.0.0.1:65536/"], "port"),
        v(&["http://127.0.0.1:80x/"], "port"),
        v(&["http://[::1/"], "]"),
        v(&["http://[nonsense]/"], "IPv6"),
        v(&["http://::1/"], "IPv6"),
        v(&["http://user:pw@127.0.0.1/"], "credentials"),
        v(&["http://127.0.0.1/a b"], "space"),
        v(&["http://127.0.0.1/\u{e9}"], "non-ASCII"),
        v(&["http://300.1.1.1/"], "IPv4"),
        v(&["http://ho$t/"], "host"),
        v(&["http:/127.0.0.1/"], "http://"),
        v(&["https://127.0.0.1:9/"], "https"),
        v(&[U, "http://127.0.0.1:9/other"], "URL"),
        v(&[U, U], "URL"),
        // Files: missing, a directory.
        v(&[U, "--body-file", missing], "--body-file"),
        v(&[U, "--body-file", dir], "--body-file"),
        // Config-file cases (malformed JSON, wrong types, unknown fields, unwritable export
        // directory) go here once the config loader lands (issue 3).
    ]
}

#[test]
fn bad_command_lines_give_one_line_and_exit_2() {
    let tmp = std::env::temp_dir().join(format!("tressi-badinput-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let missing = tmp.join("no-such-file");
    let table = cases(missing.to_str().unwrap(), tmp.to_str().unwrap());
    assert!(table.len() >= 50, "only {} cases", table.len());
    let mut failures = Vec::new();
    for (args, word) in &table {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tressi(&a, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        let problems = [
            (
                out.status.code() != Some(2),
                format!("exit {:?}", out.status.code()),
            ),
            (err.contains("panicked"), "panicked".to_string()),
            (!err.starts_with("tressi: "), "no 'tressi: ' prefix".into()),
            (
                err.lines().count() != 1 || !err.ends_with('\n'),
                "not exactly one line".into(),
            ),
            (
                !err.to_lowercase().contains(&word.to_lowercase()),
                format!("does not name {word:?}"),
            ),
            (!out.stdout.is_empty(), "wrote to stdout".into()),
        ];
        for (bad, what) in problems {
            if bad {
                failures.push(format!("{a:?}: {what}; stderr {err:?}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Found by the `cli` fuzz target: error messages echoed the offending argument raw, so
/// a CR or LF in it broke the one-line rule (`tressi: unknown option '--a` / `b'`). The
/// error type now escapes control characters; the same inputs are in `fuzz/corpus/cli/`.
#[test]
fn control_characters_in_arguments_stay_on_one_line() {
    let cases: [&[&str]; 6] = [
        &["--a\nb", U],
        &["target", "a\nb"],
        &[U, "http://x/\r"],
        &[U, "-c", "1\n2"],
        &[U, "-d", "1\ns"],
        &[U, "--header-x\r\nInjected: 1"],
    ];
    for a in cases {
        let out = tressi(a, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        assert!(!err.contains('\r'), "{a:?}: {err:?}");
        assert_eq!(err.lines().count(), 1, "{a:?}: {err:?}");
    }
}
