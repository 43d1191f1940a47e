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
    let mut out = vec![
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
        v(&[U, "--cacert"], "--cacert"),
        v(&[U, "--cert"], "--cert"),
        v(&[U, "--key"], "--key"),
        v(&[U, "--sni"], "--sni"),
        v(&[U, "--insecure=1"], "--insecure"),
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
        // Rates on the command line.
        v(&[U, "-R", "-5"], "--rps"),
        v(&[U, "-R", "0"], "--rps"),
        v(&[U, "-R", "nan"], "--rps"),
        v(&[U, "--rate", "fast"], "--rps"),
        // Config files that are not there or not files.
        v(&["--config", missing], "cannot read"),
        v(&["run", missing], "no-such-file"),
        v(&["--config", dir], "directory"),
        v(&["run", dir], "directory"),
        v(&["--config", ""], "cannot read"),
        v(&["run"], "config FILE"),
        v(&["--config"], "--config"),
        // An export directory that cannot be created: under a regular file, or a file.
        v(&[U, "--export", &format!("{dir}/regular/sub")], "--export"),
        v(&[U, "--export", &format!("{dir}/regular")], "--export"),
    ];
    // Bad config files (written by the test into `dir`): each error names
    // FILE:LINE:COL and, past the syntax, the field.
    for (name, _, word) in CONFIGS {
        let path = format!("{dir}/{name}");
        out.push(v(&["--config", &path, "--no-ui"], word));
    }
    out.push(v(
        &["run", &format!("{dir}/neg-rps.json")],
        "neg-rps.json:5:13: requests[1].rps",
    ));
    out.push(v(
        &["--config", &format!("{dir}/wrong-type.json"), U],
        "wrong-type.json:3:30: options.durationSec",
    ));
    out
}

