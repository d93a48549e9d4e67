//! From Socket Mode payloads to warroom's [`Inbound`] values: pure functions, no IO.
//!
//! Everything here reads `serde_json::Value`s as Slack sends them and takes only what
//! warroom acts on; anything else gives `None` (or nothing) and is acked without being
//! recorded. The inbox key of each value is built here too, so a redelivery of the same
//! event, click or submission gets the same key.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{ChannelId, Ts};
use crate::slack::inbound::{
    ts_to_time, ActionClick, ClickedMessage, CommandInvocation, Inbound, ViewSubmission,
};

/// An `events_api` envelope's payload (`event_callback`): the inbox key (`ev:<event_id>`,
/// the same on every retry), when Slack says the event happened, and the inner event.
pub fn event_callback(payload: &Value) -> Option<(String, DateTime<Utc>, &Value)> {
    let event_id = payload.get("event_id")?.as_str()?;
    let event = payload.get("event").filter(|e| e.is_object())?;
    let at = payload
        .get("event_time")
        .and_then(Value::as_i64)
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(Utc::now);
    Some((format!("ev:{event_id}"), at, event))
}

/// A `slash_commands` envelope's payload as warroom's [`CommandInvocation`]; `None` when a
/// field warroom needs is missing. `at` is when it arrived (the service sets its own clock).
pub fn command_invocation(payload: &Value, at: DateTime<Utc>) -> Option<CommandInvocation> {
    Some(CommandInvocation {
        user: s(payload, "user_id")?,
        channel: channel_id(payload, "channel_id")?,
        text: unescape_command_text(&s(payload, "text").unwrap_or_default()),
        response_url: s(payload, "response_url").unwrap_or_default(),
        trigger_id: s(payload, "trigger_id")?,
        at,
    })
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
        let channel = channel_id(container, "channel_id")
            .or_else(|| payload.get("channel").and_then(|c| channel_id(c, "id")))?;
        let message_ts = ts(container, "message_ts")?;
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

/// A channel id field.
fn channel_id(v: &Value, key: &str) -> Option<ChannelId> {
    s(v, key).map(ChannelId::new)
}

/// A message ts field.
fn ts(v: &Value, key: &str) -> Option<Ts> {
    s(v, key).map(Ts::new)
}

/// Turn an Events API `event` object into what warroom records; `None` for events warroom
/// does not act on (other types, the bot's own messages, the bot joining, leaves, …).
pub fn translate_event(ev: &Value, bot_user: &str, at: DateTime<Utc>) -> Option<Inbound> {
    let kind = ev.get("type")?.as_str()?;
    match kind {
        "message" => {
            let channel = channel_id(ev, "channel")?;
            match ev.get("subtype").and_then(Value::as_str) {
                None | Some("thread_broadcast") | Some("file_share") | Some("me_message") => {
                    if ev.get("bot_id").is_some_and(|b| !b.is_null()) {
                        return None;
                    }
                    let user = s(ev, "user")?;
                    if user == bot_user {
                        return None;
                    }
                    let ts = self::ts(ev, "ts")?;
                    let at = ts_to_time(&ts).unwrap_or(at);
                    Some(Inbound::Message {
                        channel,
                        user,
                        thread_ts: self::ts(ev, "thread_ts").filter(|t| *t != ts),
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
                        ts: ts(msg, "ts")?,
                        user: s(msg, "user"),
                        text: s(msg, "text").unwrap_or_default(),
                        at: edited_at,
                    })
                }
                Some("message_deleted") => Some(Inbound::MessageDeleted {
                    channel,
                    ts: ts(ev, "deleted_ts")?,
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
                channel: channel_id(item, "channel")?,
                ts: ts(item, "ts")?,
                user: s(ev, "user")?,
                reaction: s(ev, "reaction")?,
                at,
            })
        }
        "pin_added" => {
            let item = ev.get("item")?;
            let channel = channel_id(ev, "channel_id").or_else(|| channel_id(item, "channel"))?;
            let ts = item
                .get("message")
                .and_then(|m| ts(m, "ts"))
                .or_else(|| ts(item, "ts"))?;
            Some(Inbound::Pinned {
                channel,
                ts,
                user: s(ev, "user")?,
                at,
            })
        }
        "member_joined_channel" => {
            let user = s(ev, "user")?;
            if user == bot_user {
                return None;
            }
            Some(Inbound::MemberJoined {
                channel: channel_id(ev, "channel")?,
                user,
                inviter: s(ev, "inviter"),
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
    fn joins_are_taken_except_the_bots_own() {
        let j = json!({"type":"member_joined_channel","user":"U1","channel":"C1","channel_type":"C","team":"T1","inviter":"UBOT","event_ts":"1.0"});
        assert_eq!(
            translate_event(&j, "UBOT", at()),
            Some(Inbound::MemberJoined {
                channel: ChannelId::new("C1"),
                user: "U1".into(),
                inviter: Some("UBOT".into()),
                at: at()
            })
        );
        let own = json!({"type":"member_joined_channel","user":"UBOT","channel":"C1","channel_type":"C","event_ts":"1.0"});
        assert_eq!(translate_event(&own, "UBOT", at()), None);
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
