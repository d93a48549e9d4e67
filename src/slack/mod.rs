//! The Slack adapter. Architecture invariant: the only module that imports slack-morphism.
//!
//! - [`web`]: outbound Web API calls.
//! - [`socket`]: warroom's Socket Mode client: receive, record, ack.
//! - [`inbound`]: warroom's own types for what Slack delivers.
//! - [`render`]: Block Kit and text for every message warroom posts (`render_support`,
//!   `render_changes` and `render_report`, the short incident report, beside it).
//! - [`outgoing`]: a message to send (text and blocks), below both `limits` and `web`.
//! - [`mrkdwn`]: escaping of untrusted text.
//! - [`limits`]: Slack's Block Kit limits, measured after escaping; every message is fitted
//!   on its way out.
//! - [`manifest`]: the methods, events and scopes warroom needs (the app manifest's source).

pub mod inbound;
pub mod limits;
pub mod manifest;
pub mod mrkdwn;
pub mod outgoing;
pub mod render;
pub mod render_changes;
pub mod render_checklist;
pub mod render_report;
pub mod render_support;
pub mod socket;
pub mod web;
