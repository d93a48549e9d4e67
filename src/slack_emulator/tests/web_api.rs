//! Web API behaviour as a client sees it.

use std::time::Duration;

use serde_json::{json, Value};

use super::{Harness, SOON};
use crate::slack_emulator::{EmulatorConfig, EmulatorError, Fault};

#[tokio::test]
async fn auth_errors_follow_slack() {
    let h = Harness::new().await;
    let cfg = h.emu.config().clone();

    let missing = h.call("auth.test", None, &[]).await;
    assert_eq!(missing.status, 200);
    assert_eq!(missing.body, json!({"ok": false, "error": "not_authed"}));

    let bogus = h.call("auth.test", Some("xoxb-nope"), &[]).await;
    assert_eq!(bogus.body["error"], json!("invalid_auth"));

    let app_on_bot = h.call("chat.postMessage", Some(&cfg.app_token), &[]).await;
    assert_eq!(app_on_bot.body["error"], json!("not_allowed_token_type"));

    let bot_on_app = h
        .call("apps.connections.open", Some(&cfg.bot_token), &[])
        .await;
    assert_eq!(bot_on_app.body["error"], json!("not_allowed_token_type"));

    let unknown = h.call("chat.teleport", Some(&cfg.bot_token), &[]).await;
    assert_eq!(unknown.body["error"], json!("unknown_method"));

    // The token may also come as a form field.
    let form_token = h
        .call("auth.test", None, &[("token", &cfg.bot_token)])
        .await;
    assert_eq!(form_token.body["ok"], json!(true));

    // Failed calls are recorded too, without the token.
    let calls = h.emu.api_calls();
    assert_eq!(calls[0].error.as_deref(), Some("not_authed"));
    assert!(calls.iter().all(|c| c.params.get("token").is_none()));
}

