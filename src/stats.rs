//! Measurements: each worker's `WorkerStats` (latency histogram, status and error counts,
//! bytes, connection counts, its per-second `timeline`, its response `samples` and its
//! `health` counters) and the merged `Summary` the reports read.
//! Recording is plain arithmetic on preallocated storage: no allocation per request (a
//! status seen for the first time allocates its sample once), no locks, no clock reads
//! (times come in as arguments). Must not format or print anything (the summary's
//! bottleneck verdict is made by `health::verdict`).

use crate::health::WorkerHealth;
use crate::plan::Plan;
use crate::samples::SampleStore;
use crate::timeline::{self, Timeline};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Highest latency the histograms track exactly, in µs (1 hour); larger values saturate.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Why a connection or request failed. Counted per kind; the run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connect failed (refused, unreachable, ...).
    Connect,
    /// The TCP connect did not finish within `--connect-timeout`.
    ConnectTimeout,
    /// A response did not arrive within `--timeout`.
    Timeout,
    /// A read failed (other than a reset).
    Read,
    /// A write failed (other than a reset).
    Write,
    /// The peer reset the connection.
    Reset,
    /// The response could not be parsed (bad head, bad framing, over the limits).
    Parse,
    /// The server closed the connection with requests outstanding.
    Closed,
    /// The TLS handshake failed or did not finish within `--connect-timeout` (protocol
    /// or version mismatch, the server hung up, ...).
    TlsHandshake,
    /// A certificate was not accepted: the server's (untrusted CA, expired, wrong host
    /// name) or, by the server's alert, ours.
    TlsCert,
}

impl ErrorKind {
    pub const COUNT: usize = 10;
    pub const ALL: [ErrorKind; Self::COUNT] = [
        ErrorKind::Connect,
        ErrorKind::ConnectTimeout,
        ErrorKind::Timeout,
        ErrorKind::Read,
        ErrorKind::Write,
        ErrorKind::Reset,
        ErrorKind::Parse,
        ErrorKind::Closed,
        ErrorKind::TlsHandshake,
        ErrorKind::TlsCert,
    ];

    /// The name used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Read => "read",
            ErrorKind::Write => "write",
            ErrorKind::Reset => "reset",
            ErrorKind::Parse => "parse",
            ErrorKind::Closed => "closed",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::TlsCert => "tls_cert",
        }
    }
}

/// Status codes are three digits (httparse guarantees it); index by the code itself.
pub const STATUS_SLOTS: usize = 1000;

/// An empty latency histogram (µs, 1 µs to `MAX_LATENCY_US`, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    // Bounds and precision are constants, so creation cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant histogram bounds are valid")
}

/// An empty histogram for the per-connection times (connect, TLS handshake, first byte):
/// same range, 2 significant digits (1 %). They are recorded once per connection, not
/// per request, and at 26 KiB instead of 188 KiB each they keep start-up and merging
/// cheap (every full histogram is zeroed page by page when it is made).
pub fn new_connection_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("constant histogram bounds are valid")
}

fn add_histogram(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Same bounds on both sides, so `add` cannot fail; saturate defensively anyway.
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// Encodes a histogram in HdrHistogram's standard form for exchange: V2 compressed
/// (deflate) serialization, base64. The same text the Java/C/Go HdrHistogram libraries and
/// `.hlog` interval logs use, so histograms of several runs can be merged exactly.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail for an in-range histogram; an error leaves it empty.
    if V2DeflateSerializer::new().serialize(h, &mut bytes).is_err() {
        bytes.clear();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes what `encode_histogram` (or another HdrHistogram library) wrote.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("histogram: bad base64: {e}"))?;
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("histogram: {e:?}"))
}

/// A response-time and a service-time histogram (µs) in the exchange encoding
/// (`encode_histogram`): what `summary.json` carries so runs can be merged exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Histograms {
    pub latency: String,
    pub service: String,
}

impl Histograms {
    /// Encodes both (allocates by the histograms' content: `report::finish` calls it,
    /// not `Summary::new`, so a run's allocations stay independent of its length).
    pub fn of(latency: &Histogram<u64>, service: &Histogram<u64>) -> Self {
        Histograms {
            latency: encode_histogram(latency),
            service: encode_histogram(service),
        }
    }
}

/// ns → µs rounded to nearest; 0 is recorded as 1 (the histograms' lowest value).
#[inline]
fn micros(ns: u64) -> u64 {
    (ns.saturating_add(500) / 1000).max(1)
}

/// The request counts of one endpoint in one worker (or merged: of the endpoint, or of
/// the whole run).
#[derive(Debug, Clone)]
pub struct Counts {
    /// Response time in µs: done − intended send time (coordinated-omission corrected;
    /// equal to the service time in the closed model).
    pub latency: Histogram<u64>,
    /// Service time in µs: done − actual send. Read it with `service()`: when
    /// `service_is_latency` is set, nothing is recorded here.
    pub service: Histogram<u64>,
    /// Closed loop: every request is intended when it is sent, so each service time
    /// equals its response time; `latency` stands for both and `service` stays empty
    /// (one histogram record per response instead of two). Set by the worker for the
    /// endpoints of its closed-loop pools.
    pub service_is_latency: bool,
    pub status: Box<[u64; STATUS_SLOTS]>,
    /// Requests ended by an error, by kind.
    pub errors: [u64; ErrorKind::COUNT],
    /// Requests handed to a connection (written or being written).
    pub sent: u64,
    /// Requests that ended with a response (the sum of `status`).
    pub completed: u64,
    /// Requests that ended with an error (the sum of `errors`).
    pub failed: u64,
    /// Requests still outstanding when the run stopped.
    pub in_flight_at_stop: u64,
    /// Open model: requests that were due but never sent (the wait queue was full, or
    /// they were still waiting for a connection at the stop).
    pub unsent: u64,
    /// Bytes of this endpoint's requests written, and of the responses to them read.
    pub bytes_written: u64,
    pub bytes_read: u64,
}

