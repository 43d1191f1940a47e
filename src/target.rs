//! URL → `Target`: scheme, host, port, the `Host` header value (authority) and the
//! request-target (path and query) sent on the wire.
//!
//! `Target::parse` is pure and never panics; `Target::resolve` is the one function here
//! that touches the OS (name resolution) and is called separately, at setup time.
//! This module must not normalise or decode anything that is sent: the path and query
//! go out byte for byte as written (percent-escapes included, valid or not).
//!
//! Choices:
//! - Schemes: `http` and `https`, case-insensitive. A URL with no `scheme://`
//!   (`127.0.0.1:8080/x`, `localhost`) is taken as `http://` (as autocannon does).
//! - Userinfo (`user:pw@host`) is rejected; send `-H 'Authorization: Basic …'` instead.
//! - Only visible ASCII is accepted (no spaces, control characters or non-ASCII bytes
//!   anywhere): percent-encode them. Hosts are ASCII names, IPv4 addresses or bracketed
//!   IPv6 addresses (no zone ids); names are kept as written (not lower-cased).
//! - The port is optional (80/443 by default), must be 1..=65535, and `host:` with an
//!   empty port is rejected as a probable typo.
//! - The fragment (`#…`) is stripped; an empty path becomes `/`, keeping the query
//!   (`http://h?x=1` → `/?x=1`).

use crate::error::Error;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The port used when the URL gives none: 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// Host as written, without IPv6 brackets ("::1", "127.0.0.1", "example.com").
    pub host: String,
    pub port: u16,
    /// The `Host` header value: host (IPv6 in brackets) plus ":port" unless the port is
    /// the scheme's default.
    pub authority: String,
    /// Path and query exactly as given ("/" when the URL has no path), fragment removed.
    pub path_and_query: String,
}

