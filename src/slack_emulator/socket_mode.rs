//! Socket Mode: the WebSocket side of the emulator.
//!
//! `apps.connections.open` hands out a single-use ticket; `GET /link/?ticket=…` upgrades to a
//! WebSocket and greets with `hello`. Every delivery is one envelope sent to one live
//! connection, round-robin, and the app acks with `{"envelope_id":…}`. Reliability follows
//! Slack's documented behaviour, because that is what the app's dedup and restart logic must
//! survive:
//! - `events_api` envelopes not acked within `ack_timeout` are sent again as a new envelope
//!   carrying the same `event_id`, `retry_attempt + 1` and `retry_reason: "timeout"`, up to
//!   `max_retries` times; an unacked envelope whose connection closes is resent at once.
//! - Events raised while no connection is open are queued and delivered on the next one, so
//!   a restarted bot catches up.
//! - `slash_commands` / `interactive` envelopes are never retried: the person gets an error.
//! - A connection lives `connection_lifetime` (announced in `hello` as
//!   `approximate_connection_time`); then it is refreshed: `disconnect` / `refresh_requested`,
//!   no more envelopes, closed after `refresh_grace`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::events;
use super::state::{
    random_id, uuid_like, AckAction, Chain, ClosedBy, Conn, ConnCmd, EnvelopeKind, EnvelopeRecord,
    InFlight, SocketConnection, State,
};
use super::{EmulatorError, Shared};

/// A new envelope to create and deliver.
pub(super) struct NewEnvelope {
    pub kind: EnvelopeKind,
    pub payload: Value,
    pub accepts_response_payload: bool,
    pub retry_attempt: u32,
    pub retry_reason: &'static str,
    pub event_id: Option<String>,
    pub waiter: Option<oneshot::Sender<Option<Value>>>,
    pub on_ack: AckAction,
}

/// The tickets handed out and not yet used.
pub(super) fn unused_tickets(st: &State) -> Vec<String> {
    st.sock.tickets.iter().cloned().collect()
}

pub(super) fn issue_ticket(st: &mut State) -> String {
    let ticket = uuid_like();
    st.sock.tickets.insert(ticket.clone());
    ticket
}

pub(super) fn unacked(st: &State) -> u64 {
    st.sock.unacked
}

pub(super) fn live_count(st: &State) -> usize {
    st.sock.conns.iter().filter(|c| !c.closing).count()
}

fn refresh_count(st: &mut State) {
    st.ws.live_connections = live_count(st);
}

