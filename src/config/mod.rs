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
use crate::domain::{ChannelId, Severity, UserId};

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

        let slack = slack_config(raw.slack, &defaults.slack)?;

        let region = raw.aws.region.unwrap_or(defaults.aws.region);
        check_region("[aws] region", &region)?;
        if let Some(endpoint) = &raw.aws.endpoint_url {
            url::Url::parse(endpoint)
                .map_err(|e| invalid("[aws] endpoint_url", format!("not a URL ({e})")))?;
        }

        let database = database_config(raw.database, &defaults.database)?;

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
            slack,
            aws: AwsConfig {
                region: region.clone(),
                endpoint_url: raw.aws.endpoint_url,
                accounts,
            },
            database,
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
