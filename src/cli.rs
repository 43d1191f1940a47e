//! Command line → `Command`, in two stages: `lexopt` turns any iterator of arguments into
//! raw options (`RunArgs`: every value parsed, nothing cross-checked, defaults not yet
//! applied), then `RunArgs::validate` applies defaults and cross-checks into a `Plan`.
//! Also owns the help text.
//!
//! Must not touch the OS beyond two reads: the number of CPUs (default `--threads`) and
//! the `--body-file` contents. No name resolution (`Plan::addrs` is left empty), no
//! printing, no exit, and no panic on any argument, non-UTF-8 ones included.
//!
//! Choices:
//! - Errors are `Error::Usage` (`Error::Url` for the URL, `Error::Setup` when
//!   `--body-file` cannot be read), one line naming the flag (by its long name) and value.
//! - A single-valued flag given twice: the last one wins. `-H` accumulates.
//! - `--body` and `--body-file` together are an error.
//! - `--threads` defaults to the CPU count clamped to `--connections`; an explicit
//!   `--threads` above `--connections` is an error (as in wrk), not silently clamped.
//! - Limits: connections 1..=1_000_000, threads 1..=1024, pipelining 1..=1024,
//!   `--requests` >= 1, `--duration`/`--timeout`/`--connect-timeout` > 0.
//! - Subcommands (`demo`, `target`, `help`) must be the first argument; the same word
//!   later on the line is an error pointing that out (write `http://demo/` for a host
//!   of that name).
//! - `https://` URLs are accepted here (a build without the `tls` feature refuses them
//!   at the run's set-up).
//! - `-h`/`--help` anywhere returns the help (errors in earlier arguments win).
//! - Config files (`--config FILE`, long only, or `tressi run FILE`): see `config`.
//!   Precedence: a flag on the command line, else the config's `options`, else the
//!   default. `-c` stays `--connections` (total). With a config, a URL argument is an
//!   error (the config lists the requests), and so are `-m`, `-b`, `--body-file` (set
//!   them per request); `-H` adds (and overrides) a header on every request.
//! - `--rps N` (`-R`, `--rate`): the rate of every request without an `rps` of its own,
//!   per request (ten requests at `--rps 10` send 100 req/s in all). With a single URL
//!   it is that URL's rate. `--timeout` is the default; a request's `timeout` wins.
//! - `--concurrent-requests N`: connections per worker, so connections = N × threads;
//!   it cannot be combined with `-c`.
//! - `--max-connections N` needs `--autoscale`, must be >= connections, and defaults to
//!   4 × connections (at most 1000000).
//! - `--early-exit-on-error` needs at least one threshold (from the flags or the
//!   config's `workerEarlyExit`); a threshold flag without it is an error. The flags
//!   override the config's thresholds one by one; the window comes from the config.

use crate::config::{self, Config};
use crate::error::Error;
use crate::plan::{Command, EarlyExit, Endpoint, Output, Plan, ReportOptions, TargetOptions};
use crate::target::Target;
use crate::units::{parse_count, parse_duration, parse_size};
use lexopt::Arg::{Long, Short, Value};
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// Default `--connections`.
pub const DEFAULT_CONNECTIONS: usize = 50;
/// Default `--duration` when `--requests` is not given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Default `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--connect-timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound of `--connections`.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Upper bound of `--threads` (load generator and built-in target).
pub const MAX_THREADS: usize = 1024;
/// Upper bound of `--pipelining`.
pub const MAX_PIPELINING: usize = 1024;
/// Default `tressi target --listen`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// Default `tressi target --body-size` ("hello, world\n").
pub const DEFAULT_BODY_SIZE: usize = 13;
/// Upper bound of `tressi target --body-size`.
pub const MAX_BODY_SIZE: usize = 1 << 30;

/// Where the request body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySource {
    /// `-b/--body`: the bytes as given.
    Inline(Vec<u8>),
    /// `--body-file`: read at validation.
    File(PathBuf),
}

/// Stage one: the run options as given, each value parsed, no defaults applied and no
/// cross-checks done. `None` = not given. (A config file can fill one of these too.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunArgs {
    pub url: Option<String>,
    pub connections: Option<u64>,
    pub threads: Option<u64>,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub pipelining: Option<u64>,
    /// Already upper-cased and checked to be a token.
    pub method: Option<String>,
    /// Already checked: token names, trimmed values without control characters.
    pub headers: Vec<(String, String)>,
    pub body: Option<BodySource>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub no_keepalive: bool,
    pub json: bool,
    pub no_ui: bool,
    pub quiet: bool,
    /// `--config FILE` or `tressi run FILE`.
    pub config: Option<PathBuf>,
    /// `--rps`/`-R`/`--rate`, > 0.
    pub rps: Option<f64>,
    pub concurrent_requests: Option<u64>,
    pub ramp_up: Option<Duration>,
    pub autoscale: bool,
    pub max_connections: Option<u64>,
    pub export: Option<PathBuf>,
    pub latency: bool,
    pub show_secrets: bool,
    pub early_exit_on_error: bool,
    /// In (0, 1].
    pub error_rate_threshold: Option<f64>,
    pub error_count_threshold: Option<u64>,
    /// Each in 100..=599.
    pub error_status_codes: Option<Vec<u16>>,
    /// `--sample-size`, bytes (at most `samples::MAX_SAMPLE_SIZE`).
    pub sample_size: Option<u64>,
    /// `--cacert`, `--cert`, `--key`, `--insecure`, `--sni`.
    pub tls: crate::plan::TlsOptions,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl RunArgs {
    /// Stage two: defaults, ranges and cross-checks → a `Plan` (addresses unresolved).
    /// Reads `--body-file`.
    pub fn validate(self) -> Result<Plan, Error> {
        self.validate_with_cpus(cpus())
    }

    /// `validate` with the CPU count given (the default for `--threads`). Reads the
    /// config file, if any.
    pub fn validate_with_cpus(self, cpus: usize) -> Result<Plan, Error> {
        let config = match &self.config {
            Some(path) => Some(config::load(path)?),
            None => None,
        };
        self.validate_with(cpus, config)
    }

    /// `validate` with the CPU count and the already loaded config (if any) given.
    pub fn validate_with(self, cpus: usize, config: Option<Config>) -> Result<Plan, Error> {
        let (config_reqs, opts) = match config {
            Some(c) => (Some(c.requests), c.options),
            None => (None, Default::default()),
        };
        if config_reqs.is_some() {
            if let Some(url) = &self.url {
                return Err(usage(format!(
                    "a URL ('{url}') and a config file cannot both be given \
                     (the config lists the requests)"
                )));
            }
            let single = [
                ("--method", self.method.is_some()),
                ("--body", matches!(self.body, Some(BodySource::Inline(_)))),
                (
                    "--body-file",
                    matches!(self.body, Some(BodySource::File(_))),
                ),
            ];
            if let Some((flag, _)) = single.iter().find(|(_, given)| *given) {
                return Err(usage(format!(
                    "{flag} applies to a single URL; with a config file set it per request"
                )));
            }
        } else if self.url.is_none() {
            return Err(usage(
                "missing URL (usage: tressi [OPTIONS] URL; see 'tressi --help')",
            ));
        }

        if self.connections.is_some() && self.concurrent_requests.is_some() {
            return Err(usage(
                "--connections and --concurrent-requests cannot both be given \
                 (-c is the total, --concurrent-requests is per worker)",
            ));
        }
        let threads_given = range("--threads", self.threads.or(opts.threads), 1, MAX_THREADS)?;
        let per_worker = range(
            "--concurrent-requests",
            self.concurrent_requests,
            1,
            MAX_CONNECTIONS,
        )?;
        let connections = match per_worker {
            Some(n) => {
                let t = threads_given.unwrap_or_else(|| cpus.clamp(1, MAX_THREADS));
                let total = n.saturating_mul(t);
                if total > MAX_CONNECTIONS {
                    return Err(usage(format!(
                        "--concurrent-requests {n} x {t} threads is {total} connections \
                         (at most {MAX_CONNECTIONS})"
                    )));
                }
                total
            }
            None => range(
                "--connections",
                self.connections.or(opts.connections),
                1,
                MAX_CONNECTIONS,
            )?
            .unwrap_or(DEFAULT_CONNECTIONS),
        };
        let threads = match threads_given {
            Some(t) if t > connections => {
                return Err(usage(format!(
                    "--threads {t} is more than --connections {connections} \
                     (each thread needs at least one connection)"
                )))
            }
            Some(t) => t,
            None => cpus.clamp(1, MAX_THREADS).min(connections),
        };
        let pipelining = range(
            "--pipelining",
            self.pipelining.or(opts.pipelining),
            1,
            MAX_PIPELINING,
        )?
        .unwrap_or(1);
        let requests = match self.requests {
            Some(0) => return Err(usage("--requests: must be at least 1 (got 0)")),
            n => n,
        };
        let duration = match self.duration.or(opts.duration) {
            Some(d) => Some(positive("--duration", d)?),
            None if requests.is_some() => None,
            None => Some(DEFAULT_DURATION),
        };
        let timeout = match self.timeout {
            Some(d) => positive("--timeout", d)?,
            None => DEFAULT_TIMEOUT,
        };
        let connect_timeout = match self.connect_timeout {
            Some(d) => positive("--connect-timeout", d)?,
            None => DEFAULT_CONNECT_TIMEOUT,
        };
        let early_exit = self.early_exit_rule(&opts)?;
        let body = match self.body {
            None => Vec::new(),
            Some(BodySource::Inline(bytes)) => bytes,
            Some(BodySource::File(path)) => std::fs::read(&path).map_err(|e| {
                Error::Setup(format!(
                    "--body-file '{}': cannot read: {e}",
                    path.display()
                ))
            })?,
        };

        let max_connections = match self.max_connections {
            Some(_) if !self.autoscale => {
                return Err(usage("--max-connections needs --autoscale"));
            }
            Some(n) => match range("--max-connections", Some(n), 1, MAX_CONNECTIONS)? {
                Some(m) if m < connections => {
                    return Err(usage(format!(
                        "--max-connections {m} is less than --connections {connections}"
                    )))
                }
                m => m.unwrap_or(connections),
            },
            None => connections.saturating_mul(4).min(MAX_CONNECTIONS),
        };
        let ramp_up = self.ramp_up.filter(|d| !d.is_zero()).or(opts.ramp_up);

        let endpoints = match config_reqs {
            Some(reqs) => reqs
                .into_iter()
                .map(|r| {
                    let mut ep = r.endpoint;
                    ep.rate = match r.rps {
                        Some(x) if x > 0.0 => Some(x),
                        Some(_) => None,
                        None => self.rps,
                    };
                    for (n, v) in &self.headers {
                        config::set_header(&mut ep.headers, n, v);
                    }
                    ep
                })
                .collect(),
            None => {
                let target = Target::parse(self.url.as_deref().unwrap_or_default())?;
                vec![Endpoint {
                    method: self.method.unwrap_or_else(|| "GET".to_string()),
                    headers: self.headers,
                    body,
                    rate: self.rps,
                    ..Endpoint::get(target)
                }]
            }
        };

        Ok(Plan {
            endpoints,
            connections,
            threads,
            duration,
            requests,
            pipelining,
            timeout,
            connect_timeout,
            keepalive: !self.no_keepalive && opts.keepalive.unwrap_or(true),
            output: Output {
                json: self.json,
                ui: !self.no_ui && opts.ui.unwrap_or(true),
                quiet: self.quiet,
            },
            addrs: Vec::new(),
            ramp_up,
            early_exit,
            autoscale: self.autoscale,
            max_connections,
            export: self.export,
            sample_size: self
                .sample_size
                .or(opts.sample_size)
                .map_or(crate::samples::DEFAULT_SAMPLE_SIZE, |n| n as usize),
            report: ReportOptions {
                latency: self.latency,
                show_secrets: self.show_secrets,
            },
            tls: crate::plan::TlsOptions {
                cacert: self.tls.cacert.or(opts.tls.cacert.clone()),
                cert: self.tls.cert.or(opts.tls.cert.clone()),
                key: self.tls.key.or(opts.tls.key.clone()),
                insecure: self.tls.insecure || opts.tls.insecure,
                sni: self.tls.sni.or(opts.tls.sni.clone()),
            },
        })
    }

    /// The run-wide early-exit rule: the config's, with the flags' thresholds on top.
    fn early_exit_rule(&self, opts: &config::ConfigOptions) -> Result<Option<EarlyExit>, Error> {
        let given = [
            (
                "--error-rate-threshold",
                self.error_rate_threshold.is_some(),
            ),
            (
                "--error-count-threshold",
                self.error_count_threshold.is_some(),
            ),
            ("--error-status-codes", self.error_status_codes.is_some()),
        ];
        if !self.early_exit_on_error {
            if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
                return Err(usage(format!("{flag} needs --early-exit-on-error")));
            }
            return Ok(opts.early_exit.clone());
        }
        let mut rule = opts.early_exit.clone().unwrap_or(EarlyExit {
            window: opts.early_exit_window,
            ..EarlyExit::default()
        });
        if let Some(x) = self.error_rate_threshold {
            rule.error_rate = Some(x);
        }
        if let Some(n) = self.error_count_threshold {
            rule.error_count = Some(n);
        }
        if let Some(codes) = &self.error_status_codes {
            rule.status_codes = codes.clone();
        }
        if rule.error_rate.is_none() && rule.error_count.is_none() && rule.status_codes.is_empty() {
            return Err(usage(
                "--early-exit-on-error needs a threshold: --error-rate-threshold, \
                 --error-count-threshold or --error-status-codes (or workerEarlyExit in \
                 the config)",
            ));
        }
        Ok(Some(rule))
    }
}