impl Default for Counts {
    fn default() -> Self {
        Self::new()
    }
}

impl Counts {
    pub fn new() -> Self {
        Counts {
            latency: new_histogram(),
            service: new_histogram(),
            service_is_latency: false,
            status: Box::new([0; STATUS_SLOTS]),
            errors: [0; ErrorKind::COUNT],
            sent: 0,
            completed: 0,
            failed: 0,
            in_flight_at_stop: 0,
            unsent: 0,
            bytes_written: 0,
            bytes_read: 0,
        }
    }

    /// Requests sent and not ended yet.
    pub fn outstanding(&self) -> u64 {
        self.sent - self.completed - self.failed
    }

    /// The service-time histogram (µs): `latency` itself in the closed loop.
    pub fn service(&self) -> &Histogram<u64> {
        if self.service_is_latency {
            &self.latency
        } else {
            &self.service
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        if self.service_is_latency && !other.service_is_latency {
            // Counts of another kind come in: this side's service times become explicit.
            self.service.reset();
            add_histogram(&mut self.service, &self.latency);
            self.service_is_latency = false;
        }
        add_histogram(&mut self.latency, &other.latency);
        if !self.service_is_latency {
            add_histogram(&mut self.service, other.service());
        }
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a += b;
        }
        self.sent += other.sent;
        self.completed += other.completed;
        self.failed += other.failed;
        self.in_flight_at_stop += other.in_flight_at_stop;
        self.unsent += other.unsent;
        self.bytes_written += other.bytes_written;
        self.bytes_read += other.bytes_read;
    }
}

/// One worker's counters. Owned by its thread; merged after join.
#[derive(Debug, Clone)]
pub struct WorkerStats {
    /// Per endpoint, indexed like `Plan::endpoints`.
    pub endpoints: Vec<Counts>,
    /// Connection failures that ended no request (refused or timed-out connects, a reset
    /// or stray bytes on an idle connection), by kind.
    pub conn_errors: [u64; ErrorKind::COUNT],
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Successful TCP connects.
    pub established: u64,
    /// Connects after the first one of each connection slot.
    pub reconnects: u64,
    /// Connection slots that were ever established (distinct slots).
    pub slots_established: u64,
    /// When the worker stopped sending and measuring (ns since the run's origin).
    pub stopped_ns: u64,
    /// Connection slots opened by autoscale, beyond the initial ones.
    pub autoscaled: u64,
    /// Per endpoint, its per-second timeline (see `timeline`).
    pub timelines: Vec<Timeline>,
    /// Which second is open (aligned to the run's origin).
    pub clock: timeline::Clock,
    /// The first response of each endpoint × status (see `samples`).
    pub samples: SampleStore,
    /// How well this worker kept up.
    pub health: WorkerHealth,
    /// TCP connect times (µs), of every successful connect.
    pub connect: Histogram<u64>,
    /// TLS handshake times (µs, from the TCP connect to the handshake's end), of every
    /// completed handshake; how many, and how many resumed a session.
    pub handshake: Histogram<u64>,
    pub handshakes: u64,
    pub resumed: u64,
    /// Time to first byte (µs): from the send of a connection's first request to the
    /// first byte of its response, once per connection.
    pub first_byte: Histogram<u64>,
}

impl WorkerStats {
    pub fn new(endpoints: usize) -> Self {
        WorkerStats {
            endpoints: (0..endpoints.max(1)).map(|_| Counts::new()).collect(),
            conn_errors: [0; ErrorKind::COUNT],
            bytes_read: 0,
            bytes_written: 0,
            established: 0,
            reconnects: 0,
            slots_established: 0,
            stopped_ns: 0,
            autoscaled: 0,
            timelines: (0..endpoints.max(1)).map(|_| Timeline::new()).collect(),
            clock: timeline::Clock::new(),
            samples: SampleStore::new(endpoints, crate::samples::DEFAULT_SAMPLE_SIZE),
            health: WorkerHealth::default(),
            connect: new_connection_histogram(),
            handshake: new_connection_histogram(),
            handshakes: 0,
            resumed: 0,
            first_byte: new_connection_histogram(),
        }
    }

    /// Before a run: samples of `sample_size` bytes, room for `seconds` seconds of
    /// timeline, and the encoder grown, so nothing reallocates per second in a run of
    /// that length.
    pub fn prepare(&mut self, sample_size: usize, seconds: usize) {
        self.samples = SampleStore::new(self.endpoints.len(), sample_size);
        for tl in &mut self.timelines {
            tl.reserve(seconds);
        }
        self.clock.warm_up();
    }

    /// The time is `now_ns`: closes the timeline's second when it has ended. One
    /// comparison unless a second boundary was crossed.
    #[inline]
    pub fn tick(&mut self, now_ns: u64) {
        self.clock.tick(now_ns, &mut self.timelines);
    }

