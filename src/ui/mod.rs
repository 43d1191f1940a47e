//! Live progress while a run goes on, the pure part: `Live` follows the summed worker
//! snapshots (rates over the last interval, which each worker computes from its own
//! successive snapshots; a req/s history for the sparkline; latency so far), `Live::view` turns that into a `View`, and
//! `render_panel` / `progress_line` / `frame` turn a `View` into text. No I/O, no clock
//! (times come from the snapshots), no terminal queries: `term` owns those.
//!
//! Text rules: panel lines never exceed the width they are given (so the terminal never
//! wraps them and redrawing in place stays exact), every character used is one column
//! wide, and progress lines never contain `{` or `}` (a harness may look for the first
//! JSON object in tressi's combined output) nor any escape sequence.

pub mod term;

use crate::engine::progress::{LiveHist, Snapshot};
use crate::plan::Plan;
use crate::units::{format_count, format_duration};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

/// Endpoint rows the panel shows at most; the others are summed on one "+k more" line.
pub const MAX_ROWS: usize = 8;
/// Panel lines above the endpoint table: progress bar, totals, sparkline, table header.
pub const FIXED_LINES: usize = 4;
/// Req/s samples kept for the sparkline (one per update: about 30 s at 4 a second).
const SPARK_KEEP: usize = 120;
/// A label column narrower than this drops columns to make room (3xx first, then the
/// target, p50, 4xx and 5xx; req/s, p99, 2xx and err always stay).
const MIN_LABEL: usize = 16;
/// Width of a status-class column: a count as `format_count` writes it is at most 5
/// characters ("999", "12.3k", "1.00M"), so all five classes fit on 80 columns.
const CLASS_W: usize = 5;
/// The columns dropped on a narrow terminal, in order.
const DROP_ORDER: [&str; 5] = ["3xx", "target", "p50", "4xx", "5xx"];
/// The eight levels of the sparkline, lowest first.
const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Responses by status class, and requests ended by an error: 2xx, 3xx, 4xx, 5xx, err.
pub type Classes = [u64; 5];

/// How far the run is.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A timed run (`-d`): its length in seconds.
    Time { total_s: f64 },
    /// A counted run (`-n`): requests ended (responses and errors) out of the total.
    Requests { done: u64, total: u64 },
}

/// One line of figures: an endpoint, the sum of the endpoints not shown, or the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    /// Responses per second over the last interval (each worker's last quarter second).
    pub rps: f64,
    /// The target rate now (ramp-up applied); `None` for a closed-loop endpoint, and for
    /// a sum that includes one.
    pub target: Option<f64>,
    /// Latency so far (response time, µs).
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub classes: Classes,
}

/// Everything the panel and the progress line show, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Run time so far, seconds.
    pub elapsed_s: f64,
    pub progress: Progress,
    /// Heading of the label column: the origin every endpoint shares, or "endpoint".
    pub heading: String,
    /// All endpoints together (its label is unused).
    pub total: Row,
    /// Responses per second over the last progress-line interval (about a second): the
    /// mean of the updates' total rates since the previous line.
    pub line_rps: f64,
    /// Connection failures that ended no request.
    pub conn_errors: u64,
    /// Total req/s at each update, oldest first.
    pub spark: Vec<f64>,
    /// The endpoints shown, in plan order.
    pub rows: Vec<Row>,
    /// The endpoints not shown, summed (label "+k more").
    pub more: Option<Row>,
}

/// What `Live` knows of one endpoint from the plan.
#[derive(Debug, Clone)]
struct EndpointInfo {
    label: String,
    rate: Option<f64>,
    ramp: Duration,
}

/// Follows a run's snapshots for the live view. Storage is reused across updates.
#[derive(Debug)]
pub struct Live {
    endpoints: Vec<EndpointInfo>,
    heading: String,
    duration: Option<Duration>,
    requests: Option<u64>,
    /// The latest snapshot (copied in, storage reused).
    last: Snapshot,
    updates: u64,
    /// Per endpoint: responses a second, as of the latest update.
    rps: Vec<f64>,
    spark: VecDeque<f64>,
    /// The progress line: the total rates since the last one (sum and count), the
    /// second it was printed for, and the mean rate it shows.
    line_sum: f64,
    line_samples: u64,
    line_second: u64,
    line_rps: f64,
    /// Scratch histograms for the total and the hidden endpoints.
    all: LiveHist,
    rest: LiveHist,
}

