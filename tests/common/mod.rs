//! What the black-box suites share: the emulated workspace with the bot in it ([`world`]),
//! waiting on a condition with a deadline ([`wait`]), and moto behind the AWS fake
//! ([`aws`]). Each suite includes it from its `helpers` module, which also sets the suite's
//! patience, `helpers::DEADLINE`, and keeps what is its own (the bot suite's and the chaos
//! suite's `BotProcess`, the chaos suite's invariants).
//!
//! Not every suite uses every helper.

#![allow(dead_code, unused_imports, unused_macros)]

pub mod aws;
pub mod wait;
pub mod world;
