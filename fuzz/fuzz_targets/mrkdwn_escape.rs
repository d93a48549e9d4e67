//! Escaping into Slack mrkdwn and cutting to Slack's limits
//! (`warroom::fuzz_properties::mrkdwn_escape`).
//! The property lives in the main crate so that `cargo test` replays this target's seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    warroom::fuzz_properties::mrkdwn_escape(data);
});
