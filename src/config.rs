//! tressi's JSON config file → endpoints and run options (`Config`), plus the JSON
//! Schema of what it accepts (`schema()`) and the starter file of `tressi init`
//! (`STARTER`). `cli` merges a `Config` under the command line (CLI wins) into a `Plan`.
//!
//! Must not touch the OS except `load`, which reads the one file, and `init`, which
//! creates `tressi.config.json` (never replacing one); `parse` is pure. No
//! panic on any input; every error is `Error::Config`, one line:
//! `config FILE:LINE:COL: PATH: message`, e.g.
//! `config simple.json:7:14: requests[1].rps: must be >= 0 (got -5)`. Syntax errors
//! come from serde_json (its line:column); every other error is located in the raw text
//! by `locate` (a small JSON path locator), at the offending value, or at the key for
//! an unknown or duplicate field. Columns count characters from 1.
//!
//! Shapes accepted (all fields optional unless said):
//! - top level: `$schema` (string, ignored), `headers` (older shape), `requests`
//!   (required, at least one), `options` (newer shape).
//! - `options`: `durationSec` (> 0), `rampUpDurationSec` (>= 0, 0 = none), `headers`,
//!   `threads` (1..=1024), `workerEarlyExit`; ours: `connections` (total, like `-c`),
//!   `pipelining` (1..=1024), `keepAlive`, `sampleSize` (bytes, or a size such as "4KiB",
//!   at most 64 MiB); accepted from later versions of the original:
//!   `useUI` (false = `--no-ui`), `workerMemoryLimit` (accepted and ignored).
//! - a request: `url` (required), `method`, `payload`, `headers`, `rps` (>= 0),
//!   `rampUpDurationSec` (>= 0), `earlyExit`; ours: `weight` (1..=1000000), `timeout`
//!   (seconds > 0, or a duration string such as "500ms").
//! - an early-exit rule: `enabled` (default true: writing the object turns it on),
//!   `errorRateThreshold` (0..=1, 0 = not set, as in the original's defaults),
//!   `errorCountThreshold` (ours, 0 = not set), `exitStatusCodes` (100..=599),
//!   `monitoringWindowSeconds` (> 0) or, as in later versions of the original,
//!   `monitoringWindowMs` (>= 1) — not both. No window = the whole run.
//!
//! Choices where the original was silent or loose:
//! - Unknown fields and duplicate keys (anywhere) are errors.
//! - `method` is case-insensitive, one of GET POST PUT PATCH DELETE HEAD OPTIONS; GET
//!   when absent.
//! - `payload`: any JSON value, sent serialized (a string is sent as a JSON string, with
//!   its quotes); `null` = no body. A payload adds `Content-Type: application/json`
//!   unless the merged headers have a content type.
//! - Headers merge top-level `headers` → `options.headers` → the request's `headers`;
//!   a later one replaces an earlier one of the same name (compared case-insensitively).
//!   Names must be tokens, values free of control characters other than tab.
//! - `rps`: absent = take `--rps` if given, else closed loop; `0` = closed loop even
//!   with `--rps`; otherwise that endpoint's own rate (not shared).
//! - A request's `rampUpDurationSec` of 0 means "use the global ramp" (as the original).
//! - Duplicates: two requests that are the same in every way that reaches the wire
//!   (method, URL, headers, body) are an error, since nothing in the report could tell
//!   them apart and the intent (double the rate? a typo?) is ambiguous. The same method
//!   and URL with a different body or headers is fine.
//! - Semantic checks the schema cannot express: URL validity, header names and values,
//!   duplicate requests and keys, the two window fields together, timeout strings.

use crate::error::Error;
use crate::plan::{EarlyExit, Endpoint};
use crate::target::Target;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The file `tressi init` writes.
pub const INIT_FILE: &str = "tressi.config.json";

/// The starter config of `tressi init` (the newer shape; `$schema` names the file that
/// `tressi schema > tressi.schema.json` writes, for editors).
pub const STARTER: &str = r#"{
  "$schema": "./tressi.schema.json",
  "options": {
    "durationSec": 10,
    "rampUpDurationSec": 0,
    "threads": 2,
    "connections": 20,
    "headers": {
      "Accept": "application/json"
    },
    "workerEarlyExit": {
      "enabled": false,
      "errorRateThreshold": 0.05,
      "exitStatusCodes": [500, 503],
      "monitoringWindowSeconds": 5
    }
  },
  "requests": [
    {
      "url": "http://127.0.0.1:8080/",
      "method": "GET",
      "rps": 50
    },
    {
      "url": "http://127.0.0.1:8080/items",
      "method": "POST",
      "rps": 10,
      "payload": { "name": "tressi" }
    }
  ]
}
"#;

/// Methods a config may use.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Upper bound of `weight`.
pub const MAX_WEIGHT: u64 = 1_000_000;

