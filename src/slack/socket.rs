//! The Socket Mode side: receive envelopes, record them, ack.
//!
//! slack-morphism sends the ack after a callback returns, and frames on one connection are
//! handled one at a time, so callbacks do only the fast part: translate the payload into an
//! [`Inbound`] and hand it to the [`EventSink`], which records it durably. Only then is the
//! envelope acked; if recording fails the callback errors, [`on_error`] answers with a
//! non-success status, no ack is sent and Slack redelivers. Malformed payloads are logged
//! and skipped (slack-morphism acks them so they are not redelivered forever).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::connection::ObservedConnector;
use super::inbound::{
    ts_to_time, ActionClick, ClickedMessage, CommandInvocation, Inbound, ViewSubmission,
};
use super::web::{Client, Outgoing, SlackError};
use crate::ops::metrics::Metrics;

/// The client type the Socket Mode callbacks are given.
type SocketClient = SlackClient<ObservedConnector>;

/// Where received events go. Implemented by the service.
pub trait EventSink: Send + Sync + 'static {
    /// Record an event durably under `key` (a redelivery has the same key). An error means
    /// "not recorded": the envelope is then not acked and Slack delivers it again.
    fn record(&self, key: String, inbound: Inbound) -> BoxFuture<'_, anyhow::Result<()>>;

    /// Take a slash command: answer at once (usage errors, read-only queries) or record it
    /// for processing. The returned message, if any, is shown to the caller only.
    fn command(&self, inv: CommandInvocation) -> BoxFuture<'_, anyhow::Result<Option<Outgoing>>>;
}

/// Connection health, shared with whoever needs to know (readiness, metrics, tests).
/// Kept up to date by [`super::connection`], which sees every connection's `hello` and end.
#[derive(Debug, Default)]
pub struct SocketStatus {
    /// At least one connection has said `hello` and has not ended since.
    pub connected: AtomicBool,
    /// Number of `hello` frames received (one per (re)connection).
    pub hellos: AtomicU64,
    /// Connections that ended (dropped, failed pings, or refreshed by Slack).
    pub disconnects: AtomicU64,
    /// Ids of the connections that are up.
    live: Mutex<HashSet<String>>,
}

impl SocketStatus {
    /// Whether any Socket Mode connection is up right now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// How many Socket Mode connections are up.
    pub fn live_connections(&self) -> usize {
        self.live_ids().len()
    }

    fn live_ids(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn connection_up(&self, id: String) {
        let mut live = self.live_ids();
        live.insert(id);
        self.hellos.fetch_add(1, Ordering::SeqCst);
        self.connected.store(true, Ordering::SeqCst);
    }

    /// Idempotent: slack-morphism may report the end of one connection more than once.
    pub(crate) fn connection_down(&self, id: &str) {
        let mut live = self.live_ids();
        if live.remove(id) {
            self.disconnects.fetch_add(1, Ordering::SeqCst);
            tracing::info!(connection = id, "Socket Mode connection ended");
        }
        self.connected.store(!live.is_empty(), Ordering::SeqCst);
    }

    pub(crate) fn all_down(&self) {
        let mut live = self.live_ids();
        live.clear();
        self.connected.store(false, Ordering::SeqCst);
    }
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
    listener: SlackClientSocketModeListener<ObservedConnector>,
    pub status: Arc<SocketStatus>,
}

impl SocketMode {
    /// Check the app token (one `apps.connections.open`, so a bad token fails here with a
    /// clear error instead of retrying forever in the background), then connect. `status`
    /// and `metrics` follow the connections and envelopes from then on.
    pub async fn start(
        client: Arc<Client>,
        app_token: &secrecy::SecretString,
        sink: Arc<dyn EventSink>,
        bot_user_id: String,
        connections: u32,
        status: Arc<SocketStatus>,
        metrics: Arc<Metrics>,
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

        let observed = SlackClient::new(ObservedConnector::new(client, status.clone(), metrics));
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(on_hello)
            .with_command_events(on_command)
            .with_push_events(on_push)
            .with_interaction_events(on_interaction);
        let env = Arc::new(
            SlackClientEventsListenerEnvironment::new(Arc::new(observed))
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
        self.status.all_down();
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
// The connection state itself is kept by `super::connection`, which knows which
// connection the hello came on.
async fn on_hello<E: std::fmt::Debug>(
    event: E,
    _client: Arc<SocketClient>,
    _states: SlackClientEventsUserState,
) {
    tracing::info!(hello = ?event, "Socket Mode connected");
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SocketClient>,
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
    _client: Arc<SocketClient>,
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

/// Button clicks (`block_actions`) are recorded like events, one inbox row per action, and
/// acked empty; whatever they do happens in the worker.
async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SocketClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let Some((sink, _, _)) = state_of(&states).await else {
        return Err(Box::new(NotRecorded("listener state missing".into())));
    };
    let body = match serde_json::to_value(&event) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "skipping an interaction that cannot be read");
            return Ok(());
        }
    };
    let clicks = translate_interaction(&body, Utc::now());
    if clicks.is_empty() {
        let kind = body.get("type").and_then(Value::as_str).unwrap_or("?");
        tracing::debug!(kind, "ignoring interaction");
    }
    for (key, inbound) in clicks {
        sink.record(key, inbound).await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "click not recorded; Slack will show the user an error");
            Box::new(NotRecorded(e.to_string())) as Box<dyn std::error::Error + Send + Sync>
        })?;
    }
    Ok(())
}

