//! The `warroom` command line: run the bot, check a config, read the database, play the demo.
//!
//! It lives in the library, not in `src/main.rs`, so that the bot's async code is compiled
//! once: an async fn's future is instantiated in every crate that awaits it, and a release
//! build shares no instantiations between crates, so with the runtime's `block_on` in the
//! binary crate most of the service was compiled, and shipped, a second time (BENCHMARKS.md,
//! "build").

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::{self, App};
use crate::clock::SystemClock;
use crate::config::{Config, Secrets};
use crate::domain::report as report_period;
use crate::domain::IncidentId;
use crate::postmortem::{self, Format};
use crate::report::managers::{self, ReportFormat};
use crate::{demo, ops, report, store};

#[derive(Parser)]
#[command(
    name = "warroom",
    version,
    about = "Incident war rooms in Slack for teams on AWS"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Cmd,
}

/// The config file, for the subcommands that read one: defined once, flattened into each
/// (`warroom run --config F`, or `WARROOM_CONFIG=F warroom run`).
#[derive(Args)]
struct ConfigArg {
    #[arg(
        id = "config",
        long = "config",
        value_name = "CONFIG",
        env = "WARROOM_CONFIG"
    )]
    path: PathBuf,
}

impl ConfigArg {
    fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(&self.path)?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Connect to Slack (Socket Mode) and serve /incident. Tokens come from SLACK_APP_TOKEN
    /// and SLACK_BOT_TOKEN.
    Run {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Check a deployment live: both Slack tokens, the granted scopes, a Socket Mode
    /// connection, the database. Prints a checklist; exits non-zero when a check fails.
    Doctor {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Copy the database to FILE, consistently, while the bot may be running (restore: stop
    /// the bot and put FILE in the database's place). On PostgreSQL: pg_dump, when on PATH.
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        /// Where to write the copy; must not exist yet.
        #[arg(long)]
        out: PathBuf,
    },
    /// Copy every table of one database into an empty PostgreSQL database, then compare
    /// the row counts: how a SQLite deployment moves to several replicas. Stop the bot
    /// first (what it records meanwhile would not be copied).
    MigrateDb {
        /// The database to copy (sqlite://path/to/warroom.db).
        #[arg(long)]
        from: String,
        /// The empty target (postgres://user@host:5432/database; the password from
        /// PGPASSWORD). Migrated first.
        #[arg(long)]
        to: String,
    },
    /// Validate a config file without connecting to anything.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List incidents from the database (open ones unless --all).
    Incidents {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        all: bool,
    },
    /// Print one incident's full timeline from the database.
    Timeline {
        /// Incident number (12 or #12; a drill: drill-3 or -3).
        #[arg(allow_hyphen_values = true, value_parser = parse_incident_id)]
        id: IncidentId,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write one incident's postmortem draft: Markdown (as uploaded to Slack) or a
    /// self-contained HTML page.
    Postmortem {
        /// Incident number (12 or #12; a drill: drill-3 or -3).
        #[arg(allow_hyphen_values = true, value_parser = parse_incident_id)]
        id: IncidentId,
        #[command(flatten)]
        config: ConfigArg,
        /// Write the draft here instead of to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// md or html.
        #[arg(long, default_value = "md")]
        format: Format,
    },
    /// The managers' report over real incidents opened in a period (drills left out):
    /// counts by severity, route, AWS service and week; medians and 90th percentiles of the
    /// times to detect, engage, escalate, mitigate and resolve and of AWS's first response;
    /// incidents without a postmortem draft; open action items by owner and age.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        /// Start: a period back from now (90d, 12w), a date (2026-10-01, UTC) or a time
        /// (2026-10-01T09:00:00Z).
        #[arg(long, default_value = "90d")]
        since: String,
        /// End (excluded), in the same forms; now by default.
        #[arg(long)]
        until: Option<String>,
        /// md, html, csv or json.
        #[arg(long, default_value = "md")]
        format: ReportFormat,
        /// Write the report here instead of to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The events warroom set aside because they kept failing: `--failed` lists them with
    /// their errors, `--retry ID` puts one back in the queue (the running bot applies it
    /// within seconds, or at its next start).
    Inbox {
        #[command(flatten)]
        config: ConfigArg,
        /// List the events set aside.
        #[arg(long, conflicts_with = "retry")]
        failed: bool,
        /// Put the set-aside event with this id back in the queue.
        #[arg(long, value_name = "ID")]
        retry: Option<i64>,
    },
    /// Start a drill: a rehearsal incident from a synthetic alarm on an alarm route. The
    /// request is recorded in the database; the running bot (whichever replica leads)
    /// opens it within seconds, as for `/incident drill`. Retrying with the same --key opens
    /// one drill.
    Drill {
        #[command(flatten)]
        config: ConfigArg,
        /// The `[[alarms.route]]` to rehearse (`default` for the default route).
        #[arg(long)]
        route: String,
        /// Severity 1-4 (defaults to the route's).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
        sev: Option<u8>,
        /// Open a real AWS Support case when asked for (allowed only when --as is a member
        /// of `[escalation] support_usergroup`; checked by the bot).
        #[arg(long)]
        real_case: bool,
        /// The Slack user starting the drill (U…): invited to its channel, and checked
        /// for --real-case.
        #[arg(long = "as", value_name = "USER")]
        as_user: String,
        /// The request's idempotency key (printed when not given): the same key again opens
        /// no second drill.
        #[arg(long)]
        key: Option<String>,
    },
    /// Play a scripted incident against the built-in Slack emulator: no Slack workspace or
    /// AWS account needed.
    Demo {
        /// Keep the database here instead of a temporary directory.
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// Log targets that carry secrets below `info`, capped at `info` whatever `RUST_LOG` says
/// (the exact target too, so a directive naming it cannot lift the cap): secrets never
/// reach the logs. tungstenite traces the Socket Mode handshake request, whose URL holds
/// the connection's one-use ticket; the AWS SDK's runtime prints the identity it resolved
/// (the access key id) and SigV4 its signing inputs at debug.
const CAPPED_AT_INFO: [&str; 7] = [
    "tungstenite",
    "tungstenite::handshake::client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_sigv4",
    "aws_config",
    "aws_credential_types",
];

fn init_logs(format: LogFormat, default: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    for target in CAPPED_AT_INFO {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The `warroom` binary's whole `main`: parse, set up logging, run one command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(
        cli.command,
        Cmd::Demo { .. }
            | Cmd::Incidents { .. }
            | Cmd::Timeline { .. }
            | Cmd::CheckConfig { .. }
            | Cmd::Postmortem { .. }
            | Cmd::Report { .. }
            | Cmd::Doctor { .. }
            | Cmd::Backup { .. }
            | Cmd::MigrateDb { .. }
            | Cmd::Inbox { .. }
            | Cmd::Drill { .. }
    );
    init_logs(
        cli.log_format,
        if quiet { "warn" } else { "info,warroom=info" },
    );
    // One thread runs every task. The work is a chain of hand-offs (socket → inbox commit
    // on sqlx's SQLite thread → ack → worker), not parallel computation, and on a busy
    // 2-core machine a second worker thread made ingest slower and acks later, and added
    // a malloc arena (BENCHMARKS.md, finding 13). SQLite keeps its own thread.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Run { config } => {
            let config = config.load()?;
            let secrets = Secrets::from_env()?;
            let shutdown = app::shutdown_signal();
            let app = App::build(config, secrets, Arc::new(SystemClock)).await?;
            // Start-up is over: what it alone touched need not stay resident
            // (`WARROOM_STARTUP_PAGES=keep` leaves it, to compare).
            if std::env::var("WARROOM_STARTUP_PAGES").as_deref() != Ok("keep") {
                let released = crate::startup_pages::release();
                tracing::debug!(
                    program_mib = released.program_bytes >> 20,
                    heap_trimmed = released.heap_trimmed,
                    "start-up pages handed back"
                );
            }
            app.run_until(shutdown).await?;
            tracing::info!("stopped");
            Ok(())
        }
        Cmd::Doctor { config } => {
            println!("warroom doctor: checking {}", config.path.display());
            let report = ops::doctor::run(&config.path).await;
            print!("{report}");
            if report.healthy() {
                Ok(())
            } else {
                Err(anyhow::anyhow!("doctor found problems (see the ✗ lines)"))
            }
        }
        Cmd::Backup { config, out } => {
            let config = config.load()?;
            let store = app::open_store(&config).await?;
            store.backup_to(&out).await?;
            store.close().await;
            println!("{} → {}: ok", config.database.shown_url(), out.display());
            Ok(())
        }
        Cmd::MigrateDb { from, to } => {
            let (shown_from, shown_to) = (
                crate::config::redact_url(&from),
                crate::config::redact_url(&to),
            );
            let source = store::Store::open(&from)
                .await
                .with_context(|| format!("cannot open {shown_from}"))?;
            let target = store::Store::open(&to)
                .await
                .with_context(|| format!("cannot open {shown_to}"))?;
            let report = store::copy::copy_all(&source, &target)
                .await
                .with_context(|| format!("cannot copy {shown_from} to {shown_to}"))?;
            for (table, rows) in &report.tables {
                println!("{table:<24} {rows:>8} rows copied, counts match");
            }
            println!("{shown_from} → {shown_to}: ok");
            source.close().await;
            target.close().await;
            Ok(())
        }
        Cmd::CheckConfig { config } => {
            let path = config.path.display().to_string();
            let config = config.load()?;
            app::load_templates(&config)?;
            println!("{path}: ok");
            Ok(())
        }
        Cmd::Incidents { config, all } => {
            let config = config.load()?;
            let store = app::open_store(&config).await?;
            let records = store::incidents::list(store.db(), !all).await?;
            let leads: Vec<String> = records
                .iter()
                .filter_map(|r| r.incident.lead.as_ref().map(|l| l.as_str().to_string()))
                .collect();
            let names = store::people::known_names(store.db(), &leads).await?;
            print_report(&report::incidents(&records, &names, chrono::Utc::now()));
            Ok(())
        }
        Cmd::Timeline { id, config } => {
            let config = config.load()?;
            let store = app::open_store(&config).await?;
            let record = store::incidents::get(store.db(), id)
                .await
                .with_context(|| format!("no incident {id} in {}", config.database.shown_url()))?;
            let entries = store::timeline::of_incident(store.db(), record.incident.id).await?;
            let names = store::people::known_names(
                store.db(),
                &report::people_in_timeline(&record, &entries),
            )
            .await?;
            print_report(&report::timeline(&record, &entries, &names));
            Ok(())
        }
        Cmd::Postmortem {
            id,
            config,
            out,
            format,
        } => {
            let config = config.load()?;
            let templates = app::load_templates(&config)?;
            let store = app::open_store(&config).await?;
            let source = store::postmortem_source(store.db(), id)
                .await
                .with_context(|| format!("no incident {id} in {}", config.database.shown_url()))?;
            let options = postmortem::Options::from_config(&config);
            let draft = postmortem::draft_with(
                &templates,
                &source,
                &options,
                chrono::Utc::now(),
                format,
                postmortem::type_template(&config, &source.record),
            )?;
            match out {
                Some(path) => {
                    std::fs::write(&path, draft)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    println!("incident {id} → {}: ok", path.display());
                }
                None => print_report(&draft),
            }
            Ok(())
        }
        Cmd::Report {
            config,
            since,
            until,
            format,
            out,
        } => {
            let config = config.load()?;
            let now = chrono::Utc::now();
            let bound = |what: &str, text: &str| {
                report_period::parse_bound(text, now).map_err(|e| anyhow::anyhow!("--{what}: {e}"))
            };
            let period = report_period::Period {
                since: bound("since", &since)?,
                until: match &until {
                    Some(text) => bound("until", text)?,
                    None => now,
                },
            };
            if period.since >= period.until {
                anyhow::bail!("--since must be before --until");
            }
            let store = app::open_store(&config).await?;
            let figures = managers::of_period(store.db(), period, &config.escalation).await?;
            store.close().await;
            let text = managers::render(&figures, format, now)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    println!(
                        "report of {} incident(s) → {}: ok",
                        figures.incidents,
                        path.display()
                    );
                }
                None => print_report(&text),
            }
            Ok(())
        }
        Cmd::Inbox {
            config,
            failed,
            retry,
        } => {
            let config = config.load()?;
            let store = app::open_store(&config).await?;
            match (failed, retry) {
                (_, Some(id)) => {
                    // Not fenced: an operator's replay goes in whichever replica leads.
                    let mut tx = store.begin().await?;
                    let back = store::inbox::retry(&mut tx, id).await?;
                    tx.commit().await?;
                    if !back {
                        anyhow::bail!(
                            "event {id} is not set aside; `warroom inbox --failed` lists those that are"
                        );
                    }
                    println!("event {id} is back in the queue: the running bot applies it within seconds (or at its next start)");
                }
                (true, None) => print_report(&report::failed_events(
                    &store::inbox::failed(store.db()).await?,
                )),
                (false, None) => anyhow::bail!(
                    "say what to do: --failed lists the events set aside, --retry ID replays one"
                ),
            }
            store.close().await;
            Ok(())
        }
        Cmd::Drill {
            config,
            route,
            sev,
            real_case,
            as_user,
            key,
        } => {
            let config = config.load()?;
            let routes = &config.alarms.routes;
            if routes.by_name(&route).is_none() {
                let known: Vec<&str> = std::iter::once(routes.default.name.as_str())
                    .chain(routes.routes.iter().map(|r| r.name.as_str()))
                    .collect();
                anyhow::bail!(
                    "there is no alarm route called {route:?}; the routes are: {}",
                    known.join(", ")
                );
            }
            let user =
                crate::domain::UserId::parse(&as_user).map_err(|e| anyhow::anyhow!("--as: {e}"))?;
            let key = key.unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
                    std::process::id()
                )
            });
            let request = drill_request(&route, sev, real_case, &user, &key, chrono::Utc::now());
            let store = app::open_store(&config).await?;
            let payload = serde_json::to_string(&request.1)?;
            // Not fenced: like `inbox --retry`, it only records; the leader applies it.
            let fresh = store
                .record_inbound(&request.0, &payload, chrono::Utc::now())
                .await?;
            store.close().await;
            if fresh {
                println!("drill requested (key {key}): the running bot opens it within seconds; `warroom incidents` lists it");
            } else {
                println!("drill {key} was already requested; nothing new recorded");
            }
            Ok(())
        }
        Cmd::Demo { db } => demo::run(db).await,
    }
}