impl Live {
    pub fn new(plan: &Plan) -> Live {
        let origin = |e: &crate::plan::Endpoint| {
            format!("{}://{}", e.target.scheme.as_str(), e.target.authority)
        };
        let shared = plan
            .endpoints
            .first()
            .map(origin)
            .filter(|o| plan.endpoints.iter().all(|e| origin(e) == *o));
        let endpoints = plan
            .endpoints
            .iter()
            .map(|e| EndpointInfo {
                label: sanitize(&if shared.is_some() {
                    format!("{} {}", e.method, e.target.path_and_query)
                } else {
                    format!("{} {}", e.method, e.target.url())
                }),
                rate: e.rate,
                ramp: e.ramp_up.or(plan.ramp_up).unwrap_or(Duration::ZERO),
            })
            .collect::<Vec<_>>();
        let n = endpoints.len();
        Live {
            endpoints,
            heading: shared.map_or_else(|| "endpoint".to_string(), |o| sanitize(&o)),
            duration: plan.duration,
            requests: plan.requests,
            last: Snapshot::new(n),
            updates: 0,
            rps: vec![0.0; n],
            spark: VecDeque::with_capacity(SPARK_KEEP),
            line_sum: 0.0,
            line_samples: 0,
            line_second: 0,
            line_rps: 0.0,
            all: LiveHist::new(),
            rest: LiveHist::new(),
        }
    }

    /// Takes in the latest summed snapshot (its rates are the workers' own, each over
    /// its last publish interval). Returns true when a progress line is due (the run
    /// entered a new second since the last one).
    pub fn update(&mut self, snap: &Snapshot) -> bool {
        self.last.clear();
        self.last.add(snap);
        // The first call comes as the workers start, before anything was published; and
        // until every worker has published, the summed rate leaves some of them out.
        let no_sample = self.updates == 0 || snap.unpublished > 0;
        self.updates += 1;
        let mut total = 0.0;
        for (i, r) in self.rps.iter_mut().enumerate() {
            let rps = snap.endpoints.get(i).map_or(0.0, |e| e.rps);
            *r = if rps.is_finite() { rps.max(0.0) } else { 0.0 };
            total += *r;
        }
        if !no_sample {
            if self.spark.len() == SPARK_KEEP {
                self.spark.pop_front();
            }
            self.spark.push_back(total);
            self.line_sum += total;
            self.line_samples += 1;
        }
        let second = snap.at_ns / 1_000_000_000;
        if second > self.line_second {
            self.line_rps = if self.line_samples > 0 {
                self.line_sum / self.line_samples as f64
            } else {
                0.0
            };
            self.line_sum = 0.0;
            self.line_samples = 0;
            self.line_second = second;
            return true;
        }
        false
    }

