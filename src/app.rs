//! `App::build(config)`: the one way to assemble warroom, used by `main`, the demo and the
//! tests. Shutdown is passed in, never a process exit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::aws::AwsAccess;
use crate::clock::SharedClock;
use crate::config::{Config, Secrets, APP_TOKEN_VAR, BOT_TOKEN_VAR};
use crate::lease::{replica_id, Gate, LeaseLoop, Role};
use crate::metrics::Metrics;
use crate::ops::health::{OpsServer, OpsState};
use crate::postmortem::Templates;
use crate::service::{Intake, Service};
use crate::slack::socket::{SocketMode, SocketOptions, SocketStatus};
use crate::slack::web::{build_client, SlackError, SlackWeb};
use crate::store::{Backend, Fence, InstanceLock, OpenOptions, Store};
pub use crate::tls::install_crypto_provider;

/// A running bot: one replica.
pub struct App {
    pub service: Arc<Service>,
    socket: SocketMode,
    /// Starts the leader's tasks when this replica leads and stops them when it no longer
    /// does (on SQLite: started at once, for good).
    leader: JoinHandle<()>,
    /// PostgreSQL: takes and renews the lease.
    lease: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    /// This replica's name in the lease (and PostgreSQL's `application_name`).
    pub replica: String,
    /// This bot's counters (`/metrics`).
    pub metrics: Arc<Metrics>,
    /// The `[server] listen` endpoints, when configured.
    ops: Option<OpsServer>,
    /// SQLite: this process's hold on the database file.
    _instance: Option<InstanceLock>,
}

impl App {
    /// Open the database, check both tokens with Slack, connect Socket Mode, and lead or
    /// follow: on SQLite this process leads at once; on PostgreSQL the replica that holds
    /// the lease runs the worker, the scheduler and the pollers (the alarm poller when
    /// `[alarms]` is configured; AWS credentials from the SDK's default chain).
    pub async fn build(
        config: Config,
        secrets: Secrets,
        clock: SharedClock,
    ) -> anyhow::Result<App> {
        Self::build_with_aws(config, secrets, clock, AwsAccess::DefaultChain).await
    }

