//! Message-level methods: `chat.*`, `pins.*`, `reactions.add`, external file uploads —
//! plus the bot-side message helpers that `response_url`s and ack payloads reuse.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};

use super::api_common::{visible, ApiError, ApiResult, Params};
use super::block_kit;
use super::events;
use super::socket_mode::push_channel_event;
use super::state::{
    fill_block_ids, random_id, Ephemeral, EphemeralSource, Message, Reaction, State,
};
use super::Shared;

/// Slack truncates beyond this; `chat.postMessage` refuses it.
const MAX_TEXT_CHARS: usize = 40_000;

/// A message the app is about to post.
pub(super) struct BotPost {
    pub channel: String,
    pub text: String,
    pub blocks: Option<Value>,
    pub thread_ts: Option<String>,
    pub metadata: Option<Value>,
    pub files: Vec<Value>,
}

/// Stores a message from the bot and pushes the `message` event Slack sends an app about
/// its own messages (with `bot_id`, no subtype) when it is in the channel.
pub(super) fn bot_post(shared: &Arc<Shared>, st: &mut State, post: BotPost) -> Message {
    let cfg = &shared.config;
    let mut blocks = post.blocks;
    if let Some(b) = blocks.as_mut() {
        fill_block_ids(b);
    }
    let thread_ts = post.thread_ts.map(|t| thread_root(st, &post.channel, &t));
    let msg = Message {
        channel: post.channel,
        ts: st.next_ts(),
        user: cfg.bot_user_id.clone(),
        bot_id: Some(cfg.bot_id.clone()),
        text: post.text,
        blocks,
        thread_ts,
        edited: None,
        deleted: false,
        pinned: false,
        metadata: post.metadata,
        files: post.files,
        reactions: Vec::new(),
        client_msg_id: None,
    };
    st.store_message(msg.clone());
    push_message_event(shared, st, &msg);
    msg
}

/// The root of the thread `ts` belongs to (replying to a reply lands in the same thread).
pub(super) fn thread_root(st: &State, channel: &str, ts: &str) -> String {
    st.ws
        .message(channel, ts)
        .and_then(|m| m.thread_ts.clone())
        .unwrap_or_else(|| ts.to_string())
}

pub(super) fn push_message_event(shared: &Arc<Shared>, st: &mut State, msg: &Message) {
    let Some(channel) = st.ws.channel(&msg.channel) else {
        return;
    };
    let parent_user = msg
        .thread_ts
        .as_deref()
        .and_then(|t| st.ws.message(&msg.channel, t))
        .map(|m| m.user.clone());
    let event = events::message(&shared.config, channel, msg, parent_user.as_deref());
    push_channel_event(shared, st, &msg.channel, event);
}

/// Applies an edit and pushes `message_changed`. `None` leaves a field as it was.
pub(super) fn apply_edit(
    shared: &Arc<Shared>,
    st: &mut State,
    channel: &str,
    ts: &str,
    editor: &str,
    text: Option<String>,
    blocks: Option<Value>,
) -> Option<Message> {
    let edited_ts = st.next_ts();
    let msg = st.ws.message_mut(channel, ts)?;
    let previous = msg.clone();
    if let Some(text) = text {
        msg.text = text;
    }
    if let Some(mut blocks) = blocks {
        fill_block_ids(&mut blocks);
        msg.blocks = (blocks.as_array().is_some_and(|a| !a.is_empty())).then_some(blocks);
    }
    msg.edited = Some(super::state::Edited {
        user: editor.to_string(),
        ts: edited_ts.clone(),
    });
    let current = msg.clone();
    if let Some(ch) = st.ws.channel(channel) {
        let event = events::message_changed(&shared.config, ch, &previous, &current, &edited_ts);
        push_channel_event(shared, st, channel, event);
    }
    Some(current)
}

/// Removes a message (kept in `deleted_messages`) and pushes `message_deleted`.
pub(super) fn apply_delete(
    shared: &Arc<Shared>,
    st: &mut State,
    channel: &str,
    ts: &str,
) -> Option<Message> {
    let list = st.ws.messages.get_mut(channel)?;
    let index = list.iter().position(|m| m.ts == ts)?;
    let mut removed = list.remove(index);
    removed.deleted = true;
    st.ws.deleted_messages.push(removed.clone());
    let event_ts = st.next_ts();
    if let Some(ch) = st.ws.channel(channel) {
        let event = events::message_deleted(&shared.config, ch, &removed, &event_ts);
        push_channel_event(shared, st, channel, event);
    }
    Some(removed)
}

