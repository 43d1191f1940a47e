//! Config files end to end: good and bad files (exact messages with line:column), the
//! original tool's own example shapes, `tressi schema` agreeing with the loader, and
//! `tressi init` (run as the binary, in a temp directory).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use tressi::config;
use tressi::Error;

/// A fresh temp directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tressi-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to a file and loads it; the error message, if any.
fn load_text(dir: &std::path::Path, name: &str, text: &str) -> Result<config::Config, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    config::load(&path).map_err(|e| match e {
        Error::Config(m) => m.replace(&format!("{}/", dir.display()), ""),
        other => panic!("expected a config error, got {other:?}"),
    })
}

/// The README example of the original tool (older shape): global headers and two
/// requests, a GET and a POST with a JSON payload.
const ORIGINAL_TWO_REQUESTS: &str = r#"{
  "$schema": "https://raw.githubusercontent.com/kevinchatham/tressi/main/schemas/tressi.schema.v0.0.5.json",
  "headers": {
    "Content-Type": "application/json",
    "X-Powered-By": "tressi"
  },
  "requests": [
    { "url": "https://jsonplaceholder.typicode.com/posts/1", "method": "GET" },
    {
      "url": "https://jsonplaceholder.typicode.com/posts",
      "method": "POST",
      "payload": { "title": "tressi_test", "body": "This is a test post", "userId": 1 }
    }
  ]
}"#;

/// The newer shape as in the original's later default config (v0.0.20 field names).
const ORIGINAL_NEWER: &str = r#"{
  "$schema": "https://raw.githubusercontent.com/kevinchatham/tressi/main/schemas/tressi.schema.v0.0.20.json",
  "options": {
    "durationSec": 10,
    "headers": { "User-Agent": "Tressi" },
    "rampUpDurationSec": 0,
    "threads": 2,
    "workerEarlyExit": {
      "enabled": false,
      "errorRateThreshold": 0,
      "exitStatusCodes": [],
      "monitoringWindowMs": 1000
    },
    "workerMemoryLimit": 128
  },
  "requests": [
    {
      "url": "http://localhost:5000/health",
      "method": "GET",
      "rps": 1,
      "rampUpDurationSec": 0,
      "headers": {},
      "payload": {},
      "earlyExit": { "enabled": true, "errorRateThreshold": 0.1, "exitStatusCodes": [503], "monitoringWindowSeconds": 5 }
    },
    { "url": "http://localhost:5000/success", "method": "GET", "rps": 10 }
  ]
}"#;