/// Turn an interaction payload into what warroom records, with the inbox key of each
/// (`act:<trigger_id>:<action_ts>`, the same on a redelivery). `block_actions` on messages
/// and `view_submission`s of warroom's modals are taken; anything else gives nothing.
pub fn translate_interaction(payload: &Value, at: DateTime<Utc>) -> Vec<(String, Inbound)> {
    if payload.get("type").and_then(Value::as_str) == Some("view_submission") {
        return translate_submission(payload, at).into_iter().collect();
    }
    let message_click = || -> Option<Vec<(String, Inbound)>> {
        if payload.get("type")?.as_str()? != "block_actions" {
            return None;
        }
        let container = payload.get("container")?;
        if container.get("type")?.as_str()? != "message" {
            return None;
        }
        let channel = s(container, "channel_id")
            .or_else(|| payload.get("channel").and_then(|c| s(c, "id")))?;
        let message_ts = s(container, "message_ts")?;
        let user = payload.get("user").and_then(|u| s(u, "id"))?;
        let trigger_id = s(payload, "trigger_id")?;
        let response_url = s(payload, "response_url").unwrap_or_default();
        let actions = payload.get("actions")?.as_array()?;
        let message = payload.get("message").map(|m| ClickedMessage {
            text: s(m, "text").unwrap_or_default(),
            blocks: m.get("blocks").filter(|b| b.is_array()).cloned(),
        });
        Some(
            actions
                .iter()
                .filter_map(|a| {
                    let action_id = s(a, "action_id")?;
                    let action_ts = s(a, "action_ts");
                    let key = format!(
                        "act:{trigger_id}:{}",
                        action_ts.as_deref().unwrap_or(&action_id)
                    );
                    let click = ActionClick {
                        user: user.clone(),
                        channel: channel.clone(),
                        message_ts: message_ts.clone(),
                        action_id,
                        value: s(a, "value"),
                        trigger_id: trigger_id.clone(),
                        response_url: response_url.clone(),
                        at: action_ts.as_deref().and_then(ts_to_time).unwrap_or(at),
                        message: message.clone(),
                    };
                    Some((key, Inbound::Action(click)))
                })
                .collect(),
        )
    };
    message_click().unwrap_or_default()
}