pub(super) fn record_ephemeral(
    st: &mut State,
    channel: &str,
    user: &str,
    text: String,
    blocks: Option<Value>,
    source: EphemeralSource,
) -> String {
    let ts = st.next_ts();
    st.ws.ephemerals.push(Ephemeral {
        channel: channel.to_string(),
        user: user.to_string(),
        text,
        blocks,
        thread_ts: None,
        source,
        ts: ts.clone(),
        at: Utc::now(),
    });
    ts
}

/// `channel` as `chat.*` accepts it: a conversation id, a user id (their IM) or a name.
fn resolve_target(shared: &Shared, st: &mut State, raw: &str) -> Result<String, ApiError> {
    if st.ws.user(raw).is_some() && raw != shared.config.bot_user_id {
        return Ok(st.open_im(&shared.config, raw));
    }
    if let Ok(c) = visible(shared, st, raw) {
        return Ok(c.id.clone());
    }
    st.ws
        .channel_by_name(raw)
        .filter(|c| !c.is_private || c.is_member(&shared.config.bot_user_id))
        .map(|c| c.id.clone())
        .ok_or_else(|| ApiError::new("channel_not_found"))
}

/// Membership rule for posting: members may post; public channels also accept
/// non-members when the app holds `chat:write.public`.
fn check_can_post(shared: &Shared, st: &State, channel: &str) -> Result<(), ApiError> {
    let cfg = &shared.config;
    let ch = visible(shared, st, channel)?;
    if ch.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    let public_ok = !ch.is_private && cfg.scopes.iter().any(|s| s == "chat:write.public");
    if !ch.is_member(&cfg.bot_user_id) && !public_ok {
        return Err(ApiError::new("not_in_channel"));
    }
    Ok(())
}

fn blocks_param(p: &Params) -> Result<Option<Value>, ApiError> {
    match p.json("blocks", "invalid_blocks")? {
        None => Ok(None),
        Some(Value::Array(a)) if a.is_empty() => Ok(None),
        Some(v @ Value::Array(_)) => {
            check_blocks(&v)?;
            Ok(Some(v))
        }
        Some(_) => Err(ApiError::new("invalid_blocks")),
    }
}

/// Slack's Block Kit limits on a message's blocks: `invalid_blocks` with the problems.
pub(super) fn check_blocks(blocks: &Value) -> Result<(), ApiError> {
    block_kit::message_blocks(blocks)
        .map_err(|problems| ApiError::new("invalid_blocks").with("errors", json!(problems)))
}

pub(super) fn post_message(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let raw = p.required("channel", "channel_not_found")?;
    let channel = resolve_target(shared, st, &raw)?;
    check_can_post(shared, st, &channel)?;
    let text = p.str("text").unwrap_or_default();
    let blocks = blocks_param(p)?;
    let attachments = p.json("attachments", "invalid_attachments")?;
    if text.trim().is_empty() && blocks.is_none() && attachments.is_none() {
        return Err(ApiError::new("no_text"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::new("msg_too_long"));
    }
    let metadata = p.json("metadata", "invalid_metadata_format")?;
    let msg = bot_post(
        shared,
        st,
        BotPost {
            channel: channel.clone(),
            text,
            blocks,
            thread_ts: p.nonempty("thread_ts"),
            metadata,
            files: Vec::new(),
        },
    );
    Ok(json!({"channel": channel, "ts": msg.ts, "message": msg.to_json(&shared.config)}))
}

pub(super) fn post_ephemeral(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let raw = p.required("channel", "channel_not_found")?;
    let user = p.required("user", "user_not_found")?;
    let channel = resolve_target(shared, st, &raw)?;
    check_can_post(shared, st, &channel)?;
    if st.ws.user(&user).is_none() {
        return Err(ApiError::new("user_not_found"));
    }
    if !st.ws.channel(&channel).is_some_and(|c| c.is_member(&user)) {
        return Err(ApiError::new("user_not_in_channel"));
    }
    let text = p.str("text").unwrap_or_default();
    let blocks = blocks_param(p)?;
    if text.trim().is_empty() && blocks.is_none() {
        return Err(ApiError::new("no_text"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::new("msg_too_long"));
    }
    let ts = record_ephemeral(
        st,
        &channel,
        &user,
        text,
        blocks,
        EphemeralSource::PostEphemeral,
    );
    if let (Some(e), Some(thread_ts)) = (st.ws.ephemerals.last_mut(), p.nonempty("thread_ts")) {
        e.thread_ts = Some(thread_ts);
    }
    Ok(json!({"message_ts": ts}))
}

/// The bot's own message at `channel`/`ts`, or the documented error.
fn own_message<'a>(
    shared: &Shared,
    st: &'a State,
    p: &Params,
    not_own: &str,
) -> Result<&'a Message, ApiError> {
    let raw = p.required("channel", "channel_not_found")?;
    let channel = visible(shared, st, &raw)?;
    let ts = p.required("ts", "message_not_found")?;
    let msg = st
        .ws
        .message(&channel.id, &ts)
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if msg.bot_id.as_deref() != Some(shared.config.bot_id.as_str()) {
        return Err(ApiError::new(not_own));
    }
    Ok(msg)
}