/// One request of the file: the endpoint (headers merged, body rendered, `rate` left
/// `None`) and its `rps` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRequest {
    pub endpoint: Endpoint,
    /// `None` = not given (take `--rps`), `Some(0.0)` = closed loop, else the rate.
    pub rps: Option<f64>,
}

/// Run options of the file; `None` = not given (the CLI or the defaults decide).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigOptions {
    pub duration: Option<Duration>,
    /// `Some` only when > 0.
    pub ramp_up: Option<Duration>,
    pub threads: Option<u64>,
    pub connections: Option<u64>,
    pub pipelining: Option<u64>,
    pub keepalive: Option<bool>,
    pub ui: Option<bool>,
    /// `sampleSize`: bytes of each sampled response body (like `--sample-size`).
    pub sample_size: Option<u64>,
    /// `Some` only when the rule is enabled.
    pub early_exit: Option<EarlyExit>,
    /// The window of `workerEarlyExit`, even when it is disabled (the CLI's
    /// `--early-exit-on-error` uses it).
    pub early_exit_window: Option<Duration>,
    /// TLS: `insecure`, `caCert`, `clientCert`, `clientKey`, `sni` (paths as given,
    /// relative to the working directory).
    pub tls: crate::plan::TlsOptions,
}

/// A loaded config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub requests: Vec<ConfigRequest>,
    pub options: ConfigOptions,
}

/// Reads and parses `path`. A file that cannot be read is an `Error::Config` too.
pub fn load(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("config {}: cannot read: {e}", path.display())))?;
    parse(&path.display().to_string(), &text)
}

/// `tressi init`: writes `STARTER` to `dir/tressi.config.json`, refusing (an
/// `Error::Setup`, nothing written) if the file already exists. Returns the path.
pub fn init(dir: &Path) -> Result<std::path::PathBuf, Error> {
    use std::io::Write;
    let path = dir.join(INIT_FILE);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Setup(format!(
                "{INIT_FILE} already exists; not overwriting it (edit it, or remove it first)"
            )),
            _ => Error::Setup(format!("cannot create {}: {e}", path.display())),
        })?;
    f.write_all(STARTER.as_bytes())
        .map_err(|e| Error::Setup(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `requests[1].rps`, `options.headers["Bad Name"]`.
pub fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
            Seg::Key(k)
                if !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-$".contains(&b)) =>
            {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Key(k) => {
                let _ = write!(s, "[{}]", Value::String(k.clone()));
            }
        }
    }
    s
}

/// Parses a config text; `name` is how errors name the file.
pub fn parse(name: &str, text: &str) -> Result<Config, Error> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        let col = char_column(text, e.line(), e.column());
        Error::Config(format!("config {name}:{}:{col}: {msg}", e.line()))
    })?;
    let cx = Cx { name, text };
    if let Some((offset, path)) = first_duplicate_key(text) {
        let (line, col) = line_col(text, offset);
        return Err(Error::Config(format!(
            "config {name}:{line}:{col}: {}: duplicate field",
            path_string(&path)
        )));
    }
    cx.root(&root)
}

/// Where errors point: the file's name and text.
struct Cx<'a> {
    name: &'a str,
    text: &'a str,
}

type P = Vec<Seg>;

fn key(path: &[Seg], k: &str) -> P {
    let mut p = path.to_vec();
    p.push(Seg::Key(k.to_string()));
    p
}

fn index(path: &[Seg], i: usize) -> P {
    let mut p = path.to_vec();
    p.push(Seg::Index(i));
    p
}

/// What a value is, for "expected X, got Y".
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as quoted in a message (shortened).
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(37).collect();
        format!("{cut}...")
    } else {
        s
    }
}

