//! `warroom doctor`: live checks of a deployment, printed as a checklist.
//!
//! Each check prints one `✓` or `✗` line; a failure adds how to fix it. Checks that depend
//! on a failed one are reported as not run rather than failing twice for one cause. Doctor
//! opens the database the way `warroom run` does (creating and migrating it if needed).

use std::fmt;
use std::path::Path;

use super::probe::{self, ProbeError};
use crate::config::{Config, APP_TOKEN_VAR, BOT_TOKEN_VAR};
use crate::slack::manifest;
use crate::store::{Backend, Store, MIN_POSTGRES_VERSION};

/// One line of the checklist.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked, e.g. `bot token (SLACK_BOT_TOKEN)`.
    pub what: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Passed(String),
    Failed {
        problem: String,
        fix: String,
    },
    /// Not run because an earlier check it depends on failed.
    Skipped(String),
}

/// The whole checklist.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// No check failed or was skipped.
    pub fn healthy(&self) -> bool {
        self.checks
            .iter()
            .all(|c| matches!(c.outcome, Outcome::Passed(_)))
    }

    fn pass(&mut self, what: &str, detail: impl Into<String>) {
        self.push(what, Outcome::Passed(detail.into()));
    }

    fn fail(&mut self, what: &str, problem: impl Into<String>, fix: impl Into<String>) {
        self.push(
            what,
            Outcome::Failed {
                problem: problem.into(),
                fix: fix.into(),
            },
        );
    }

    fn skip(&mut self, what: &str, why: impl Into<String>) {
        self.push(what, Outcome::Skipped(why.into()));
    }

    fn push(&mut self, what: &str, outcome: Outcome) {
        self.checks.push(Check {
            what: what.to_string(),
            outcome,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.outcome {
                Outcome::Passed(detail) => writeln!(f, "✓ {}: {detail}", c.what)?,
                Outcome::Failed { problem, fix } => {
                    writeln!(f, "✗ {}: {problem}", c.what)?;
                    writeln!(f, "    fix: {fix}")?;
                }
                Outcome::Skipped(why) => writeln!(f, "✗ {}: not checked ({why})", c.what)?,
            }
        }
        let bad = self
            .checks
            .iter()
            .filter(|c| !matches!(c.outcome, Outcome::Passed(_)))
            .count();
        if bad == 0 {
            writeln!(f, "all {} checks passed", self.checks.len())
        } else {
            writeln!(
                f,
                "{bad} of {} checks failed or could not run",
                self.checks.len()
            )
        }
    }
}

const CONFIG: &str = "config";
const BOT_TOKEN: &str = "bot token (SLACK_BOT_TOKEN)";
const SCOPES: &str = "bot scopes";
const APP_TOKEN: &str = "app-level token (SLACK_APP_TOKEN)";
const SOCKET: &str = "Socket Mode";
const DATABASE: &str = "database";
const SERVER: &str = "database server";
const REPLICAS: &str = "replicas";

/// Run every check for the config at `path`, with tokens from the environment.
pub async fn run(path: &Path) -> Report {
    let mut report = Report::default();
    let config = match Config::load(path) {
        Ok(c) => {
            report.pass(CONFIG, format!("{} is valid", path.display()));
            c
        }
        Err(e) => {
            report.fail(
                CONFIG,
                e.to_string(),
                "correct the file (warroom check-config --config FILE repeats this check)",
            );
            return report;
        }
    };
    let set = |var| std::env::var(var).ok().filter(|v: &String| !v.is_empty());
    let bot = set(BOT_TOKEN_VAR);
    let app = set(APP_TOKEN_VAR);
    check_slack(&mut report, &config, bot.as_deref(), app.as_deref()).await;
    check_database(&mut report, &config).await;
    if config.alarms.enabled
        || config.events.is_some()
        || config.escalation.support_api
        || config.diagnostics.configured
    {
        let aws = crate::aws::Aws::connect(&config, &crate::aws::AwsAccess::DefaultChain).await;
        if config.alarms.enabled {
            check_aws(&mut report, &config, &aws).await;
        }
        if config.alarms.enabled || config.diagnostics.configured {
            check_changes(&mut report, &config, &aws).await;
        }
        if config.escalation.support_api {
            check_support(&mut report, &aws).await;
        }
        if config.events.is_some() {
            check_events(&mut report, &aws).await;
        }
    }
    report
}

