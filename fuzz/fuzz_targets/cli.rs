//! Fuzz target: the command-line parser never panics on any argv (the input split on NUL
//! bytes), its errors are one line, and accepted plans are consistent. The check lives in
//! the library (`tressi::fuzzing::check_cli`), shared with `tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tressi::fuzzing::check_cli(data);
});
