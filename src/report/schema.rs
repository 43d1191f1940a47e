//! The JSON Schema (draft-07) of `summary.json` / `--json`, printed by
//! `tressi schema --summary`. Documentation as data: every key the summary has, its type
//! and what it means. A test keeps it and `stats::Summary` in step (every key the summary
//! writes is described, every required key is written, with the described type). Pure.

use serde_json::{json, Value};

fn int(desc: &str) -> Value {
    json!({"type": "integer", "minimum": 0, "description": desc})
}

fn num(desc: &str) -> Value {
    json!({"type": "number", "description": desc})
}

fn opt_num(desc: &str) -> Value {
    json!({"type": ["number", "null"], "description": desc})
}

fn string(desc: &str) -> Value {
    json!({"type": "string", "description": desc})
}

fn object(desc: &str, props: Value) -> Value {
    let required: Vec<String> = props
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "type": "object",
        "description": desc,
        "required": required,
        "properties": props,
        "additionalProperties": false
    })
}

fn latency(desc: &str) -> Value {
    object(
        desc,
        json!({
            "min": int("Smallest value, µs."),
            "mean": num("Mean, µs."),
            "stdev": num("Standard deviation, µs."),
            "p50": int("50th percentile, µs."),
            "p75": int("75th percentile, µs."),
            "p90": int("90th percentile, µs."),
            "p95": int("95th percentile, µs."),
            "p99": int("99th percentile, µs."),
            "p99_9": int("99.9th percentile, µs."),
            "p99_99": int("99.99th percentile, µs."),
            "max": int("Largest value, µs."),
        }),
    )
}

fn requests() -> Value {
    object(
        "Request totals: sent = completed + failed + in_flight_at_stop; unsent requests \
         (open model: due but never sent) are outside sent.",
        json!({
            "sent": int("Requests handed to a connection."),
            "completed": int("Requests that ended with a response (any status)."),
            "failed": int("Requests ended by an error (see errors)."),
            "in_flight_at_stop": int("Requests still outstanding when the run stopped."),
            "unsent": int("Open model: requests due but never sent."),
        }),
    )
}

fn errors(desc: &str) -> Value {
    let mut props = serde_json::Map::new();
    for k in crate::stats::ErrorKind::ALL.map(crate::stats::ErrorKind::name) {
        props.insert(k.into(), int(&format!("Errors of kind {k}.")));
    }
    object(desc, Value::Object(props))
}

fn status(desc: &str) -> Value {
    json!({
        "type": "object",
        "description": desc,
        "propertyNames": {"pattern": "^[0-9]{3}$"},
        "additionalProperties": {"type": "integer", "minimum": 0}
    })
}

fn bytes(desc: &str) -> Value {
    object(
        desc,
        json!({
            "read": int("Bytes read from the server."),
            "written": int("Bytes written to the server."),
        }),
    )
}

fn histograms(desc: &str) -> Value {
    object(
        desc,
        json!({
            "latency": string("Response-time histogram (µs), HdrHistogram V2 compressed \
                               encoding, base64 (starts with HISTF)."),
            "service": string("Service-time histogram (µs), same encoding."),
        }),
    )
}