    /// `record_response` for a response completed at `now_ns` (its timeline second).
    #[inline]
    pub fn record_response_at(
        &mut self,
        endpoint: usize,
        status: u16,
        latency_ns: u64,
        service_ns: u64,
        now_ns: u64,
    ) {
        self.tick(now_ns);
        self.record_response(endpoint, status, latency_ns, service_ns);
    }

    /// The run stopped at `stopped_ns`: closes the timeline's last second.
    pub fn finish_timeline(&mut self, stopped_ns: u64) {
        self.tick(stopped_ns);
        self.clock.finish(&mut self.timelines);
    }

    /// A TCP connect took `ns`.
    #[inline]
    pub fn record_connect(&mut self, ns: u64) {
        self.connect.saturating_record(micros(ns));
    }

    /// The first response bytes of a new connection came `ns` after its first request.
    #[inline]
    pub fn record_first_byte(&mut self, ns: u64) {
        self.first_byte.saturating_record(micros(ns));
    }

    /// A TLS handshake took `ns` (a resumed session when `resumed`).
    #[inline]
    pub fn record_handshake(&mut self, ns: u64, resumed: bool) {
        self.handshake.saturating_record(micros(ns));
        self.handshakes += 1;
        self.resumed += u64::from(resumed);
    }

    /// A request of `endpoint` was handed to a connection.
    #[inline]
    pub fn record_sent(&mut self, endpoint: usize) {
        if let Some(c) = self.endpoints.get_mut(endpoint) {
            c.sent += 1;
        }
    }

    /// A response ended a request: `latency_ns` = done − intended, `service_ns` = done −
    /// sent.
    #[inline]
    pub fn record_response(
        &mut self,
        endpoint: usize,
        status: u16,
        latency_ns: u64,
        service_ns: u64,
    ) {
        let Some(c) = self.endpoints.get_mut(endpoint) else {
            return;
        };
        if let Some(slot) = c.status.get_mut(status as usize) {
            *slot += 1;
        }
        c.completed += 1;
        let us = micros(latency_ns);
        c.latency.saturating_record(us);
        if c.service_is_latency {
            debug_assert_eq!(latency_ns, service_ns, "closed loop: sent = intended");
        } else {
            c.service.saturating_record(micros(service_ns));
        }
        if let Some(tl) = self.timelines.get_mut(endpoint) {
            tl.record(us);
        }
    }

    /// An error of `kind` ended one request of `endpoint`.
    #[inline]
    pub fn record_failed(&mut self, endpoint: usize, kind: ErrorKind) {
        if let Some(c) = self.endpoints.get_mut(endpoint) {
            c.errors[kind as usize] += 1;
            c.failed += 1;
        }
        if let Some(tl) = self.timelines.get_mut(endpoint) {
            tl.error();
        }
    }

    /// A connection failed with no request outstanding.
    #[inline]
    pub fn record_conn_error(&mut self, kind: ErrorKind) {
        self.conn_errors[kind as usize] += 1;
    }

    /// All endpoints' counts merged (its `service` always explicit: the endpoints may be
    /// of both kinds).
    pub fn total(&self) -> Counts {
        let mut t = Counts::new();
        for c in &self.endpoints {
            t.merge(c);
        }
        t
    }

    /// Errors by kind: request-ending ones of every endpoint plus connection-level ones.
    pub fn error_count(&self, kind: ErrorKind) -> u64 {
        self.conn_errors[kind as usize]
            + self
                .endpoints
                .iter()
                .map(|c| c.errors[kind as usize])
                .sum::<u64>()
    }

    /// Requests sent and not ended yet, over all endpoints.
    pub fn outstanding(&self) -> u64 {
        self.endpoints.iter().map(Counts::outstanding).sum()
    }

    /// Adds another worker's counts into this one (same endpoint list).
    pub fn merge(&mut self, other: &WorkerStats) {
        if self.endpoints.len() < other.endpoints.len() {
            self.endpoints
                .resize_with(other.endpoints.len(), Counts::new);
        }
        for (a, b) in self.endpoints.iter_mut().zip(other.endpoints.iter()) {
            a.merge(b);
        }
        for (a, b) in self.conn_errors.iter_mut().zip(other.conn_errors.iter()) {
            *a += b;
        }
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.established += other.established;
        self.reconnects += other.reconnects;
        self.slots_established += other.slots_established;
        self.stopped_ns = self.stopped_ns.max(other.stopped_ns);
        self.autoscaled += other.autoscaled;
        if self.timelines.len() < other.timelines.len() {
            self.timelines
                .resize_with(other.timelines.len(), Timeline::new);
        }
        for (a, b) in self.timelines.iter_mut().zip(other.timelines.iter()) {
            a.absorb(b);
        }
        self.samples.merge(&other.samples);
        self.health.merge(&other.health);
        add_histogram(&mut self.connect, &other.connect);
        add_histogram(&mut self.handshake, &other.handshake);
        add_histogram(&mut self.first_byte, &other.first_byte);
        self.handshakes += other.handshakes;
        self.resumed += other.resumed;
    }
}

/// Request totals. `sent == completed + failed + in_flight_at_stop`; `unsent` requests
/// (open model: due but never sent) are outside `sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requests {
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
    pub in_flight_at_stop: u64,
    pub unsent: u64,
}