const SUPPORT: &str = "AWS Support API";
const CREDENTIALS_FIX: &str = "give warroom credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
                               AWS_PROFILE, or an instance/task role) and check [aws] endpoint_url";
const PERMISSION_FIX: &str = "attach deploy/iam-policy.json to warroom's role or user";

/// The Support API (`[escalation] support_api`): credentials, permission and, above all, a
/// support plan that includes the API, which many accounts lack.
pub async fn check_support(report: &mut Report, aws: &crate::aws::Aws) {
    match aws.support_reachable().await {
        Ok(()) => report.pass(SUPPORT, "DescribeCases answered"),
        Err(e) if e.is_subscription_required() => report.fail(
            SUPPORT,
            "the account has no Business, Enterprise On-Ramp or Enterprise support plan, which \
             the Support API needs",
            "warroom still nudges towards AWS Support but links to the Support Center to open \
             cases by hand; upgrade the support plan to let warroom open and follow cases, or \
             set [escalation] support_api = false to skip this check",
        ),
        Err(e) => {
            let fix = if is_permission(&e) {
                PERMISSION_FIX
            } else {
                CREDENTIALS_FIX
            };
            report.fail(SUPPORT, e.to_string(), fix)
        }
    }
}

/// The `[events]` queue: it exists and these credentials may read it (GetQueueAttributes;
/// ReceiveMessage and DeleteMessage are in the same policy statement). Nothing is received:
/// a message taken by the doctor would be hidden from the running bot.
pub async fn check_events(report: &mut Report, aws: &crate::aws::Aws) {
    const WHAT: &str = "[events] SQS queue";
    match aws.event_queue_depth().await {
        Ok(n) => report.pass(WHAT, format!("GetQueueAttributes answered ({n} messages waiting)")),
        Err(e) if e.code().is_some_and(|c| c.contains("NonExistentQueue") || c.contains("QueueDoesNotExist")) => report.fail(
            WHAT,
            e.to_string(),
            "check [events] sqs_queue_url: the queue the EventBridge rule targets, in its region and account",
        ),
        Err(e) => {
            let fix = if is_permission(&e) {
                PERMISSION_FIX
            } else {
                CREDENTIALS_FIX
            };
            report.fail(WHAT, e.to_string(), fix)
        }
    }
}

/// What to do when a `[[aws.accounts]]` role cannot be assumed or cannot read alarms.
const ACCOUNT_FIX: &str = "deploy deploy/aws/member-account.yaml in that account (its role trusts \
     warroom's account and asks for the external_id), check role_arn and external_id in \
     [[aws.accounts]], and let warroom's own identity call sts:AssumeRole on the role \
     (deploy/iam-policy.json)";

fn is_permission(e: &crate::aws::AwsError) -> bool {
    e.code()
        .is_some_and(|c| c.contains("AccessDenied") || c.contains("Unauthorized"))
}

/// CloudWatch in every polled region, and AWS Health, with the credentials warroom will use.
pub async fn check_aws(report: &mut Report, config: &Config, aws: &crate::aws::Aws) {
    use crate::aws::HealthAnswer;
    for region in &config.alarms.regions {
        let what = format!("CloudWatch ({region})");
        match aws.cloudwatch_reachable(region).await {
            Ok(()) => report.pass(&what, "DescribeAlarms answered"),
            Err(e) => {
                let fix = if is_permission(&e) {
                    PERMISSION_FIX
                } else {
                    CREDENTIALS_FIX
                };
                report.fail(&what, e.to_string(), fix)
            }
        }
    }
    // `[[aws.accounts]]`: each role is assumed (STS) for the first DescribeAlarms.
    for target in aws.poll_targets(&[]) {
        let account = target.account.as_deref().unwrap_or_default();
        let what = format!("CloudWatch (account {account}, {})", target.region);
        match aws.cloudwatch_reachable_at(&target).await {
            Ok(()) => report.pass(&what, "the role was assumed and DescribeAlarms answered"),
            Err(e) => report.fail(&what, e.to_string(), ACCOUNT_FIX),
        }
    }
    let what = "AWS Health";
    let region = config
        .alarms
        .regions
        .first()
        .map(String::as_str)
        .unwrap_or("us-east-1");
    match aws.health_events("EC2", region).await {
        Ok(HealthAnswer::Events(_)) => report.pass(what, "DescribeEvents answered"),
        Ok(HealthAnswer::SubscriptionRequired) => report.fail(
            what,
            "the account has no Business, Enterprise On-Ramp or Enterprise support plan, so no Health API",
            "warroom works without it and says so once per incident; upgrade the support plan \
             to see AWS Health in war rooms",
        ),
        Err(e) => report.fail(what, e.to_string(), PERMISSION_FIX),
    }
}

