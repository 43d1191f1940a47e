//! The live progress as a user sees it. `tressi` runs against the built-in target with its
//! stdout and stderr on a pseudo-terminal (libc::openpty, 100 x 30), and the master side
//! is read to the end: the panel is drawn and redrawn in place, then erased before the
//! report, and the cursor comes back. With `--no-ui` or a pipe: plain progress lines, no
//! escapes, no braces (the JSON summary stays the first object in the combined output).
//! `--quiet`: the report only. `NO_COLOR`: the panel without colour. Runs are a few
//! seconds at most, on loopback.

mod common;

use common::{bin, TargetProcess};
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const COLS: u16 = 100;
const HIDE: &str = "\x1b[?25l";
const SHOW: &str = "\x1b[?25h";

/// Runs tressi with stdout and stderr on a new pseudo-terminal, sending it SIGINT at each
/// of `signals` (times since the start). Returns its exit status and everything it wrote.
fn on_pty(args: &[&str], env: &[(&str, &str)], signals: &[Duration]) -> (ExitStatus, String) {
    let (mut master, mut slave) = (0, 0);
    let ws = libc::winsize {
        ws_row: 30,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors; the name and termios pointers may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn tressi");
    drop(cmd); // our copies of the slave: the master reads EOF (EIO) once the child exits
    let reader = std::thread::spawn(move || {
        let mut master = master;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    });
    let start = Instant::now();
    let mut signalled = 0;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        while signals
            .get(signalled)
            .is_some_and(|t| start.elapsed() >= *t)
        {
            // SAFETY: a signal to our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            signalled += 1;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("tressi {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(if signalled < signals.len() {
            1
        } else {
            10
        }));
    };
    let out = reader.join().unwrap();
    (status, String::from_utf8(out).expect("UTF-8 output"))
}