/// Error counts by kind (see `ErrorKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Errors {
    pub connect: u64,
    pub connect_timeout: u64,
    pub timeout: u64,
    pub read: u64,
    pub write: u64,
    pub reset: u64,
    pub parse: u64,
    pub closed: u64,
    pub tls_handshake: u64,
    pub tls_cert: u64,
}

impl Errors {
    fn from_counts(c: &[u64; ErrorKind::COUNT]) -> Self {
        let g = |k: ErrorKind| c[k as usize];
        Errors {
            connect: g(ErrorKind::Connect),
            connect_timeout: g(ErrorKind::ConnectTimeout),
            timeout: g(ErrorKind::Timeout),
            read: g(ErrorKind::Read),
            write: g(ErrorKind::Write),
            reset: g(ErrorKind::Reset),
            parse: g(ErrorKind::Parse),
            closed: g(ErrorKind::Closed),
            tls_handshake: g(ErrorKind::TlsHandshake),
            tls_cert: g(ErrorKind::TlsCert),
        }
    }

    /// (name, count) in report order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("connect", self.connect),
            ("connect_timeout", self.connect_timeout),
            ("timeout", self.timeout),
            ("read", self.read),
            ("write", self.write),
            ("reset", self.reset),
            ("parse", self.parse),
            ("closed", self.closed),
            ("tls_handshake", self.tls_handshake),
            ("tls_cert", self.tls_cert),
        ]
        .into_iter()
    }

    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }
}

/// Latency percentiles in µs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p75: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub p99_99: u64,
    pub max: u64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency {
                min: 0,
                mean: 0.0,
                stdev: 0.0,
                p50: 0,
                p75: 0,
                p90: 0,
                p95: 0,
                p99: 0,
                p99_9: 0,
                p99_99: 0,
                max: 0,
            };
        }
        let q = |x: f64| h.value_at_quantile(x);
        Latency {
            min: h.min(),
            mean: round2(h.mean()),
            stdev: round2(h.stdev()),
            p50: q(0.50),
            p75: q(0.75),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: h.max(),
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bytes {
    pub read: u64,
    pub written: u64,
}

/// Connection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Connections {
    /// `-c`: connections asked for.
    pub requested: u64,
    /// Connection slots that were established at least once.
    pub established: u64,
    /// Connects beyond the first of each slot (after a close, error or timeout).
    pub reconnects: u64,
    /// Connections opened by `--autoscale` beyond the initial ones.
    pub autoscaled: u64,
}

/// The TLS part of the summary (runs with an https endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TlsSummary {
    /// Completed handshakes, and how many of them resumed a session.
    pub handshakes: u64,
    pub resumed: u64,
    /// `--insecure`: server certificates were not verified.
    pub insecure: bool,
    /// Handshake time, from the TCP connect to the end of the TLS handshake.
    pub handshake_us: Latency,
}

/// One endpoint's part of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSummary {
    pub url: String,
    pub method: String,
    /// Target rate (req/s) of this endpoint; `null` = closed loop.
    pub target_rps: Option<f64>,
    /// Linear ramp-up applied to the target rate, in seconds.
    pub ramp_up_s: Option<f64>,
    /// Closed-loop weight.
    pub weight: u32,
    /// Completed responses per second over the run.
    pub rps: f64,
    pub requests: Requests,
    pub status: BTreeMap<u16, u64>,
    /// Errors that ended requests of this endpoint.
    pub errors: Errors,
    /// Response time (from the intended send time).
    pub latency_us: Latency,
    /// Service time (from the actual send).
    pub service_us: Latency,
    /// Bytes of this endpoint's requests written and of its responses read.
    pub bytes: Bytes,
    /// One row per second of the run (merged across workers).
    pub timeline: Vec<Second>,
    /// The first response of each status code, bounded by `--sample-size`.
    pub samples: Vec<Sample>,
    /// Request headers sent (global ones merged in), as `[name, value]`; secret values
    /// are redacted by `report::finish` unless `--show-secrets`.
    pub headers: Vec<(String, String)>,
    /// Request body size in bytes.
    pub body_bytes: u64,
    /// This endpoint's histograms in the exchange encoding (filled by `report::finish`
    /// from the two below).
    pub histograms: Histograms,
    /// This endpoint's response-time and service-time histograms (µs).
    #[serde(skip)]
    pub latency_histogram: Histogram<u64>,
    #[serde(skip)]
    pub service_histogram: Histogram<u64>,
}

/// One second of one endpoint's timeline, merged across workers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Second {
    /// Seconds since the start of the load: the row covers `[t, t + 1)` (the last one may
    /// be partial; `rps` accounts for that).
    pub t: u32,
    /// Responses completed in this second.
    pub responses: u64,
    /// Requests of this endpoint ended by an error in this second.
    pub errors: u64,
    /// Achieved responses per second in this second.
    pub rps: f64,
    /// The endpoint's scheduled rate in this second (ramp-up included); `null` in the
    /// closed model.
    pub target_rps: Option<f64>,
    /// Response-time percentiles of the responses completed in this second, µs (0 when
    /// there were none).
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The first response seen for one endpoint and status code (bounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub status: u16,
    /// Status line and headers as received, lossy UTF-8, lines joined by `\n` (a head
    /// longer than 8 KiB is cut, with a last line `…`).
    /// Not redacted here: reports and exports redact secrets when they print it.
    pub head: String,
    /// The first `--sample-size` bytes of the body, lossy UTF-8.
    pub body: String,
    /// The body was longer than the sample.
    pub truncated: bool,
}