/// What "What changed before the alarm" needs: LookupEvents in every region changes are
/// looked up in, and DescribeAlarmHistory where alarms are polled. A refusal names the IAM
/// action to add.
pub async fn check_changes(report: &mut Report, config: &Config, aws: &crate::aws::Aws) {
    use crate::domain::changes::{explain_failure, Source};
    for region in aws.change_regions() {
        let what = format!("CloudTrail ({region})");
        match aws.cloudtrail_reachable(&region).await {
            Ok(()) => report.pass(&what, "LookupEvents answered"),
            Err(e) if is_permission(&e) => report.fail(
                &what,
                e.to_string(),
                explain_failure(Source::Changes, e.code()),
            ),
            Err(e) => report.fail(&what, e.to_string(), CREDENTIALS_FIX),
        }
    }
    if !config.alarms.enabled {
        return;
    }
    for region in &config.alarms.regions {
        let what = format!("CloudWatch alarm history ({region})");
        let now = chrono::Utc::now();
        // Any name will do: an alarm that does not exist has an empty history, and the
        // permission is checked all the same.
        match aws
            .alarm_history(
                region,
                "warroom-doctor",
                now - chrono::Duration::hours(1),
                now,
            )
            .await
        {
            Ok(_) => report.pass(&what, "DescribeAlarmHistory answered"),
            Err(e) if is_permission(&e) => report.fail(
                &what,
                e.to_string(),
                explain_failure(Source::History, e.code()),
            ),
            Err(e) => report.fail(&what, e.to_string(), CREDENTIALS_FIX),
        }
    }
}

/// The Slack checks, with the tokens given (`None`: not set).
pub async fn check_slack(
    report: &mut Report,
    config: &Config,
    bot_token: Option<&str>,
    app_token: Option<&str>,
) {
    let api = &config.slack.api_url;
    match token_shape(bot_token, BOT_TOKEN_VAR, "xoxb-") {
        Err((problem, fix)) => {
            report.fail(BOT_TOKEN, problem, fix);
            report.skip(SCOPES, "no usable bot token");
        }
        Ok(token) => match probe::auth_test(api, token).await {
            Ok(auth) => {
                report.pass(
                    BOT_TOKEN,
                    format!(
                        "accepted by auth.test: @{} ({}) in {} ({})",
                        auth.user, auth.user_id, auth.team, auth.team_id
                    ),
                );
                check_scopes(report, auth.scopes.as_deref());
            }
            Err(e) => {
                let (problem, fix) = explain(&e, BOT_TOKEN_VAR, api);
                report.fail(BOT_TOKEN, problem, fix);
                report.skip(SCOPES, "the bot token could not be checked");
            }
        },
    }
    match token_shape(app_token, APP_TOKEN_VAR, "xapp-") {
        Err((problem, fix)) => {
            report.fail(APP_TOKEN, problem, fix);
            report.skip(SOCKET, "no usable app-level token");
        }
        Ok(token) => match probe::connections_open(api, token).await {
            Ok(url) => {
                report.pass(APP_TOKEN, "accepted by apps.connections.open");
                match probe::socket_hello(&url).await {
                    Ok(took) => report.pass(
                        SOCKET,
                        format!("a connection opened and Slack said hello in {took:.0?}"),
                    ),
                    Err(e) => report.fail(
                        SOCKET,
                        e.to_string(),
                        "turn Socket Mode on in the app settings (Socket Mode page), and allow \
                         outbound WebSocket connections (wss, port 443) to Slack",
                    ),
                }
            }
            Err(e) => {
                let (problem, fix) = explain(&e, APP_TOKEN_VAR, api);
                report.fail(APP_TOKEN, problem, fix);
                report.skip(SOCKET, "the app-level token could not be checked");
            }
        },
    }
}