#[test]
fn original_configs_load() {
    let dir = temp_dir("orig");
    let c = load_text(&dir, "simple.json", ORIGINAL_TWO_REQUESTS).unwrap();
    assert_eq!(c.requests.len(), 2);
    let (get, post) = (&c.requests[0].endpoint, &c.requests[1].endpoint);
    assert_eq!(get.method, "GET");
    assert_eq!(get.target.path_and_query, "/posts/1");
    assert!(get.body.is_empty());
    assert_eq!(post.method, "POST");
    assert_eq!(
        post.body,
        br#"{"body":"This is a test post","title":"tressi_test","userId":1}"#
    );
    // The user's Content-Type is kept, not doubled.
    let ct: Vec<_> = post
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .collect();
    assert_eq!(ct.len(), 1);
    assert_eq!(c.requests[0].rps, None);

    let c = load_text(&dir, "newer.json", ORIGINAL_NEWER).unwrap();
    assert_eq!(c.options.threads, Some(2));
    assert_eq!(c.options.ramp_up, None);
    assert_eq!(c.options.early_exit, None);
    assert_eq!(c.requests[0].rps, Some(1.0));
    let rule = c.requests[0].endpoint.early_exit.as_ref().unwrap();
    assert_eq!(rule.status_codes, vec![503]);
    assert_eq!(rule.window, Some(std::time::Duration::from_secs(5)));
    // `payload: {}` is a body of "{}".
    assert_eq!(c.requests[0].endpoint.body, b"{}");

    // The repository's own examples.
    for f in ["examples/simple.json", "examples/api.json"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(f);
        config::load(&path).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
}

#[test]
fn bad_files_name_field_and_position() {
    let dir = temp_dir("bad");
    let cases: &[(&str, &str)] = &[
        (
            "{\n  \"requests\": [\n    {\"url\": \"http://h/a\"},\n    {\"url\": \"http://h/b\",\n     \"rps\": -5}\n  ]\n}",
            "config bad.json:5:13: requests[1].rps: must be >= 0 (got -5)",
        ),
        (
            "{\n  \"requests\": [{\"url\": \"http://h/\"}],\n  \"options\": {\"durationSec\": \"10\"}\n}",
            "config bad.json:3:30: options.durationSec: expected a number, got a string",
        ),
        (
            "{\n  \"requests\": [{\"url\": \"http://h/\"}],\n  \"options\": {\"duration\": 10}\n}",
            "config bad.json:3:15: options.duration: unknown field (expected one of: \
             durationSec, rampUpDurationSec, headers, threads, workerEarlyExit, connections, \
             pipelining, keepAlive, useUI, workerMemoryLimit, sampleSize, insecure, caCert, \
             clientCert, clientKey, sni)",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\"},\n {\"url\": \"http://h/\"}]}",
            "config bad.json:2:2: requests[1]: same request as requests[0] (GET http://h/); \
             give one request more rps or weight instead",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\",\n  \"headers\": {\"Bad Name\": \"x\"}}]}",
            "config bad.json:2:15: requests[0].headers[\"Bad Name\"]: invalid header name \
             (letters, digits and !#$%&'*+-.^_`|~ only)",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\", \"headers\": {\"X\": \"a\\r\\nB: c\"}}]}",
            "config bad.json:1:53: requests[0].headers.X: header value contains a control \
             character (CR, LF, NUL...)",
        ),
        (
            "{\"options\": {\"workerEarlyExit\": {\"errorRateThreshold\": 1.5}}, \"requests\": [{\"url\": \"http://h/\"}]}",
            "config bad.json:1:56: options.workerEarlyExit.errorRateThreshold: must be <= 1 \
             (got 1.5)",
        ),
        (
            "{\"options\": {\"workerEarlyExit\": {\"exitStatusCodes\": [500, 99]}}, \"requests\": [{\"url\": \"http://h/\"}]}",
            "config bad.json:1:59: options.workerEarlyExit.exitStatusCodes[1]: must be >= 100 \
             (got 99)",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\", \"earlyExit\": {\"monitoringWindowSeconds\": 1, \"monitoringWindowMs\": 5}}]}",
            "config bad.json:1:80: requests[0].earlyExit.monitoringWindowMs: give \
             monitoringWindowSeconds or monitoringWindowMs, not both",
        ),
        (
            "{\"requests\": [{\"method\": \"GET\"}]}",
            "config bad.json:1:15: requests[0]: missing field 'url'",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\"}],}",
            "config bad.json:1:37: trailing comma",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\", \"threads\": 2}]}",
            "config bad.json:1:36: requests[0].threads: unknown field (expected one of: url, \
             method, payload, headers, rps, rampUpDurationSec, earlyExit, weight, timeout)",
        ),
        (
            "{\"options\": {\"threads\": 0}, \"requests\": [{\"url\": \"http://h/\"}]}",
            "config bad.json:1:25: options.threads: must be >= 1 (got 0)",
        ),
        (
            "{\"options\": {\"threads\": 2, \"threads\": 3}, \"requests\": [{\"url\": \"http://h/\"}]}",
            "config bad.json:1:28: options.threads: duplicate field",
        ),
        (
            "{\"requests\": [{\"url\": \"http://h/\", \"timeout\": 0}]}",
            "config bad.json:1:47: requests[0].timeout: must be > 0 (got 0)",
        ),
        (
            "{\"requests\": {\"url\": \"http://h/\"}}",
            "config bad.json:1:14: requests: expected an array, got an object",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(
            load_text(&dir, "bad.json", text).unwrap_err(),
            *want,
            "{text}"
        );
    }
}

// ---- a minimal JSON Schema validator for the subset `config::schema()` uses.

fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/definitions/");
            &root["definitions"][name]
        }
        None => s,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|x| x.fract() == 0.0),
        "null" => v.is_null(),
        _ => panic!("type {t} not in the subset"),
    }
}