/// How well the load generator itself kept up.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Health {
    /// Event-loop turns (poll returns), all workers.
    pub loop_turns: u64,
    /// Open model: requests sent more than 1 ms after their intended time although a
    /// connection was free (the loop's own delay; waits for a connection are `queued`).
    pub late_sends: u64,
    /// Open model: the most and the mean lateness of those sends (a connection was free)
    /// behind their intended time, µs (mean over all of them).
    pub lateness_max_us: u64,
    pub lateness_mean_us: f64,
    /// Requests that had to wait for a free connection, and how long, µs.
    pub queued: u64,
    pub queue_wait_total_us: u64,
    pub queue_wait_max_us: u64,
    /// The process's CPU time over the run (getrusage), seconds.
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// The busiest worker's share of the run's wall time spent outside `poll` (0..1):
    /// its thread's CPU time over its wall time.
    pub busiest_worker: f64,
    /// Peak resident set size of the process, KiB.
    pub peak_rss_kib: u64,
    /// Set when the client itself was the bottleneck: the verdict in plain words, with
    /// its figures.
    pub bottleneck: Option<String>,
}

/// One second of the whole run's response-time histogram, for interval logs (`.hlog`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Start of the interval in seconds since the start of the load, and its length.
    pub start_s: f64,
    pub duration_s: f64,
    /// Largest response time in the interval, µs.
    pub max_us: u64,
    /// The interval's histogram (µs) in HdrHistogram's V2 compressed encoding, base64.
    pub histogram: String,
}

/// The merged result of a run: what every report format is made from.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Format version of this object.
    pub version: u32,
    /// The first endpoint's URL (see `endpoints` for all).
    pub url: String,
    pub method: String,
    pub threads: usize,
    pub pipelining: usize,
    /// Wall time from the start of the load to its stop, in seconds.
    pub duration_s: f64,
    /// Completed responses per second over `duration_s`.
    pub rps: f64,
    /// Sum of the endpoints' target rates, when any has one.
    pub target_rps: Option<f64>,
    pub requests: Requests,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    /// Every error by kind: those that ended requests plus connection failures that ended
    /// none (refused connects, say).
    pub errors: Errors,
    /// Response time (from the intended send time: coordinated-omission corrected).
    pub latency_us: Latency,
    /// Service time (from the actual send); equal to `latency_us` in the closed model.
    pub service_us: Latency,
    pub bytes: Bytes,
    pub connections: Connections,
    /// TCP connect time of every successful connect.
    pub connect_us: Latency,
    /// Time to first byte: from the first request on each new connection to the first
    /// byte of its response.
    pub first_byte_us: Latency,
    /// Set when the run has an https endpoint.
    pub tls: Option<TlsSummary>,
    pub endpoints: Vec<EndpointSummary>,
    /// Set when an early-exit rule stopped the run: which one, with its figures.
    pub early_exit: Option<String>,
    /// SIGINT or SIGTERM stopped the run before its end.
    pub interrupted: bool,
    /// How well the generator kept up (and whether it was the bottleneck).
    pub health: Health,
    /// The run's response-time histogram, one interval per second.
    pub intervals: Vec<Interval>,
    /// The merged histograms in the exchange encoding (`histograms.latency` is
    /// `histogram` below; filled by `report::finish`).
    pub histograms: Histograms,
    /// When the load started, seconds since the Unix epoch (0 when unknown).
    pub start_unix_s: f64,
    /// The run's configuration (secrets in the endpoints' `headers`).
    pub config: crate::report::RunConfig,
    /// What the report warns about (`report::finish` fills it).
    pub warnings: Vec<String>,
    /// Merged response-time histogram (µs), for reports that need more than percentiles.
    #[serde(skip)]
    pub histogram: Histogram<u64>,
    /// Merged service-time histogram (µs).
    #[serde(skip)]
    pub service_histogram: Histogram<u64>,
}

fn status_map(status: &[u64; STATUS_SLOTS]) -> BTreeMap<u16, u64> {
    status
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (code as u16, *n))
        .collect()
}

fn requests_of(c: &Counts) -> Requests {
    Requests {
        sent: c.sent,
        completed: c.completed,
        failed: c.failed,
        in_flight_at_stop: c.in_flight_at_stop,
        unsent: c.unsent,
    }
}

fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        round2(n as f64 / secs)
    } else {
        0.0
    }
}

/// What the summary needs to know about the run besides the counts.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    pub plan: &'a Plan,
    /// Threads and pipelining as actually used.
    pub threads: usize,
    pub pipelining: usize,
    pub duration_s: f64,
}

