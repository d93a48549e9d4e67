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

/// `[incident]`: how incidents are run.
#[derive(Debug, Clone)]
pub struct IncidentConfig {
    /// `[incident] roles`: the roles `/incident role` hands out besides the lead, in the
    /// order the header and the catch-up list them.
    pub roles: Vec<String>,
    /// `[incident] archive_after`: how long after its resolve an incident's channel is
    /// archived (announced a day before, with a Keep open button); `None` (`"off"`, the
    /// default) never archives.
    pub archive_after: Option<Duration>,
    /// `[incident] private_viewers`: besides a private incident's channel members, the
    /// people shown its details on surfaces outside its channel (managers' DMs, App Home,
    /// `/incident list`); everyone else sees only the redacted line (`domain::privacy`).
    pub private_viewers: Vec<UserId>,
    /// `[[incident.types]]`: kinds of incident (`/incident declare … type:<name>`, an alarm
    /// route's `type`), each with its severity, people, roles to fill and checklist.
    pub types: Vec<IncidentType>,
}

impl IncidentConfig {
    /// The type called `name`, if configured.
    pub fn incident_type(&self, name: &str) -> Option<&IncidentType> {
        self.types.iter().find(|t| t.name == name)
    }
}

/// The shortest `[incident] archive_after`.
pub const MIN_ARCHIVE_AFTER: Duration = Duration::from_secs(3600);

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            roles: crate::domain::roles::DEFAULT_ROLES
                .iter()
                .map(|r| r.to_string())
                .collect(),
            archive_after: None,
            private_viewers: Vec::new(),
            types: Vec::new(),
        }
    }
}

/// `[events]`: what AWS pushes (alarm state changes, Health events, Support case updates)
/// through an EventBridge rule into one SQS queue, long-polled by the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// `https://sqs.<region>.amazonaws.com/<account>/<queue>`.
    pub sqs_queue_url: String,
    /// The queue's region, from the URL's host (`[aws] region` for other hosts, such as a
    /// VPC endpoint or a local fake).
    pub region: String,
    /// How long one ReceiveMessage waits for a message (SQS long polling, at most 20 s).
    pub wait: Duration,
    /// Messages asked for per ReceiveMessage (1 to 10, SQS's limit).
    pub batch: u32,
    /// An account-specific AWS Health issue that no open incident watches opens one, on
    /// the `source = "health"` route (else the default).
    pub health_opens_incident: bool,
}

/// `[drills]`: rehearsal incidents (`/incident drill`, `warroom drill`).
#[derive(Debug, Clone, Default)]
pub struct DrillsConfig {
    /// `[drills] targets`: how soon each scorecard milestone should be reached
    /// (`first_response`, `lead`, `identified`, `aws_decision`, `resolve`).
    pub targets: crate::domain::drill::Targets,
}

#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Where to serve `/healthz`, `/readyz` and `/metrics` (plain HTTP); off when `None`.
    /// Port 0 picks a free port (tests).
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Web API base, ending in `/`. GovSlack users set `https://slack-gov.com/api/`; the demo
    /// and tests point it at the emulator.
    pub api_url: String,
    /// Invited to every new incident channel.
    pub responders: Vec<UserId>,
    /// A Slack user group (`S0…`) whose members may run any incident: change its status,
    /// severity and lead, resolve it, post updates and handle its AWS Support case.
    pub incident_leads: Option<String>,
    /// Receive periodic summaries by DM.
    pub managers: Vec<UserId>,
    /// Stakeholder updates and summaries go here.
    pub status_channel: Option<String>,
    /// Space Web API calls by Slack's published per-method tiers, and `chat.postMessage` at
    /// one per second per channel, before Slack has to say 429. On by default; the
    /// emulator-backed demo and tests turn it off to run at full speed.
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
    /// `[[aws.accounts]]`: other accounts whose alarms are polled through an assumed role.
    pub accounts: Vec<AccountConfig>,
}

/// `[[aws.accounts]]`: another AWS account warroom reads alarms in, by assuming a role there
/// (the read-only role of `deploy/aws/member-account.yaml`).
#[derive(Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// A short label for logs and `warroom doctor` (`[a-z0-9-]`, up to 32 characters).
    pub name: String,
    /// `arn:aws:iam::<12-digit account>:role/<name>`.
    pub role_arn: String,
    /// The 12-digit account id, from `role_arn`.
    pub account_id: String,
    /// AssumeRole's `ExternalId`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// Regions polled in this account; `[alarms] regions` when not given.
    pub regions: Vec<String>,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path/to/warroom.db` (one process; the file is created, mode 0600, when
    /// missing) or `postgres://user@host:5432/database` (several replicas). May carry a
    /// password only when it comes from [`DATABASE_URL_VAR`]: show it with
    /// [`DatabaseConfig::shown_url`], never as is.
    pub url: String,
    /// PostgreSQL: how long the leader's lease lasts unrenewed. When the leader dies or is
    /// cut off, another replica takes over within about this long.
    pub failover_after: Duration,
    /// How long the raw events Slack sent are kept after they were applied (`"7d"` by
    /// default); `None` (`"forever"`) keeps them. What they recorded stays on the timeline.
    pub keep_raw_events: Option<Duration>,
}

impl DatabaseConfig {
    /// The URL with any password hidden, for messages and logs.
    pub fn shown_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.shown_url())
            .field("failover_after", &self.failover_after)
            .field("keep_raw_events", &self.keep_raw_events)
            .finish()
    }
}

/// `postgres://user:***@host/db`: a database URL with its password (in the authority or a
/// `password=` parameter) hidden.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let hide =
                        k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword");
                    (
                        k.into_owned(),
                        if hide { "***".into() } else { v.into_owned() },
                    )
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        // Not a URL (a bare path): nothing in it is a password.
        Err(_) => url.to_string(),
    }
}

/// Whether a database URL carries a password.
fn has_password(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.password().is_some()
            || u.query_pairs()
                .any(|(k, _)| k.eq_ignore_ascii_case("password"))
    })
}

/// Check a database URL (`key` names where it came from).
fn check_database_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("sqlite:") {
        return Ok(());
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let parsed = url::Url::parse(url).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid(
                key,
                "names no host (postgres://user@host:5432/database)",
            ));
        }
        return Ok(());
    }
    Err(invalid(
        key,
        "use sqlite://path/to/warroom.db (one process) or postgres://user@host:5432/database \
         (several replicas)",
    ))
}

/// Shortest `[database] failover_after`: the lease is renewed three times per period, and
/// each renewal is a round trip to the server.
const MIN_FAILOVER_AFTER: Duration = Duration::from_secs(2);

/// Raw events are kept at least this long: Slack redelivers an event for up to about an
/// hour, and the inbox row is what recognises the redelivery.
pub const MIN_KEEP_RAW_EVENTS: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone)]
pub struct AlarmsConfig {
    /// Whether to poll CloudWatch at all: true when the file has an `[alarms]` section.
    pub enabled: bool,
    pub poll_interval: Duration,
    /// False with `poll_interval = "off"` (allowed only with `[events]`): alarms then come
    /// from the queue alone, and nothing reconciles a lost event.
    pub polling: bool,
    /// Regions polled (alarms are regional); `[aws] region` when not given.
    pub regions: Vec<String>,
    /// An alarm on the route of an open incident whose latest alarm fired less than this
    /// long before joins that incident instead of opening another.
    pub correlation_window: Duration,
    /// How often AWS Health is asked again while an alarm-opened incident is open.
    pub health_recheck: Duration,
    /// `[[alarms.route]]` in order, and `[alarms.default]`.
    pub routes: crate::domain::routing::Routes,
}

/// `[escalation]`: when warroom nudges towards AWS Support, and how it talks to it.
#[derive(Debug, Clone)]
pub struct EscalationConfig {
    /// Time from opening to the first "open an AWS Support case" nudge.
    pub aws_support_after: Duration,
    /// Per-severity overrides of `aws_support_after`.
    pub aws_support_after_by_severity: BTreeMap<Severity, Duration>,
    /// How often an unanswered nudge is repeated.
    pub renudge_every: Duration,
    /// Nudge the lead when no stakeholder update was posted for this long; `None` = off.
    pub update_every: Option<Duration>,
    /// Whether warroom calls the Support API. Off: nudges link to the Support Center instead.
    pub support_api: bool,
    /// `ccEmailAddresses` of every case (at most 10, AWS's limit).
    pub cc_email_addresses: Vec<String>,
    /// Members of this Slack user group may open and resolve cases, besides the lead and
    /// responders.
    pub support_usergroup: Option<String>,
    /// Prefilled `serviceCode` / `categoryCode` (AWS's codes from DescribeServices).
    pub service_code: Option<String>,
    pub category_code: Option<String>,
    /// How often open cases are asked for new correspondence.
    pub support_poll_interval: Duration,
    /// Incident severity → case severity (every severity present).
    pub case_severity: BTreeMap<Severity, SupportSeverity>,
    /// AWS's first-response target per case severity (every severity present).
    pub response_targets: BTreeMap<SupportSeverity, Duration>,
}

/// AWS's limit on a case's `ccEmailAddresses`.
pub const MAX_CC_EMAIL_ADDRESSES: usize = 10;

/// Shortest `renudge_every` and `support_poll_interval`: faster would spam the channel or
/// spend the Support API's rate limit for nothing.
const MIN_ESCALATION_PERIOD: Duration = Duration::from_secs(10);

impl EscalationConfig {
    /// When an incident of this severity gets its first AWS Support nudge, after opening.
    pub fn support_after(&self, sev: Severity) -> Duration {
        self.aws_support_after_by_severity
            .get(&sev)
            .copied()
            .unwrap_or(self.aws_support_after)
    }

    /// The case severity for an incident of this severity.
    pub fn case_severity_for(&self, sev: Severity) -> SupportSeverity {
        self.case_severity
            .get(&sev)
            .copied()
            .unwrap_or_else(|| default_case_severity(sev))
    }

    /// AWS's first-response target for a case of this severity.
    pub fn response_target(&self, s: SupportSeverity) -> Duration {
        self.response_targets
            .get(&s)
            .copied()
            .unwrap_or_else(|| default_response_target(s))
    }
}

/// Critical needs an Enterprise plan, so no incident severity maps to it unless configured.
fn default_case_severity(sev: Severity) -> SupportSeverity {
    match sev {
        Severity::Sev1 => SupportSeverity::Urgent,
        Severity::Sev2 => SupportSeverity::High,
        Severity::Sev3 => SupportSeverity::Normal,
        Severity::Sev4 => SupportSeverity::Low,
    }
}

