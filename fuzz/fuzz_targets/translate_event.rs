//! Envelope and event decoding on arbitrary JSON
//! (`warroom::fuzz_properties::translate_event`).
//! The property lives in the main crate so that `cargo test` replays this target's seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    warroom::fuzz_properties::translate_event(data);
});