/// `12`, `#12`, `drill-3`, `-3`.
fn parse_incident_id(s: &str) -> Result<IncidentId, String> {
    IncidentId::parse(s)
        .ok_or_else(|| format!("{s:?} is not an incident number (12, #12, drill-3 or -3)"))
}

/// What `warroom drill` records in the inbox: the same command `/incident drill` records,
/// with no `response_url` (nobody to answer in Slack; the CLI prints instead), keyed by the
/// request's key.
pub fn drill_request(
    route: &str,
    sev: Option<u8>,
    real_case: bool,
    user: &crate::domain::UserId,
    key: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> (String, crate::slack::inbound::Inbound) {
    let mut text = format!("drill {route}");
    if let Some(n) = sev {
        text.push_str(&format!(" sev{n}"));
    }
    if real_case {
        text.push_str(" --real-case");
    }
    let dedupe_key = format!("cli-drill:{key}");
    let inv = crate::slack::inbound::CommandInvocation {
        user: user.as_str().to_string(),
        channel: crate::domain::ChannelId::new(""),
        text,
        response_url: String::new(),
        trigger_id: dedupe_key.clone(),
        at,
    };
    (dedupe_key, crate::slack::inbound::Inbound::Command(inv))
}

/// Print recorded text: to a terminal without its control characters (an alarm or a person
/// could have written escape sequences), to a pipe or file as recorded.
fn print_report(text: &str) {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        print!("{}", report::for_terminal(text));
    } else {
        print!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subcommand that reads a config takes `--config F` and `--config=F` after its
    /// name, as before the flag was defined once.
    #[test]
    fn every_config_subcommand_takes_the_config_flag() {
        let cases: [&[&str]; 10] = [
            &["run"],
            &["doctor"],
            &["backup", "--out", "b.db"],
            &["check-config"],
            &["incidents", "--all"],
            &["timeline", "12"],
            &["postmortem", "#12"],
            &["report"],
            &["inbox", "--failed"],
            &["drill", "--route", "default", "--as", "U1"],
        ];
        for args in cases {
            for flag in [&["--config", "w.toml"][..], &["--config=w.toml"][..]] {
                let argv: Vec<&str> = ["warroom"]
                    .iter()
                    .chain(args)
                    .chain(flag)
                    .copied()
                    .collect();
                let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
                let config = match cli.command {
                    Cmd::Run { config }
                    | Cmd::Doctor { config }
                    | Cmd::Backup { config, .. }
                    | Cmd::CheckConfig { config }
                    | Cmd::Incidents { config, .. }
                    | Cmd::Timeline { config, .. }
                    | Cmd::Postmortem { config, .. }
                    | Cmd::Report { config, .. }
                    | Cmd::Inbox { config, .. }
                    | Cmd::Drill { config, .. } => config,
                    Cmd::MigrateDb { .. } | Cmd::Demo { .. } => panic!("{argv:?}: wrong command"),
                };
                assert_eq!(config.path, PathBuf::from("w.toml"), "{argv:?}");
            }
        }
    }

    #[test]
    fn the_config_flag_is_required_and_not_taken_where_unused() {
        if std::env::var_os("WARROOM_CONFIG").is_none() {
            let err = Cli::try_parse_from(["warroom", "run"])
                .err()
                .map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("--config <CONFIG>")));
        }
        assert!(Cli::try_parse_from(["warroom", "demo", "--config", "w.toml"]).is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
