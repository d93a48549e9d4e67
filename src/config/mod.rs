//! The operator contract: a TOML file (`--config` or `WARROOM_CONFIG`) plus secrets taken
//! only from the environment.
//!
//! Every key has a default except where a real deployment must choose; unknown keys are
//! rejected so a typo fails at start instead of silently doing nothing. Errors name the key
//! and the problem.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::incident_type::{IncidentType, Step};
use crate::domain::support::SupportSeverity;
use crate::domain::{Severity, UserId};

mod alarms;
mod aws;
mod database;
mod diagnostics;
mod drills;
mod escalation;
mod events;
mod incident;
mod postmortem;
mod secrets;
mod server;
mod slack;
mod summary;
pub mod templates;
#[cfg(test)]
mod tests;
mod util;

pub use alarms::*;
pub use aws::*;
pub use database::*;
pub use diagnostics::*;
pub use drills::*;
pub use escalation::*;
pub use events::*;
pub use incident::*;
pub use postmortem::*;
pub use secrets::*;
pub use server::*;
pub use slack::*;
pub use summary::*;
use util::*;

/// Environment variable holding the Socket Mode app-level token (`xapp-…`).
pub const APP_TOKEN_VAR: &str = "SLACK_APP_TOKEN";
/// Environment variable holding the bot token (`xoxb-…`).
pub const BOT_TOKEN_VAR: &str = "SLACK_BOT_TOKEN";
/// Environment variable holding the whole database URL, password included; it wins over
/// `[database] url` (which may not carry a password).
pub const DATABASE_URL_VAR: &str = "WARROOM_DATABASE_URL";

/// A configuration problem, shown to the operator at start: `[slack] responders[1]: …`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config key {key}: {problem}")]
    Invalid { key: String, problem: String },
    #[error("environment variable {var}: {problem}")]
    Secret { var: &'static str, problem: String },
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub slack: SlackConfig,
    pub aws: AwsConfig,
    pub database: DatabaseConfig,
    pub alarms: AlarmsConfig,
    pub escalation: EscalationConfig,
    pub summary: SummaryConfig,
    pub server: ServerConfig,
    pub postmortem: PostmortemConfig,
    pub diagnostics: DiagnosticsConfig,
    pub drills: DrillsConfig,
    pub incident: IncidentConfig,
    /// `[events]`: the EventBridge → SQS intake, when a queue is configured.
    pub events: Option<EventsConfig>,
}

/// The shortest `[incident] archive_after`.
pub const MIN_ARCHIVE_AFTER: Duration = Duration::from_secs(3600);

/// Shortest `[database] failover_after`: the lease is renewed three times per period, and
/// each renewal is a round trip to the server.
const MIN_FAILOVER_AFTER: Duration = Duration::from_secs(2);

/// Raw events are kept at least this long: Slack redelivers an event for up to about an
/// hour, and the inbox row is what recognises the redelivery.
pub const MIN_KEEP_RAW_EVENTS: Duration = Duration::from_secs(60 * 60);

/// AWS's limit on a case's `ccEmailAddresses`.
pub const MAX_CC_EMAIL_ADDRESSES: usize = 10;

/// Shortest `renudge_every` and `support_poll_interval`: faster would spam the channel or
/// spend the Support API's rate limit for nothing.
const MIN_ESCALATION_PERIOD: Duration = Duration::from_secs(10);

impl Default for Config {
    fn default() -> Self {
        Config {
            slack: SlackConfig {
                api_url: "https://slack.com/api/".to_string(),
                responders: Vec::new(),
                incident_leads: None,
                managers: Vec::new(),
                status_channel: None,
                proactive_rate_limits: true,
                socket_connections: 2,
            },
            aws: AwsConfig {
                region: "us-east-1".to_string(),
                endpoint_url: None,
                accounts: Vec::new(),
            },
            database: DatabaseConfig {
                url: "sqlite://warroom.db".to_string(),
                failover_after: Duration::from_secs(15),
                keep_raw_events: Some(Duration::from_secs(7 * 24 * 60 * 60)),
            },
            alarms: AlarmsConfig {
                enabled: false,
                poll_interval: Duration::from_secs(30),
                polling: true,
                regions: vec!["us-east-1".to_string()],
                correlation_window: Duration::from_secs(30 * 60),
                health_recheck: Duration::from_secs(5 * 60),
                routes: crate::domain::routing::Routes::default(),
            },
            escalation: EscalationConfig::default(),
            summary: SummaryConfig {
                every: Some(Duration::from_secs(60 * 60)),
                at: Vec::new(),
                timezone: chrono_tz::Tz::UTC,
                quiet_when_idle: true,
                weekly: None,
            },
            server: ServerConfig::default(),
            postmortem: PostmortemConfig::default(),
            diagnostics: DiagnosticsConfig::default(),
            drills: DrillsConfig::default(),
            incident: IncidentConfig::default(),
            events: None,
        }
    }
}

// The raw file shape. Every section and key is optional; validation fills defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    slack: RawSlack,
    #[serde(default)]
    aws: RawAws,
    #[serde(default)]
    database: RawDatabase,
    alarms: Option<RawAlarms>,
    #[serde(default)]
    escalation: RawEscalation,
    #[serde(default)]
    summary: RawSummary,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    postmortem: RawPostmortem,
    diagnostics: Option<RawDiagnostics>,
    #[serde(default)]
    drills: RawDrills,
    #[serde(default)]
    incident: RawIncident,
    events: Option<RawEvents>,
}

