//! Black-box tests of the bot: the real `App` (or the real binary) against the in-crate Slack
//! emulator, over Socket Mode and the Web API on loopback, with a SQLite file per test.

mod helpers;

mod alarms;
mod archive;
mod authorization;
mod bad_input;
mod changes;
mod commands;
mod declare;
mod drills;
mod escalation;
mod events;
mod inbox;
mod people;
mod postmortem;
mod private;
mod reports;
mod restart;
mod summaries;
mod timeline;
mod types;