    /// The view now, with at most `rows` table lines for the endpoints (when there are
    /// more endpoints than that, the last line sums the rest).
    pub fn view(&mut self, rows: usize) -> View {
        let elapsed_s = self.last.at_ns as f64 / 1e9;
        let n = self.endpoints.len();
        let shown = if n <= rows { n } else { rows.saturating_sub(1) };
        let mut view_rows = Vec::with_capacity(shown);
        let mut total = empty_row(String::new());
        let mut more = empty_row(String::new());
        self.all.clear();
        self.rest.clear();
        let mut done = 0;
        // A sum has a target only when every endpoint in it has one (a closed-loop
        // endpoint's responses would count against the rated ones' target).
        let (mut closed_total, mut closed_more) = (false, false);
        for (i, info) in self.endpoints.iter().enumerate() {
            let Some(c) = self.last.endpoints.get(i) else {
                continue;
            };
            done += c.ended();
            let mut classes = [0u64; 5];
            for (code, k) in c.status.iter().enumerate() {
                if (200..600).contains(&code) {
                    classes[code / 100 - 2] += k;
                }
            }
            classes[4] = c.failed;
            let target = info.rate.map(|r| {
                let ramp = info.ramp.as_secs_f64();
                if ramp > 0.0 {
                    r * (elapsed_s / ramp).min(1.0)
                } else {
                    r
                }
            });
            let mut row = Row {
                label: String::new(),
                rps: self.rps[i],
                target,
                p50_us: None,
                p99_us: None,
                classes,
            };
            add_row(&mut total, &row);
            closed_total |= target.is_none();
            self.all.add(&c.latency);
            if i < shown {
                // Labels and percentiles only for the rows shown.
                row.label.clone_from(&info.label);
                row.p50_us = c.latency.quantile(0.5);
                row.p99_us = c.latency.quantile(0.99);
                view_rows.push(row);
            } else {
                add_row(&mut more, &row);
                closed_more |= target.is_none();
                self.rest.add(&c.latency);
            }
        }
        if closed_total {
            total.target = None;
        }
        if closed_more {
            more.target = None;
        }
        total.p50_us = self.all.quantile(0.5);
        total.p99_us = self.all.quantile(0.99);
        let more = (shown < n).then(|| {
            more.label = format!("+{} more", n - shown);
            more.p50_us = self.rest.quantile(0.5);
            more.p99_us = self.rest.quantile(0.99);
            more
        });
        let progress = match (self.duration, self.requests) {
            (Some(d), _) => Progress::Time {
                total_s: d.as_secs_f64(),
            },
            (None, Some(total)) => Progress::Requests { done, total },
            (None, None) => Progress::Time { total_s: 0.0 },
        };
        View {
            elapsed_s,
            progress,
            heading: self.heading.clone(),
            total,
            line_rps: self.line_rps,
            conn_errors: self.last.conn_errors.iter().sum(),
            spark: self.spark.iter().copied().collect(),
            rows: view_rows,
            more,
        }
    }
}

fn empty_row(label: String) -> Row {
    Row {
        label,
        rps: 0.0,
        target: None,
        p50_us: None,
        p99_us: None,
        classes: [0; 5],
    }
}

/// Adds `row`'s rates and counts into `sum` (not its percentiles).
fn add_row(sum: &mut Row, row: &Row) {
    sum.rps += row.rps;
    if let Some(t) = row.target {
        sum.target = Some(sum.target.unwrap_or(0.0) + t);
    }
    for (a, b) in sum.classes.iter_mut().zip(row.classes.iter()) {
        *a += b;
    }
}

/// Endpoint table lines that fit a terminal of `height` rows under the fixed lines
/// (one row is left free for the cursor), at most `MAX_ROWS + 1`.
pub fn table_rows_for(height: usize) -> usize {
    height.saturating_sub(FIXED_LINES + 1).min(MAX_ROWS + 1)
}

/// Printable text only: control characters become `?`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `n` with thousands separators: `12,345`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate for the totals: grouped whole numbers, one decimal below 100 when it has one.
fn rate_text(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        return "0".into();
    }
    if r < 99.95 && (r - r.round()).abs() >= 0.05 {
        return format!("{r:.1}");
    }
    grouped(r.round() as u64)
}

/// A latency in µs: `850µs`, `1.23ms`, `4.50s`; `-` when unknown.
fn latency_text(us: Option<u64>) -> String {
    us.map_or_else(
        || "-".into(),
        |us| format_duration(Duration::from_micros(us)),
    )
}

/// Seconds as a clock: `3s`, `2.5s`, `1m05s`, `1h02m`, with `decimals` below a minute.
fn clock_text(s: f64, decimals: usize) -> String {
    let s = if s.is_finite() { s.max(0.0) } else { 0.0 };
    if s < 60.0 {
        let shown = format!("{s:.decimals$}");
        // 59.96 at one decimal would read 60.0s: say 1m00s instead.
        if shown.parse::<f64>().unwrap_or(0.0) < 60.0 {
            return format!("{shown}s");
        }
    }
    let whole = (s as u64).max(60);
    if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h{:02}m", whole / 3600, whole % 3600 / 60)
    }
}

