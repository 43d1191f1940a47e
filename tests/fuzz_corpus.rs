//! Replays the fuzz seed corpora (`fuzz/corpus/<target>/`) and any saved crash artifacts
//! (`fuzz/artifacts/<target>/`, if present) through the very check functions the fuzz
//! targets call, so every finding stays a regression test on stable Rust.
//!
//! Must not: re-implement the checks (they live in `tressi::http::*::fuzz_check_*` and
//! `tressi::fuzzing::check_{cli,url,config}`).

use std::fs;
use std::path::{Path, PathBuf};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = files_in(&fuzz.join("corpus").join(target));
    assert!(!corpus.is_empty(), "no seed corpus for {target}");
    let artifacts = files_in(&fuzz.join("artifacts").join(target));
    let mut n = 0;
    for path in corpus.iter().chain(&artifacts) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Name the file if its check panics.
        eprintln!("replaying {}", path.display());
        check(&data);
        n += 1;
    }
    n
}

#[test]
fn response_corpus() {
    let n = replay("response", tressi::http::response::fuzz_check_response);
    assert!(n >= 12, "only {n} response inputs");
}

#[test]
fn chunked_corpus() {
    let n = replay("chunked", tressi::http::chunked::fuzz_check_chunked);
    assert!(n >= 12, "only {n} chunked inputs");
}

#[test]
fn cli_corpus() {
    let n = replay("cli", tressi::fuzzing::check_cli);
    assert!(n >= 12, "only {n} cli inputs");
}

#[test]
fn url_corpus() {
    let n = replay("url", tressi::fuzzing::check_url);
    assert!(n >= 12, "only {n} url inputs");
}

#[test]
fn config_corpus() {
    let n = replay("config", tressi::fuzzing::check_config);
    assert!(n >= 12, "only {n} config inputs");
}
