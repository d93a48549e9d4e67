//! People acting in Slack: their events, button clicks, modals and `response_url`s.

use serde_json::{json, Value};

use super::{Frame, Harness, Socket};
use crate::slack_emulator::{EmulatorError, EphemeralSource, InteractionOutcome};

/// Runs a slash command, acks it, and returns its payload (for trigger id / response_url).
async fn slash_payload(h: &Harness, socket: &mut Socket, user: &str, channel: &str) -> Value {
    let emu = h.emu.clone();
    let (user, channel) = (user.to_string(), channel.to_string());
    let command = tokio::spawn(async move { emu.slash_command(&user, &channel, "new").await });
    let envelope = socket.next_json().await;
    socket
        .ack(envelope["envelope_id"].as_str().expect("id"), None)
        .await;
    command.await.expect("join").expect("acked");
    envelope["payload"].clone()
}

#[tokio::test]
async fn people_messages_reach_the_bot_only_where_it_is() {
    let h = Harness::new().await;
    let room = h.war_room("inc-1", &["U1"]).await;
    let lobby = h.emu.create_channel("U1", "lobby");
    let mut socket = h.connect().await;

    h.emu
        .post_message("U1", &lobby, "not for the bot", None)
        .expect("posted");
    let ts = h
        .emu
        .post_message("U1", &room, "db is down", None)
        .expect("posted");
    // First the invitation the war room was set up with, as Slack tells it.
    let joined = socket.next_json().await;
    let event = &joined["payload"]["event"];
    assert_eq!(event["type"], json!("member_joined_channel"));
    assert_eq!(event["user"], json!("U1"));
    assert_eq!(event["channel"], json!(room));
    socket
        .ack(joined["envelope_id"].as_str().expect("id"), None)
        .await;
    let envelope = socket.next_json().await;
    let event = &envelope["payload"]["event"];
    assert_eq!(event["type"], json!("message"));
    assert_eq!(event["text"], json!("db is down"));
    assert_eq!(event["user"], json!("U1"));
    assert_eq!(event["channel"], json!(room));
    assert_eq!(event["ts"], json!(ts));
    assert_eq!(event["event_ts"], json!(ts));
    assert_eq!(event["channel_type"], json!("channel"));
    assert!(event["client_msg_id"].is_string());
    assert!(event.get("bot_id").is_none());
    socket
        .ack(envelope["envelope_id"].as_str().expect("id"), None)
        .await;

    let reply = h
        .emu
        .post_message("U1", &room, "replica lag 40s", Some(&ts))
        .expect("reply");
    let event = socket.next_json().await["payload"]["event"].clone();
    assert_eq!(event["ts"], json!(reply));
    assert_eq!(event["thread_ts"], json!(ts));
    assert_eq!(event["parent_user_id"], json!("U1"));

    assert!(matches!(
        h.emu.post_message("U9", &room, "who am i", None),
        Err(EmulatorError::NotFound(_))
    ));
    h.emu.add_user("U2", "bob");
    assert!(matches!(
        h.emu.post_message("U2", &room, "let me in", None),
        Err(EmulatorError::Other(_))
    ));
}

#[tokio::test]
async fn edits_deletes_reactions_pins_and_home() {
    let h = Harness::new().await;
    let room = h.war_room("inc-2", &["U1"]).await;
    let ts = h
        .emu
        .post_message("U1", &room, "typo", None)
        .expect("posted");
    let mut socket = h.connect().await;
    socket.next_event("message").await;

    h.emu
        .edit_message("U1", &room, &ts, "fixed")
        .expect("edited");
    let changed = socket.next_json().await["payload"]["event"].clone();
    assert_eq!(changed["subtype"], json!("message_changed"));
    assert_eq!(changed["message"]["text"], json!("fixed"));
    assert_eq!(changed["message"]["ts"], json!(ts));
    assert_eq!(changed["message"]["edited"]["user"], json!("U1"));
    assert_eq!(changed["previous_message"]["text"], json!("typo"));

    h.emu
        .add_reaction("U1", &room, &ts, "eyes")
        .expect("reacted");
    let reaction = socket.next_json().await["payload"]["event"].clone();
    assert_eq!(
        reaction,
        json!({
            "type": "reaction_added",
            "user": "U1",
            "reaction": "eyes",
            "item_user": "U1",
            "item": {"type": "message", "channel": room, "ts": ts},
            "event_ts": reaction["event_ts"],
        })
    );

    h.emu.pin_message("U1", &room, &ts).expect("pinned");
    let pin = socket.next_json().await["payload"]["event"].clone();
    assert_eq!(pin["type"], json!("pin_added"));
    assert_eq!(pin["channel_id"], json!(room));
    assert_eq!(pin["item"]["message"]["ts"], json!(ts));
    assert_eq!(pin["item"]["created_by"], json!("U1"));
    assert_eq!(
        h.emu.pin_message("U1", &room, &ts),
        Err(EmulatorError::Other("already_pinned".into()))
    );

    h.emu.delete_message("U1", &room, &ts).expect("deleted");
    let deleted = socket.next_json().await["payload"]["event"].clone();
    assert_eq!(deleted["subtype"], json!("message_deleted"));
    assert_eq!(deleted["deleted_ts"], json!(ts));
    assert_eq!(deleted["previous_message"]["text"], json!("fixed"));
    assert!(h.emu.messages(&room).is_empty());

    h.emu.open_app_home("U1");
    let home = socket.next_json().await["payload"]["event"].clone();
    assert_eq!(home["type"], json!("app_home_opened"));
    assert_eq!(home["tab"], json!("home"));
    assert!(home["channel"].as_str().is_some_and(|c| c.starts_with('D')));
}

