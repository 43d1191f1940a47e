//! The validated run plan: what `cli` (and later `config`) produce and what `run` consumes.
//! Plain data, no I/O, no parsing: every field here has already been checked.

use crate::target::Target;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The highest rate one endpoint may ask for (req/s), from the command line or a config:
/// far above what one client can send, low enough that a typo (`1e30`) is an error
/// instead of a run that only reports its requests as never sent.
pub const MAX_RATE: f64 = 10_000_000.0;

/// One endpoint: a URL with its method, headers and body, and how it is driven.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub target: Target,
    /// Upper-case method token, e.g. "GET".
    pub method: String,
    /// Extra headers in the order given (names as given; already validated:
    /// token names, no CR/LF in values; global headers already merged in).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Target rate in requests per second for this endpoint alone (open model);
    /// `None` = closed loop.
    pub rate: Option<f64>,
    /// Linear ramp from 0 to `rate` over this long (overrides `Plan::ramp_up`).
    pub ramp_up: Option<Duration>,
    /// Share of the closed-loop connections' requests (smooth weighted round-robin), >= 1.
    pub weight: u32,
    /// Per-response timeout for this endpoint (overrides `Plan::timeout`).
    pub timeout: Option<Duration>,
    /// Early-exit rule for this endpoint alone.
    pub early_exit: Option<EarlyExit>,
}

impl Endpoint {
    /// A GET of `target` with no headers, no body, closed loop, weight 1.
    pub fn get(target: Target) -> Endpoint {
        Endpoint {
            target,
            method: "GET".into(),
            headers: Vec::new(),
            body: Vec::new(),
            rate: None,
            ramp_up: None,
            weight: 1,
            timeout: None,
            early_exit: None,
        }
    }
}

/// When to stop a run early. Any threshold that is set fires on its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EarlyExit {
    /// Errors (error responses and failed requests) / ended requests, in 0..=1.
    pub error_rate: Option<f64>,
    /// Errors, in total.
    pub error_count: Option<u64>,
    /// Any response with one of these statuses.
    pub status_codes: Vec<u16>,
    /// Evaluate over the last this-long instead of the whole run.
    pub window: Option<Duration>,
}

/// How the final report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Output {
    /// `--json`: one JSON summary object on stdout instead of the text report.
    pub json: bool,
    /// `--no-ui` not given: live progress on stderr (the panel on a terminal).
    pub ui: bool,
    /// `--quiet`: no progress at all, only the final report.
    pub quiet: bool,
}

/// What the final report shows and how (`--latency`, `--show-secrets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportOptions {
    /// `--latency`: print the HdrHistogram percentile spectrum after the text report.
    pub latency: bool,
    /// `--show-secrets`: do not redact secret header values in reports and exports.
    pub show_secrets: bool,
}

/// TLS options of a run (`--cacert`, `--cert`, `--key`, `--insecure`, `--sni`); they
/// apply to every https endpoint. Files are read by the run's set-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra root certificates (PEM), trusted besides the built-in webpki roots.
    pub cacert: Option<PathBuf>,
    /// Client certificate chain (PEM) and its private key (PEM; default: in `cert`).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Do not verify server certificates.
    pub insecure: bool,
    /// Server name to send (SNI) and verify, instead of the URL's host.
    pub sni: Option<String>,
}

/// A validated load test.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub endpoints: Vec<Endpoint>,
    /// Total connections over all threads (>= threads after validation).
    pub connections: usize,
    pub threads: usize,
    /// Stop after this long. `None` only when `requests` is set.
    pub duration: Option<Duration>,
    /// Stop after this many requests have ended (responses + errors).
    pub requests: Option<u64>,
    /// Requests in flight per connection (>= 1).
    pub pipelining: usize,
    /// Per-response timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub keepalive: bool,
    pub output: Output,
    /// Addresses to connect to (all endpoints must share one host and port when this is
    /// set); empty = resolve each endpoint's host in `run`.
    pub addrs: Vec<SocketAddr>,
    /// Default linear ramp-up of every endpoint's rate.
    pub ramp_up: Option<Duration>,
    /// Run-wide early-exit rule.
    pub early_exit: Option<EarlyExit>,
    /// Open more connections (up to `max_connections`) while a rated endpoint falls behind.
    pub autoscale: bool,
    pub max_connections: usize,
    /// `--export DIR`: write the report files there.
    pub export: Option<PathBuf>,
    /// `--sample-size`: bytes of each sampled response body kept (the first response of
    /// each endpoint × status code).
    pub sample_size: usize,
    pub report: ReportOptions,
    /// TLS options of the https endpoints.
    pub tls: TlsOptions,
}

