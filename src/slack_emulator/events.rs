//! Payloads Slack pushes to the app, shaped as Slack documents them (Events API inner events,
//! slash command and interactivity payloads). Pure builders: no state changes here.

use serde_json::{json, Map, Value};

use super::state::{random_token, Channel, Message, User};
use super::EmulatorConfig;

/// The legacy verification token Slack still includes in payloads.
pub(super) const VERIFICATION_TOKEN: &str = "emulatorverificationtoken";
pub(super) const TEAM_DOMAIN: &str = "emulator";
pub(super) const TEAM_NAME: &str = "Emulator";

/// The `event_callback` wrapper around an inner event.
pub(super) fn event_callback(
    cfg: &EmulatorConfig,
    event: Value,
    event_id: &str,
    event_time: i64,
) -> Value {
    json!({
        "token": VERIFICATION_TOKEN,
        "team_id": cfg.team_id,
        "context_team_id": cfg.team_id,
        "context_enterprise_id": null,
        "api_app_id": cfg.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [{
            "enterprise_id": null,
            "team_id": cfg.team_id,
            "user_id": cfg.bot_user_id,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
        "event_context": format!("4-{}", random_token(48)),
    })
}

/// A message object as it appears inside events (no reactions or pin state).
fn message_body(cfg: &EmulatorConfig, msg: &Message) -> Map<String, Value> {
    let mut body = match msg.to_json(cfg) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    body.remove("reactions");
    body.remove("pinned_to");
    body
}

/// `message` (someone, possibly the bot, posted). `parent_user` is set for thread replies.
pub(super) fn message(
    cfg: &EmulatorConfig,
    ch: &Channel,
    msg: &Message,
    parent_user: Option<&str>,
) -> Value {
    let mut ev = message_body(cfg, msg);
    ev.insert("channel".into(), json!(ch.id));
    ev.insert("event_ts".into(), json!(msg.ts));
    ev.insert("channel_type".into(), json!(ch.channel_type()));
    if let Some(parent) = parent_user.filter(|_| msg.thread_ts.as_deref() != Some(&msg.ts)) {
        ev.insert("parent_user_id".into(), json!(parent));
    }
    Value::Object(ev)
}

/// `message` / `message_changed`: `ts` is the event's own ts, `message.ts` the original.
pub(super) fn message_changed(
    cfg: &EmulatorConfig,
    ch: &Channel,
    previous: &Message,
    current: &Message,
    event_ts: &str,
) -> Value {
    json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "channel": ch.id,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": ch.channel_type(),
        "message": message_body(cfg, current),
        "previous_message": message_body(cfg, previous),
    })
}

/// `message` / `message_deleted`.
pub(super) fn message_deleted(
    cfg: &EmulatorConfig,
    ch: &Channel,
    previous: &Message,
    event_ts: &str,
) -> Value {
    json!({
        "type": "message",
        "subtype": "message_deleted",
        "hidden": true,
        "channel": ch.id,
        "ts": event_ts,
        "deleted_ts": previous.ts,
        "event_ts": event_ts,
        "channel_type": ch.channel_type(),
        "previous_message": message_body(cfg, previous),
    })
}

pub(super) fn reaction_added(user: &str, reaction: &str, msg: &Message, event_ts: &str) -> Value {
    json!({
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": msg.user,
        "item": {"type": "message", "channel": msg.channel, "ts": msg.ts},
        "event_ts": event_ts,
    })
}

/// `pin_added` / `pin_removed`.
pub(super) fn pin(
    kind: &str,
    cfg: &EmulatorConfig,
    user: &str,
    msg: &Message,
    created: i64,
    event_ts: &str,
) -> Value {
    let mut message = message_body(cfg, msg);
    message.insert("pinned_to".into(), json!([msg.channel]));
    json!({
        "type": kind,
        "user": user,
        "channel_id": msg.channel,
        "item": {
            "type": "message",
            "channel": msg.channel,
            "created": created,
            "created_by": user,
            "message": message,
        },
        "item_user": msg.user,
        "event_ts": event_ts,
    })
}

/// `member_joined_channel`: `user` joined `ch`, or was added by `inviter`. Slack sends it to
/// apps in the channel (the bot's own join included), with `channel_type` `C` for public
/// and `G` for private channels, and `inviter` only when someone added them.
pub(super) fn member_joined_channel(
    cfg: &EmulatorConfig,
    user: &str,
    ch: &Channel,
    inviter: Option<&str>,
    event_ts: &str,
) -> Value {
    let mut ev = json!({
        "type": "member_joined_channel",
        "user": user,
        "channel": ch.id,
        "channel_type": if ch.is_private { "G" } else { "C" },
        "team": cfg.team_id,
        "event_ts": event_ts,
    });
    if let Some(inviter) = inviter {
        ev["inviter"] = json!(inviter);
    }
    ev
}

pub(super) fn app_home_opened(
    user: &str,
    channel: &str,
    event_ts: &str,
    view: Option<&Value>,
) -> Value {
    let mut ev = json!({
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": "home",
        "event_ts": event_ts,
    });
    if let Some(view) = view {
        ev["view"] = view.clone();
    }
    ev
}

/// The `user` object of interactivity payloads.
fn interaction_user(cfg: &EmulatorConfig, user: &User) -> Value {
    json!({"id": user.id, "username": user.name, "name": user.name, "team_id": cfg.team_id})
}

pub(super) struct SlashArgs<'a> {
    pub command: &'a str,
    pub text: &'a str,
    pub user: &'a User,
    pub channel: &'a Channel,
    pub response_url: &'a str,
    pub trigger_id: &'a str,
}