impl Summary {
    /// Builds the summary from the merged worker stats.
    pub fn new(stats: &WorkerStats, facts: RunFacts<'_>, early_exit: Option<String>) -> Self {
        let plan = facts.plan;
        let secs = facts.duration_s;
        let total = stats.total();
        let mut errors = total.errors;
        for (a, b) in errors.iter_mut().zip(stats.conn_errors.iter()) {
            *a += b;
        }
        let endpoints: Vec<EndpointSummary> = plan
            .endpoints
            .iter()
            .zip(stats.endpoints.iter())
            .enumerate()
            .map(|(i, (ep, c))| EndpointSummary {
                url: ep.target.url(),
                method: ep.method.clone(),
                target_rps: ep.rate,
                ramp_up_s: ep
                    .ramp_up
                    .or(plan.ramp_up)
                    .filter(|_| ep.rate.is_some())
                    .map(|d| d.as_secs_f64()),
                weight: ep.weight,
                headers: ep.headers.clone(),
                body_bytes: ep.body.len() as u64,
                histograms: Histograms::default(),
                latency_histogram: c.latency.clone(),
                service_histogram: c.service().clone(),
                rps: per_second(c.completed, secs),
                requests: requests_of(c),
                status: status_map(&c.status),
                errors: Errors::from_counts(&c.errors),
                latency_us: Latency::from_histogram(&c.latency),
                service_us: Latency::from_histogram(c.service()),
                bytes: Bytes {
                    read: c.bytes_read,
                    written: c.bytes_written,
                },
                timeline: Vec::new(),
                samples: stats.samples.samples_of(i),
            })
            .collect();
        let schedules: Vec<Option<(f64, f64)>> = plan
            .endpoints
            .iter()
            .map(|ep| {
                ep.rate.map(|r| {
                    let ramp = ep.ramp_up.or(plan.ramp_up).map_or(0.0, |d| d.as_secs_f64());
                    (r, ramp)
                })
            })
            .collect();
        let built = timeline::build(&stats.timelines, &schedules, secs);
        let mut endpoints = endpoints;
        for (ep, rows) in endpoints.iter_mut().zip(built.endpoints) {
            ep.timeline = rows;
        }
        let health = health_of(stats, plan, facts.threads, facts.duration_s);
        let rates: Vec<f64> = plan.endpoints.iter().filter_map(|e| e.rate).collect();
        let first = plan.endpoints.first();
        Summary {
            version: 1,
            url: first.map(|e| e.target.url()).unwrap_or_default(),
            method: first.map(|e| e.method.clone()).unwrap_or_default(),
            threads: facts.threads,
            pipelining: facts.pipelining,
            duration_s: (secs * 1e6).round() / 1e6,
            rps: per_second(total.completed, secs),
            target_rps: (!rates.is_empty()).then(|| rates.iter().sum()),
            requests: requests_of(&total),
            status: status_map(&total.status),
            errors: Errors::from_counts(&errors),
            latency_us: Latency::from_histogram(&total.latency),
            service_us: Latency::from_histogram(&total.service),
            bytes: Bytes {
                read: stats.bytes_read,
                written: stats.bytes_written,
            },
            connections: Connections {
                requested: plan.connections as u64,
                established: stats.slots_established,
                reconnects: stats.reconnects,
                autoscaled: stats.autoscaled,
            },
            connect_us: Latency::from_histogram(&stats.connect),
            first_byte_us: Latency::from_histogram(&stats.first_byte),
            tls: plan
                .endpoints
                .iter()
                .any(|e| e.target.scheme == crate::target::Scheme::Https)
                .then(|| TlsSummary {
                    handshakes: stats.handshakes,
                    resumed: stats.resumed,
                    insecure: plan.tls.insecure,
                    handshake_us: Latency::from_histogram(&stats.handshake),
                }),
            endpoints,
            early_exit,
            interrupted: false,
            health,
            intervals: built.intervals,
            histograms: Histograms::default(),
            start_unix_s: 0.0,
            config: crate::report::RunConfig::of(plan),
            warnings: Vec::new(),
            histogram: total.latency,
            service_histogram: total.service,
        }
    }
}