impl Cx<'_> {
    /// An error at the value at `path` (or at its key when `at_key`).
    fn err_at(&self, path: &[Seg], at_key: bool, msg: impl AsRef<str>) -> Error {
        let offset = locate(self.text, path, at_key).unwrap_or(0);
        let (line, col) = line_col(self.text, offset);
        let p = path_string(path);
        let p = if p.is_empty() {
            "(top level)".to_string()
        } else {
            p
        };
        Error::Config(format!(
            "config {}:{line}:{col}: {p}: {}",
            self.name,
            msg.as_ref()
        ))
    }

    fn err(&self, path: &[Seg], msg: impl AsRef<str>) -> Error {
        self.err_at(path, false, msg)
    }

    fn object<'v>(
        &self,
        v: &'v Value,
        path: &[Seg],
        allowed: &[&str],
    ) -> Result<&'v Map<String, Value>, Error> {
        let Value::Object(m) = v else {
            return Err(self.err(path, format!("expected an object, got {}", kind(v))));
        };
        // Report the first unknown field in text order.
        let mut unknown: Option<(usize, &str)> = None;
        for k in m.keys().filter(|k| !allowed.contains(&k.as_str())) {
            let at = locate(self.text, &key(path, k), true).unwrap_or(0);
            if unknown.is_none_or(|(o, _)| at < o) {
                unknown = Some((at, k));
            }
        }
        if let Some((_, k)) = unknown {
            return Err(self.err_at(
                &key(path, k),
                true,
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
        Ok(m)
    }

    fn number(&self, v: &Value, path: &[Seg]) -> Result<f64, Error> {
        match v.as_f64() {
            Some(x) if v.is_number() => Ok(x),
            _ => Err(self.err(path, format!("expected a number, got {}", kind(v)))),
        }
    }

    /// A number `>= min` (or `> min` when `exclusive`).
    fn number_min(&self, v: &Value, path: &[Seg], min: f64, exclusive: bool) -> Result<f64, Error> {
        let x = self.number(v, path)?;
        let ok = if exclusive { x > min } else { x >= min };
        if !ok {
            let op = if exclusive { ">" } else { ">=" };
            return Err(self.err(path, format!("must be {op} {min} (got {})", shown(v))));
        }
        Ok(x)
    }

    /// A whole number in `min..=max`.
    fn uint(&self, v: &Value, path: &[Seg], min: u64, max: u64) -> Result<u64, Error> {
        let x = self.number(v, path)?;
        let n = match v.as_u64() {
            Some(n) => n,
            None if x.fract() == 0.0 && (0.0..1.8e19).contains(&x) => x as u64,
            None if x.fract() == 0.0 && x < 0.0 => {
                return Err(self.err(path, format!("must be >= {min} (got {})", shown(v))))
            }
            None => {
                return Err(self.err(path, format!("must be a whole number (got {})", shown(v))))
            }
        };
        if n < min {
            return Err(self.err(path, format!("must be >= {min} (got {})", shown(v))));
        }
        if n > max {
            return Err(self.err(path, format!("must be <= {max} (got {})", shown(v))));
        }
        Ok(n)
    }

    fn boolean(&self, v: &Value, path: &[Seg]) -> Result<bool, Error> {
        v.as_bool()
            .ok_or_else(|| self.err(path, format!("expected a boolean, got {}", kind(v))))
    }

    fn string<'v>(&self, v: &'v Value, path: &[Seg]) -> Result<&'v str, Error> {
        v.as_str()
            .ok_or_else(|| self.err(path, format!("expected a string, got {}", kind(v))))
    }

    /// Seconds (`>= 0`, or `> 0` when `positive`) → a duration.
    fn seconds(&self, v: &Value, path: &[Seg], positive: bool) -> Result<Duration, Error> {
        let x = self.number_min(v, path, 0.0, positive)?;
        Duration::try_from_secs_f64(x)
            .map_err(|_| self.err(path, format!("too large (got {})", shown(v))))
    }

    fn headers(
        &self,
        v: &Value,
        path: &[Seg],
        into: &mut Vec<(String, String)>,
    ) -> Result<(), Error> {
        let Value::Object(m) = v else {
            return Err(self.err(path, format!("expected an object, got {}", kind(v))));
        };
        // In text order, so that the sent order is the written order.
        let mut entries: Vec<(usize, &String, &Value)> = m
            .iter()
            .map(|(k, v)| (locate(self.text, &key(path, k), true).unwrap_or(0), k, v))
            .collect();
        entries.sort_by_key(|e| e.0);
        for (_, name, value) in entries {
            let p = key(path, name);
            let value = self.string(value, &p)?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(self.err_at(
                    &p,
                    true,
                    "invalid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                ));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(self.err(
                    &p,
                    "header value contains a control character (CR, LF, NUL...)",
                ));
            }
            set_header(into, name, value.trim_matches([' ', '\t']));
        }
        Ok(())
    }

    /// An early-exit object → (rule if enabled, window).
    fn rule(
        &self,
        v: &Value,
        path: &[Seg],
    ) -> Result<(Option<EarlyExit>, Option<Duration>), Error> {
        let m = self.object(
            v,
            path,
            &[
                "enabled",
                "errorRateThreshold",
                "errorCountThreshold",
                "exitStatusCodes",
                "monitoringWindowSeconds",
                "monitoringWindowMs",
            ],
        )?;
        let mut rule = EarlyExit::default();
        let mut enabled = true;
        if let Some(v) = m.get("enabled") {
            enabled = self.boolean(v, &key(path, "enabled"))?;
        }
        if let Some(v) = m.get("errorRateThreshold") {
            let p = key(path, "errorRateThreshold");
            let x = self.number_min(v, &p, 0.0, false)?;
            if x > 1.0 {
                return Err(self.err(&p, format!("must be <= 1 (got {})", shown(v))));
            }
            rule.error_rate = (x > 0.0).then_some(x);
        }
        if let Some(v) = m.get("errorCountThreshold") {
            let n = self.uint(v, &key(path, "errorCountThreshold"), 0, u64::MAX)?;
            rule.error_count = (n > 0).then_some(n);
        }
        if let Some(v) = m.get("exitStatusCodes") {
            let p = key(path, "exitStatusCodes");
            let Value::Array(a) = v else {
                return Err(self.err(&p, format!("expected an array, got {}", kind(v))));
            };
            for (i, c) in a.iter().enumerate() {
                let code = self.uint(c, &index(&p, i), 100, 599)? as u16;
                if !rule.status_codes.contains(&code) {
                    rule.status_codes.push(code);
                }
            }
        }
        let secs = m.get("monitoringWindowSeconds");
        let ms = m.get("monitoringWindowMs");
        let window = match (secs, ms) {
            (Some(_), Some(_)) => {
                return Err(self.err_at(
                    &key(path, "monitoringWindowMs"),
                    true,
                    "give monitoringWindowSeconds or monitoringWindowMs, not both",
                ))
            }
            (Some(v), None) => {
                Some(self.seconds(v, &key(path, "monitoringWindowSeconds"), true)?)
            }
            (None, Some(v)) => Some(Duration::from_millis(self.uint(
                v,
                &key(path, "monitoringWindowMs"),
                1,
                u64::MAX,
            )?)),
            (None, None) => None,
        };
        rule.window = window;
        let any = rule.error_rate.is_some()
            || rule.error_count.is_some()
            || !rule.status_codes.is_empty();
        Ok(((enabled && any).then_some(rule), window))
    }

    fn root(&self, root: &Value) -> Result<Config, Error> {
        let top = self.object(root, &[], &["$schema", "headers", "requests", "options"])?;
        if let Some(v) = top.get("$schema") {
            self.string(v, &key(&[], "$schema"))?;
        }
        let mut global = Vec::new();
        if let Some(v) = top.get("headers") {
            self.headers(v, &key(&[], "headers"), &mut global)?;
        }
        let mut options = ConfigOptions::default();
        if let Some(v) = top.get("options") {
            options = self.options(v, &mut global)?;
        }
        let Some(reqs) = top.get("requests") else {
            return Err(self.err(&[], "missing field 'requests' (a list of {\"url\": ...})"));
        };
        let rp = key(&[], "requests");
        let Value::Array(reqs) = reqs else {
            return Err(self.err(&rp, format!("expected an array, got {}", kind(reqs))));
        };
        if reqs.is_empty() {
            return Err(self.err(&rp, "must list at least one request"));
        }
        let mut requests: Vec<ConfigRequest> = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let p = index(&rp, i);
            let req = self.request(r, &p, &global)?;
            if let Some(j) = requests
                .iter()
                .position(|o| same_wire(&o.endpoint, &req.endpoint))
            {
                return Err(self.err(
                    &p,
                    format!(
                        "same request as requests[{j}] ({} {}); give one request more rps \
                         or weight instead",
                        req.endpoint.method,
                        req.endpoint.target.url()
                    ),
                ));
            }
            requests.push(req);
        }
        Ok(Config { requests, options })
    }

    fn options(
        &self,
        v: &Value,
        headers: &mut Vec<(String, String)>,
    ) -> Result<ConfigOptions, Error> {
        let path = key(&[], "options");
        let m = self.object(
            v,
            &path,
            &[
                "durationSec",
                "rampUpDurationSec",
                "headers",
                "threads",
                "workerEarlyExit",
                "connections",
                "pipelining",
                "keepAlive",
                "useUI",
                "workerMemoryLimit",
                "sampleSize",
                "insecure",
                "caCert",
                "clientCert",
                "clientKey",
                "sni",
            ],
        )?;
        let mut o = ConfigOptions::default();
        for (k, v) in m {
            let p = key(&path, k);
            match k.as_str() {
                "durationSec" => o.duration = Some(self.seconds(v, &p, true)?),
                "rampUpDurationSec" => {
                    o.ramp_up = Some(self.seconds(v, &p, false)?).filter(|d| !d.is_zero())
                }
                "headers" => self.headers(v, &p, headers)?,
                "threads" => o.threads = Some(self.uint(v, &p, 1, 1024)?),
                "workerEarlyExit" => (o.early_exit, o.early_exit_window) = self.rule(v, &p)?,
                "connections" => o.connections = Some(self.uint(v, &p, 1, 1_000_000)?),
                "pipelining" => o.pipelining = Some(self.uint(v, &p, 1, 1024)?),
                "keepAlive" => o.keepalive = Some(self.boolean(v, &p)?),
                "useUI" => o.ui = Some(self.boolean(v, &p)?),
                "sampleSize" => {
                    let max = crate::samples::MAX_SAMPLE_SIZE as u64;
                    let n = match v {
                        Value::String(s) => {
                            crate::units::parse_size(s).map_err(|e| self.err(&p, e))?
                        }
                        _ => self.uint(v, &p, 0, max)?,
                    };
                    if n > max {
                        return Err(
                            self.err(&p, format!("must be at most 64MiB (got {})", shown(v)))
                        );
                    }
                    o.sample_size = Some(n);
                }
                "insecure" => o.tls.insecure = self.boolean(v, &p)?,
                "caCert" => o.tls.cacert = Some(self.string(v, &p)?.into()),
                "clientCert" => o.tls.cert = Some(self.string(v, &p)?.into()),
                "clientKey" => o.tls.key = Some(self.string(v, &p)?.into()),
                "sni" => o.tls.sni = Some(self.string(v, &p)?.to_string()),
                "workerMemoryLimit" => {
                    self.uint(v, &p, 0, u64::MAX)?;
                }
                _ => {}
            }
        }
        Ok(o)
    }

    fn request(
        &self,
        v: &Value,
        path: &[Seg],
        global: &[(String, String)],
    ) -> Result<ConfigRequest, Error> {
        let m = self.object(
            v,
            path,
            &[
                "url",
                "method",
                "payload",
                "headers",
                "rps",
                "rampUpDurationSec",
                "earlyExit",
                "weight",
                "timeout",
            ],
        )?;
        let Some(url) = m.get("url") else {
            return Err(self.err(path, "missing field 'url'"));
        };
        let up = key(path, "url");
        let target =
            Target::parse(self.string(url, &up)?).map_err(|e| self.err(&up, e.to_string()))?;
        let mut ep = Endpoint::get(target);
        ep.headers = global.to_vec();
        let mut rps = None;
        for (k, v) in m {
            let p = key(path, k);
            match k.as_str() {
                "method" => {
                    let s = self.string(v, &p)?;
                    let up = s.to_ascii_uppercase();
                    if !METHODS.contains(&up.as_str()) {
                        return Err(self.err(
                            &p,
                            format!(
                                "unknown method {} (expected one of: {})",
                                shown(v),
                                METHODS.join(", ")
                            ),
                        ));
                    }
                    ep.method = up;
                }
                "headers" => self.headers(v, &p, &mut ep.headers)?,
                "rps" => {
                    let x = self.number_min(v, &p, 0.0, false)?;
                    if x > crate::plan::MAX_RATE {
                        let max = crate::plan::MAX_RATE as u64;
                        return Err(self.err(&p, format!("must be <= {max} (got {})", shown(v))));
                    }
                    rps = Some(x)
                }
                "rampUpDurationSec" => {
                    ep.ramp_up = Some(self.seconds(v, &p, false)?).filter(|d| !d.is_zero())
                }
                "earlyExit" => ep.early_exit = self.rule(v, &p)?.0,
                "weight" => ep.weight = self.uint(v, &p, 1, MAX_WEIGHT)? as u32,
                "timeout" => {
                    let d = match v {
                        Value::String(s) => {
                            crate::units::parse_duration(s).map_err(|e| self.err(&p, e))?
                        }
                        _ => self.seconds(v, &p, true)?,
                    };
                    if d.is_zero() {
                        return Err(self.err(&p, format!("must be > 0 (got {})", shown(v))));
                    }
                    ep.timeout = Some(d);
                }
                _ => {}
            }
        }
        if let Some(payload) = m.get("payload").filter(|p| !p.is_null()) {
            ep.body = serde_json::to_vec(payload)
                .map_err(|e| self.err(&key(path, "payload"), e.to_string()))?;
            if !ep
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                ep.headers
                    .push(("Content-Type".into(), "application/json".into()));
            }
        }
        Ok(ConfigRequest { endpoint: ep, rps })
    }
}

