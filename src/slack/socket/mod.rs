//! Socket Mode: warroom's own client for Slack's WebSocket protocol.
//!
//! `apps.connections.open` (through slack-morphism's Web API client) hands out a one-use
//! WebSocket URL; the connection greets with `hello`, delivers envelopes and is refreshed by
//! Slack every few hours (`disconnect`). This module keeps `[slack] socket_connections`
//! connections open, each in a *slot*:
//!
//! - [`session`]: one connection. Frames are read continuously; each envelope is recorded
//!   (through the inbox's group commit, [`EventSink`]) and acked as soon as its own record
//!   has committed, with a bounded number in flight. Never an ack before the record is
//!   durable; a failed record is not acked, so Slack redelivers.
//! - the slot supervisor (here): opens connections, reconnects with backoff and jitter,
//!   replaces a connection *before* it goes away (on Slack's `disconnect`, or on its own
//!   schedule ahead of Slack's refresh, one slot at a time) so there is no gap.
//! - [`frame`]: the wire format; [`dispatch`]: what each envelope does;
//!   [`translate`]: payloads to [`crate::slack::inbound::Inbound`]; [`status`]: readiness.

mod dispatch;
mod frame;
mod session;
mod status;
mod translate;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

pub use session::Ws;
pub use status::SocketStatus;
pub use translate::{command_invocation, event_callback, translate_event, translate_interaction};

use self::frame::DisconnectReason;
use self::session::{End, Event, Session};
use super::inbound::{CommandInvocation, Inbound};
use super::web::{Client, Outgoing, SlackError};
use crate::backoff::Backoff;
use crate::metrics::Metrics;

/// Where received events go. Implemented by the service.
pub trait EventSink: Send + Sync + 'static {
    /// Record an event durably under `key` (a redelivery has the same key). An error means
    /// "not recorded": the envelope is then not acked and Slack delivers it again.
    fn record(&self, key: String, inbound: Inbound) -> BoxFuture<'_, anyhow::Result<()>>;

    /// Take a slash command: answer at once (usage errors, read-only queries) or record it
    /// for processing. The returned message, if any, is shown to the caller only.
    fn command(&self, inv: CommandInvocation) -> BoxFuture<'_, anyhow::Result<Option<Outgoing>>>;
}

/// How the client behaves; [`SocketOptions::new`] has the production values.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    /// Connections to keep open (`[slack] socket_connections`, 1 to 10).
    pub connections: u32,
    /// After this long without any frame from Slack, send a ping…
    pub ping_interval: Duration,
    /// …and give the connection up if nothing arrives within this after it.
    pub pong_timeout: Duration,
    /// A new connection must say `hello` within this.
    pub hello_timeout: Duration,
    /// Envelopes being recorded at once on one connection; beyond this, reading pauses.
    pub max_in_flight: usize,
    /// How long a retiring connection may take to finish the records it holds.
    pub drain_timeout: Duration,
    /// How long to wait for Slack's answer to our close frame.
    pub close_timeout: Duration,
    /// Each connection is replaced at a random point in this part of the lifetime Slack
    /// announces in `hello`, ahead of Slack's own refresh.
    pub refresh_window: (f64, f64),
}

impl SocketOptions {
    /// Slack's clients ping every few seconds; a dead link is noticed within ten.
    pub fn new(connections: u32) -> SocketOptions {
        SocketOptions {
            connections: connections.max(1),
            ping_interval: Duration::from_secs(5),
            pong_timeout: Duration::from_secs(5),
            hello_timeout: Duration::from_secs(10),
            max_in_flight: 128,
            drain_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(1),
            refresh_window: (0.5, 0.75),
        }
    }
}

/// After Slack's `disconnect`, how long the old connection may keep delivering (Slack
/// closes it about ten seconds after a warning) once its replacement is up.
const SLACK_CLOSE_GRACE: Duration = Duration::from_secs(15);
/// Slack turned Socket Mode off: try again this rarely until it is back.
const LINK_DISABLED_RETRY: Duration = Duration::from_secs(60);
/// A connection that ends sooner than this after its `hello` counts as a failed attempt.
const HEALTHY_AFTER: Duration = Duration::from_secs(1);

