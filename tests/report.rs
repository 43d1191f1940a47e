//! End-to-end tests of the reports and exports: the HTML report rendered in headless
//! Chromium (screenshot decoded and checked not blank, every plot with data in the
//! browser's DOM), a real run's export files (all present, complete, parsable, no
//! secret in any of them, `--latency` output), SIGINT during a run still writing complete
//! exports marked interrupted, and `tressi schema --summary` against a real summary.
//! Chromium is Debian's `chromium`; without it the browser test is skipped, except under
//! `CI`, where it fails (CI must install it, as `scripts/test.sh` does).

mod common;

use common::{bin, tressi, TargetProcess};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tressi-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium() -> Option<PathBuf> {
    let exe = PathBuf::from("/usr/bin/chromium");
    if exe.exists() {
        return Some(exe);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but chromium is not installed"
    );
    eprintln!("chromium not installed: skipping");
    None
}

/// Runs headless Chromium on `page` with `args`, bounded in time; returns stdout.
fn run_chromium(exe: &Path, profile: &Path, page: &Path, args: &[&str]) -> Vec<u8> {
    let mut child = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// A decoded 8-bit RGB or RGBA PNG: (width, height, channels, pixels).
fn decode_png(bytes: &[u8]) -> (usize, usize, usize, Vec<u8>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let mut pos = 8;
    let (mut w, mut h, mut channels) = (0, 0, 0);
    let mut idat = Vec::new();
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = &bytes[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                assert_eq!(data[8], 8, "8-bit depth");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
                assert_eq!(data[12], 0, "not interlaced");
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = w * channels;
    assert_eq!(raw.len(), h * (stride + 1), "scanlines");
    let mut px = vec![0u8; h * stride];
    for y in 0..h {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= channels {
                px[y * stride + x - channels]
            } else {
                0
            };
            let b = if y > 0 { px[(y - 1) * stride + x] } else { 0 };
            let c = if y > 0 && x >= channels {
                px[(y - 1) * stride + x - channels]
            } else {
                0
            };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            px[y * stride + x] = line[x].wrapping_add(pred);
        }
    }
    (w, h, channels, px)
}

/// Sum of `data-points` of the series paths inside the SVG with `id` in `dom`.
fn plot_points(dom: &str, id: &str) -> usize {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no plot {id}"));
    let svg = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    svg.match_indices("data-points=\"")
        .map(|(i, m)| {
            let rest = &svg[i + m.len()..];
            rest[..rest.find('"').unwrap()].parse::<usize>().unwrap()
        })
        .sum()
}

/// Renders `html` in Chromium: the screenshot must not be blank (many non-white pixels,
/// several colours, and with `plot_colour` the first series' colour) and the three plots
/// must be in the browser's DOM. Returns the DOM (`None` without Chromium).
fn check_in_browser(html: &Path, dir: &Path, plot_colour: bool) -> Option<String> {
    let exe = chromium()?;
    let shot = dir.join("shot.png");
    run_chromium(
        &exe,
        &dir.join("profile"),
        html,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,2000",
        ],
    );
    let (w, h, ch, px) = decode_png(&std::fs::read(&shot).expect("screenshot written"));
    assert_eq!((w, h), (1200, 2000));
    let pixels = px.chunks(ch);
    let mut non_white = 0usize;
    let mut blue = 0usize;
    let mut colours = std::collections::HashSet::new();
    for p in pixels {
        if p[0] < 240 || p[1] < 240 || p[2] < 240 {
            non_white += 1;
        }
        // The first series colour, #1f77b4, give or take anti-aliasing.
        if p[2] > 150 && p[0] < 80 && p[1] > 90 && p[1] < 150 {
            blue += 1;
        }
        colours.insert((p[0] >> 4, p[1] >> 4, p[2] >> 4));
    }
    let total = w * h;
    assert!(
        non_white * 50 > total,
        "mostly blank: {non_white} of {total} pixels not white"
    );
    // Text alone gives a dozen grey levels; the plots add colours.
    let want = if plot_colour { 20 } else { 8 };
    assert!(colours.len() > want, "{} colours", colours.len());
    if plot_colour {
        assert!(blue > 500, "plot lines missing: {blue} blue pixels");
    }
    let dom = run_chromium(&exe, &dir.join("profile"), html, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom).into_owned();
    assert!(dom.contains("tressi report"), "{dom}");
    Some(dom)
}

