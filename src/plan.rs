//! The validated run plan: what `cli` (and later `config`) produce and what `run` consumes.
//! Plain data, no I/O, no parsing: every field here has already been checked.

use crate::target::Target;
use std::net::SocketAddr;
use std::time::Duration;

/// One endpoint: a URL with its method, headers and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub target: Target,
    /// Upper-case method token, e.g. "GET".
    pub method: String,
    /// Extra headers in the order given (names as given; already validated:
    /// token names, no CR/LF in values).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// How the final report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Output {
    /// `--json`: one JSON summary object on stdout instead of the text report.
    pub json: bool,
    /// `--no-ui` not given: live progress on stderr.
    pub ui: bool,
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
    /// Resolved addresses to connect to, filled by `Plan::resolve` (or by the caller).
    pub addrs: Vec<SocketAddr>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A load test.
    Run(Box<Plan>),
    /// `tressi demo`: built-in target in-process + a short test against it.
    Demo { json: bool, ui: bool },
    /// `tressi target --listen ADDR [--threads N] [--body-size N]`.
    Target(TargetOptions),
    /// `-h/--help`: the help text to print on stdout, exit 0.
    Help(String),
    /// `-V/--version`.
    Version,
}

/// Options of the built-in target server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOptions {
    pub listen: SocketAddr,
    pub threads: usize,
    /// Response body size in bytes (default 13: "hello, world\n").
    pub body_size: usize,
}
