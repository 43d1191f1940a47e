//! Fuzz target: the response parser never panics, keeps its contract on every call, and
//! gives the same responses however the bytes are split. The check lives in the library
//! so `tests/fuzz_corpus.rs` replays the corpus through exactly the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tressi::http::response::fuzz_check_response(data);
});