#[tokio::test]
async fn button_click_sends_block_actions_and_response_url_replaces() {
    let h = Harness::new().await;
    let room = h.war_room("inc-3", &["U1"]).await;
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "SEV1: db down"}},
        {"type": "actions", "block_id": "controls", "elements": [
            {"type": "button", "action_id": "resolve", "value": "inc-3",
             "text": {"type": "plain_text", "text": "Resolve"}, "style": "primary"}
        ]}
    ]);
    let posted = h
        .bot_json(
            "chat.postMessage",
            json!({"channel": room, "text": "SEV1", "blocks": blocks}),
        )
        .await;
    let ts = posted["ts"].as_str().expect("ts").to_string();
    let mut socket = h.connect().await;
    socket.next_event("message").await;

    assert!(matches!(
        h.emu.click_button("U1", &room, &ts, "nope").await,
        Err(EmulatorError::NotFound(_))
    ));

    let emu = h.emu.clone();
    let (room2, ts2) = (room.clone(), ts.clone());
    let click = tokio::spawn(async move { emu.click_button("U1", &room2, &ts2, "resolve").await });
    let envelope = socket.next_json().await;
    assert_eq!(envelope["type"], json!("interactive"));
    assert_eq!(envelope["accepts_response_payload"], json!(false));
    let payload = envelope["payload"].clone();
    assert_eq!(payload["type"], json!("block_actions"));
    assert_eq!(payload["user"]["id"], json!("U1"));
    assert_eq!(payload["container"]["message_ts"], json!(ts));
    assert_eq!(payload["container"]["channel_id"], json!(room));
    assert_eq!(payload["channel"]["id"], json!(room));
    assert_eq!(payload["message"]["ts"], json!(ts));
    let action = &payload["actions"][0];
    assert_eq!(action["action_id"], json!("resolve"));
    assert_eq!(action["block_id"], json!("controls"));
    assert_eq!(action["value"], json!("inc-3"));
    assert_eq!(action["type"], json!("button"));
    assert!(action["action_ts"].is_string());
    socket
        .ack(envelope["envelope_id"].as_str().expect("id"), None)
        .await;
    let outcome = click.await.expect("join").expect("acked");
    assert_eq!(outcome, InteractionOutcome::Acked { payload: None });

    let response_url = payload["response_url"].as_str().expect("url").to_string();
    let resp = h
        .http
        .post(&response_url)
        .json(&json!({"replace_original": true, "text": "Resolved by <@U1>"}))
        .send()
        .await
        .expect("posted");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        h.emu.message(&room, &ts).expect("msg").text,
        "Resolved by <@U1>"
    );
    let changed = socket.next_event("message").await;
    assert_eq!(
        changed["payload"]["event"]["subtype"],
        json!("message_changed")
    );

    // Without replace_original the reply is ephemeral to the clicker.
    h.http
        .post(&response_url)
        .json(&json!({"text": "Only you can see this"}))
        .send()
        .await
        .expect("posted");
    let eph = h.emu.ephemerals("U1");
    assert_eq!(
        eph.last().map(|e| e.source),
        Some(EphemeralSource::ResponseUrl)
    );

    h.http
        .post(&response_url)
        .json(&json!({"delete_original": true}))
        .send()
        .await
        .expect("posted");
    assert!(h.emu.message(&room, &ts).is_none());
}

