//! What every Web API method handler takes and returns: the merged request [`Params`],
//! Slack's error shape ([`ApiError`]), cursor paging, the `Content-Type` reading, and the
//! channel as a viewer may see it ([`visible_to`]). Below
//! `web_api` (the plumbing that routes to the handlers) and the `api_*` handlers, so
//! neither imports the other for these.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::state::{Channel, State};
use super::Shared;

/// A Slack error: the `error` code plus any extra top-level fields (`needed`, `errors` …).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ApiError {
    pub code: String,
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(code: &str) -> ApiError {
        ApiError {
            code: code.to_string(),
            extra: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_string(), value);
        self
    }
}

pub(super) type ApiResult = Result<Value, ApiError>;

/// Request parameters: query string and body merged into one JSON object. Form values are
/// strings; JSON bodies keep their types, so accessors accept both spellings.
#[derive(Debug, Clone, Default)]
pub(super) struct Params(pub Map<String, Value>);

impl Params {
    /// A scalar parameter as a string.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            // JSON bodies may carry list arguments (`users`, `channels`) as arrays; Slack
            // reads them like the comma-separated form.
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join(",")),
            _ => None,
        }
    }

    /// A scalar parameter, absent if blank.
    pub fn nonempty(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.trim().is_empty())
    }

    /// A required parameter; `error` is the method's documented code for its absence.
    pub fn required(&self, key: &str, error: &str) -> Result<String, ApiError> {
        self.nonempty(key).ok_or_else(|| ApiError::new(error))
    }

    pub fn flag(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    pub fn number(&self, key: &str) -> Option<u64> {
        self.str(key).and_then(|s| s.trim().parse().ok())
    }

    /// A structured parameter: a JSON string in form bodies, a value in JSON bodies.
    pub fn json(&self, key: &str, error: &str) -> Result<Option<Value>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::new(error)),
            Some(other) => Ok(Some(other.clone())),
        }
    }
}

/// `limit` / `cursor` paging over `items`, as Slack's cursor-paginated methods do.
pub(super) fn paginate<T: Clone>(
    items: &[T],
    params: &Params,
    default_limit: usize,
) -> Result<(Vec<T>, String), ApiError> {
    let limit = match params.number("limit") {
        None | Some(0) => default_limit,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(1000),
    };
    let start = match params.nonempty("cursor") {
        None => 0,
        Some(c) => c
            .strip_prefix("cursor_")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n <= items.len())
            .ok_or_else(|| ApiError::new("invalid_cursor"))?,
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = if end < items.len() {
        format!("cursor_{end}")
    } else {
        String::new()
    };
    Ok((items[start..end].to_vec(), next))
}

/// The `Content-Type` with its media type lower-cased; parameters (a multipart boundary is
/// case-sensitive) are kept as sent.
pub(super) fn content_type(headers: &HeaderMap) -> String {
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match raw.split_once(';') {
        Some((media, rest)) => format!("{};{rest}", media.trim().to_ascii_lowercase()),
        None => raw.trim().to_ascii_lowercase(),
    }
}

/// The channel named by `channel`, as the bot may see it: private channels the bot is not
/// in do not exist as far as it can tell (`channel_not_found`), as in Slack.
pub(super) fn visible<'a>(
    shared: &Shared,
    st: &'a State,
    id: &str,
) -> Result<&'a Channel, ApiError> {
    visible_to(st, id, &shared.config.bot_user_id)
}

/// The channel `id` as `viewer` (the bot, or a person) may see it: a private channel exists
/// only for its members; anyone else is told `channel_not_found`, as Slack does.
pub(super) fn visible_to<'a>(
    st: &'a State,
    id: &str,
    viewer: &str,
) -> Result<&'a Channel, ApiError> {
    st.ws
        .channel(id)
        .filter(|c| c.is_visible_to(viewer))
        .ok_or_else(|| ApiError::new("channel_not_found"))
}
