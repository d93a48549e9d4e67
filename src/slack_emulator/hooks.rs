//! Non-API endpoints the app reaches through URLs Slack hands it: the external upload URL
//! (`files.getUploadURLExternal`) and `response_url`s of slash commands and interactions.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::api_chat::{apply_delete, apply_edit, bot_post, record_ephemeral, BotPost};
use super::api_common::content_type;
use super::state::{EphemeralSource, ResponseTarget, State};
use super::Shared;

/// Slack allows a `response_url` five uses within thirty minutes.
const RESPONSE_URL_USES: u32 = 5;
const RESPONSE_URL_TTL: Duration = Duration::from_secs(30 * 60);

/// One part of a `multipart/form-data` body.
pub(super) struct Part {
    pub name: String,
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Splits a `multipart/form-data` body (RFC 7578); None if it is malformed.
pub(super) fn multipart_parts(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut pos = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) == Some(b"\r\n") {
            pos += 2;
        }
        let next = find(body, &delimiter, pos)?;
        let section = &body[pos..next];
        let split = find(section, b"\r\n\r\n", 0)?;
        let headers = String::from_utf8_lossy(&section[..split]);
        let mut data = &section[split + 4..];
        if data.ends_with(b"\r\n") {
            data = &data[..data.len() - 2];
        }
        let name = headers
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .flat_map(|l| l.split(';').map(str::trim).collect::<Vec<_>>())
            .find_map(|p| {
                p.strip_prefix("name=")
                    .map(|n| n.trim_matches('"').to_string())
            })
            .unwrap_or_default();
        parts.push(Part {
            name,
            data: data.to_vec(),
        });
        pos = next + delimiter.len();
    }
}

/// `POST /upload/{file_id}`: raw bytes, or a multipart form with a `file` field.
pub(super) async fn upload(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = content_type(&headers);
    let bytes = if ct.starts_with("multipart/form-data") {
        match multipart_parts(&ct, &body)
            .and_then(|parts| parts.into_iter().find(|p| p.name == "file").map(|p| p.data))
        {
            Some(bytes) => bytes,
            None => return (StatusCode::BAD_REQUEST, "missing file field").into_response(),
        }
    } else {
        body.to_vec()
    };
    let stored = shared.with(|st| {
        let file = st
            .ws
            .files
            .iter_mut()
            .find(|f| f.id == file_id && !f.completed)?;
        if file.length != bytes.len() as u64 {
            tracing::warn!(
                file_id,
                announced = file.length,
                received = bytes.len(),
                "upload length differs from files.getUploadURLExternal length"
            );
        }
        file.bytes = bytes;
        file.uploaded = true;
        Some(file.bytes.len())
    });
    match stored {
        Some(len) => (StatusCode::OK, format!("OK - {len}")).into_response(),
        None => (StatusCode::NOT_FOUND, "file not found").into_response(),
    }
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `POST /response/{id}`: a `response_url` of a slash command or a message interaction.
pub(super) async fn response_url(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = content_type(&headers);
    let parsed: Option<Value> = if ct.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "payload")
            .and_then(|(_, v)| serde_json::from_str(&v).ok())
    } else {
        serde_json::from_slice(&body).ok()
    };
    let Some(reply) = parsed.filter(Value::is_object) else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"ok": false, "error": "invalid_payload"}),
        );
    };
    let (status, error) = shared.with(|st| apply_response(&shared, st, &id, &reply));
    match error {
        None => json_reply(status, json!({"ok": true})),
        Some(error) => json_reply(status, json!({"ok": false, "error": error})),
    }
}

fn flag(v: &Value) -> bool {
    v.as_bool().unwrap_or(false) || v.as_str() == Some("true")
}

fn apply_response(
    shared: &Arc<Shared>,
    st: &mut State,
    id: &str,
    reply: &Value,
) -> (StatusCode, Option<&'static str>) {
    let Some(url) = st.response_urls.get(id) else {
        return (StatusCode::NOT_FOUND, Some("no_service"));
    };
    if url.issued.elapsed() > RESPONSE_URL_TTL {
        return (StatusCode::NOT_FOUND, Some("expired_url"));
    }
    if url.uses >= RESPONSE_URL_USES {
        return (StatusCode::NOT_FOUND, Some("used_url"));
    }
    let target = url.target.clone();
    let text = reply["text"].as_str().map(String::from);
    let blocks = reply["blocks"].as_array().map(|b| Value::Array(b.clone()));
    let delete = flag(&reply["delete_original"]);
    let replace = flag(&reply["replace_original"]);
    let in_channel = reply["response_type"].as_str() == Some("in_channel");
    let thread_ts = reply["thread_ts"].as_str().map(String::from);
    if !delete && text.as_deref().is_none_or(str::is_empty) && blocks.is_none() {
        return (StatusCode::BAD_REQUEST, Some("no_text"));
    }
    // Slack's limits hold here as for chat.postMessage.
    if text.as_deref().is_some_and(|t| t.chars().count() > 40_000) {
        return (StatusCode::BAD_REQUEST, Some("msg_too_long"));
    }
    if let Some(b) = &blocks {
        if let Err(problems) = super::block_kit::message_blocks(b) {
            tracing::warn!(?problems, "response_url refused: invalid blocks");
            return (StatusCode::BAD_REQUEST, Some("invalid_blocks"));
        }
    }
    if let Some(url) = st.response_urls.get_mut(id) {
        url.uses += 1;
    }
    match target {
        ResponseTarget::Message {
            channel,
            message_ts,
            ..
        } if delete || replace => {
            let done = if delete {
                apply_delete(shared, st, &channel, &message_ts).is_some()
            } else {
                let bot_user = shared.config.bot_user_id.clone();
                apply_edit(shared, st, &channel, &message_ts, &bot_user, text, blocks).is_some()
            };
            if !done {
                return (StatusCode::NOT_FOUND, Some("message_not_found"));
            }
        }
        ResponseTarget::Slash { channel, user } | ResponseTarget::Message { channel, user, .. } => {
            if delete {
                // The original of a slash command is ephemeral: nothing stored to delete.
                return (StatusCode::OK, None);
            }
            if in_channel {
                bot_post(
                    shared,
                    st,
                    BotPost {
                        channel,
                        text: text.unwrap_or_default(),
                        blocks,
                        thread_ts,
                        metadata: None,
                        files: Vec::new(),
                    },
                );
            } else {
                let text = text.unwrap_or_default();
                record_ephemeral(
                    st,
                    &channel,
                    &user,
                    text,
                    blocks,
                    EphemeralSource::ResponseUrl,
                );
            }
        }
    }
    (StatusCode::OK, None)
}