/// What every slot and session share.
struct Shared {
    web: Arc<Client>,
    token: SlackApiToken,
    sink: Arc<dyn EventSink>,
    bot_user: String,
    status: Arc<SocketStatus>,
    metrics: Arc<Metrics>,
    options: SocketOptions,
    next_id: AtomicU64,
    /// Held while a slot replaces its connection on its own schedule: one at a time.
    refreshing: tokio::sync::Mutex<()>,
}

impl Shared {
    /// `apps.connections.open`: a fresh one-use WebSocket URL (never logged: it is a ticket).
    async fn connections_open(&self) -> Result<String, SlackError> {
        const METHOD: &str = "apps.connections.open";
        let opened = self
            .web
            .open_session(&self.token)
            .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
            .await;
        self.metrics.slack_call(METHOD, opened.is_ok());
        match opened {
            Ok(res) => Ok(res.url.0.to_string()),
            Err(SlackClientError::ApiError(api)) => Err(SlackError::Api {
                method: METHOD,
                code: api.code,
            }),
            Err(other) => Err(SlackError::Transport {
                method: METHOD,
                detail: format!("{other}").chars().take(200).collect(),
            }),
        }
    }

    /// Open a connection (with `url`, or a fresh one) and wait for its `hello`.
    async fn open(self: &Arc<Self>, url: Option<String>) -> anyhow::Result<Running> {
        let url = match url {
            Some(url) => url,
            None => self.connections_open().await?,
        };
        let hello_timeout = self.options.hello_timeout;
        let host = host_of(&url);
        let ws = tokio::time::timeout(hello_timeout, connect(&url))
            .await
            .context("the WebSocket handshake timed out")?
            .context("cannot open the Socket Mode WebSocket")?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (retire, retire_rx) = mpsc::unbounded_channel();
        let mut task = tokio::spawn(
            Session {
                id,
                host,
                ws,
                shared: self.clone(),
                events: events_tx,
                retire: retire_rx,
            }
            .run(),
        );
        let started = Instant::now();
        let hello = tokio::time::timeout(hello_timeout, async {
            while let Some(event) = events.recv().await {
                if let Event::Hello(hello) = event {
                    return Some(hello);
                }
            }
            None
        })
        .await;
        let hello = match hello {
            Ok(Some(hello)) => hello,
            Ok(None) => {
                let end = (&mut task).await;
                anyhow::bail!("the connection ended before its hello: {end:?}");
            }
            Err(_) => {
                task.abort();
                anyhow::bail!("no hello within {hello_timeout:?}");
            }
        };
        let (early, late) = self.options.refresh_window;
        let refresh_at = hello
            .lifetime
            .map(|lifetime| started + lifetime.mul_f64(rand::random_range(early..=late)));
        Ok(Running {
            task,
            retire,
            events,
            started,
            refresh_at,
        })
    }
}

/// Open a Socket Mode WebSocket at `url` the way the client does: `wss://` (Slack) through
/// rustls on ring with the system's roots, `ws://` (the emulator) in the clear, Nagle's
/// algorithm off. `warroom doctor`'s probe connects through this too. The URL carries a
/// one-use ticket: neither it nor an error from here names more than its host.
pub async fn connect(url: &str) -> anyhow::Result<Ws> {
    let tls = if url.starts_with("wss://") {
        Some(tls_config()?)
    } else {
        None
    };
    session::connect(url, tls).await
}

/// The host a Socket Mode URL points at: what the logs may say about it (the rest of the
/// URL is a ticket).
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_else(|| "?".to_string())
}

/// rustls with ring (the one crypto provider of the build) and the system's roots, built
/// once per process.
fn tls_config() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = TLS.get() {
        return Ok(config.clone());
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        anyhow::bail!(
            "no usable TLS root certificates on this system ({} unusable, {} errors)",
            unusable,
            found.errors.len()
        );
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TLS.get_or_init(|| Arc::new(config)).clone())
}

