//! The operator contract: a TOML file (`--config` or `WARROOM_CONFIG`) plus secrets taken
//! only from the environment.
//!
//! Every key has a default except where a real deployment must choose; unknown keys are
//! rejected so a typo fails at start instead of silently doing nothing. Errors name the key
//! and the problem.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::UserId;

/// Environment variable holding the Socket Mode app-level token (`xapp-…`).
pub const APP_TOKEN_VAR: &str = "SLACK_APP_TOKEN";
/// Environment variable holding the bot token (`xoxb-…`).
pub const BOT_TOKEN_VAR: &str = "SLACK_BOT_TOKEN";

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
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Web API base, ending in `/`. GovSlack users set `https://slack-gov.com/api/`; the demo
    /// and tests point it at the emulator.
    pub api_url: String,
    /// Invited to every new incident channel.
    pub responders: Vec<UserId>,
    /// Receive periodic summaries by DM.
    pub managers: Vec<UserId>,
    /// Stakeholder updates and summaries go here.
    pub status_channel: Option<String>,
    /// Space Web API calls by Slack's published per-method tiers before Slack has to say 429.
    /// On by default; the emulator-backed demo and tests turn it off to run at full speed.
    pub proactive_rate_limits: bool,
    /// How many Socket Mode connections to keep open (Slack allows up to 10; two survive a
    /// refresh without a gap).
    pub socket_connections: u32,
}