/// Same on the wire: method, URL, headers (names case-insensitively) and body.
fn same_wire(a: &Endpoint, b: &Endpoint) -> bool {
    fn norm(e: &Endpoint) -> Vec<(String, &str)> {
        let mut h: Vec<(String, &str)> = e
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .collect();
        h.sort();
        h
    }
    a.method == b.method && a.target == b.target && a.body == b.body && norm(a) == norm(b)
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Sets `name: value`, replacing a header of the same name (any case) in place.
pub fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    match headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(h) => *h = (name.to_string(), value.to_string()),
        None => headers.push((name.to_string(), value.to_string())),
    }
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

// ---- the JSON path locator: a lenient scanner over text serde_json already accepted.

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (a `"`).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// End (exclusive) of the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(&open @ (b'{' | b'[')) => {
            let close = if open == b'{' { b'}' } else { b']' };
            let mut j = skip_ws(b, i + 1);
            if b.get(j) == Some(&close) {
                return j + 1;
            }
            loop {
                if open == b'{' {
                    j = skip_string(b, j);
                    j = skip_ws(b, j) + 1; // ':'
                    j = skip_ws(b, j);
                }
                j = skip_value(b, j);
                j = skip_ws(b, j);
                match b.get(j) {
                    Some(b',') => j = skip_ws(b, j + 1),
                    Some(_) => return j + 1,
                    None => return b.len(),
                }
            }
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n')
            {
                j += 1;
            }
            j.max(i + 1)
        }
        None => b.len(),
    }
}

