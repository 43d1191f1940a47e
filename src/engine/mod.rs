//! The load engine: `conn` (one connection's state machine, generic over Read + Write)
//! and `worker` (the only mio code: one Poll, a Slab of connections, the timer wheel);
//! `transport` (plain TCP or TLS under a connection) and `tls` (rustls, feature `tls`).

pub mod conn;
pub mod progress;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
pub mod worker;