/// `^(alt|alt)$` where each alternative is a sequence of `[Xx]` classes.
fn pattern_ok(pattern: &str, s: &str) -> bool {
    let body = pattern
        .strip_prefix("^(")
        .and_then(|p| p.strip_suffix(")$"))
        .expect("pattern shape");
    body.split('|').any(|alt| {
        let classes: Vec<&str> = alt
            .split(']')
            .filter(|c| !c.is_empty())
            .map(|c| c.trim_start_matches('['))
            .collect();
        classes.len() == s.chars().count()
            && classes.iter().zip(s.chars()).all(|(c, ch)| c.contains(ch))
    })
}

fn valid(root: &Value, schema: &Value, v: &Value) -> bool {
    let s = resolve(root, schema);
    let Some(obj) = s.as_object() else {
        return true;
    };
    for (k, want) in obj {
        let ok = match k.as_str() {
            "type" => match want {
                Value::String(t) => type_ok(t, v),
                Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
                _ => panic!("type"),
            },
            "properties" => match v.as_object() {
                Some(m) => m.iter().all(|(pk, pv)| match want.get(pk) {
                    Some(ps) => valid(root, ps, pv),
                    None => true,
                }),
                None => true,
            },
            "additionalProperties" => match v.as_object() {
                Some(m) => m.iter().all(|(pk, pv)| {
                    if obj.get("properties").and_then(|p| p.get(pk)).is_some() {
                        return true;
                    }
                    match want {
                        Value::Bool(b) => *b,
                        other => valid(root, other, pv),
                    }
                }),
                None => true,
            },
            "required" => match v.as_object() {
                Some(m) => want
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| m.contains_key(r.as_str().unwrap())),
                None => true,
            },
            "items" => match v.as_array() {
                Some(a) => a.iter().all(|x| valid(root, want, x)),
                None => true,
            },
            "minItems" => v
                .as_array()
                .is_none_or(|a| a.len() as u64 >= want.as_u64().unwrap()),
            "minimum" => v.as_f64().is_none_or(|x| x >= want.as_f64().unwrap()),
            "maximum" => v.as_f64().is_none_or(|x| x <= want.as_f64().unwrap()),
            "exclusiveMinimum" => v.as_f64().is_none_or(|x| x > want.as_f64().unwrap()),
            "pattern" => v
                .as_str()
                .is_none_or(|x| pattern_ok(want.as_str().unwrap(), x)),
            "$schema" | "$ref" | "title" | "description" | "default" | "format" | "definitions" => {
                true
            }
            other => panic!("keyword {other} not in the subset"),
        };
        if !ok {
            return false;
        }
    }
    true
}

