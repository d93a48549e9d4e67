//! The fault-injection suite: scripted incidents driven through the Slack emulator (and the
//! real binary, for SIGKILL) while Socket Mode, the Web API, the database and the input
//! misbehave. Every scenario ends with the same invariants (`helpers::check_invariants`):
//! every event Slack saw acked is on the timeline exactly once, no incident or channel is
//! duplicated, and the pinned header says what the database says. RELIABILITY.md maps each
//! fault to its test.
//!
//! AWS faults (`aws_faults`) run against moto behind the AWS fake.
//!
//! Bounded: the default run takes about 80 s on 2 cores. `WARROOM_SOAK=1` makes the SIGKILL
//! loop and the AWS and Slack outages longer; `WARROOM_CHAOS_SEED` picks the kills' seed.

#[path = "chaos/helpers.rs"]
mod helpers;

#[path = "chaos/aws_faults.rs"]
mod aws_faults;
#[path = "chaos/crash.rs"]
mod crash;
#[path = "chaos/malformed.rs"]
mod malformed;
#[path = "chaos/replicas.rs"]
mod replicas;
#[path = "chaos/socket.rs"]
mod socket;
#[path = "chaos/storage.rs"]
mod storage;
#[path = "chaos/web_faults.rs"]
mod web_faults;