pub(super) fn update(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let msg = own_message(shared, st, p, "cant_update_message")?;
    let (channel, ts) = (msg.channel.clone(), msg.ts.clone());
    if st.ws.channel(&channel).is_some_and(|c| c.is_archived) {
        return Err(ApiError::new("is_archived"));
    }
    let text = p.str("text");
    let blocks = p.json("blocks", "invalid_blocks")?;
    if blocks.as_ref().is_some_and(|b| !b.is_array()) {
        return Err(ApiError::new("invalid_blocks"));
    }
    if let Some(b) = &blocks {
        check_blocks(b)?;
    }
    if text.as_deref().is_none_or(|t| t.trim().is_empty()) && blocks.is_none() {
        return Err(ApiError::new("no_text"));
    }
    if text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(ApiError::new("msg_too_long"));
    }
    let bot_user = shared.config.bot_user_id.clone();
    let updated = apply_edit(shared, st, &channel, &ts, &bot_user, text, blocks)
        .ok_or_else(|| ApiError::new("message_not_found"))?;
    if let Some(metadata) = p.json("metadata", "invalid_metadata_format")? {
        if let Some(m) = st.ws.message_mut(&channel, &ts) {
            m.metadata = Some(metadata);
        }
    }
    Ok(json!({
        "channel": channel,
        "ts": ts,
        "text": updated.text,
        "message": updated.to_json(&shared.config),
    }))
}

pub(super) fn delete(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let msg = own_message(shared, st, p, "cant_delete_message")?;
    let (channel, ts) = (msg.channel.clone(), msg.ts.clone());
    apply_delete(shared, st, &channel, &ts).ok_or_else(|| ApiError::new("message_not_found"))?;
    Ok(json!({"channel": channel, "ts": ts}))
}

/// The message named by `channel` + `timestamp` in a channel the bot is in.
fn target_message<'a>(shared: &Shared, st: &'a State, p: &Params) -> Result<&'a Message, ApiError> {
    let raw = p.required("channel", "channel_not_found")?;
    let channel = visible(shared, st, &raw)?;
    let ts = p.required("timestamp", "no_item_specified")?;
    if !channel.is_member(&shared.config.bot_user_id) {
        return Err(ApiError::new("not_in_channel"));
    }
    st.ws
        .message(&channel.id, &ts)
        .ok_or_else(|| ApiError::new("message_not_found"))
}

fn set_pin(shared: &Arc<Shared>, st: &mut State, p: &Params, pin: bool) -> ApiResult {
    let msg = target_message(shared, st, p)?;
    match (pin, msg.pinned) {
        (true, true) => return Err(ApiError::new("already_pinned")),
        (false, false) => return Err(ApiError::new("no_pin")),
        _ => {}
    }
    let (channel, ts) = (msg.channel.clone(), msg.ts.clone());
    let event_ts = st.next_ts();
    let Some(msg) = st.ws.message_mut(&channel, &ts) else {
        return Err(ApiError::new("message_not_found"));
    };
    msg.pinned = pin;
    let msg = msg.clone();
    let kind = if pin { "pin_added" } else { "pin_removed" };
    let cfg = &shared.config;
    let event = events::pin(
        kind,
        cfg,
        &cfg.bot_user_id,
        &msg,
        Utc::now().timestamp(),
        &event_ts,
    );
    push_channel_event(shared, st, &channel, event);
    Ok(json!({}))
}

pub(super) fn pins_add(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    set_pin(shared, st, p, true)
}

pub(super) fn pins_remove(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    set_pin(shared, st, p, false)
}

pub(super) fn pins_list(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let raw = p.required("channel", "channel_not_found")?;
    let channel = visible(shared, st, &raw)?;
    let items: Vec<Value> = st
        .ws
        .messages_in(&channel.id)
        .iter()
        .filter(|m| m.pinned)
        .map(|m| {
            json!({
                "type": "message",
                "channel": m.channel,
                "created": ts_secs(&m.ts),
                "created_by": m.user,
                "message": m.to_json(&shared.config),
            })
        })
        .collect();
    Ok(json!({"items": items}))
}

