//! The load engine: `conn` (one connection's state machine, generic over Read + Write)
//! and `worker` (the only mio code: one Poll, a Slab of connections, the timer wheel).

pub mod conn;
pub mod progress;
pub mod worker;
