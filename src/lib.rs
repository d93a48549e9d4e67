//! warroom: a chat-ops bot that runs incident response for teams on AWS.
//!
//! # Layout
//! - [`domain`]: incidents, severities, statuses, the `/incident` grammar, channel
//!   naming, the timeline vocabulary. Pure: no IO, time passed in.
//! - [`aws`]: the AWS adapter — CloudWatch alarms and graphs, AWS Health (the only module
//!   that imports the AWS SDK), and local fakes speaking the SDK's protocol.
//! - [`config`]: the TOML operator contract and secrets from the environment.
//! - [`store`]: SQLite or PostgreSQL through sqlx — migrations, a unit of work over
//!   per-table functions (inbox, incidents, timeline, outbox, …). The only module that
//!   writes SQL.
//! - [`slack`]: the Slack adapter — Web API calls and the Socket Mode listener (the only
//!   module that imports slack-morphism), message rendering and mrkdwn escaping.
//! - [`slack_emulator`]: a local Slack (Web API over HTTP, Socket Mode over WebSocket)
//!   for the demo and the tests. Speaks the wire protocol, shares no code with [`slack`].
//! - [`service`]: the application layer — turns recorded events into domain changes,
//!   store writes and Slack effects.
//! - [`backoff`]: the one retry-wait formula (linear or doubling, with a ceiling).
//! - [`app`]: `App::build(config)`, used by `main`, the demo and the tests.
//! - [`cli`]: the `warroom` command line (the binary's `main` is one call into it).
//! - [`demo`]: the scripted offline incident behind `warroom demo`.
//! - [`pg_cluster`]: a throwaway PostgreSQL cluster for the tests and the load driver.
//! - [`postmortem`]: postmortem drafts from templates (data, tera templates, escaping).
//! - [`report`]: operator output for `warroom incidents` / `warroom timeline`, and the
//!   managers' report (`warroom report`: Markdown, CSV, JSON, a self-contained HTML page).
//! - [`metrics`]: the counters behind `/metrics` (`prometheus-client`), at the bottom so the
//!   adapters that count import nothing above them.
//! - [`ops`]: health and metrics endpoints, `warroom doctor`.
//! - [`lease`]: which replica leads (the lease on PostgreSQL, its fencing term, the gate
//!   for Slack and AWS calls).
//! - [`tls`]: the process-wide rustls crypto provider (ring), installed at start-up.
//! - [`fuzz_properties`]: what the fuzz targets check, shared with `cargo test`.

pub mod app;
pub mod aws;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod fuzz_properties;
pub mod lease;
pub mod metrics;
pub mod ops;
pub mod pg_cluster;
pub mod postmortem;
pub mod report;
pub mod service;
pub mod slack;
pub mod slack_emulator;
pub mod startup_pages;
pub mod store;
pub mod tls;
