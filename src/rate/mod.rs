//! Time-driven scheduling, pure (time is an argument): `wheel` (hashed timer wheel of
//! keys: timeouts, back-off, wake-ups).

pub mod wheel;
