//! Secret redaction: which header values are secrets, and the summary with their values
//! replaced by `<redacted>` (request headers in the config, response heads of the
//! samples). Pure string work; it never decides whether to redact (`--show-secrets` is
//! the caller's business, see `report::finish`).

use crate::stats::Summary;

/// What a secret value is shown as.
pub const REDACTED: &str = "<redacted>";

/// Whether a header's value is a secret: `Authorization`, `Proxy-Authorization`,
/// `Cookie`, `Set-Cookie`, and any name (case-insensitive) that contains `auth`,
/// `cookie`, `token`, `secret`, `password`, `session`, `api-key`, `api_key` or `apikey`
/// (so `X-Api-Key`, `X-Auth-Token`, `X-Session-Id`, `Client-Secret` too).
pub fn is_secret(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    [
        "auth", "cookie", "token", "secret", "password", "session", "api-key", "api_key", "apikey",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A header value as shown: `<redacted>` for a secret header, else as is.
pub fn value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name) {
        REDACTED
    } else {
        value
    }
}

/// A response head (status line, then `Name: value` lines joined by `\n`) with secret
/// header values redacted. Lines that are not `Name: value` are kept as they are.
pub fn head(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.split_once(':') {
            Some((name, _)) if i > 0 && is_secret(name) => {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(REDACTED);
                if line.ends_with('\r') {
                    out.push('\r');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The strings of a secret header value that must not show anywhere: the value, its
/// longer words (the token of `Bearer <token>`), and the longer values of its
/// `name=value` words (a cookie's value, which a server may echo apart from its name).
/// Values shorter than 4 characters are not looked for (they would blank out ordinary
/// text), nor words shorter than 8.
fn needles(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let whole = value.trim();
    if whole.chars().count() >= 4 {
        out.push(whole.to_string());
    }
    for word in whole.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        if word.chars().count() >= 8 && word != whole {
            out.push(word.to_string());
        }
        if let Some((_, v)) = word.split_once('=') {
            if v.chars().count() >= 8 {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// `text` with every occurrence of the `needles` replaced by `<redacted>`.
fn scrub(text: &str, needles: &[String]) -> String {
    let mut out = text.to_string();
    for n in needles {
        if out.contains(n.as_str()) {
            out = out.replace(n.as_str(), REDACTED);
        }
    }
    out
}

/// Redacts the summary in place: every endpoint's request headers and every sample's
/// response head; and the values of those secret request headers wherever a sample shows
/// them (a server that echoes the request, as httpbin's `/anything` does).
pub fn summary(s: &mut Summary) {
    let mut secrets: Vec<String> = s
        .endpoints
        .iter()
        .flat_map(|e| e.headers.iter())
        .filter(|(name, _)| is_secret(name))
        .flat_map(|(_, v)| needles(v))
        .collect();
    secrets.sort_by_key(|n| std::cmp::Reverse(n.len()));
    secrets.dedup();
    for e in &mut s.endpoints {
        for (name, v) in &mut e.headers {
            if is_secret(name) {
                *v = REDACTED.to_string();
            }
        }
        for sample in &mut e.samples {
            sample.head = scrub(&head(&sample.head), &secrets);
            sample.body = scrub(&sample.body, &secrets);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_header_names() {
        let cases = [
            ("Authorization", true),
            ("proxy-authorization", true),
            ("Cookie", true),
            ("SET-COOKIE", true),
            ("X-Api-Key", true),
            ("x-apikey", true),
            ("Api_Key", true),
            ("X-Auth-Token", true),
            ("X-Session-Id", true),
            ("Client-Secret", true),
            ("X-Password", true),
            ("Content-Type", false),
            ("Accept", false),
            ("User-Agent", false),
            ("X-Request-Id", false),
            ("Host", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_secret(name), want, "{name}");
        }
    }

    #[test]
    fn secret_request_values_echoed_in_samples_are_redacted() {
        use crate::stats::Sample;
        let mut s = crate::report::fixture::summary();
        s.endpoints[0].headers = vec![
            (
                "Authorization".into(),
                "Bearer eyJhbGciOiJIUzI1NiJ9.payload".into(),
            ),
            ("X-Api-Key".into(), "abc".into()),
            ("Accept".into(), "application/json".into()),
        ];
        // Echoed whole, the token alone (in another endpoint's sample, in a header), and
        // a short value that is not looked for.
        s.endpoints[1].samples = vec![Sample {
            status: 200,
            head: "HTTP/1.1 200 OK\nX-Echo: eyJhbGciOiJIUzI1NiJ9.payload".into(),
            body: "GET / HTTP/1.1\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload\r\n\
                   Accept: application/json\r\nabc"
                .into(),
            truncated: false,
        }];
        summary(&mut s);
        let sample = &s.endpoints[1].samples[0];
        assert_eq!(sample.head, "HTTP/1.1 200 OK\nX-Echo: <redacted>");
        assert!(
            !sample.body.contains("eyJhbGciOiJIUzI1NiJ9"),
            "{}",
            sample.body
        );
        assert!(
            sample.body.contains("Authorization: <redacted>\r\n"),
            "{}",
            sample.body
        );
        assert!(sample.body.contains("application/json"), "{}", sample.body);
        assert!(sample.body.ends_with("abc"), "{}", sample.body);
    }

    #[test]
    fn cookie_values_echoed_without_their_names_are_redacted() {
        use crate::stats::Sample;
        let mut s = crate::report::fixture::summary();
        s.endpoints[0].headers = vec![(
            "Cookie".into(),
            "session=s3ss10n-abcdefgh; theme=dark".into(),
        )];
        // httpbin's /cookies echoes each cookie's value apart from its name.
        s.endpoints[0].samples = vec![Sample {
            status: 200,
            head: "HTTP/1.1 200 OK\nContent-Type: application/json".into(),
            body: r#"{"cookies": {"session": "s3ss10n-abcdefgh", "theme": "dark"}}"#.into(),
            truncated: false,
        }];
        summary(&mut s);
        let body = &s.endpoints[0].samples[0].body;
        assert!(!body.contains("s3ss10n-abcdefgh"), "{body}");
        assert_eq!(
            body,
            r#"{"cookies": {"session": "<redacted>", "theme": "dark"}}"#
        );
    }

    #[test]
    fn heads_keep_the_status_line_and_redact_values() {
        let cases = [
            (
                "HTTP/1.1 200 OK\nSet-Cookie: sid=abc\nContent-Length: 3",
                "HTTP/1.1 200 OK\nSet-Cookie: <redacted>\nContent-Length: 3",
            ),
            (
                "HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Bearer x",
                "HTTP/1.1 401 Unauthorized\nWWW-Authenticate: <redacted>",
            ),
            ("garbage without colon", "garbage without colon"),
            (
                "HTTP/1.1 200 OK\nset-cookie:a=b\r",
                "HTTP/1.1 200 OK\nset-cookie: <redacted>\r",
            ),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(head(input), want);
        }
    }
}
