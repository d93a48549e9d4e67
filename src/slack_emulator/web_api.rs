//! Web API plumbing: routing, parameter parsing, authentication, scopes, fault injection
//! and the response envelope. The methods themselves live in `api_*`.
//!
//! Slack's conventions, followed here because clients depend on them: errors are HTTP 200
//! with `{"ok":false,"error":…}` except rate limits (429 + `Retry-After`); bodies may be
//! form-encoded or JSON; the token comes from `Authorization: Bearer` or a `token` field;
//! every response carries `x-oauth-scopes`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State as AxumState};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::api_common::{content_type, ApiError, ApiResult, Params};
use super::faults::{self, Fault};
use super::state::{random_token, ApiCall, State};
use super::{api_chat, api_conversations, api_misc, hooks, socket_mode, Shared};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{method}", any(handle))
        .route("/link", get(socket_mode::upgrade))
        .route("/link/", get(socket_mode::upgrade))
        .route("/upload/{file_id}", post(hooks::upload))
        .route("/response/{id}", post(hooks::response_url))
        .fallback(api_fallback)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Bot,
    App,
}

type Handler = fn(&Arc<Shared>, &mut State, &Params) -> ApiResult;

struct Spec {
    token: TokenKind,
    /// Any one of these grants the method (empty: no scope needed).
    scopes: &'static [&'static str],
    handler: Handler,
}

fn spec(method: &str) -> Option<Spec> {
    use api_chat as chat;
    use api_conversations as conv;
    use api_misc as misc;
    use TokenKind::{App, Bot};
    const READ: &[&str] = &["channels:read", "groups:read", "im:read", "mpim:read"];
    const MANAGE: &[&str] = &["channels:manage", "groups:write", "im:write", "mpim:write"];
    const HISTORY: &[&str] = &["channels:history", "groups:history", "im:history"];
    let (token, scopes, handler): (TokenKind, &'static [&'static str], Handler) = match method {
        "auth.test" => (Bot, &[], misc::auth_test),
        "apps.connections.open" => (App, &[], misc::connections_open),
        "conversations.create" => (Bot, MANAGE, conv::create),
        "conversations.invite" => (Bot, MANAGE, conv::invite),
        "conversations.info" => (Bot, READ, conv::info),
        "conversations.list" => (Bot, READ, conv::list),
        "conversations.members" => (Bot, READ, conv::members),
        "conversations.join" => (Bot, &["channels:join"], conv::join),
        "conversations.archive" => (Bot, MANAGE, conv::archive),
        "conversations.setTopic" => (Bot, MANAGE, conv::set_topic),
        "conversations.setPurpose" => (Bot, MANAGE, conv::set_purpose),
        "conversations.open" => (Bot, &["im:write", "mpim:write"], conv::open),
        "conversations.history" => (Bot, HISTORY, conv::history),
        "conversations.replies" => (Bot, HISTORY, conv::replies),
        "chat.postMessage" => (Bot, &["chat:write"], chat::post_message),
        "chat.postEphemeral" => (Bot, &["chat:write"], chat::post_ephemeral),
        "chat.update" => (Bot, &["chat:write"], chat::update),
        "chat.delete" => (Bot, &["chat:write"], chat::delete),
        "pins.add" => (Bot, &["pins:write"], chat::pins_add),
        "pins.remove" => (Bot, &["pins:write"], chat::pins_remove),
        "pins.list" => (Bot, &["pins:read"], chat::pins_list),
        "reactions.add" => (Bot, &["reactions:write"], chat::reactions_add),
        "files.getUploadURLExternal" => (Bot, &["files:write"], chat::get_upload_url),
        "files.completeUploadExternal" => (Bot, &["files:write"], chat::complete_upload),
        "users.info" => (Bot, &["users:read"], misc::users_info),
        "users.list" => (Bot, &["users:read"], misc::users_list),
        "usergroups.users.list" => (Bot, &["usergroups:read"], misc::usergroup_users),
        "views.open" => (Bot, &[], misc::views_open),
        "views.update" => (Bot, &[], misc::views_update),
        "views.publish" => (Bot, &[], misc::views_publish),
        _ => return None,
    };
    Some(Spec {
        token,
        scopes,
        handler,
    })
}

/// What the HTTP layer must send back.
enum Outcome {
    Api(ApiResult),
    RateLimited(u64),
    Status(u16),
}