/// `GET /link/?ticket=…`: the Socket Mode WebSocket endpoint.
pub(super) async fn upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ticket = query.get("ticket").cloned().unwrap_or_default();
    let valid = shared.with(|st| {
        let valid = st.sock.tickets.remove(&ticket);
        if !valid && st.used_tickets.contains(&ticket) {
            tracing::warn!("socket mode ticket reused; refusing the connection");
        }
        st.used_tickets.insert(ticket.clone());
        valid
    });
    if !valid {
        return (StatusCode::UNAUTHORIZED, "invalid or already used ticket").into_response();
    }
    match ws {
        Ok(ws) => ws
            .on_upgrade(move |socket| run_connection(shared, socket))
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn run_connection(shared: Arc<Shared>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (conn_id, hello) = shared.with(|st| {
        let id = st.sock.next_conn_id;
        st.sock.next_conn_id += 1;
        st.sock.conns.push(Conn {
            id,
            tx,
            closing: false,
        });
        refresh_count(st);
        let hello = json!({
            "type": "hello",
            "num_connections": live_count(st),
            "debug_info": {
                "host": "applink-emulator",
                "build_number": 1,
                "approximate_connection_time": shared.config.connection_lifetime.as_secs(),
            },
            "connection_info": {"app_id": shared.config.app_id},
        });
        st.ws.socket_connections.push(SocketConnection {
            id,
            opened_at: Utc::now(),
            retired_at: None,
            closed_at: None,
            closed_by: None,
        });
        (id, hello.to_string())
    });
    tracing::debug!(conn_id, "socket mode connection opened");
    let lifetime_shared = shared.clone();
    let lifetime = shared.config.connection_lifetime;
    let lifetime_timer = shared.runtime.spawn(async move {
        tokio::time::sleep(lifetime).await;
        let s = lifetime_shared.clone();
        lifetime_shared.with(|st| refresh(&s, st, Some(conn_id), ClosedBy::SlackLifetime));
    });
    let mut closed_by = ClosedBy::App;
    // Envelopes only leave through `rx`, drained after this, so `hello` is always first.
    if sink.send(WsMessage::Text(hello.into())).await.is_ok() {
        shared.with(|st| flush_queue(&shared, st));
        let mut stop = shared.shutdown.subscribe();
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(ConnCmd::Text(text)) => {
                        if sink.send(WsMessage::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(ConnCmd::Close(by)) => {
                        let frame = CloseFrame { code: 1000, reason: "refresh_requested".into() };
                        let _ = sink.send(WsMessage::Close(Some(frame))).await;
                        closed_by = by;
                        break;
                    }
                    Some(ConnCmd::Abort) | None => {
                        closed_by = ClosedBy::Dropped;
                        break;
                    }
                    Some(ConnCmd::Stall(how_long)) => {
                        tokio::select! {
                            () = tokio::time::sleep(how_long) => {}
                            _ = &mut stopped => {
                                closed_by = ClosedBy::Dropped;
                                break;
                            }
                        }
                    }
                },
                incoming = stream.next() => match incoming {
                    Some(Ok(WsMessage::Text(text))) => {
                        shared.with(|st| on_client_frame(&shared, st, text.as_str()));
                    }
                    Some(Ok(WsMessage::Binary(_))) => {
                        tracing::warn!(conn_id, "binary socket mode frame ignored");
                    }
                    // tungstenite answers pings itself while reading.
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                },
                _ = &mut stopped => {
                    closed_by = ClosedBy::Dropped;
                    break;
                }
            }
        }
    }
    lifetime_timer.abort();
    drop(sink);
    drop(stream);
    shared.with(|st| {
        if let Some(rec) = st
            .ws
            .socket_connections
            .iter_mut()
            .find(|c| c.id == conn_id)
        {
            let now = Utc::now();
            rec.retired_at.get_or_insert(now);
            rec.closed_at = Some(now);
            rec.closed_by.get_or_insert(closed_by);
        }
        on_connection_closed(&shared, st, conn_id)
    });
    tracing::debug!(conn_id, "socket mode connection closed");
}

/// Sends `frame` to the next live connection; returns its id, or None if there is none.
fn send_next(st: &mut State, frame: &str) -> Option<u64> {
    loop {
        let live: Vec<usize> = (0..st.sock.conns.len())
            .filter(|&i| !st.sock.conns[i].closing)
            .collect();
        if live.is_empty() {
            return None;
        }
        let idx = live[st.sock.rr % live.len()];
        st.sock.rr = st.sock.rr.wrapping_add(1);
        let conn = &mut st.sock.conns[idx];
        if conn.tx.send(ConnCmd::Text(frame.to_string())).is_ok() {
            return Some(conn.id);
        }
        conn.closing = true;
        refresh_count(st);
    }
}

pub(super) fn send_raw(st: &mut State, frame: String) -> bool {
    send_next(st, &frame).is_some()
}

/// Records and delivers a new envelope; returns its id.
pub(super) fn create_envelope(shared: &Arc<Shared>, st: &mut State, new: NewEnvelope) -> String {
    let envelope_id = uuid_like();
    let mut frame = json!({
        "envelope_id": envelope_id,
        "payload": new.payload,
        "type": new.kind.as_str(),
        "accepts_response_payload": new.accepts_response_payload,
    });
    if new.kind == EnvelopeKind::EventsApi {
        frame["retry_attempt"] = json!(new.retry_attempt);
        frame["retry_reason"] = json!(new.retry_reason);
    }
    st.ws.envelopes.push(EnvelopeRecord {
        envelope_id: envelope_id.clone(),
        kind: new.kind,
        event_id: new.event_id.clone(),
        retry_attempt: new.retry_attempt,
        retry_reason: new.retry_reason.to_string(),
        payload: new.payload,
        delivered_at: None,
        connection: None,
        acked_at: None,
        ack_payload: None,
    });
    st.sock.unacked += 1;
    st.sock.inflight.insert(
        envelope_id.clone(),
        InFlight {
            frame: frame.to_string(),
            kind: new.kind,
            event_id: new.event_id,
            acked: false,
            expired: false,
            conn: None,
            waiter: new.waiter,
            on_ack: new.on_ack,
            counted: true,
        },
    );
    deliver(shared, st, &envelope_id);
    envelope_id
}