/// Checks an optional count against `min..=max`.
fn range(flag: &str, value: Option<u64>, min: usize, max: usize) -> Result<Option<usize>, Error> {
    let Some(n) = value else { return Ok(None) };
    if n < min as u64 {
        return Err(usage(format!("{flag}: must be at least {min} (got {n})")));
    }
    match usize::try_from(n) {
        Ok(n) if n <= max => Ok(Some(n)),
        _ => Err(usage(format!("{flag}: must be at most {max} (got {n})"))),
    }
}

fn positive(flag: &str, d: Duration) -> Result<Duration, Error> {
    if d.is_zero() {
        return Err(usage(format!("{flag}: must be greater than 0 (got 0s)")));
    }
    Ok(d)
}

/// The whole argument list after argv[0] → a `Command`.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Command, Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("demo") => parse_demo(&args[1..]),
        Some("target") => parse_target(&args[1..]),
        Some("help") => Ok(Command::Help(help())),
        Some(sub @ ("init" | "schema")) => parse_bare(sub, &args[1..]),
        Some("run") => match parse_run(args[1..].to_vec(), true)? {
            Parsed::Done(cmd) => Ok(cmd),
            Parsed::Run(raw) if raw.config.is_none() => Err(usage(
                "missing config FILE (usage: tressi run FILE [OPTIONS])",
            )),
            Parsed::Run(raw) => Ok(Command::Run(Box::new(raw.validate()?))),
        },
        _ => match parse_run(args, false)? {
            Parsed::Done(cmd) => Ok(cmd),
            Parsed::Run(raw) => Ok(Command::Run(Box::new(raw.validate()?))),
        },
    }
}

/// What the run parser found: options to validate, or a command to return at once.
enum Parsed {
    Run(Box<RunArgs>),
    Done(Command),
}