#[tokio::test]
async fn auth_test_and_headers() {
    let h = Harness::new().await;
    let cfg = h.emu.config().clone();
    let reply = h.call("auth.test", Some(&cfg.bot_token), &[]).await;
    assert_eq!(reply.body["ok"], json!(true));
    assert_eq!(reply.body["user_id"], json!(cfg.bot_user_id));
    assert_eq!(reply.body["bot_id"], json!(cfg.bot_id));
    assert_eq!(reply.body["team_id"], json!(cfg.team_id));
    assert!(reply.body["url"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://")));
    assert_eq!(
        reply.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        reply.headers["x-oauth-scopes"],
        cfg.scopes.join(",").as_str()
    );

    // Errors carry the same headers.
    let err = h.call("auth.test", None, &[]).await;
    assert_eq!(err.headers["x-oauth-scopes"], cfg.scopes.join(",").as_str());
}

#[tokio::test]
async fn base_url_joined_with_a_slash_still_works() {
    // slack-morphism builds `{base}/{method}`; with `api_url()`'s trailing slash that is `//`.
    let h = Harness::new().await;
    let resp = h
        .http
        .get(format!("{}/auth.test", h.emu.api_url()))
        .bearer_auth(&h.emu.config().bot_token)
        .send()
        .await
        .expect("sent");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["ok"], json!(true), "{body}");
    let elsewhere = h
        .http
        .get(format!("{}/nothing/here", h.emu.base_url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(elsewhere.status().as_u16(), 404);
}

#[tokio::test]
async fn missing_scope_is_reported() {
    let h = Harness::with(EmulatorConfig {
        scopes: vec!["chat:write".into()],
        ..EmulatorConfig::default()
    })
    .await;
    let reply = h.bot("conversations.create", &[("name", "x")]).await;
    assert_eq!(reply["error"], json!("missing_scope"));
    assert_eq!(reply["provided"], json!("chat:write"));
}

#[tokio::test]
async fn conversations_create_enforces_name_rules() {
    let h = Harness::new().await;
    for (name, error) in [
        ("", "invalid_name_required"),
        ("Incident-42", "invalid_name_specials"),
        ("inc 42", "invalid_name_specials"),
        ("inc.42", "invalid_name_specials"),
        ("--", "invalid_name_punctuation"),
    ] {
        let reply = h.bot("conversations.create", &[("name", name)]).await;
        assert_eq!(reply["error"], json!(error), "name {name:?}: {reply}");
    }
    let long = "a".repeat(81);
    let reply = h.bot("conversations.create", &[("name", &long)]).await;
    assert_eq!(reply["error"], json!("invalid_name_maxlength"));

    let ok = h
        .bot("conversations.create", &[("name", &"a".repeat(80))])
        .await;
    assert_eq!(ok["ok"], json!(true));

    let created = h
        .bot("conversations.create", &[("name", "inc-42_db")])
        .await;
    assert_eq!(created["ok"], json!(true), "{created}");
    let channel = &created["channel"];
    assert!(channel["id"].as_str().is_some_and(|id| id.starts_with('C')));
    assert_eq!(channel["name"], json!("inc-42_db"));
    assert_eq!(channel["is_channel"], json!(true));
    assert_eq!(channel["is_member"], json!(true));
    assert_eq!(channel["creator"], json!(h.emu.config().bot_user_id));
    assert!(channel["created"].as_i64().is_some());

    let taken = h
        .bot("conversations.create", &[("name", "inc-42_db")])
        .await;
    assert_eq!(taken["error"], json!("name_taken"));

    // Archived channels keep their names.
    let id = channel["id"].as_str().expect("id");
    let archived = h.bot("conversations.archive", &[("channel", id)]).await;
    assert_eq!(archived["ok"], json!(true));
    let twice = h.bot("conversations.archive", &[("channel", id)]).await;
    assert_eq!(twice["error"], json!("already_archived"));
    let general = h.bot("conversations.create", &[("name", "general")]).await;
    let general = general["channel"]["id"].as_str().expect("id").to_string();
    let refused = h
        .bot("conversations.archive", &[("channel", &general)])
        .await;
    assert_eq!(refused["error"], json!("cant_archive_general"));
    let again = h
        .bot("conversations.create", &[("name", "inc-42_db")])
        .await;
    assert_eq!(again["error"], json!("name_taken"));

    let private = h
        .bot_json(
            "conversations.create",
            json!({"name": "secret", "is_private": true}),
        )
        .await;
    assert_eq!(private["channel"]["is_private"], json!(true));
    let stored = h.emu.channel_by_name("secret").expect("stored");
    assert!(stored.is_private);
    assert_eq!(stored.members, vec![h.emu.config().bot_user_id.clone()]);
}

#[tokio::test]
async fn conversations_invite_semantics() {
    let h = Harness::new().await;
    h.emu.add_user("U1", "alice");
    h.emu.add_user("U2", "bob");
    let bot = h.emu.config().bot_user_id.clone();

    let other = h.emu.create_channel("U1", "general");
    let not_in = h
        .bot(
            "conversations.invite",
            &[("channel", &other), ("users", "U2")],
        )
        .await;
    assert_eq!(not_in["error"], json!("not_in_channel"));

    let missing = h
        .bot(
            "conversations.invite",
            &[("channel", "C404"), ("users", "U1")],
        )
        .await;
    assert_eq!(missing["error"], json!("channel_not_found"));

    let room = h.war_room("inc-1", &[]).await;
    let invited = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", "U1,U2")],
        )
        .await;
    assert_eq!(invited["ok"], json!(true), "{invited}");
    assert_eq!(invited["channel"]["id"], json!(room));
    let members = h.emu.channel(&room).expect("room").members;
    assert_eq!(members, vec![bot.clone(), "U1".into(), "U2".into()]);

    let again = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", "U1")],
        )
        .await;
    assert_eq!(again["error"], json!("already_in_channel"));

    let self_invite = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", &bot)],
        )
        .await;
    assert_eq!(self_invite["error"], json!("cant_invite_self"));

    // One unknown id fails the whole call unless `force` is set.
    h.emu.add_user("U3", "carol");
    let partial = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", "U3,U999")],
        )
        .await;
    assert_eq!(partial["error"], json!("user_not_found"));
    assert_eq!(partial["errors"][0]["user"], json!("U999"));
    assert!(!h.emu.channel(&room).expect("room").is_member("U3"));

    let forced = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", "U3,U999"), ("force", "true")],
        )
        .await;
    assert_eq!(forced["ok"], json!(true), "{forced}");
    assert_eq!(forced["errors"][0]["error"], json!("user_not_found"));
    assert!(h.emu.channel(&room).expect("room").is_member("U3"));

    // `users` is documented as a comma-separated string; a JSON array is refused.
    h.emu.add_user("U5", "erin");
    let as_array = h
        .bot_json(
            "conversations.invite",
            json!({"channel": room, "users": ["U5"]}),
        )
        .await;
    assert_eq!(as_array["error"], json!("invalid_arguments"), "{as_array}");
    assert!(!h.emu.channel(&room).expect("room").is_member("U5"));
    let as_string = h
        .bot_json(
            "conversations.invite",
            json!({"channel": room, "users": "U5"}),
        )
        .await;
    assert_eq!(as_string["ok"], json!(true), "{as_string}");

    let archived = h.bot("conversations.archive", &[("channel", &room)]).await;
    assert_eq!(archived["ok"], json!(true));
    h.emu.add_user("U4", "dan");
    let closed = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", "U4")],
        )
        .await;
    assert_eq!(closed["error"], json!("is_archived"));
}

