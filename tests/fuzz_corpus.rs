//! Every input the fuzzers kept (fuzz/corpus) and every one that once crashed perfgate
//! (fuzz/regressions), replayed through the same entry points (perfgate::fuzz): none may
//! panic. The fuzzers themselves run with cargo-fuzz (fuzz/Cargo.toml, README).

use std::path::Path;

#[test]
fn every_kept_fuzz_input_is_parsed_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, target) in perfgate::fuzz::TARGETS {
        let mut replayed = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(files) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| target(&data));
                assert!(outcome.is_ok(), "{name}: {} panicked", path.display());
                replayed += 1;
            }
        }
        assert!(replayed > 0, "{name}: no corpus under {}", root.display());
    }
}