/// AWS's published first-response targets (the best plan offering each severity).
fn default_response_target(s: SupportSeverity) -> Duration {
    let minutes = match s {
        SupportSeverity::Critical => 15,
        SupportSeverity::Urgent => 60,
        SupportSeverity::High => 4 * 60,
        SupportSeverity::Normal => 12 * 60,
        SupportSeverity::Low => 24 * 60,
    };
    Duration::from_secs(minutes * 60)
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig {
            aws_support_after: Duration::from_secs(30 * 60),
            aws_support_after_by_severity: BTreeMap::new(),
            renudge_every: Duration::from_secs(15 * 60),
            update_every: Some(Duration::from_secs(60 * 60)),
            support_api: true,
            cc_email_addresses: Vec::new(),
            support_usergroup: None,
            service_code: None,
            category_code: None,
            support_poll_interval: Duration::from_secs(60),
            case_severity: Severity::ALL
                .into_iter()
                .map(|sev| (sev, default_case_severity(sev)))
                .collect(),
            response_targets: SupportSeverity::ALL
                .into_iter()
                .map(|s| (s, default_response_target(s)))
                .collect(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SummaryConfig {
    /// Send a summary this long after the previous one. `None` when only `at` is configured.
    pub every: Option<Duration>,
    /// Fixed local times of day (`["09:00", "17:00"]`) in `timezone`.
    pub at: Vec<chrono::NaiveTime>,
    /// IANA zone for `at` (`Europe/Berlin`); UTC by default.
    pub timezone: chrono_tz::Tz,
    /// When nothing is open and nothing was resolved, say so once, then stay quiet until
    /// something changes.
    pub quiet_when_idle: bool,
    /// `weekly = "mon 09:00"` (local to `timezone`): the short report of the past 7 days to
    /// the status channel and the managers. Off when `None`.
    pub weekly: Option<crate::domain::schedule::Weekly>,
}

impl SummaryConfig {
    /// The schedule these settings describe.
    pub fn schedule(&self) -> crate::domain::schedule::Schedule {
        crate::domain::schedule::Schedule {
            every: self.every.and_then(|d| chrono::Duration::from_std(d).ok()),
            at: self.at.clone(),
            tz: self.timezone,
        }
    }
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncident {
    roles: Option<Vec<String>>,
    archive_after: Option<String>,
    #[serde(default)]
    private_viewers: Vec<String>,
    #[serde(default)]
    types: Vec<RawIncidentType>,
}

/// `[[incident.types]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncidentType {
    name: Option<String>,
    severity: Option<String>,
    private: Option<bool>,
    #[serde(default)]
    responders: Vec<String>,
    usergroup: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    checklist: Vec<RawStep>,
    postmortem_template: Option<String>,
}

/// One `checklist` entry: `{ text = "…", runbook = "https://…" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    text: Option<String>,
    runbook: Option<String>,
}

/// Most steps a checklist may have: each is a message block and a click target; more is a
/// document, better linked as a runbook.
pub const MAX_CHECKLIST_STEPS: usize = 100;
/// Longest step text, in characters (a Block Kit section holds 3000 after escaping).
pub const MAX_STEP_CHARS: usize = 500;

/// `[[incident.types]]`, checked against the roles and the postmortem template directory.
fn incident_types(
    raw: Vec<RawIncidentType>,
    roles: &[String],
    template_dir: Option<&Path>,
) -> Result<Vec<IncidentType>, ConfigError> {
    let mut types: Vec<IncidentType> = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let key = format!("[[incident.types]] #{}", i + 1);
        let name = match t.name.as_deref().map(str::trim) {
            None | Some("") => return Err(invalid(&format!("{key} name"), "is missing")),
            Some(n) => n.to_string(),
        };
        let max = crate::domain::command::MAX_TYPE_CHARS;
        let name_ok = name.chars().count() <= max
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(invalid(
                &format!("{key} name"),
                format!("{name:?} is not a type name: use 1 to {max} lowercase letters, digits and dashes"),
            ));
        }
        let key = format!("[[incident.types]] \"{name}\"");
        if types.iter().any(|x| x.name == name) {
            return Err(invalid(&format!("{key} name"), "is used twice"));
        }
        let severity = match t.severity {
            None => crate::domain::Severity::DEFAULT,
            Some(s) => s
                .parse()
                .map_err(|e: String| invalid(&format!("{key} severity"), e))?,
        };
        let responders = parse_users(&format!("{key} responders"), &t.responders)?;
        if let Some(g) = &t.usergroup {
            check_usergroup(&format!("{key} usergroup"), g)?;
        }
        for (j, role) in t.roles.iter().enumerate() {
            if !roles.iter().any(|r| r == role) {
                return Err(invalid(
                    &format!("{key} roles[{j}]"),
                    format!(
                        "{role:?} is not one of [incident] roles ({})",
                        roles.join(", ")
                    ),
                ));
            }
        }
        if t.checklist.len() > MAX_CHECKLIST_STEPS {
            return Err(invalid(
                &format!("{key} checklist"),
                format!(
                    "has {} steps, at most {MAX_CHECKLIST_STEPS}",
                    t.checklist.len()
                ),
            ));
        }
        let mut checklist = Vec::new();
        for (j, step) in t.checklist.into_iter().enumerate() {
            let step_key = format!("{key} checklist[{j}]");
            let text = step
                .text
                .as_deref()
                .map(str::trim)
                .unwrap_or("")
                .to_string();
            if text.is_empty() {
                return Err(invalid(&format!("{step_key} text"), "is missing or empty"));
            }
            if text.chars().count() > MAX_STEP_CHARS {
                return Err(invalid(
                    &format!("{step_key} text"),
                    format!("is longer than {MAX_STEP_CHARS} characters: link a runbook instead"),
                ));
            }
            if let Some(url) = &step.runbook {
                check_link(&format!("{step_key} runbook"), url)?;
            }
            checklist.push(Step {
                text,
                runbook: step.runbook,
            });
        }
        if let Some(file) = &t.postmortem_template {
            check_type_template(&format!("{key} postmortem_template"), file, template_dir)?;
        }
        types.push(IncidentType {
            name,
            severity,
            private: t.private.unwrap_or(false),
            responders,
            usergroup: t.usergroup,
            roles: t.roles,
            checklist,
            postmortem_template: t.postmortem_template,
        });
    }
    Ok(types)
}

/// A type's `postmortem_template`: a Markdown template (`*.md.tera`) shipped with warroom or
/// in `[postmortem] template_dir`.
fn check_type_template(key: &str, file: &str, dir: Option<&Path>) -> Result<(), ConfigError> {
    let plain = !file.is_empty()
        && file.ends_with(".md.tera")
        && !file.contains(['/', '\\'])
        && !file.starts_with('.');
    if !plain {
        return Err(invalid(
            key,
            format!("{file:?} must be a Markdown template's file name (like security.md.tera), without a directory"),
        ));
    }
    let shipped = crate::postmortem::templates::SHIPPED
        .iter()
        .any(|(name, _)| *name == file);
    let in_dir = dir.is_some_and(|d| d.join(file).is_file());
    if shipped || in_dir {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "{file:?} is neither shipped with warroom nor in [postmortem] template_dir{}",
                dir.map(|d| format!(" ({})", d.display()))
                    .unwrap_or_default()
            ),
        ))
    }
}

