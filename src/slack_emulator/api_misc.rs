//! `auth.test`, `apps.connections.open`, `users.*`, `usergroups.users.list`, `views.*`.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::api_common::{paginate, ApiError, ApiResult, Params};
use super::events::{TEAM_DOMAIN, TEAM_NAME};
use super::socket_mode::issue_ticket;
use super::state::{
    fill_block_ids, random_id, random_token, OpenedView, PublishedView, State, User,
};
use super::{EmulatorConfig, Shared};

pub(super) fn auth_test(shared: &Arc<Shared>, _st: &mut State, _p: &Params) -> ApiResult {
    let cfg = &shared.config;
    Ok(json!({
        "url": format!("https://{TEAM_DOMAIN}.slack.com/"),
        "team": TEAM_NAME,
        "user": cfg.bot_name,
        "team_id": cfg.team_id,
        "user_id": cfg.bot_user_id,
        "bot_id": cfg.bot_id,
        "is_enterprise_install": false,
    }))
}

pub(super) fn connections_open(shared: &Arc<Shared>, st: &mut State, _p: &Params) -> ApiResult {
    if let Some(url) = &shared.config.socket_url {
        return Ok(json!({ "url": url }));
    }
    let ticket = issue_ticket(st);
    Ok(json!({
        "url": format!(
            "{}/link/?ticket={ticket}&app_id={}",
            shared.ws_url_base(),
            shared.config.app_id
        ),
    }))
}

fn user_json(cfg: &EmulatorConfig, u: &User) -> Value {
    let mut profile = json!({
        "real_name": u.real_name,
        "real_name_normalized": u.real_name,
        "display_name": u.display_name,
        "display_name_normalized": u.display_name,
        "team": cfg.team_id,
    });
    if u.is_bot {
        profile["bot_id"] = json!(cfg.bot_id);
    }
    json!({
        "id": u.id,
        "team_id": cfg.team_id,
        "name": u.name,
        "deleted": u.deleted,
        "real_name": u.real_name,
        "tz": u.tz,
        "tz_label": u.tz_label,
        "tz_offset": u.tz_offset,
        "profile": profile,
        "is_admin": false,
        "is_owner": false,
        "is_primary_owner": false,
        "is_restricted": false,
        "is_ultra_restricted": false,
        "is_bot": u.is_bot,
        "is_app_user": false,
        "updated": 1_700_000_000,
    })
}

pub(super) fn users_info(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let id = p.required("user", "user_not_found")?;
    let user = st
        .ws
        .user(&id)
        .ok_or_else(|| ApiError::new("user_not_found"))?;
    Ok(json!({"user": user_json(&shared.config, user)}))
}

pub(super) fn users_list(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let all: Vec<Value> = st
        .ws
        .users
        .iter()
        .map(|u| user_json(&shared.config, u))
        .collect();
    let (page, next) = paginate(&all, p, 100)?;
    Ok(json!({
        "members": page,
        "cache_ts": Utc::now().timestamp(),
        "response_metadata": {"next_cursor": next},
    }))
}

pub(super) fn usergroup_users(_shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let id = p.required("usergroup", "no_such_subteam")?;
    let group = st
        .ws
        .usergroups
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| ApiError::new("no_such_subteam"))?;
    Ok(json!({"users": group.users}))
}

/// The `view` argument, within Slack's Block Kit limits: `invalid_arguments` otherwise,
/// with the problems in `response_metadata.messages`, as Slack answers.
fn view_param(p: &Params) -> Result<Map<String, Value>, ApiError> {
    match p.json("view", "invalid_arguments")? {
        Some(Value::Object(view)) => {
            if let Err(problems) = super::block_kit::view(&view) {
                let messages: Vec<String> =
                    problems.iter().map(|m| format!("[ERROR] {m}")).collect();
                return Err(ApiError::new("invalid_arguments")
                    .with("response_metadata", json!({"messages": messages})));
            }
            Ok(view)
        }
        _ => Err(ApiError::new("invalid_arguments")),
    }
}