#[test]
fn schema_agrees_with_loader() {
    let out = Command::new(env!("CARGO_BIN_EXE_tressi"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    assert_eq!(schema, config::schema());
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");

    let r = |extra: &str| format!("{{\"requests\": [{{\"url\": \"http://h/\"{extra}}}]}}");
    let o = |opts: &str| {
        format!("{{\"options\": {{{opts}}}, \"requests\": [{{\"url\": \"http://h/\"}}]}}")
    };
    let good = vec![
        ORIGINAL_TWO_REQUESTS.to_string(),
        ORIGINAL_NEWER.to_string(),
        config::STARTER.to_string(),
        r(""),
        r(", \"method\": \"get\""),
        r(", \"method\": \"Options\""),
        r(", \"rps\": 0"),
        r(", \"rps\": 0.25"),
        r(", \"payload\": [1, 2]"),
        r(", \"payload\": \"text\""),
        r(", \"payload\": null"),
        r(", \"weight\": 7"),
        r(", \"timeout\": 1.5"),
        r(", \"timeout\": \"250ms\""),
        r(", \"rampUpDurationSec\": 0"),
        r(", \"earlyExit\": {\"errorCountThreshold\": 3}"),
        o("\"durationSec\": 0.5, \"keepAlive\": false, \"pipelining\": 8"),
        o("\"workerEarlyExit\": {\"enabled\": true, \"exitStatusCodes\": [599]}"),
        o("\"connections\": 1000000, \"threads\": 1024, \"useUI\": true"),
    ];
    let bad = vec![
        "[]".to_string(),
        "{}".to_string(),
        "{\"requests\": []}".to_string(),
        "{\"requests\": [{}]}".to_string(),
        "{\"requests\": [], \"extra\": 1}".to_string(),
        r(", \"method\": \"FETCH\""),
        r(", \"method\": 5"),
        r(", \"rps\": -1"),
        r(", \"rps\": \"10\""),
        r(", \"weight\": 0"),
        r(", \"weight\": 1.5"),
        r(", \"weight\": 1000001"),
        r(", \"timeout\": 0"),
        r(", \"timeout\": true"),
        r(", \"headers\": {\"X\": 1}"),
        r(", \"headers\": []"),
        r(", \"unknown\": 1"),
        r(", \"earlyExit\": {\"errorRateThreshold\": 2}"),
        r(", \"earlyExit\": {\"exitStatusCodes\": [700]}"),
        r(", \"earlyExit\": {\"stopMode\": \"global\"}"),
        r(", \"earlyExit\": {\"monitoringWindowSeconds\": 0}"),
        r(", \"earlyExit\": {\"monitoringWindowMs\": 0}"),
        r(", \"earlyExit\": {\"enabled\": \"yes\"}"),
        o("\"durationSec\": 0"),
        o("\"rampUpDurationSec\": -1"),
        o("\"threads\": 0"),
        o("\"threads\": 1025"),
        o("\"connections\": 0"),
        o("\"pipelining\": 2000"),
        o("\"keepAlive\": 1"),
        o("\"workerMemoryLimit\": -1"),
        o("\"exportPath\": \"x\""),
        "{\"$schema\": 1, \"requests\": [{\"url\": \"http://h/\"}]}".to_string(),
        "{\"requests\": [{\"url\": 5}]}".to_string(),
    ];
    for text in &good {
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(
            valid(&schema, &schema, &v),
            "schema rejects a good config: {text}"
        );
        assert!(
            config::parse("g", text).is_ok(),
            "loader rejects: {text}: {:?}",
            config::parse("g", text)
        );
    }
    for text in &bad {
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(
            !valid(&schema, &schema, &v),
            "schema accepts a bad config: {text}"
        );
        assert!(config::parse("b", text).is_err(), "loader accepts: {text}");
    }
}

#[test]
fn init_creates_then_refuses_to_overwrite() {
    let dir = temp_dir("init");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_tressi"))
            .arg("init")
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{out:?}");
    let path = dir.join("tressi.config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, config::STARTER);
    let c = config::parse("tressi.config.json", &text).unwrap();
    assert_eq!(
        c.requests[0].endpoint.target.url(),
        "http://127.0.0.1:8080/"
    );

    std::fs::write(&path, "{\"mine\": true}").unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tressi: tressi.config.json already exists; not overwriting it (edit it, or remove it first)\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"mine\": true}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_file_reports_config_errors_with_exit_2() {
    let dir = temp_dir("runfile");
    std::fs::write(
        dir.join("bad.json"),
        "{\"requests\": [{\"url\": \"http://h/\", \"rps\": -5}]}",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tressi"))
        .args(["run", "bad.json", "--no-ui"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tressi: config bad.json:1:43: requests[0].rps: must be >= 0 (got -5)\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