impl Plan {
    /// A plan over `endpoints` with every other field at its default (50 connections, 1
    /// thread, 10 s, pipelining 1, 10 s timeout, 5 s connect timeout, keep-alive).
    pub fn new(endpoints: Vec<Endpoint>) -> Plan {
        Plan {
            endpoints,
            connections: 50,
            threads: 1,
            duration: Some(Duration::from_secs(10)),
            requests: None,
            pipelining: 1,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            keepalive: true,
            output: Output::default(),
            addrs: Vec::new(),
            ramp_up: None,
            early_exit: None,
            autoscale: false,
            max_connections: 0,
            export: None,
            sample_size: crate::samples::DEFAULT_SAMPLE_SIZE,
            report: ReportOptions::default(),
            tls: TlsOptions::default(),
        }
    }

    /// What the user asked for that this plan will not do as asked, as lines to show
    /// before the run (not errors: the run is still valid): TLS options when no endpoint
    /// is https (an `http://` typed for `https://`, or a flag left over in a script), the
    /// rate options when no endpoint has a rate (a closed-loop run), framing headers that
    /// tressi replaces (see `request`), and more than one `Host` header.
    pub fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut framing: Vec<&str> = Vec::new();
        let mut hosts = false;
        for e in &self.endpoints {
            for (name, _) in &e.headers {
                let replaced = crate::request::FRAMING_HEADERS
                    .into_iter()
                    .find(|h| name.eq_ignore_ascii_case(h));
                if let Some(h) = replaced.filter(|h| !framing.contains(h)) {
                    framing.push(h);
                }
            }
            hosts |= e
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
                .count()
                > 1;
        }
        for h in framing {
            out.push(format!(
                "the {h} header given is not sent: tressi frames the body itself \
                 (Content-Length from the body)"
            ));
        }
        if hosts {
            out.push(
                "more than one Host header: all are sent, and a server must answer 400 to that"
                    .to_string(),
            );
        }
        if self.endpoints.iter().all(|e| e.rate.is_none()) {
            let ramp = self.ramp_up.is_some() || self.endpoints.iter().any(|e| e.ramp_up.is_some());
            for (given, what) in [
                (ramp, "--ramp-up-time (rampUpDurationSec)"),
                (self.autoscale, "--autoscale"),
            ] {
                if given {
                    out.push(format!(
                        "{what} only applies to endpoints with a rate (-R, or rps in a \
                         config), and this run has none: ignored"
                    ));
                }
            }
        }
        let https = self
            .endpoints
            .iter()
            .any(|e| e.target.scheme == crate::target::Scheme::Https);
        if !https {
            let t = &self.tls;
            let given: Vec<&str> = [
                (t.cacert.is_some(), "--cacert"),
                (t.cert.is_some(), "--cert"),
                (t.key.is_some(), "--key"),
                (t.insecure, "--insecure"),
                (t.sni.is_some(), "--sni"),
            ]
            .into_iter()
            .filter_map(|(set, flag)| set.then_some(flag))
            .collect();
            if !given.is_empty() {
                let verb = if given.len() == 1 { "applies" } else { "apply" };
                out.push(format!(
                    "{} only {verb} to https URLs, and this run has none: ignored",
                    given.join(", ")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(url: &str, tls: TlsOptions) -> Plan {
        let target = crate::target::Target::parse(url).expect("url");
        let mut p = Plan::new(vec![Endpoint::get(target)]);
        p.tls = tls;
        p
    }

    #[test]
    fn tls_options_without_an_https_endpoint_are_a_notice() {
        let all = TlsOptions {
            cacert: Some("ca.pem".into()),
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            insecure: true,
            sni: Some("example.com".into()),
        };
        let insecure = TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        };
        let cases: [(&str, TlsOptions, &[&str]); 5] = [
            ("http://127.0.0.1:8080/", TlsOptions::default(), &[]),
            (
                "http://127.0.0.1:8080/",
                insecure.clone(),
                &["--insecure only applies to https URLs, and this run has none: ignored"],
            ),
            (
                "http://127.0.0.1:8080/",
                all.clone(),
                &[
                    "--cacert, --cert, --key, --insecure, --sni only apply to https URLs, \
                   and this run has none: ignored",
                ],
            ),
            ("https://127.0.0.1:8443/", all, &[]),
            ("https://127.0.0.1:8443/", insecure, &[]),
        ];
        for (url, tls, want) in cases {
            assert_eq!(plan(url, tls.clone()).notices(), want, "{url} {tls:?}");
        }
    }

    #[test]
    fn replaced_framing_headers_and_two_hosts_are_a_notice() {
        let with = |headers: &[(&str, &str)]| {
            let mut p = plan("http://127.0.0.1:8080/", TlsOptions::default());
            p.endpoints[0].headers = headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            p.endpoints.push(p.endpoints[0].clone());
            p.notices()
        };
        let cl = "the Content-Length header given is not sent: tressi frames the body itself \
                  (Content-Length from the body)";
        let te = "the Transfer-Encoding header given is not sent: tressi frames the body \
                  itself (Content-Length from the body)";
        let host = "more than one Host header: all are sent, and a server must answer 400 to that";
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
        let cases: [Case; 5] = [
            (&[("X-A", "1"), ("Host", "a")], &[]),
            (&[("content-length", "5")], &[cl]),
            (
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                &[te, cl],
            ),
            (&[("host", "a"), ("Host", "b")], &[host]),
            (
                &[("CONTENT-LENGTH", "1"), ("HOST", "a"), ("host", "a")],
                &[cl, host],
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(with(headers), want, "{headers:?}");
        }
    }

    #[test]
    fn rate_options_on_a_closed_loop_run_are_a_notice() {
        let ramp = "--ramp-up-time (rampUpDurationSec) only applies to endpoints with a rate \
                    (-R, or rps in a config), and this run has none: ignored";
        let auto = "--autoscale only applies to endpoints with a rate (-R, or rps in a \
                    config), and this run has none: ignored";
        let secs = Some(Duration::from_secs(5));
        // (global ramp-up, endpoint ramp-up, autoscale, endpoint rate) -> notices
        type Case<'a> = (
            Option<Duration>,
            Option<Duration>,
            bool,
            Option<f64>,
            &'a [&'a str],
        );
        let cases: [Case; 6] = [
            (None, None, false, None, &[]),
            (secs, None, false, None, &[ramp]),
            (None, secs, false, None, &[ramp]),
            (None, None, true, None, &[auto]),
            (secs, None, true, None, &[ramp, auto]),
            (secs, secs, true, Some(10.0), &[]),
        ];
        for (global, own, autoscale, rate, want) in cases {
            let mut p = plan("http://127.0.0.1:8080/", TlsOptions::default());
            p.ramp_up = global;
            p.autoscale = autoscale;
            p.endpoints[0].ramp_up = own;
            p.endpoints[0].rate = rate;
            assert_eq!(p.notices(), want, "{global:?} {own:?} {autoscale} {rate:?}");
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A load test.
    Run(Box<Plan>),
    /// `tressi demo`: built-in target in-process + a short test against it.
    Demo { json: bool, ui: bool, quiet: bool },
    /// `tressi target --listen ADDR [--threads N] [--body-size N]`.
    Target(TargetOptions),
    /// `-h/--help`: the help text to print on stdout, exit 0.
    Help(String),
    /// `-V/--version`.
    Version,
    /// `tressi init`: write the starter `tressi.config.json` in the current directory
    /// (never overwriting an existing file).
    Init,
    /// `tressi schema`: print the config's JSON Schema on stdout.
    Schema,
    /// `tressi schema --summary`: print the JSON Schema of `summary.json` on stdout.
    SummarySchema,
}

/// Options of the built-in target server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOptions {
    pub listen: SocketAddr,
    pub threads: usize,
    /// Response body size in bytes (default 13: "hello, world\n").
    pub body_size: usize,
}
