//! `conversations.*` methods.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};

use super::api_common::{paginate, visible, ApiError, ApiResult, Params};
use super::state::{random_id, Channel, Message, State, Topic};
use super::Shared;

/// Whether the bot was granted `scope`.
fn granted(shared: &Shared, scope: &str) -> bool {
    shared.config.scopes.iter().any(|s| s == scope)
}

/// The channels `viewer` finds in `conversations.list` for these `types`: public channels
/// for everyone, private ones only for their members, IMs only for their two parties.
pub(super) fn listed_for<'a>(
    st: &'a State,
    viewer: &'a str,
    types: &'a [&'a str],
    exclude_archived: bool,
) -> impl Iterator<Item = &'a Channel> + 'a {
    st.ws
        .channels
        .iter()
        .filter(move |c| !(exclude_archived && c.is_archived))
        .filter(move |c| {
            if c.is_im {
                types.contains(&"im") && c.is_visible_to(viewer)
            } else if c.is_private {
                types.contains(&"private_channel") && c.is_visible_to(viewer)
            } else {
                types.contains(&"public_channel")
            }
        })
}

fn visible_param<'a>(shared: &Shared, st: &'a State, p: &Params) -> Result<&'a Channel, ApiError> {
    let id = p.required("channel", "channel_not_found")?;
    visible(shared, st, &id)
}