/// Sends a recorded envelope, or queues it (events only) until a connection exists.
fn deliver(shared: &Arc<Shared>, st: &mut State, envelope_id: &str) {
    let Some(inflight) = st.sock.inflight.get(envelope_id) else {
        return;
    };
    let frame = inflight.frame.clone();
    let kind = inflight.kind;
    match send_next(st, &frame) {
        Some(conn_id) => {
            if let Some(inflight) = st.sock.inflight.get_mut(envelope_id) {
                inflight.conn = Some(conn_id);
            }
            if let Some(rec) = st.ws.envelope_mut(envelope_id) {
                rec.delivered_at = Some(Utc::now());
                rec.connection = Some(conn_id);
            }
            if kind == EnvelopeKind::EventsApi {
                arm_ack_timer(shared, envelope_id.to_string());
            }
        }
        None if kind == EnvelopeKind::EventsApi => st.sock.queue.push_back(envelope_id.into()),
        None => tracing::warn!(envelope_id, "no socket mode connection for envelope"),
    }
}

fn arm_ack_timer(shared: &Arc<Shared>, envelope_id: String) {
    let timer_shared = shared.clone();
    let wait = shared.config.ack_timeout;
    shared.runtime.spawn(async move {
        tokio::time::sleep(wait).await;
        if timer_shared.is_shut_down() {
            return;
        }
        let s = timer_shared.clone();
        timer_shared.with(|st| {
            let unacked = st
                .sock
                .inflight
                .get(&envelope_id)
                .filter(|f| !f.acked)
                .and_then(|f| f.event_id.clone());
            if let Some(event_id) = unacked {
                retry_if_current(&s, st, &event_id, &envelope_id);
            }
        });
    });
}

/// Retries the event if `envelope_id` is still the attempt that matters.
fn retry_if_current(shared: &Arc<Shared>, st: &mut State, event_id: &str, envelope_id: &str) {
    let max = shared.config.max_retries;
    let Some(chain) = st.sock.chains.get_mut(event_id) else {
        return;
    };
    if chain.acked || chain.current != envelope_id {
        return;
    }
    let give_up = chain.attempt >= max;
    settle(st, envelope_id);
    let Some(chain) = st.sock.chains.get_mut(event_id) else {
        return;
    };
    if give_up {
        tracing::warn!(
            event_id,
            attempts = chain.attempt + 1,
            "event never acked; giving up"
        );
        chain.current.clear();
        return;
    }
    chain.attempt += 1;
    let (payload, attempt) = (chain.payload.clone(), chain.attempt);
    start_attempt(shared, st, event_id, payload, attempt);
}

fn start_attempt(
    shared: &Arc<Shared>,
    st: &mut State,
    event_id: &str,
    payload: Value,
    attempt: u32,
) {
    // The chain must name the new envelope before delivery can arm its timer.
    let placeholder = format!("pending-{}", uuid_like());
    if let Some(chain) = st.sock.chains.get_mut(event_id) {
        chain.current = placeholder;
    }
    let new = NewEnvelope {
        kind: EnvelopeKind::EventsApi,
        payload,
        accepts_response_payload: false,
        retry_attempt: attempt,
        retry_reason: if attempt == 0 { "" } else { "timeout" },
        event_id: Some(event_id.to_string()),
        waiter: None,
        on_ack: AckAction::Nothing,
    };
    // Timers only fire after this lock is released, so setting `current` afterwards is safe.
    let envelope_id = create_envelope(shared, st, new);
    if let Some(chain) = st.sock.chains.get_mut(event_id) {
        chain.current = envelope_id;
    }
}