/// Most steps a checklist may have: each is a message block and a click target; more is a
/// document, better linked as a runbook.
pub const MAX_CHECKLIST_STEPS: usize = 100;
/// Longest step text, in characters (a Block Kit section holds 3000 after escaping).
pub const MAX_STEP_CHARS: usize = 500;

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })?;
        config.apply_env()?;
        Ok(config)
    }

    /// Settings the environment overrides: [`DATABASE_URL_VAR`] (the database URL with its
    /// password) wins over `[database] url`.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        self.apply_env_from(|var| std::env::var(var).ok())
    }

    /// [`Config::apply_env`] reading variables through `var`.
    pub fn apply_env_from(
        &mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(url) = var(DATABASE_URL_VAR).filter(|u| !u.trim().is_empty()) {
            check_database_url(DATABASE_URL_VAR, url.trim()).map_err(|e| match e {
                ConfigError::Invalid { problem, .. } => ConfigError::Secret {
                    var: DATABASE_URL_VAR,
                    problem,
                },
                other => other,
            })?;
            self.database.url = url.trim().to_string();
        }
        Ok(())
    }

    /// Parse and validate config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "<text>".to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let defaults = Config::default();

        let api_url = raw.slack.api_url.unwrap_or(defaults.slack.api_url);
        let parsed = url::Url::parse(&api_url)
            .map_err(|e| invalid("[slack] api_url", format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("[slack] api_url", "must be an http(s) URL"));
        }
        // The bot token travels with every call: only over TLS, except to this machine
        // (the emulator, a local proxy).
        if parsed.scheme() == "http" && !is_loopback(&parsed) {
            return Err(invalid(
                "[slack] api_url",
                "must be https:// (the bot token is sent with every call); plain http is only for a loopback address such as 127.0.0.1 or localhost",
            ));
        }
        if !api_url.ends_with('/') {
            return Err(invalid(
                "[slack] api_url",
                format!("must end with '/' (e.g. \"{api_url}/\")"),
            ));
        }
        let responders = parse_users("[slack] responders", &raw.slack.responders)?;
        if let Some(g) = &raw.slack.incident_leads {
            check_usergroup("[slack] incident_leads", g)?;
        }
        let managers = parse_users("[slack] managers", &raw.slack.managers)?;
        if let Some(ch) = &raw.slack.status_channel {
            if !is_channel_id(ch) {
                return Err(invalid(
                    "[slack] status_channel",
                    format!("\"{ch}\" is not a Slack channel id (like C024BE91L)"),
                ));
            }
        }
        let socket_connections = raw
            .slack
            .socket_connections
            .unwrap_or(defaults.slack.socket_connections);
        if !(1..=10).contains(&socket_connections) {
            return Err(invalid(
                "[slack] socket_connections",
                "must be between 1 and 10 (Slack's limit)",
            ));
        }

        let region = raw.aws.region.unwrap_or(defaults.aws.region);
        check_region("[aws] region", &region)?;
        if let Some(endpoint) = &raw.aws.endpoint_url {
            url::Url::parse(endpoint)
                .map_err(|e| invalid("[aws] endpoint_url", format!("not a URL ({e})")))?;
        }

        let db_url = raw.database.url.unwrap_or(defaults.database.url);
        check_database_url("[database] url", &db_url)?;
        if has_password(&db_url) {
            return Err(invalid(
                "[database] url",
                format!(
                    "carries a password; secrets stay out of the config file: set PGPASSWORD, \
                     or the whole URL in {DATABASE_URL_VAR}"
                ),
            ));
        }
        let failover_after = match raw.database.failover_after.as_deref() {
            None => defaults.database.failover_after,
            Some(text) => {
                let d = humantime::parse_duration(text).map_err(|e| {
                    invalid("[database] failover_after", format!("\"{text}\": {e}"))
                })?;
                if d < MIN_FAILOVER_AFTER || d > Duration::from_secs(600) {
                    return Err(invalid(
                        "[database] failover_after",
                        "must be between 2s and 10m",
                    ));
                }
                d
            }
        };

        let events = events_config(raw.events, &region)?;
        let postmortem = postmortem_config(raw.postmortem)?;
        let incident = incident_config(raw.incident, postmortem.template_dir.as_deref())?;
        let alarms = alarms_config(
            raw.alarms,
            &region,
            &defaults.alarms,
            events.is_some(),
            &incident.types,
        )?;
        let accounts = accounts_config(raw.aws.accounts, &alarms.regions)?;
        Ok(Config {
            slack: SlackConfig {
                api_url,
                responders,
                incident_leads: raw.slack.incident_leads,
                managers,
                status_channel: raw.slack.status_channel,
                proactive_rate_limits: raw
                    .slack
                    .proactive_rate_limits
                    .unwrap_or(defaults.slack.proactive_rate_limits),
                socket_connections,
            },
            aws: AwsConfig {
                region: region.clone(),
                endpoint_url: raw.aws.endpoint_url,
                accounts,
            },
            database: DatabaseConfig {
                url: db_url,
                failover_after,
                keep_raw_events: keep_raw_events(
                    raw.database.keep_raw_events,
                    defaults.database.keep_raw_events,
                )?,
            },
            alarms,
            escalation: escalation_config(raw.escalation, &defaults.escalation)?,
            summary: summary_config(raw.summary, &defaults.summary)?,
            server: ServerConfig {
                listen: raw
                    .server
                    .listen
                    .as_deref()
                    .map(listen_address)
                    .transpose()?,
            },
            postmortem,
            diagnostics: diagnostics_config(raw.diagnostics)?,
            drills: drills_config(raw.drills)?,
            incident,
            events,
        })
    }
}
