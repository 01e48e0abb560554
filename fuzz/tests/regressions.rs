//! Replays every saved input in `regressions/<target>/` (crashes found by the fuzzers, kept once
//! fixed) and every committed seed in `seeds/<target>/` through the target's checks, on stable.

use std::fs;
use std::path::Path;

#[test]
fn saved_inputs_still_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for dir in ["regressions", "seeds"] {
        for (name, check) in pxe_fuzz::TARGETS {
            let Ok(entries) = fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("readable dir").path();
                let data = fs::read(&path).expect("readable input");
                eprintln!("replaying {}", path.display());
                check(&data);
                ran += 1;
            }
        }
    }
    eprintln!("{ran} inputs replayed");
}