/// The schema of the summary object.
pub fn summary() -> Value {
    let second = object(
        "One second of one endpoint.",
        json!({
            "t": int("Start of the second since the start of the load."),
            "responses": int("Responses completed in this second."),
            "errors": int("Requests ended by an error in this second."),
            "rps": num("Achieved responses per second in this second."),
            "target_rps": opt_num("Scheduled rate in this second (ramp-up included); null in the closed model."),
            "p50_us": int("Median response time in this second, µs (0 without responses)."),
            "p99_us": int("99th percentile response time in this second, µs."),
            "max_us": int("Largest response time in this second, µs."),
        }),
    );
    let sample = object(
        "The first response of one status code (bounded by --sample-size).",
        json!({
            "status": int("Status code."),
            "head": string("Status line and headers, lines joined by \\n; secret header values are <redacted> unless --show-secrets."),
            "body": string("The first bytes of the body, lossy UTF-8."),
            "truncated": {"type": "boolean", "description": "The body was longer than the sample."},
        }),
    );
    let endpoint = object(
        "One endpoint's results.",
        json!({
            "url": string("URL."),
            "method": string("Method."),
            "target_rps": opt_num("Target rate, req/s; null = closed loop."),
            "ramp_up_s": opt_num("Linear ramp-up of the target rate, seconds."),
            "weight": int("Closed-loop weight."),
            "rps": num("Completed responses per second over the run."),
            "requests": requests(),
            "status": status("Responses by status code."),
            "errors": errors("Errors that ended requests of this endpoint, by kind."),
            "latency_us": latency("Response time (from the intended send time), µs."),
            "service_us": latency("Service time (from the actual send), µs."),
            "bytes": bytes("Bytes of this endpoint's requests and responses."),
            "timeline": {"type": "array", "items": second, "description": "One row per second of the run."},
            "samples": {"type": "array", "items": sample, "description": "Sample responses, one per status code."},
            "headers": {
                "type": "array",
                "description": "Request headers sent, as [name, value]; secret values are <redacted> unless --show-secrets.",
                "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
            },
            "body_bytes": int("Request body size in bytes."),
            "histograms": histograms("This endpoint's histograms, for exact merging."),
        }),
    );
    let health = object(
        "How well the load generator itself kept up.",
        json!({
            "loop_turns": int("Event-loop turns, all workers."),
            "late_sends": int("Open model: sends more than 1 ms behind their intended time."),
            "lateness_max_us": int("Most lateness of a send, µs."),
            "lateness_mean_us": num("Mean lateness over every send that found a connection free (late or not), µs."),
            "queued": int("Requests that waited for a free connection."),
            "queue_wait_total_us": int("Total wait for a free connection, µs."),
            "queue_wait_max_us": int("Longest wait for a free connection, µs."),
            "cpu_user_s": num("Process user CPU time, seconds."),
            "cpu_sys_s": num("Process system CPU time, seconds."),
            "busiest_worker": num("Busiest worker's share of wall time outside poll, 0..1."),
            "peak_rss_kib": int("Peak resident set size, KiB."),
            "bottleneck": {"type": ["string", "null"], "description": "Set when the client was the bottleneck: the verdict with its figures."},
        }),
    );
    let interval = object(
        "One second of the run's response-time histogram (as in latency.hlog).",
        json!({
            "start_s": num("Start, seconds since the start of the load."),
            "duration_s": num("Length, seconds."),
            "max_us": int("Largest response time in the interval, µs."),
            "histogram": string("The interval's histogram (µs), V2 compressed, base64."),
        }),
    );
    let config = object(
        "The run's configuration (endpoint headers are under endpoints).",
        json!({
            "connections": int("Connections asked for (-c)."),
            "threads": int("Threads asked for (-t)."),
            "pipelining": int("Requests in flight per connection (-p)."),
            "duration_s": opt_num("Planned length, seconds (null with -n alone)."),
            "requests": {"type": ["integer", "null"], "minimum": 0, "description": "-n: requests to end (null when not set)."},
            "timeout_s": num("Response timeout, seconds."),
            "connect_timeout_s": num("Connect timeout, seconds."),
            "keepalive": {"type": "boolean", "description": "Keep-alive on."},
            "ramp_up_s": opt_num("Default ramp-up of the rates, seconds."),
            "autoscale": {"type": "boolean", "description": "--autoscale on."},
            "max_connections": int("Autoscale limit."),
            "early_exit": {"type": ["string", "null"], "description": "The run-wide early-exit rule in words."},
        }),
    );
    let mut root = object(
        "A tressi run's results: what summary.json holds and --json prints.",
        json!({
            "version": {"type": "integer", "const": 1, "description": "Format version of this object."},
            "url": string("The first endpoint's URL."),
            "method": string("The first endpoint's method."),
            "threads": int("Threads used."),
            "pipelining": int("Pipelining used."),
            "duration_s": num("Wall time from the start of the load to its stop, seconds."),
            "rps": num("Completed responses per second over duration_s."),
            "target_rps": opt_num("Sum of the endpoints' target rates (null: none has one)."),
            "requests": requests(),
            "status": status("Responses by status code."),
            "errors": errors("Every error by kind (request-ending and connection-level)."),
            "latency_us": latency("Response time from the intended send time (coordinated omission corrected), µs."),
            "service_us": latency("Service time from the actual send, µs."),
            "bytes": bytes("Bytes on the wire."),
            "connections": object("Connection counts.", json!({
                "requested": int("Connections asked for."),
                "established": int("Connection slots established at least once."),
                "reconnects": int("Connects beyond the first of each slot."),
                "autoscaled": int("Connections opened by --autoscale."),
            })),
            "connect_us": latency("TCP connect time of every successful connect, µs."),
            "first_byte_us": latency("Time to first byte: from the first request of each new connection to the first byte of its response, µs."),
            "tls": {
                "type": ["object", "null"],
                "description": "Runs with an https endpoint: handshake counts and times (null otherwise).",
                "additionalProperties": false,
                "required": ["handshakes", "resumed", "insecure", "handshake_us"],
                "properties": {
                    "handshakes": int("Completed TLS handshakes."),
                    "resumed": int("Handshakes that resumed a session."),
                    "insecure": {"type": "boolean", "description": "--insecure: server certificates were not verified."},
                    "handshake_us": latency("Handshake time, from the TCP connect to the end of the TLS handshake, µs."),
                }
            },
            "endpoints": {"type": "array", "items": endpoint, "description": "Per endpoint, in config order."},
            "early_exit": {"type": ["string", "null"], "description": "Which early-exit rule stopped the run, with its figures."},
            "interrupted": {"type": "boolean", "description": "SIGINT or SIGTERM stopped the run before its end."},
            "health": health,
            "intervals": {"type": "array", "items": interval, "description": "The response-time histogram, one interval per second."},
            "histograms": histograms("The merged histograms, for exact merging of runs."),
            "start_unix_s": num("When the load started, seconds since the Unix epoch (0 when unknown)."),
            "config": config,
            "warnings": {"type": "array", "items": {"type": "string"}, "description": "What the report warns about."},
        }),
    );
    root["$schema"] = json!("http://json-schema.org/draft-07/schema#");
    root["title"] = json!("tressi summary");
    root
}