/// Slash command payload (a form post over HTTP; every value is a string).
pub(super) fn slash_command(cfg: &EmulatorConfig, a: &SlashArgs<'_>) -> Value {
    let channel_name = if a.channel.is_im {
        "directmessage".to_string()
    } else {
        a.channel.name.clone()
    };
    json!({
        "token": VERIFICATION_TOKEN,
        "team_id": cfg.team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": a.channel.id,
        "channel_name": channel_name,
        "user_id": a.user.id,
        "user_name": a.user.name,
        "command": a.command,
        "text": a.text,
        "api_app_id": cfg.app_id,
        "is_enterprise_install": "false",
        "response_url": a.response_url,
        "trigger_id": a.trigger_id,
    })
}

pub(super) struct BlockActionArgs<'a> {
    pub user: &'a User,
    pub channel: &'a Channel,
    pub message: &'a Message,
    pub action: Value,
    pub response_url: &'a str,
    pub trigger_id: &'a str,
}

/// `block_actions` for a click on a message the app posted.
pub(super) fn block_actions(cfg: &EmulatorConfig, a: BlockActionArgs<'_>) -> Value {
    json!({
        "type": "block_actions",
        "user": interaction_user(cfg, a.user),
        "api_app_id": cfg.app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": a.message.ts,
            "channel_id": a.channel.id,
            "is_ephemeral": false,
        },
        "trigger_id": a.trigger_id,
        "team": {"id": cfg.team_id, "domain": TEAM_DOMAIN},
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": {"id": a.channel.id, "name": a.channel.name},
        "message": a.message.to_json(cfg),
        "state": {"values": {}},
        "response_url": a.response_url,
        "actions": [a.action],
    })
}

/// `view_submission` for a modal; `view` already carries the filled `state`.
pub(super) fn view_submission(
    cfg: &EmulatorConfig,
    user: &User,
    view: Value,
    trigger_id: &str,
) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": cfg.team_id, "domain": TEAM_DOMAIN},
        "user": interaction_user(cfg, user),
        "api_app_id": cfg.app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "view": view,
        "response_urls": [],
        "is_enterprise_install": false,
        "enterprise": null,
    })
}

/// Builds `view.state.values` from `{block_id: {action_id: value}}` the way Slack reports
/// each input element; elements given no value report their initial value (empty when
/// they have none), as Slack does.
/// A plain string becomes the element's natural value (`value`, `selected_option` from the
/// element's options, `selected_date` …); an object is taken as the element state verbatim.
pub(super) fn state_values(view: &Value, given: &Value) -> Value {
    let mut values = Map::new();
    let blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    for block in &blocks {
        let Some(block_id) = block["block_id"].as_str() else {
            continue;
        };
        let mut elements: Vec<&Value> = Vec::new();
        match block["type"].as_str() {
            Some("input") => elements.push(&block["element"]),
            Some("actions") => {
                elements.extend(block["elements"].as_array().into_iter().flatten());
            }
            Some("section") if block["accessory"].is_object() => elements.push(&block["accessory"]),
            _ => {}
        }
        let mut per_block = Map::new();
        for element in elements {
            let Some(action_id) = element["action_id"].as_str() else {
                continue;
            };
            let supplied = &given[block_id][action_id];
            if let Some(state) = element_state(element, supplied) {
                per_block.insert(action_id.to_string(), state);
            }
        }
        if !per_block.is_empty() {
            values.insert(block_id.to_string(), Value::Object(per_block));
        }
    }
    // Values for blocks the view does not declare are passed through, so tests can still
    // exercise handlers against unexpected input.
    if let Some(extra) = given.as_object() {
        for (block_id, actions) in extra {
            if !values.contains_key(block_id) {
                values.insert(block_id.clone(), actions.clone());
            }
        }
    }
    Value::Object(values)
}

fn element_state(element: &Value, supplied: &Value) -> Option<Value> {
    let kind = element["type"].as_str()?;
    if supplied.is_object() {
        return Some(supplied.clone());
    }
    // Slack submits what the input shows: a field the user did not touch keeps its initial
    // value (or option).
    let text = supplied.as_str().or_else(|| {
        if supplied.is_null() {
            element["initial_value"].as_str().or_else(|| {
                element
                    .pointer("/initial_option/value")
                    .and_then(Value::as_str)
            })
        } else {
            None
        }
    });
    let state = match kind {
        "plain_text_input" | "email_text_input" | "url_text_input" | "number_input" => {
            json!({"type": kind, "value": text})
        }
        "static_select" | "radio_buttons" | "external_select" => {
            let option = text.and_then(|v| find_option(element, v));
            json!({"type": kind, "selected_option": option})
        }
        "multi_static_select" | "checkboxes" => {
            let wanted: Vec<&str> = match supplied {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                Value::String(s) => vec![s.as_str()],
                _ => Vec::new(),
            };
            let options: Vec<Value> = wanted
                .into_iter()
                .filter_map(|v| find_option(element, v))
                .collect();
            json!({"type": kind, "selected_options": options})
        }
        "users_select" => json!({"type": kind, "selected_user": text}),
        "conversations_select" => json!({"type": kind, "selected_conversation": text}),
        "channels_select" => json!({"type": kind, "selected_channel": text}),
        "datepicker" => json!({"type": kind, "selected_date": text}),
        "timepicker" => json!({"type": kind, "selected_time": text}),
        _ => return text.map(|t| json!({"type": kind, "value": t})),
    };
    Some(state)
}

fn find_option(element: &Value, value: &str) -> Option<Value> {
    let direct = element["options"].as_array().into_iter().flatten();
    let grouped = element["option_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["options"].as_array().into_iter().flatten());
    direct
        .chain(grouped)
        .find(|o| o["value"].as_str() == Some(value))
        .cloned()
}
