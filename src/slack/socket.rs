//! The Socket Mode side: receive envelopes, record them, ack.
//!
//! slack-morphism sends the ack after a callback returns, and frames on one connection are
//! handled one at a time, so callbacks do only the fast part: translate the payload into an
//! [`Inbound`] and hand it to the [`EventSink`], which records it durably. Only then is the
//! envelope acked; if recording fails the callback errors, [`on_error`] answers with a
//! non-success status, no ack is sent and Slack redelivers. Malformed payloads are logged
//! and skipped (slack-morphism acks them so they are not redelivered forever).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::inbound::{ts_to_time, CommandInvocation, Inbound};
use super::web::{Client, Connector, Outgoing, SlackError};

/// Where received events go. Implemented by the service.
pub trait EventSink: Send + Sync + 'static {
    /// Record an event durably under `key` (a redelivery has the same key). An error means
    /// "not recorded": the envelope is then not acked and Slack delivers it again.
    fn record(&self, key: String, inbound: Inbound) -> BoxFuture<'_, anyhow::Result<()>>;

    /// Take a slash command: answer at once (usage errors, read-only queries) or record it
    /// for processing. The returned message, if any, is shown to the caller only.
    fn command(&self, inv: CommandInvocation) -> BoxFuture<'_, anyhow::Result<Option<Outgoing>>>;
}

/// Connection health, shared with whoever needs to know (readiness, the demo, tests).
#[derive(Debug, Default)]
pub struct SocketStatus {
    /// A `hello` has been received and no disconnect seen since.
    pub connected: AtomicBool,
    /// Number of `hello` frames received (one per (re)connection).
    pub hellos: AtomicU64,
}

struct ListenerState {
    sink: Arc<dyn EventSink>,
    bot_user_id: String,
    status: Arc<SocketStatus>,
}

/// The error our callbacks return when recording failed, so [`on_error`] can withhold the ack.
#[derive(Debug, thiserror::Error)]
#[error("event not recorded: {0}")]
struct NotRecorded(String);

/// A running Socket Mode listener.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<Connector>,
    pub status: Arc<SocketStatus>,
}

impl SocketMode {
    /// Check the app token (one `apps.connections.open`, so a bad token fails here with a
    /// clear error instead of retrying forever in the background), then connect.
    pub async fn start(
        client: Arc<Client>,
        app_token: &secrecy::SecretString,
        sink: Arc<dyn EventSink>,
        bot_user_id: String,
        connections: u32,
    ) -> Result<SocketMode, SlackError> {
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose_secret().to_string()));
        client
            .open_session(&token)
            .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
            .await
            .map_err(|e| match e {
                SlackClientError::ApiError(api) => SlackError::Api {
                    method: "apps.connections.open",
                    code: api.code,
                },
                other => SlackError::Transport {
                    method: "apps.connections.open",
                    detail: format!("{}", other).chars().take(200).collect(),
                },
            })?;

        let status = Arc::new(SocketStatus::default());
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(on_hello)
            .with_command_events(on_command)
            .with_push_events(on_push);
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(ListenerState {
                    sink,
                    bot_user_id,
                    status: status.clone(),
                }),
        );
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(connections)
            .with_initial_backoff_in_seconds(1)
            .with_reconnect_timeout_in_seconds(1);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        listener
            .listen_for(&token)
            .await
            .map_err(|e| SlackError::Transport {
                method: "apps.connections.open",
                detail: format!("{e}").chars().take(200).collect(),
            })?;
        listener.start().await;
        Ok(SocketMode { listener, status })
    }

    /// Close every connection; envelopes not yet acked will be redelivered by Slack.
    pub async fn shutdown(&self) {
        self.status.connected.store(false, Ordering::SeqCst);
        self.listener.shutdown().await;
    }
}

async fn state_of(
    states: &SlackClientEventsUserState,
) -> Option<(Arc<dyn EventSink>, String, Arc<SocketStatus>)> {
    let guard = states.read().await;
    guard
        .get_user_state::<ListenerState>()
        .map(|s| (s.sink.clone(), s.bot_user_id.clone(), s.status.clone()))
}