/// The members of the object at `i`: (key offset, decoded key, value offset).
fn members(text: &str, i: usize) -> Vec<(usize, String, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    if b.get(i) != Some(&b'{') {
        return out;
    }
    let mut j = skip_ws(b, i + 1);
    while b.get(j) == Some(&b'"') {
        let kend = skip_string(b, j);
        let k: String = text
            .get(j..kend)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let v = skip_ws(b, skip_ws(b, kend) + 1);
        out.push((j, k, v));
        j = skip_ws(b, skip_value(b, v));
        if b.get(j) != Some(&b',') {
            break;
        }
        j = skip_ws(b, j + 1);
    }
    out
}

/// Byte offset of the value at `path` in `text` (or of its key, when `at_key` and the
/// last step is a key). `None` if the path is not there.
pub fn locate(text: &str, path: &[Seg], at_key: bool) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    for (n, seg) in path.iter().enumerate() {
        let last = n + 1 == path.len();
        match seg {
            Seg::Key(k) => {
                let (ko, _, vo) = members(text, i).into_iter().find(|m| &m.1 == k)?;
                if last && at_key {
                    return Some(ko);
                }
                i = vo;
            }
            Seg::Index(want) => {
                if b.get(i) != Some(&b'[') {
                    return None;
                }
                let mut j = skip_ws(b, i + 1);
                for _ in 0..*want {
                    if matches!(b.get(j), Some(b']') | None) {
                        return None;
                    }
                    j = skip_ws(b, skip_value(b, j));
                    if b.get(j) != Some(&b',') {
                        return None;
                    }
                    j = skip_ws(b, j + 1);
                }
                if matches!(b.get(j), Some(b']') | None) {
                    return None;
                }
                i = j;
            }
        }
    }
    Some(i)
}