/// A connection that has said `hello`, as its slot sees it.
struct Running {
    task: JoinHandle<End>,
    /// When the session should retire (replacement up, or stopping).
    retire: mpsc::UnboundedSender<Instant>,
    events: mpsc::UnboundedReceiver<Event>,
    started: Instant,
    /// When this slot replaces the connection on its own, ahead of Slack's refresh.
    refresh_at: Option<Instant>,
}

impl Running {
    fn retire_at(&self, at: Instant) {
        let _ = self.retire.send(at);
    }
}

/// A running Socket Mode client.
pub struct SocketMode {
    pub status: Arc<SocketStatus>,
    stop: watch::Sender<bool>,
    slots: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl SocketMode {
    /// Check the app token (one `apps.connections.open`, so a bad token fails here with a
    /// clear error instead of retrying forever in the background), then keep
    /// `options.connections` connections open until [`SocketMode::shutdown`].
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        web: Arc<Client>,
        app_token: &secrecy::SecretString,
        sink: Arc<dyn EventSink>,
        bot_user_id: String,
        status: Arc<SocketStatus>,
        metrics: Arc<Metrics>,
        options: SocketOptions,
    ) -> Result<SocketMode, SlackError> {
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose_secret().to_string()));
        let shared = Arc::new(Shared {
            web,
            token,
            sink,
            bot_user: bot_user_id,
            status: status.clone(),
            metrics,
            options,
            next_id: AtomicU64::new(1),
            refreshing: tokio::sync::Mutex::new(()),
        });
        let first = shared.connections_open().await?;
        let (stop, stop_rx) = watch::channel(false);
        let slots = (0..shared.options.connections)
            .map(|slot| {
                let url = (slot == 0).then(|| first.clone());
                tokio::spawn(run_slot(shared.clone(), url, stop_rx.clone()))
            })
            .collect();
        Ok(SocketMode {
            status,
            stop,
            slots: tokio::sync::Mutex::new(slots),
        })
    }

    /// Close every connection after acking what is already recorded; envelopes not yet
    /// acked will be redelivered by Slack.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let slots = std::mem::take(&mut *self.slots.lock().await);
        for slot in slots {
            if tokio::time::timeout(Duration::from_secs(10), slot)
                .await
                .is_err()
            {
                tracing::warn!("a Socket Mode connection did not close within 10s");
            }
        }
    }
}

/// What woke a slot up.
enum Wake {
    Stop,
    Ended(End),
    Event(Option<Event>),
    RefreshDue,
}

