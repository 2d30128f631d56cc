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

/// The `uc_answer` property on generated answers too, so it is exercised on stable Rust
/// beyond the seeds even where cargo-fuzz is not installed.
mod uc_answer_generated {
    use proptest::prelude::*;

    fn retry_after() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            "-?[0-9]{1,30}",
            "[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
            ".{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn holds(
            status in prop_oneof![0u32..1000, any::<u32>()],
            attempts in any::<u64>(),
            jitter in any::<f64>(),
            now in any::<i64>(),
            flags in "[pitcb]{0,3}",
            ra in proptest::option::of(retry_after()),
            location in proptest::option::of(".{0,40}"),
            body in ".{0,200}",
        ) {
            let mut input = format!("{status} {attempts} {jitter} {now} {flags}\n");
            if let Some(ra) = ra {
                input.push_str(&format!("Retry-After: {ra}\n"));
            }
            if let Some(l) = location {
                input.push_str(&format!("Location: {l}\n"));
            }
            input.push('\n');
            input.push_str(&body);
            ucc_tests::fuzz_checks::uc_answer(input.as_bytes());
        }
    }
}
