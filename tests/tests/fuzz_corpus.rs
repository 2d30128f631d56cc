//! Unit test (no server involved): every committed fuzz seed and every saved crash
//! (`fuzz/regressions/<target>/`) replayed through the fuzz targets' own checks, so each
//! crash libFuzzer ever finds stays a regression test in `make test`, on stable Rust.
//!
//! To keep a crash: copy `fuzz/artifacts/<target>/crash-…` to `fuzz/regressions/<target>/`,
//! fix the bug, and this test proves it stays fixed.

use std::path::Path;

use ucc_tests::fuzz_checks::TARGETS;

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn every_seed_and_saved_crash_passes_its_fuzz_check() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (target, check) in TARGETS {
        let seeds = inputs(&fuzz.join("corpus").join(target));
        assert!(!seeds.is_empty(), "{target} has no committed seeds");
        for (name, bytes) in seeds
            .iter()
            .chain(&inputs(&fuzz.join("regressions").join(target)))
        {
            let outcome = std::panic::catch_unwind(|| check(bytes));
            assert!(outcome.is_ok(), "{target}: {name} fails its check");
        }
    }
}