/// `s` without CSI escape sequences and carriage returns: the text as shown.
fn visible(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// The CSI sequences in `s` that end with `m` (SGR: colours and styles).
fn sgr_sequences(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| ('@'..='~').contains(&c))
            .unwrap_or(after.len());
        if after[end..].starts_with('m') {
            found.push(format!("ESC[{}m", &after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    found
}

/// Cursor-up sequences (`ESC[nA`): one per redraw after the first frame.
fn redraws(s: &str) -> usize {
    let mut n = 0;
    let mut rest = s;
    while let Some(i) = rest.find("\x1b[") {
        let after = &rest[i + 2..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with('A') {
            n += 1;
        }
        rest = after;
    }
    n
}

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The checks every panel run shares; returns the text after the panel (the report, as
/// shown).
fn check_panel(status: ExitStatus, out: &str, code: i32) -> String {
    assert_eq!(status.code(), Some(code), "{out}");
    let hide = out
        .find(HIDE)
        .unwrap_or_else(|| panic!("cursor never hidden: {out:?}"));
    let show = out
        .rfind(SHOW)
        .unwrap_or_else(|| panic!("cursor not shown: {out:?}"));
    assert!(hide < show, "{out:?}");
    assert_eq!(out.matches(HIDE).count(), 1, "{out:?}");
    let panel = &out[hide..show];
    // Redrawn in place, about four times a second.
    assert!(redraws(panel) >= 3, "{} redraws: {panel:?}", redraws(panel));
    let shown = visible(panel);
    assert!(
        shown.contains('█') || shown.contains('░'),
        "no bar: {shown}"
    );
    assert!(shown.contains(" / 1.5s"), "no elapsed / total: {shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("GET / ") && l.contains("µs")),
        "no endpoint row with latency: {shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.contains(" req/s ") && l.contains("2xx ")),
        "no totals line: {shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("req/s ") && l.contains(SPARKS) && l.contains("peak")),
        "no sparkline: {shown}"
    );
    // Every panel line fits the terminal (no wrapping).
    for l in shown.lines() {
        assert!(l.chars().count() < usize::from(COLS), "too wide: {l:?}");
    }
    // The panel is erased (cursor up, erase below) just before the cursor comes back.
    assert!(
        out[..show].ends_with("\x1b[J"),
        "{:?}",
        &out[show.saturating_sub(40)..]
    );
    let report = visible(&out[show..]);
    assert!(!report.trim().is_empty(), "no report after the panel");
    assert_eq!(redraws(&out[show..]), 0, "the panel is gone: {report}");
    report
}

/// The whole of `text` is one JSON value (terminal line ends allowed).
fn only_json(text: &str) -> serde_json::Value {
    serde_json::from_str(&text.replace("\r\n", "\n"))
        .unwrap_or_else(|e| panic!("not just one JSON value ({e}): {text:?}"))
}

#[test]
fn live_panel_on_a_terminal_is_redrawn_in_place_and_erased_before_the_report() {
    let target = TargetProcess::start(&[]);
    let (status, out) = on_pty(&[&target.url("/"), "-c", "2", "-d", "1500ms"], &[], &[]);
    let report = check_panel(status, &out, 0);
    assert!(report.contains(&target.addr.to_string()), "{report}");
    assert!(out.contains("tressi: running "), "banner: {out:?}");
    let colours = sgr_sequences(&out);
    assert!(colours.iter().any(|c| c == "ESC[32m"), "{colours:?}");
}

#[test]
fn no_color_keeps_the_panel_without_colour() {
    let target = TargetProcess::start(&[]);
    let (status, out) = on_pty(
        &[
            &target.url("/"),
            "-c",
            "2",
            "-t",
            "2",
            "-d",
            "1500ms",
            "--json",
        ],
        &[("NO_COLOR", "1")],
        &[],
    );
    let v = only_json(&check_panel(status, &out, 0));
    // Cursor movement still, but no colour or style at all.
    assert_eq!(sgr_sequences(&out), Vec::<String>::new(), "{out:?}");
    // With two workers publishing at their own moments, the live rates stay in line with
    // the run's (a rate taken from the sum's own timestamps once swung a thousandfold).
    let rps = v["rps"].as_f64().unwrap();
    let shown = visible(&out);
    let mut seen = 0;
    for l in shown.lines() {
        let live = if let Some(r) = l.split(" req/s  p50").next().filter(|r| r.len() < l.len()) {
            r.replace(',', "").parse::<f64>().ok()
        } else {
            l.split("peak ").nth(1).map(count_value)
        };
        if let Some(x) = live {
            seen += 1;
            assert!(
                x <= 5.0 * rps + 1000.0,
                "live {x} against {rps} over the run: {l}"
            );
        }
    }
    assert!(seen >= 6, "{shown}");
}

/// `12.3k`, `4.56M`, `523` as a number.
fn count_value(s: &str) -> f64 {
    let s = s.trim();
    let (digits, scale) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1e3),
        Some('M') => (&s[..s.len() - 1], 1e6),
        Some('G') => (&s[..s.len() - 1], 1e9),
        _ => (s, 1.0),
    };
    digits
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("not a count: {s:?}"))
        * scale
}

#[test]
fn sigint_on_the_panel_still_restores_the_cursor_and_prints_the_report() {
    let target = TargetProcess::start(&[]);
    let (status, out) = on_pty(
        &[&target.url("/"), "-c", "2", "-d", "1500ms", "--json"],
        &[],
        &[Duration::from_millis(1_100)],
    );
    let v = only_json(&check_panel(status, &out, 130));
    assert_eq!(v["interrupted"], true, "{v}");
    assert!(v["requests"]["completed"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn a_second_sigint_exits_at_once_and_still_shows_the_cursor() {
    let target = TargetProcess::start(&[]);
    let (status, out) = on_pty(
        &[&target.url("/"), "-c", "2", "-d", "20s"],
        &[],
        &[Duration::from_millis(800), Duration::from_millis(802)],
    );
    // The second signal comes while the run is stopping, so the process exits at once
    // (in practice every time here: the report is not printed) — or, if the run had
    // already ended, normally. Either way: interrupted, and the cursor is shown again.
    assert_eq!(status.code(), Some(130), "{out:?}");
    let hide = out.rfind(HIDE).expect("the panel hid the cursor");
    assert!(out[hide..].contains(SHOW), "cursor left hidden: {out:?}");
}

/// Progress lines in `text`: `[  1s/2.5s] 12,345 req/s ...`.
fn progress_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with('[') && l.contains("s] ") && l.contains(" req/s"))
        .collect()
}

fn check_progress_lines(lines: &[&str]) {
    // One a second over 2.5 s: at 1 s and 2 s.
    assert!((2..=3).contains(&lines.len()), "{lines:?}");
    for l in lines {
        assert!(l.contains(" req/s  p50 ") && l.contains("  2xx "), "{l}");
        assert!(l.contains("  err 0"), "{l}");
        assert!(!l.contains(['{', '}', '\x1b']), "{l:?}");
    }
    assert!(lines[0].starts_with("[  1s/2.5s] "), "{lines:?}");
    assert!(lines[1].starts_with("[  2s/2.5s] "), "{lines:?}");
}

#[test]
fn no_ui_on_a_terminal_prints_plain_progress_lines_and_the_json_parses_first() {
    let target = TargetProcess::start(&[]);
    let (status, out) = on_pty(
        &[
            &target.url("/"),
            "-c",
            "2",
            "-d",
            "2500ms",
            "--no-ui",
            "--json",
        ],
        &[],
        &[],
    );
    assert!(status.success(), "{out}");
    assert!(!out.contains('\x1b'), "no escapes at all: {out:?}");
    check_progress_lines(&progress_lines(&out));
    // As a harness reads it: the first JSON object in the combined output is the summary.
    let start = out.find('{').expect("a JSON object");
    let mut it = serde_json::Deserializer::from_str(&out[start..]).into_iter::<serde_json::Value>();
    let v = it.next().unwrap().expect("the first object parses");
    assert!(v["requests"]["completed"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn piped_stderr_gets_plain_progress_lines_and_quiet_gets_none() {
    let target = TargetProcess::start(&[]);
    let url = target.url("/");
    let run = |extra: &[&str]| {
        let out = Command::new(bin())
            .args([url.as_str(), "-c", "2", "-d", "2500ms", "--json"])
            .args(extra)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        assert!(v["requests"]["completed"].as_u64().unwrap() > 0);
        String::from_utf8(out.stderr).unwrap()
    };
    let err = run(&[]);
    check_progress_lines(&progress_lines(&err));
    assert!(!err.contains(['{', '}', '\x1b']), "{err:?}");
    assert_eq!(progress_lines(&err).len(), err.lines().count(), "{err}");
    assert_eq!(run(&["--quiet"]), "");
}

#[test]
fn quiet_on_a_terminal_prints_only_the_report() {
    let target = TargetProcess::start(&[]);
    let url = target.url("/");
    // With --json the whole output is the one JSON object.
    let (status, out) = on_pty(&[&url, "-c", "2", "-d", "1500ms", "-q", "--json"], &[], &[]);
    assert!(status.success(), "{out}");
    let v = only_json(&out);
    assert!(v["requests"]["completed"].as_u64().unwrap() > 0, "{v}");
    // The text report: no banner, no panel, no progress lines.
    let (status, out) = on_pty(&[&url, "-c", "2", "-d", "1500ms", "--quiet"], &[], &[]);
    assert!(status.success(), "{out}");
    assert!(!out.is_empty());
    for panel in [HIDE, SHOW, "\x1b[K", "\x1b[J"] {
        assert!(!out.contains(panel), "{panel:?} in {out:?}");
    }
    assert_eq!(redraws(&out), 0, "{out:?}");
    assert!(!out.contains("tressi: running"), "{out}");
    assert!(progress_lines(&out).is_empty(), "{out}");
}

#[test]
fn demo_shows_the_panel_too() {
    let (status, out) = on_pty(&["demo"], &[], &[]);
    assert!(status.success(), "{out}");
    assert!(out.contains(HIDE) && out.contains(SHOW), "{out:?}");
    let shown = visible(&out);
    assert!(shown.contains(" / 3s"), "{shown}");
    assert!(shown.lines().any(|l| l.starts_with("GET / ")), "{shown}");
    assert!(shown.contains("served "), "{shown}");
}

#[test]
fn a_dumb_terminal_gets_plain_progress_lines() {
    let target = TargetProcess::start(&[]);
    let (status, out) = on_pty(
        &[&target.url("/"), "-c", "2", "-d", "1500ms"],
        &[("TERM", "dumb")],
        &[],
    );
    assert!(status.success(), "{out}");
    assert!(!out.contains(HIDE) && redraws(&out) == 0, "{out:?}");
    let lines = progress_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(!lines[0].contains('\x1b'), "{lines:?}");
    assert!(lines[0].starts_with("[  1s/1.5s] "), "{lines:?}");
}