/// Wraps an inner event in `event_callback` / `events_api` and delivers it; returns `event_id`.
pub(super) fn push_event(shared: &Arc<Shared>, st: &mut State, event: Value) -> String {
    let event_id = random_id("Ev", 10);
    let payload = events::event_callback(&shared.config, event, &event_id, Utc::now().timestamp());
    st.sock.chains.insert(
        event_id.clone(),
        Chain {
            payload: payload.clone(),
            attempt: 0,
            current: String::new(),
            acked: false,
        },
    );
    start_attempt(shared, st, &event_id, payload, 0);
    event_id
}

/// Pushes `event` only if the bot can see `channel` (Slack's `message.channels` rule), and
/// for a private channel only with the `groups:*` scope its subscription needs.
pub(super) fn push_channel_event(
    shared: &Arc<Shared>,
    st: &mut State,
    channel: &str,
    event: Value,
) {
    let Some(ch) = st.ws.channel(channel) else {
        return;
    };
    if !ch.is_member(&shared.config.bot_user_id) {
        return;
    }
    // A private channel's events need the `groups:*` scopes: its messages come with
    // `message.groups` (`groups:history`), its other events with `groups:read`.
    if ch.is_private && !ch.is_im {
        let needed = if event.get("type").and_then(|t| t.as_str()) == Some("message") {
            "groups:history"
        } else {
            "groups:read"
        };
        if !shared.config.scopes.iter().any(|s| s == needed) {
            return;
        }
    }
    push_event(shared, st, event);
}

pub(super) fn redeliver(
    shared: &Arc<Shared>,
    st: &mut State,
    envelope_id: &str,
) -> Result<(), EmulatorError> {
    let Some(rec) = st
        .ws
        .envelopes
        .iter()
        .find(|e| e.envelope_id == envelope_id)
        .cloned()
    else {
        return Err(EmulatorError::NotFound(format!("envelope {envelope_id}")));
    };
    match (rec.kind, rec.event_id) {
        (EnvelopeKind::EventsApi, Some(event_id)) => {
            let Some(chain) = st.sock.chains.get_mut(&event_id) else {
                return Err(EmulatorError::NotFound(format!("event {event_id}")));
            };
            chain.attempt = chain.attempt.max(rec.retry_attempt) + 1;
            chain.acked = false;
            let (payload, attempt) = (chain.payload.clone(), chain.attempt);
            start_attempt(shared, st, &event_id, payload, attempt);
            Ok(())
        }
        (kind, _) => {
            if live_count(st) == 0 {
                return Err(EmulatorError::NoConnection);
            }
            let accepts = kind == EnvelopeKind::SlashCommands
                || rec.payload["type"] == json!("view_submission");
            create_envelope(
                shared,
                st,
                NewEnvelope {
                    kind,
                    payload: rec.payload,
                    accepts_response_payload: accepts,
                    retry_attempt: 0,
                    retry_reason: "",
                    event_id: None,
                    waiter: None,
                    on_ack: AckAction::Nothing,
                },
            );
            Ok(())
        }
    }
}

/// The person gave up waiting: a later ack is recorded but changes nothing they can see.
pub(super) fn expire(st: &mut State, envelope_id: &str) {
    if let Some(inflight) = st.sock.inflight.get_mut(envelope_id) {
        inflight.expired = true;
        inflight.waiter = None;
    }
    settle(st, envelope_id);
}

/// The envelope is no longer in flight (retried as a new one, given up on, or expired).
fn settle(st: &mut State, envelope_id: &str) {
    if let Some(inflight) = st.sock.inflight.get_mut(envelope_id) {
        if std::mem::take(&mut inflight.counted) {
            st.sock.unacked = st.sock.unacked.saturating_sub(1);
        }
    }
}

fn on_client_frame(shared: &Arc<Shared>, st: &mut State, text: &str) {
    let frame: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "unparseable frame from the app ignored");
            return;
        }
    };
    let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str) else {
        tracing::warn!(%frame, "frame without envelope_id ignored");
        return;
    };
    let payload = frame.get("payload").filter(|p| !p.is_null()).cloned();
    on_ack(shared, st, envelope_id, payload);
}