/// The first key that appears twice in one object: (offset of the second, its path).
pub fn first_duplicate_key(text: &str) -> Option<(usize, Vec<Seg>)> {
    fn walk(text: &str, i: usize, path: &mut Vec<Seg>, depth: usize) -> Option<(usize, Vec<Seg>)> {
        let b = text.as_bytes();
        if depth > 256 {
            return None;
        }
        match b.get(i) {
            Some(b'{') => {
                let ms = members(text, i);
                for (n, (ko, k, vo)) in ms.iter().enumerate() {
                    path.push(Seg::Key(k.clone()));
                    if ms[..n].iter().any(|m| &m.1 == k) {
                        return Some((*ko, path.clone()));
                    }
                    if let Some(found) = walk(text, *vo, path, depth + 1) {
                        return Some(found);
                    }
                    path.pop();
                }
                None
            }
            Some(b'[') => {
                let mut j = skip_ws(b, i + 1);
                let mut n = 0;
                while !matches!(b.get(j), Some(b']') | None) {
                    path.push(Seg::Index(n));
                    if let Some(found) = walk(text, j, path, depth + 1) {
                        return Some(found);
                    }
                    path.pop();
                    j = skip_ws(b, skip_value(b, j));
                    if b.get(j) != Some(&b',') {
                        break;
                    }
                    j = skip_ws(b, j + 1);
                    n += 1;
                }
                None
            }
            _ => None,
        }
    }
    walk(text, skip_ws(text.as_bytes(), 0), &mut Vec::new(), 0)
}

// ---- the JSON Schema (draft-07) of what `parse` accepts.

