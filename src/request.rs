//! Request bytes: each endpoint's HTTP/1.1 request is rendered once, before the run, and
//! the engine writes those bytes as is. [`Requests`] keeps each one repeated back to back
//! as often as a connection pipelines, so consecutive requests of one endpoint go out as
//! one slice (a vectored write of many small slices costs the kernel more).
//!
//! Pure: no I/O, no validation (the plan's method and headers are already checked by
//! `cli`/`config`), never called on the hot path (`Requests` is built once per worker;
//! the hot path only borrows slices of it).
//!
//! The request is, in order:
//! 1. `METHOD path-and-query HTTP/1.1`
//! 2. `Host: <authority>` — or, if the user gave a `Host` header (any case), theirs, in
//!    first position with the name as they spelled it.
//! 3. `User-Agent: tressi/<version>` unless the user gave a `User-Agent` header.
//! 4. The user's other headers, in the order given, except `Content-Length` and
//!    `Transfer-Encoding` (the body is sent whole, so tressi always frames it itself),
//!    and except `Connection` when keep-alive is off.
//! 5. `Content-Length: n` when the body is non-empty or the method is POST, PUT or PATCH
//!    (so `POST` with no body sends `Content-Length: 0`).
//! 6. `Connection: close` when keep-alive is off.
//! 7. A blank line and the body.

use crate::plan::Endpoint;

/// Headers tressi always sets itself from the body (item 4 above): a user's are not sent.
pub const FRAMING_HEADERS: [&str; 2] = ["Content-Length", "Transfer-Encoding"];

/// The `User-Agent` sent unless the user gives one.
pub const USER_AGENT: &str = concat!("tressi/", env!("CARGO_PKG_VERSION"));

/// Most bytes of one endpoint's repeated request (a longer request is kept once: its
/// copies go out as separate slices).
pub const RUN_CAP: usize = 16 * 1024;
/// Most bytes of all endpoints' repeated requests together (each endpoint keeps at least
/// one copy of its request, whatever its size): many endpoints share this.
pub const RUNS_CAP: usize = 256 * 1024;

/// Each endpoint's request, and the same bytes repeated back to back up to the pipelining
/// depth (within [`RUN_CAP`] each and [`RUNS_CAP`] in all): `run(e, k)` is `k`
/// consecutive requests of endpoint `e` as one slice. One loopback `writev` of 16 slices
/// of 70 bytes costs ~1 µs more CPU than a `write` of the same 1,120 bytes as one
/// (measured on this project's 2-vCPU VM, see BENCHMARKS.md).
#[derive(Debug, Clone)]
pub struct Requests {
    /// Endpoint → its request repeated `max_run` times.
    runs: Vec<Vec<u8>>,
    /// Endpoint → the length of one request.
    lens: Vec<usize>,
}

impl Requests {
    /// From each endpoint's rendered request, for connections with `depth` requests in
    /// flight.
    pub fn new<R: AsRef<[u8]>>(rendered: &[R], depth: usize) -> Self {
        let budget = (RUNS_CAP / rendered.len().max(1)).min(RUN_CAP);
        let runs = rendered
            .iter()
            .map(|r| {
                let r = r.as_ref();
                let fit = budget.checked_div(r.len()).unwrap_or(1);
                r.repeat(depth.min(fit).max(1))
            })
            .collect();
        Requests {
            runs,
            lens: rendered.iter().map(|r| r.as_ref().len()).collect(),
        }
    }

    /// The length of one request of endpoint `e` (0 for an unknown endpoint).
    #[inline]
    pub fn len_of(&self, e: usize) -> usize {
        self.lens.get(e).copied().unwrap_or(0)
    }

    /// How many consecutive requests of `e` one slice can hold (at least 1).
    #[inline]
    pub fn max_run(&self, e: usize) -> usize {
        match (self.runs.get(e), self.len_of(e)) {
            (Some(run), len) if len > 0 => run.len() / len,
            _ => 1,
        }
    }

    /// `k` consecutive requests of `e` (at most `max_run(e)`; fewer if `k` is larger).
    #[inline]
    pub fn run(&self, e: usize, k: usize) -> &[u8] {
        let run = self.runs.get(e).map_or(&[][..], Vec::as_slice);
        let k = k.min(self.max_run(e));
        run.get(..k.saturating_mul(self.len_of(e))).unwrap_or(run)
    }
}