/// The canonical long name of a short or long flag, or `None` if unknown.
fn canonical(arg: &lexopt::Arg<'_>) -> Option<&'static str> {
    Some(match arg {
        Short('c') | Long("connections") => "--connections",
        Short('t') | Long("threads") | Long("workers") => "--threads",
        Short('d') | Long("duration") => "--duration",
        Short('n') | Long("requests") => "--requests",
        Short('p') | Long("pipelining") => "--pipelining",
        Short('m') | Long("method") => "--method",
        Short('H') | Long("header") => "--header",
        Short('b') | Long("body") => "--body",
        Long("body-file") => "--body-file",
        Long("timeout") => "--timeout",
        Long("connect-timeout") => "--connect-timeout",
        Long("cacert") => "--cacert",
        Long("cert") => "--cert",
        Long("key") => "--key",
        Short('k') | Long("insecure") => "--insecure",
        Long("sni") => "--sni",
        Long("no-keepalive") => "--no-keepalive",
        Long("json") => "--json",
        Long("no-ui") => "--no-ui",
        Short('q') | Long("quiet") => "--quiet",
        Short('h') | Long("help") => "--help",
        Short('V') | Long("version") => "--version",
        Long("listen") => "--listen",
        Long("body-size") => "--body-size",
        Long("config") => "--config",
        Short('R') | Long("rps") | Long("rate") => "--rps",
        Long("concurrent-requests") => "--concurrent-requests",
        Long("ramp-up-time") => "--ramp-up-time",
        Long("autoscale") => "--autoscale",
        Long("max-connections") => "--max-connections",
        Long("export") => "--export",
        Long("latency") => "--latency",
        Long("show-secrets") => "--show-secrets",
        Long("summary") => "--summary",
        Long("early-exit-on-error") => "--early-exit-on-error",
        Long("error-rate-threshold") => "--error-rate-threshold",
        Long("error-count-threshold") => "--error-count-threshold",
        Long("error-status-codes") => "--error-status-codes",
        Long("sample-size") => "--sample-size",
        _ => return None,
    })
}

fn unknown(arg: &lexopt::Arg<'_>, context: &str) -> Error {
    let shown = match arg {
        Short(c) => format!("-{c}"),
        Long(l) => format!("--{l}"),
        Value(v) => v.to_string_lossy().into_owned(),
    };
    usage(format!(
        "unknown option '{shown}'{context} (see 'tressi --help')"
    ))
}

/// Maps a lexopt error from `next()`.
fn lex_error(e: lexopt::Error) -> Error {
    match e {
        lexopt::Error::UnexpectedValue { option, value } => usage(format!(
            "{option} takes no value (got '{}')",
            value.to_string_lossy()
        )),
        other => usage(other.to_string()),
    }
}

/// The value of `flag` (next argument or `=value`), as raw OS string.
fn os_value(p: &mut lexopt::Parser, flag: &str) -> Result<OsString, Error> {
    p.value()
        .map_err(|_| usage(format!("missing value for {flag}")))
}

/// The value of `flag` as UTF-8.
fn str_value(p: &mut lexopt::Parser, flag: &str) -> Result<String, Error> {
    os_value(p, flag)?.into_string().map_err(|v| {
        usage(format!(
            "{flag}: value '{}' is not valid UTF-8",
            v.to_string_lossy()
        ))
    })
}

fn count_value(p: &mut lexopt::Parser, flag: &str) -> Result<u64, Error> {
    parse_count(&str_value(p, flag)?).map_err(|e| usage(format!("{flag}: {e}")))
}

fn duration_value(p: &mut lexopt::Parser, flag: &str) -> Result<Duration, Error> {
    parse_duration(&str_value(p, flag)?).map_err(|e| usage(format!("{flag}: {e}")))
}

#[cfg(unix)]
fn os_bytes(s: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    s.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: OsString) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// `-m/--method`: a token, upper-cased.
pub fn parse_method(s: &str) -> Result<String, Error> {
    if !is_token(s) {
        return Err(usage(format!(
            "--method: '{}' is not a valid method (letters, digits and !#$%&'*+-.^_`|~ only)",
            s.escape_debug()
        )));
    }
    Ok(s.to_ascii_uppercase())
}

/// `-H/--header`: `Name: value` → (name as given, value trimmed of spaces and tabs).
pub fn parse_header(s: &str) -> Result<(String, String), Error> {
    let shown = s.escape_debug();
    let Some((name, value)) = s.split_once(':') else {
        return Err(usage(format!(
            "--header: '{shown}' has no ':' (expected 'Name: value')"
        )));
    };
    if name.is_empty() {
        return Err(usage(format!("--header: '{shown}' has an empty name")));
    }
    if !is_token(name) {
        return Err(usage(format!(
            "--header: invalid name '{}' in '{shown}' (letters, digits and \
             !#$%&'*+-.^_`|~ only; no space before ':')",
            name.escape_debug()
        )));
    }
    let value = value.trim_matches([' ', '\t']);
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(usage(format!(
            "--header: value of '{name}' contains a control character (CR, LF, NUL...)"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

/// For a flag that returns at once (`--help`, `--version`): reject `--flag=value`,
/// which lexopt would only report at the next `next()`. Short flags are left alone so
/// that a cluster like `-hV` is not read as `-h` with the value `V`.
fn no_value(p: &mut lexopt::Parser, is_long: bool, flag: &str) -> Result<(), Error> {
    if is_long {
        if let Some(v) = p.optional_value() {
            return Err(usage(format!(
                "{flag} takes no value (got '{}')",
                v.to_string_lossy()
            )));
        }
    }
    Ok(())
}

/// `--rps`: a positive rate, e.g. `100`, `0.5`, `5k`.
pub fn parse_rate(flag: &str, s: &str) -> Result<f64, Error> {
    let bad = || {
        usage(format!("{flag}: invalid rate '{s}': expected a number of requests per second > 0, e.g. 100, 0.5, 5k"))
    };
    let x = match parse_count(s) {
        Ok(n) => n as f64,
        Err(_) => s.trim().parse::<f64>().map_err(|_| bad())?,
    };
    if !x.is_finite() || x <= 0.0 {
        return Err(bad());
    }
    if x > crate::plan::MAX_RATE {
        return Err(usage(format!(
            "{flag}: rate '{s}' is above the most one endpoint may ask for, 10M requests per second"
        )));
    }
    Ok(x)
}

/// `--error-rate-threshold`: a fraction in (0, 1].
pub fn parse_fraction(flag: &str, s: &str) -> Result<f64, Error> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(usage(format!(
            "{flag}: invalid value '{s}': expected a fraction above 0 and at most 1, e.g. 0.05"
        ))),
    }
}

/// `--error-status-codes`: comma-separated statuses in 100..=599.
pub fn parse_status_codes(flag: &str, s: &str) -> Result<Vec<u16>, Error> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.trim().parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            _ => {
                return Err(usage(format!(
                    "{flag}: invalid status '{}' in '{s}': expected codes 100-599 \
                     separated by commas, e.g. 500,503",
                    part.trim()
                )))
            }
        }
    }
    Ok(out)
}

/// `tressi init` / `tressi schema [--summary]`: no arguments but `--help` (and
/// `--summary` for `schema`).
fn parse_bare(sub: &str, args: &[OsString]) -> Result<Command, Error> {
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let mut summary = false;
    while let Some(arg) = p.next().map_err(lex_error)? {
        if canonical(&arg) == Some("--help") {
            return Ok(Command::Help(help()));
        }
        if sub == "schema" && !summary && canonical(&arg) == Some("--summary") {
            summary = true;
            continue;
        }
        return Err(usage(format!(
            "'tressi {sub}' takes no arguments (got '{}')",
            match arg {
                Short(c) => format!("-{c}"),
                Long(l) => format!("--{l}"),
                Value(v) => v.to_string_lossy().into_owned(),
            }
        )));
    }
    Ok(match (sub, summary) {
        ("init", _) => Command::Init,
        (_, false) => Command::Schema,
        (_, true) => Command::SummarySchema,
    })
}

/// The run options; with `run_file`, the first positional argument is the config file
/// (`tressi run FILE`).
fn parse_run(args: Vec<OsString>, run_file: bool) -> Result<Parsed, Error> {
    let mut raw = RunArgs::default();
    let mut inline_body = false;
    let mut file_body = false;
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(lex_error)? {
        if let Value(v) = arg {
            if run_file && raw.config.is_none() {
                raw.config = Some(PathBuf::from(v));
                continue;
            }
            let url = v
                .into_string()
                .map_err(|v| Error::Url(format!("'{}': not valid UTF-8", v.to_string_lossy())))?;
            if matches!(
                url.as_str(),
                "demo" | "target" | "help" | "init" | "schema" | "run"
            ) {
                return Err(usage(format!(
                    "'{url}' is a subcommand and must come first ('tressi {url} ...'); \
                     for a host named {url} write http://{url}/"
                )));
            }
            if let Some(first) = &raw.url {
                return Err(usage(format!(
                    "more than one URL: '{first}' and '{url}' (tressi takes one URL)"
                )));
            }
            raw.url = Some(url);
            continue;
        }
        let is_long = matches!(arg, Long(_));
        let Some(flag) =
            canonical(&arg).filter(|f| !matches!(*f, "--listen" | "--body-size" | "--summary"))
        else {
            return Err(unknown(&arg, ""));
        };
        match flag {
            "--connections" => raw.connections = Some(count_value(&mut p, flag)?),
            "--threads" => raw.threads = Some(count_value(&mut p, flag)?),
            "--duration" => raw.duration = Some(duration_value(&mut p, flag)?),
            "--requests" => raw.requests = Some(count_value(&mut p, flag)?),
            "--pipelining" => raw.pipelining = Some(count_value(&mut p, flag)?),
            "--method" => raw.method = Some(parse_method(&str_value(&mut p, flag)?)?),
            "--header" => raw.headers.push(parse_header(&str_value(&mut p, flag)?)?),
            "--body" => {
                raw.body = Some(BodySource::Inline(os_bytes(os_value(&mut p, flag)?)));
                inline_body = true;
            }
            "--body-file" => {
                raw.body = Some(BodySource::File(PathBuf::from(os_value(&mut p, flag)?)));
                file_body = true;
            }
            "--timeout" => raw.timeout = Some(duration_value(&mut p, flag)?),
            "--connect-timeout" => raw.connect_timeout = Some(duration_value(&mut p, flag)?),
            "--no-keepalive" => raw.no_keepalive = true,
            "--cacert" => raw.tls.cacert = Some(PathBuf::from(os_value(&mut p, flag)?)),
            "--cert" => raw.tls.cert = Some(PathBuf::from(os_value(&mut p, flag)?)),
            "--key" => raw.tls.key = Some(PathBuf::from(os_value(&mut p, flag)?)),
            "--insecure" => raw.tls.insecure = true,
            "--sni" => raw.tls.sni = Some(str_value(&mut p, flag)?),
            "--json" => raw.json = true,
            "--no-ui" => raw.no_ui = true,
            "--quiet" => raw.quiet = true,
            "--config" => {
                if !is_long {
                    return Err(unknown(&arg, ""));
                }
                if run_file && raw.config.is_some() {
                    return Err(usage("'tressi run FILE' and --config cannot both be given"));
                }
                raw.config = Some(PathBuf::from(os_value(&mut p, flag)?));
            }
            "--rps" => raw.rps = Some(parse_rate(flag, &str_value(&mut p, flag)?)?),
            "--concurrent-requests" => raw.concurrent_requests = Some(count_value(&mut p, flag)?),
            "--ramp-up-time" => raw.ramp_up = Some(duration_value(&mut p, flag)?),
            "--autoscale" => raw.autoscale = true,
            "--max-connections" => raw.max_connections = Some(count_value(&mut p, flag)?),
            "--export" => {
                let dir = os_value(&mut p, flag)?;
                // An empty value (`--export "$OUT"` with OUT unset) would write the files
                // into the current directory.
                if dir.is_empty() {
                    return Err(usage("--export: empty directory name"));
                }
                raw.export = Some(PathBuf::from(dir));
            }
            "--latency" => raw.latency = true,
            "--show-secrets" => raw.show_secrets = true,
            "--early-exit-on-error" => raw.early_exit_on_error = true,
            "--error-rate-threshold" => {
                raw.error_rate_threshold = Some(parse_fraction(flag, &str_value(&mut p, flag)?)?)
            }
            "--error-count-threshold" => {
                let n = count_value(&mut p, flag)?;
                if n == 0 {
                    return Err(usage(format!("{flag}: must be at least 1 (got 0)")));
                }
                raw.error_count_threshold = Some(n);
            }
            "--error-status-codes" => {
                raw.error_status_codes = Some(parse_status_codes(flag, &str_value(&mut p, flag)?)?)
            }
            "--sample-size" => {
                let text = str_value(&mut p, flag)?;
                let n = parse_size(&text).map_err(|e| usage(format!("{flag}: {e}")))?;
                if n > crate::samples::MAX_SAMPLE_SIZE as u64 {
                    return Err(usage(format!(
                        "{flag}: must be at most 64MiB (got '{text}')"
                    )));
                }
                raw.sample_size = Some(n);
            }
            "--help" => {
                no_value(&mut p, is_long, flag)?;
                return Ok(Parsed::Done(Command::Help(help())));
            }
            "--version" => {
                no_value(&mut p, is_long, flag)?;
                return Ok(Parsed::Done(Command::Version));
            }
            _ => return Err(unknown(&arg, "")),
        }
        if inline_body && file_body {
            return Err(usage("--body and --body-file cannot both be given"));
        }
    }
    Ok(Parsed::Run(Box::new(raw)))
}