/// (file name, content, what the error must contain). Written into the test's temporary
/// directory; `not-utf8.json` gets a byte that is not UTF-8 appended.
const CONFIGS: &[(&str, &str, &str)] = &[
    // Malformed JSON: serde_json's position and message.
    (
        "malformed.json",
        "{\n  \"requests\": [\n    {\"url\": \"http://127.0.0.1:9/\"},\n  ]\n}\n",
        "malformed.json:4:3: trailing comma",
    ),
    (
        "colon.json",
        "{\"requests\" [{\"url\": \"http://127.0.0.1:9/\"}]}",
        "colon.json:1:13: expected `:`",
    ),
    (
        "truncated.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\"}",
        "truncated.json:1:",
    ),
    (
        "deep.json",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\
         [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "deep.json:1:128: recursion limit",
    ),
    (
        "huge-number.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\", \"rps\": 1e999}]}",
        "huge-number.json:1:57: number out of range",
    ),
    ("not-utf8.json", "{\"requests\": []}", "utf-8"),
    // Wrong types.
    (
        "wrong-type.json",
        "{\n  \"requests\": [{\"url\": \"http://127.0.0.1:9/\"}],\n  \"options\": {\"durationSec\": \"10\"}\n}",
        "wrong-type.json:3:30: options.durationSec: expected a number, got a string",
    ),
    (
        "rps-string.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\", \"rps\": \"fast\"}]}",
        "rps-string.json:1:53: requests[0].rps: expected a number",
    ),
    (
        "threads-bool.json",
        "{\"options\": {\"threads\": true}, \"requests\": [{\"url\": \"http://127.0.0.1:9/\"}]}",
        "threads-bool.json:1:25: options.threads: expected a number, got a boolean",
    ),
    (
        "url-number.json",
        "{\"requests\": [{\"url\": 9}]}",
        "url-number.json:1:23: requests[0].url: expected a string",
    ),
    (
        "requests-object.json",
        "{\"requests\": {\"url\": \"http://127.0.0.1:9/\"}}",
        "requests-object.json:1:14: requests: expected an array",
    ),
    (
        "top-array.json",
        "[]",
        "top-array.json:1:1: (top level): expected an object",
    ),
    // Unknown and duplicate fields.
    (
        "unknown-top.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\"}], \"extra\": 1}",
        "unknown-top.json:1:48: extra: unknown field",
    ),
    (
        "unknown-request.json",
        "{\"requests\": [{\"uri\": \"http://127.0.0.1:9/\"}]}",
        "unknown-request.json:1:16: requests[0].uri: unknown field",
    ),
    (
        "unknown-option.json",
        "{\n  \"requests\": [{\"url\": \"http://127.0.0.1:9/\"}],\n  \"options\": {\"duration\": 10}\n}",
        "unknown-option.json:3:15: options.duration: unknown field",
    ),
    (
        "duplicate-key.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\", \"url\": \"http://127.0.0.1:9/x\"}]}",
        "duplicate-key.json:1:46: requests[0].url: duplicate field",
    ),
    // Bad values.
    (
        "neg-rps.json",
        "{\n  \"requests\": [\n    {\"url\": \"http://127.0.0.1:9/a\"},\n    {\"url\": \"http://127.0.0.1:9/b\",\n     \"rps\": -5}\n  ]\n}",
        "neg-rps.json:5:13: requests[1].rps: must be >= 0 (got -5)",
    ),
    (
        "bad-url-2.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/a\"},\n {\"url\": \"http://127.0.0.1:9/b\"},\n {\"url\": \"http://127.0.0.1:99999/c\"}]}",
        "bad-url-2.json:3:10: requests[2].url: bad URL",
    ),
    (
        "scheme-2.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/a\"},\n {\"url\": \"http://127.0.0.1:9/b\"},\n {\"url\": \"ftp://127.0.0.1:9/c\"}]}",
        "scheme-2.json:3:10: requests[2].url: bad URL",
    ),
    (
        "no-requests.json",
        "{\"requests\": []}",
        "no-requests.json:1:14: requests: must list at least one request",
    ),
    (
        "header-nul.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\", \"headers\": {\"X\": \"a\\u0000b\"}}]}",
        "header-nul.json:1:63: requests[0].headers.X: header value contains a control",
    ),
    (
        "connections-huge.json",
        "{\"options\": {\"connections\": 1e9}, \"requests\": [{\"url\": \"http://127.0.0.1:9/\"}]}",
        "connections-huge.json:1:29: options.connections: must be <= 1000000",
    ),
    (
        "method.json",
        "{\"requests\": [{\"url\": \"http://127.0.0.1:9/\", \"method\": \"FETCH\"}]}",
        "method.json:1:56: requests[0].method: unknown method",
    ),
];

/// Writes `CONFIGS` and a regular file named `regular` into `dir`.
fn write_configs(dir: &std::path::Path) {
    for (name, text, _) in CONFIGS {
        let mut bytes = text.as_bytes().to_vec();
        if *name == "not-utf8.json" {
            bytes.push(0xff);
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    std::fs::write(dir.join("regular"), "a regular file\n").unwrap();
}

#[test]
fn bad_command_lines_give_one_line_and_exit_2() {
    let tmp = std::env::temp_dir().join(format!("tressi-badinput-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let missing = tmp.join("no-such-file");
    write_configs(&tmp);
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

/// Found while writing the `config` fuzz target: syntax errors took serde_json's column
/// as it is, in *bytes* and 0 before the first character of a line, while every other
/// config error counts characters from 1. The loader now converts it.
#[test]
fn config_syntax_error_columns_count_characters_from_one() {
    let col = |text: &str| -> usize {
        let msg = tressi::config::parse("f.json", text)
            .unwrap_err()
            .to_string();
        msg.split(':').nth(2).unwrap().parse().unwrap()
    };
    // `{"ééééé": tru}`: 14 characters (19 bytes); the error is at or before the `}`.
    assert!(col("{\"\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\": tru}") <= 14);
    // `{"é": 1,}`: the trailing comma error points at the `}`, character 9 (byte 10).
    assert_eq!(col("{\"\u{e9}\": 1,}"), 9);
    // An empty file and an object cut after a newline: column 1, not 0.
    assert_eq!(col(""), 1);
    assert_eq!(col("{\n"), 1);
}