    /// [`App::build`] with the AWS credentials chosen by the caller: the demo and the tests
    /// give fixed keys for their local AWS fakes.
    pub async fn build_with_aws(
        config: Config,
        secrets: Secrets,
        clock: SharedClock,
        aws_access: AwsAccess,
    ) -> anyhow::Result<App> {
        install_crypto_provider();
        // A broken custom postmortem template stops the start, not a later draft.
        let templates = Arc::new(load_templates(&config)?);
        let config = Arc::new(config);
        let replica = replica_id();
        let failover = config.database.failover_after;
        let store = Store::open_with(
            &config.database.url,
            &OpenOptions {
                application_name: format!("warroom {replica}"),
                idle_transaction_timeout: failover / 3,
            },
        )
        .await?;
        // A read-only database would be opened read-only without complaint; then every
        // envelope would go unacked until Slack gives up on it. Refuse to start instead.
        store.check_writable().await.with_context(|| {
            format!(
                "the database {} is not writable (read-only file or file system?)",
                config.database.shown_url()
            )
        })?;
        // One process per SQLite file; a file on a network share is refused.
        let instance = store.claim_instance()?;
        let metrics = Arc::new(Metrics::default());
        let status = Arc::new(SocketStatus::default());
        // Up before Slack is reached, so probes see the process alive (and not ready) while
        // it connects.
        let ops = match config.server.listen {
            Some(addr) => Some(
                OpsServer::start(
                    addr,
                    OpsState {
                        store: store.clone(),
                        socket: status.clone(),
                        metrics: metrics.clone(),
                        readiness: Arc::default(),
                    },
                )
                .await?,
            ),
            None => None,
        };
        let client = build_client(&config.slack.api_url, config.slack.proactive_rate_limits)?;
        let web = SlackWeb::new(client.clone(), &secrets.bot_token)
            .with_reply_client(crate::slack::web::build_reply_client()?)
            .with_post_pacing(config.slack.proactive_rate_limits)
            .with_metrics(metrics.clone());
        let bot = web
            .auth_test()
            .await
            .map_err(|e| token_error(BOT_TOKEN_VAR, e))?;
        tracing::info!(bot_user = %bot.user_id, team = %bot.team_id, replica = %replica, "Slack bot token accepted");
        // Clients only; nothing is called (and no credentials resolved) until needed.
        let aws = if config.alarms.enabled
            || config.events.is_some()
            || config.escalation.support_api
            || config.diagnostics.configured
        {
            Some(
                crate::aws::Aws::connect(&config, &aws_access)
                    .await
                    .with_metrics(metrics.clone()),
            )
        } else {
            None
        };
        let (stop, stop_rx) = watch::channel(false);
        // Who leads: SQLite's one process for good; on PostgreSQL, the lease.
        let (gate, service_store, roles, lease) = match store.backend() {
            Backend::Sqlite => {
                metrics.leads_alone();
                let (_, roles) = watch::channel(Role::Leader { term: 1 });
                (Gate::always_open(), store.clone(), roles, None)
            }
            Backend::Postgres => {
                let fence = Arc::new(Fence::new(&replica));
                let gate = Gate::closed();
                let (lease, roles) = LeaseLoop::new(
                    store.clone(),
                    fence.clone(),
                    gate.clone(),
                    failover,
                    metrics.clone(),
                );
                if let Err(e) = lease.try_lead_now().await {
                    tracing::warn!(error = %format!("{e:#}"), "cannot look at the lease yet; following until it can");
                }
                let task = tokio::spawn(lease.run(stop_rx.clone()));
                (gate, store.with_fence(fence), roles, Some(task))
            }
        };
        let service = Service::new(
            service_store,
            web.with_gate(gate.clone()),
            clock,
            config.clone(),
            bot.clone(),
            templates,
            metrics.clone(),
            aws,
            gate,
        );
        let socket = SocketMode::start(
            client,
            &secrets.app_token,
            Arc::new(Intake(service.clone(), metrics.clone())),
            bot.user_id.clone(),
            status,
            metrics.clone(),
            SocketOptions::new(config.slack.socket_connections),
        )
        .await
        .map_err(|e| token_error(APP_TOKEN_VAR, e))?;
        if *roles.borrow() != Role::Follower {
            // Leading from the start (SQLite's one process, or a replica that found the
            // lease free): a failure to schedule stops the start, as it always did.
            crate::service::ensure_summary_scheduled(service.ctx()).await?;
            crate::service::arm_all_nudges(service.ctx()).await?;
        }
        let leader = tokio::spawn(lead_when_leading(service.clone(), roles, stop_rx));
        Ok(App {
            service,
            socket,
            leader,
            lease,
            stop,
            replica,
            metrics,
            ops,
            _instance: instance,
        })
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served, when `[server] listen` is set.
    pub fn ops_addr(&self) -> Option<std::net::SocketAddr> {
        self.ops.as_ref().map(OpsServer::addr)
    }

    pub fn socket_status(&self) -> &Arc<SocketStatus> {
        &self.socket.status
    }

    /// Run until `shutdown` completes, then stop taking envelopes, let the worker finish the
    /// event in hand, give the lease up and close the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        shutdown.await;
        self.stop().await
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        tracing::info!("shutting down: no new envelopes, finishing in-flight work");
        self.socket.shutdown().await;
        let _ = self.stop.send(true);
        if tokio::time::timeout(Duration::from_secs(40), self.leader)
            .await
            .is_err()
        {
            tracing::warn!(
                "the leader's tasks did not finish in 40s; unprocessed events stay in the inbox"
            );
        }
        if let Some(lease) = self.lease {
            let _ = tokio::time::timeout(Duration::from_secs(5), lease).await;
        }
        self.service.ctx().store.close().await;
        if let Some(ops) = self.ops {
            ops.stop().await;
        }
        Ok(())
    }
}

/// The leader's tasks of one term: the worker, the scheduler, the pollers.
struct LeaderTasks {
    stop: watch::Sender<bool>,
    worker: JoinHandle<()>,
    scheduler: JoinHandle<()>,
    /// The CloudWatch alarm poller, when `[alarms]` is configured.
    alarms: Option<JoinHandle<()>>,
    /// The AWS Support correspondence poller (returns at once without the Support API).
    support: JoinHandle<()>,
    /// PostgreSQL: wakes the worker when any replica records an event.
    inbox_listener: Option<JoinHandle<()>>,
    /// The `[events]` SQS consumer, when a queue is configured.
    events: Option<JoinHandle<()>>,
}

impl LeaderTasks {
    fn start(service: &Arc<Service>) -> LeaderTasks {
        let (stop, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(service.clone().run_worker(stop_rx.clone()));
        let events_on = service.ctx().config.events.is_some();
        let alarms = match (
            &service.ctx().aws,
            service.ctx().config.alarms.enabled || events_on,
        ) {
            (Some(aws), true) => Some(tokio::spawn(
                service.clone().run_alarms(aws.clone(), stop_rx.clone()),
            )),
            _ => None,
        };
        let events = match (&service.ctx().aws, events_on) {
            (Some(aws), true) => Some(tokio::spawn(
                service.clone().run_events(aws.clone(), stop_rx.clone()),
            )),
            _ => None,
        };
        let support = tokio::spawn(service.clone().run_support(stop_rx.clone()));
        let scheduler = tokio::spawn(service.clone().run_scheduler(stop_rx));
        let inbox_listener = service.ctx().store.watch_inbox(service.wake_handle());
        LeaderTasks {
            stop,
            worker,
            scheduler,
            alarms,
            support,
            inbox_listener,
            events,
        }
    }

    /// Stop them; the worker finishes the event in hand (a deposed leader's unit of work
    /// fails its fence check and writes nothing).
    async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(listener) = self.inbox_listener {
            listener.abort();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.scheduler).await;
        if let Some(events) = self.events {
            // A message in hand is either recorded (its redelivery is a no-op) or not
            // deleted (SQS hands it out again).
            let _ = tokio::time::timeout(Duration::from_secs(10), events).await;
        }
        if let Some(alarms) = self.alarms {
            let _ = tokio::time::timeout(Duration::from_secs(10), alarms).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.support).await;
        if tokio::time::timeout(Duration::from_secs(20), self.worker)
            .await
            .is_err()
        {
            tracing::warn!("worker did not finish in 20s; unprocessed events stay in the inbox");
        }
    }
}

