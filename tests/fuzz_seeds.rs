//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`) and any crash they found
//! (`fuzz/artifacts/<target>/`), replayed through the same properties the targets check
//! (`warroom::fuzz_properties`): a change that breaks one fails here, in `cargo test`.

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut found = Vec::new();
    for dir in ["seeds", "artifacts", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn replay(target: &str, property: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "fuzz/seeds/{target}/ has no seeds");
    for file in files {
        let data = std::fs::read(&file).expect("a seed reads");
        let outcome = std::panic::catch_unwind(|| property(&data));
        assert!(outcome.is_ok(), "{} breaks {target}", file.display());
    }
}

#[test]
fn command_parse_seeds_hold() {
    replay("command_parse", warroom::fuzz_properties::command_parse);
}

#[test]
fn translate_event_seeds_hold() {
    replay("translate_event", warroom::fuzz_properties::translate_event);
}

#[test]
fn mrkdwn_escape_seeds_hold() {
    replay("mrkdwn_escape", warroom::fuzz_properties::mrkdwn_escape);
}