impl Outcome {
    fn summary(&self) -> (u16, bool, Option<String>) {
        match self {
            Outcome::Api(Ok(_)) => (200, true, None),
            Outcome::Api(Err(e)) => (200, false, Some(e.code.clone())),
            Outcome::RateLimited(_) => (429, false, Some("ratelimited".into())),
            Outcome::Status(code) => (*code, false, Some(format!("http_{code}"))),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

fn parse_params(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Params, ApiError> {
    let mut map = Map::new();
    if let Some(query) = query {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Params(map));
    }
    let ct = content_type(headers);
    if ct.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => map.extend(fields),
            _ => return Err(ApiError::new("invalid_json")),
        }
    } else if ct.starts_with("multipart/form-data") {
        let parts =
            hooks::multipart_parts(&ct, body).ok_or_else(|| ApiError::new("invalid_form_data"))?;
        for part in parts {
            let value = String::from_utf8_lossy(&part.data).into_owned();
            map.insert(part.name, Value::String(value));
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    Ok(Params(map))
}

/// `/api/{method}` — every Web API call.
async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    serve_method(&shared, method, &headers, query, &body).await
}

/// `/api//{method}`: slack-morphism joins its base URL and the method with a `/`, so a base
/// ending in `/` (as [`super::SlackEmulator::api_url`] returns) doubles it. Slack's edge
/// tolerates that; so do we.
async fn api_fallback(
    AxumState(shared): AxumState<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = uri
        .path()
        .strip_prefix("/api/")
        .map(|m| m.trim_start_matches('/'))
        .filter(|m| !m.is_empty() && !m.contains('/'));
    match method {
        Some(method) => {
            let query = uri.query().map(String::from);
            serve_method(&shared, method.to_string(), &headers, query, &body).await
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve_method(
    shared: &Arc<Shared>,
    method: String,
    headers: &HeaderMap,
    query: Option<String>,
    body: &[u8],
) -> Response {
    let parsed = parse_params(headers, query.as_deref(), body);
    let params = parsed.clone().unwrap_or_default();
    let token = bearer(headers).or_else(|| params.nonempty("token"));
    let mut recorded = params.0.clone();
    recorded.remove("token");
    let accepted = spec(&method)
        .map(|s| s.scopes.join(","))
        .unwrap_or_default();
    let outcome = match parsed {
        Ok(params) => run(shared, &method, token.as_deref(), &params, recorded).await,
        Err(e) => {
            let outcome = Outcome::Api(Err(e));
            shared.with(|st| record(st, &method, recorded, &outcome));
            outcome
        }
    };
    respond(shared, outcome, &accepted)
}

async fn run(
    shared: &Arc<Shared>,
    method: &str,
    token: Option<&str>,
    params: &Params,
    recorded: Map<String, Value>,
) -> Outcome {
    let finish = |outcome: Outcome, recorded: Map<String, Value>| {
        shared.with(|st| record(st, method, recorded, &outcome));
        outcome
    };
    let Some(spec) = spec(method) else {
        return finish(Outcome::Api(Err(ApiError::new("unknown_method"))), recorded);
    };
    match shared.with(|st| faults::take(&mut st.faults, method)) {
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::RateLimited { retry_after_secs }) => {
            return finish(Outcome::RateLimited(retry_after_secs), recorded)
        }
        Some(Fault::Error(code)) => {
            return finish(Outcome::Api(Err(ApiError::new(&code))), recorded)
        }
        Some(Fault::HttpStatus(code)) => return finish(Outcome::Status(code), recorded),
        None => {}
    }
    let cfg = &shared.config;
    let kind = match token {
        None => return finish(Outcome::Api(Err(ApiError::new("not_authed"))), recorded),
        Some(t) if t == cfg.bot_token => TokenKind::Bot,
        Some(t) if t == cfg.app_token => TokenKind::App,
        Some(_) => return finish(Outcome::Api(Err(ApiError::new("invalid_auth"))), recorded),
    };
    if kind != spec.token {
        return finish(
            Outcome::Api(Err(ApiError::new("not_allowed_token_type"))),
            recorded,
        );
    }
    if kind == TokenKind::Bot
        && !spec.scopes.is_empty()
        && !spec
            .scopes
            .iter()
            .any(|s| cfg.scopes.iter().any(|g| g == s))
    {
        let err = ApiError::new("missing_scope")
            .with("needed", json!(spec.scopes[0]))
            .with("provided", json!(cfg.scopes.join(",")));
        return finish(Outcome::Api(Err(err)), recorded);
    }
    // The effect and its record land under one lock, so observers never see one without
    // the other.
    shared.with(|st| {
        let outcome = Outcome::Api((spec.handler)(shared, st, params));
        record(st, method, recorded, &outcome);
        outcome
    })
}

fn record(st: &mut State, method: &str, params: Map<String, Value>, outcome: &Outcome) {
    let (http_status, ok, error) = outcome.summary();
    st.ws.api_calls.push(ApiCall {
        method: method.to_string(),
        params: Value::Object(params),
        ok,
        error,
        http_status,
        at: Utc::now(),
    });
}

fn respond(shared: &Shared, outcome: Outcome, accepted: &str) -> Response {
    let mut retry_after = None;
    let (status, body) = match outcome {
        Outcome::Api(Ok(mut body)) => {
            if let Some(obj) = body.as_object_mut() {
                obj.insert("ok".into(), json!(true));
            }
            (StatusCode::OK, body)
        }
        Outcome::Api(Err(e)) => {
            let mut obj = Map::new();
            obj.insert("ok".into(), json!(false));
            obj.insert("error".into(), json!(e.code));
            obj.extend(e.extra);
            (StatusCode::OK, Value::Object(obj))
        }
        Outcome::RateLimited(secs) => {
            retry_after = Some(secs);
            (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"ok": false, "error": "ratelimited"}),
            )
        }
        Outcome::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = if code == 503 {
                "service_unavailable"
            } else {
                "internal_error"
            };
            (status, json!({"ok": false, "error": error}))
        }
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&shared.config.scopes.join(",")) {
        headers.insert("x-oauth-scopes", v);
    }
    if let Ok(v) = HeaderValue::from_str(accepted) {
        headers.insert("x-accepted-oauth-scopes", v);
    }
    headers.insert(
        "x-slack-req-id",
        HeaderValue::from_str(&random_token(32)).unwrap_or(HeaderValue::from_static("emulator")),
    );
    if let Some(secs) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
