//! Fuzz target: `Target::parse` never panics, and every URL it accepts has a path that
//! starts with '/', no fragment, no whitespace, and an authority matching host and port.
//! The check lives in the library (`tressi::fuzzing::check_url`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tressi::fuzzing::check_url(data);
});