#[tokio::test]
async fn conversations_list_paginates_with_cursor() {
    let h = Harness::new().await;
    for i in 0..5 {
        h.bot("conversations.create", &[("name", &format!("inc-{i}"))])
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = h
            .bot("conversations.list", &[("limit", "2"), ("cursor", &cursor)])
            .await;
        assert_eq!(page["ok"], json!(true), "{page}");
        let channels = page["channels"].as_array().expect("channels");
        assert!(channels.len() <= 2);
        seen.extend(
            channels
                .iter()
                .map(|c| c["name"].as_str().unwrap_or("").to_string()),
        );
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .expect("next_cursor")
            .to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen, ["inc-0", "inc-1", "inc-2", "inc-3", "inc-4"]);

    let bad = h.bot("conversations.list", &[("cursor", "garbage")]).await;
    assert_eq!(bad["error"], json!("invalid_cursor"));
}

#[tokio::test]
async fn post_message_rules_and_echo_event() {
    let h = Harness::new().await;
    let outside = h.emu.create_channel("U1", "random");
    let not_in = h
        .bot("chat.postMessage", &[("channel", &outside), ("text", "hi")])
        .await;
    assert_eq!(not_in["error"], json!("not_in_channel"));

    let missing = h
        .bot("chat.postMessage", &[("channel", "C404"), ("text", "hi")])
        .await;
    assert_eq!(missing["error"], json!("channel_not_found"));

    let room = h.war_room("inc-2", &["U1"]).await;
    let empty = h.bot("chat.postMessage", &[("channel", &room)]).await;
    assert_eq!(empty["error"], json!("no_text"));

    let long = "x".repeat(40_001);
    let too_long = h
        .bot("chat.postMessage", &[("channel", &room), ("text", &long)])
        .await;
    assert_eq!(too_long["error"], json!("msg_too_long"));
    assert!(h.emu.messages(&room).is_empty());

    let mut socket = h.connect().await;
    let posted = h
        .bot(
            "chat.postMessage",
            &[
                ("channel", &room),
                ("text", "Incident declared"),
                (
                    "blocks",
                    r#"[{"type":"section","text":{"type":"mrkdwn","text":"*SEV1*"}}]"#,
                ),
            ],
        )
        .await;
    assert_eq!(posted["ok"], json!(true), "{posted}");
    assert_eq!(posted["channel"], json!(room));
    let ts = posted["ts"].as_str().expect("ts").to_string();
    assert_eq!(posted["message"]["bot_id"], json!(h.emu.config().bot_id));
    assert!(posted["message"]["blocks"][0]["block_id"].is_string());

    let envelope = socket.next_event("message").await;
    let event = &envelope["payload"]["event"];
    assert_eq!(event["ts"], json!(ts));
    assert_eq!(event["channel"], json!(room));
    assert_eq!(event["bot_id"], json!(h.emu.config().bot_id));
    assert_eq!(event["user"], json!(h.emu.config().bot_user_id));
    assert!(event.get("subtype").is_none());
    assert_eq!(event["channel_type"], json!("channel"));

    // JSON bodies take blocks as an array; a thread reply is stored with its thread_ts.
    let reply = h
        .bot_json(
            "chat.postMessage",
            json!({"channel": room, "text": "update", "thread_ts": ts,
                   "blocks": [{"type": "divider"}]}),
        )
        .await;
    assert_eq!(reply["ok"], json!(true), "{reply}");
    let stored = h.emu.messages(&room);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].thread_ts.as_deref(), Some(ts.as_str()));
    assert_eq!(stored[0].text, "Incident declared");

    // A user id as channel posts into the IM with that user.
    let dm = h
        .bot(
            "chat.postMessage",
            &[("channel", "U1"), ("text", "you are IC")],
        )
        .await;
    assert_eq!(dm["ok"], json!(true), "{dm}");
    assert!(dm["channel"].as_str().is_some_and(|c| c.starts_with('D')));
    assert_eq!(h.emu.dms("U1")[0].text, "you are IC");
}

