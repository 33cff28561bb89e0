//! Replays the fuzz targets' seeds and every input kept under `fuzz/regressions/` (each
//! one a crash or a broken property that the fuzzer found) through the same checks that
//! the fuzz targets run, so that `make test` and CI keep them fixed without nightly or
//! libFuzzer.

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files: Vec<PathBuf> = ["seeds", "regressions"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(fuzz.join(kind).join(target)).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs for {target}");
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let mut failed = Vec::new();
    for path in inputs(target) {
        let data = std::fs::read(&path).expect("a readable input");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} fails on: {failed:#?}");
}

#[test]
fn filter_query_inputs_hold() {
    replay("filter_query", checks::filter_query);
}

#[test]
fn ingest_body_inputs_hold() {
    replay("ingest_body", checks::ingest_body);
}
