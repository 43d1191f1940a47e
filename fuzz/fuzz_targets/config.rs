//! Fuzz target: the JSON config loader (`config::parse("fuzz.json", text)`) never panics
//! on any text (non-UTF-8 bytes are decoded lossily), its errors are one line naming
//! `fuzz.json:LINE:COL` inside the text, and accepted configs are consistent. The check
//! lives in the library (`tressi::fuzzing::check_config`), shared with
//! `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tressi::fuzzing::check_config(data);
});