// Generic over the event type only because slack-morphism does not export the hello
// event's type under a nameable path.
async fn on_hello<E: std::fmt::Debug>(
    event: E,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) {
    tracing::info!(hello = ?event, "Socket Mode connected");
    if let Some((_, _, status)) = state_of(&states).await {
        status.connected.store(true, Ordering::SeqCst);
        status.hellos.fetch_add(1, Ordering::SeqCst);
    }
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let Some((sink, _, _)) = state_of(&states).await else {
        return Err(Box::new(NotRecorded("listener state missing".into())));
    };
    let inv = CommandInvocation {
        user: event.user_id.0,
        channel: event.channel_id.0,
        text: unescape_command_text(&event.text.unwrap_or_default()),
        response_url: event.response_url.0.to_string(),
        trigger_id: event.trigger_id.0,
        at: Utc::now(),
    };
    match sink.command(inv).await {
        Ok(Some(reply)) => Ok(SlackCommandEventResponse::new(
            SlackMessageContent::new()
                .with_text(reply.text)
                .opt_blocks(reply.blocks.and_then(|b| serde_json::from_value(b).ok())),
        )
        .with_response_type(SlackMessageResponseType::Ephemeral)),
        Ok(None) => Ok(SlackCommandEventResponse::new(SlackMessageContent::new())),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "slash command not recorded; Slack will show the user an error");
            Err(Box::new(NotRecorded(e.to_string())))
        }
    }
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let Some((sink, bot_user, _)) = state_of(&states).await else {
        return Err(Box::new(NotRecorded("listener state missing".into())));
    };
    let body = match serde_json::to_value(&event.event) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, event_id = %event.event_id.0, "skipping an event that cannot be read");
            return Ok(());
        }
    };
    let at = DateTime::from_timestamp(event.event_time.0.as_second(), 0).unwrap_or_else(Utc::now);
    let Some(inbound) = translate_event(&body, &bot_user, at) else {
        let kind = body.get("type").and_then(Value::as_str).unwrap_or("?");
        tracing::debug!(event_id = %event.event_id.0, kind, "ignoring event");
        return Ok(());
    };
    let key = format!("ev:{}", event.event_id.0);
    sink.record(key, inbound).await.map_err(|e| {
        tracing::error!(error = %format!("{e:#}"), event_id = %event.event_id.0, "event not recorded; not acking so Slack redelivers");
        Box::new(NotRecorded(e.to_string())) as Box<dyn std::error::Error + Send + Sync>
    })
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    if err.downcast_ref::<NotRecorded>().is_some() {
        // Withhold the ack: Slack redelivers, and recording is idempotent.
        HttpStatusCode::INTERNAL_SERVER_ERROR
    } else {
        // Protocol noise (malformed frames, socket errors): logged and skipped.
        let text: String = err.to_string().chars().take(500).collect();
        tracing::warn!(error = %text, "Socket Mode: skipped a frame or connection error");
        HttpStatusCode::OK
    }
}

