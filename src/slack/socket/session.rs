//! One Socket Mode connection, from the WebSocket handshake to its close.
//!
//! A session reads frames continuously. Each envelope goes to [`super::dispatch`], which
//! records it through the inbox's group commit and yields its ack once the record has
//! committed; the ack is written then, so envelopes that arrive together share one commit
//! and their acks leave in one write. At most [`SocketOptions::max_in_flight`] envelopes
//! are being recorded at once: beyond that the session stops reading and TCP pushes back
//! on Slack, instead of memory growing.
//!
//! Liveness: after [`SocketOptions::ping_interval`] without a frame from Slack the session
//! sends a ping, and gives the connection up ([`End::Silent`]) if nothing at all arrives
//! within [`SocketOptions::pong_timeout`] of it. Retiring (a replacement is up, or the bot
//! stops): the session stops reading, finishes what it is recording, sends those acks and
//! closes; envelopes it never read are redelivered by Slack on another connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::dispatch::{dispatch, Handling};
use super::frame::{self, DisconnectReason, Frame, Hello};
use super::status::LiveGuard;
use super::{Shared, SocketOptions};

/// A Socket Mode WebSocket, over TLS to Slack or in the clear to the emulator.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a session tells its supervisor while it runs.
#[derive(Debug)]
pub(super) enum Event {
    Hello(Hello),
    Disconnect(DisconnectReason),
}

/// How a session ended.
#[derive(Debug)]
pub(super) enum End {
    /// Slack closed the connection (close frame or end of stream).
    Closed,
    /// Reading or writing failed.
    Failed(String),
    /// Nothing arrived within a ping interval and a pong time-out.
    Silent,
    /// Retired on purpose (replaced or shutting down), after acking what it had recorded.
    Retired,
}

impl End {
    /// A fixed label for the reconnect counter.
    pub(super) fn label(&self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::Failed(_) => "error",
            End::Silent => "ping_timeout",
            End::Retired => "retired",
        }
    }
}

/// The WebSocket settings of every connection: Slack's frames are a few kB, so small
/// buffers (acks wait in the write buffer until the session flushes, so those that are
/// ready together leave in one write); a frame or message over 16 MiB is refused rather
/// than buffered.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(32 * 1024)
        .write_buffer_size(32 * 1024)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20))
}

/// Open the WebSocket at `url` (`wss://` from Slack, with `tls`; `ws://` from the emulator)
/// with Nagle's algorithm off, so an ack leaves as soon as it is written.
pub(super) async fn connect(
    url: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<Ws> {
    let connector = tls.map(tokio_tungstenite::Connector::Rustls);
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(ws_config()), true, connector)
            .await?;
    Ok(ws)
}

type Recording = Pin<Box<dyn Future<Output = (String, Instant, Option<Option<Value>>)> + Send>>;

/// One connection's reading, recording and acking.
pub(super) struct Session {
    pub(super) id: u64,
    /// The host it is connected to (logged instead of the URL, which holds a ticket).
    pub(super) host: String,
    pub(super) ws: Ws,
    pub(super) shared: Arc<Shared>,
    pub(super) events: mpsc::UnboundedSender<Event>,
    /// When to retire; the latest time sent wins. Closed by the supervisor: retire now.
    /// (A channel rather than a `watch`: its receiver is polled on every turn of the loop,
    /// and an mpsc receiver registers its waker without taking a lock.)
    pub(super) retire: mpsc::UnboundedReceiver<Instant>,
}

/// One turn of the session's loop.
enum Step {
    Recorded(Option<(String, Instant, Option<Option<Value>>)>),
    Frame(Option<Result<Message, WsError>>),
    Heartbeat,
    RetireAt(Option<Instant>),
    Retire,
    DrainTimeout,
    Flush,
}

impl Session {
    pub(super) async fn run(mut self) -> End {
        let options: SocketOptions = self.shared.options.clone();
        let mut recording = FuturesUnordered::<Recording>::new();
        let mut live: Option<LiveGuard> = None;
        let mut last_seen = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        let heartbeat = tokio::time::sleep(options.ping_interval);
        tokio::pin!(heartbeat);
        let mut retire_at: Option<Instant> = None;
        let mut watching_retire = true;
        let mut drain_deadline: Option<Instant> = None;
        let mut unflushed = false;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);