fn token_shape<'a>(
    token: Option<&'a str>,
    var: &str,
    prefix: &str,
) -> Result<&'a str, (String, String)> {
    let fix = if prefix == "xoxb-" {
        format!("install the app to the workspace and export its Bot User OAuth Token (OAuth & Permissions page) as {var}")
    } else {
        format!("create an app-level token with the {} scope (Basic Information → App-Level Tokens) and export it as {var}", manifest::APP_TOKEN_SCOPE)
    };
    match token {
        None => Err((format!("{var} is not set"), fix)),
        Some(t) if !t.starts_with(prefix) => Err((
            format!("{var} does not start with {prefix}: it is not the right kind of token"),
            fix,
        )),
        Some(t) => Ok(t),
    }
}

/// A probe failure as a problem and a fix.
fn explain(e: &ProbeError, var: &str, api_url: &str) -> (String, String) {
    match e {
        ProbeError::Refused { code, .. }
            if matches!(
                code.as_str(),
                "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
            ) =>
        {
            (
                format!("Slack refused {var} ({code})"),
                format!(
                    "copy the token again from the app's settings; if the app was uninstalled or \
                     the token revoked, reinstall the app and export the new token as {var}"
                ),
            )
        }
        ProbeError::Refused { code, .. } if code == "not_allowed_token_type" => (
            format!("Slack refused {var} ({code}): it is a different kind of token"),
            format!(
                "{BOT_TOKEN_VAR} must be the bot token (xoxb-…) and {APP_TOKEN_VAR} the \
                 app-level token (xapp-…)"
            ),
        ),
        ProbeError::Refused { code, .. } => (
            e.to_string(),
            format!("see Slack's documentation of the error code {code}"),
        ),
        ProbeError::Unreachable { .. } => (
            e.to_string(),
            format!(
                "check [slack] api_url ({api_url}), DNS and that outbound HTTPS to Slack is \
                 allowed (proxy, firewall)"
            ),
        ),
    }
}

/// Compare granted scopes with what warroom needs.
pub fn check_scopes(report: &mut Report, granted: Option<&[String]>) {
    let Some(granted) = granted else {
        report.fail(
            SCOPES,
            "Slack did not report the granted scopes (no x-oauth-scopes header)",
            "check that [slack] api_url points at Slack's Web API",
        );
        return;
    };
    let required = manifest::bot_scopes();
    let missing: Vec<&String> = required.iter().filter(|s| !granted.contains(s)).collect();
    let extra: Vec<&String> = granted.iter().filter(|s| !required.contains(s)).collect();
    if missing.is_empty() {
        let mut detail = format!("all {} needed scopes granted", required.len());
        if !extra.is_empty() {
            let names: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
            detail.push_str(&format!(
                " (also granted, not needed: {})",
                names.join(", ")
            ));
        }
        report.pass(SCOPES, detail);
    } else {
        let lines: Vec<String> = missing
            .iter()
            .map(|s| format!("{s} (for {})", manifest::needed_by(s).join(", ")))
            .collect();
        report.fail(
            SCOPES,
            format!("missing {}", lines.join("; ")),
            "add the missing scopes under OAuth & Permissions → Bot Token Scopes (or update the \
             app from deploy/slack-app-manifest.yaml), then reinstall the app to the workspace",
        );
    }
}

async fn check_database(report: &mut Report, config: &Config) {
    let url = config.database.shown_url();
    let fix = "check [database] url (or WARROOM_DATABASE_URL), that its directory exists and is \
               writable by the user warroom runs as, and that the disk is not full";
    let store = match Store::open(&config.database.url).await {
        Ok(s) => s,
        Err(e) => {
            report.fail(DATABASE, format!("{url}: {e:#}"), fix);
            return;
        }
    };
    let writable = store.check_writable().await;
    let version = store.schema_version().await;
    let latest = store.known_migrations().last().map(|m| m.0).unwrap_or(0);
    match (writable, version) {
        (Ok(()), Ok((version, applied))) if version == latest => report.pass(
            DATABASE,
            format!("{url} is writable and migrated ({applied} migrations, latest {version})"),
        ),
        (Ok(()), Ok((version, _))) => report.fail(
            DATABASE,
            format!("{url} is at migration {version}, this warroom's latest is {latest}"),
            "restart warroom: migrations run at start",
        ),
        (Err(e), _) => report.fail(
            DATABASE,
            format!("{url} is not writable: {e}"),
            format!("{fix}; another process may hold a write lock"),
        ),
        (_, Err(e)) => report.fail(
            DATABASE,
            format!("{url}: cannot read the schema version: {e}"),
            fix,
        ),
    }
    match store.backend() {
        Backend::Sqlite => {
            // The lock a running bot holds is not taken here; a network share is refused.
            if let Err(e) = sqlite_location_ok(&store) {
                report.fail(
                    REPLICAS,
                    format!("{e:#}"),
                    "move the database to a local disk, or use PostgreSQL",
                );
            } else {
                report.pass(
                    REPLICAS,
                    "SQLite: one warroom process per database file (a second one refuses to start); for several replicas use PostgreSQL",
                );
            }
        }
        Backend::Postgres => check_postgres(report, &store).await,
    }
    store.close().await;
}