/// Renders one complete request for `endpoint`.
pub fn render(endpoint: &Endpoint, keepalive: bool) -> Vec<u8> {
    let is = |name: &str, want: &str| name.eq_ignore_ascii_case(want);
    let mut out = Vec::with_capacity(128 + endpoint.body.len());
    let line = |out: &mut Vec<u8>, name: &str, value: &str| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    };

    out.extend_from_slice(endpoint.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(endpoint.target.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");

    let user_host: Vec<&(String, String)> = endpoint
        .headers
        .iter()
        .filter(|(n, _)| is(n, "host"))
        .collect();
    if user_host.is_empty() {
        line(&mut out, "Host", &endpoint.target.authority);
    } else {
        for (n, v) in user_host {
            line(&mut out, n, v);
        }
    }
    if !endpoint.headers.iter().any(|(n, _)| is(n, "user-agent")) {
        line(&mut out, "User-Agent", USER_AGENT);
    }
    for (n, v) in &endpoint.headers {
        let skip = is(n, "host")
            || FRAMING_HEADERS.iter().any(|h| is(n, h))
            || (!keepalive && is(n, "connection"));
        if !skip {
            line(&mut out, n, v);
        }
    }
    let method_has_body = ["POST", "PUT", "PATCH"]
        .iter()
        .any(|m| endpoint.method.eq_ignore_ascii_case(m));
    if !endpoint.body.is_empty() || method_has_body {
        line(&mut out, "Content-Length", &endpoint.body.len().to_string());
    }
    if !keepalive {
        line(&mut out, "Connection", "close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&endpoint.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn endpoint(url: &str, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Endpoint {
        Endpoint {
            method: method.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            ..Endpoint::get(Target::parse(url).unwrap())
        }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Parses `bytes` as one complete request; returns method, path, headers, body.
    fn parse_back(bytes: &[u8]) -> (String, String, Vec<(String, String)>, Vec<u8>) {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let status = req.parse(bytes).expect("valid request");
        let httparse::Status::Complete(head_len) = status else {
            panic!("incomplete request head");
        };
        assert_eq!(req.version, Some(1));
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8(h.value.to_vec()).unwrap(),
                )
            })
            .collect();
        let body = bytes[head_len..].to_vec();
        if let Some((_, len)) = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            assert_eq!(len.parse::<usize>().unwrap(), body.len());
        } else {
            assert!(body.is_empty());
        }
        (
            req.method.unwrap().to_string(),
            req.path.unwrap().to_string(),
            headers,
            body,
        )
    }

    #[test]
    fn plain_get() {
        let bytes = render(&endpoint("http://127.0.0.1:8080/", "GET", &[], b""), true);
        assert_eq!(
            text(&bytes),
            format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: {USER_AGENT}\r\n\r\n")
        );
        let (method, path, headers, body) = parse_back(&bytes);
        assert_eq!((method.as_str(), path.as_str()), ("GET", "/"));
        assert_eq!(headers.len(), 2);
        assert!(body.is_empty());
    }

    #[test]
    fn get_without_keepalive_default_port_and_query() {
        let bytes = render(
            &endpoint("http://example.com/a%20b?x=1#f", "GET", &[], b""),
            false,
        );
        assert_eq!(
            text(&bytes),
            format!(
                "GET /a%20b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: {USER_AGENT}\r\n\
                 Connection: close\r\n\r\n"
            )
        );
        parse_back(&bytes);
    }

    #[test]
    fn ipv6_host() {
        let bytes = render(&endpoint("http://[::1]:9000/x", "HEAD", &[], b""), true);
        assert!(text(&bytes).starts_with("HEAD /x HTTP/1.1\r\nHost: [::1]:9000\r\n"));
        parse_back(&bytes);
    }

    #[test]
    fn post_with_body_and_headers_in_order() {
        let bytes = render(
            &endpoint(
                "http://h/api",
                "POST",
                &[("Content-Type", "application/json"), ("X-Trace", "a, b")],
                br#"{"a":1}"#,
            ),
            true,
        );
        assert_eq!(
            text(&bytes),
            format!(
                "POST /api HTTP/1.1\r\nHost: h\r\nUser-Agent: {USER_AGENT}\r\n\
                 Content-Type: application/json\r\nX-Trace: a, b\r\nContent-Length: 7\r\n\r\n\
                 {{\"a\":1}}"
            )
        );
        let (_, _, headers, body) = parse_back(&bytes);
        assert_eq!(
            headers[2],
            ("Content-Type".into(), "application/json".into())
        );
        assert_eq!(body, br#"{"a":1}"#);
    }

    #[test]
    fn post_put_patch_without_body_send_zero_length() {
        for method in ["POST", "PUT", "PATCH"] {
            let bytes = render(&endpoint("http://h/", method, &[], b""), true);
            assert_eq!(
                text(&bytes),
                format!(
                    "{method} / HTTP/1.1\r\nHost: h\r\nUser-Agent: {USER_AGENT}\r\n\
                     Content-Length: 0\r\n\r\n"
                )
            );
            parse_back(&bytes);
        }
        // DELETE without a body: no Content-Length.
        let bytes = render(&endpoint("http://h/", "DELETE", &[], b""), true);
        assert!(!text(&bytes).contains("Content-Length"));
    }

    #[test]
    fn get_with_body_gets_content_length() {
        let bytes = render(&endpoint("http://h/", "GET", &[], b"abc"), true);
        assert!(text(&bytes).ends_with("Content-Length: 3\r\n\r\nabc"));
        parse_back(&bytes);
    }

    #[test]
    fn user_host_and_user_agent_replace_ours() {
        let bytes = render(
            &endpoint(
                "http://127.0.0.1:8080/",
                "GET",
                &[
                    ("Accept", "*/*"),
                    ("host", "example.org"),
                    ("user-agent", "wrk"),
                ],
                b"",
            ),
            true,
        );
        assert_eq!(
            text(&bytes),
            "GET / HTTP/1.1\r\nhost: example.org\r\nAccept: */*\r\nuser-agent: wrk\r\n\r\n"
        );
        parse_back(&bytes);
    }

    #[test]
    fn user_framing_headers_are_replaced() {
        let bytes = render(
            &endpoint(
                "http://h/",
                "PUT",
                &[
                    ("content-length", "999"),
                    ("Transfer-Encoding", "chunked"),
                    ("X-A", "1"),
                ],
                b"hello",
            ),
            true,
        );
        assert_eq!(
            text(&bytes),
            format!(
                "PUT / HTTP/1.1\r\nHost: h\r\nUser-Agent: {USER_AGENT}\r\nX-A: 1\r\n\
                 Content-Length: 5\r\n\r\nhello"
            )
        );
        parse_back(&bytes);
    }

    #[test]
    fn connection_header_with_and_without_keepalive() {
        let ep = endpoint("http://h/", "GET", &[("Connection", "keep-alive")], b"");
        assert!(text(&render(&ep, true)).contains("\r\nConnection: keep-alive\r\n"));
        let closed = text(&render(&ep, false));
        assert!(!closed.contains("keep-alive"));
        assert_eq!(closed.matches("Connection:").count(), 1);
        assert!(closed.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn binary_body_passes_through() {
        let body: Vec<u8> = (0..=255u8).collect();
        let bytes = render(&endpoint("http://h/", "POST", &[], &body), true);
        let (_, _, _, back) = parse_back(&bytes);
        assert_eq!(back, body);
    }

    #[test]
    fn repeated_runs_are_the_same_bytes_back_to_back_within_the_cap() {
        let a = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
        let big = vec![b'x'; RUN_CAP / 3 + 1];
        let cases: &[(usize, &[u8], usize)] = &[
            // (depth, request, expected max_run)
            (1, &a, 1),
            (16, &a, 16),
            (16, &big, 2),
            (1, &big, 1),
            (0, &a, 1),
            (4, b"", 1),
        ];
        for &(depth, req, max_run) in cases {
            let r = Requests::new(&[req.to_vec()], depth);
            assert_eq!(r.max_run(0), max_run, "depth {depth}, {} bytes", req.len());
            assert_eq!(r.len_of(0), req.len());
            for k in 0..=max_run + 2 {
                let want = req.repeat(k.min(max_run));
                assert_eq!(r.run(0, k), &want[..], "depth {depth}, k {k}");
            }
        }
        let r = Requests::new(std::slice::from_ref(&a), 8);
        assert_eq!((r.len_of(3), r.max_run(3), r.run(3, 2)), (0, 1, &[][..]));
        // Many endpoints share RUNS_CAP; each keeps one copy however large it is.
        let many: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("{i:0>100}").into_bytes())
            .collect();
        let r = Requests::new(&many, 1000);
        assert_eq!(r.max_run(0), RUNS_CAP / 1000 / 100);
        let total: usize = (0..many.len()).map(|e| r.run(e, usize::MAX).len()).sum();
        assert!(total <= RUNS_CAP, "{total}");
        let huge = vec![vec![b'x'; RUNS_CAP]; 3];
        let r = Requests::new(&huge, 16);
        assert_eq!((r.max_run(2), r.run(2, 16).len()), (1, RUNS_CAP));
    }

    #[test]
    fn rendered_requests_pipeline_back_to_back() {
        let one = render(&endpoint("http://h/", "GET", &[], b""), true);
        let three = one.repeat(3);
        assert_eq!(three.len(), one.len() * 3);
        // Each copy parses as a complete request, back to back.
        let mut rest = &three[..];
        for _ in 0..3 {
            let mut headers = [httparse::EMPTY_HEADER; 8];
            let mut req = httparse::Request::new(&mut headers);
            let Ok(httparse::Status::Complete(n)) = req.parse(rest) else {
                panic!("bad pipelined copy");
            };
            rest = &rest[n..];
        }
        assert!(rest.is_empty());
    }
}
