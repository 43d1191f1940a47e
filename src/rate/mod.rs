//! Time-driven scheduling, pure (time is an argument): `wheel` (hashed timer wheel of
//! keys: timeouts, back-off, wake-ups), `bucket` (each endpoint's send schedule),
//! `swrr` (smooth weighted round-robin over closed-loop endpoints).

pub mod bucket;
pub mod swrr;
pub mod wheel;
