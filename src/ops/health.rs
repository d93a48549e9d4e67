//! The optional ops listener (`[server] listen`): plain HTTP for probes and scrapers.
//!
//! - `/healthz`: the process is up and serving (liveness).
//! - `/readyz`: a Socket Mode connection is up *and* the database takes writes
//!   (readiness, checked at most once a second); 503 with the reason otherwise.
//! - `/metrics`: [`Metrics`] plus gauges read from the database at scrape time.
//!
//! It binds before warroom connects to Slack, so an orchestrator sees the process alive
//! while it connects; it is not a Slack endpoint and should stay on a private interface.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::Severity;
use crate::metrics::{Metrics, SocketGauges, StoreGauges};
use crate::slack::socket::SocketStatus;
use crate::store::Store;

/// How long a readiness or scrape may wait on the database (probes time out at about 1 s).
const DB_CHECK_TIMEOUT: Duration = Duration::from_millis(900);

/// How long one database check answers `/readyz` for.
const DB_CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the endpoints read.
#[derive(Clone)]
pub struct OpsState {
    pub store: Store,
    pub socket: Arc<SocketStatus>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<DatabaseReadiness>,
}

/// The database half of readiness, answered from a check at most [`DB_CHECK_EVERY`] old.
/// A check takes the write lock on the one database connection, which the acks wait for
/// too: a probe flood costs one check a second, not one per request. Probes arriving
/// while a check runs wait for it and share its answer.
#[derive(Debug, Default)]
pub struct DatabaseReadiness {
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, Result<(), String>)>>,
}

impl DatabaseReadiness {
    async fn answer(&self, store: &Store, metrics: &Metrics) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = last.as_ref() {
            if at.elapsed() < DB_CHECK_EVERY {
                return answer.clone();
            }
        }
        metrics.readiness_database_checked();
        let answer = match tokio::time::timeout(DB_CHECK_TIMEOUT, store.check_writable()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("database not writable: {e}")),
            Err(_) => Err(format!(
                "database not writable: no write lock within {DB_CHECK_TIMEOUT:?}"
            )),
        };
        *last = Some((tokio::time::Instant::now(), answer.clone()));
        answer
    }
}

/// A running ops listener; it stops when stopped or dropped (e.g. when the bot fails to
/// start after binding it).
pub struct OpsServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl OpsServer {
    /// Bind `addr` and serve until [`OpsServer::stop`].
    pub async fn start(addr: SocketAddr, state: OpsState) -> anyhow::Result<OpsServer> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on [server] listen = \"{addr}\""))?;
        let addr = listener
            .local_addr()
            .context("cannot read the ops listener's address")?;
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(state);
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "ops listener failed");
            }
        });
        tracing::info!(%addr, "ops listener serving /healthz, /readyz and /metrics");
        Ok(OpsServer {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The bound address (the real port when the config said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("ops listener did not stop in 5s");
            }
        }
    }
}

impl Drop for OpsServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".into())
}

async fn readyz(State(state): State<OpsState>) -> Response {
    let connected = state.socket.is_connected();
    let db = state.readiness.answer(&state.store, &state.metrics).await;
    let mut problems = Vec::new();
    if !connected {
        problems.push(match state.socket.problem() {
            Some(why) => format!("Socket Mode not connected: {why}"),
            None => "Socket Mode not connected".to_string(),
        });
    }
    if let Err(e) = db {
        problems.push(e);
    }
    if problems.is_empty() {
        text(StatusCode::OK, "ready\n".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let store = match tokio::time::timeout(DB_CHECK_TIMEOUT, store_gauges(&state.store)).await {
        Ok(Ok(g)) => Some(g),
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "metrics: cannot read the database gauges");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the database gauges timed out");
            None
        }
    };
    let socket = SocketGauges {
        live_connections: state.socket.live_connections() as u64,
        disconnects: state.socket.disconnects.load(Ordering::SeqCst),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(store.as_ref(), socket),
    )
        .into_response()
}

async fn store_gauges(store: &Store) -> anyhow::Result<StoreGauges> {
    let open = crate::store::incidents::list(store.db(), true).await?;
    let open_incidents = Severity::ALL
        .iter()
        .map(|sev| {
            // Real incidents only: a drill is a rehearsal, not an incident to alert on.
            let n = open
                .iter()
                .filter(|r| r.incident.severity == *sev && !r.incident.id.is_drill())
                .count() as u64;
            (format!("sev{}", sev.level()), n)
        })
        .collect();
    let inbox_backlog = u64::try_from(store.inbox_backlog().await?).unwrap_or(0);
    Ok(StoreGauges {
        open_incidents,
        inbox_backlog,
    })
}