/// A link shown in Slack as `<url|…>`: http(s) only, nothing that could break out of it.
fn check_link(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed =
        url::Url::parse(url).map_err(|e| invalid(key, format!("\"{url}\" is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || url.contains(['<', '>', '|', ' ']) {
        return Err(invalid(
            key,
            format!("\"{url}\" must be an http(s) URL without spaces, <, > or |"),
        ));
    }
    if url.len() > 1000 {
        return Err(invalid(key, "is longer than 1000 characters"));
    }
    Ok(())
}

/// `[incident] archive_after`: `"off"` (the default) or a duration of at least an hour.
fn archive_after(raw: Option<String>) -> Result<Option<Duration>, ConfigError> {
    const KEY: &str = "[incident] archive_after";
    match raw.as_deref().map(str::trim) {
        None => Ok(None),
        Some(off) if off.eq_ignore_ascii_case("off") => Ok(None),
        Some(_) => {
            let after = duration(KEY, raw, Duration::ZERO)?;
            at_least(KEY, after, MIN_ARCHIVE_AFTER)?;
            Ok(Some(after))
        }
    }
}

/// `[incident] roles`: lowercase names of letters, digits and dashes, no duplicates, not
/// `lead` (the lead has its own command).
fn incident_config(
    raw: RawIncident,
    template_dir: Option<&Path>,
) -> Result<IncidentConfig, ConfigError> {
    let archive_after = archive_after(raw.archive_after)?;
    let private_viewers = parse_users("[incident] private_viewers", &raw.private_viewers)?;
    let Some(roles) = raw.roles else {
        let roles = IncidentConfig::default().roles;
        return Ok(IncidentConfig {
            archive_after,
            private_viewers,
            types: incident_types(raw.types, &roles, template_dir)?,
            roles,
        });
    };
    let key = "[incident] roles";
    let mut seen = std::collections::HashSet::new();
    for role in &roles {
        let ok = !role.is_empty()
            && role.chars().count() <= crate::domain::command::MAX_ROLE_CHARS
            && role
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(invalid(
                key,
                format!(
                    "{role:?} is not a role name: use 1 to {} lowercase letters, digits and dashes",
                    crate::domain::command::MAX_ROLE_CHARS
                ),
            ));
        }
        if role == "lead" {
            return Err(invalid(
                key,
                "\"lead\" is not needed: the lead is always there (/incident lead)",
            ));
        }
        if !seen.insert(role.as_str()) {
            return Err(invalid(key, format!("{role:?} is listed twice")));
        }
    }
    Ok(IncidentConfig {
        types: incident_types(raw.types, &roles, template_dir)?,
        roles,
        archive_after,
        private_viewers,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    sqs_queue_url: Option<String>,
    wait: Option<String>,
    batch: Option<u32>,
    health_opens_incident: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrills {
    #[serde(default)]
    targets: RawDrillTargets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrillTargets {
    first_response: Option<String>,
    lead: Option<String>,
    identified: Option<String>,
    aws_decision: Option<String>,
    resolve: Option<String>,
}

/// `[drills] targets`: each a duration, defaulting to [`Targets::default`].
///
/// [`Targets::default`]: crate::domain::drill::Targets
fn drills_config(raw: RawDrills) -> Result<DrillsConfig, ConfigError> {
    let d = crate::domain::drill::Targets::default();
    let one = |key: &str, raw: Option<String>, default: chrono::Duration| {
        let std_default = default.to_std().unwrap_or(Duration::from_secs(60));
        let got = duration(&format!("[drills] targets.{key}"), raw, std_default)?;
        chrono::Duration::from_std(got)
            .map_err(|_| invalid(&format!("[drills] targets.{key}"), "is too long"))
    };
    let t = raw.targets;
    Ok(DrillsConfig {
        targets: crate::domain::drill::Targets {
            first_response: one("first_response", t.first_response, d.first_response)?,
            lead: one("lead", t.lead, d.lead)?,
            identified: one("identified", t.identified, d.identified)?,
            aws_decision: one("aws_decision", t.aws_decision, d.aws_decision)?,
            resolve: one("resolve", t.resolve, d.resolve)?,
        },
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    api_url: Option<String>,
    #[serde(default)]
    responders: Vec<String>,
    incident_leads: Option<String>,
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
    #[serde(default)]
    accounts: Vec<RawAccount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    regions: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
    failover_after: Option<String>,
    keep_raw_events: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlarms {
    poll_interval: Option<String>,
    regions: Option<Vec<String>>,
    correlation_window: Option<String>,
    health_recheck: Option<String>,
    default: Option<RawRoute>,
    #[serde(default)]
    route: Vec<RawRoute>,
}

/// `[[alarms.route]]` (and `[alarms.default]`, which has no match keys and no name).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<String>,
    alarm_name: Option<String>,
    namespace: Option<String>,
    tags: Option<std::collections::BTreeMap<String, String>>,
    severity: Option<String>,
    #[serde(default)]
    responders: Vec<String>,
    usergroup: Option<String>,
    runbook: Option<String>,
    opens_incident: Option<bool>,
    /// `"alarm"` (the default) or `"health"`.
    source: Option<String>,
    /// One of the `[[incident.types]]`.
    #[serde(rename = "type")]
    incident_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    aws_support_after: Option<String>,
    #[serde(default)]
    aws_support_after_by_severity: BTreeMap<String, String>,
    renudge_every: Option<String>,
    update_every: Option<String>,
    support_api: Option<bool>,
    #[serde(default)]
    cc_email_addresses: Vec<String>,
    support_usergroup: Option<String>,
    service_code: Option<String>,
    category_code: Option<String>,
    support_poll_interval: Option<String>,
    #[serde(default)]
    case_severity: BTreeMap<String, String>,
    #[serde(default)]
    response_targets: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSummary {
    every: Option<String>,
    #[serde(default)]
    at: Vec<String>,
    timezone: Option<String>,
    quiet_when_idle: Option<bool>,
    weekly: Option<String>,
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

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("name", &self.name)
            .field("role_arn", &self.role_arn)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "[redacted]"),
            )
            .field("regions", &self.regions)
            .finish()
    }
}

/// `[[aws.accounts]]`: unique names and accounts, role ARNs of the IAM role shape, regions
/// well formed (`[alarms] regions` when not given).
fn accounts_config(
    raw: Vec<RawAccount>,
    alarm_regions: &[String],
) -> Result<Vec<AccountConfig>, ConfigError> {
    let key = "[[aws.accounts]]";
    let mut out: Vec<AccountConfig> = Vec::new();
    for a in raw {
        let Some(name) = a.name else {
            return Err(invalid(key, "an account has no name"));
        };
        let name_ok = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(invalid(
                key,
                format!("name \"{name}\" must be 1 to 32 of a-z, 0-9 and -"),
            ));
        }
        let Some(role_arn) = a.role_arn else {
            return Err(invalid(key, format!("account \"{name}\" has no role_arn")));
        };
        let Some(account_id) = role_account(&role_arn) else {
            return Err(invalid(
                key,
                format!(
                    "account \"{name}\": role_arn must look like \
                     arn:aws:iam::<12-digit account>:role/<name>"
                ),
            ));
        };
        if let Some(id) = &a.external_id {
            let ok = (2..=1224).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b));
            if !ok {
                return Err(invalid(
                    key,
                    format!("account \"{name}\": external_id must be 2 to 1224 of A-Z a-z 0-9 +=,.@:/-_"),
                ));
            }
        }
        let regions = match a.regions {
            None => alarm_regions.to_vec(),
            Some(list) if list.is_empty() => {
                return Err(invalid(
                    key,
                    format!("account \"{name}\": regions is empty"),
                ))
            }
            Some(mut list) => {
                for r in &list {
                    check_region(key, r)?;
                }
                list.sort();
                list.dedup();
                list
            }
        };
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(key, format!("two accounts are named \"{name}\"")));
        }
        if out.iter().any(|o| o.account_id == account_id) {
            return Err(invalid(
                key,
                format!("account {account_id} is listed twice"),
            ));
        }
        out.push(AccountConfig {
            account_id: account_id.to_string(),
            name,
            role_arn,
            external_id: a.external_id,
            regions,
        });
    }
    Ok(out)
}

/// The account id of an IAM role ARN (`arn:<partition>:iam::<12 digits>:role/<path/name>`).
fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let ok = partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        });
    ok.then_some(account)
}

/// `[events]`: the queue URL checked for shape (`https://sqs.<region>.amazonaws.com/
/// <12-digit account>/<queue>`; another host, such as a VPC endpoint or a local fake, keeps
/// the account/queue path and takes `[aws] region`), `wait` at most 20 s, `batch` 1 to 10.
fn events_config(
    raw: Option<RawEvents>,
    aws_region: &str,
) -> Result<Option<EventsConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let key = "[events] sqs_queue_url";
    let Some(text) = raw.sqs_queue_url else {
        return Err(invalid(
            key,
            "is missing (the SQS queue the EventBridge rule targets)",
        ));
    };
    let url = url::Url::parse(&text).map_err(|e| invalid(key, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(key, "must be an https:// URL"));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(invalid(key, "must be https:// (http only on this machine)"));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            "must be the queue URL alone, without a query or credentials",
        ));
    }
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    let shape_ok = matches!(segments.as_slice(),
        [account, queue] if account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !queue.is_empty()
            && queue.len() <= 80
            && queue.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    if !shape_ok {
        return Err(invalid(
            key,
            "must look like https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>",
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let region = match host
        .strip_prefix("sqs.")
        .and_then(|h| h.split_once('.'))
        .filter(|(_, rest)| rest.starts_with("amazonaws."))
    {
        Some((region, _)) => {
            check_region(key, region)?;
            region.to_string()
        }
        None => aws_region.to_string(),
    };
    let wait = duration("[events] wait", raw.wait, Duration::from_secs(20))?;
    if wait > Duration::from_secs(20) || wait.subsec_nanos() != 0 {
        return Err(invalid(
            "[events] wait",
            "must be whole seconds, at most 20s (SQS's longest long poll)",
        ));
    }
    let batch = raw.batch.unwrap_or(10);
    if !(1..=10).contains(&batch) {
        return Err(invalid(
            "[events] batch",
            "must be between 1 and 10 (SQS's limit)",
        ));
    }
    Ok(Some(EventsConfig {
        sqs_queue_url: text,
        region,
        wait,
        batch,
        health_opens_incident: raw.health_opens_incident.unwrap_or(false),
    }))
}

/// Whether `url` points at this machine: `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_region(key: &str, region: &str) -> Result<(), ConfigError> {
    let well_formed = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if well_formed {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("\"{region}\" is not an AWS region name (like us-east-1)"),
        ))
    }
}

/// `[alarms]`: present means "poll CloudWatch". Routes are checked here so a typo in a
/// rule fails at start, with the rule named.
fn alarms_config(
    raw: Option<RawAlarms>,
    aws_region: &str,
    defaults: &AlarmsConfig,
    events: bool,
    types: &[IncidentType],
) -> Result<AlarmsConfig, ConfigError> {
    use crate::domain::routing::{Route, Routes};
    let enabled = raw.is_some();
    let mut raw = raw.unwrap_or_default();
    let polling = match raw.poll_interval.as_deref() {
        Some(off) if off.trim().eq_ignore_ascii_case("off") => {
            if !events {
                return Err(invalid(
                    "[alarms] poll_interval",
                    "can be \"off\" only with [events] sqs_queue_url (alarms would never be seen)",
                ));
            }
            raw.poll_interval = None;
            false
        }
        _ => true,
    };
    let regions = match raw.regions {
        None => vec![aws_region.to_string()],
        Some(list) if list.is_empty() => {
            return Err(invalid(
                "[alarms] regions",
                "is empty; list at least one region or remove the key to use [aws] region",
            ))
        }
        Some(mut list) => {
            for (i, r) in list.iter().enumerate() {
                check_region(&format!("[alarms] regions[{i}]"), r)?;
            }
            let mut seen = std::collections::HashSet::new();
            list.retain(|r| seen.insert(r.clone()));
            list
        }
    };
    let default = match raw.default {
        None => Route::default_route(),
        Some(d) => {
            if d.name.is_some()
                || d.alarm_name.is_some()
                || d.namespace.is_some()
                || d.tags.is_some()
            {
                return Err(invalid(
                    "[alarms.default]",
                    "takes no name, alarm_name, namespace or tags: it applies when no route matches",
                ));
            }
            route_target("[alarms.default]", "default".to_string(), d, types)?
        }
    };
    let mut routes = Vec::new();
    for (i, r) in raw.route.into_iter().enumerate() {
        let key = format!("[[alarms.route]] #{}", i + 1);
        let name = match r.name.as_deref().map(str::trim) {
            None | Some("") => return Err(invalid(&format!("{key} name"), "is missing")),
            Some(n) => n.to_string(),
        };
        let key = format!("[[alarms.route]] \"{name}\"");
        if name == "default" || routes.iter().any(|x: &Route| x.name == name) {
            return Err(invalid(
                &format!("{key} name"),
                "is used twice (\"default\" is taken)",
            ));
        }
        routes.push(route_target(&key, name, r, types)?);
    }
    Ok(AlarmsConfig {
        enabled,
        polling,
        poll_interval: duration(
            "[alarms] poll_interval",
            raw.poll_interval,
            defaults.poll_interval,
        )?,
        regions,
        correlation_window: duration(
            "[alarms] correlation_window",
            raw.correlation_window,
            defaults.correlation_window,
        )?,
        health_recheck: duration(
            "[alarms] health_recheck",
            raw.health_recheck,
            defaults.health_recheck,
        )?,
        routes: Routes { routes, default },
    })
}