/// Whether the SQLite file may be used at all (it is not on a network file system).
fn sqlite_location_ok(store: &Store) -> anyhow::Result<()> {
    // Taking the instance lock checks the file system; it is given back at once (a running
    // bot holds it: then the check is that the file system was accepted before).
    match store.claim_instance() {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("in use by another warroom") => Ok(()),
        Err(e) => Err(e),
    }
}

/// PostgreSQL: the server's version and who leads.
async fn check_postgres(report: &mut Report, store: &Store) {
    match store.server_version().await {
        Ok(Some((num, name))) if num >= MIN_POSTGRES_VERSION => {
            report.pass(SERVER, format!("PostgreSQL {name}"))
        }
        Ok(Some((_, name))) => report.fail(
            SERVER,
            format!("PostgreSQL {name} is too old"),
            "warroom needs PostgreSQL 13 or newer",
        ),
        Ok(None) => {}
        Err(e) => report.fail(
            SERVER,
            format!("cannot read the server version: {e}"),
            "check the connection",
        ),
    }
    match store.lease_state().await {
        Ok(Some(lease)) if lease.valid => report.pass(
            REPLICAS,
            format!(
                "{} leads (term {}, for {}, renewed {} ago)",
                lease.holder,
                lease.term,
                crate::domain::time::format_duration(
                    chrono::Duration::from_std(lease.held_for).unwrap_or_default()
                ),
                crate::domain::time::format_duration(
                    chrono::Duration::from_std(lease.renewed_ago).unwrap_or_default()
                ),
            ),
        ),
        Ok(Some(lease)) if lease.holder.is_empty() => {
            report.pass(REPLICAS, "no replica has led yet (none running?)")
        }
        Ok(Some(lease)) => report.fail(
            REPLICAS,
            format!(
                "no replica leads: the lease of {} (term {}) lapsed {} ago",
                lease.holder,
                lease.term,
                crate::domain::time::format_duration(
                    chrono::Duration::from_std(lease.renewed_ago).unwrap_or_default()
                )
            ),
            "start a replica (warroom run); if replicas run, check their logs and that they reach the database",
        ),
        Ok(None) => {}
        Err(e) => report.fail(REPLICAS, format!("cannot read the lease: {e}"), "check the connection"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_scope_is_named_with_what_needs_it() {
        let mut report = Report::default();
        let granted: Vec<String> = manifest::bot_scopes()
            .into_iter()
            .filter(|s| s != "pins:write")
            .collect();
        check_scopes(&mut report, Some(&granted));
        let text = report.to_string();
        assert!(
            text.contains("✗ bot scopes: missing pins:write (for pins.add)"),
            "{text}"
        );
        assert!(!report.healthy());
    }

    #[test]
    fn extra_scopes_are_mentioned_but_pass() {
        let mut report = Report::default();
        let mut granted = manifest::bot_scopes();
        granted.push("reactions:write".into());
        check_scopes(&mut report, Some(&granted));
        assert!(report.healthy());
        assert!(report.to_string().contains("not needed: reactions:write"));
    }

    #[test]
    fn token_shapes_are_checked_before_calling_slack() {
        assert!(token_shape(None, BOT_TOKEN_VAR, "xoxb-").is_err());
        let (problem, _) = token_shape(Some("xapp-1-x"), BOT_TOKEN_VAR, "xoxb-").unwrap_err();
        assert!(problem.contains("does not start with xoxb-"), "{problem}");
        assert!(
            !problem.contains("xapp-1-x"),
            "the token must not be echoed"
        );
    }
}