/// Slack sends slash command text with `&`, `<`, `>` typed by the user escaped as entities
/// (mentions, which Slack builds itself, stay `<@U…|name>`). Decode the three entities so
/// warroom stores what the person typed; everything echoed back is escaped again on output.
fn unescape_command_text(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Turn an Events API `event` object into what warroom records; `None` for events warroom
/// does not act on (other types, the bot's own messages, joins/leaves, …).
pub fn translate_event(ev: &Value, bot_user: &str, at: DateTime<Utc>) -> Option<Inbound> {
    let kind = ev.get("type")?.as_str()?;
    match kind {
        "message" => {
            let channel = s(ev, "channel")?;
            match ev.get("subtype").and_then(Value::as_str) {
                None | Some("thread_broadcast") | Some("file_share") | Some("me_message") => {
                    if ev.get("bot_id").is_some_and(|b| !b.is_null()) {
                        return None;
                    }
                    let user = s(ev, "user")?;
                    if user == bot_user {
                        return None;
                    }
                    let ts = s(ev, "ts")?;
                    let at = ts_to_time(&ts).unwrap_or(at);
                    Some(Inbound::Message {
                        channel,
                        user,
                        thread_ts: s(ev, "thread_ts").filter(|t| *t != ts),
                        ts,
                        text: s(ev, "text").unwrap_or_default(),
                        at,
                    })
                }
                Some("message_changed") => {
                    let msg = ev.get("message")?;
                    if msg.get("bot_id").is_some_and(|b| !b.is_null()) {
                        return None;
                    }
                    let edited_at = msg
                        .get("edited")
                        .and_then(|e| e.get("ts"))
                        .and_then(Value::as_str)
                        .and_then(ts_to_time)
                        .unwrap_or(at);
                    Some(Inbound::MessageEdited {
                        channel,
                        ts: s(msg, "ts")?,
                        user: s(msg, "user"),
                        text: s(msg, "text").unwrap_or_default(),
                        at: edited_at,
                    })
                }
                Some("message_deleted") => Some(Inbound::MessageDeleted {
                    channel,
                    ts: s(ev, "deleted_ts")?,
                    at: s(ev, "ts").as_deref().and_then(ts_to_time).unwrap_or(at),
                }),
                Some(_) => None,
            }
        }
        "reaction_added" => {
            let item = ev.get("item")?;
            if item.get("type").and_then(Value::as_str) != Some("message") {
                return None;
            }
            Some(Inbound::Reaction {
                channel: s(item, "channel")?,
                ts: s(item, "ts")?,
                user: s(ev, "user")?,
                reaction: s(ev, "reaction")?,
                at,
            })
        }
        "pin_added" => {
            let item = ev.get("item")?;
            let channel = s(ev, "channel_id").or_else(|| s(item, "channel"))?;
            let ts = item
                .get("message")
                .and_then(|m| s(m, "ts"))
                .or_else(|| s(item, "ts"))?;
            Some(Inbound::Pinned {
                channel,
                ts,
                user: s(ev, "user")?,
                at,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn people_messages_are_taken_and_bot_messages_are_not() {
        let m = json!({"type":"message","channel":"C1","user":"U1","text":"hi","ts":"1800000001.000100"});
        assert!(matches!(
            translate_event(&m, "UBOT", at()),
            Some(Inbound::Message { .. })
        ));
        let own = json!({"type":"message","channel":"C1","user":"UBOT","text":"hi","ts":"1.2"});
        assert_eq!(translate_event(&own, "UBOT", at()), None);
        let bot = json!({"type":"message","channel":"C1","bot_id":"B1","text":"hi","ts":"1.2"});
        assert_eq!(translate_event(&bot, "UBOT", at()), None);
        let join = json!({"type":"message","subtype":"channel_join","channel":"C1","user":"U1","ts":"1.2"});
        assert_eq!(translate_event(&join, "UBOT", at()), None);
    }

    #[test]
    fn command_text_entities_are_decoded_once() {
        assert_eq!(
            unescape_command_text("a &amp;lt; b &lt;!channel&gt; &amp; c"),
            "a &lt; b <!channel> & c"
        );
    }

    #[test]
    fn thread_replies_keep_their_parent() {
        let m = json!({"type":"message","channel":"C1","user":"U1","text":"r","ts":"5.0","thread_ts":"4.0"});
        let Some(Inbound::Message { thread_ts, .. }) = translate_event(&m, "UBOT", at()) else {
            panic!("not a message")
        };
        assert_eq!(thread_ts.as_deref(), Some("4.0"));
    }

    #[test]
    fn edits_deletes_reactions_and_pins_are_read() {
        let edit = json!({"type":"message","subtype":"message_changed","channel":"C1","ts":"9.0",
            "message":{"type":"message","user":"U1","text":"new","ts":"5.0","edited":{"user":"U1","ts":"9.0"}}});
        assert!(
            matches!(translate_event(&edit, "B", at()), Some(Inbound::MessageEdited { ts, text, .. }) if ts == "5.0" && text == "new")
        );
        let del = json!({"type":"message","subtype":"message_deleted","channel":"C1","ts":"9.0","deleted_ts":"5.0"});
        assert!(
            matches!(translate_event(&del, "B", at()), Some(Inbound::MessageDeleted { ts, .. }) if ts == "5.0")
        );
        let r = json!({"type":"reaction_added","user":"U1","reaction":"pushpin","item":{"type":"message","channel":"C1","ts":"5.0"},"event_ts":"9.0"});
        assert!(
            matches!(translate_event(&r, "B", at()), Some(Inbound::Reaction { reaction, .. }) if reaction == "pushpin")
        );
        let p = json!({"type":"pin_added","user":"U1","channel_id":"C1","item":{"type":"message","channel":"C1","message":{"ts":"5.0"}},"event_ts":"9.0"});
        assert!(
            matches!(translate_event(&p, "B", at()), Some(Inbound::Pinned { ts, .. }) if ts == "5.0")
        );
    }

    #[test]
    fn events_missing_fields_are_skipped_not_fatal() {
        for ev in [
            json!({"type":"message"}),
            json!({"type":"message","channel":"C1"}),
            json!({"type":"reaction_added","user":"U1"}),
            json!({"type":"pin_added"}),
            json!({"no_type":true}),
            json!(null),
        ] {
            assert_eq!(translate_event(&ev, "B", at()), None, "{ev}");
        }
    }
}
