//! Fuzz target: the chunked decoder never panics and gives the same outcome however the
//! bytes are split. The check lives in the library (shared with `tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tressi::http::chunked::fuzz_check_chunked(data);
});
