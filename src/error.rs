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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Config(m) | Error::Setup(m) => f.write_str(m),
            Error::Url(m) => write!(f, "bad URL: {m}"),
        }
    }
}

impl std::error::Error for Error {}
