//! (to be written: URL parsing)

/// URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
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