#[tokio::test]
async fn chat_write_public_allows_posting_without_membership() {
    let mut config = EmulatorConfig::default();
    config.scopes.push("chat:write.public".into());
    let h = Harness::with(config).await;
    let outside = h.emu.create_channel("U1", "random");
    let posted = h
        .bot("chat.postMessage", &[("channel", &outside), ("text", "hi")])
        .await;
    assert_eq!(posted["ok"], json!(true), "{posted}");
}

#[tokio::test]
async fn chat_update_and_delete() {
    let h = Harness::new().await;
    let room = h.war_room("inc-3", &["U1"]).await;
    let mut socket = h.connect().await;
    let posted = h
        .bot(
            "chat.postMessage",
            &[("channel", &room), ("text", "status: investigating")],
        )
        .await;
    let ts = posted["ts"].as_str().expect("ts").to_string();
    let echo = socket.next_event("message").await;
    assert_eq!(echo["payload"]["event"]["ts"], json!(ts));
    socket
        .ack(echo["envelope_id"].as_str().expect("id"), None)
        .await;

    let updated = h
        .bot(
            "chat.update",
            &[
                ("channel", &room),
                ("ts", &ts),
                ("text", "status: mitigated"),
            ],
        )
        .await;
    assert_eq!(updated["ok"], json!(true), "{updated}");
    assert_eq!(updated["ts"], json!(ts));
    assert_eq!(updated["text"], json!("status: mitigated"));
    let stored = h.emu.message(&room, &ts).expect("message");
    assert_eq!(stored.text, "status: mitigated");
    assert!(stored.edited.is_some());

    let envelope = socket.next_event("message").await;
    let event = &envelope["payload"]["event"];
    assert_eq!(event["subtype"], json!("message_changed"));
    assert_eq!(event["hidden"], json!(true));
    assert_eq!(event["message"]["ts"], json!(ts));
    assert_eq!(event["message"]["text"], json!("status: mitigated"));
    assert_eq!(
        event["previous_message"]["text"],
        json!("status: investigating")
    );
    assert_ne!(event["ts"], json!(ts));

    let missing = h
        .bot(
            "chat.update",
            &[("channel", &room), ("ts", "1.000001"), ("text", "x")],
        )
        .await;
    assert_eq!(missing["error"], json!("message_not_found"));

    let human_ts = h
        .emu
        .post_message("U1", &room, "mine", None)
        .expect("posted");
    let not_ours = h
        .bot(
            "chat.update",
            &[("channel", &room), ("ts", &human_ts), ("text", "x")],
        )
        .await;
    assert_eq!(not_ours["error"], json!("cant_update_message"));
    let not_ours = h
        .bot("chat.delete", &[("channel", &room), ("ts", &human_ts)])
        .await;
    assert_eq!(not_ours["error"], json!("cant_delete_message"));

    let deleted = h
        .bot("chat.delete", &[("channel", &room), ("ts", &ts)])
        .await;
    assert_eq!(deleted["ok"], json!(true));
    assert!(h.emu.message(&room, &ts).is_none());
    assert_eq!(h.emu.deleted_messages(&room)[0].ts, ts);
}

