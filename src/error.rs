//! The one setup-error type: everything that stops tressi before or instead of a run
//! (bad flags, bad URL, bad config, a target that cannot be resolved or bound).
//! Printed once by `main` as `tressi: <message>`, exit code 2. Per-connection faults
//! during a run are never an `Error`: they are counted by kind in the stats.

use std::fmt;

/// A setup error. The message names the problem (flag, value, field) in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad command line: unknown flag, missing or bad value.
    Usage(String),
    /// Bad URL.
    Url(String),
    /// Bad config file (issue 3); the message carries field and line:column.
    Config(String),
    /// The environment refused: name resolution, bind, file read, thread spawn.
    Setup(String),
}

impl fmt::Display for Error {
    /// One line, always: control characters that came from user input (a newline in an
    /// argument, say) are shown escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, m) = match self {
            Error::Usage(m) | Error::Config(m) | Error::Setup(m) => ("", m),
            Error::Url(m) => ("bad URL: ", m),
        };
        f.write_str(prefix)?;
        for c in m.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_on_one_line() {
        let e = Error::Usage("unknown option '--a\nb\r\u{1b}[31m'".into());
        assert_eq!(e.to_string(), "unknown option '--a\\nb\\r\\u{1b}[31m'");
        assert_eq!(Error::Url("x".into()).to_string(), "bad URL: x");
        assert_eq!(Error::Setup("café ✓".into()).to_string(), "café ✓");
    }
}