fn route_target(
    key: &str,
    name: String,
    raw: RawRoute,
    types: &[IncidentType],
) -> Result<crate::domain::routing::Route, ConfigError> {
    use crate::domain::routing::{Glob, Matcher, Route};
    let matcher = Matcher {
        alarm_name: raw.alarm_name.as_deref().map(Glob::new),
        namespace: raw.namespace.as_deref().map(Glob::new),
        tags: raw
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Glob::new(&v)))
            .collect(),
    };
    let for_health = match raw.source.as_deref() {
        None | Some("alarm") => false,
        Some("health") => true,
        Some(other) => {
            return Err(invalid(
                &format!("{key} source"),
                format!("\"{other}\" is neither \"alarm\" nor \"health\""),
            ))
        }
    };
    if for_health && (name == "default" || !matcher.is_empty()) {
        return Err(invalid(
            &format!("{key} source"),
            "a \"health\" route takes every Health-opened incident: give it no alarm_name, namespace or tags (and not on [alarms.default])",
        ));
    }
    if name != "default" && !for_health && matcher.is_empty() {
        return Err(invalid(
            key,
            "matches nothing: give alarm_name, namespace or tags (use [alarms.default] for the rest)",
        ));
    }
    let incident_type = match &raw.incident_type {
        None => None,
        Some(t) => Some(types.iter().find(|x| &x.name == t).ok_or_else(|| {
            let known: Vec<&str> = types.iter().map(|x| x.name.as_str()).collect();
            invalid(
                &format!("{key} type"),
                if known.is_empty() {
                    format!("\"{t}\" is not configured: there are no [[incident.types]]")
                } else {
                    format!(
                        "\"{t}\" is not one of [[incident.types]] ({})",
                        known.join(", ")
                    )
                },
            )
        })?),
    };
    // The route's own severity, else its type's, else SEV3.
    let severity = match raw.severity {
        None => incident_type.map_or(crate::domain::Severity::DEFAULT, |t| t.severity),
        Some(s) => s
            .parse()
            .map_err(|e: String| invalid(&format!("{key} severity"), e))?,
    };
    let responders = parse_users(&format!("{key} responders"), &raw.responders)?;
    if let Some(g) = &raw.usergroup {
        check_usergroup(&format!("{key} usergroup"), g)?;
    }
    if let Some(url) = &raw.runbook {
        let parsed = url::Url::parse(url).map_err(|e| {
            invalid(
                &format!("{key} runbook"),
                format!("\"{url}\" is not a URL ({e})"),
            )
        })?;
        // Shown as a Slack link: only http(s), and nothing that could break out of `<…|…>`.
        if !matches!(parsed.scheme(), "http" | "https") || url.contains(['<', '>', '|', ' ']) {
            return Err(invalid(
                &format!("{key} runbook"),
                format!("\"{url}\" must be an http(s) URL without spaces, <, > or |"),
            ));
        }
    }
    Ok(Route {
        name,
        matcher,
        severity,
        responders,
        usergroup: raw.usergroup,
        runbook: raw.runbook,
        opens_incident: raw.opens_incident.unwrap_or(true),
        for_health,
        incident_type: raw.incident_type,
    })
}

/// A Slack user group id (`S0614TZR7`): warroom puts it in `<!subteam^…>` mentions and
/// `usergroups.users.list` calls, so nothing else may pass.
fn check_usergroup(key: &str, group: &str) -> Result<(), ConfigError> {
    let ok = group.len() >= 2
        && group.len() <= 32
        && group.starts_with('S')
        && group
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("\"{group}\" is not a Slack user group id (like S0614TZR7)"),
        ))
    }
}

/// `[escalation]`, checked key by key; the severity tables override the defaults entry by
/// entry, so `case_severity` and `response_targets` always cover every severity.
fn escalation_config(
    raw: RawEscalation,
    defaults: &EscalationConfig,
) -> Result<EscalationConfig, ConfigError> {
    let renudge_every = duration(
        "[escalation] renudge_every",
        raw.renudge_every,
        defaults.renudge_every,
    )?;
    at_least(
        "[escalation] renudge_every",
        renudge_every,
        MIN_ESCALATION_PERIOD,
    )?;
    let support_poll_interval = duration(
        "[escalation] support_poll_interval",
        raw.support_poll_interval,
        defaults.support_poll_interval,
    )?;
    at_least(
        "[escalation] support_poll_interval",
        support_poll_interval,
        MIN_ESCALATION_PERIOD,
    )?;
    let update_every = match raw.update_every {
        None => defaults.update_every,
        Some(text) if text.trim().eq_ignore_ascii_case("off") => None,
        Some(text) => Some(
            duration("[escalation] update_every", Some(text), Duration::ZERO).map_err(
                |e| match e {
                    ConfigError::Invalid { key, problem } => ConfigError::Invalid {
                        key,
                        problem: format!("{problem}, or \"off\" to turn the nudge off"),
                    },
                    other => other,
                },
            )?,
        ),
    };

    let mut aws_support_after_by_severity = BTreeMap::new();
    for (sev, text) in raw.aws_support_after_by_severity {
        let key = format!("[escalation.aws_support_after_by_severity] {sev}");
        let severity = severity_key(&key, &sev, |s| {
            aws_support_after_by_severity.contains_key(&s)
        })?;
        let d = duration(&key, Some(text), Duration::ZERO)?;
        aws_support_after_by_severity.insert(severity, d);
    }

    let mut case_severity = defaults.case_severity.clone();
    let mut seen = BTreeSet::new();
    for (sev, level) in raw.case_severity {
        let key = format!("[escalation.case_severity] {sev}");
        let severity = severity_key(&key, &sev, |s| seen.contains(&s))?;
        let level = level
            .parse::<SupportSeverity>()
            .map_err(|e| invalid(&key, e))?;
        seen.insert(severity);
        case_severity.insert(severity, level);
    }

    let mut response_targets = defaults.response_targets.clone();
    let mut seen = BTreeSet::new();
    for (level, text) in raw.response_targets {
        let key = format!("[escalation.response_targets] {level}");
        let support = level
            .parse::<SupportSeverity>()
            .map_err(|e| invalid(&key, e))?;
        if !seen.insert(support) {
            return Err(invalid(&key, format!("sets {support} a second time")));
        }
        response_targets.insert(support, duration(&key, Some(text), Duration::ZERO)?);
    }

    if raw.cc_email_addresses.len() > MAX_CC_EMAIL_ADDRESSES {
        return Err(invalid(
            "[escalation] cc_email_addresses",
            format!(
                "has {} addresses; AWS accepts at most {MAX_CC_EMAIL_ADDRESSES} per case",
                raw.cc_email_addresses.len()
            ),
        ));
    }
    for (i, address) in raw.cc_email_addresses.iter().enumerate() {
        if !is_plausible_email(address) {
            return Err(invalid(
                &format!("[escalation] cc_email_addresses[{i}]"),
                format!("\"{address}\" is not an e-mail address (like oncall@example.com)"),
            ));
        }
    }
    if let Some(g) = &raw.support_usergroup {
        check_usergroup("[escalation] support_usergroup", g)?;
    }
    for (key, code) in [
        ("[escalation] service_code", &raw.service_code),
        ("[escalation] category_code", &raw.category_code),
    ] {
        if let Some(code) = code {
            check_support_code(key, code)?;
        }
    }

    Ok(EscalationConfig {
        aws_support_after: duration(
            "[escalation] aws_support_after",
            raw.aws_support_after,
            defaults.aws_support_after,
        )?,
        aws_support_after_by_severity,
        renudge_every,
        update_every,
        support_api: raw.support_api.unwrap_or(defaults.support_api),
        cc_email_addresses: raw.cc_email_addresses,
        support_usergroup: raw.support_usergroup,
        service_code: raw.service_code,
        category_code: raw.category_code,
        support_poll_interval,
        case_severity,
        response_targets,
    })
}

/// A severity used as a table key; `sev1` and `1` are the same severity, so giving both is
/// an error rather than a silent choice.
fn severity_key(
    key: &str,
    text: &str,
    seen: impl Fn(Severity) -> bool,
) -> Result<Severity, ConfigError> {
    let severity = text.parse::<Severity>().map_err(|e| invalid(key, e))?;
    if seen(severity) {
        return Err(invalid(
            key,
            format!("sets {} a second time", severity.to_string().to_lowercase()),
        ));
    }
    Ok(severity)
}

/// `[database] keep_raw_events`: a duration of at least an hour, or `"forever"`.
fn keep_raw_events(
    raw: Option<String>,
    default: Option<Duration>,
) -> Result<Option<Duration>, ConfigError> {
    const KEY: &str = "[database] keep_raw_events";
    match raw.as_deref().map(str::trim) {
        None => Ok(default),
        Some("forever") => Ok(None),
        Some(_) => {
            let keep = duration(KEY, raw, Duration::ZERO)?;
            at_least(KEY, keep, MIN_KEEP_RAW_EVENTS)?;
            Ok(Some(keep))
        }
    }
}

fn at_least(key: &str, value: Duration, min: Duration) -> Result<(), ConfigError> {
    if value < min {
        Err(invalid(
            key,
            format!("must be at least {}", humantime::format_duration(min)),
        ))
    } else {
        Ok(())
    }
}

/// Plausible, not verified: one `@` with something on both sides, and nothing that would
/// split or wrap the address in a list (`,`, `<`, `>`, whitespace).
fn is_plausible_email(address: &str) -> bool {
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.contains(|c: char| c.is_whitespace() || matches!(c, ',' | '<' | '>'))
        }
        None => false,
    }
}

/// AWS's service and category codes are short ASCII words with hyphens
/// (`amazon-elastic-compute-cloud-linux`, `other`); an empty one would ask AWS for nothing.
fn check_support_code(key: &str, code: &str) -> Result<(), ConfigError> {
    let ok = !code.is_empty()
        && code.len() <= 100
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!(
                "\"{code}\" is not an AWS Support code (like \"amazon-elastic-compute-cloud-linux\" or \"other\"; see aws support describe-services); remove the key to let AWS choose"
            ),
        ))
    }
}