#[tokio::test]
async fn post_ephemeral_requires_membership() {
    let h = Harness::new().await;
    let room = h.war_room("inc-4", &["U1"]).await;
    h.emu.add_user("U2", "bob");
    let outsider = h
        .bot(
            "chat.postEphemeral",
            &[("channel", &room), ("user", "U2"), ("text", "psst")],
        )
        .await;
    assert_eq!(outsider["error"], json!("user_not_in_channel"));
    let ok = h
        .bot(
            "chat.postEphemeral",
            &[("channel", &room), ("user", "U1"), ("text", "psst")],
        )
        .await;
    assert_eq!(ok["ok"], json!(true));
    assert!(ok["message_ts"].is_string());
    let seen = h.emu.ephemerals("U1");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].text, "psst");
    assert_eq!(
        seen[0].source,
        crate::slack_emulator::EphemeralSource::PostEphemeral
    );
}

#[tokio::test]
async fn pins_and_reactions() {
    let h = Harness::new().await;
    let room = h.war_room("inc-5", &["U1"]).await;
    let posted = h
        .bot(
            "chat.postMessage",
            &[("channel", &room), ("text", "summary")],
        )
        .await;
    let ts = posted["ts"].as_str().expect("ts").to_string();
    let mut socket = h.connect().await;

    let pinned = h
        .bot("pins.add", &[("channel", &room), ("timestamp", &ts)])
        .await;
    assert_eq!(pinned["ok"], json!(true), "{pinned}");
    assert_eq!(h.emu.pins(&room), vec![ts.clone()]);
    let event = socket.next_event("pin_added").await;
    assert_eq!(
        event["payload"]["event"]["item"]["message"]["ts"],
        json!(ts)
    );

    let again = h
        .bot("pins.add", &[("channel", &room), ("timestamp", &ts)])
        .await;
    assert_eq!(again["error"], json!("already_pinned"));
    let missing = h
        .bot("pins.add", &[("channel", &room), ("timestamp", "1.000001")])
        .await;
    assert_eq!(missing["error"], json!("message_not_found"));

    let listed = h.bot("pins.list", &[("channel", &room)]).await;
    assert_eq!(listed["items"][0]["message"]["ts"], json!(ts));

    let reacted = h
        .bot(
            "reactions.add",
            &[("channel", &room), ("timestamp", &ts), ("name", "eyes")],
        )
        .await;
    assert_eq!(reacted["ok"], json!(true));
    let twice = h
        .bot(
            "reactions.add",
            &[("channel", &room), ("timestamp", &ts), ("name", "eyes")],
        )
        .await;
    assert_eq!(twice["error"], json!("already_reacted"));
    assert_eq!(
        h.emu.message(&room, &ts).expect("msg").reactions[0].name,
        "eyes"
    );
}

#[tokio::test]
async fn users_and_usergroups() {
    let h = Harness::new().await;
    h.emu.add_user("U1", "alice");
    h.emu.set_user_tz("U1", "Europe/Paris", 3600);
    h.emu.add_usergroup("S1", "oncall", &["U1"]);
    let info = h.bot("users.info", &[("user", "U1")]).await;
    assert_eq!(info["user"]["id"], json!("U1"));
    assert_eq!(info["user"]["profile"]["display_name"], json!("alice"));
    assert_eq!(info["user"]["tz"], json!("Europe/Paris"));
    assert_eq!(info["user"]["tz_offset"], json!(3600));
    let missing = h.bot("users.info", &[("user", "U404")]).await;
    assert_eq!(missing["error"], json!("user_not_found"));

    let group = h.bot("usergroups.users.list", &[("usergroup", "S1")]).await;
    assert_eq!(group["users"], json!(["U1"]));
    let none = h
        .bot("usergroups.users.list", &[("usergroup", "S404")])
        .await;
    assert_eq!(none["error"], json!("no_such_subteam"));
}