/// Slack's channel-name rules, checked in the order its errors are documented.
fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::new("invalid_name_required"));
    }
    if name.chars().count() > 80 {
        return Err(ApiError::new("invalid_name_maxlength"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !name.chars().all(allowed) {
        return Err(ApiError::new("invalid_name_specials"));
    }
    if name.chars().all(|c| c == '-' || c == '_') {
        return Err(ApiError::new("invalid_name_punctuation"));
    }
    Ok(())
}

pub(super) fn create(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    let name = p.str("name").unwrap_or_default();
    let is_private = p.flag("is_private");
    // The scope follows the kind of channel: `groups:write` for a private one,
    // `channels:manage` for a public one (either lets the method be called at all).
    let needed = if is_private {
        "groups:write"
    } else {
        "channels:manage"
    };
    if !granted(shared, needed) {
        return Err(ApiError::new("missing_scope")
            .with("needed", json!(needed))
            .with("provided", json!(cfg.scopes.join(","))));
    }
    validate_name(&name)?;
    if st.ws.channel_by_name(&name).is_some() {
        return Err(ApiError::new("name_taken"));
    }
    let channel = Channel {
        id: random_id("C", 10),
        name,
        creator: cfg.bot_user_id.clone(),
        members: vec![cfg.bot_user_id.clone()],
        is_archived: false,
        is_private,
        is_im: false,
        im_user: None,
        topic: Topic::default(),
        purpose: Topic::default(),
        created: Utc::now().timestamp(),
    };
    let body = json!({"channel": channel.to_json(cfg)});
    st.ws.channels.push(channel);
    Ok(body)
}

pub(super) fn invite(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    let channel = visible_param(shared, st, p)?;
    // Documented as "a comma separated list of user IDs": a string, not a JSON array.
    if matches!(p.0.get("users"), Some(Value::Array(_))) {
        return Err(ApiError::new("invalid_arguments").with(
            "response_metadata",
            json!({"messages": ["[ERROR] must be a comma-separated string [json-pointer:/users]"]}),
        ));
    }
    let users = p.required("users", "no_user")?;
    if channel.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    if channel.is_im {
        return Err(ApiError::new("method_not_supported_for_channel_type"));
    }
    if !channel.is_member(&cfg.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    let mut errors: Vec<(String, &str)> = Vec::new();
    let mut to_add: Vec<String> = Vec::new();
    let mut already = 0usize;
    for user in users.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        if user == cfg.bot_user_id {
            errors.push((user.to_string(), "cant_invite_self"));
        } else if st.ws.user(user).is_none() {
            errors.push((user.to_string(), "user_not_found"));
        } else if channel.is_member(user) || to_add.iter().any(|u| u == user) {
            already += 1;
        } else {
            to_add.push(user.to_string());
        }
    }
    let errors_json = |errors: &[(String, &str)]| -> Value {
        errors
            .iter()
            .map(|(u, e)| json!({"user": u, "ok": false, "error": e}))
            .collect()
    };
    // Without `force` one bad id fails the whole call; with it the valid ids are invited and
    // the failures listed. Inviting only existing members is itself an error.
    if let Some((_, first)) = errors.first() {
        if !p.flag("force") || to_add.is_empty() {
            return Err(ApiError::new(first).with("errors", errors_json(&errors)));
        }
    }
    if to_add.is_empty() && already > 0 {
        return Err(ApiError::new("already_in_channel"));
    }
    let id = channel.id.clone();
    let Some(channel) = st.ws.channel_mut(&id) else {
        return Err(ApiError::new("channel_not_found"));
    };
    channel.members.extend(to_add.iter().cloned());
    let mut body = json!({"channel": channel.to_json(cfg)});
    let joined = channel.clone();
    if !errors.is_empty() {
        body["errors"] = errors_json(&errors);
    }
    // Each person added is announced to the apps in the channel, the inviter named (the
    // Web API is called with the bot's token: the bot invited them).
    let inviter = cfg.bot_user_id.clone();
    for user in &to_add {
        let event_ts = st.next_ts();
        let event =
            super::events::member_joined_channel(cfg, user, &joined, Some(&inviter), &event_ts);
        super::socket_mode::push_channel_event(shared, st, &joined.id, event);
    }
    Ok(body)
}

pub(super) fn info(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let channel = visible_param(shared, st, p)?;
    Ok(json!({"channel": channel.to_json(&shared.config)}))
}

pub(super) fn list(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    let types = p
        .nonempty("types")
        .unwrap_or_else(|| "public_channel".into());
    let types: Vec<&str> = types.split(',').map(str::trim).collect();
    let exclude_archived = p.flag("exclude_archived");
    if types.contains(&"private_channel") && !granted(shared, "groups:read") {
        return Err(ApiError::new("missing_scope")
            .with("needed", json!("groups:read"))
            .with("provided", json!(cfg.scopes.join(","))));
    }
    let matching: Vec<Value> = listed_for(st, &cfg.bot_user_id, &types, exclude_archived)
        .map(|c| c.to_json(cfg))
        .collect();
    let (page, next) = paginate(&matching, p, 100)?;
    Ok(json!({"channels": page, "response_metadata": {"next_cursor": next}}))
}

pub(super) fn members(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let channel = visible_param(shared, st, p)?;
    let (page, next) = paginate(&channel.members, p, 100)?;
    Ok(json!({"members": page, "response_metadata": {"next_cursor": next}}))
}

pub(super) fn join(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    let channel = visible_param(shared, st, p)?;
    if channel.is_im || channel.is_private {
        return Err(ApiError::new("method_not_supported_for_channel_type"));
    }
    if channel.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    let already = channel.is_member(&cfg.bot_user_id);
    let id = channel.id.clone();
    let Some(channel) = st.ws.channel_mut(&id) else {
        return Err(ApiError::new("channel_not_found"));
    };
    if already {
        return Ok(json!({
            "channel": channel.to_json(cfg),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }));
    }
    channel.members.push(cfg.bot_user_id.clone());
    let body = json!({"channel": channel.to_json(cfg)});
    let joined = channel.clone();
    let event_ts = st.next_ts();
    let event =
        super::events::member_joined_channel(cfg, &cfg.bot_user_id, &joined, None, &event_ts);
    super::socket_mode::push_channel_event(shared, st, &joined.id, event);
    Ok(body)
}

pub(super) fn archive(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    let channel = visible_param(shared, st, p)?;
    if channel.is_im {
        return Err(ApiError::new("method_not_supported_for_channel_type"));
    }
    if channel.is_archived {
        return Err(ApiError::new("already_archived"));
    }
    // The emulated workspace's #general is the channel of that name (never renamed here).
    if channel.name == "general" {
        return Err(ApiError::new("cant_archive_general"));
    }
    if !channel.is_member(&cfg.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    let id = channel.id.clone();
    if let Some(channel) = st.ws.channel_mut(&id) {
        channel.is_archived = true;
    }
    Ok(json!({}))
}

/// Shared by `setTopic` / `setPurpose`: both return the updated channel.
fn set_text(
    shared: &Arc<Shared>,
    st: &mut State,
    p: &Params,
    field: &str,
    limit: usize,
    pick: fn(&mut Channel) -> &mut Topic,
) -> ApiResult {
    let cfg = &shared.config;
    let channel = visible_param(shared, st, p)?;
    let value = p.str(field).unwrap_or_default();
    if channel.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    if !channel.is_member(&cfg.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    if value.chars().count() > limit {
        return Err(ApiError::new("too_long"));
    }
    let id = channel.id.clone();
    let Some(channel) = st.ws.channel_mut(&id) else {
        return Err(ApiError::new("channel_not_found"));
    };
    *pick(channel) = Topic {
        value,
        creator: cfg.bot_user_id.clone(),
        last_set: Utc::now().timestamp(),
    };
    Ok(json!({"channel": channel.to_json(cfg)}))
}

pub(super) fn set_topic(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    set_text(shared, st, p, "topic", 250, |c| &mut c.topic)
}

pub(super) fn set_purpose(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    set_text(shared, st, p, "purpose", 250, |c| &mut c.purpose)
}

pub(super) fn open(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    if let Some(id) = p.nonempty("channel") {
        let channel = st
            .ws
            .channel(&id)
            .filter(|c| c.is_im)
            .ok_or_else(|| ApiError::new("channel_not_found"))?;
        return Ok(json!({"channel": {"id": channel.id}, "no_op": true, "already_open": true}));
    }
    let users = p.required("users", "users_list_not_supplied")?;
    let users: Vec<&str> = users
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let [user] = users.as_slice() else {
        // Group DMs are not modelled.
        return Err(ApiError::new("not_supported"));
    };
    if *user == cfg.bot_user_id {
        return Err(ApiError::new("cannot_dm_bot"));
    }
    if st.ws.user(user).is_none() {
        return Err(ApiError::new("user_not_found"));
    }
    let existed = st.ws.im_with(user).is_some();
    let id = st.open_im(cfg, user);
    let channel = if p.flag("return_im") {
        st.ws
            .channel(&id)
            .map(|c| c.to_json(cfg))
            .unwrap_or_else(|| json!({"id": id}))
    } else {
        json!({"id": id})
    };
    let mut body = json!({"channel": channel});
    if existed {
        body["no_op"] = json!(true);
        body["already_open"] = json!(true);
    }
    Ok(body)
}

/// Orders Slack timestamps numerically (`"1700000000.000100"`).
pub(super) fn ts_key(ts: &str) -> (i64, i64) {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let frac = format!("{frac:0<6}");
    (
        secs.parse().unwrap_or(0),
        frac.get(..6).and_then(|f| f.parse().ok()).unwrap_or(0),
    )
}

fn history_json(shared: &Shared, st: &State, msg: &Message) -> Value {
    let mut json = msg.to_json(&shared.config);
    if msg.thread_ts.as_deref() == Some(msg.ts.as_str()) || msg.thread_ts.is_none() {
        let replies = st.ws.thread_replies(&msg.channel, &msg.ts);
        if let Some(latest) = replies.last() {
            json["thread_ts"] = json!(msg.ts);
            json["reply_count"] = json!(replies.len());
            json["latest_reply"] = json!(latest.ts);
            let mut users: Vec<&str> = replies.iter().map(|r| r.user.as_str()).collect();
            users.dedup();
            json["reply_users"] = json!(users);
        }
    }
    json
}

pub(super) fn history(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let channel = visible_param(shared, st, p)?;
    if !channel.is_member(&shared.config.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    let inclusive = p.flag("inclusive");
    let latest = p.nonempty("latest").map(|t| ts_key(&t));
    let oldest = p.nonempty("oldest").map(|t| ts_key(&t));
    let in_range = |m: &&Message| {
        let k = ts_key(&m.ts);
        let below = latest.is_none_or(|l| if inclusive { k <= l } else { k < l });
        let above = oldest.is_none_or(|o| if inclusive { k >= o } else { k > o });
        below && above
    };
    let mut top: Vec<&Message> = st
        .ws
        .messages_in(&channel.id)
        .iter()
        .filter(|m| m.thread_ts.is_none() || m.thread_ts.as_deref() == Some(m.ts.as_str()))
        .filter(in_range)
        .collect();
    top.reverse();
    let all: Vec<Value> = top.iter().map(|m| history_json(shared, st, m)).collect();
    let (page, next) = paginate(&all, p, 100)?;
    let pin_count = st
        .ws
        .messages_in(&channel.id)
        .iter()
        .filter(|m| m.pinned)
        .count();
    Ok(json!({
        "messages": page,
        "has_more": !next.is_empty(),
        "pin_count": pin_count,
        "response_metadata": {"next_cursor": next},
    }))
}

pub(super) fn replies(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let channel = visible_param(shared, st, p)?;
    if !channel.is_member(&shared.config.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    let ts = p.required("ts", "thread_not_found")?;
    let parent = st
        .ws
        .message(&channel.id, &ts)
        .ok_or_else(|| ApiError::new("thread_not_found"))?;
    let root = parent
        .thread_ts
        .clone()
        .unwrap_or_else(|| parent.ts.clone());
    let mut all = Vec::new();
    if let Some(root_msg) = st.ws.message(&channel.id, &root) {
        all.push(history_json(shared, st, root_msg));
    }
    for reply in st.ws.thread_replies(&channel.id, &root) {
        all.push(reply.to_json(&shared.config));
    }
    let (page, next) = paginate(&all, p, 1000)?;
    Ok(json!({
        "messages": page,
        "has_more": !next.is_empty(),
        "response_metadata": {"next_cursor": next},
    }))
}
