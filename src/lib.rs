//! tressi: an HTTP/1.1 load generator and latency benchmark.
//!
//! The library API is `run(&Plan) -> Result<Summary, Error>`; `cli::parse` turns
//! arguments into a `Command`. Only `engine::worker`, `target_server` and `signal`
//! touch the OS; every other module is pure and tested with time as an argument.

pub mod cli;
pub mod engine;
pub mod error;
pub mod http;
pub mod plan;
pub mod rate;
pub mod report;
pub mod request;
pub mod signal;
pub mod stats;
pub mod target;
pub mod target_server;
pub mod units;

pub use error::Error;
pub use plan::{Command, Endpoint, Output, Plan};
pub use stats::Summary;