/// The summary's health figures and verdict from the merged worker counters (the
/// process's CPU time and peak RSS are added by `run`, which measures them).
fn health_of(stats: &WorkerStats, plan: &Plan, threads: usize, duration_s: f64) -> Health {
    let h = &stats.health;
    let mean_ns = if h.direct_sends > 0 {
        h.lateness_total_ns as f64 / h.direct_sends as f64
    } else {
        0.0
    };
    let facts = crate::health::Facts {
        open: plan.endpoints.iter().any(|e| e.rate.is_some()),
        closed: plan.endpoints.iter().any(|e| e.rate.is_none()),
        direct_sends: h.direct_sends,
        late_sends: h.late_sends,
        lateness_max_ns: h.lateness_max_ns,
        lateness_mean_ns: mean_ns,
        capped_unsent: h.capped_unsent,
        busiest: h.busiest_share(),
        threads,
        duration_s,
    };
    Health {
        loop_turns: h.loop_turns,
        late_sends: h.late_sends,
        lateness_max_us: h.lateness_max_ns.saturating_add(500) / 1000,
        lateness_mean_us: round2(mean_ns / 1e3),
        queued: h.queued,
        queue_wait_total_us: h.queue_wait_total_ns / 1000,
        queue_wait_max_us: h.queue_wait_max_ns / 1000,
        cpu_user_s: 0.0,
        cpu_sys_s: 0.0,
        busiest_worker: round2(h.busiest_share()),
        peak_rss_kib: 0,
        bottleneck: crate::health::verdict(&facts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_exchange_encoding() {
        let mut h = new_histogram();
        for v in [1, 7, 150, 150, 2_000, 65_000, 3_000_000, MAX_LATENCY_US] {
            h.record(v).unwrap();
        }
        let text = encode_histogram(&h);
        assert!(
            text.starts_with("HISTF"),
            "V2 compressed cookie, base64: {text}"
        );
        let back = decode_histogram(&text).unwrap();
        assert_eq!(back.len(), h.len());
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q), "q={q}");
        }
        assert!(decode_histogram("not base64!").is_err());
        assert!(decode_histogram("AAAA").is_err());
    }

    #[test]
    fn error_names_are_distinct_and_ordered() {
        let names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "connect",
                "connect_timeout",
                "timeout",
                "read",
                "write",
                "reset",
                "parse",
                "closed",
                "tls_handshake",
                "tls_cert"
            ]
        );
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    #[test]
    fn record_and_merge_add_up() {
        let mut a = WorkerStats::new(2);
        let mut b = WorkerStats::new(2);
        for _ in 0..5 {
            a.record_sent(0);
        }
        a.record_response(0, 200, 1_000, 1_000);
        a.record_response(0, 200, 2_000, 500);
        a.record_response(0, 404, 499, 499); // rounds to 0 µs, recorded as 1
        a.record_failed(0, ErrorKind::Timeout);
        a.record_failed(0, ErrorKind::Timeout);
        for _ in 0..3 {
            b.record_sent(1);
        }
        b.record_response(1, 200, 10_000_000, 20_000);
        b.record_conn_error(ErrorKind::Connect);
        b.endpoints[1].in_flight_at_stop = 2;
        a.merge(&b);
        let t = a.total();
        assert_eq!(t.completed, 4);
        assert_eq!(t.failed, 2);
        assert_eq!(t.sent, t.completed + t.failed + t.in_flight_at_stop);
        assert_eq!(t.status[200], 3);
        assert_eq!(t.status[404], 1);
        assert_eq!(a.error_count(ErrorKind::Timeout), 2);
        assert_eq!(a.error_count(ErrorKind::Connect), 1);
        assert_eq!(t.latency.len(), 4);
        assert_eq!(t.latency.min(), 1);
        assert!(t.latency.max() >= 9_990 && t.latency.max() <= 10_010);
        assert!(t.service.max() >= 19 && t.service.max() <= 21);
        assert_eq!(a.endpoints[1].completed, 1);
        assert_eq!(a.outstanding(), 2);
    }

    /// The service histogram of `c` as (value, count) pairs.
    fn service_of(c: &Counts) -> Vec<(u64, u64)> {
        c.service()
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    }

    #[test]
    fn closed_loop_service_times_are_the_latencies_through_every_merge() {
        // A closed-loop endpoint records one histogram; an open one two. Whatever is
        // merged into what (worker into worker, endpoints into the total, one kind into
        // the other), the service times come out as if both had been recorded.
        let closed = |flag: bool| {
            let mut w = WorkerStats::new(2);
            w.endpoints[0].service_is_latency = flag;
            w.record_response(0, 200, 3_000, 3_000);
            w.record_response(0, 200, 7_000, 7_000);
            w.record_response(1, 200, 50_000, 2_000); // open: queued 48 ms
            w
        };
        let want_ep0 = vec![(3, 1), (7, 1)];
        let want_total = vec![(2, 1), (3, 1), (7, 1)];
        for (a_flag, b_flag) in [(true, true), (false, true), (true, false), (false, false)] {
            let (a, b) = (closed(a_flag), closed(b_flag));
            assert_eq!(service_of(&a.endpoints[0]), want_ep0);
            assert_eq!(service_of(&a.total()), want_total, "{a_flag}");
            assert!(!a.total().service_is_latency);
            let mut m = a.clone();
            m.merge(&b);
            let doubled: Vec<(u64, u64)> = want_ep0.iter().map(|&(v, n)| (v, 2 * n)).collect();
            assert_eq!(service_of(&m.endpoints[0]), doubled, "{a_flag} {b_flag}");
            assert_eq!(m.endpoints[0].latency.len(), 4);
            assert_eq!(service_of(&m.endpoints[1]), vec![(2, 2)]);
            let mut fresh = WorkerStats::new(2);
            fresh.merge(&a);
            assert_eq!(
                service_of(&fresh.endpoints[0]),
                want_ep0,
                "into a fresh one"
            );
        }
        assert!(
            closed(true).endpoints[0].service.is_empty(),
            "closed loop: one histogram record per response"
        );
    }

    #[test]
    fn huge_latency_saturates_and_unknown_endpoints_are_ignored() {
        let mut a = WorkerStats::new(1);
        a.record_response(0, 200, u64::MAX / 2, u64::MAX);
        a.record_response(7, 200, 1, 1);
        a.record_failed(7, ErrorKind::Read);
        let t = a.total();
        assert_eq!(t.latency.len(), 1);
        assert!(t.latency.max() >= MAX_LATENCY_US / 2);
    }

    #[test]
    fn summary_carries_bytes_timeline_samples_and_health() {
        let target = crate::target::Target::parse("http://x/").unwrap();
        let mut plan = Plan::new(vec![
            crate::plan::Endpoint {
                rate: Some(2.0),
                ..crate::plan::Endpoint::get(target.clone())
            },
            crate::plan::Endpoint::get(target),
        ]);
        plan.connections = 2;
        // Two workers, their seconds interleaved.
        let mut a = WorkerStats::new(2);
        a.prepare(4, 4);
        a.record_response_at(0, 200, 1_000_000, 900_000, 100_000_000);
        a.record_response_at(0, 200, 1_500_000, 900_000, 1_200_000_000);
        a.tick(1_900_000_000);
        a.record_failed(0, ErrorKind::Timeout);
        a.endpoints[0].bytes_read = 100;
        a.endpoints[0].bytes_written = 40;
        let i = a
            .samples
            .begin(0, 200, b"HTTP/1.1 200 OK\r\n\r\n", 100)
            .unwrap();
        a.samples.append(i, b"hello");
        a.samples.finish(i);
        a.health.record_send(50_000, false);
        a.health.record_send(3_000_000, false);
        a.health.cpu_ns = 500;
        a.health.wall_ns = 1_000;
        a.finish_timeline(2_000_000_000);
        let mut b = WorkerStats::new(2);
        b.record_response_at(0, 503, 2_000_000, 2_000_000, 300_000_000);
        b.record_response_at(1, 200, 10_000, 10_000, 1_500_000_000);
        b.health.record_send(20_000, true);
        b.finish_timeline(2_000_000_000);
        let mut total = WorkerStats::new(2);
        total.merge(&a);
        total.merge(&b);
        let facts = RunFacts {
            plan: &plan,
            threads: 2,
            pipelining: 1,
            duration_s: 2.0,
        };
        let sum = Summary::new(&total, facts, None);
        let e0 = &sum.endpoints[0];
        assert_eq!((e0.bytes.read, e0.bytes.written), (100, 40));
        let rows: Vec<(u32, u64, u64, Option<f64>, u64)> = e0
            .timeline
            .iter()
            .map(|r| (r.t, r.responses, r.errors, r.target_rps, r.max_us))
            .collect();
        assert_eq!(
            rows,
            vec![(0, 2, 0, Some(2.0), 2_000), (1, 1, 1, Some(2.0), 1_500)]
        );
        assert_eq!(sum.endpoints[1].timeline[1].responses, 1);
        assert_eq!(sum.endpoints[1].timeline[1].target_rps, None);
        assert_eq!(sum.intervals.len(), 2);
        assert_eq!(
            decode_histogram(&sum.intervals[1].histogram).unwrap().len(),
            2
        );
        assert_eq!(e0.samples.len(), 1);
        assert_eq!(e0.samples[0].body, "hell");
        assert!(e0.samples[0].truncated);
        let h = &sum.health;
        assert_eq!((h.late_sends, h.lateness_max_us), (1, 3_000));
        assert_eq!(h.lateness_mean_us, 1_525.0);
        assert_eq!((h.queued, h.queue_wait_max_us), (1, 20));
        assert_eq!(h.busiest_worker, 0.5);
        // 1 of 2 sends over 1 ms late: the client was the bottleneck.
        assert!(h.bottleneck.as_deref().unwrap().contains("1 of 2 sends"));
        let v = serde_json::to_value(&sum).unwrap();
        for k in ["bytes", "timeline", "samples"] {
            assert!(!v["endpoints"][0][k].is_null(), "{k}");
        }
        assert!(v["health"]["bottleneck"].is_string());
        assert!(v["intervals"][0]["histogram"].is_string());
    }

    #[test]
    fn summary_json_has_the_documented_keys() {
        let mut s = WorkerStats::new(2);
        for _ in 0..3 {
            s.record_sent(0);
        }
        s.record_response(0, 200, 50_000, 40_000);
        s.record_response(0, 503, 70_000, 60_000);
        s.endpoints[0].in_flight_at_stop = 1;
        s.endpoints[1].unsent = 4;
        s.record_conn_error(ErrorKind::Connect);
        s.slots_established = 2;
        let target = crate::target::Target::parse("http://x/").unwrap();
        let mut plan = Plan::new(vec![
            crate::plan::Endpoint::get(target.clone()),
            crate::plan::Endpoint {
                rate: Some(10.0),
                ..crate::plan::Endpoint::get(target)
            },
        ]);
        plan.connections = 2;
        let facts = RunFacts {
            plan: &plan,
            threads: 1,
            pipelining: 1,
            duration_s: 2.0,
        };
        let sum = Summary::new(&s, facts, None);
        let v = serde_json::to_value(&sum).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["rps"], 1.0);
        assert_eq!(v["target_rps"], 10.0);
        assert_eq!(v["requests"]["sent"], 3);
        assert_eq!(v["requests"]["completed"], 2);
        assert_eq!(v["requests"]["in_flight_at_stop"], 1);
        assert_eq!(v["requests"]["unsent"], 4);
        assert_eq!(v["status"]["200"], 1);
        assert_eq!(v["status"]["503"], 1);
        for k in ErrorKind::ALL {
            let want = u64::from(k == ErrorKind::Connect);
            assert_eq!(v["errors"][k.name()], want, "{}", k.name());
        }
        for k in [
            "min", "mean", "stdev", "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99", "max",
        ] {
            assert!(v["latency_us"][k].is_number(), "{k}");
            assert!(v["service_us"][k].is_number(), "{k}");
        }
        assert_eq!(v["latency_us"]["min"], 50);
        assert_eq!(v["service_us"]["min"], 40);
        assert_eq!(v["bytes"]["read"], 0);
        assert_eq!(v["connections"]["requested"], 2);
        assert_eq!(v["connections"]["established"], 2);
        assert_eq!(v["connections"]["reconnects"], 0);
        assert_eq!(v["endpoints"][0]["requests"]["completed"], 2);
        assert_eq!(v["endpoints"][0]["target_rps"], serde_json::Value::Null);
        assert_eq!(v["endpoints"][1]["target_rps"], 10.0);
        assert_eq!(v["endpoints"][1]["requests"]["unsent"], 4);
        assert_eq!(v["early_exit"], serde_json::Value::Null);
    }
}