/// The JSON Schema of the config, as printed by `tressi schema`.
pub fn schema() -> Value {
    let headers = json!({
        "type": "object",
        "description": "Header name -> value; later levels replace earlier ones (names compare case-insensitively).",
        "additionalProperties": { "type": "string" }
    });
    let method_pattern = format!(
        "^({})$",
        METHODS
            .iter()
            .map(|m| m
                .chars()
                .map(|c| format!("[{}{}]", c, c.to_ascii_lowercase()))
                .collect::<String>())
            .collect::<Vec<_>>()
            .join("|")
    );
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "tressi config",
        "type": "object",
        "additionalProperties": false,
        "required": ["requests"],
        "properties": {
            "$schema": { "type": "string" },
            "headers": headers,
            "options": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "durationSec": { "type": "number", "exclusiveMinimum": 0, "description": "Run length in seconds (CLI: --duration)." },
                    "rampUpDurationSec": { "type": "number", "minimum": 0, "description": "Linear ramp of every rate from 0, seconds; 0 = none (CLI: --ramp-up-time)." },
                    "headers": headers,
                    "threads": { "type": "integer", "minimum": 1, "maximum": 1024, "description": "Worker threads (CLI: --workers/-t)." },
                    "workerEarlyExit": { "$ref": "#/definitions/earlyExit" },
                    "connections": { "type": "integer", "minimum": 1, "maximum": 1_000_000, "description": "Connections in total (CLI: -c)." },
                    "pipelining": { "type": "integer", "minimum": 1, "maximum": 1024 },
                    "keepAlive": { "type": "boolean" },
                    "useUI": { "type": "boolean" },
                    "sampleSize": { "type": ["integer", "string"], "minimum": 0, "description": "Bytes kept of each sampled response body: a number or a size such as \"4KiB\" (CLI: --sample-size)." },
                    "workerMemoryLimit": { "type": "integer", "minimum": 0, "description": "Accepted for compatibility; ignored." },
                    "insecure": { "type": "boolean", "description": "https: do not verify server certificates (CLI: --insecure)." },
                    "caCert": { "type": "string", "description": "https: PEM file of extra trusted CA certificates (CLI: --cacert)." },
                    "clientCert": { "type": "string", "description": "https: PEM client certificate chain (CLI: --cert)." },
                    "clientKey": { "type": "string", "description": "https: PEM private key of clientCert (CLI: --key)." },
                    "sni": { "type": "string", "description": "https: server name to send and verify instead of the URL's host (CLI: --sni)." }
                }
            },
            "requests": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["url"],
                    "properties": {
                        "url": { "type": "string", "format": "uri" },
                        "method": { "type": "string", "pattern": method_pattern, "default": "GET", "description": "Case-insensitive." },
                        "payload": { "description": "Any JSON value, sent serialized as the body; null = no body." },
                        "headers": headers,
                        "rps": { "type": "number", "minimum": 0, "maximum": crate::plan::MAX_RATE as u64, "description": "This request's own rate; 0 = closed loop; absent = --rps or closed loop." },
                        "rampUpDurationSec": { "type": "number", "minimum": 0, "description": "0 = the global ramp." },
                        "earlyExit": { "$ref": "#/definitions/earlyExit" },
                        "weight": { "type": "integer", "minimum": 1, "maximum": MAX_WEIGHT, "description": "Share among closed-loop requests." },
                        "timeout": { "type": ["number", "string"], "exclusiveMinimum": 0, "description": "Seconds, or a duration such as \"500ms\"." }
                    }
                }
            }
        },
        "definitions": {
            "earlyExit": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "enabled": { "type": "boolean", "default": true },
                    "errorRateThreshold": { "type": "number", "minimum": 0, "maximum": 1, "description": "0 = not set." },
                    "errorCountThreshold": { "type": "integer", "minimum": 0, "description": "0 = not set." },
                    "exitStatusCodes": { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 } },
                    "monitoringWindowSeconds": { "type": "number", "exclusiveMinimum": 0 },
                    "monitoringWindowMs": { "type": "integer", "minimum": 1 }
                }
            }
        }
    })
}

