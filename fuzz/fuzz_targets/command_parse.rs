//! The `/incident` grammar on arbitrary text (`warroom::fuzz_properties::command_parse`).
//! The property lives in the main crate so that `cargo test` replays this target's seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    warroom::fuzz_properties::command_parse(data);
});