/// Follow the role: while this replica leads, its leader tasks run (started afresh for each
/// term); when it stops leading, or the app stops, they are stopped.
async fn lead_when_leading(
    service: Arc<Service>,
    mut roles: watch::Receiver<Role>,
    mut stop: watch::Receiver<bool>,
) {
    let mut running: Option<(i64, LeaderTasks)> = None;
    loop {
        let role = *roles.borrow_and_update();
        let term = match role {
            Role::Leader { term } => Some(term),
            Role::Follower => None,
        };
        if running.as_ref().map(|(t, _)| *t) != term {
            if let Some((old, tasks)) = running.take() {
                tracing::info!(term = old, "stopping the leader's tasks");
                tasks.stop().await;
            }
            if let Some(term) = term {
                if service.ctx().store.backend() == Backend::Postgres {
                    // What a new leader makes sure of first (a restart of one process did
                    // it at start). Failures are logged; the tasks run regardless.
                    if let Err(e) = crate::service::ensure_summary_scheduled(service.ctx()).await {
                        tracing::warn!(error = %format!("{e:#}"), "cannot schedule the next summary yet");
                    }
                    if let Err(e) = crate::service::arm_all_nudges(service.ctx()).await {
                        tracing::warn!(error = %format!("{e:#}"), "cannot arm the nudge clocks yet");
                    }
                }
                running = Some((term, LeaderTasks::start(&service)));
            }
        }
        let lease_gone = tokio::select! {
            changed = roles.changed() => changed.is_err(),
            _ = stop.wait_for(|s| *s) => break,
        };
        if lease_gone {
            // No more role changes (SQLite's one process leads for good, or the lease
            // loop ended): as things are until the stop.
            let _ = stop.wait_for(|s| *s).await;
            break;
        }
    }
    if let Some((_, tasks)) = running {
        tasks.stop().await;
    }
}

fn token_error(var: &str, e: SlackError) -> anyhow::Error {
    match e.code() {
        Some(
            code @ ("invalid_auth"
            | "not_authed"
            | "account_inactive"
            | "token_revoked"
            | "not_allowed_token_type"),
        ) => {
            anyhow::anyhow!(
                "{var} was refused by Slack ({code}); check the token in the app's settings"
            )
        }
        _ => anyhow::Error::new(e).context(format!("cannot reach Slack to check {var}")),
    }
}

/// Listen for Ctrl-C (SIGINT) and SIGTERM from now on (call it before `App::build`, so a
/// signal during start-up is not lost); the future completes at the first one. From then on
/// a second signal ends the process at once (exit status 128 + the signal's number), for
/// when a graceful stop takes too long: whatever was acked is already in the database, the
/// rest Slack redelivers.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    let signals = Signals::new();
    async move {
        let mut signals = match signals {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for termination signals; stop with SIGKILL");
                return std::future::pending().await;
            }
        };
        let first = signals.recv().await;
        tracing::info!(
            signal = first.0,
            "stopping gracefully; send the signal again to exit at once"
        );
        tokio::spawn(async move {
            let (name, code) = signals.recv().await;
            tracing::warn!(signal = name, "second signal: exiting at once");
            std::process::exit(code);
        });
    }
}

/// SIGINT and SIGTERM, listened to from creation on (so none is missed between two waits).
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name and the exit status that a second one ends the process with.
    async fn recv(&mut self) -> (&'static str, i32) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => ("SIGINT", 130),
                _ = self.term.recv() => ("SIGTERM", 143),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            ("Ctrl-C", 130)
        }
    }
}

/// The postmortem templates: the shipped ones, overridden from `[postmortem] template_dir`.
pub fn load_templates(config: &Config) -> anyhow::Result<Templates> {
    let templates = Templates::load(config.postmortem.template_dir.as_deref())?;
    for t in &config.incident.types {
        if let Some(name) = &t.postmortem_template {
            templates.check_markdown(name)?;
        }
    }
    let custom = templates.overridden();
    if !custom.is_empty() {
        tracing::info!(templates = ?custom, "using custom postmortem templates");
    }
    Ok(templates)
}

/// Open the store for the operator commands (no Slack needed).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database.url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database.shown_url()))
}