#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    /// One endpoint for CloudWatch, Support and Health (VPC endpoints, moto in tests).
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/warroom.db`; the file is created (mode 0600) when missing.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct AlarmsConfig {
    pub poll_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct EscalationConfig {
    pub aws_support_after: Duration,
    pub renudge_every: Duration,
}

#[derive(Debug, Clone)]
pub struct SummaryConfig {
    pub every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            slack: SlackConfig {
                api_url: "https://slack.com/api/".to_string(),
                responders: Vec::new(),
                managers: Vec::new(),
                status_channel: None,
                proactive_rate_limits: true,
                socket_connections: 2,
            },
            aws: AwsConfig {
                region: "us-east-1".to_string(),
                endpoint_url: None,
            },
            database: DatabaseConfig {
                url: "sqlite://warroom.db".to_string(),
            },
            alarms: AlarmsConfig {
                poll_interval: Duration::from_secs(30),
            },
            escalation: EscalationConfig {
                aws_support_after: Duration::from_secs(30 * 60),
                renudge_every: Duration::from_secs(15 * 60),
            },
            summary: SummaryConfig {
                every: Duration::from_secs(60 * 60),
            },
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
    #[serde(default)]
    alarms: RawAlarms,
    #[serde(default)]
    escalation: RawEscalation,
    #[serde(default)]
    summary: RawSummary,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    api_url: Option<String>,
    #[serde(default)]
    responders: Vec<String>,
    #[serde(default)]
    managers: Vec<String>,
    status_channel: Option<String>,
    proactive_rate_limits: Option<bool>,
    socket_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<String>,
    endpoint_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlarms {
    poll_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    aws_support_after: Option<String>,
    renudge_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSummary {
    every: Option<String>,
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
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
        if !api_url.ends_with('/') {
            return Err(invalid(
                "[slack] api_url",
                format!("must end with '/' (e.g. \"{api_url}/\")"),
            ));
        }
        let responders = parse_users("[slack] responders", &raw.slack.responders)?;
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
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "[aws] region",
                format!("\"{region}\" is not an AWS region name (like us-east-1)"),
            ));
        }
        if let Some(endpoint) = &raw.aws.endpoint_url {
            url::Url::parse(endpoint)
                .map_err(|e| invalid("[aws] endpoint_url", format!("not a URL ({e})")))?;
        }

        let db_url = raw.database.url.unwrap_or(defaults.database.url);
        if !db_url.starts_with("sqlite:") {
            return Err(invalid(
                "[database] url",
                "only SQLite is supported: use sqlite://path/to/warroom.db",
            ));
        }

        Ok(Config {
            slack: SlackConfig {
                api_url,
                responders,
                managers,
                status_channel: raw.slack.status_channel,
                proactive_rate_limits: raw
                    .slack
                    .proactive_rate_limits
                    .unwrap_or(defaults.slack.proactive_rate_limits),
                socket_connections,
            },
            aws: AwsConfig {
                region,
                endpoint_url: raw.aws.endpoint_url,
            },
            database: DatabaseConfig { url: db_url },
            alarms: AlarmsConfig {
                poll_interval: duration(
                    "[alarms] poll_interval",
                    raw.alarms.poll_interval,
                    defaults.alarms.poll_interval,
                )?,
            },
            escalation: EscalationConfig {
                aws_support_after: duration(
                    "[escalation] aws_support_after",
                    raw.escalation.aws_support_after,
                    defaults.escalation.aws_support_after,
                )?,
                renudge_every: duration(
                    "[escalation] renudge_every",
                    raw.escalation.renudge_every,
                    defaults.escalation.renudge_every,
                )?,
            },
            summary: SummaryConfig {
                every: duration("[summary] every", raw.summary.every, defaults.summary.every)?,
            },
        })
    }
}

fn parse_users(key: &str, raw: &[String]) -> Result<Vec<UserId>, ConfigError> {
    raw.iter()
        .enumerate()
        .map(|(i, u)| {
            UserId::parse(u).map_err(|e| invalid(&format!("{key}[{i}]"), format!("\"{u}\": {e}")))
        })
        .collect()
}

fn is_channel_id(s: &str) -> bool {
    s.len() >= 2
        && s.len() <= 32
        && matches!(s.as_bytes()[0], b'C' | b'G')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn duration(key: &str, raw: Option<String>, default: Duration) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(default),
        Some(text) => {
            let d = humantime::parse_duration(&text).map_err(|e| {
                invalid(
                    key,
                    format!(
                        "\"{text}\" is not a duration ({e}); write e.g. \"30s\", \"15m\", \"2h\""
                    ),
                )
            })?;
            if d.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
            Ok(d)
        }
    }
}

/// The two Slack tokens. Debug never shows them; they are only ever read from the
/// environment, never from the config file or the database.
#[derive(Clone)]
pub struct Secrets {
    pub app_token: SecretString,
    pub bot_token: SecretString,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets { app_token: [redacted], bot_token: [redacted] }")
    }
}

impl Secrets {
    /// Read both tokens from the environment and check their shape (not their validity:
    /// that needs Slack, see `auth.test` at start).
    pub fn from_env() -> Result<Secrets, ConfigError> {
        let app = std::env::var(APP_TOKEN_VAR).map_err(|_| ConfigError::Secret {
            var: APP_TOKEN_VAR,
            problem: "not set; create an app-level token with connections:write (xapp-…)"
                .to_string(),
        })?;
        let bot = std::env::var(BOT_TOKEN_VAR).map_err(|_| ConfigError::Secret {
            var: BOT_TOKEN_VAR,
            problem: "not set; install the app and copy its Bot User OAuth Token (xoxb-…)"
                .to_string(),
        })?;
        Secrets::new(app, bot)
    }

    pub fn new(app_token: String, bot_token: String) -> Result<Secrets, ConfigError> {
        if !app_token.starts_with("xapp-") {
            return Err(ConfigError::Secret {
                var: APP_TOKEN_VAR,
                problem: "must be an app-level token starting with xapp-".to_string(),
            });
        }
        if !bot_token.starts_with("xoxb-") {
            return Err(ConfigError::Secret {
                var: BOT_TOKEN_VAR,
                problem: "must be a bot token starting with xoxb-".to_string(),
            });
        }
        Ok(Secrets {
            app_token: SecretString::from(app_token),
            bot_token: SecretString::from(bot_token),
        })
    }

    pub fn app_token(&self) -> &str {
        self.app_token.expose_secret()
    }

    pub fn bot_token(&self) -> &str {
        self.bot_token.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.slack.api_url, "https://slack.com/api/");
        assert_eq!(c.escalation.aws_support_after, Duration::from_secs(1800));
        assert_eq!(c.database.url, "sqlite://warroom.db");
    }

    #[test]
    fn full_contract_parses() {
        let c = Config::parse(
            r#"
            [slack]
            api_url = "https://slack-gov.com/api/"
            responders = ["U024BE7LH", "W012A3CDE"]
            managers = ["U0MANAGER"]
            status_channel = "C0STATUS"
            [aws]
            region = "eu-west-1"
            endpoint_url = "http://127.0.0.1:5000"
            [database]
            url = "sqlite:///var/lib/warroom/warroom.db"
            [alarms]
            poll_interval = "45s"
            [escalation]
            aws_support_after = "20m"
            renudge_every = "10m"
            [summary]
            every = "2h"
            "#,
        )
        .unwrap();
        assert_eq!(c.slack.responders.len(), 2);
        assert_eq!(c.slack.status_channel.as_deref(), Some("C0STATUS"));
        assert_eq!(c.aws.region, "eu-west-1");
        assert_eq!(c.alarms.poll_interval, Duration::from_secs(45));
        assert_eq!(c.summary.every, Duration::from_secs(7200));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "[escalation]\nrenudge_every = \"soon\"",
                "[escalation] renudge_every",
            ),
            ("[slack]\nresponders = [\"alice\"]", "[slack] responders[0]"),
            (
                "[slack]\napi_url = \"https://slack.com/api\"",
                "[slack] api_url",
            ),
            (
                "[slack]\nstatus_channel = \"#status\"",
                "[slack] status_channel",
            ),
            ("[database]\nurl = \"postgres://x\"", "[database] url"),
            ("[summary]\nevery = \"0s\"", "[summary] every"),
            ("[aws]\nregion = \"US East\"", "[aws] region"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::parse("[slack]\nresponder = [\"U1\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("responder"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secrets::new("xapp-1-secret".into(), "xoxb-secret".into()).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret"));
        assert!(Secrets::new("xoxb-wrong".into(), "xoxb-ok".into()).is_err());
    }
}
