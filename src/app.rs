//! `App::build(config)`: the one way to assemble warroom, used by `main`, the demo and the
//! tests. Shutdown is passed in, never a process exit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::{Config, Secrets, APP_TOKEN_VAR, BOT_TOKEN_VAR};
use crate::service::{Intake, Service};
use crate::slack::socket::{SocketMode, SocketStatus};
use crate::slack::web::{build_client, SlackError, SlackWeb};
use crate::store::Store;

/// rustls needs exactly one process-wide crypto provider; both ring and aws-lc-rs are linked.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running bot.
pub struct App {
    pub service: Arc<Service>,
    socket: SocketMode,
    worker: JoinHandle<()>,
    stop_worker: watch::Sender<bool>,
}

impl App {
    /// Open the database, check both tokens with Slack, connect Socket Mode, start the worker.
    pub async fn build(
        config: Config,
        secrets: Secrets,
        clock: SharedClock,
    ) -> anyhow::Result<App> {
        install_crypto_provider();
        let config = Arc::new(config);
        let store = Store::open(&config.database.url).await?;
        let client = build_client(&config.slack.api_url, config.slack.proactive_rate_limits)?;
        let web = SlackWeb::new(client.clone(), &secrets.bot_token);
        let bot = web
            .auth_test()
            .await
            .map_err(|e| token_error(BOT_TOKEN_VAR, e))?;
        tracing::info!(bot_user = %bot.user_id, team = %bot.team_id, "Slack bot token accepted");
        let service = Service::new(store, web, clock, config.clone(), bot.clone());
        let socket = SocketMode::start(
            client,
            &secrets.app_token,
            Arc::new(Intake(service.clone())),
            bot.user_id.clone(),
            config.slack.socket_connections,
        )
        .await
        .map_err(|e| token_error(APP_TOKEN_VAR, e))?;
        let (stop_worker, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(service.clone().run_worker(stop_rx));
        Ok(App {
            service,
            socket,
            worker,
            stop_worker,
        })
    }

    pub fn socket_status(&self) -> &Arc<SocketStatus> {
        &self.socket.status
    }

    /// Run until `shutdown` completes, then stop taking envelopes, let the worker finish the
    /// event in hand, and close the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        shutdown.await;
        self.stop().await
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        tracing::info!("shutting down: no new envelopes, finishing in-flight work");
        self.socket.shutdown().await;
        let _ = self.stop_worker.send(true);
        if tokio::time::timeout(Duration::from_secs(20), self.worker)
            .await
            .is_err()
        {
            tracing::warn!("worker did not finish in 20s; unprocessed events stay in the inbox");
        }
        self.service.store.close().await;
        Ok(())
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

/// Wait for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Open the store for the operator commands (no Slack needed).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database.url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database.url))
}