#[tokio::test]
async fn response_url_allows_five_uses() {
    let h = Harness::new().await;
    let room = h.emu.create_channel("U1", "ops");
    h.emu.add_user("U1", "alice");
    let mut socket = h.connect().await;
    let payload = slash_payload(&h, &mut socket, "U1", &room).await;
    let url = payload["response_url"].as_str().expect("url").to_string();

    let empty = h
        .http
        .post(&url)
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        empty.status().as_u16(),
        400,
        "no text is refused without using up the URL"
    );

    for i in 0..5 {
        let resp = h
            .http
            .post(&url)
            .json(&json!({"text": format!("update {i}")}))
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200);
    }
    let sixth = h
        .http
        .post(&url)
        .json(&json!({"text": "one too many"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(sixth.status().as_u16(), 404);
    let body: Value = sixth.json().await.expect("json");
    assert_eq!(body["error"], json!("used_url"));
    assert_eq!(h.emu.ephemerals("U1").len(), 5);

    // in_channel responses are visible to everyone.
    let payload = slash_payload(&h, &mut socket, "U1", &room).await;
    let url = payload["response_url"].as_str().expect("url").to_string();
    h.http
        .post(&url)
        .json(&json!({"text": "Incident declared", "response_type": "in_channel"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(h.emu.messages(&room)[0].text, "Incident declared");
}

#[tokio::test]
async fn modal_open_submit_with_errors_then_success() {
    let h = Harness::new().await;
    let room = h.emu.create_channel("U1", "ops");
    h.emu.add_user("U1", "alice");
    let mut socket = h.connect().await;
    let payload = slash_payload(&h, &mut socket, "U1", &room).await;
    let trigger = payload["trigger_id"].as_str().expect("trigger").to_string();

    let modal = json!({
        "type": "modal",
        "callback_id": "declare",
        "private_metadata": "ctx",
        "title": {"type": "plain_text", "text": "Declare"},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [
            {"type": "input", "block_id": "title",
             "element": {"type": "plain_text_input", "action_id": "value"},
             "label": {"type": "plain_text", "text": "Title"}},
            {"type": "input", "block_id": "sev",
             "element": {"type": "static_select", "action_id": "choice", "options": [
                 {"text": {"type": "plain_text", "text": "SEV1"}, "value": "sev1"},
                 {"text": {"type": "plain_text", "text": "SEV2"}, "value": "sev2"}
             ]},
             "label": {"type": "plain_text", "text": "Severity"}}
        ]
    });
    let opened = h
        .bot_json("views.open", json!({"trigger_id": trigger, "view": modal}))
        .await;
    assert_eq!(opened["ok"], json!(true), "{opened}");
    let view_id = opened["view"]["id"].as_str().expect("view id").to_string();
    assert_eq!(opened["view"]["callback_id"], json!("declare"));
    assert!(opened["view"]["hash"].is_string());
    let reuse = h
        .bot_json("views.open", json!({"trigger_id": trigger, "view": modal}))
        .await;
    assert_eq!(reuse["error"], json!("exchanged_trigger_id"));
    assert_eq!(h.emu.views_opened("U1")[0].view_id, view_id);

    let values = json!({"title": {"value": "DB down"}, "sev": {"choice": "sev2"}});
    let emu = h.emu.clone();
    let (vid, vals) = (view_id.clone(), values.clone());
    let submit = tokio::spawn(async move { emu.submit_view("U1", &vid, vals).await });
    let envelope = socket.next_json().await;
    assert_eq!(envelope["type"], json!("interactive"));
    assert_eq!(envelope["accepts_response_payload"], json!(true));
    let p = &envelope["payload"];
    assert_eq!(p["type"], json!("view_submission"));
    assert_eq!(p["user"]["id"], json!("U1"));
    assert_eq!(p["view"]["id"], json!(view_id));
    assert_eq!(p["view"]["callback_id"], json!("declare"));
    assert_eq!(p["view"]["private_metadata"], json!("ctx"));
    let state = &p["view"]["state"]["values"];
    assert_eq!(
        state["title"]["value"],
        json!({"type": "plain_text_input", "value": "DB down"})
    );
    assert_eq!(
        state["sev"]["choice"]["selected_option"]["value"],
        json!("sev2")
    );
    let errors = json!({"response_action": "errors", "errors": {"title": "Too vague"}});
    socket
        .ack(
            envelope["envelope_id"].as_str().expect("id"),
            Some(errors.clone()),
        )
        .await;
    let outcome = submit.await.expect("join").expect("acked");
    assert_eq!(outcome.payload(), Some(&errors));
    assert!(
        !h.emu.views_opened("U1")[0].closed,
        "errors keep the modal open"
    );

    let emu = h.emu.clone();
    let vid = view_id.clone();
    let submit = tokio::spawn(async move { emu.submit_view("U1", &vid, values).await });
    let envelope = socket.next_json().await;
    socket
        .ack(envelope["envelope_id"].as_str().expect("id"), None)
        .await;
    submit.await.expect("join").expect("acked");
    assert!(h.emu.views_opened("U1")[0].closed);
    assert!(matches!(
        h.emu.submit_view("U1", &view_id, json!({})).await,
        Err(EmulatorError::NotFound(_))
    ));
    let quiet = socket.frame(std::time::Duration::from_millis(50)).await;
    assert!(matches!(quiet, Frame::Quiet));
}