/// A modal submission, keyed by the view id (a modal is submitted once; a redelivery has
/// the same id). Inputs are flattened to `block_id → value` (typed text or the chosen
/// option's value).
fn translate_submission(payload: &Value, at: DateTime<Utc>) -> Option<(String, Inbound)> {
    let view = payload.get("view")?;
    let view_id = s(view, "id")?;
    let user = payload.get("user").and_then(|u| s(u, "id"))?;
    let mut values = std::collections::BTreeMap::new();
    if let Some(blocks) = view.pointer("/state/values").and_then(Value::as_object) {
        for (block_id, actions) in blocks {
            let Some(actions) = actions.as_object() else {
                continue;
            };
            for state in actions.values() {
                let value = state.get("value").and_then(Value::as_str).or_else(|| {
                    state
                        .pointer("/selected_option/value")
                        .and_then(Value::as_str)
                });
                if let Some(v) = value {
                    values.insert(block_id.clone(), v.to_string());
                }
            }
        }
    }
    let submission = ViewSubmission {
        user,
        view_id: view_id.clone(),
        callback_id: s(view, "callback_id").unwrap_or_default(),
        private_metadata: s(view, "private_metadata").unwrap_or_default(),
        values,
        at,
    };
    Some((
        format!("view:{view_id}"),
        Inbound::ViewSubmitted(submission),
    ))
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SocketClient>,
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
        "app_home_opened" => {
            if ev
                .get("tab")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "home")
            {
                return None;
            }
            Some(Inbound::AppHomeOpened {
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
    fn app_home_opens_are_read_and_the_messages_tab_is_not() {
        let home = json!({"type":"app_home_opened","user":"U1","channel":"D1","tab":"home","event_ts":"1.0"});
        assert!(
            matches!(translate_event(&home, "B", at()), Some(Inbound::AppHomeOpened { user, .. }) if user == "U1")
        );
        let msgs = json!({"type":"app_home_opened","user":"U1","channel":"D1","tab":"messages","event_ts":"1.0"});
        assert_eq!(translate_event(&msgs, "B", at()), None);
    }

    #[test]
    fn button_clicks_on_messages_are_read_with_a_stable_key() {
        let click = json!({
            "type": "block_actions",
            "user": {"id": "U1", "name": "ann"},
            "container": {"type": "message", "message_ts": "5.0", "channel_id": "C1"},
            "trigger_id": "1.2.abc",
            "response_url": "https://hooks/x",
            "actions": [{"action_id": "postmortem_draft", "value": "4", "type": "button", "action_ts": "1800000001.000200"}],
        });
        let got = translate_interaction(&click, at());
        assert_eq!(got.len(), 1);
        let (key, Inbound::Action(a)) = &got[0] else {
            panic!("not a click: {got:?}")
        };
        assert_eq!(key, "act:1.2.abc:1800000001.000200");
        assert_eq!(
            (a.user.as_str(), a.channel.as_str(), a.message_ts.as_str()),
            ("U1", "C1", "5.0")
        );
        assert_eq!(a.action_id, "postmortem_draft");
        assert_eq!(a.value.as_deref(), Some("4"));
        assert_eq!(a.at.timestamp(), 1_800_000_001);
        // Same payload again (a redelivery): same key.
        assert_eq!(translate_interaction(&click, at())[0].0, *key);

        let in_a_modal = json!({"type": "block_actions", "user": {"id": "U1"}, "trigger_id": "t",
            "container": {"type": "view", "view_id": "V1"}, "actions": [{"action_id": "x"}]});
        assert!(translate_interaction(&in_a_modal, at()).is_empty());
        let no_view = json!({"type": "view_submission", "user": {"id": "U1"}});
        assert!(translate_interaction(&no_view, at()).is_empty());
        assert!(translate_interaction(&json!(null), at()).is_empty());
    }

    #[test]
    fn modal_submissions_are_read_with_their_inputs() {
        let submission = json!({
            "type": "view_submission",
            "user": {"id": "U1"},
            "view": {
                "id": "V9", "callback_id": "support_case", "private_metadata": "{\"incident\":3}",
                "state": {"values": {
                    "subject": {"subject_input": {"type": "plain_text_input", "value": "Checkout <down>"}},
                    "severity": {"severity_input": {"type": "static_select", "selected_option": {"value": "urgent"}}},
                    "empty": {"x": {"type": "plain_text_input", "value": null}}
                }}
            }
        });
        let got = translate_interaction(&submission, at());
        let [(key, Inbound::ViewSubmitted(v))] = got.as_slice() else {
            panic!("not a submission: {got:?}")
        };
        assert_eq!(key, "view:V9");
        assert_eq!(v.callback_id, "support_case");
        assert_eq!(v.private_metadata, "{\"incident\":3}");
        assert_eq!(
            v.values.get("subject").map(String::as_str),
            Some("Checkout <down>")
        );
        assert_eq!(v.values.get("severity").map(String::as_str), Some("urgent"));
        assert!(!v.values.contains_key("empty"));
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
