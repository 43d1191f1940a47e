//! A fixed, fully populated `Summary` for the report tests (golden files, redaction,
//! round trips, the HTML rendered in a browser): three endpoints with secrets in their
//! headers and samples, a per-second timeline, generator health with a bottleneck
//! verdict, and per-second intervals. Deterministic: no clock, no randomness. Not part of
//! the tool's behaviour; public only so that integration tests can use it.

use crate::plan::{EarlyExit, Endpoint, Plan};
use crate::stats::{
    encode_histogram, ErrorKind, Health, Interval, RunFacts, Sample, Second, Summary, WorkerStats,
    MAX_LATENCY_US,
};
use crate::target::Target;
use hdrhistogram::Histogram;
use std::time::Duration;

/// Secret values the fixture carries; none may appear in a redacted report.
pub const SECRETS: [&str; 5] = [
    "Bearer s3cr3t-token",
    "sid=c00kie-value",
    "k3y-0f-the-api",
    "basic-pr0xy",
    "sid=set-by-server",
];

/// Seconds of load in the fixture.
pub const SECONDS: u32 = 10;

/// A deterministic latency for request `i` of endpoint `e` (µs): a spread body and a
/// slow tail.
fn latency(e: usize, i: u64) -> u64 {
    let base = [800, 2_000, 15_000][e % 3];
    let spread = (i * 7919) % 1000;
    let tail = if i % 97 == 0 {
        40_000 + (i % 13) * 5_000
    } else {
        0
    };
    base + spread * (e as u64 + 1) * 3 + tail
}

/// The fixture summary, not yet `finish`ed (no warnings, secrets still in).
pub fn summary() -> Summary {
    let eps = vec![
        Endpoint {
            headers: vec![
                ("Authorization".into(), SECRETS[0].into()),
                ("Accept".into(), "application/json".into()),
                ("Cookie".into(), SECRETS[1].into()),
            ],
            rate: Some(100.0),
            ..Endpoint::get(Target::parse("http://api.example.test:8080/users?page=1").unwrap())
        },
        Endpoint {
            method: "POST".into(),
            headers: vec![
                ("X-Api-Key".into(), SECRETS[2].into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: br#"{"name":"a"}"#.to_vec(),
            rate: Some(50.0),
            ramp_up: Some(Duration::from_secs(2)),
            ..Endpoint::get(Target::parse("http://api.example.test:8080/orders").unwrap())
        },
        Endpoint {
            headers: vec![("Proxy-Authorization".into(), SECRETS[3].into())],
            rate: Some(200.0),
            ..Endpoint::get(
                Target::parse("http://api.example.test:8080/a/rather/long/path/to/search?q=x,y")
                    .unwrap(),
            )
        },
    ];
    let mut plan = Plan::new(eps);
    plan.connections = 20;
    plan.threads = 2;
    plan.duration = Some(Duration::from_secs(SECONDS as u64));
    plan.early_exit = Some(EarlyExit {
        error_rate: Some(0.5),
        ..EarlyExit::default()
    });
    let mut st = WorkerStats::new(3);
    // Endpoint 0: on target, all 200. Endpoint 1: a quarter 500s, some timeouts.
    // Endpoint 2: far below its target rate.
    let counts = [1000u64, 440, 600];
    let mut intervals: Vec<Histogram<u64>> = (0..SECONDS)
        .map(|_| Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap())
        .collect();
    let mut timeline: Vec<Vec<Second>> = vec![Vec::new(); 3];
    for (e, n) in counts.iter().enumerate() {
        let mut per_sec: Vec<Histogram<u64>> = (0..SECONDS)
            .map(|_| Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap())
            .collect();
        let mut errs = vec![0u64; SECONDS as usize];
        for i in 0..*n {
            st.record_sent(e);
            let sec = (i * SECONDS as u64 / n) as usize;
            if e == 1 && i % 40 == 3 {
                st.record_failed(e, ErrorKind::Timeout);
                errs[sec] += 1;
                continue;
            }
            let status = if e == 1 && i % 4 == 0 { 500 } else { 200 };
            let lat = latency(e, i);
            st.record_response(e, status, lat * 1000, lat * 1000 / 2);
            per_sec[sec].record(lat).unwrap();
            intervals[sec].record(lat).unwrap();
        }
        let target = plan.endpoints[e].rate;
        for (t, h) in per_sec.iter().enumerate() {
            let target = target.map(|r| match plan.endpoints[e].ramp_up {
                Some(ramp) if (t as f64) < ramp.as_secs_f64() => {
                    r * (t as f64 + 0.5) / ramp.as_secs_f64()
                }
                _ => r,
            });
            timeline[e].push(Second {
                t: t as u32,
                responses: h.len(),
                errors: errs[t],
                rps: h.len() as f64,
                target_rps: target,
                p50_us: h.value_at_quantile(0.5),
                p99_us: h.value_at_quantile(0.99),
                max_us: h.max(),
            });
        }
    }
    st.record_conn_error(ErrorKind::Connect);
    st.endpoints[2].unsent = 1400;
    st.endpoints[1].in_flight_at_stop = 0;
    st.bytes_read = 1_234_567;
    st.bytes_written = 234_567;
    st.slots_established = 18;
    st.established = 19;
    st.reconnects = 1;
    let facts = RunFacts {
        plan: &plan,
        threads: 2,
        pipelining: 1,
        duration_s: SECONDS as f64,
    };
    let mut s = Summary::new(&st, facts, None);
    s.start_unix_s = 1_796_000_000.25;
    for (e, rows) in timeline.into_iter().enumerate() {
        s.endpoints[e].timeline = rows;
        s.endpoints[e].bytes.read = 400_000 + e as u64 * 1000;
        s.endpoints[e].bytes.written = 70_000 + e as u64 * 100;
    }
    s.endpoints[0].samples = vec![Sample {
        status: 200,
        head: format!(
            "HTTP/1.1 200 OK\nContent-Type: application/json\nSet-Cookie: {}\nContent-Length: 27",
            SECRETS[4]
        ),
        body: r#"{"users":[{"id":1}],"n":1}"#.into(),
        truncated: false,
    }];
    s.endpoints[1].samples = vec![
        Sample {
            status: 200,
            head: "HTTP/1.1 200 OK\nContent-Length: 9".into(),
            body: "{\"id\":7}\n".into(),
            truncated: false,
        },
        Sample {
            status: 500,
            head: "HTTP/1.1 500 Internal Server Error\nContent-Type: text/html".into(),
            body: "<h1>oops</h1> ``` | pipes & <tags>".into(),
            truncated: true,
        },
    ];
    s.health = Health {
        loop_turns: 123_456,
        late_sends: 1_400,
        lateness_max_us: 250_000,
        lateness_mean_us: 1234.5,
        queued: 300,
        queue_wait_total_us: 4_500_000,
        queue_wait_max_us: 90_000,
        cpu_user_s: 8.5,
        cpu_sys_s: 1.25,
        busiest_worker: 0.99,
        peak_rss_kib: 10_240,
        bottleneck: Some(
            "sends fell behind schedule by up to 250ms (1,400 late); the busiest worker \
             was busy 99% of the time"
                .into(),
        ),
    };
    s.intervals = intervals
        .iter()
        .enumerate()
        .map(|(t, h)| Interval {
            start_s: t as f64,
            duration_s: 1.0,
            max_us: h.max(),
            histogram: encode_histogram(h),
        })
        .collect();
    s
}

/// The fixture as the tool prints it: `finish`ed, secrets redacted.
pub fn finished() -> Summary {
    let mut s = summary();
    super::finish(&mut s, false);
    s
}