/// Checks `value` against the subset of JSON Schema that `summary()` uses (type, const,
/// required, properties, additionalProperties, propertyNames pattern of digits, items,
/// minItems/maxItems, minimum). Returns the first mismatch with its path.
pub fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{path}: {value} is not of type {t}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            return Err(format!("{path}: {value} is not {c}"));
        }
    }
    if let (Some(min), Some(v)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if v < min {
            return Err(format!("{path}: {v} < {min}"));
        }
    }
    if let Some(obj) = value.as_object() {
        for k in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(k) {
                return Err(format!("{path}: missing required key {k}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, v) in obj {
            let sub = format!("{path}.{k}");
            if let Some(p) = props.and_then(|p| p.get(k)) {
                check(p, v, &sub)?;
            } else {
                match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{path}: key {k} is not in the schema"))
                    }
                    Some(extra @ Value::Object(_)) => check(extra, v, &sub)?,
                    _ => {}
                }
                if schema.get("propertyNames").is_some()
                    && !(k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(format!("{path}: key {k} is not a status code"));
                }
            }
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(n) = schema.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < n {
                return Err(format!("{path}: fewer than {n} items"));
            }
        }
        if let Some(n) = schema.get("maxItems").and_then(Value::as_u64) {
            if (items.len() as u64) > n {
                return Err(format!("{path}: more than {n} items"));
            }
        }
        if let Some(item) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                check(item, v, &format!("{path}[{i}]"))?;
            }
        }
    }
    Ok(())
}
