//! warroom: a chat-ops bot that runs incident response for teams on AWS.
//!
//! # Layout
//! - [`domain`]: incidents, severities, statuses, the `/incident` grammar, channel
//!   naming, the timeline vocabulary. Pure: no IO, time passed in.
//! - [`aws`]: the AWS adapter — CloudWatch alarms and graphs, AWS Health (the only module
//!   that imports the AWS SDK), and local fakes speaking the SDK's protocol.
//! - [`config`]: the TOML operator contract and secrets from the environment.
//! - [`store`]: SQLite through sqlx — migrations, the inbox of received events, incidents
//!   and their timeline. The only module that writes SQL.
//! - [`slack`]: the Slack adapter — Web API calls and the Socket Mode listener (the only
//!   module that imports slack-morphism), message rendering and mrkdwn escaping.
//! - [`slack_emulator`]: a local Slack (Web API over HTTP, Socket Mode over WebSocket)
//!   for the demo and the tests. Speaks the wire protocol, shares no code with [`slack`].
//! - [`service`]: the application layer — turns recorded events into domain changes,
//!   store writes and Slack effects.
//! - [`app`]: `App::build(config)`, used by `main`, the demo and the tests.
//! - [`demo`]: the scripted offline incident behind `warroom demo`.
//! - [`postmortem`]: postmortem drafts from templates (data, tera templates, escaping).
//! - [`report`]: operator output for `warroom incidents` / `warroom timeline`.
//! - [`ops`]: health and metrics endpoints, `warroom doctor`.
//! - [`fuzz_properties`]: what the fuzz targets check, shared with `cargo test`.

pub mod app;
pub mod aws;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod fuzz_properties;
pub mod ops;
pub mod postmortem;
pub mod report;
pub mod service;
pub mod slack;
pub mod slack_emulator;
pub mod store;
