//! The fault-injection suite: scripted incidents driven through the Slack emulator (and the
//! real binary, for SIGKILL) while Socket Mode, the Web API, the database and the input
//! misbehave. Every scenario ends with the same invariants (`helpers::check_invariants`):
//! every event Slack saw acked is on the timeline exactly once, no incident or channel is
//! duplicated, and the pinned header says what the database says. RELIABILITY.md maps each
//! fault to its test.
//!
//! Bounded: the default run takes well under 90 s on 2 cores. `WARROOM_SOAK=1` makes the
//! SIGKILL loop longer; `WARROOM_CHAOS_SEED` picks its seed.

#[path = "chaos/helpers.rs"]
mod helpers;

#[path = "chaos/crash.rs"]
mod crash;
#[path = "chaos/malformed.rs"]
mod malformed;
#[path = "chaos/socket.rs"]
mod socket;
#[path = "chaos/storage.rs"]
mod storage;
#[path = "chaos/web_faults.rs"]
mod web_faults;