fn ts_secs(ts: &str) -> i64 {
    ts.split('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

pub(super) fn reactions_add(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let name = p.required("name", "invalid_name")?;
    let name = name.trim_matches(':').to_string();
    let msg = target_message(shared, st, p)?;
    let (channel, ts) = (msg.channel.clone(), msg.ts.clone());
    let bot_user = shared.config.bot_user_id.clone();
    let event_ts = st.next_ts();
    let Some(msg) = st.ws.message_mut(&channel, &ts) else {
        return Err(ApiError::new("message_not_found"));
    };
    add_reaction(msg, &name, &bot_user).map_err(|e| ApiError::new(&e))?;
    let event = events::reaction_added(&bot_user, &name, &msg.clone(), &event_ts);
    push_channel_event(shared, st, &channel, event);
    Ok(json!({}))
}

/// Adds `user`'s `name` reaction; `already_reacted` if it is there.
pub(super) fn add_reaction(msg: &mut Message, name: &str, user: &str) -> Result<(), String> {
    match msg.reactions.iter_mut().find(|r| r.name == name) {
        Some(r) if r.users.iter().any(|u| u == user) => Err("already_reacted".into()),
        Some(r) => {
            r.users.push(user.to_string());
            Ok(())
        }
        None => {
            msg.reactions.push(Reaction {
                name: name.to_string(),
                users: vec![user.to_string()],
            });
            Ok(())
        }
    }
}

pub(super) fn get_upload_url(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let filename = p.required("filename", "invalid_arguments")?;
    let length = p
        .number("length")
        .ok_or_else(|| ApiError::new("invalid_arguments"))?;
    let id = random_id("F", 10);
    st.ws.files.push(super::state::UploadedFile {
        id: id.clone(),
        filename,
        length,
        title: None,
        bytes: Vec::new(),
        uploaded: false,
        completed: false,
        channel: None,
        initial_comment: None,
        thread_ts: None,
        message_ts: None,
    });
    Ok(json!({"upload_url": format!("{}/upload/{id}", shared.base_url), "file_id": id}))
}

pub(super) fn complete_upload(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let cfg = &shared.config;
    let files = match p.json("files", "invalid_arguments")? {
        Some(Value::Array(files)) if !files.is_empty() => files,
        _ => return Err(ApiError::new("invalid_arguments")),
    };
    let channel = p.nonempty("channel_id").or_else(|| {
        p.nonempty("channels")
            .and_then(|c| c.split(',').next().map(String::from))
    });
    if let Some(channel) = &channel {
        check_can_post(shared, st, channel)?;
    }
    let mut wanted = Vec::new();
    for f in &files {
        let id = f["id"]
            .as_str()
            .ok_or_else(|| ApiError::new("invalid_arguments"))?;
        let known = st
            .ws
            .files
            .iter()
            .any(|x| x.id == id && x.uploaded && !x.completed);
        if !known {
            return Err(ApiError::new("file_not_found"));
        }
        wanted.push((id.to_string(), f["title"].as_str().map(String::from)));
    }
    let initial_comment = p.nonempty("initial_comment");
    let thread_ts = p.nonempty("thread_ts");
    let now = Utc::now().timestamp();
    let mut objects = Vec::new();
    for (id, title) in &wanted {
        if let Some(file) = st.ws.files.iter_mut().find(|x| &x.id == id) {
            file.completed = true;
            file.title = title.clone().or_else(|| Some(file.filename.clone()));
            file.channel = channel.clone();
            file.initial_comment = initial_comment.clone();
            file.thread_ts = thread_ts.clone();
            let filetype = file
                .filename
                .rsplit_once('.')
                .map(|(_, e)| e)
                .unwrap_or("text");
            objects.push(json!({
                "id": file.id,
                "created": now,
                "timestamp": now,
                "name": file.filename,
                "title": file.title,
                "mimetype": "",
                "filetype": filetype,
                "user": cfg.bot_user_id,
                "size": file.bytes.len(),
                "mode": "hosted",
                "is_external": false,
                "is_public": channel.is_some(),
                "url_private": format!("{}/files/{}", shared.base_url, file.id),
                // As Slack writes it: the workspace's domain, the uploader, the file.
                "permalink": format!(
                    "https://{}.slack.com/files/{}/{}/{}",
                    super::events::TEAM_DOMAIN,
                    cfg.bot_user_id,
                    file.id,
                    file.filename
                ),
            }));
        }
    }
    if let Some(channel) = channel {
        let msg = bot_post(
            shared,
            st,
            BotPost {
                channel,
                text: initial_comment.unwrap_or_default(),
                blocks: None,
                thread_ts,
                metadata: None,
                files: objects.clone(),
            },
        );
        for (id, _) in &wanted {
            if let Some(file) = st.ws.files.iter_mut().find(|x| &x.id == id) {
                file.message_ts = Some(msg.ts.clone());
            }
        }
    }
    Ok(json!({"files": objects}))
}