fn parse_demo(args: &[OsString]) -> Result<Command, Error> {
    let (mut json, mut ui, mut quiet) = (false, true, false);
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    while let Some(arg) = p.next().map_err(lex_error)? {
        match canonical(&arg) {
            Some("--json") => json = true,
            Some("--no-ui") => ui = false,
            Some("--quiet") => quiet = true,
            Some("--help") => return Ok(Command::Help(help())),
            _ => {
                if let Value(v) = &arg {
                    return Err(usage(format!(
                        "unexpected argument '{}' for 'tressi demo' (it takes no URL)",
                        v.to_string_lossy()
                    )));
                }
                return Err(unknown(&arg, " for 'tressi demo'"));
            }
        }
    }
    Ok(Command::Demo { json, ui, quiet })
}

/// `--listen`: `IP:PORT`, `[IPv6]:PORT`, `localhost:PORT`, `:PORT` or `PORT`
/// (the last three on 127.0.0.1). Port 0 asks the OS for a free port.
pub fn parse_listen(s: &str) -> Result<SocketAddr, Error> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port_text = s
        .strip_prefix("localhost:")
        .or_else(|| s.strip_prefix(':'))
        .unwrap_or(s);
    match port_text.parse::<u16>() {
        Ok(port) if port_text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
        }
        _ => Err(usage(format!(
            "--listen: invalid address '{}' (expected IP:PORT, e.g. 127.0.0.1:8080, or a port)",
            s.escape_debug()
        ))),
    }
}

fn parse_target(args: &[OsString]) -> Result<Command, Error> {
    let mut opts = TargetOptions {
        listen: DEFAULT_LISTEN,
        threads: 1,
        body_size: DEFAULT_BODY_SIZE,
    };
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    while let Some(arg) = p.next().map_err(lex_error)? {
        let flag = canonical(&arg);
        match flag {
            Some(f @ "--listen") => opts.listen = parse_listen(&str_value(&mut p, f)?)?,
            Some(f @ "--threads") => {
                let n = count_value(&mut p, f)?;
                opts.threads = range(f, Some(n), 1, MAX_THREADS)?.unwrap_or(1);
            }
            Some(f @ "--body-size") => {
                let text = str_value(&mut p, f)?;
                let n = parse_size(&text).map_err(|e| usage(format!("{f}: {e}")))?;
                opts.body_size = match usize::try_from(n) {
                    Ok(n) if n <= MAX_BODY_SIZE => n,
                    _ => return Err(usage(format!("{f}: must be at most 1GiB (got '{text}')"))),
                };
            }
            Some("--help") => return Ok(Command::Help(help())),
            _ => {
                if let Value(v) = &arg {
                    return Err(usage(format!(
                        "unexpected argument '{}' for 'tressi target' (use --listen ADDR)",
                        v.to_string_lossy()
                    )));
                }
                return Err(unknown(&arg, " for 'tressi target'"));
            }
        }
    }
    Ok(Command::Target(opts))
}