/// `[diagnostics]`: "What changed before the alarm" (CloudTrail, the alarm's history, the
/// alarms beside it), posted when an alarm opens a war room and on `/incident changes`.
#[derive(Debug, Clone)]
pub struct DiagnosticsConfig {
    /// Post the look-up when an alarm opens a war room (`/incident changes` works either way).
    pub enabled: bool,
    /// How far before the alarm (or the declaration) to look.
    pub lookback: chrono::Duration,
    /// Event names left out besides the built-in routine ones (AssumeRole, CreateLogStream, …).
    pub ignore_events: Vec<String>,
    /// The section is in the file: AWS clients are built for `/incident changes` even without
    /// `[alarms]` or the Support API.
    pub configured: bool,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig {
            enabled: true,
            lookback: crate::domain::changes::DEFAULT_LOOKBACK,
            ignore_events: Vec::new(),
            configured: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiagnostics {
    enabled: Option<bool>,
    lookback: Option<String>,
    #[serde(default)]
    ignore_events: Vec<String>,
}

fn diagnostics_config(raw: Option<RawDiagnostics>) -> Result<DiagnosticsConfig, ConfigError> {
    use crate::domain::changes::{MAX_LOOKBACK, MIN_LOOKBACK};
    let defaults = DiagnosticsConfig::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let lookback = match raw.lookback {
        None => defaults.lookback,
        Some(text) => {
            let d = humantime::parse_duration(&text)
                .ok()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .ok_or_else(|| {
                    invalid(
                        "[diagnostics] lookback",
                        format!("\"{text}\" is not a duration; write e.g. \"2h\" or \"90m\""),
                    )
                })?;
            if d < MIN_LOOKBACK || d > MAX_LOOKBACK {
                return Err(invalid(
                    "[diagnostics] lookback",
                    format!("\"{text}\" is out of range: use 5m to 7d"),
                ));
            }
            d
        }
    };
    for (i, name) in raw.ignore_events.iter().enumerate() {
        let plausible = !name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plausible {
            return Err(invalid(
                &format!("[diagnostics] ignore_events[{i}]"),
                format!("\"{name}\" is not a CloudTrail event name (like CreateTags)"),
            ));
        }
    }
    Ok(DiagnosticsConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        lookback,
        ignore_events: raw.ignore_events,
        configured: true,
    })
}

/// `[postmortem]`: where custom templates live and how the draft is cut.
#[derive(Debug, Clone)]
pub struct PostmortemConfig {
    /// `*.tera` files here replace the shipped templates of the same name (relative paths
    /// are relative to the working directory). Checked at start and by `check-config`.
    pub template_dir: Option<std::path::PathBuf>,
    /// Quiet spells longer than this many minutes are called out in the draft.
    pub gap_minutes: u32,
    /// The message log appendix stops before it passes this many bytes of Markdown, so the
    /// uploaded file stays small; key events are never cut.
    pub appendix_max_bytes: usize,
}

impl Default for PostmortemConfig {
    fn default() -> Self {
        PostmortemConfig {
            template_dir: None,
            gap_minutes: 30,
            appendix_max_bytes: 256 * 1024,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostmortem {
    template_dir: Option<String>,
    gap_minutes: Option<i64>,
    appendix_max_bytes: Option<i64>,
}

fn postmortem_config(raw: RawPostmortem) -> Result<PostmortemConfig, ConfigError> {
    let defaults = PostmortemConfig::default();
    let template_dir = match raw.template_dir {
        Some(dir) if dir.trim().is_empty() => {
            return Err(invalid(
                "[postmortem] template_dir",
                "is empty; remove the key to use the shipped templates",
            ))
        }
        dir => dir.map(std::path::PathBuf::from),
    };
    let gap_minutes = match raw.gap_minutes {
        None => defaults.gap_minutes,
        Some(m) => u32::try_from(m)
            .ok()
            .filter(|m| (1..=7 * 24 * 60).contains(m))
            .ok_or_else(|| {
                invalid(
                    "[postmortem] gap_minutes",
                    format!("{m} is out of range: use 1 to 10080 minutes (a week)"),
                )
            })?,
    };
    const MAX_APPENDIX: i64 = 50 * 1024 * 1024;
    let appendix_max_bytes = match raw.appendix_max_bytes {
        None => defaults.appendix_max_bytes,
        Some(b) => usize::try_from(b)
            .ok()
            .filter(|_| (1024..=MAX_APPENDIX).contains(&b))
            .ok_or_else(|| {
                invalid(
                    "[postmortem] appendix_max_bytes",
                    format!("{b} is out of range: use 1024 to {MAX_APPENDIX} bytes"),
                )
            })?,
    };
    Ok(PostmortemConfig {
        template_dir,
        gap_minutes,
        appendix_max_bytes,
    })
}

fn summary_config(raw: RawSummary, defaults: &SummaryConfig) -> Result<SummaryConfig, ConfigError> {
    let at = raw
        .at
        .iter()
        .enumerate()
        .map(|(i, t)| {
            chrono::NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| {
                invalid(
                    &format!("[summary] at[{i}]"),
                    format!("\"{t}\" is not a time of day; write e.g. \"09:00\""),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // With fixed times and no explicit period, only the fixed times apply.
    let every = match (raw.every, at.is_empty()) {
        (Some(text), _) => Some(duration("[summary] every", Some(text), Duration::ZERO)?),
        (None, true) => defaults.every,
        (None, false) => None,
    };
    let timezone = match raw.timezone {
        None => defaults.timezone,
        Some(tz) => tz.parse::<chrono_tz::Tz>().map_err(|_| {
            invalid(
                "[summary] timezone",
                format!("\"{tz}\" is not an IANA time zone name (like Europe/Berlin or UTC)"),
            )
        })?,
    };
    Ok(SummaryConfig {
        every,
        at,
        timezone,
        quiet_when_idle: raw.quiet_when_idle.unwrap_or(defaults.quiet_when_idle),
        weekly: raw
            .weekly
            .map(|text| {
                crate::domain::schedule::Weekly::parse(&text, timezone)
                    .map_err(|problem| invalid("[summary] weekly", problem))
            })
            .transpose()?,
    })
}

/// `[server] listen`: an IP address and port; names are refused so what is bound is
/// exactly what was written.
fn listen_address(text: &str) -> Result<std::net::SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        invalid(
            "[server] listen",
            format!(
                "\"{text}\" is not an IP address and port like \"127.0.0.1:9090\" or \"[::]:9090\""
            ),
        )
    })
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
            incident_leads = "S0INCLEADS"
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
        assert_eq!(c.slack.incident_leads.as_deref(), Some("S0INCLEADS"));
        assert_eq!(c.slack.status_channel.as_deref(), Some("C0STATUS"));
        assert_eq!(c.aws.region, "eu-west-1");
        assert_eq!(c.alarms.poll_interval, Duration::from_secs(45));
        assert_eq!(c.summary.every, Some(Duration::from_secs(7200)));
    }

    #[test]
    fn events_read_the_queue_and_may_switch_alarm_polling_off() {
        let c = Config::parse(
            "[alarms]\npoll_interval = \"off\"\n[events]\n\
             sqs_queue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/warroom-events\"\n\
             wait = \"5s\"\nbatch = 4\nhealth_opens_incident = true\n\
             [[alarms.route]]\nname = \"aws\"\nsource = \"health\"\nseverity = \"sev1\"",
        )
        .unwrap();
        let e = c.events.unwrap();
        assert_eq!(e.region, "eu-west-1");
        assert_eq!(e.wait, Duration::from_secs(5));
        assert_eq!(e.batch, 4);
        assert!(e.health_opens_incident);
        assert!(c.alarms.enabled && !c.alarms.polling);
        assert_eq!(c.alarms.routes.health_route().name, "aws");
        assert_eq!(
            c.alarms.routes.health_route().severity,
            crate::domain::Severity::Sev1
        );
        // Defaults; a host other than SQS's own takes [aws] region.
        let c = Config::parse(
            "[aws]\nregion = \"ap-south-1\"\n[events]\n\
             sqs_queue_url = \"https://vpce-1.sqs.example.internal/123456789012/q\"",
        )
        .unwrap();
        let e = c.events.unwrap();
        assert_eq!(
            (e.region.as_str(), e.wait, e.batch),
            ("ap-south-1", Duration::from_secs(20), 10)
        );
        assert!(c.alarms.polling);
        assert!(Config::parse("").unwrap().events.is_none());
    }

    #[test]
    fn accounts_take_a_role_an_external_id_and_the_alarm_regions_by_default() {
        let c = Config::parse(
            "[aws]\nregion = \"eu-west-1\"\n[alarms]\nregions = [\"eu-west-1\", \"us-east-1\"]\n\
             [[aws.accounts]]\nname = \"payments\"\n\
             role_arn = \"arn:aws:iam::111111111111:role/warroom-read\"\nexternal_id = \"wr-7f3a\"\n\
             [[aws.accounts]]\nname = \"legacy\"\n\
             role_arn = \"arn:aws-us-gov:iam::222222222222:role/ops/warroom-read\"\n\
             regions = [\"us-west-2\"]",
        )
        .unwrap();
        let a = &c.aws.accounts;
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].name, "payments");
        assert_eq!(a[0].account_id, "111111111111");
        assert_eq!(a[0].external_id.as_deref(), Some("wr-7f3a"));
        assert_eq!(a[0].regions, ["eu-west-1", "us-east-1"]);
        assert_eq!(a[1].account_id, "222222222222");
        assert_eq!(a[1].external_id, None);
        assert_eq!(a[1].regions, ["us-west-2"]);
        assert!(Config::parse("").unwrap().aws.accounts.is_empty());
        assert!(
            !format!("{c:?}").contains("wr-7f3a"),
            "the external id is not shown"
        );
    }

    #[test]
    fn account_errors_name_the_key() {
        let role = "role_arn = \"arn:aws:iam::111111111111:role/r\"";
        let cases = [
            format!("[[aws.accounts]]\n{role}"),
            "[[aws.accounts]]\nname = \"a\"".to_string(),
            format!("[[aws.accounts]]\nname = \"Payments\"\n{role}"),
            "[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::1111:role/r\"".to_string(),
            "[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::111111111111:user/r\"".to_string(),
            "[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:sts::111111111111:role/r\"".to_string(),
            format!("[[aws.accounts]]\nname = \"a\"\n{role}\nexternal_id = \"x\""),
            format!("[[aws.accounts]]\nname = \"a\"\n{role}\nregions = []"),
            format!("[[aws.accounts]]\nname = \"a\"\n{role}\nregions = [\"US\"]"),
            format!("[[aws.accounts]]\nname = \"a\"\n{role}\n[[aws.accounts]]\nname = \"a\"\nrole_arn = \"arn:aws:iam::222222222222:role/r\""),
            format!("[[aws.accounts]]\nname = \"a\"\n{role}\n[[aws.accounts]]\nname = \"b\"\n{role}"),
        ];
        for text in cases {
            let err = Config::parse(&text).unwrap_err().to_string();
            assert!(err.contains("[[aws.accounts]]"), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn events_errors_name_the_key() {
        let q = "https://sqs.us-east-1.amazonaws.com/123456789012/warroom-events";
        let cases = [
            ("[alarms]\npoll_interval = \"off\"".to_string(), "[alarms] poll_interval"),
            ("[events]\nwait = \"5s\"".to_string(), "[events] sqs_queue_url"),
            ("[events]\nsqs_queue_url = \"sqs\"".to_string(), "[events] sqs_queue_url"),
            ("[events]\nsqs_queue_url = \"http://sqs.us-east-1.amazonaws.com/123456789012/q\"".to_string(), "[events] sqs_queue_url"),
            ("[events]\nsqs_queue_url = \"https://sqs.us-east-1.amazonaws.com/1234/q\"".to_string(), "[events] sqs_queue_url"),
            ("[events]\nsqs_queue_url = \"https://sqs.us-east-1.amazonaws.com/123456789012/q?x=1\"".to_string(), "[events] sqs_queue_url"),
            (format!("[events]\nsqs_queue_url = \"{q}\"\nwait = \"21s\""), "[events] wait"),
            (format!("[events]\nsqs_queue_url = \"{q}\"\nbatch = 11"), "[events] batch"),
            (format!("[events]\nsqs_queue_url = \"{q}\"\nbatch = 0"), "[events] batch"),
            ("[[alarms.route]]\nname = \"h\"\nsource = \"sns\"".to_string(), "[[alarms.route]] \"h\" source"),
            ("[[alarms.route]]\nname = \"h\"\nsource = \"health\"\nnamespace = \"AWS/EC2\"".to_string(), "[[alarms.route]] \"h\" source"),
        ];
        for (text, key) in cases {
            let err = Config::parse(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
        }
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
                "[slack]\nincident_leads = \"@incident-leads\"",
                "[slack] incident_leads",
            ),
            (
                "[slack]\napi_url = \"https://slack.com/api\"",
                "[slack] api_url",
            ),
            (
                "[slack]\nstatus_channel = \"#status\"",
                "[slack] status_channel",
            ),
            ("[database]\nurl = \"mysql://x\"", "[database] url"),
            (
                "[database]\nurl = \"postgres://warroom:hunter2@db/warroom\"",
                "[database] url",
            ),
            (
                "[database]\nfailover_after = \"1s\"",
                "[database] failover_after",
            ),
            ("[summary]\nevery = \"0s\"", "[summary] every"),
            ("[summary]\nat = [\"9am\"]", "[summary] at[0]"),
            (
                "[summary]\ntimezone = \"Mars/Olympus\"",
                "[summary] timezone",
            ),
            ("[aws]\nregion = \"US East\"", "[aws] region"),
            ("[server]\nlisten = \"localhost:9090\"", "[server] listen"),
            ("[server]\nlisten = \"127.0.0.1\"", "[server] listen"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn the_slack_api_is_reached_over_https_except_on_this_machine() {
        for url in [
            "http://slack.com/api/",
            "http://10.0.0.5/api/",
            "http://127.0.0.1.evil.example/api/",
            "http://[2001:db8::1]/api/",
        ] {
            let err = Config::parse(&format!("[slack]\napi_url = \"{url}\""))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("[slack] api_url") && err.contains("must be https://"),
                "{url}: {err}"
            );
        }
        for url in [
            "https://slack.com/api/",
            "http://127.0.0.1:3000/api/",
            "http://127.5.0.1/api/",
            "http://localhost:8080/api/",
            "http://[::1]:9000/api/",
        ] {
            let c = Config::parse(&format!("[slack]\napi_url = \"{url}\"")).unwrap();
            assert_eq!(c.slack.api_url, url);
        }
    }

    #[test]
    fn raw_events_are_kept_a_week_unless_said_otherwise() {
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(
            Config::parse("").unwrap().database.keep_raw_events,
            Some(week)
        );
        let c = Config::parse("[database]\nkeep_raw_events = \"30d\"").unwrap();
        assert_eq!(
            c.database.keep_raw_events,
            Some(Duration::from_secs(30 * 24 * 3600))
        );
        let c = Config::parse("[database]\nkeep_raw_events = \"forever\"").unwrap();
        assert_eq!(c.database.keep_raw_events, None);
        for bad in ["10m", "soon", "0s"] {
            let err = Config::parse(&format!("[database]\nkeep_raw_events = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(err.contains("[database] keep_raw_events"), "{bad}: {err}");
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
    fn a_postgres_url_comes_from_the_file_without_its_password_or_whole_from_the_environment() {
        let mut c = Config::parse(
            "[database]\nurl = \"postgres://warroom@db.internal:5432/warroom\"\nfailover_after = \"20s\"",
        )
        .unwrap();
        assert_eq!(c.database.failover_after, Duration::from_secs(20));
        let err = Config::parse("[database]\nurl = \"postgres://warroom:hunter2@db/warroom\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PGPASSWORD") && !err.contains("hunter2"),
            "{err}"
        );
        let env = |var: &str| {
            (var == DATABASE_URL_VAR)
                .then(|| "postgres://warroom:hunter2@db2.internal/warroom".to_string())
        };
        c.apply_env_from(env).unwrap();
        assert_eq!(
            c.database.url,
            "postgres://warroom:hunter2@db2.internal/warroom"
        );
        let shown = format!("{:?} {}", c.database, c.database.shown_url());
        assert!(
            !shown.contains("hunter2") && shown.contains("db2.internal"),
            "{shown}"
        );
        let bad = c
            .apply_env_from(|_| Some("mysql://x".to_string()))
            .unwrap_err()
            .to_string();
        assert!(bad.contains(DATABASE_URL_VAR), "{bad}");
        assert_eq!(
            Config::default().database.failover_after,
            Duration::from_secs(15)
        );
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secrets::new("xapp-1-secret".into(), "xoxb-secret".into()).unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret"));
        assert!(Secrets::new("xoxb-wrong".into(), "xoxb-ok".into()).is_err());
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn fixed_times_alone_replace_the_default_period() {
        let c =
            Config::parse("[summary]\nat = [\"09:00\", \"17:00\"]\ntimezone = \"Europe/Berlin\"")
                .unwrap();
        assert_eq!(c.summary.every, None);
        assert_eq!(c.summary.at.len(), 2);
        assert_eq!(c.summary.timezone, chrono_tz::Europe::Berlin);
        let both = Config::parse("[summary]\nevery = \"4h\"\nat = [\"09:00\"]").unwrap();
        assert_eq!(both.summary.every, Some(Duration::from_secs(4 * 3600)));
        assert!(Config::parse("").unwrap().summary.quiet_when_idle);
    }

    #[test]
    fn the_weekly_report_is_a_weekday_and_a_local_time() {
        assert_eq!(Config::parse("").unwrap().summary.weekly, None);
        let c = Config::parse("[summary]\nweekly = \"mon 09:00\"\ntimezone = \"Europe/Berlin\"")
            .unwrap();
        let weekly = c.summary.weekly.unwrap();
        assert_eq!(weekly.weekday, chrono::Weekday::Mon);
        assert_eq!(weekly.tz, chrono_tz::Europe::Berlin);
        let err = Config::parse("[summary]\nweekly = \"monday\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[summary] weekly"), "{err}");
        assert!(err.contains("mon 09:00"), "{err}");
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;

    #[test]
    fn the_ops_listener_is_off_unless_an_address_is_given() {
        assert_eq!(Config::parse("").unwrap().server.listen, None);
        let c = Config::parse("[server]\nlisten = \"127.0.0.1:9090\"").unwrap();
        assert_eq!(c.server.listen, Some("127.0.0.1:9090".parse().unwrap()));
        let v6 = Config::parse("[server]\nlisten = \"[::]:9090\"").unwrap();
        assert_eq!(v6.server.listen.map(|a| a.port()), Some(9090));
    }
}

#[cfg(test)]
mod postmortem_tests {
    use super::*;

    #[test]
    fn postmortem_defaults_and_values() {
        let c = Config::parse("").unwrap().postmortem;
        assert_eq!(c.template_dir, None);
        assert_eq!(c.gap_minutes, 30);
        assert_eq!(c.appendix_max_bytes, 256 * 1024);
        let c = Config::parse(
            "[postmortem]\ntemplate_dir = \"/etc/warroom/templates\"\ngap_minutes = 45\nappendix_max_bytes = 100000",
        )
        .unwrap()
        .postmortem;
        assert_eq!(
            c.template_dir.as_deref(),
            Some(std::path::Path::new("/etc/warroom/templates"))
        );
        assert_eq!(c.gap_minutes, 45);
        assert_eq!(c.appendix_max_bytes, 100_000);
    }

    #[test]
    fn postmortem_errors_name_the_key() {
        for (text, key) in [
            ("[postmortem]\ngap_minutes = 0", "[postmortem] gap_minutes"),
            ("[postmortem]\ngap_minutes = -5", "[postmortem] gap_minutes"),
            (
                "[postmortem]\nappendix_max_bytes = 10",
                "[postmortem] appendix_max_bytes",
            ),
            (
                "[postmortem]\ntemplate_dir = \" \"",
                "[postmortem] template_dir",
            ),
            ("[postmortem]\ntemplates = \"x\"", "templates"),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
            assert!(!err.ends_with('.'), "{err}");
        }
    }
}

#[cfg(test)]
mod alarms_tests {
    use super::*;

    #[test]
    fn alarms_are_off_without_the_section_and_default_to_the_aws_region() {
        let off = Config::parse("[aws]\nregion = \"eu-west-1\"")
            .unwrap()
            .alarms;
        assert!(!off.enabled);
        let on = Config::parse("[aws]\nregion = \"eu-west-1\"\n[alarms]")
            .unwrap()
            .alarms;
        assert!(on.enabled);
        assert_eq!(on.regions, ["eu-west-1"]);
        assert_eq!(on.correlation_window, Duration::from_secs(1800));
        assert_eq!(on.routes.default.name, "default");
        assert!(on.routes.routes.is_empty());
    }

    #[test]
    fn routes_parse_in_order() {
        let c = Config::parse(
            r#"
            [alarms]
            regions = ["us-east-1", "eu-west-1"]
            correlation_window = "10m"
            [alarms.default]
            severity = "sev4"
            opens_incident = false
            [[alarms.route]]
            name = "payments-db"
            namespace = "AWS/RDS"
            tags = { team = "payments" }
            severity = "sev1"
            responders = ["U0DBA"]
            usergroup = "S0DBAS"
            runbook = "https://wiki.example.com/rds?x=1"
            [[alarms.route]]
            name = "prod"
            alarm_name = "prod-*"
            "#,
        )
        .unwrap()
        .alarms;
        assert_eq!(c.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(c.correlation_window, Duration::from_secs(600));
        let r = &c.routes.routes;
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "payments-db");
        assert_eq!(r[0].severity, crate::domain::Severity::Sev1);
        assert_eq!(r[0].usergroup.as_deref(), Some("S0DBAS"));
        assert_eq!(r[0].matcher.tags.len(), 1);
        assert!(r[1].opens_incident);
        assert_eq!(c.routes.default.severity, crate::domain::Severity::Sev4);
        assert!(!c.routes.default.opens_incident);
    }

    #[test]
    fn alarm_errors_name_the_key() {
        let cases = [
            ("[alarms]\nregions = []", "[alarms] regions"),
            ("[alarms]\nregions = [\"Mars\"]", "[alarms] regions[0]"),
            ("[alarms]\ncorrelation_window = \"soon\"", "[alarms] correlation_window"),
            ("[[alarms.route]]\nalarm_name = \"x\"", "[[alarms.route]] #1 name"),
            ("[[alarms.route]]\nname = \"all\"", "[[alarms.route]] \"all\""),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nseverity = \"huge\"",
                "[[alarms.route]] \"a\" severity",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nusergroup = \"oncall\"",
                "[[alarms.route]] \"a\" usergroup",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nrunbook = \"https://x/<!channel>\"",
                "[[alarms.route]] \"a\" runbook",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nresponders = [\"bob\"]",
                "[[alarms.route]] \"a\" responders[0]",
            ),
            (
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\n[[alarms.route]]\nname = \"a\"\nalarm_name = \"y\"",
                "[[alarms.route]] \"a\" name",
            ),
            ("[alarms.default]\nalarm_name = \"x\"", "[alarms.default]"),
            ("[[alarms.route]]\nname = \"a\"\nalarm = \"x\"", "alarm"),
        ];
        for (text, key) in cases {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?} gave {err:?}");
            assert!(!err.ends_with('.'), "{err}");
        }
    }
}

#[cfg(test)]
mod escalation_tests {
    use super::*;

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn escalation(text: &str) -> EscalationConfig {
        Config::parse(text).unwrap().escalation
    }

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_map_every_severity_and_leave_critical_opt_in() {
        let e = escalation("");
        assert_eq!(e.aws_support_after, minutes(30));
        assert!(e.aws_support_after_by_severity.is_empty());
        assert_eq!(e.renudge_every, minutes(15));
        assert_eq!(e.update_every, Some(minutes(60)));
        assert!(e.support_api);
        assert!(e.cc_email_addresses.is_empty());
        assert_eq!(e.support_usergroup, None);
        assert_eq!(e.service_code, None);
        assert_eq!(e.category_code, None);
        assert_eq!(e.support_poll_interval, minutes(1));
        for sev in Severity::ALL {
            assert_eq!(e.support_after(sev), minutes(30), "{sev}");
        }
        let cases: Vec<_> = Severity::ALL
            .into_iter()
            .map(|s| e.case_severity_for(s))
            .collect();
        assert_eq!(
            cases,
            [
                SupportSeverity::Urgent,
                SupportSeverity::High,
                SupportSeverity::Normal,
                SupportSeverity::Low
            ]
        );
        assert_eq!(e.case_severity.len(), Severity::ALL.len());
        let targets: Vec<_> = SupportSeverity::ALL
            .into_iter()
            .map(|s| e.response_target(s))
            .collect();
        assert_eq!(
            targets,
            [
                minutes(24 * 60),
                minutes(12 * 60),
                minutes(4 * 60),
                minutes(60),
                minutes(15)
            ]
        );
        assert_eq!(e.response_targets.len(), SupportSeverity::ALL.len());
    }

    #[test]
    fn the_documented_example_parses() {
        let e = escalation(
            r#"
            [escalation]
            aws_support_after = "30m"
            renudge_every = "15m"
            update_every = "1h"
            support_api = true
            cc_email_addresses = ["oncall@example.com"]
            support_usergroup = "S0AWSADMINS"
            service_code = "amazon-elastic-compute-cloud-linux"
            category_code = "other"
            support_poll_interval = "1m"

            [escalation.aws_support_after_by_severity]
            sev1 = "15m"
            sev3 = "2h"

            [escalation.case_severity]
            sev1 = "critical"

            [escalation.response_targets]
            urgent = "30m"
            "#,
        );
        assert_eq!(e.support_after(Severity::Sev1), minutes(15));
        assert_eq!(e.support_after(Severity::Sev2), minutes(30));
        assert_eq!(e.support_after(Severity::Sev3), minutes(120));
        assert_eq!(e.support_after(Severity::Sev4), minutes(30));
        // Overrides replace one entry; the rest keep their defaults.
        assert_eq!(
            e.case_severity_for(Severity::Sev1),
            SupportSeverity::Critical
        );
        assert_eq!(e.case_severity_for(Severity::Sev2), SupportSeverity::High);
        assert_eq!(e.response_target(SupportSeverity::Urgent), minutes(30));
        assert_eq!(e.response_target(SupportSeverity::Critical), minutes(15));
        assert_eq!(e.cc_email_addresses, ["oncall@example.com"]);
        assert_eq!(e.support_usergroup.as_deref(), Some("S0AWSADMINS"));
        assert_eq!(
            e.service_code.as_deref(),
            Some("amazon-elastic-compute-cloud-linux")
        );
        assert_eq!(e.category_code.as_deref(), Some("other"));
    }

    #[test]
    fn update_nudges_and_the_support_api_can_be_turned_off() {
        let e = escalation("[escalation]\nupdate_every = \"off\"\nsupport_api = false");
        assert_eq!(e.update_every, None);
        assert!(!e.support_api);
        let e = escalation("[escalation]\nupdate_every = \"OFF\"\nsupport_poll_interval = \"10s\"\nrenudge_every = \"10s\"");
        assert_eq!(e.update_every, None);
        assert_eq!(e.support_poll_interval, Duration::from_secs(10));
        assert_eq!(e.renudge_every, Duration::from_secs(10));
        assert_eq!(
            escalation("[escalation]\nupdate_every = \"45m\"").update_every,
            Some(minutes(45))
        );
    }

    #[test]
    fn severity_keys_accept_every_spelling_of_a_severity_once() {
        let e = escalation("[escalation.case_severity]\n4 = \"normal\"\nS2 = \"urgent\"");
        assert_eq!(e.case_severity_for(Severity::Sev4), SupportSeverity::Normal);
        assert_eq!(e.case_severity_for(Severity::Sev2), SupportSeverity::Urgent);
        let err = error("[escalation.case_severity]\nsev1 = \"urgent\"\n1 = \"high\"");
        assert!(err.contains("[escalation.case_severity]"), "{err}");
        assert!(err.contains("a second time"), "{err}");
        let err = error("[escalation.aws_support_after_by_severity]\nsev2 = \"5m\"\nSEV2 = \"9m\"");
        assert!(err.contains("sets sev2 a second time"), "{err}");
    }

    #[test]
    fn escalation_errors_name_the_key_and_the_problem() {
        let long_cc = format!(
            "[escalation]\ncc_email_addresses = [{}]",
            (0..11)
                .map(|i| format!("\"a{i}@example.com\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let cases: Vec<(&str, &str, &str)> = vec![
            (
                "[escalation]\naws_support_after = \"0s\"",
                "config key [escalation] aws_support_after",
                "longer than zero",
            ),
            (
                "[escalation]\naws_support_after = \"soon\"",
                "[escalation] aws_support_after",
                "is not a duration",
            ),
            (
                "[escalation]\nrenudge_every = \"9s\"",
                "[escalation] renudge_every",
                "at least 10s",
            ),
            (
                "[escalation]\nsupport_poll_interval = \"5s\"",
                "[escalation] support_poll_interval",
                "at least 10s",
            ),
            (
                "[escalation]\nsupport_poll_interval = \"0s\"",
                "[escalation] support_poll_interval",
                "longer than zero",
            ),
            (
                "[escalation]\nupdate_every = \"0s\"",
                "[escalation] update_every",
                "\"off\"",
            ),
            (
                "[escalation]\nupdate_every = \"never\"",
                "[escalation] update_every",
                "\"off\" to turn the nudge off",
            ),
            (
                "[escalation.aws_support_after_by_severity]\nsev9 = \"5m\"",
                "[escalation.aws_support_after_by_severity] sev9",
                "unknown severity \"sev9\"",
            ),
            (
                "[escalation.aws_support_after_by_severity]\nsev1 = \"0m\"",
                "[escalation.aws_support_after_by_severity] sev1",
                "longer than zero",
            ),
            (
                "[escalation.case_severity]\nsev9 = \"high\"",
                "config key [escalation.case_severity] sev9: unknown severity",
                "sev1",
            ),
            (
                "[escalation.case_severity]\nsev1 = \"sev1\"",
                "[escalation.case_severity] sev1",
                "unknown AWS Support severity \"sev1\"",
            ),
            (
                "[escalation.response_targets]\nsev1 = \"1h\"",
                "[escalation.response_targets] sev1",
                "low, normal, high, urgent or critical",
            ),
            (
                "[escalation.response_targets]\nhigh = \"0m\"",
                "[escalation.response_targets] high",
                "longer than zero",
            ),
            (
                "[escalation.response_targets]\nhigh = \"1h\"\nHIGH = \"2h\"",
                "[escalation.response_targets]",
                "sets high a second time",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"oncall\"]",
                "[escalation] cc_email_addresses[0]",
                "\"oncall\" is not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"ok@example.com\", \"@example.com\"]",
                "[escalation] cc_email_addresses[1]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"oncall@\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"a@b@example.com\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"a@example.com, b@example.com\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"on call@example.com\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                "[escalation]\ncc_email_addresses = [\"Ops <ops@example.com>\"]",
                "[escalation] cc_email_addresses[0]",
                "not an e-mail address",
            ),
            (
                &long_cc,
                "[escalation] cc_email_addresses",
                "has 11 addresses; AWS accepts at most 10",
            ),
            (
                "[escalation]\nsupport_usergroup = \"aws-admins\"",
                "[escalation] support_usergroup",
                "not a Slack user group id",
            ),
            (
                "[escalation]\nsupport_usergroup = \"U0ALICE\"",
                "[escalation] support_usergroup",
                "not a Slack user group id",
            ),
            (
                "[escalation]\nservice_code = \"\"",
                "[escalation] service_code",
                "not an AWS Support code",
            ),
            (
                "[escalation]\ncategory_code = \"other category\"",
                "[escalation] category_code",
                "not an AWS Support code",
            ),
            ("[escalation]\nsupport_api = \"yes\"", "support_api", ""),
            (
                "[escalation]\ncc_emails = [\"a@example.com\"]",
                "cc_emails",
                "",
            ),
        ];
        for (text, key, problem) in cases {
            let err = error(text);
            assert!(
                err.contains(key),
                "{text:?} gave {err:?}, not naming {key:?}"
            );
            assert!(
                err.contains(problem),
                "{text:?} gave {err:?}, lacking {problem:?}"
            );
            assert!(!err.ends_with('.'), "{err}");
        }
    }

    #[test]
    fn ten_cc_addresses_are_accepted() {
        let list = (0..10)
            .map(|i| format!("\"team{i}+aws@example.co.uk\""))
            .collect::<Vec<_>>()
            .join(", ");
        let e = escalation(&format!("[escalation]\ncc_email_addresses = [{list}]"));
        assert_eq!(e.cc_email_addresses.len(), MAX_CC_EMAIL_ADDRESSES);
    }

    #[test]
    fn every_user_group_key_follows_one_rule() {
        // The same id shapes pass and fail in every place.
        for (group, ok) in [
            ("S0614TZR7", true),
            ("S1", true),
            ("S", false),
            ("s0614", false),
            ("G0614", false),
        ] {
            let support = Config::parse(&format!("[escalation]\nsupport_usergroup = \"{group}\""));
            let route = Config::parse(&format!(
                "[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\nusergroup = \"{group}\""
            ));
            let leads = Config::parse(&format!("[slack]\nincident_leads = \"{group}\""));
            assert_eq!(support.is_ok(), ok, "{group}");
            assert_eq!(route.is_ok(), ok, "{group}");
            assert_eq!(leads.is_ok(), ok, "{group}");
        }
    }

    #[test]
    fn the_shipped_examples_parse() {
        // deploy/warroom.toml and the README's example are what operators copy.
        let deploy = include_str!("../deploy/warroom.toml");
        Config::parse(deploy).unwrap();
        let readme = include_str!("../README.md");
        let block = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("\n```").next())
            .unwrap();
        let c = Config::parse(block).unwrap();
        assert!(block.contains("[escalation]"));
        assert_eq!(c.escalation.support_after(Severity::Sev1), minutes(15));
    }
}

#[cfg(test)]
mod diagnostics_tests {
    use super::*;

    #[test]
    fn diagnostics_default_to_two_hours_and_name_bad_keys() {
        let d = Config::parse("").unwrap().diagnostics;
        assert!(d.enabled && !d.configured);
        assert_eq!(d.lookback, chrono::Duration::hours(2));
        let c = Config::parse(
            "[diagnostics]\nlookback = \"90m\"\nignore_events = [\"CreateTags\", \"PutMetricData\"]",
        )
        .unwrap()
        .diagnostics;
        assert!(c.configured);
        assert_eq!(c.lookback, chrono::Duration::minutes(90));
        assert_eq!(c.ignore_events, ["CreateTags", "PutMetricData"]);
        for (text, key) in [
            (
                "[diagnostics]\nlookback = \"soon\"",
                "[diagnostics] lookback",
            ),
            (
                "[diagnostics]\nlookback = \"30d\"",
                "[diagnostics] lookback",
            ),
            (
                "[diagnostics]\nignore_events = [\"ok\", \"bad name\"]",
                "[diagnostics] ignore_events[1]",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("config key {key}: ")), "{err}");
        }
    }
}

#[cfg(test)]
mod incident_tests {
    use super::*;

    #[test]
    fn private_viewers_are_user_ids() {
        assert!(Config::parse("")
            .unwrap()
            .incident
            .private_viewers
            .is_empty());
        let c = Config::parse("[incident]\nprivate_viewers = [\"U0CISO\", \"U0VP\"]")
            .unwrap()
            .incident;
        assert_eq!(
            c.private_viewers,
            [
                UserId::parse("U0CISO").unwrap(),
                UserId::parse("U0VP").unwrap()
            ]
        );
        let err = Config::parse("[incident]\nprivate_viewers = [\"@ciso\"]").unwrap_err();
        assert!(
            err.to_string().contains("[incident] private_viewers[0]"),
            "{err}"
        );
    }

    #[test]
    fn archive_after_is_off_by_default_and_at_least_an_hour() {
        assert_eq!(Config::parse("").unwrap().incident.archive_after, None);
        let parse = |v: &str| Config::parse(&format!("[incident]\narchive_after = \"{v}\""));
        assert_eq!(parse("off").unwrap().incident.archive_after, None);
        assert_eq!(
            parse("7d").unwrap().incident.archive_after,
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            parse("1h").unwrap().incident.archive_after,
            Some(Duration::from_secs(3600))
        );
        for bad in ["30m", "soon", "0s"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("[incident] archive_after"), "{bad}: {err}");
        }
        assert!(parse("30m")
            .unwrap_err()
            .to_string()
            .contains("at least 1h"));
    }

    #[test]
    fn incident_types_parse_and_are_checked() {
        let c = Config::parse(
            r#"
            [incident]
            roles = ["comms", "scribe"]
            [[incident.types]]
            name = "security"
            severity = "sev1"
            private = true
            responders = ["U0SEC"]
            usergroup = "S0SECTEAM"
            roles = ["comms"]
            postmortem_template = "security.md.tera"
            checklist = [
                { text = "Page the security team" },
                { text = "Rotate keys", runbook = "https://wiki.example/rotate" },
            ]
            [[incident.types]]
            name = "db"
            [alarms]
            [[alarms.route]]
            name = "sec"
            alarm_name = "guardduty-*"
            type = "security"
            [[alarms.route]]
            name = "db"
            alarm_name = "rds-*"
            severity = "sev2"
            type = "db"
            "#,
        )
        .unwrap();
        let t = c.incident.incident_type("security").unwrap();
        assert_eq!(t.severity, Severity::Sev1);
        assert!(t.private);
        assert_eq!(t.responders[0].as_str(), "U0SEC");
        assert_eq!(t.usergroup.as_deref(), Some("S0SECTEAM"));
        assert_eq!(t.roles, ["comms"]);
        assert_eq!(t.checklist.len(), 2);
        assert_eq!(
            t.checklist[1].runbook.as_deref(),
            Some("https://wiki.example/rotate")
        );
        let db = c.incident.incident_type("db").unwrap();
        assert_eq!(db.severity, Severity::DEFAULT);
        assert!(!db.private && db.checklist.is_empty());
        let routes = &c.alarms.routes.routes;
        // A route without its own severity takes its type's.
        assert_eq!(routes[0].incident_type.as_deref(), Some("security"));
        assert_eq!(routes[0].severity, Severity::Sev1);
        assert_eq!(routes[1].severity, Severity::Sev2);

        let one = |body: &str| format!("[[incident.types]]\nname = \"sec\"\n{body}");
        for (bad, key) in [
            ("[[incident.types]]\nseverity = \"sev1\"".to_string(), "[[incident.types]] #1 name"),
            ("[[incident.types]]\nname = \"Sec\"".to_string(), "[[incident.types]] #1 name"),
            (format!("{}\n{}", one(""), one("")), "[[incident.types]] \"sec\" name"),
            (one("severity = \"sev9\""), "[[incident.types]] \"sec\" severity"),
            (one("responders = [\"bob\"]"), "[[incident.types]] \"sec\" responders[0]"),
            (one("usergroup = \"sec-team\""), "[[incident.types]] \"sec\" usergroup"),
            (one("roles = [\"janitor\"]"), "[[incident.types]] \"sec\" roles[0]"),
            (one("checklist = [{ text = \"  \" }]"), "[[incident.types]] \"sec\" checklist[0] text"),
            (one("checklist = [{ runbook = \"https://x.example\" }]"), "[[incident.types]] \"sec\" checklist[0] text"),
            (
                one("checklist = [{ text = \"a\", runbook = \"javascript:alert(1)\" }]"),
                "[[incident.types]] \"sec\" checklist[0] runbook",
            ),
            (
                one("checklist = [{ text = \"a\", runbook = \"ftp://x.example/a\" }]"),
                "[[incident.types]] \"sec\" checklist[0] runbook",
            ),
            (one("postmortem_template = \"nope.md.tera\""), "[[incident.types]] \"sec\" postmortem_template"),
            (one("postmortem_template = \"../etc/passwd\""), "[[incident.types]] \"sec\" postmortem_template"),
            (one("postmortem_template = \"postmortem.html.tera\""), "[[incident.types]] \"sec\" postmortem_template"),
            (one("colour = \"red\""), "unknown field"),
            (
                "[alarms]\n[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\ntype = \"nope\"".to_string(),
                "[[alarms.route]] \"a\" type",
            ),
            (
                format!("{}\n[alarms]\n[[alarms.route]]\nname = \"a\"\nalarm_name = \"x\"\ntype = \"nope\"", one("")),
                "(sec)",
            ),
        ] {
            let err = Config::parse(&bad).unwrap_err().to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
        // A template in the configured directory is found there.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.md.tera"), "# {{ title }}").unwrap();
        let with_dir = format!(
            "[postmortem]\ntemplate_dir = {:?}\n{}",
            dir.path().display().to_string(),
            one("postmortem_template = \"db.md.tera\"")
        );
        Config::parse(&with_dir).unwrap();
    }

    #[test]
    fn roles_default_and_are_checked() {
        let c = Config::parse("").unwrap().incident;
        assert_eq!(c.roles, ["comms", "scribe", "ops", "aws-liaison"]);
        let c = Config::parse("[incident]\nroles = [\"comms\", \"db-1\"]")
            .unwrap()
            .incident;
        assert_eq!(c.roles, ["comms", "db-1"]);
        for bad in [
            "roles = [\"Comms\"]",
            "roles = [\"\"]",
            "roles = [\"a b\"]",
            "roles = [\"lead\"]",
            "roles = [\"ops\", \"ops\"]",
        ] {
            let err = Config::parse(&format!("[incident]\n{bad}")).unwrap_err();
            assert!(err.to_string().contains("[incident] roles"), "{bad}: {err}");
        }
    }
}