#[tokio::test]
async fn history_is_newest_first_without_thread_replies() {
    let h = Harness::new().await;
    let room = h.war_room("inc-6", &["U1"]).await;
    let first = h.emu.post_message("U1", &room, "one", None).expect("one");
    h.emu
        .post_message("U1", &room, "reply", Some(&first))
        .expect("reply");
    h.emu.post_message("U1", &room, "two", None).expect("two");
    let history = h.bot("conversations.history", &[("channel", &room)]).await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["two", "one"]);
    assert_eq!(history["messages"][1]["reply_count"], json!(1));

    let oldest = h
        .bot(
            "conversations.history",
            &[("channel", &room), ("oldest", &first)],
        )
        .await;
    assert_eq!(oldest["messages"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn injected_faults() {
    let h = Harness::new().await;
    let room = h.war_room("inc-7", &[]).await;
    h.emu.inject_fault(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    let token = h.emu.config().bot_token.clone();
    let limited = h
        .call(
            "chat.postMessage",
            Some(&token),
            &[("channel", &room), ("text", "hi")],
        )
        .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "7");
    assert_eq!(limited.body, json!({"ok": false, "error": "ratelimited"}));
    assert!(h.emu.messages(&room).is_empty());

    // Only the injected number of calls fail.
    let ok = h
        .bot("chat.postMessage", &[("channel", &room), ("text", "hi")])
        .await;
    assert_eq!(ok["ok"], json!(true));

    h.emu
        .inject_fault("chat.postMessage", Fault::Error("fatal_error".into()), 1);
    let failed = h
        .bot("chat.postMessage", &[("channel", &room), ("text", "hi")])
        .await;
    assert_eq!(failed["error"], json!("fatal_error"));

    h.emu
        .inject_fault("chat.postMessage", Fault::HttpStatus(503), 2);
    for _ in 0..2 {
        let down = h
            .call(
                "chat.postMessage",
                Some(&token),
                &[("channel", &room), ("text", "hi")],
            )
            .await;
        assert_eq!(down.status, 503);
    }

    h.emu
        .inject_fault("auth.test", Fault::Delay(Duration::from_millis(300)), 1);
    let slow = h
        .http
        .post(format!("{}auth.test", h.emu.api_url()))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(slow.is_err_and(|e| e.is_timeout()));

    let calls = h.emu.api_calls();
    let statuses: Vec<u16> = calls
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .map(|c| c.http_status)
        .collect();
    assert_eq!(statuses, [429, 200, 200, 503, 503]);
}

#[tokio::test]
async fn file_upload_flow() {
    let h = Harness::new().await;
    let room = h.war_room("inc-8", &[]).await;
    let content = b"timeline\n10:00 declared\n";

    let premature = h
        .bot_json(
            "files.getUploadURLExternal",
            json!({"filename": "a.md", "length": 3}),
        )
        .await;
    let premature_id = premature["file_id"].as_str().expect("file id").to_string();
    let not_uploaded = h
        .bot(
            "files.completeUploadExternal",
            &[
                ("files", &json!([{"id": premature_id}]).to_string()),
                ("channel_id", &room),
            ],
        )
        .await;
    assert_eq!(not_uploaded["ok"], json!(false));
    assert_eq!(not_uploaded["error"], json!("file_not_found"));

    let len = content.len().to_string();
    let url = h
        .bot(
            "files.getUploadURLExternal",
            &[("filename", "postmortem.md"), ("length", &len)],
        )
        .await;
    assert_eq!(url["ok"], json!(true), "{url}");
    let file_id = url["file_id"].as_str().expect("file_id").to_string();
    let upload_url = url["upload_url"].as_str().expect("upload_url").to_string();
    assert!(upload_url.starts_with(&h.emu.base_url()));

    let uploaded = h
        .http
        .post(&upload_url)
        .body(content.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status().as_u16(), 200);
    assert_eq!(uploaded.text().await.expect("text"), format!("OK - {len}"));

    let files = json!([{"id": file_id, "title": "Postmortem"}]).to_string();
    let done = h
        .bot(
            "files.completeUploadExternal",
            &[
                ("files", &files),
                ("channel_id", &room),
                ("initial_comment", "Draft postmortem"),
            ],
        )
        .await;
    assert_eq!(done["ok"], json!(true), "{done}");
    assert_eq!(done["files"][0]["id"], json!(file_id));

    let shared = h.emu.files(&room);
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].bytes, content);
    assert_eq!(shared[0].title.as_deref(), Some("Postmortem"));
    assert_eq!(
        shared[0].initial_comment.as_deref(),
        Some("Draft postmortem")
    );
    let msgs = h.emu.messages(&room);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].files[0]["id"], json!(file_id));

    // Completing twice is refused.
    let twice = h
        .bot(
            "files.completeUploadExternal",
            &[("files", &files), ("channel_id", &room)],
        )
        .await;
    assert_eq!(twice["error"], json!("file_not_found"));
}