#[test]
fn html_report_renders_in_chromium_with_data_in_every_plot() {
    let dir = temp_dir("html");
    let html = dir.join("report.html");
    let mut bytes = Vec::new();
    tressi::report::render(
        &tressi::report::fixture::finished(),
        "report.html",
        &mut bytes,
    )
    .unwrap();
    std::fs::write(&html, bytes).unwrap();
    if let Some(dom) = check_in_browser(&html, &dir, true) {
        for id in ["plot-rps", "plot-latency", "plot-percentiles"] {
            let n = plot_points(&dom, id);
            assert!(n >= 10, "{id}: {n} points in the browser's DOM");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const SECRET: &str = "Bearer e2e-s3cret";

/// Every export file is there, complete and parsable; none shows the secret. Returns
/// the parsed summary.
fn check_exports(dir: &Path, interrupted: bool) -> serde_json::Value {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = tressi::report::EXPORT_FILES
        .iter()
        .map(|s| s.to_string())
        .collect();
    want.sort();
    assert_eq!(names, want, "exactly the export files, no temporary ones");
    for name in tressi::report::EXPORT_FILES {
        let text = read(name);
        assert!(!text.contains(SECRET), "{name} shows the secret");
    }
    let v: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    common::check_totals(&v);
    assert_eq!(v["interrupted"], interrupted);
    assert_eq!(v["endpoints"][0]["headers"][0][1], "<redacted>");
    let schema = tressi::report::schema::summary();
    tressi::report::schema::check(&schema, &v, "$").unwrap();
    let completed = v["requests"]["completed"].as_u64().unwrap();
    // The embedded histograms hold every response, the run's and the endpoint's.
    for path in [&v["histograms"], &v["endpoints"][0]["histograms"]] {
        for key in ["latency", "service"] {
            let h = tressi::stats::decode_histogram(path[key].as_str().unwrap()).unwrap();
            assert_eq!(h.len(), completed, "{key}");
        }
    }
    let h = tressi::stats::decode_histogram(v["histograms"]["latency"].as_str().unwrap()).unwrap();
    assert_eq!(
        v["latency_us"]["p99"].as_u64().unwrap(),
        h.value_at_quantile(0.99)
    );
    // .hgrm: ends with the footer, and its total is the run's.
    let hgrm = read("latency.hgrm");
    let footer: Vec<&str> = hgrm.lines().rev().take(3).collect();
    assert!(footer[2].starts_with("#[Mean"), "{hgrm}");
    assert!(
        footer[1].ends_with(&format!("Total count    = {completed:>12}]")),
        "{hgrm}"
    );
    assert!(footer[0].starts_with("#[Buckets"));
    // .hlog: the header, then rows that decode.
    let hlog = read("latency.hlog");
    assert!(hlog.contains("\"StartTimestamp\",\"Interval_Length\""));
    for line in hlog.lines().filter(|l| !l.starts_with(['#', '"'])) {
        let hist = line.rsplit(',').next().unwrap();
        tressi::stats::decode_histogram(hist).unwrap();
    }
    // CSV: headers, and one row per endpoint.
    assert!(read("timeline.csv").starts_with("endpoint,method,url,second,"));
    assert_eq!(read("endpoints.csv").lines().count(), 2);
    let html = read("report.html");
    assert!(html.trim_end().ends_with("</html>"));
    let md = read("report.md");
    assert!(md.starts_with("# tressi report"));
    assert_eq!(md.contains("**Interrupted:**"), interrupted);
    assert!(read("report.txt").contains("Latency distribution"));
    v
}

#[test]
fn a_run_exports_every_file_redacted_and_prints_the_spectrum() {
    let target = TargetProcess::start(&[]);
    let dir = temp_dir("run");
    // A relative path with a leading dot, kept as given (under the temp dir).
    let out = Command::new(bin())
        .current_dir(&dir)
        .args([
            &target.url("/"),
            "-n",
            "300",
            "-c",
            "2",
            "--no-ui",
            "--latency",
            "-H",
            &format!("Authorization: {SECRET}"),
            "--export",
            "./.out/x",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(SECRET));
    assert!(stdout.contains("Authorization: <redacted>"), "{stdout}");
    assert!(stdout.contains("Detailed Percentile spectrum"), "{stdout}");
    assert!(stdout.contains("1/(1-Percentile)"), "{stdout}");
    assert!(stdout.contains("#[Max     ="), "{stdout}");
    let exported = dir.join(".out/x");
    let v = check_exports(&exported, false);
    assert_eq!(v["requests"]["completed"], 300);
    // --latency prints what latency.hgrm holds.
    let hgrm = std::fs::read_to_string(exported.join("latency.hgrm")).unwrap();
    assert!(stdout.ends_with(&hgrm), "{stdout}");
    // A real run's page renders too, with its percentile curve.
    if let Some(dom) = check_in_browser(&exported.join("report.html"), &dir, false) {
        let n = plot_points(&dom, "plot-percentiles");
        assert!(n >= 10, "plot-percentiles: {n} points");
    }
    // --show-secrets keeps the value (and --json prints the same object).
    let out = tressi(
        &[
            &target.url("/"),
            "-n",
            "10",
            "-c",
            "1",
            "--no-ui",
            "--json",
            "--show-secrets",
            "-H",
            &format!("Authorization: {SECRET}"),
        ],
        Duration::from_secs(20),
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["endpoints"][0]["headers"][0][1], SECRET);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_server_echoing_the_request_shows_no_secret_in_any_output() {
    // httpbin's /anything and many test servers echo the request, headers and all: the
    // samples would carry the secret values back into every report.
    let server = common::HostileServer::start(|mut s| {
        while let Some(req) = s.next_request() {
            let body = req.head.replace("\r\n", "\n");
            let head = format!(
                "HTTP/1.1 200 OK\r\nX-Echo-Auth: {}\r\nContent-Length: {}\r\n\r\n",
                req.header("authorization").unwrap_or_default(),
                body.len()
            );
            if !s.respond(format!("{head}{body}").as_bytes()) {
                return;
            }
        }
    });
    let dir = temp_dir("echo");
    let out = tressi(
        &[
            &server.url("/anything"),
            "-n",
            "20",
            "-c",
            "1",
            "-q",
            "--json",
            "-H",
            &format!("Authorization: {SECRET}"),
            "--export",
            dir.join("x").to_str().unwrap(),
        ],
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(SECRET), "{stdout}");
    assert!(!stdout.contains("e2e-s3cret"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let sample = &v["endpoints"][0]["samples"][0];
    assert!(
        sample["body"]
            .as_str()
            .unwrap()
            .contains("Authorization: <redacted>"),
        "{sample}"
    );
    assert!(
        sample["head"]
            .as_str()
            .unwrap()
            .contains("X-Echo-Auth: <redacted>"),
        "{sample}"
    );
    let exported = dir.join("x");
    check_exports(&exported, false);
    for name in tressi::report::EXPORT_FILES {
        let text = std::fs::read_to_string(exported.join(name)).unwrap();
        assert!(!text.contains("e2e-s3cret"), "{name} shows the secret");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_still_writes_complete_exports_marked_interrupted() {
    let target = TargetProcess::start(&[]);
    let dir = temp_dir("sigint");
    let child = Command::new(bin())
        .args([
            &target.url("/"),
            "-c",
            "4",
            "-d",
            "20s",
            "--no-ui",
            "-H",
            &format!("Authorization: {SECRET}"),
            "--export",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let pid = child.id();
    let started = Instant::now();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: signal 0 only probes whether our child still exists.
            if unsafe { libc::kill(pid as libc::pid_t, 0) } != 0 {
                return;
            }
        }
        // SAFETY: a signal to our own child, which ignored SIGINT for 15 s.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped and wrote the exports promptly"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Interrupted"), "{text}");
    let v = check_exports(&dir, true);
    assert!(v["requests"]["completed"].as_u64().unwrap() > 0);
    assert!(v["duration_s"].as_f64().unwrap() < 10.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schema_summary_prints_the_summary_schema() {
    let out = tressi(&["schema", "--summary"], Duration::from_secs(10));
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema, tressi::report::schema::summary());
    assert_eq!(schema["title"], "tressi summary");
    for key in [
        "rps",
        "requests",
        "errors",
        "latency_us",
        "histograms",
        "warnings",
    ] {
        assert!(schema["properties"][key].is_object(), "{key}");
    }
    // The config schema is still the default.
    let out = tressi(&["schema"], Duration::from_secs(10));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(config, schema);
    let out = tressi(
        &["schema", "--summary", "--summary"],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
}
