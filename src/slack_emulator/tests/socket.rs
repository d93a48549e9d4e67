//! Socket Mode behaviour: handshake, delivery, acks, redelivery, refresh.

use std::time::Duration;

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{Frame, Harness, SOON};
use crate::slack_emulator::{EmulatorError, EnvelopeKind, EphemeralSource, SlashOutcome};

#[tokio::test]
async fn connections_open_then_hello() {
    let h = Harness::new().await;
    let url = h.ws_url().await;
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    assert!(url.contains("/link/?ticket="), "{url}");
    assert!(url.contains(&format!("app_id={}", h.emu.config().app_id)));

    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connects");
    let mut socket = super::Socket { ws };
    let hello = socket.next_json().await;
    assert_eq!(hello["type"], json!("hello"));
    assert_eq!(hello["num_connections"], json!(1));
    assert_eq!(
        hello["connection_info"]["app_id"],
        json!(h.emu.config().app_id)
    );
    assert!(hello["debug_info"]["host"].is_string());
    assert!(hello["debug_info"]["approximate_connection_time"].is_number());
    h.emu.wait_for_connections(1, SOON).await.expect("counted");

    // Tickets are single-use, and forged ones are refused.
    for bad in [url.clone(), url.replace("ticket=", "ticket=forged")] {
        match tokio_tungstenite::connect_async(bad.as_str()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 401)
            }
            other => panic!("expected HTTP 401, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn second_connection_hello_counts_both() {
    let h = Harness::new().await;
    let _first = h.connect().await;
    let url = h.ws_url().await;
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connects");
    let mut second = super::Socket { ws };
    assert_eq!(second.next_json().await["num_connections"], json!(2));
}

#[tokio::test]
async fn pings_are_answered() {
    let h = Harness::new().await;
    let mut socket = h.connect().await;
    socket
        .ws
        .send(WsMessage::Ping(b"are-you-there".to_vec().into()))
        .await
        .expect("ping");
    let pong = tokio::time::timeout(SOON, async {
        loop {
            match futures::StreamExt::next(&mut socket.ws).await {
                Some(Ok(WsMessage::Pong(data))) => return data.to_vec(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("pong in time");
    assert_eq!(pong, b"are-you-there");
}

#[tokio::test]
async fn events_pushed_while_offline_arrive_on_connect() {
    let h = Harness::new().await;
    let event_id = h
        .emu
        .push_event(json!({"type": "app_mention", "text": "hi"}));
    assert_eq!(h.emu.envelopes()[0].delivered_at, None);

    let mut socket = h.connect().await;
    let envelope = socket.next_json().await;
    assert_eq!(envelope["type"], json!("events_api"));
    assert_eq!(envelope["accepts_response_payload"], json!(false));
    assert_eq!(envelope["retry_attempt"], json!(0));
    assert_eq!(envelope["retry_reason"], json!(""));
    let payload = &envelope["payload"];
    assert_eq!(payload["type"], json!("event_callback"));
    assert_eq!(payload["event_id"], json!(event_id));
    assert_eq!(payload["team_id"], json!(h.emu.config().team_id));
    assert_eq!(payload["api_app_id"], json!(h.emu.config().app_id));
    assert_eq!(payload["event"]["type"], json!("app_mention"));
    assert_eq!(
        payload["authorizations"][0]["user_id"],
        json!(h.emu.config().bot_user_id)
    );
    assert!(payload["event_time"].is_i64());

    let id = envelope["envelope_id"].as_str().expect("id").to_string();
    socket.ack(&id, None).await;
    h.emu
        .wait_until(SOON, |ws| {
            ws.envelopes
                .iter()
                .find(|e| e.envelope_id == id)
                .and_then(|e| e.acked_at)
        })
        .await
        .expect("ack recorded");
}

#[tokio::test]
async fn unacked_events_are_redelivered_then_abandoned() {
    let h = Harness::fast().await;
    let max = h.emu.config().max_retries;
    let mut socket = h.connect().await;
    let event_id = h
        .emu
        .push_event(json!({"type": "app_mention", "text": "hi"}));

    let mut envelope_ids = Vec::new();
    for attempt in 0..=max {
        let envelope = socket.next_json().await;
        assert_eq!(envelope["payload"]["event_id"], json!(event_id));
        assert_eq!(envelope["retry_attempt"], json!(attempt));
        let reason = if attempt == 0 { "" } else { "timeout" };
        assert_eq!(envelope["retry_reason"], json!(reason));
        envelope_ids.push(envelope["envelope_id"].as_str().expect("id").to_string());
    }
    envelope_ids.dedup();
    assert_eq!(
        envelope_ids.len() as u32,
        max + 1,
        "each retry is a new envelope"
    );

    // After max_retries nothing more comes, even well past another ack timeout.
    let quiet = socket.frame(h.emu.config().ack_timeout * 3).await;
    assert!(matches!(quiet, Frame::Quiet), "{quiet:?}");
    assert_eq!(h.emu.envelopes().len() as u32, max + 1);
}

#[tokio::test]
async fn acking_stops_redelivery() {
    let h = Harness::fast().await;
    let mut socket = h.connect().await;
    h.emu
        .push_event(json!({"type": "app_mention", "text": "once"}));
    let first = socket.next_json().await;
    let late = socket.next_json().await;
    assert_eq!(late["retry_attempt"], json!(1));
    // A late ack of the first attempt still settles the event.
    socket
        .ack(first["envelope_id"].as_str().expect("id"), None)
        .await;
    let quiet = socket.frame(h.emu.config().ack_timeout * 3).await;
    assert!(matches!(quiet, Frame::Quiet), "{quiet:?}");

    h.emu
        .push_event(json!({"type": "app_mention", "text": "twice"}));
    let prompt = socket.next_json().await;
    socket
        .ack(prompt["envelope_id"].as_str().expect("id"), None)
        .await;
    let quiet = socket.frame(h.emu.config().ack_timeout * 3).await;
    assert!(matches!(quiet, Frame::Quiet), "{quiet:?}");
}

#[tokio::test]
async fn redeliver_resends_even_after_ack() {
    let h = Harness::new().await;
    let mut socket = h.connect().await;
    let event_id = h
        .emu
        .push_event(json!({"type": "app_mention", "text": "dup"}));
    let first = socket.next_json().await;
    let id = first["envelope_id"].as_str().expect("id").to_string();
    socket.ack(&id, None).await;
    h.emu
        .wait_until(SOON, |ws| ws.envelopes[0].acked_at)
        .await
        .expect("acked");
    h.emu.redeliver(&id).expect("redelivered");
    let again = socket.next_json().await;
    assert_eq!(again["payload"]["event_id"], json!(event_id));
    assert_eq!(again["retry_attempt"], json!(1));
    assert_eq!(again["retry_reason"], json!("timeout"));
    assert_ne!(again["envelope_id"], json!(id));
    assert_eq!(
        h.emu.redeliver("nope"),
        Err(EmulatorError::NotFound("envelope nope".into()))
    );
}

#[tokio::test]
async fn envelopes_round_robin_across_connections() {
    let h = Harness::new().await;
    let mut a = h.connect().await;
    let mut b = h.connect().await;
    h.emu
        .push_event(json!({"type": "app_mention", "text": "1"}));
    h.emu
        .push_event(json!({"type": "app_mention", "text": "2"}));
    let first = a.next_json().await;
    let second = b.next_json().await;
    let texts = [
        first["payload"]["event"]["text"].clone(),
        second["payload"]["event"]["text"].clone(),
    ];
    assert!(texts.contains(&json!("1")) && texts.contains(&json!("2")));
    assert!(matches!(
        a.frame(Duration::from_millis(100)).await,
        Frame::Quiet
    ));
}

#[tokio::test]
async fn slash_command_ack_payload_becomes_ephemeral() {
    let h = Harness::new().await;
    let room = h.emu.create_channel("U1", "ops");
    h.emu.add_user("U1", "alice");
    let mut socket = h.connect().await;

    let emu = h.emu.clone();
    let room2 = room.clone();
    let command = tokio::spawn(async move {
        emu.slash_command("U1", &room2, "declare sev1 db down")
            .await
    });
    let envelope = socket.next_json().await;
    assert_eq!(envelope["type"], json!("slash_commands"));
    assert_eq!(envelope["accepts_response_payload"], json!(true));
    let payload = &envelope["payload"];
    assert_eq!(payload["command"], json!("/incident"));
    assert_eq!(payload["text"], json!("declare sev1 db down"));
    assert_eq!(payload["user_id"], json!("U1"));
    assert_eq!(payload["user_name"], json!("alice"));
    assert_eq!(payload["channel_id"], json!(room));
    assert_eq!(payload["channel_name"], json!("ops"));
    assert_eq!(payload["team_domain"], json!("emulator"));
    assert_eq!(payload["is_enterprise_install"], json!("false"));
    assert!(payload["trigger_id"].is_string());
    assert!(payload["response_url"]
        .as_str()
        .is_some_and(|u| u.starts_with(&h.emu.base_url())));

    let ack = json!({"text": "Declaring SEV1…", "response_type": "ephemeral"});
    socket
        .ack(
            envelope["envelope_id"].as_str().expect("id"),
            Some(ack.clone()),
        )
        .await;
    let outcome = command.await.expect("join").expect("acked");
    assert_eq!(outcome, SlashOutcome::Acked { payload: Some(ack) });

    let seen = h.emu.ephemerals("U1");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].text, "Declaring SEV1…");
    assert_eq!(seen[0].channel, room);
    assert_eq!(seen[0].source, EphemeralSource::AckPayload);
    assert!(h.emu.messages(&room).is_empty());
    let record = &h.emu.envelopes()[0];
    assert_eq!(record.kind, EnvelopeKind::SlashCommands);
    assert!(record.acked_at.is_some());
}

#[tokio::test]
async fn slash_command_failures() {
    let h = Harness::fast().await;
    let room = h.emu.create_channel("U1", "ops");
    h.emu.add_user("U1", "alice");
    assert_eq!(
        h.emu.slash_command("U1", &room, "help").await,
        Err(EmulatorError::NoConnection)
    );

    let mut socket = h.connect().await;
    let outcome = h.emu.slash_command("U1", &room, "help").await;
    assert_eq!(outcome, Err(EmulatorError::AckTimeout));
    // Slash commands are not retried; a late ack shows nothing.
    let envelope = socket.next_json().await;
    let quiet = socket.frame(h.emu.config().ack_timeout * 2).await;
    assert!(matches!(quiet, Frame::Quiet), "{quiet:?}");
    socket
        .ack(
            envelope["envelope_id"].as_str().expect("id"),
            Some(json!({"text": "too late"})),
        )
        .await;
    h.emu
        .wait_until(SOON, |ws| ws.envelopes[0].acked_at)
        .await
        .expect("late ack recorded");
    assert!(h.emu.ephemerals("U1").is_empty());
}

#[tokio::test]
async fn in_channel_ack_posts_to_the_channel() {
    let h = Harness::new().await;
    let room = h.emu.create_channel("U1", "ops");
    h.emu.add_user("U1", "alice");
    let mut socket = h.connect().await;
    let emu = h.emu.clone();
    let room2 = room.clone();
    let command = tokio::spawn(async move { emu.slash_command("U1", &room2, "status").await });
    let envelope = socket.next_json().await;
    let ack = json!({"text": "All quiet", "response_type": "in_channel"});
    socket
        .ack(envelope["envelope_id"].as_str().expect("id"), Some(ack))
        .await;
    command.await.expect("join").expect("acked");
    let messages = h.emu.messages(&room);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "All quiet");
    assert!(messages[0].bot_id.is_some());
}

#[tokio::test]
async fn request_refresh_disconnects_and_redelivers_unacked() {
    let h = Harness::fast().await;
    let mut old = h.connect().await;
    let event_id = h
        .emu
        .push_event(json!({"type": "app_mention", "text": "in flight"}));
    let pending = old.next_json().await;
    assert_eq!(pending["payload"]["event_id"], json!(event_id));

    h.emu.request_refresh();
    let disconnect = old.next_json().await;
    assert_eq!(disconnect["type"], json!("disconnect"));
    assert_eq!(disconnect["reason"], json!("refresh_requested"));
    assert!(disconnect["debug_info"]["host"].is_string());
    assert_eq!(h.emu.connection_count(), 0);

    let mut new = h.connect().await;
    // The old socket is closed after the grace period.
    let closed = old.frame(SOON).await;
    assert!(matches!(closed, Frame::Close | Frame::Gone), "{closed:?}");

    let again = new.next_json().await;
    assert_eq!(again["payload"]["event_id"], json!(event_id));
    assert!(again["retry_attempt"].as_u64().is_some_and(|n| n >= 1));
}

#[tokio::test]
async fn dropped_connections_close_without_close_frame() {
    let h = Harness::new().await;
    let mut socket = h.connect().await;
    h.emu.drop_connections();
    let ended = socket.frame(SOON).await;
    assert!(matches!(ended, Frame::Gone), "{ended:?}");
    h.emu
        .wait_until(SOON, |ws| (ws.live_connections == 0).then_some(()))
        .await
        .expect("no connections");

    // Events raised meanwhile reach the next connection.
    let event_id = h.emu.push_event(json!({"type": "app_mention"}));
    let mut back = h.connect().await;
    assert_eq!(
        back.next_json().await["payload"]["event_id"],
        json!(event_id)
    );
}

#[tokio::test]
async fn unknown_acks_and_garbage_are_ignored() {
    let h = Harness::new().await;
    let mut socket = h.connect().await;
    socket.ack("not-an-envelope", None).await;
    socket
        .ws
        .send(WsMessage::Text("{not json".into()))
        .await
        .expect("sent");
    h.emu
        .push_raw_frame("{\"type\":\"weird\"}".into())
        .await
        .expect("pushed");
    assert_eq!(socket.next_json().await["type"], json!("weird"));
    let event_id = h.emu.push_event(json!({"type": "app_mention"}));
    assert_eq!(
        socket.next_json().await["payload"]["event_id"],
        json!(event_id)
    );
}

#[tokio::test]
async fn shutdown_closes_sockets() {
    let h = Harness::new().await;
    let mut socket = h.connect().await;
    h.emu.shutdown();
    let ended = socket.frame(SOON).await;
    assert!(matches!(ended, Frame::Gone | Frame::Close), "{ended:?}");
}