/// serde_json's column (bytes into the line, 0 before its first character) as the
/// character column from 1 that every other config error uses.
fn char_column(text: &str, line: usize, byte_col: usize) -> usize {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_col.max(1);
    };
    let mut cut = byte_col.min(l.len());
    while !l.is_char_boundary(cut) {
        cut -= 1;
    }
    l[..cut].chars().count().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse("t.json", text) {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn locator_cases() {
        let text = "{\n  \"a\": [1, {\"b\": \"x\\\"]\"}, [ ]],\n  \"c\\u0064\": {\"e\": null}\n}";
        let cases: &[(&[Seg], bool, (usize, usize))] = &[
            (&[], false, (1, 1)),
            (&[Seg::Key("a".into())], false, (2, 8)),
            (&[Seg::Key("a".into())], true, (2, 3)),
            (&[Seg::Key("a".into()), Seg::Index(0)], false, (2, 9)),
            (
                &[Seg::Key("a".into()), Seg::Index(1), Seg::Key("b".into())],
                false,
                (2, 18),
            ),
            (&[Seg::Key("a".into()), Seg::Index(2)], false, (2, 27)),
            (
                &[Seg::Key("cd".into()), Seg::Key("e".into())],
                true,
                (3, 15),
            ),
        ];
        for (path, at_key, want) in cases {
            let off = locate(text, path, *at_key).unwrap_or_else(|| panic!("{path:?}"));
            assert_eq!(line_col(text, off), *want, "{path:?}");
        }
        assert_eq!(locate(text, &[Seg::Key("zz".into())], false), None);
        assert_eq!(
            locate(text, &[Seg::Key("a".into()), Seg::Index(3)], false),
            None
        );
        assert_eq!(locate("[]", &[Seg::Index(0)], false), None);
        assert_eq!(locate("{}", &[Seg::Key("x".into())], false), None);
    }

    #[test]
    fn duplicate_keys() {
        assert_eq!(first_duplicate_key("{\"a\":1,\"b\":[{\"c\":1}]}"), None);
        let (off, path) = first_duplicate_key("{\"a\":1,\"b\":[{\"c\":1,\"c\":2}]}").unwrap();
        assert_eq!(off, 19);
        assert_eq!(path_string(&path), "b[0].c");
    }

    #[test]
    fn paths() {
        let p = vec![
            Seg::Key("requests".into()),
            Seg::Index(1),
            Seg::Key("headers".into()),
            Seg::Key("Bad Name".into()),
        ];
        assert_eq!(path_string(&p), "requests[1].headers[\"Bad Name\"]");
    }

    #[test]
    fn errors_are_located() {
        let cases: &[(&str, &str)] = &[
            ("", "config t.json:1:1: EOF while parsing a value"),
            ("[]", "config t.json:1:1: (top level): expected an object, got an array"),
            ("{}", "config t.json:1:1: (top level): missing field 'requests' (a list of {\"url\": ...})"),
            ("{\"requests\": []}", "config t.json:1:14: requests: must list at least one request"),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"rps\": -5}]}",
                "config t.json:1:43: requests[0].rps: must be >= 0 (got -5)",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"rps\": 1e30}]}",
                "config t.json:1:43: requests[0].rps: must be <= 10000000 (got 1e+30)",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"rsp\": 1}]}",
                "config t.json:1:36: requests[0].rsp: unknown field (expected one of: url, \
                 method, payload, headers, rps, rampUpDurationSec, earlyExit, weight, timeout)",
            ),
            (
                "{\"requests\": [{\"url\": 5}]}",
                "config t.json:1:23: requests[0].url: expected a string, got a number",
            ),
            (
                "{\"requests\": [{\"url\": \"ftp://h/\"}]}",
                "config t.json:1:23: requests[0].url: bad URL: 'ftp://h/': unsupported scheme \
                 'ftp' (only http and https)",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"method\": \"FETCH\"}]}",
                "config t.json:1:46: requests[0].method: unknown method \"FETCH\" (expected one \
                 of: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"weight\": 1.5}]}",
                "config t.json:1:46: requests[0].weight: must be a whole number (got 1.5)",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"weight\": 0}]}",
                "config t.json:1:46: requests[0].weight: must be >= 1 (got 0)",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"timeout\": \"soon\"}]}",
                "config t.json:1:47: requests[0].timeout: invalid duration 'soon': expected a \
                 number with a unit, e.g. 10s, 1m30s, 500ms",
            ),
            (
                "{\"requests\": [{\"url\": \"http://h/\", \"url\": \"http://g/\"}]}",
                "config t.json:1:36: requests[0].url: duplicate field",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(err(text), *want, "{text}");
        }
    }

    #[test]
    fn headers_merge_and_payload() {
        let c = parse(
            "t",
            r#"{"headers": {"X-A": "1", "accept": "a"},
                "options": {"headers": {"X-A": "2", "X-B": " b "}},
                "requests": [{"url": "http://h/", "method": "post", "payload": {"k": [1, "v"]},
                              "headers": {"x-b": "3"}}]}"#,
        )
        .unwrap();
        let ep = &c.requests[0].endpoint;
        assert_eq!(ep.method, "POST");
        assert_eq!(ep.body, br#"{"k":[1,"v"]}"#);
        let h: Vec<(&str, &str)> = ep
            .headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            h,
            vec![
                ("X-A", "2"),
                ("accept", "a"),
                ("x-b", "3"),
                ("Content-Type", "application/json")
            ]
        );
        // A content type of the user's (any case) is kept; null payload = no body.
        let c = parse(
            "t",
            r#"{"requests": [{"url": "http://h/", "payload": "s", "headers": {"content-TYPE": "text/plain"}},
                            {"url": "http://h/", "payload": null}]}"#,
        )
        .unwrap();
        assert_eq!(c.requests[0].endpoint.body, b"\"s\"");
        assert_eq!(c.requests[0].endpoint.headers.len(), 1);
        assert!(c.requests[1].endpoint.body.is_empty());
        assert!(c.requests[1].endpoint.headers.is_empty());
    }

    #[test]
    fn starter_config_loads() {
        let c = parse(INIT_FILE, STARTER).unwrap();
        assert_eq!(c.requests.len(), 2);
        assert_eq!(c.options.threads, Some(2));
        assert_eq!(c.options.early_exit, None, "disabled in the starter");
        assert_eq!(c.options.early_exit_window, Some(Duration::from_secs(5)));
    }
}