/// A run's length for display: whole seconds when it is whole, else one decimal.
fn total_text(total_s: f64) -> String {
    let decimals = if (total_s - total_s.round()).abs() < 1e-9 || total_s >= 60.0 {
        0
    } else {
        1
    };
    clock_text(total_s, decimals)
}

/// The totals: `12,345 req/s  p50 1.23ms  p99 4.56ms  2xx 36,000  err 0` (`A / T req/s`
/// against a target; 3xx/4xx/5xx and connection errors only when there are some).
fn totals_text(view: &View, rps: f64) -> Vec<Seg> {
    let t = &view.total;
    let mut segs = Vec::new();
    let rate = match t.target {
        Some(target) => format!("{} / {} req/s", rate_text(rps), rate_text(target)),
        None => format!("{} req/s", rate_text(rps)),
    };
    segs.push(Seg::new(rate, None));
    segs.push(Seg::new(
        format!(
            "  p50 {}  p99 {}",
            latency_text(t.p50_us),
            latency_text(t.p99_us)
        ),
        None,
    ));
    const NAMES: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "err"];
    for (k, name) in NAMES.iter().enumerate() {
        let n = t.classes[k];
        if n == 0 && (1..=3).contains(&k) {
            continue;
        }
        segs.push(Seg::new(format!("  {name} "), None));
        segs.push(Seg::new(grouped(n), class_style(k, n)));
    }
    if view.conn_errors > 0 {
        segs.push(Seg::new("  conn err ", None));
        segs.push(Seg::new(grouped(view.conn_errors), Some(RED)));
    }
    segs
}

/// The plain progress line: `[  3s/10s] 12,345 req/s  p50 1.23ms  ...` (a counted run:
/// `[  3s 4,000/10,000] ...`). Plain text: no escapes, no braces.
pub fn progress_line(view: &View) -> String {
    let elapsed = clock_text(view.elapsed_s.floor(), 0);
    let head = match view.progress {
        Progress::Time { total_s } => {
            let total = total_text(total_s);
            format!("[{elapsed:>w$}/{total}]", w = total.len().max(4))
        }
        Progress::Requests { done, total } => {
            format!("[{elapsed:>3} {}/{}]", grouped(done), grouped(total))
        }
    };
    let mut line = head;
    line.push(' ');
    for s in totals_text(view, view.line_rps) {
        line.push_str(&s.text);
    }
    // The labels never reach this line; keep the promise anyway.
    line.replace(['{', '}'], "")
}

const GREEN: &str = "32";
const YELLOW: &str = "33";
const RED: &str = "31";
const CYAN: &str = "36";
const DIM: &str = "2";
const BOLD: &str = "1";

/// A piece of a panel line and its SGR style (`None`: plain).
#[derive(Debug, Clone)]
struct Seg {
    text: String,
    style: Option<&'static str>,
}

impl Seg {
    fn new(text: impl Into<String>, style: Option<&'static str>) -> Seg {
        Seg {
            text: text.into(),
            style,
        }
    }
}

fn class_style(k: usize, n: u64) -> Option<&'static str> {
    if n == 0 {
        return if k == 0 { None } else { Some(DIM) };
    }
    Some(match k {
        0 => GREEN,
        1 => CYAN,
        2 => YELLOW,
        _ => RED,
    })
}

/// Joins `segs` into one line of at most `width` characters, styled when `color`.
fn line(segs: &[Seg], width: usize, color: bool) -> String {
    let mut out = String::new();
    let mut left = width;
    for s in segs.iter().filter(|s| !s.text.is_empty()) {
        if left == 0 {
            break;
        }
        let n = s.text.chars().count();
        let text: String = if n > left {
            s.text.chars().take(left).collect()
        } else {
            s.text.clone()
        };
        left -= n.min(left);
        match s.style.filter(|_| color) {
            Some(style) => {
                let _ = write!(out, "\x1b[{style}m{text}\x1b[0m");
            }
            None => out.push_str(&text),
        }
    }
    out
}