impl Target {
    /// Parses an `http://` or `https://` URL (or one without a scheme, taken as http).
    /// Errors are `Error::Url` naming the URL and the reason.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let bad = |why: &str| Error::Url(format!("'{}': {why}", url.escape_debug()));
        if url.is_empty() {
            return Err(Error::Url("empty URL".to_string()));
        }
        if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
            let what = match c {
                ' ' => "contains a space (percent-encode it as %20)".to_string(),
                c if c.is_control() => format!(
                    "contains a control character (U+{:04X}); percent-encode it",
                    u32::from(c)
                ),
                c => format!("contains a non-ASCII character '{c}'; percent-encode it"),
            };
            return Err(bad(&what));
        }

        let (scheme, rest) = match url.find("://") {
            Some(i) => {
                let name = &url[..i];
                let scheme = if name.eq_ignore_ascii_case("http") {
                    Scheme::Http
                } else if name.eq_ignore_ascii_case("https") {
                    Scheme::Https
                } else if name.is_empty() {
                    return Err(bad("missing scheme before '://' (use http:// or https://)"));
                } else {
                    return Err(bad(&format!(
                        "unsupported scheme '{name}' (only http and https)"
                    )));
                };
                (scheme, &url[i + 3..])
            }
            None => {
                // `scheme:` without `//`, e.g. "http:/x" or "ftp:x": not a host:port.
                if let Some(i) = url.find(':') {
                    let name = &url[..i];
                    let after = &url[i + 1..];
                    let looks_like_scheme =
                        name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                            && name
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                            && !after.starts_with(|c: char| c.is_ascii_digit())
                            && !after.is_empty();
                    if looks_like_scheme {
                        return Err(bad(&format!(
                            "expected '{name}://…' (only http:// and https:// URLs)"
                        )));
                    }
                }
                (Scheme::Http, url)
            }
        };

        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (auth, tail) = rest.split_at(auth_end);
        let tail = tail.split('#').next().unwrap_or("");
        let path_and_query = if tail.is_empty() {
            "/".to_string()
        } else if tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };

        if let Some(at) = auth.rfind('@') {
            // The message shows the URL without its password (it goes to terminals and
            // CI logs).
            let start = url.len() - rest.len();
            let shown = format!("{}<redacted>{}", &url[..start], &url[start + at..]);
            return Err(Error::Url(format!(
                "'{}': credentials in the URL (user:password@) are not supported; \
                 send -H 'Authorization: ...' instead",
                shown.escape_debug()
            )));
        }
        if auth.is_empty() {
            return Err(bad("missing host"));
        }

        let (host, port_text, bracketed) = if let Some(inner) = auth.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Err(bad("IPv6 address is missing its closing ']'"));
            };
            let host = &inner[..close];
            let after = &inner[close + 1..];
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(bad(&format!("'[{host}]' is not a valid IPv6 address")));
            }
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad(&format!("unexpected '{after}' after ']'"))),
            };
            (host, port, true)
        } else {
            let (host, port) = match auth.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (auth, None),
            };
            if port.is_some_and(|p| p.contains(':')) {
                return Err(bad(
                    "an IPv6 address must be in brackets, e.g. http://[::1]:8080/",
                ));
            }
            if host.is_empty() {
                return Err(bad("missing host"));
            }
            if let Some(c) = host
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
            {
                return Err(bad(&format!("invalid character '{c}' in host '{host}'")));
            }
            let all_numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if all_numeric && host.parse::<Ipv4Addr>().is_err() {
                return Err(bad(&format!("'{host}' is not a valid IPv4 address")));
            }
            (host, port, false)
        };

        let port = match port_text {
            None => scheme.default_port(),
            Some("") => return Err(bad("empty port after ':'")),
            Some(p) => {
                let valid = p.bytes().all(|b| b.is_ascii_digit());
                match p.parse::<u16>() {
                    Ok(n) if valid && n > 0 => n,
                    _ => {
                        return Err(bad(&format!(
                            "invalid port '{p}' (must be a number from 1 to 65535)"
                        )))
                    }
                }
            }
        };

        let mut authority = if bracketed {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        if port != scheme.default_port() {
            authority.push(':');
            authority.push_str(&port.to_string());
        }

        Ok(Target {
            scheme,
            host: host.to_string(),
            port,
            authority,
            path_and_query,
        })
    }

    /// Resolves `(host, port)` with the system resolver. `Error::Setup` naming the host
    /// when it cannot be resolved or resolves to nothing.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, Error> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| Error::Setup(format!("cannot resolve host '{}': {e}", self.host)))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Setup(format!(
                "host '{}' resolved to no addresses",
                self.host
            )));
        }
        Ok(addrs)
    }

    /// The URL for display: `scheme://authority/path?query` (fragment dropped, default
    /// port omitted).
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path_and_query
        )
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(scheme: Scheme, host: &str, port: u16, authority: &str, pq: &str) -> Target {
        Target {
            scheme,
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            path_and_query: pq.to_string(),
        }
    }

    #[test]
    fn good_urls() {
        use Scheme::{Http, Https};
        let cases: &[(&str, Target)] = &[
            (
                "http://localhost/",
                t(Http, "localhost", 80, "localhost", "/"),
            ),
            (
                "http://localhost",
                t(Http, "localhost", 80, "localhost", "/"),
            ),
            (
                "http://127.0.0.1:8080/x",
                t(Http, "127.0.0.1", 8080, "127.0.0.1:8080", "/x"),
            ),
            (
                "https://example.com",
                t(Https, "example.com", 443, "example.com", "/"),
            ),
            (
                "https://example.com:8443/a/b?c=d",
                t(Https, "example.com", 8443, "example.com:8443", "/a/b?c=d"),
            ),
            (
                "HTTP://Example.COM/",
                t(Http, "Example.COM", 80, "Example.COM", "/"),
            ),
            ("HtTpS://h/", t(Https, "h", 443, "h", "/")),
            ("http://h:80/", t(Http, "h", 80, "h", "/")),
            ("http://h:443/", t(Http, "h", 443, "h:443", "/")),
            ("https://h:80/", t(Https, "h", 80, "h:80", "/")),
            ("https://h:443/", t(Https, "h", 443, "h", "/")),
            ("http://h:080/", t(Http, "h", 80, "h", "/")),
            ("http://h:65535/", t(Http, "h", 65535, "h:65535", "/")),
            (
                "http://[::1]:8080/x",
                t(Http, "::1", 8080, "[::1]:8080", "/x"),
            ),
            ("http://[::1]/", t(Http, "::1", 80, "[::1]", "/")),
            (
                "https://[2001:db8::1]",
                t(Https, "2001:db8::1", 443, "[2001:db8::1]", "/"),
            ),
            (
                "http://[::ffff:127.0.0.1]:81",
                t(Http, "::ffff:127.0.0.1", 81, "[::ffff:127.0.0.1]:81", "/"),
            ),
            ("http://h?x=1", t(Http, "h", 80, "h", "/?x=1")),
            ("http://h:81?x=1&y", t(Http, "h", 81, "h:81", "/?x=1&y")),
            ("http://h/p#frag", t(Http, "h", 80, "h", "/p")),
            ("http://h#frag", t(Http, "h", 80, "h", "/")),
            ("http://h/p?q=1#frag", t(Http, "h", 80, "h", "/p?q=1")),
            (
                "http://h/a%20b?x=%2F%zz",
                t(Http, "h", 80, "h", "/a%20b?x=%2F%zz"),
            ),
            (
                "http://h/a/../b/./c//d",
                t(Http, "h", 80, "h", "/a/../b/./c//d"),
            ),
            ("http://h/?", t(Http, "h", 80, "h", "/?")),
            ("http://h/p?a=b?c=/d", t(Http, "h", 80, "h", "/p?a=b?c=/d")),
            (
                "http://h/~user/@x:y;z",
                t(Http, "h", 80, "h", "/~user/@x:y;z"),
            ),
            (
                "http://my_host-1.local/",
                t(Http, "my_host-1.local", 80, "my_host-1.local", "/"),
            ),
            (
                "127.0.0.1:8080/",
                t(Http, "127.0.0.1", 8080, "127.0.0.1:8080", "/"),
            ),
            ("localhost", t(Http, "localhost", 80, "localhost", "/")),
            (
                "localhost:3000/api?x",
                t(Http, "localhost", 3000, "localhost:3000", "/api?x"),
            ),
            ("[::1]:9000", t(Http, "::1", 9000, "[::1]:9000", "/")),
        ];
        for (url, want) in cases {
            assert_eq!(Target::parse(url).as_ref(), Ok(want), "url {url:?}");
        }
    }

    #[test]
    fn bad_urls() {
        let cases: &[(&str, &str)] = &[
            ("", "empty URL"),
            (
                "ftp://h/",
                "'ftp://h/': unsupported scheme 'ftp' (only http and https)",
            ),
            (
                "ws://h/",
                "'ws://h/': unsupported scheme 'ws' (only http and https)",
            ),
            (
                "://h/",
                "'://h/': missing scheme before '://' (use http:// or https://)",
            ),
            (
                "http:/h",
                "'http:/h': expected 'http://…' (only http:// and https:// URLs)",
            ),
            (
                "mailto:x@y",
                "'mailto:x@y': expected 'mailto://…' (only http:// and https:// URLs)",
            ),
            ("http://", "'http://': missing host"),
            ("http:///x", "'http:///x': missing host"),
            ("http://:80/", "'http://:80/': missing host"),
            ("http://?x", "'http://?x': missing host"),
            (
                "http://user:pw@h/",
                "'http://<redacted>@h/': credentials in the URL (user:password@) are not \
                 supported; send -H 'Authorization: ...' instead",
            ),
            (
                "http://@h/",
                "'http://<redacted>@h/': credentials in the URL (user:password@) are not \
                 supported; send -H 'Authorization: ...' instead",
            ),
            (
                "http://u:s3cr3t@h:8080/p?q=1",
                "'http://<redacted>@h:8080/p?q=1': credentials in the URL (user:password@) are not \
                 supported; send -H 'Authorization: ...' instead",
            ),
            (
                "https://a@b:p@ss@h/x@y",
                "'https://<redacted>@h/x@y': credentials in the URL (user:password@) are not \
                 supported; send -H 'Authorization: ...' instead",
            ),
            (
                "http://h:0/",
                "'http://h:0/': invalid port '0' (must be a number from 1 to 65535)",
            ),
            (
                "http://h:65536/",
                "'http://h:65536/': invalid port '65536' (must be a number from 1 to 65535)",
            ),
            (
                "http://h:99999999999999999999/",
                "'http://h:99999999999999999999/': invalid port '99999999999999999999' \
                 (must be a number from 1 to 65535)",
            ),
            (
                "http://h:-1/",
                "'http://h:-1/': invalid port '-1' (must be a number from 1 to 65535)",
            ),
            (
                "http://h:+80/",
                "'http://h:+80/': invalid port '+80' (must be a number from 1 to 65535)",
            ),
            (
                "http://h:http/",
                "'http://h:http/': invalid port 'http' (must be a number from 1 to 65535)",
            ),
            ("http://h:/", "'http://h:/': empty port after ':'"),
            ("http://[::1]:/", "'http://[::1]:/': empty port after ':'"),
            (
                "http://h /",
                "'http://h /': contains a space (percent-encode it as %20)",
            ),
            (
                "http://h/a b",
                "'http://h/a b': contains a space (percent-encode it as %20)",
            ),
            (
                "http://h/\r\nX: y",
                "'http://h/\\r\\nX: y': contains a control character (U+000D); percent-encode it",
            ),
            (
                "http://h/\u{0}",
                "'http://h/\\0': contains a control character (U+0000); percent-encode it",
            ),
            (
                "http://h/\u{7f}",
                "'http://h/\\u{7f}': contains a control character (U+007F); percent-encode it",
            ),
            (
                "http://h/é",
                "'http://h/é': contains a non-ASCII character 'é'; percent-encode it",
            ),
            (
                "http://bücher.de/",
                "'http://bücher.de/': contains a non-ASCII character 'ü'; percent-encode it",
            ),
            (
                "http://::1/",
                "'http://::1/': an IPv6 address must be in brackets, e.g. http://[::1]:8080/",
            ),
            (
                "http://[::1/",
                "'http://[::1/': IPv6 address is missing its closing ']'",
            ),
            (
                "http://[nope]/",
                "'http://[nope]/': '[nope]' is not a valid IPv6 address",
            ),
            (
                "http://[]/",
                "'http://[]/': '[]' is not a valid IPv6 address",
            ),
            (
                "http://[fe80::1%25eth0]/",
                "'http://[fe80::1%25eth0]/': '[fe80::1%25eth0]' is not a valid IPv6 address",
            ),
            (
                "http://[::1]x/",
                "'http://[::1]x/': unexpected 'x' after ']'",
            ),
            (
                "http://h!/",
                "'http://h!/': invalid character '!' in host 'h!'",
            ),
            (
                "http://h%41/",
                "'http://h%41/': invalid character '%' in host 'h%41'",
            ),
            (
                "http://256.0.0.1/",
                "'http://256.0.0.1/': '256.0.0.1' is not a valid IPv4 address",
            ),
            (
                "http://1.2.3/",
                "'http://1.2.3/': '1.2.3' is not a valid IPv4 address",
            ),
            (":8080", "':8080': missing host"),
        ];
        for (url, want) in cases {
            assert_eq!(
                Target::parse(url),
                Err(Error::Url(want.to_string())),
                "url {url:?}"
            );
        }
    }

    #[test]
    fn display_form() {
        let cases: &[(&str, &str)] = &[
            ("HTTP://h:80/x#f", "http://h/x"),
            ("https://[::1]:8443?q", "https://[::1]:8443/?q"),
            ("localhost:3000", "http://localhost:3000/"),
        ];
        for (url, want) in cases {
            let target = Target::parse(url).expect(url);
            assert_eq!(target.url(), *want);
            assert_eq!(target.to_string(), *want);
            // The display form parses back to the same target.
            assert_eq!(Target::parse(want).as_ref(), Ok(&target));
        }
    }

    #[test]
    fn error_display_names_the_url() {
        let err = Target::parse("gopher://h/").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad URL: 'gopher://h/': unsupported scheme 'gopher' (only http and https)"
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for url in [
            "[",
            "]",
            "[]",
            "http://[",
            "http://]",
            "::",
            ":",
            "?",
            "#",
            "/",
            "@",
            "http://h:",
            "http://[::1]:99999",
            "a:b:c",
            "http://a@b@c",
            "HTTP://",
            "https:",
            "h:1:2",
        ] {
            let _ = Target::parse(url);
        }
    }

    #[test]
    fn resolve_ip_literals_without_dns() {
        let v4 = Target::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            v4.resolve().unwrap(),
            vec!["127.0.0.1:8080".parse().unwrap()]
        );
        let v6 = Target::parse("http://[::1]:9/").unwrap();
        assert_eq!(v6.resolve().unwrap(), vec!["[::1]:9".parse().unwrap()]);
    }

    #[test]
    fn resolve_failure_names_the_host() {
        let target = Target::parse("http://no-such-host.invalid/").unwrap();
        match target.resolve() {
            Err(Error::Setup(msg)) => {
                assert!(
                    msg.starts_with("cannot resolve host 'no-such-host.invalid': "),
                    "{msg}"
                )
            }
            other => panic!("expected a setup error, got {other:?}"),
        }
    }
}