fn on_ack(shared: &Arc<Shared>, st: &mut State, envelope_id: &str, payload: Option<Value>) {
    let Some(inflight) = st.sock.inflight.get_mut(envelope_id) else {
        tracing::warn!(envelope_id, "ack for an unknown envelope ignored");
        return;
    };
    if inflight.acked {
        tracing::debug!(envelope_id, "duplicate ack ignored");
        return;
    }
    inflight.acked = true;
    if std::mem::take(&mut inflight.counted) {
        st.sock.unacked = st.sock.unacked.saturating_sub(1);
    }
    let waiter = inflight.waiter.take();
    let expired = inflight.expired;
    let event_id = inflight.event_id.clone();
    let action = std::mem::replace(&mut inflight.on_ack, AckAction::Nothing);
    if let Some(rec) = st.ws.envelope_mut(envelope_id) {
        rec.acked_at = Some(Utc::now());
        rec.ack_payload = payload.clone();
    }
    if let Some(chain) = event_id.and_then(|id| st.sock.chains.get_mut(&id)) {
        chain.acked = true;
    }
    if expired {
        tracing::info!(envelope_id, "late ack: the person already saw an error");
        return;
    }
    // Effects land before the waiting person is told, so their outcome reflects them.
    (shared.on_ack)(shared, st, action, payload.as_ref());
    if let Some(waiter) = waiter {
        let _ = waiter.send(payload);
    }
}

fn flush_queue(shared: &Arc<Shared>, st: &mut State) {
    let queued: Vec<String> = st.sock.queue.drain(..).collect();
    for envelope_id in queued {
        deliver(shared, st, &envelope_id);
    }
}

fn on_connection_closed(shared: &Arc<Shared>, st: &mut State, conn_id: u64) {
    st.sock.conns.retain(|c| c.id != conn_id);
    refresh_count(st);
    let mut stranded: Vec<(String, String)> = st
        .sock
        .inflight
        .iter()
        .filter(|(_, f)| f.conn == Some(conn_id) && !f.acked)
        .filter_map(|(id, f)| f.event_id.clone().map(|ev| (ev, id.clone())))
        .collect();
    stranded.sort();
    for (event_id, envelope_id) in stranded {
        retry_if_current(shared, st, &event_id, &envelope_id);
    }
}

/// `disconnect` / `refresh_requested` now to every connection, close after the grace period.
pub(super) fn request_refresh(shared: &Arc<Shared>, st: &mut State) {
    refresh(shared, st, None, ClosedBy::SlackRefresh);
}

/// Refresh connection `only` (or every one): `disconnect` / `refresh_requested`, no more
/// envelopes, closed after the grace period.
fn refresh(shared: &Arc<Shared>, st: &mut State, only: Option<u64>, why: ClosedBy) {
    let message = json!({
        "type": "disconnect",
        "reason": "refresh_requested",
        "debug_info": {"host": "applink-emulator"},
    })
    .to_string();
    let grace = shared.config.refresh_grace;
    let now = Utc::now();
    for conn in st
        .sock
        .conns
        .iter_mut()
        .filter(|c| !c.closing && only.is_none_or(|id| c.id == id))
    {
        conn.closing = true;
        if let Some(rec) = st
            .ws
            .socket_connections
            .iter_mut()
            .find(|r| r.id == conn.id)
        {
            rec.retired_at = Some(now);
            rec.closed_by = Some(why);
        }
        let _ = conn.tx.send(ConnCmd::Text(message.clone()));
        let tx = conn.tx.clone();
        shared.runtime.spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = tx.send(ConnCmd::Close(why));
        });
    }
    refresh_count(st);
}

/// Every open connection stops reading and writing for `how_long`.
pub(super) fn stall_all(st: &mut State, how_long: std::time::Duration) {
    for conn in &st.sock.conns {
        let _ = conn.tx.send(ConnCmd::Stall(how_long));
    }
}

pub(super) fn abort_all(st: &mut State) {
    for conn in &mut st.sock.conns {
        conn.closing = true;
        let _ = conn.tx.send(ConnCmd::Abort);
    }
    refresh_count(st);
}