/// The view object Slack returns: the app's view plus the fields Slack owns.
fn stored_view(
    cfg: &EmulatorConfig,
    mut view: Map<String, Value>,
    id: &str,
    root_view_id: Option<&str>,
) -> Value {
    let now = Utc::now().timestamp();
    for (key, default) in [
        ("private_metadata", json!("")),
        ("callback_id", json!("")),
        ("external_id", json!("")),
        ("clear_on_close", json!(false)),
        ("notify_on_close", json!(false)),
        ("blocks", json!([])),
    ] {
        view.entry(key).or_insert(default);
    }
    if let Some(blocks) = view.get_mut("blocks") {
        fill_block_ids(blocks);
    }
    view.insert("id".into(), json!(id));
    view.insert("team_id".into(), json!(cfg.team_id));
    view.insert("app_id".into(), json!(cfg.app_id));
    view.insert("app_installed_team_id".into(), json!(cfg.team_id));
    view.insert("bot_id".into(), json!(cfg.bot_id));
    view.insert("state".into(), json!({"values": {}}));
    view.insert("hash".into(), json!(format!("{now}.{}", random_token(8))));
    view.insert("previous_view_id".into(), Value::Null);
    view.insert("root_view_id".into(), json!(root_view_id.unwrap_or(id)));
    Value::Object(view)
}

pub(super) fn views_open(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let trigger_id = p.required("trigger_id", "invalid_arguments")?;
    let view = view_param(p)?;
    if view.get("type").and_then(Value::as_str) != Some("modal") {
        return Err(ApiError::new("invalid_arguments"));
    }
    let trigger = st
        .triggers
        .get_mut(&trigger_id)
        .ok_or_else(|| ApiError::new("invalid_trigger_id"))?;
    if trigger.used {
        return Err(ApiError::new("exchanged_trigger_id"));
    }
    trigger.used = true;
    let user = trigger.user.clone();
    let id = random_id("V", 10);
    let stored = stored_view(&shared.config, view, &id, None);
    st.ws.views_opened.push(OpenedView {
        view_id: id,
        trigger_id,
        user,
        view: stored.clone(),
        closed: false,
    });
    Ok(json!({"view": stored}))
}

pub(super) fn views_update(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let view = view_param(p)?;
    let view_id = p.nonempty("view_id");
    let external_id = p.nonempty("external_id");
    if view_id.is_none() && external_id.is_none() {
        return Err(ApiError::new("invalid_arguments"));
    }
    let opened = st
        .ws
        .views_opened
        .iter_mut()
        .rev()
        .find(|v| match (&view_id, &external_id) {
            (Some(id), _) => &v.view_id == id,
            (None, Some(ext)) => v.view["external_id"].as_str() == Some(ext),
            (None, None) => false,
        })
        .ok_or_else(|| ApiError::new("not_found"))?;
    if let Some(hash) = p.nonempty("hash") {
        if opened.view["hash"].as_str() != Some(hash.as_str()) {
            return Err(ApiError::new("hash_conflict"));
        }
    }
    let root = opened.view["root_view_id"].as_str().map(String::from);
    let stored = stored_view(&shared.config, view, &opened.view_id, root.as_deref());
    opened.view = stored.clone();
    Ok(json!({"view": stored}))
}

pub(super) fn views_publish(shared: &Arc<Shared>, st: &mut State, p: &Params) -> ApiResult {
    let user = p.required("user_id", "invalid_arguments")?;
    let view = view_param(p)?;
    if view.get("type").and_then(Value::as_str) != Some("home") {
        return Err(ApiError::new("invalid_arguments"));
    }
    if st.ws.user(&user).is_none() {
        return Err(ApiError::new("user_not_found"));
    }
    // A user's App Home keeps its view id across publishes.
    let id = st
        .ws
        .views_published
        .iter()
        .rev()
        .find(|v| v.user == user)
        .and_then(|v| v.view["id"].as_str().map(String::from))
        .unwrap_or_else(|| random_id("V", 10));
    let stored = stored_view(&shared.config, view, &id, None);
    st.ws.views_published.push(PublishedView {
        user,
        view: stored.clone(),
        at: Utc::now(),
    });
    Ok(json!({"view": stored}))
}