/// The line printed once above the panel: what runs, how long, where, with how many
/// connections and threads. One endpoint is named by its URL; several are counted (the
/// first one's URL alone would say the run hits only that). Fit it to the terminal with
/// `fit_middle`: a wrapped line would leave its tail on a line of its own.
pub fn banner(plan: &Plan) -> String {
    let what = match (plan.duration, plan.requests) {
        (Some(d), Some(n)) => format!("{d:?} or {} requests", grouped(n)),
        (Some(d), None) => format!("{d:?}"),
        (None, Some(n)) => format!("{} requests", grouped(n)),
        (None, None) => "until stopped".into(),
    };
    let target = match plan.endpoints.as_slice() {
        [one] => format!("{} {}", one.method, sanitize(&one.target.url())),
        many => format!("{} endpoints", many.len()),
    };
    let count = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    format!(
        "tressi: running {what} @ {target} ({}, {})",
        count(plan.connections, "connection"),
        count(plan.threads, "thread")
    )
}

/// `s` cut to `width` characters, the middle replaced by `…` when too long (the start
/// and the end of a URL say most).
pub fn fit_middle(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// The sparkline of the last `width` values, scaled to their maximum.
pub fn sparkline(values: &[f64], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let max = shown.iter().copied().fold(0.0, f64::max);
    shown
        .iter()
        .map(|&v| {
            let level = if max > 0.0 && v.is_finite() {
                ((v.max(0.0) / max) * 7.0).round() as usize
            } else {
                0
            };
            SPARKS[level.min(7)]
        })
        .collect()
}

/// The table's columns: heading, width, and the cell of a row.
type Column = (
    &'static str,
    usize,
    fn(&Row) -> (String, Option<&'static str>),
);

fn columns(rated: bool) -> Vec<Column> {
    fn class(k: usize) -> impl Fn(&Row) -> (String, Option<&'static str>) {
        move |r: &Row| {
            (
                format_count(r.classes[k] as f64),
                class_style(k, r.classes[k]),
            )
        }
    }
    let mut cols: Vec<Column> = vec![("req/s", 6, |r| {
        let slow = r.target.is_some_and(|t| t > 0.0 && r.rps < 0.8 * t);
        (format_count(r.rps), slow.then_some(YELLOW))
    })];
    if rated {
        cols.push(("target", 6, |r| {
            (r.target.map_or_else(|| "-".into(), format_count), None)
        }));
    }
    cols.push(("p50", 7, |r| (latency_text(r.p50_us), None)));
    cols.push(("p99", 7, |r| (latency_text(r.p99_us), None)));
    cols.push(("2xx", CLASS_W, |r| class(0)(r)));
    cols.push(("3xx", CLASS_W, |r| class(1)(r)));
    cols.push(("4xx", CLASS_W, |r| class(2)(r)));
    cols.push(("5xx", CLASS_W, |r| class(3)(r)));
    cols.push(("err", CLASS_W, |r| class(4)(r)));
    cols
}

/// The live panel's lines (without newlines), each at most `width - 1` characters so the
/// terminal never wraps them, at most `height - 1` lines: the progress bar, the totals,
/// the req/s sparkline, then the endpoint table (as many rows as the view carries).
pub fn render_panel(view: &View, width: usize, height: usize, color: bool) -> Vec<String> {
    let w = width.max(20) - 1;
    let mut out = Vec::new();

    // 1. Progress bar.
    let (fraction, text) = match view.progress {
        Progress::Time { total_s } => (
            if total_s > 0.0 {
                view.elapsed_s / total_s
            } else {
                0.0
            },
            format!(
                "{} / {}",
                clock_text(view.elapsed_s, 1),
                total_text(total_s)
            ),
        ),
        Progress::Requests { done, total } => (
            if total > 0 {
                done as f64 / total as f64
            } else {
                0.0
            },
            format!(
                "{} / {} requests  {}",
                grouped(done),
                grouped(total),
                clock_text(view.elapsed_s, 1)
            ),
        ),
    };
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let text = format!("  {text}  {:>3.0}%", fraction * 100.0);
    let bar_w = w.saturating_sub(text.chars().count()).clamp(10, 40);
    let filled = ((fraction * bar_w as f64).round() as usize).min(bar_w);
    out.push(line(
        &[
            Seg::new("█".repeat(filled), Some(GREEN)),
            Seg::new("░".repeat(bar_w - filled), Some(DIM)),
            Seg::new(text, None),
        ],
        w,
        color,
    ));

    // 2. Totals.
    out.push(line(&totals_text(view, view.total.rps), w, color));

    // 3. Sparkline.
    let peak = view.spark.iter().copied().fold(0.0, f64::max);
    let prefix = "req/s ";
    let suffix = format!("  peak {}", format_count(peak.round()));
    let spark_w = w
        .saturating_sub(prefix.len() + suffix.len())
        .min(SPARK_KEEP);
    out.push(line(
        &[
            Seg::new(prefix, Some(DIM)),
            Seg::new(sparkline(&view.spark, spark_w), Some(CYAN)),
            Seg::new(suffix, Some(DIM)),
        ],
        w,
        color,
    ));

    // 4. Endpoint table.
    let rows: Vec<&Row> = view.rows.iter().chain(view.more.as_ref()).collect();
    if !rows.is_empty() {
        let rated = rows.iter().any(|r| r.target.is_some());
        let mut cols = columns(rated);
        let used = |cols: &[Column]| cols.iter().map(|c| c.1 + 1).sum::<usize>();
        for name in DROP_ORDER {
            if w.saturating_sub(used(&cols)) >= MIN_LABEL {
                break;
            }
            cols.retain(|c| c.0 != name);
        }
        let label_w = w.saturating_sub(used(&cols)).max(1);
        // A heading too long loses its `http://` before its middle.
        let heading = match view.heading.strip_prefix("http://") {
            Some(short) if view.heading.chars().count() > label_w => short,
            _ => &view.heading,
        };
        let mut header = vec![Seg::new(
            format!("{:<label_w$}", fit_middle(heading, label_w)),
            Some(BOLD),
        )];
        for (name, cw, _) in &cols {
            header.push(Seg::new(format!(" {name:>cw$}"), Some(BOLD)));
        }
        out.push(line(&header, w, color));
        for r in rows {
            let mut segs = vec![Seg::new(
                format!("{:<label_w$}", fit_middle(&r.label, label_w)),
                None,
            )];
            for (_, cw, cell) in &cols {
                let (text, style) = cell(r);
                segs.push(Seg::new(" ", None));
                segs.push(Seg::new(format!("{text:>cw$}"), style));
            }
            out.push(line(&segs, w, color));
        }
    }
    out.truncate(height.max(2) - 1);
    out
}

/// Hides the cursor.
pub const HIDE_CURSOR: &str = "\x1b[?25l";
/// Shows the cursor again.
pub const SHOW_CURSOR: &str = "\x1b[?25h";

/// What replaces a panel of `prev` lines (the cursor at the start of the line below it)
/// with `lines`, leaving the cursor at the start of the line below the new panel: up
/// `prev` lines, each line followed by erase-to-end-of-line, then erase below (a shorter
/// panel leaves nothing behind).
pub fn frame(prev: usize, lines: &[String]) -> String {
    let mut s = String::new();
    s.push('\r');
    if prev > 0 {
        let _ = write!(s, "\x1b[{prev}A");
    }
    for l in lines {
        s.push_str(l);
        s.push_str("\x1b[K\n");
    }
    s.push_str("\x1b[J");
    s
}

/// Erases a panel of `prev` lines, leaving the cursor where it began.
pub fn erase(prev: usize) -> String {
    frame(prev, &[])
}

/// Colour is wanted: on a terminal, unless `NO_COLOR` is set to a non-empty value.
pub fn color_wanted(no_color: Option<&std::ffi::OsStr>, tty: bool) -> bool {
    tty && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests;