        let end = 'run: loop {
            if drain_deadline.is_some() && recording.is_empty() {
                break self.close().await;
            }
            let reading = drain_deadline.is_none() && recording.len() < options.max_in_flight;
            let step = tokio::select! {
                biased;
                done = recording.next(), if !recording.is_empty() => Step::Recorded(done),
                frame = self.ws.next(), if reading => Step::Frame(frame),
                () = &mut heartbeat => Step::Heartbeat,
                at = self.retire.recv(), if watching_retire => Step::RetireAt(at),
                () = sleep_until(retire_at.unwrap_or(far)), if retire_at.is_some() && drain_deadline.is_none() => Step::Retire,
                () = sleep_until(drain_deadline.unwrap_or(far)), if drain_deadline.is_some() => Step::DrainTimeout,
                () = std::future::ready(()), if unflushed => Step::Flush,
            };
            match step {
                Step::Recorded(done) => {
                    // Ack this one and every other record that has committed meanwhile, in
                    // one write, now: an ack waits for nothing but its own record.
                    let mut next = done;
                    while let Some((envelope_id, received, outcome)) = next {
                        if let Some(payload) = outcome {
                            if let Err(e) = self.ack(&envelope_id, payload.as_ref(), received).await
                            {
                                break 'run ended_by(e);
                            }
                            unflushed = true;
                        }
                        next = recording.next().now_or_never().flatten();
                    }
                    if unflushed {
                        if let Err(e) = self.ws.flush().await {
                            break 'run ended_by(e);
                        }
                        unflushed = false;
                    }
                }
                Step::Frame(None) => break End::Closed,
                Step::Frame(Some(Err(e))) => break ended_by(e),
                Step::Frame(Some(Ok(message))) => {
                    last_seen = Instant::now();
                    match message {
                        Message::Text(text) => {
                            match self.on_text(text.as_str(), &mut live, &mut recording) {
                                Ok(None) => {}
                                Ok(Some((envelope_id, payload))) => {
                                    if let Err(e) =
                                        self.ack(&envelope_id, payload.as_ref(), last_seen).await
                                    {
                                        break ended_by(e);
                                    }
                                    unflushed = true;
                                }
                                Err(()) => {}
                            }
                        }
                        Message::Close(frame) => {
                            // tungstenite answers the close; the stream ends next.
                            let reason = frame
                                .map(|f| f.reason.as_str().chars().take(100).collect::<String>());
                            tracing::debug!(
                                connection = self.id,
                                ?reason,
                                "Slack is closing the connection"
                            );
                        }
                        Message::Binary(_) => {
                            tracing::debug!(
                                connection = self.id,
                                "binary Socket Mode frame ignored"
                            );
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
                Step::Heartbeat => {
                    let now = Instant::now();
                    if recording.len() >= options.max_in_flight {
                        // Reading is paused on purpose (records are slow): what Slack sent
                        // waits unread, so silence says nothing about the link now.
                        ping_sent = None;
                        last_seen = now;
                        heartbeat.as_mut().reset(now + options.ping_interval);
                        continue;
                    }
                    match ping_sent {
                        Some(sent) if last_seen < sent => {
                            if now >= sent + options.pong_timeout {
                                break End::Silent;
                            }
                            heartbeat.as_mut().reset(sent + options.pong_timeout);
                        }
                        _ if now >= last_seen + options.ping_interval => {
                            if let Err(e) = self.ws.feed(Message::Ping(Default::default())).await {
                                break ended_by(e);
                            }
                            unflushed = true;
                            ping_sent = Some(now);
                            heartbeat.as_mut().reset(now + options.pong_timeout);
                        }
                        _ => {
                            ping_sent = None;
                            heartbeat.as_mut().reset(last_seen + options.ping_interval);
                        }
                    }
                }
                Step::RetireAt(Some(at)) => retire_at = Some(at),
                Step::RetireAt(None) => {
                    // The supervisor is gone: stop as if told to retire now.
                    watching_retire = false;
                    retire_at = Some(Instant::now());
                }
                Step::Retire => {
                    tracing::debug!(
                        connection = self.id,
                        in_flight = recording.len(),
                        "retiring the connection"
                    );
                    drain_deadline = Some(Instant::now() + options.drain_timeout);
                }
                Step::DrainTimeout => {
                    tracing::warn!(
                        connection = self.id,
                        unacked = recording.len(),
                        "closing before every record finished; Slack redelivers what was not acked"
                    );
                    break self.close().await;
                }
                Step::Flush => {
                    if let Err(e) = self.ws.flush().await {
                        break ended_by(e);
                    }
                    unflushed = false;
                }
            }
        };
        match &end {
            End::Retired => tracing::debug!(connection = self.id, "Socket Mode connection closed"),
            End::Closed => tracing::info!(
                connection = self.id,
                "Slack closed the Socket Mode connection"
            ),
            End::Silent => tracing::warn!(
                connection = self.id,
                "Socket Mode connection silent past its ping; dropping it"
            ),
            End::Failed(e) => {
                tracing::warn!(connection = self.id, error = %e, "Socket Mode connection failed")
            }
        }
        drop(live);
        end
    }

    /// Handle one text frame. `Ok(Some(..))` is an ack to send now; envelopes that need a
    /// record go into `recording`.
    #[allow(clippy::type_complexity)]
    fn on_text(
        &mut self,
        text: &str,
        live: &mut Option<LiveGuard>,
        recording: &mut FuturesUnordered<Recording>,
    ) -> Result<Option<(String, Option<Value>)>, ()> {
        let frame = match frame::parse(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(connection = self.id, error = %e, "unreadable Socket Mode frame skipped");
                return Err(());
            }
        };
        match frame {
            Frame::Envelope(envelope) => {
                let metrics = &self.shared.metrics;
                metrics.envelope_received();
                let received = Instant::now();
                match dispatch(&envelope, &self.shared.sink, &self.shared.bot_user) {
                    Handling::Now(payload) => return Ok(Some((envelope.id, payload))),
                    Handling::Later(record) => {
                        let id = envelope.id;
                        recording
                            .push(Box::pin(record.map(move |outcome| (id, received, outcome))));
                    }
                }
            }
            Frame::Hello(hello) => {
                if live.is_none() {
                    *live = Some(self.shared.status.up(self.id));
                }
                tracing::info!(connection = self.id, host = %self.host,
                    connections = ?hello.connections, lifetime = ?hello.lifetime,
                    "Socket Mode connected");
                let _ = self.events.send(Event::Hello(hello));
            }
            Frame::Disconnect(DisconnectReason::Other(reason)) => {
                tracing::warn!(
                    connection = self.id,
                    reason,
                    "disconnect with a reason warroom does not know; keeping the connection"
                );
            }
            Frame::Disconnect(reason) => {
                tracing::info!(
                    connection = self.id,
                    reason = reason.label(),
                    "Slack will close this Socket Mode connection"
                );
                if reason == DisconnectReason::LinkDisabled {
                    self.shared.status.link_disabled();
                }
                let _ = self.events.send(Event::Disconnect(reason));
            }
            Frame::Unknown { kind } => {
                tracing::warn!(
                    connection = self.id,
                    kind,
                    "Socket Mode frame of an unknown kind skipped"
                );
            }
        }
        Ok(None)
    }

    /// Queue the ack of `envelope_id` (written at the next flush).
    async fn ack(
        &mut self,
        envelope_id: &str,
        payload: Option<&Value>,
        received: Instant,
    ) -> Result<(), WsError> {
        self.ws
            .feed(Message::Text(frame::ack(envelope_id, payload).into()))
            .await?;
        self.shared.metrics.envelope_acked(received.elapsed());
        Ok(())
    }

    /// Send what is queued and a close frame, then wait briefly for Slack's close.
    async fn close(&mut self) -> End {
        let closing = async {
            self.ws.close(None).await?;
            while let Some(frame) = self.ws.next().await {
                frame?;
            }
            Ok::<(), WsError>(())
        };
        match tokio::time::timeout(self.shared.options.close_timeout, closing).await {
            Ok(Ok(())) | Ok(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | Err(_) => {}
            Ok(Err(e)) => {
                tracing::debug!(connection = self.id, error = %e, "close handshake failed")
            }
        }
        End::Retired
    }
}

fn ended_by(e: WsError) -> End {
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed => End::Closed,
        other => End::Failed(other.to_string().chars().take(200).collect()),
    }
}