/// Keep one connection open: reconnect when it ends, replace it before Slack closes it.
async fn run_slot(
    shared: Arc<Shared>,
    mut first_url: Option<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut link_disabled = false;
    let mut current: Option<Running> = None;
    let mut retiring: Vec<Running> = Vec::new();
    loop {
        retiring.retain(|r| !r.task.is_finished());
        let Some(run) = current.as_mut() else {
            let delay = if link_disabled {
                LINK_DISABLED_RETRY.max(backoff(failures))
            } else if failures == 0 {
                // Right after a drop: a moment's jitter, so many bots do not reconnect in step.
                Duration::from_millis(rand::random_range(0..100))
            } else {
                backoff(failures)
            };
            if stopped_during(&mut stop, delay).await {
                break;
            }
            let opened = tokio::select! {
                opened = shared.open(first_url.take()) => opened,
                _ = stop.changed() => break,
            };
            match opened {
                Ok(run) => {
                    current = Some(run);
                    link_disabled = false;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %format!("{e:#}"), attempt = failures,
                        "cannot open a Socket Mode connection; trying again");
                }
            }
            continue;
        };
        let wake = tokio::select! {
            _ = stop.changed() => Wake::Stop,
            end = &mut run.task => Wake::Ended(end.unwrap_or_else(|e| End::Failed(e.to_string()))),
            event = run.events.recv() => Wake::Event(event),
            () = sleep_until(run.refresh_at.unwrap_or_else(Instant::now)), if run.refresh_at.is_some() => Wake::RefreshDue,
        };
        let wake = match wake {
            // The session dropped its events: it is ending, and its end is near.
            Wake::Event(None) => Wake::Ended(
                (&mut run.task)
                    .await
                    .unwrap_or_else(|e| End::Failed(e.to_string())),
            ),
            other => other,
        };
        match wake {
            Wake::Stop => break,
            Wake::Ended(end) => {
                let lived = run.started.elapsed();
                current = None;
                shared.metrics.socket_reconnect(end.label());
                // A connection that lived counts as a success; one that ended at once (or
                // while Slack says Socket Mode is off) as one more failure to back off on.
                failures = if lived >= HEALTHY_AFTER && !link_disabled {
                    0
                } else {
                    failures + 1
                };
            }
            Wake::Event(Some(Event::Disconnect(DisconnectReason::LinkDisabled))) => {
                tracing::error!(
                    "Slack turned Socket Mode off for this app (link_disabled): turn it back on in the app's settings; warroom tries again every minute"
                );
                link_disabled = true;
                shared
                    .metrics
                    .socket_reconnect(DisconnectReason::LinkDisabled.label());
            }
            Wake::Event(Some(Event::Disconnect(DisconnectReason::Other(_)))) => {
                // Undocumented: nothing to act on; if Slack then closes the connection, the
                // slot reconnects as after any drop.
            }
            Wake::Event(Some(Event::Disconnect(reason))) => {
                shared.metrics.socket_reconnect(reason.label());
                if replace(
                    &shared,
                    &mut current,
                    &mut retiring,
                    SLACK_CLOSE_GRACE,
                    &mut stop,
                )
                .await
                {
                    break;
                }
            }
            Wake::Event(Some(Event::Hello(_))) | Wake::Event(None) => {}
            Wake::RefreshDue => {
                run.refresh_at = None;
                let turn = tokio::select! {
                    turn = shared.refreshing.lock() => turn,
                    _ = stop.changed() => break,
                };
                shared.metrics.socket_reconnect("scheduled_refresh");
                tracing::debug!("refreshing a Socket Mode connection ahead of Slack");
                let stopped = replace(
                    &shared,
                    &mut current,
                    &mut retiring,
                    Duration::ZERO,
                    &mut stop,
                )
                .await;
                drop(turn);
                if stopped {
                    break;
                }
            }
        }
    }
    // Stopping: every connection acks what it has recorded and closes.
    let now = Instant::now();
    let all: Vec<Running> = current.into_iter().chain(retiring).collect();
    for run in &all {
        run.retire_at(now);
    }
    for run in all {
        let _ = run.task.await;
    }
}

/// Open a replacement for the current connection while it keeps running; once it has said
/// `hello`, the old one retires after `grace`. True when stopped meanwhile.
async fn replace(
    shared: &Arc<Shared>,
    current: &mut Option<Running>,
    retiring: &mut Vec<Running>,
    grace: Duration,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let mut failures = 0u32;
    loop {
        let opened = tokio::select! {
            opened = shared.open(None) => opened,
            _ = stop.changed() => return true,
        };
        match opened {
            Ok(new) => {
                if let Some(old) = current.replace(new) {
                    old.retire_at(Instant::now() + grace);
                    retiring.push(old);
                }
                return false;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %format!("{e:#}"), attempt = failures,
                    "cannot open the replacement Socket Mode connection; trying again");
                if current.as_ref().is_none_or(|r| r.task.is_finished()) {
                    // The old one is gone too: the slot's loop reconnects with backoff.
                    return false;
                }
                if stopped_during(stop, backoff(failures)).await {
                    return true;
                }
            }
        }
    }
}

/// Exponential backoff with jitter: up to 0.5 s, 1 s, 2 s … 30 s, never under half of it.
fn backoff(failures: u32) -> Duration {
    const BACKOFF: Backoff = Backoff::doubling(Duration::from_millis(500), Duration::from_secs(30));
    BACKOFF
        .delay(failures)
        .mul_f64(rand::random_range(0.5..=1.0))
}

/// Sleep for `delay`; true if told to stop meanwhile.
async fn stopped_during(stop: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    if delay.is_zero() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        _ = stop.changed() => true,
    }
}