/// The help text (`-h/--help`, `tressi help`): usage, options with defaults,
/// subcommands, examples. Every line fits 80 columns.
pub fn help() -> String {
    format!(
        "\
tressi {version} - HTTP/1.1 load generator and latency benchmark

Usage: tressi [OPTIONS] URL
       tressi [OPTIONS] --config FILE   (or: tressi run FILE [OPTIONS])
       tressi init | schema [--summary]
       tressi demo [--json] [--no-ui] [--quiet]
       tressi target [--listen ADDR] [--threads N] [--body-size SIZE]

Arguments:
  URL  http[s]://host[:port]/path?query (no scheme = http://)

Options:
  -c, --connections N      Connections to keep open, in total             [50]
  -t, --threads N          Worker threads (alias --workers)      [CPUs, <= -c]
  -d, --duration D         Stop after D, e.g. 30s, 1m30s     [10s; none if -n]
  -n, --requests N         Stop after N requests, e.g. 100k
  -p, --pipelining N       Requests in flight per connection, <= 1024      [1]
  -m, --method M           Request method                                [GET]
  -H, --header 'N: V'      Add a request header (repeatable)
  -b, --body S             Request body
      --body-file PATH     Request body read from a file
      --timeout D          Response timeout                              [10s]
      --connect-timeout D  Connect timeout                                [5s]
      --no-keepalive       Send 'Connection: close' (one request per connection)
      --cacert FILE        https: trust the CA certificates in FILE (PEM) too
      --cert FILE          https: client certificate chain (PEM)
      --key FILE           https: private key of --cert (PEM)   [in --cert]
  -k, --insecure           https: do not verify the server's certificate
      --sni NAME           https: server name to send and verify  [URL host]
      --json               Print the summary as JSON on stdout
      --no-ui              No live panel: a plain progress line a second
  -q, --quiet              No progress at all: only the final report
      --config FILE        Requests and options from a JSON config file
  -R, --rps N              Rate of each request without its own rps, e.g. 0.5
                           (alias --rate; per request, never shared)
      --ramp-up-time D     Raise every rate linearly from 0 over D
      --concurrent-requests N  Connections per worker (= N x threads; not -c)
      --autoscale          Open more connections while a rate falls behind
      --max-connections N  Upper bound for --autoscale              [4 x -c]
      --export DIR         Write the report files into DIR (summary.json,
                           report.md/.html/.txt, timeline.csv, endpoints.csv,
                           latency.hgrm, latency.hlog)
      --latency            Print the percentile spectrum after the report
      --show-secrets       Show Authorization, Cookie, API-key... values
                           (redacted as <redacted> by default)
      --sample-size SIZE   Body bytes kept of the first response of each
                           endpoint and status code, e.g. 512, 16KiB   [4KiB]
      --early-exit-on-error  Stop when a threshold below is crossed:
      --error-rate-threshold F   errors / ended above F (0-1), e.g. 0.05
      --error-count-threshold N  N errors
      --error-status-codes L     any response with one of L, e.g. 500,503
  -h, --help               Print this help
  -V, --version            Print the version

Subcommands:
  demo      Start the built-in target and run a short test against it
  target    Serve the built-in HTTP target: --listen ADDR [127.0.0.1:8080],
            --threads N [1], --body-size SIZE [13]
  init      Write a starter tressi.config.json (never overwrites a file)
  schema    Print the JSON Schema of the config file (--summary: of the
            summary that --json and --export write)
  run FILE  Same as --config FILE
  help      Print this help

Config file: JSON, {{\"options\": {{..}}, \"requests\": [{{\"url\": .., \"rps\": ..}}]}}.
Flags win over its options, its options over the defaults. With a config, give
no URL; -H adds a header to every request. Errors name FILE:LINE:COL and field.
    tressi run tressi.config.json --no-ui
    tressi --config api.json --rps 200 --ramp-up-time 5s --early-exit-on-error \\
      --error-rate-threshold 0.05

Exit status: 0 done, 2 usage or config error, 3 early exit, 130 interrupted.

Units: durations 500ms, 10s, 1m30s, 2h; counts 5k, 2M; sizes 4096, 4k, 4KiB.
Values may be written -c10, -c 10, --connections 10 or --connections=10.

Examples:
  tressi -c 100 -d 30s http://127.0.0.1:8080/
  tressi -n 100k -p 16 --json http://localhost:3000/api
  tressi -m POST -H 'Content-Type: application/json' -b '{{\"a\":1}}' http://h/
  tressi -R 0.5 --ramp-up-time 10s -d 1m http://127.0.0.1:8080/
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// Parses a run command line with a fixed CPU count of 4.
    fn run(args: &[&str]) -> Result<Plan, Error> {
        match parse_run(os(args), false)? {
            Parsed::Run(raw) => raw.validate_with_cpus(4),
            Parsed::Done(cmd) => panic!("expected a run, got {cmd:?}"),
        }
    }

    fn run_err(args: &[&str]) -> String {
        match run(args) {
            Err(Error::Usage(m)) => m,
            other => panic!("expected a usage error for {args:?}, got {other:?}"),
        }
    }

    fn cmd(args: &[&str]) -> Result<Command, Error> {
        parse(os(args))
    }

    const URL: &str = "http://127.0.0.1:8080/";

    #[test]
    fn defaults() {
        let plan = run(&[URL]).unwrap();
        let want = Plan {
            endpoints: vec![Endpoint::get(Target::parse(URL).unwrap())],
            connections: 50,
            threads: 4,
            duration: Some(Duration::from_secs(10)),
            requests: None,
            pipelining: 1,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            keepalive: true,
            output: Output {
                json: false,
                ui: true,
                quiet: false,
            },
            addrs: vec![],
            // 4 x connections (the --autoscale bound).
            max_connections: 200,
            ..Plan::new(vec![])
        };
        assert_eq!(plan, want);
    }

    #[test]
    fn public_parse_gives_a_run() {
        let Ok(Command::Run(plan)) = cmd(&["-c", "2", URL]) else {
            panic!("expected a run");
        };
        assert_eq!(plan.connections, 2);
        assert!(plan.threads >= 1 && plan.threads <= 2);
        assert!(plan.addrs.is_empty());
    }

    #[test]
    fn flag_connections() {
        assert_eq!(run(&["-c", "10", URL]).unwrap().connections, 10);
        assert_eq!(
            run(&["--connections", "1k", URL]).unwrap().connections,
            1000
        );
        assert_eq!(
            run_err(&["-c", "ten", URL]),
            "--connections: invalid count 'ten': expected a whole number, e.g. 100, 5k, 2M"
        );
        assert_eq!(
            run_err(&["-c", "0", URL]),
            "--connections: must be at least 1 (got 0)"
        );
        assert_eq!(
            run_err(&["-c", "2M", URL]),
            "--connections: must be at most 1000000 (got 2000000)"
        );
        assert_eq!(
            run_err(&["-c", "-5", URL]),
            "--connections: invalid count '-5': must not be negative"
        );
    }

    #[test]
    fn flag_threads() {
        assert_eq!(run(&["-t", "2", URL]).unwrap().threads, 2);
        assert_eq!(run(&["--threads", "3", URL]).unwrap().threads, 3);
        assert_eq!(run(&["--workers", "1", URL]).unwrap().threads, 1);
        // Default: CPUs (4 here), clamped to connections.
        assert_eq!(run(&["-c", "2", URL]).unwrap().threads, 2);
        assert_eq!(
            run_err(&["-t", "0", URL]),
            "--threads: must be at least 1 (got 0)"
        );
        assert_eq!(
            run_err(&["-c", "4", "-t", "8", URL]),
            "--threads 8 is more than --connections 4 (each thread needs at least one connection)"
        );
        assert_eq!(
            run_err(&["-c", "5000", "-t", "2000", URL]),
            "--threads: must be at most 1024 (got 2000)"
        );
        assert_eq!(
            run_err(&["-t", "x", URL]),
            "--threads: invalid count 'x': expected a whole number, e.g. 100, 5k, 2M"
        );
    }

    #[test]
    fn flag_duration() {
        assert_eq!(
            run(&["-d", "1m30s", URL]).unwrap().duration,
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            run(&["--duration", "500ms", URL]).unwrap().duration,
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            run(&["-d", "5", URL]).unwrap().duration,
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            run_err(&["-d", "0", URL]),
            "--duration: must be greater than 0 (got 0s)"
        );
        assert_eq!(
            run_err(&["-d", "10x", URL]),
            "--duration: invalid duration '10x': unknown unit 'x' (use h, m, s, ms, us, ns)"
        );
    }

    #[test]
    fn flag_requests() {
        let plan = run(&["-n", "100k", URL]).unwrap();
        assert_eq!(plan.requests, Some(100_000));
        assert_eq!(plan.duration, None, "-n without -d runs until the count");
        let plan = run(&["-n", "5", "-d", "3s", URL]).unwrap();
        assert_eq!(plan.requests, Some(5));
        assert_eq!(plan.duration, Some(Duration::from_secs(3)));
        assert_eq!(run(&["--requests", "7", URL]).unwrap().requests, Some(7));
        assert_eq!(
            run_err(&["-n", "0", URL]),
            "--requests: must be at least 1 (got 0)"
        );
        assert_eq!(
            run_err(&["-n", "1.5", URL]),
            "--requests: invalid count '1.5': not a whole number"
        );
    }

    #[test]
    fn flag_pipelining() {
        assert_eq!(run(&["-p", "16", URL]).unwrap().pipelining, 16);
        assert_eq!(
            run(&["--pipelining", "1024", URL]).unwrap().pipelining,
            1024
        );
        assert_eq!(
            run_err(&["-p", "0", URL]),
            "--pipelining: must be at least 1 (got 0)"
        );
        assert_eq!(
            run_err(&["-p", "1025", URL]),
            "--pipelining: must be at most 1024 (got 1025)"
        );
        assert_eq!(
            run_err(&["-p", "", URL]),
            "--pipelining: invalid count '': empty (expected e.g. 100, 5k, 2M)"
        );
    }

    #[test]
    fn flag_method() {
        assert_eq!(
            run(&["-m", "post", URL]).unwrap().endpoints[0].method,
            "POST"
        );
        assert_eq!(
            run(&["--method", "PURGE", URL]).unwrap().endpoints[0].method,
            "PURGE"
        );
        assert_eq!(
            run_err(&["-m", "GE T", URL]),
            "--method: 'GE T' is not a valid method (letters, digits and !#$%&'*+-.^_`|~ only)"
        );
        assert_eq!(
            run_err(&["-m", "", URL]),
            "--method: '' is not a valid method (letters, digits and !#$%&'*+-.^_`|~ only)"
        );
        assert_eq!(
            run_err(&["-m", "GET\r\n", URL]),
            "--method: 'GET\\r\\n' is not a valid method (letters, digits and !#$%&'*+-.^_`|~ only)"
        );
    }

    #[test]
    fn flag_header() {
        let plan = run(&[
            "-H",
            "Content-Type: application/json",
            "--header",
            "X-Empty:",
            "-H",
            "x-tabs:\t a b \t",
            URL,
        ])
        .unwrap();
        assert_eq!(
            plan.endpoints[0].headers,
            vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("X-Empty".to_string(), String::new()),
                ("x-tabs".to_string(), "a b".to_string()),
            ]
        );
        assert_eq!(
            run_err(&["-H", "NoColon", URL]),
            "--header: 'NoColon' has no ':' (expected 'Name: value')"
        );
        assert_eq!(
            run_err(&["-H", ": v", URL]),
            "--header: ': v' has an empty name"
        );
        assert_eq!(
            run_err(&["-H", "Bad Name: v", URL]),
            "--header: invalid name 'Bad Name' in 'Bad Name: v' (letters, digits and \
             !#$%&'*+-.^_`|~ only; no space before ':')"
        );
        assert_eq!(
            run_err(&["-H", "X: a\r\nInjected: 1", URL]),
            "--header: value of 'X' contains a control character (CR, LF, NUL...)"
        );
        assert_eq!(
            run_err(&["-H", "X: a\0b", URL]),
            "--header: value of 'X' contains a control character (CR, LF, NUL...)"
        );
    }

    #[test]
    fn flag_body() {
        let plan = run(&["-b", "hello", URL]).unwrap();
        assert_eq!(plan.endpoints[0].body, b"hello");
        assert_eq!(run(&["--body=", URL]).unwrap().endpoints[0].body, b"");
        assert_eq!(run_err(&["-b"]), "missing value for --body");
        assert_eq!(
            run_err(&["-b", "x", "--body-file", "/dev/null", URL]),
            "--body and --body-file cannot both be given"
        );
    }

    #[test]
    fn flag_body_file() {
        let path = std::env::temp_dir().join(format!("tressi-cli-test-{}", std::process::id()));
        std::fs::write(&path, b"\x00file body\xff").unwrap();
        let path_str = path.to_str().unwrap();
        let plan = run(&["--body-file", path_str, URL]).unwrap();
        assert_eq!(plan.endpoints[0].body, b"\x00file body\xff");
        std::fs::remove_file(&path).unwrap();
        match run(&["--body-file", "/nonexistent/tressi-body", URL]) {
            Err(Error::Setup(m)) => assert!(
                m.starts_with("--body-file '/nonexistent/tressi-body': cannot read: "),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            run_err(&["--body-file", path_str, "-b", "x", URL]),
            "--body and --body-file cannot both be given"
        );
    }

    #[test]
    fn flag_timeout() {
        assert_eq!(
            run(&["--timeout", "2s", URL]).unwrap().timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            run_err(&["--timeout", "0ms", URL]),
            "--timeout: must be greater than 0 (got 0s)"
        );
        assert_eq!(
            run_err(&["--timeout", "soon", URL]),
            "--timeout: invalid duration 'soon': expected a number with a unit, e.g. 10s, 1m30s, 500ms"
        );
    }

    #[test]
    fn flag_connect_timeout() {
        assert_eq!(
            run(&["--connect-timeout=250ms", URL])
                .unwrap()
                .connect_timeout,
            Duration::from_millis(250)
        );
        assert_eq!(
            run_err(&["--connect-timeout", "0", URL]),
            "--connect-timeout: must be greater than 0 (got 0s)"
        );
        assert_eq!(
            run_err(&["--connect-timeout", "-1s", URL]),
            "--connect-timeout: invalid duration '-1s': must not be negative"
        );
    }

    #[test]
    fn flags_tls() {
        use crate::plan::TlsOptions;
        assert_eq!(run(&[URL]).unwrap().tls, TlsOptions::default());
        let p = run(&[
            "--cacert",
            "ca.pem",
            "--cert",
            "c.pem",
            "--key=k.pem",
            "-k",
            "--sni",
            "api.test",
            URL,
        ])
        .unwrap();
        assert_eq!(
            p.tls,
            TlsOptions {
                cacert: Some("ca.pem".into()),
                cert: Some("c.pem".into()),
                key: Some("k.pem".into()),
                insecure: true,
                sni: Some("api.test".into()),
            }
        );
        assert!(run(&["--insecure", URL]).unwrap().tls.insecure);
        assert_eq!(
            run_err(&["--insecure=yes", URL]),
            "--insecure takes no value (got 'yes')"
        );
        for flag in ["--cacert", "--cert", "--key", "--sni"] {
            assert!(
                run_err(&[URL, flag]).contains(flag),
                "{flag} without a value"
            );
        }
    }

    #[test]
    fn flag_no_keepalive() {
        assert!(!run(&["--no-keepalive", URL]).unwrap().keepalive);
        assert_eq!(
            run_err(&["--no-keepalive=yes", URL]),
            "--no-keepalive takes no value (got 'yes')"
        );
    }

    #[test]
    fn flag_json() {
        assert!(run(&["--json", URL]).unwrap().output.json);
        assert_eq!(
            run_err(&["--json=1", URL]),
            "--json takes no value (got '1')"
        );
    }

    #[test]
    fn flag_no_ui() {
        let plan = run(&["--no-ui", URL]).unwrap();
        assert_eq!(
            plan.output,
            Output {
                json: false,
                ui: false,
                quiet: false
            }
        );
        assert_eq!(
            run_err(&["--no-ui=x", URL]),
            "--no-ui takes no value (got 'x')"
        );
    }

    #[test]
    fn flag_quiet() {
        for flag in ["-q", "--quiet"] {
            let plan = run(&[flag, URL]).unwrap();
            assert_eq!(
                plan.output,
                Output {
                    json: false,
                    ui: true,
                    quiet: true
                },
                "{flag}"
            );
        }
        assert!(!run(&[URL]).unwrap().output.quiet);
        assert_eq!(
            run_err(&["--quiet=1", URL]),
            "--quiet takes no value (got '1')"
        );
    }

    /// Parses a run command line over a config text (CPU count 4).
    fn run_cfg(args: &[&str], config: &str) -> Result<Plan, Error> {
        let cfg = crate::config::parse("c.json", config)?;
        match parse_run(os(args), false)? {
            Parsed::Run(raw) => raw.validate_with(4, Some(cfg)),
            Parsed::Done(cmd) => panic!("expected a run, got {cmd:?}"),
        }
    }

    const CFG: &str = r#"{"options": {"durationSec": 3, "threads": 2, "connections": 8,
        "rampUpDurationSec": 2, "pipelining": 2, "keepAlive": false, "useUI": false,
        "headers": {"X-G": "g"},
        "workerEarlyExit": {"errorRateThreshold": 0.1, "monitoringWindowSeconds": 5}},
        "requests": [{"url": "http://h/a", "rps": 7}, {"url": "http://h/b"},
                     {"url": "http://h/c", "rps": 0, "weight": 3}]}"#;

    #[test]
    fn flag_config() {
        let plan = run_cfg(&[], CFG).unwrap();
        assert_eq!(plan.endpoints.len(), 3);
        assert_eq!(plan.duration, Some(Duration::from_secs(3)));
        assert_eq!((plan.threads, plan.connections, plan.pipelining), (2, 8, 2));
        assert_eq!(plan.ramp_up, Some(Duration::from_secs(2)));
        assert!(!plan.keepalive && !plan.output.ui);
        assert_eq!(plan.endpoints[2].weight, 3);
        let rule = plan.early_exit.unwrap();
        assert_eq!(rule.error_rate, Some(0.1));
        assert_eq!(rule.window, Some(Duration::from_secs(5)));
        // --config is long only; a missing file is a config error.
        assert_eq!(run_err(&["--config"]), "missing value for --config");
        match run(&["--config", "/nonexistent/t.json"]) {
            Err(Error::Config(m)) => {
                assert!(
                    m.starts_with("config /nonexistent/t.json: cannot read: "),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            run_cfg(&[URL], CFG),
            Err(Error::Usage(format!(
                "a URL ('{URL}') and a config file cannot both be given \
                 (the config lists the requests)"
            )))
        );
        assert_eq!(
            run_cfg(&["-m", "PUT"], CFG),
            Err(Error::Usage(
                "--method applies to a single URL; with a config file set it per request".into()
            ))
        );
        assert_eq!(
            run_cfg(&["-b", "x"], CFG),
            Err(Error::Usage(
                "--body applies to a single URL; with a config file set it per request".into()
            ))
        );
    }

    #[test]
    fn config_precedence() {
        // CLI over the config's options.
        let plan = run_cfg(
            &[
                "-d",
                "9s",
                "-t",
                "4",
                "-c",
                "40",
                "-p",
                "3",
                "--ramp-up-time",
                "1s",
            ],
            CFG,
        )
        .unwrap();
        assert_eq!(plan.duration, Some(Duration::from_secs(9)));
        assert_eq!(
            (plan.threads, plan.connections, plan.pipelining),
            (4, 40, 3)
        );
        assert_eq!(plan.ramp_up, Some(Duration::from_secs(1)));
        // The config over the defaults; defaults where neither says.
        let plan = run_cfg(&[], r#"{"requests": [{"url": "http://h/"}]}"#).unwrap();
        assert_eq!(plan.connections, 50);
        assert_eq!(plan.threads, 4);
        assert_eq!(plan.duration, Some(Duration::from_secs(10)));
        assert!(plan.keepalive && plan.output.ui);
        // -H overrides a config header of the same name on every request.
        let plan = run_cfg(&["-H", "x-g: cli", "-H", "X-New: 1"], CFG).unwrap();
        for ep in &plan.endpoints {
            assert_eq!(
                ep.headers,
                vec![
                    ("x-g".to_string(), "cli".to_string()),
                    ("X-New".into(), "1".into())
                ]
            );
        }
        // --timeout is the default; a request's own timeout wins.
        let plan = run_cfg(
            &["--timeout", "2s"],
            r#"{"requests": [{"url": "http://h/", "timeout": 0.5}, {"url": "http://h/x"}]}"#,
        )
        .unwrap();
        assert_eq!(plan.timeout, Duration::from_secs(2));
        assert_eq!(plan.endpoints[0].timeout, Some(Duration::from_millis(500)));
        assert_eq!(plan.endpoints[1].timeout, None);
    }

    #[test]
    fn flag_rps() {
        assert_eq!(
            run(&["--rps", "100", URL]).unwrap().endpoints[0].rate,
            Some(100.0)
        );
        assert_eq!(
            run(&["-R", "0.5", URL]).unwrap().endpoints[0].rate,
            Some(0.5)
        );
        assert_eq!(
            run(&["--rate=5k", URL]).unwrap().endpoints[0].rate,
            Some(5000.0)
        );
        assert_eq!(run(&[URL]).unwrap().endpoints[0].rate, None);
        // Per request, not shared: requests without rps get N each; rps 0 stays closed.
        let plan = run_cfg(&["--rps", "10"], CFG).unwrap();
        let rates: Vec<Option<f64>> = plan.endpoints.iter().map(|e| e.rate).collect();
        assert_eq!(rates, vec![Some(7.0), Some(10.0), None]);
        for bad in ["0", "-5", "fast", "inf", "NaN"] {
            assert_eq!(
                run_err(&["--rps", bad, URL]),
                format!(
                    "--rps: invalid rate '{bad}': expected a number of requests per second \
                     > 0, e.g. 100, 0.5, 5k"
                )
            );
        }
        assert_eq!(
            run(&["-R", "10M", URL]).unwrap().endpoints[0].rate,
            Some(1e7)
        );
        for big in ["10000001", "1e300", "20M"] {
            assert_eq!(
                run_err(&["-R", big, URL]),
                format!(
                    "--rps: rate '{big}' is above the most one endpoint may ask for, 10M \
                     requests per second"
                )
            );
        }
    }

    #[test]
    fn flag_concurrent_requests() {
        let plan = run(&["--concurrent-requests", "5", "-t", "3", URL]).unwrap();
        assert_eq!((plan.connections, plan.threads), (15, 3));
        let plan = run(&["--concurrent-requests", "5", URL]).unwrap();
        assert_eq!((plan.connections, plan.threads), (20, 4));
        let plan = run_cfg(&["--concurrent-requests", "2"], CFG).unwrap();
        assert_eq!((plan.connections, plan.threads), (4, 2));
        assert_eq!(
            run_err(&["--concurrent-requests", "0", URL]),
            "--concurrent-requests: must be at least 1 (got 0)"
        );
        assert_eq!(
            run_err(&["--concurrent-requests", "2", "-c", "8", URL]),
            "--connections and --concurrent-requests cannot both be given \
             (-c is the total, --concurrent-requests is per worker)"
        );
        assert_eq!(
            run_err(&["--concurrent-requests", "1M", "-t", "2", URL]),
            "--concurrent-requests 1000000 x 2 threads is 2000000 connections \
             (at most 1000000)"
        );
    }

    #[test]
    fn flag_ramp_up_time() {
        assert_eq!(
            run(&["--ramp-up-time", "5s", URL]).unwrap().ramp_up,
            Some(Duration::from_secs(5))
        );
        assert_eq!(run(&["--ramp-up-time", "0", URL]).unwrap().ramp_up, None);
        assert_eq!(
            run_err(&["--ramp-up-time", "soon", URL]),
            "--ramp-up-time: invalid duration 'soon': expected a number with a unit, \
             e.g. 10s, 1m30s, 500ms"
        );
    }

    #[test]
    fn flag_sample_size_and_config_option() {
        assert_eq!(run(&[URL]).unwrap().sample_size, 4096);
        let cases: &[(&str, usize)] = &[("512", 512), ("4KiB", 4096), ("16k", 16_000), ("0", 0)];
        for (arg, want) in cases {
            assert_eq!(
                run(&["--sample-size", arg, URL]).unwrap().sample_size,
                *want,
                "{arg}"
            );
        }
        assert_eq!(
            run_err(&["--sample-size", "1GiB", URL]),
            "--sample-size: must be at most 64MiB (got '1GiB')"
        );
        assert!(run_err(&["--sample-size", "lots", URL]).starts_with("--sample-size: invalid size"));
        let cfg = r#"{"options": {"sampleSize": "2KiB"}, "requests": [{"url": "http://h/"}]}"#;
        assert_eq!(run_cfg(&[], cfg).unwrap().sample_size, 2048);
        assert_eq!(
            run_cfg(&["--sample-size", "100"], cfg).unwrap().sample_size,
            100
        );
        let cfg = r#"{"options": {"sampleSize": 300}, "requests": [{"url": "http://h/"}]}"#;
        assert_eq!(run_cfg(&[], cfg).unwrap().sample_size, 300);
        for bad in [r#""a lot""#, "-1", "1.5", "100000000"] {
            let cfg = format!(
                r#"{{"options": {{"sampleSize": {bad}}}, "requests": [{{"url": "http://h/"}}]}}"#
            );
            assert!(run_cfg(&[], &cfg).is_err(), "{bad}");
        }
    }

    #[test]
    fn flag_autoscale_and_max_connections() {
        let plan = run(&["--autoscale", "-c", "10", URL]).unwrap();
        assert!(plan.autoscale);
        assert_eq!(plan.max_connections, 40);
        let plan = run(&["--autoscale", "--max-connections", "15", "-c", "10", URL]).unwrap();
        assert_eq!(plan.max_connections, 15);
        assert_eq!(
            run_err(&["--max-connections", "15", URL]),
            "--max-connections needs --autoscale"
        );
        assert_eq!(
            run_err(&["--autoscale", "--max-connections", "5", "-c", "10", URL]),
            "--max-connections 5 is less than --connections 10"
        );
        assert_eq!(
            run_err(&["--autoscale=yes", URL]),
            "--autoscale takes no value (got 'yes')"
        );
    }

    #[test]
    fn flag_export() {
        assert_eq!(
            run(&["--export", "out/dir", URL]).unwrap().export,
            Some(PathBuf::from("out/dir"))
        );
        assert_eq!(run_err(&[URL, "--export"]), "missing value for --export");
        assert_eq!(
            run_err(&[URL, "--export", ""]),
            "--export: empty directory name"
        );
        // Kept exactly as given: leading dots, relative, a name that looks like a flag.
        for dir in ["./.out", "../x", ".hidden", "-", "~/x"] {
            assert_eq!(
                run(&[URL, &format!("--export={dir}")]).unwrap().export,
                Some(PathBuf::from(dir))
            );
        }
    }

    #[test]
    fn flag_early_exit() {
        let plan = run(&[
            "--early-exit-on-error",
            "--error-rate-threshold",
            "0.05",
            "--error-count-threshold",
            "50",
            "--error-status-codes",
            "500, 503,500",
            URL,
        ])
        .unwrap();
        assert_eq!(
            plan.early_exit,
            Some(EarlyExit {
                error_rate: Some(0.05),
                error_count: Some(50),
                status_codes: vec![500, 503],
                window: None,
            })
        );
        // The flags override the config's thresholds one by one; its window stays.
        let plan = run_cfg(
            &["--early-exit-on-error", "--error-count-threshold", "9"],
            CFG,
        )
        .unwrap();
        let rule = plan.early_exit.unwrap();
        assert_eq!(rule.error_rate, Some(0.1));
        assert_eq!(rule.error_count, Some(9));
        assert_eq!(rule.window, Some(Duration::from_secs(5)));
        let cases: &[(&[&str], &str)] = &[
            (
                &["--early-exit-on-error", URL],
                "--early-exit-on-error needs a threshold: --error-rate-threshold, \
                 --error-count-threshold or --error-status-codes (or workerEarlyExit in \
                 the config)",
            ),
            (
                &["--error-rate-threshold", "0.1", URL],
                "--error-rate-threshold needs --early-exit-on-error",
            ),
            (
                &["--error-status-codes", "500", URL],
                "--error-status-codes needs --early-exit-on-error",
            ),
            (
                &["--early-exit-on-error", "--error-rate-threshold", "5%", URL],
                "--error-rate-threshold: invalid value '5%': expected a fraction above 0 \
                 and at most 1, e.g. 0.05",
            ),
            (
                &[
                    "--early-exit-on-error",
                    "--error-rate-threshold",
                    "1.5",
                    URL,
                ],
                "--error-rate-threshold: invalid value '1.5': expected a fraction above 0 \
                 and at most 1, e.g. 0.05",
            ),
            (
                &["--early-exit-on-error", "--error-count-threshold", "0", URL],
                "--error-count-threshold: must be at least 1 (got 0)",
            ),
            (
                &[
                    "--early-exit-on-error",
                    "--error-status-codes",
                    "500,abc",
                    URL,
                ],
                "--error-status-codes: invalid status 'abc' in '500,abc': expected codes \
                 100-599 separated by commas, e.g. 500,503",
            ),
            (
                &["--early-exit-on-error", "--error-status-codes", "600", URL],
                "--error-status-codes: invalid status '600' in '600': expected codes \
                 100-599 separated by commas, e.g. 500,503",
            ),
        ];
        for (args, want) in cases {
            assert_eq!(run_err(args), *want, "{args:?}");
        }
    }

    #[test]
    fn report_flags_and_the_summary_schema() {
        let p = run(&[URL]).unwrap();
        assert_eq!(p.report, ReportOptions::default());
        let p = run(&["--latency", "--show-secrets", URL]).unwrap();
        assert!(p.report.latency && p.report.show_secrets);
        assert_eq!(
            run_err(&["--latency=1", URL]),
            "--latency takes no value (got '1')"
        );
        assert_eq!(cmd(&["schema", "--summary"]), Ok(Command::SummarySchema));
        for bad in [
            &["schema", "--summary", "--summary"][..],
            &["init", "--summary"],
            &["--summary", URL],
        ] {
            assert!(
                matches!(cmd(bad), Err(Error::Usage(_))),
                "{bad:?}: {:?}",
                cmd(bad)
            );
        }
    }

    #[test]
    fn subcommands_init_schema_run() {
        assert_eq!(cmd(&["init"]), Ok(Command::Init));
        assert_eq!(cmd(&["schema"]), Ok(Command::Schema));
        assert_eq!(cmd(&["init", "--help"]), Ok(Command::Help(help())));
        assert_eq!(
            cmd(&["init", "x.json"]),
            Err(Error::Usage(
                "'tressi init' takes no arguments (got 'x.json')".into()
            ))
        );
        assert_eq!(
            cmd(&["schema", "-c", "1"]),
            Err(Error::Usage(
                "'tressi schema' takes no arguments (got '-c')".into()
            ))
        );
        match cmd(&["run", "/nonexistent/r.json", "--no-ui"]) {
            Err(Error::Config(m)) => {
                assert!(
                    m.starts_with("config /nonexistent/r.json: cannot read: "),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            cmd(&["run", "a.json", "--config", "b.json"]),
            Err(Error::Usage(
                "'tressi run FILE' and --config cannot both be given".into()
            ))
        );
        assert_eq!(
            cmd(&["run"]),
            Err(Error::Usage(
                "missing config FILE (usage: tressi run FILE [OPTIONS])".into()
            ))
        );
        assert_eq!(
            cmd(&["-c", "2", "init"]),
            Err(Error::Usage(
                "'init' is a subcommand and must come first ('tressi init ...'); \
                 for a host named init write http://init/"
                    .into()
            ))
        );
    }

    #[test]
    fn flag_help() {
        for args in [
            &["-h"][..],
            &["--help"],
            &["help"],
            &["-c", "5", "--help"],
            &["demo", "-h"],
        ] {
            assert_eq!(cmd(args), Ok(Command::Help(help())), "{args:?}");
        }
        assert_eq!(
            cmd(&["--help=x"]),
            Err(Error::Usage("--help takes no value (got 'x')".into()))
        );
    }

    #[test]
    fn flag_version() {
        assert_eq!(cmd(&["-V"]), Ok(Command::Version));
        assert_eq!(cmd(&["--version"]), Ok(Command::Version));
    }

    #[test]
    fn value_forms() {
        for args in [
            &["-c10", URL][..],
            &["-c", "10", URL],
            &["-c=10", URL],
            &["--connections=10", URL],
            &["--connections", "10", URL],
            &[URL, "-c", "10"],
        ] {
            assert_eq!(run(args).unwrap().connections, 10, "{args:?}");
        }
        let plan = run(&["-n5", "-p4", "-mpost", "-HX-A:1", "-bbody", "-d1s", URL]).unwrap();
        assert_eq!(plan.requests, Some(5));
        assert_eq!(plan.pipelining, 4);
        assert_eq!(plan.endpoints[0].method, "POST");
        assert_eq!(plan.endpoints[0].headers, vec![("X-A".into(), "1".into())]);
        assert_eq!(plan.endpoints[0].body, b"body");
        // Values that look like options are still values.
        assert_eq!(run(&["-b", "-c", URL]).unwrap().endpoints[0].body, b"-c");
        // `--` ends the options.
        assert_eq!(run(&["-c", "3", "--", URL]).unwrap().connections, 3);
    }

    #[test]
    fn last_single_value_wins() {
        let plan = run(&["-c", "5", "-c", "7", "-m", "PUT", "-m", "get", URL]).unwrap();
        assert_eq!(plan.connections, 7);
        assert_eq!(plan.endpoints[0].method, "GET");
    }

    #[test]
    fn url_handling() {
        let plan = run(&["https://example.com:8443/x?y"]).unwrap();
        assert_eq!(plan.endpoints[0].target.authority, "example.com:8443");
        assert_eq!(
            run(&["localhost:3000"]).unwrap().endpoints[0].target.port,
            3000
        );
        assert_eq!(
            run(&["ftp://h/"]),
            Err(Error::Url(
                "'ftp://h/': unsupported scheme 'ftp' (only http and https)".into()
            ))
        );
    }

    #[test]
    fn bad_command_lines() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "missing URL (usage: tressi [OPTIONS] URL; see 'tressi --help')"),
            (&["-c", "5"], "missing URL (usage: tressi [OPTIONS] URL; see 'tressi --help')"),
            (&["--frobnicate", URL], "unknown option '--frobnicate' (see 'tressi --help')"),
            (&["-x", URL], "unknown option '-x' (see 'tressi --help')"),
            (&["--listen", "x", URL], "unknown option '--listen' (see 'tressi --help')"),
            (&["-c"], "missing value for --connections"),
            (&[URL, "--duration"], "missing value for --duration"),
            (&[URL, "-H"], "missing value for --header"),
            (
                &[URL, "http://other/"],
                "more than one URL: 'http://127.0.0.1:8080/' and 'http://other/' \
                 (tressi takes one URL)",
            ),
            (
                &["--json", "demo"],
                "'demo' is a subcommand and must come first ('tressi demo ...'); \
                 for a host named demo write http://demo/",
            ),
            (&["-c", "1", "-t", "2", URL], "--threads 2 is more than --connections 1 (each thread needs at least one connection)"),
            (&["-d", "0s", URL], "--duration: must be greater than 0 (got 0s)"),
            (&["-p", "0", URL], "--pipelining: must be at least 1 (got 0)"),
            (&["--json=true", URL], "--json takes no value (got 'true')"),
        ];
        for (args, want) in cases {
            assert_eq!(cmd(args), Err(Error::Usage(want.to_string())), "{args:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_arguments_never_panic() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![b'x', 0xff, 0xfe]);
        let url = OsString::from(URL);
        // Binary body is fine.
        let Ok(Command::Run(plan)) = parse(vec![OsString::from("-b"), bad(), url.clone()]) else {
            panic!("binary body should be accepted");
        };
        assert_eq!(plan.endpoints[0].body, vec![b'x', 0xff, 0xfe]);
        assert_eq!(
            parse(vec![OsString::from("-c"), bad(), url.clone()]),
            Err(Error::Usage(
                "--connections: value 'x\u{fffd}\u{fffd}' is not valid UTF-8".into()
            ))
        );
        assert_eq!(
            parse(vec![bad()]),
            Err(Error::Url("'x\u{fffd}\u{fffd}': not valid UTF-8".into()))
        );
        let mut dashed = b"--".to_vec();
        dashed.extend_from_slice(&[0xff, b'a']);
        assert!(matches!(
            parse(vec![OsString::from_vec(dashed), url.clone()]),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            parse(vec![OsString::from_vec(vec![b'-', 0xff]), url.clone()]),
            Err(Error::Usage(_))
        ));
        for sub in ["demo", "target"] {
            assert!(parse(vec![OsString::from(sub), bad()]).is_err());
            let mut eq = b"--listen=".to_vec();
            eq.push(0xff);
            let _ = parse(vec![OsString::from(sub), OsString::from_vec(eq)]);
        }
    }

    #[test]
    fn odd_arguments_never_panic() {
        let odd: &[&[&str]] = &[
            &["-"],
            &["--"],
            &["--", "--"],
            &["-=", URL],
            &["--=", URL],
            &["-cc"],
            &["-c="],
            &["-\u{e9}"],
            &["--c\u{e9}"],
            &["", ""],
            &["target", "--threads", "99999999999999999999999"],
            &["target", "--body-size", "1EiB"],
            &[
                "-n",
                "18446744073709551615",
                "-c",
                "18446744073709551615",
                URL,
            ],
        ];
        for args in odd {
            let _ = cmd(args);
        }
    }

    #[test]
    fn demo_subcommand() {
        assert_eq!(
            cmd(&["demo"]),
            Ok(Command::Demo {
                json: false,
                ui: true,
                quiet: false
            })
        );
        assert_eq!(
            cmd(&["demo", "--json", "--no-ui"]),
            Ok(Command::Demo {
                json: true,
                ui: false,
                quiet: false
            })
        );
        assert_eq!(
            cmd(&["demo", "-q"]),
            Ok(Command::Demo {
                json: false,
                ui: true,
                quiet: true
            })
        );
        assert_eq!(
            cmd(&["demo", "-c", "5"]),
            Err(Error::Usage(
                "unknown option '-c' for 'tressi demo' (see 'tressi --help')".into()
            ))
        );
        assert_eq!(
            cmd(&["demo", URL]),
            Err(Error::Usage(format!(
                "unexpected argument '{URL}' for 'tressi demo' (it takes no URL)"
            )))
        );
    }

    #[test]
    fn target_subcommand() {
        assert_eq!(
            cmd(&["target"]),
            Ok(Command::Target(TargetOptions {
                listen: "127.0.0.1:8080".parse().unwrap(),
                threads: 1,
                body_size: 13,
            }))
        );
        assert_eq!(
            cmd(&[
                "target",
                "--listen",
                "0.0.0.0:9000",
                "--threads=4",
                "--body-size",
                "4KiB"
            ]),
            Ok(Command::Target(TargetOptions {
                listen: "0.0.0.0:9000".parse().unwrap(),
                threads: 4,
                body_size: 4096,
            }))
        );
        let listen = |s: &str| match cmd(&["target", "--listen", s]) {
            Ok(Command::Target(o)) => Ok(o.listen),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(listen("[::1]:81"), Ok("[::1]:81".parse().unwrap()));
        assert_eq!(listen("9001"), Ok("127.0.0.1:9001".parse().unwrap()));
        assert_eq!(listen(":9002"), Ok("127.0.0.1:9002".parse().unwrap()));
        assert_eq!(listen("localhost:0"), Ok("127.0.0.1:0".parse().unwrap()));
        assert_eq!(
            listen("nowhere:80"),
            Err(Error::Usage(
                "--listen: invalid address 'nowhere:80' (expected IP:PORT, e.g. 127.0.0.1:8080, or a port)"
                    .into()
            ))
        );
        let err = |args: &[&str]| match cmd(args) {
            Err(Error::Usage(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(&["target", "--threads", "0"]),
            "--threads: must be at least 1 (got 0)"
        );
        assert_eq!(
            err(&["target", "-t", "5000"]),
            "--threads: must be at most 1024 (got 5000)"
        );
        assert_eq!(
            err(&["target", "--body-size", "2GiB"]),
            "--body-size: must be at most 1GiB (got '2GiB')"
        );
        assert_eq!(
            err(&["target", "--body-size", "lots"]),
            "--body-size: invalid size 'lots': expected a number of bytes, e.g. 4096, 4KiB, 1MB"
        );
        assert_eq!(err(&["target", "--listen"]), "missing value for --listen");
        assert_eq!(
            err(&["target", "--json"]),
            "unknown option '--json' for 'tressi target' (see 'tressi --help')"
        );
        assert_eq!(
            err(&["target", "8080"]),
            "unexpected argument '8080' for 'tressi target' (use --listen ADDR)"
        );
        assert_eq!(cmd(&["target", "--help"]), Ok(Command::Help(help())));
    }

    #[test]
    fn help_text_shape() {
        let text = help();
        for (i, line) in text.lines().enumerate() {
            assert!(
                line.chars().count() <= 80,
                "help line {} is {} columns: {line:?}",
                i + 1,
                line.chars().count()
            );
        }
        assert!(text.contains("Usage: tressi [OPTIONS] URL"));
        for needle in [
            "--connections",
            "--threads",
            "--workers",
            "--duration",
            "--requests",
            "--pipelining",
            "--method",
            "--header",
            "--body",
            "--body-file",
            "--timeout",
            "--connect-timeout",
            "--no-keepalive",
            "--cacert",
            "--cert",
            "--key",
            "--insecure",
            "--sni",
            "--json",
            "--no-ui",
            "--quiet",
            "--help",
            "--version",
            "demo",
            "target",
            "--listen",
            "--body-size",
            "--config",
            "--rps",
            "--rate",
            "--concurrent-requests",
            "--ramp-up-time",
            "--autoscale",
            "--max-connections",
            "--export",
            "--early-exit-on-error",
            "--error-rate-threshold",
            "--error-count-threshold",
            "--error-status-codes",
            "init",
            "schema",
            "run FILE",
            "Exit status",
            "Examples:",
            "[50]",
            "[10s",
            "[1]",
            "[GET]",
            "[5s]",
            "[127.0.0.1:8080]",
            "[13]",
        ] {
            assert!(text.contains(needle), "help lacks {needle}");
        }
    }

    #[test]
    fn help_examples_parse() {
        for line in help().lines().filter(|l| l.starts_with("  tressi ")) {
            let args: Vec<&str> = shell_split(line.trim_start().trim_start_matches("tressi "));
            assert!(
                matches!(cmd(&args), Ok(Command::Run(_))),
                "example does not parse: {line}"
            );
        }
    }

    /// Splits on spaces, honouring single quotes (enough for the help examples).
    fn shell_split(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = s.trim();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('\'') {
                let end = r.find('\'').unwrap();
                out.push(&r[..end]);
                rest = r[end + 1..].trim_start();
            } else {
                let end = rest.find(' ').unwrap_or(rest.len());
                out.push(&rest[..end]);
                rest = rest[end..].trim_start();
            }
        }
        out
    }
}
