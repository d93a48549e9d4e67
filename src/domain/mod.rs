//! The domain core: incidents, severities, statuses, the `/incident` grammar, channel
//! naming and the timeline vocabulary.
//!
//! Architecture invariant: nothing in here does IO or knows about Slack, AWS or SQLite.
//! Time is always passed in (`now: DateTime<Utc>`), so every policy is testable without
//! waiting.

pub mod action;
pub mod alarm;
pub mod authorization;
pub mod case_draft;
pub mod changes;
pub mod channel_name;
pub mod command;
pub mod correlation;
pub mod drill;
pub mod escalation;
pub mod events;
pub mod health_service;
pub mod ids;
pub mod incident;
pub mod incident_type;
pub mod names;
pub mod privacy;
pub mod report;
pub mod roles;
pub mod routing;
pub mod schedule;
pub mod severity;
pub mod status;
pub mod support;
pub mod text;
pub mod time;
pub mod timeline;

pub use action::ActionItem;
pub use command::{Command, UsageError};
pub use ids::{ChannelId, OutboxDestination, Ts};
pub use incident::{Change, DomainError, Incident, IncidentId, IncidentRecord};
pub use severity::Severity;
pub use status::Status;
pub use timeline::{EntryKind, TimelineEntry, UserId};