#[tokio::test]
async fn multipart_upload_is_accepted() {
    let h = Harness::new().await;
    let url = h
        .bot(
            "files.getUploadURLExternal",
            &[("filename", "x.txt"), ("length", "5")],
        )
        .await;
    let upload_url = url["upload_url"].as_str().expect("url").to_string();
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\
                Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
    let resp = h
        .http
        .post(&upload_url)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.text().await.expect("text"), "OK - 5");
    let file = h.emu.workspace().files.into_iter().next().expect("file");
    assert_eq!(file.bytes, b"hello");
}

#[tokio::test]
async fn views_publish_and_open_need_valid_input() {
    let h = Harness::new().await;
    h.emu.add_user("U1", "alice");
    let home = json!({"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]});
    let published = h
        .bot_json("views.publish", json!({"user_id": "U1", "view": home}))
        .await;
    assert_eq!(published["ok"], json!(true), "{published}");
    assert!(published["view"]["id"]
        .as_str()
        .is_some_and(|v| v.starts_with('V')));
    assert_eq!(h.emu.views_published("U1").len(), 1);

    let modal = json!({"type": "modal", "title": {"type": "plain_text", "text": "x"}}).to_string();
    let bad_trigger = h
        .bot(
            "views.open",
            &[("trigger_id", "123.456.abc"), ("view", &modal)],
        )
        .await;
    assert_eq!(bad_trigger["error"], json!("invalid_trigger_id"));
}

#[tokio::test]
async fn wait_until_times_out_with_an_error() {
    let h = Harness::new().await;
    let started = tokio::time::Instant::now();
    let result = h
        .emu
        .wait_until(Duration::from_millis(100), |ws| {
            ws.channel_by_name("never").map(|c| c.id.clone())
        })
        .await;
    assert!(
        matches!(result, Err(EmulatorError::Timeout(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < SOON);

    // And it returns as soon as the condition holds.
    let emu = h.emu.clone();
    let waiter = tokio::spawn(async move {
        emu.wait_until(SOON, |ws| ws.channel_by_name("later").map(|c| c.id.clone()))
            .await
    });
    let created = h.bot("conversations.create", &[("name", "later")]).await;
    let id: Value = created["channel"]["id"].clone();
    let seen = waiter.await.expect("join").expect("condition met");
    assert_eq!(json!(seen), id);
}

/// Slack's Block Kit limits, as Slack applies them: a message with a section over 3,000
/// characters (counted as sent, entities included) is `invalid_blocks`, over 50 blocks too;
/// a modal with an input whose `max_length` is over 3,000 is `invalid_arguments`; a text
/// over 40,000 characters is `msg_too_long`, through a `response_url` too.
#[tokio::test]
async fn block_kit_limits_are_refused_as_slack_refuses_them() {
    let h = Harness::new().await;
    let room = h.war_room("inc-limits", &[]).await;
    let section =
        |text: String| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
    let over = h
        .bot_json(
            "chat.postMessage",
            json!({"channel": room, "text": "x", "blocks": [section("&lt;".repeat(751))]}),
        )
        .await;
    assert_eq!(over["error"], json!("invalid_blocks"), "{over}");
    assert_eq!(
        over["errors"][0],
        json!("must be less than 3001 characters [json-pointer:/blocks/0/text/text]")
    );
    let fits = h
        .bot_json(
            "chat.postMessage",
            json!({"channel": room, "text": "x", "blocks": [section("&lt;".repeat(750))]}),
        )
        .await;
    assert_eq!(fits["ok"], json!(true), "{fits}");
    let ts = fits["ts"].as_str().unwrap().to_string();
    let many: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
    let too_many = h
        .bot_json(
            "chat.update",
            json!({"channel": room, "ts": ts, "text": "x", "blocks": many}),
        )
        .await;
    assert_eq!(too_many["error"], json!("invalid_blocks"), "{too_many}");
    let long = h
        .bot_json(
            "chat.postMessage",
            json!({"channel": room, "text": "y".repeat(40_001)}),
        )
        .await;
    assert_eq!(long["error"], json!("msg_too_long"));

    // (A Home tab, so nothing but the input's limit is wrong.)
    let input = json!({
        "type": "home",
        "blocks": [{
            "type": "input",
            "label": {"type": "plain_text", "text": "Description"},
            "element": {"type": "plain_text_input", "max_length": 8000},
        }],
    });
    h.emu.add_user("U1", "alice");
    let home = h
        .bot_json("views.publish", json!({"user_id": "U1", "view": input}))
        .await;
    assert_eq!(home["error"], json!("invalid_arguments"), "{home}");
    assert!(home["response_metadata"]["messages"][0]
        .as_str()
        .unwrap()
        .contains("/blocks/0/element/max_length"));
    let home = json!({"type": "home", "blocks": (0..101).map(|_| json!({"type": "divider"})).collect::<Vec<_>>()});
    let published = h
        .bot_json("views.publish", json!({"user_id": "U1", "view": home}))
        .await;
    assert_eq!(
        published["error"],
        json!("invalid_arguments"),
        "{published}"
    );
    assert!(published["response_metadata"]["messages"][0]
        .as_str()
        .unwrap()
        .contains("at most 100"));
}

/// `member_joined_channel` goes to the app for every person added to a channel it is in
/// (with the inviter) and for people joining themselves (without); a private channel needs
/// an inviter; the bot's own joins are sent too.
#[tokio::test]
async fn joins_are_told_as_member_joined_channel() {
    let h = Harness::new().await;
    h.emu.add_user("U1", "alice");
    h.emu.add_user("U2", "bob");
    h.emu.add_user("U3", "carol");
    let bot = h.emu.config().bot_user_id.clone();
    let joined = |h: &Harness| -> Vec<serde_json::Value> {
        h.emu
            .envelopes()
            .iter()
            .map(|e| e.payload["event"].clone())
            .filter(|e| e["type"] == json!("member_joined_channel"))
            .collect()
    };
    let room = h.war_room("inc-joins", &[]).await;
    let invited = h
        .bot(
            "conversations.invite",
            &[("channel", &room), ("users", "U1")],
        )
        .await;
    assert_eq!(invited["ok"], json!(true), "{invited}");
    let events = joined(&h);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["user"], json!("U1"));
    assert_eq!(events[0]["channel"], json!(room));
    assert_eq!(events[0]["channel_type"], json!("C"));
    assert_eq!(events[0]["inviter"], json!(bot));

    h.emu.member_joins(&room, "U2", None).unwrap();
    let events = joined(&h);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["user"], json!("U2"));
    assert!(events[1].get("inviter").is_none(), "{}", events[1]);
    assert!(h.emu.member_joins(&room, "U2", None).is_err(), "already in");

    // A channel the bot is not in: nothing is sent.
    let elsewhere = h.emu.create_channel("U1", "random");
    h.emu.member_joins(&elsewhere, "U3", None).unwrap();
    assert_eq!(joined(&h).len(), 2);
    // The bot joining a public channel is told too.
    let join = h
        .bot("conversations.join", &[("channel", &elsewhere)])
        .await;
    assert_eq!(join["ok"], json!(true), "{join}");
    let events = joined(&h);
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["user"], json!(bot));

    // Private: only by invitation, and typed `G`.
    let secret = h
        .bot(
            "conversations.create",
            &[("name", "secret-room"), ("is_private", "true")],
        )
        .await;
    let secret = secret["channel"]["id"].as_str().unwrap().to_string();
    assert!(h.emu.member_joins(&secret, "U1", None).is_err());
    h.emu.member_joins(&secret, "U1", Some(&bot)).unwrap();
    let events = joined(&h);
    assert_eq!(events[3]["channel_type"], json!("G"));
}

/// `users.info`: display name (empty when never set), full name, deactivated people
/// answered with `deleted: true`.
#[tokio::test]
async fn users_info_names_and_deactivated_people() {
    let h = Harness::new().await;
    h.emu.add_user("U1", "alice");
    h.emu.set_user_names("U1", "Alice Chen", "");
    h.emu.deactivate_user("U1");
    let info = h.bot("users.info", &[("user", "U1")]).await;
    assert_eq!(info["ok"], json!(true));
    assert_eq!(info["user"]["deleted"], json!(true));
    assert_eq!(info["user"]["real_name"], json!("Alice Chen"));
    assert_eq!(info["user"]["profile"]["display_name"], json!(""));
    assert_eq!(info["user"]["profile"]["real_name"], json!("Alice Chen"));
}
