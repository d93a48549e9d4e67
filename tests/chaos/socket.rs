//! Socket Mode faults: dropped sockets, refreshes under load, late acks, duplicate and
//! out-of-order envelopes. Slack redelivers what was not acked; warroom must record every
//! acked event exactly once.

use std::time::Duration;

use serde_json::json;
use warroom::slack_emulator::EmulatorConfig;

use crate::helpers::*;

/// Wait until every one of `ts` has been acked at least once.
async fn wait_all_acked(world: &World, ts: &[String]) {
    for t in ts {
        world.wait_acked(t).await;
    }
}

#[tokio::test]
async fn a_socket_dropped_mid_burst_loses_nothing() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Dropped socket sev2").await;

    let mut posted = Vec::new();
    for i in 0..30 {
        posted.push(
            world
                .emu
                .post_message(BOB, &channel, &format!("burst {i}"), None)
                .expect("posted"),
        );
        if i == 10 || i == 20 {
            world.emu.drop_connections();
        }
    }
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("reconnects");
    wait_all_acked(&world, &posted).await;
    assert_eq!(
        world.command(BOB, &channel, "status identified").await,
        None
    );
    let store = world.store().await;
    wait_incident(&store, &channel, "status identified", |r| {
        r.incident.status.to_string() == "identified"
    })
    .await;
    check_invariants(&world, &store, 1).await;
}

#[tokio::test]
async fn refreshes_and_drops_every_few_seconds_under_load_lose_nothing() {
    let world = World::with(
        EmulatorConfig {
            refresh_grace: Duration::from_millis(300),
            ..EmulatorConfig::default()
        },
        None,
    )
    .await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Flapping socket").await;

    // 60 messages over about 6 s; every 1.5 s the socket is refreshed or dropped.
    let mut posted = Vec::new();
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    for i in 0..60 {
        pace.tick().await;
        posted.push(
            world
                .emu
                .post_message(CAROL, &channel, &format!("load {i}"), None)
                .expect("posted"),
        );
        match i % 15 {
            7 => world.emu.request_refresh(),
            14 => world.emu.drop_connections(),
            _ => {}
        }
    }
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("reconnects");
    wait_all_acked(&world, &posted).await;
    assert_eq!(world.command(BOB, &channel, "sev 1").await, None);
    let store = world.store().await;
    wait_incident(&store, &channel, "SEV1", |r| {
        r.incident.severity.to_string() == "SEV1"
    })
    .await;
    check_invariants(&world, &store, 1).await;
}

#[tokio::test]
async fn late_acks_cause_redeliveries_that_are_recorded_once() {
    // Every ack is later than Slack waits (Slack gives up on it at once, before any bot
    // could record and ack): each event is delivered four times.
    let world = World::with(
        EmulatorConfig {
            ack_timeout: Duration::ZERO,
            ..EmulatorConfig::default()
        },
        None,
    )
    .await;
    let _bot = world.start_bot().await;
    // The person may see a time-out for a late slash command ack; the command still runs.
    let _ = world
        .emu
        .slash_command(ALICE, &world.ops, "declare Late acks")
        .await;
    let channel = world.wait_war_room(&[]).await;
    let posted: Vec<String> = (0..20)
        .map(|i| {
            world
                .emu
                .post_message(BOB, &channel, &format!("late {i}"), None)
                .expect("posted")
        })
        .collect();
    wait_all_acked(&world, &posted).await;
    let redelivered = world
        .emu
        .envelopes()
        .iter()
        .filter(|e| e.retry_attempt > 0)
        .count();
    assert!(redelivered > 0, "the scenario must cause redeliveries");
    let _ = world
        .emu
        .slash_command(BOB, &channel, "status monitoring")
        .await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the status change", |e| {
        e.iter()
            .any(|x| x.kind.as_str() != "message" && x.text.contains("monitoring"))
    })
    .await;
    check_invariants(&world, &store, 1).await;
}

#[tokio::test]
async fn duplicate_envelopes_are_recorded_once() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Duplicates").await;
    let posted: Vec<String> = (0..10)
        .map(|i| {
            world
                .emu
                .post_message(BOB, &channel, &format!("dup {i}"), None)
                .expect("posted")
        })
        .collect();
    wait_all_acked(&world, &posted).await;
    world
        .emu
        .edit_message(BOB, &channel, &posted[0], "dup 0, edited")
        .expect("edited");
    let store = world.store().await;
    wait_timeline(&store, &channel, "the edit", |e| {
        e.iter().any(|x| x.text == "dup 0, edited")
    })
    .await;

    // Every events_api envelope so far, twice more.
    for env in world.emu.envelopes() {
        if env.event_id.is_some() && env.acked_at.is_some() {
            world.emu.redeliver(&env.envelope_id).expect("redelivered");
            world.emu.redeliver(&env.envelope_id).expect("redelivered");
        }
    }
    let marker = world
        .emu
        .post_message(BOB, &channel, "after the duplicates", None)
        .expect("posted");
    // The worker applies in arrival order: once the marker is in, the duplicates were seen.
    let entries = wait_timeline(&store, &channel, "the marker", |e| {
        e.iter()
            .any(|x| x.slack_ts.as_deref() == Some(marker.as_str()))
    })
    .await;
    let first = entries
        .iter()
        .find(|e| e.slack_ts.as_deref() == Some(posted[0].as_str()))
        .expect("the edited message");
    assert_eq!(first.text, "dup 0, edited");
    assert_eq!(first.revisions, vec!["dup 0".to_string()], "one revision");
    check_invariants(&world, &store, 1).await;
}

#[tokio::test]
async fn an_edit_or_delete_before_its_message_ends_in_the_right_state() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Out of order").await;
    let now = chrono::Utc::now().timestamp();
    let (edited_ts, deleted_ts) = (format!("{now}.000101"), format!("{now}.000102"));
    let later = format!("{}.000900", now + 5);

    // Slack delivers the edit and the delete first, the messages afterwards.
    world.emu.push_event(json!({
        "type": "message", "subtype": "message_changed", "channel": channel, "ts": later,
        "message": {"type": "message", "user": BOB, "text": "edited text", "ts": edited_ts,
                    "edited": {"user": BOB, "ts": later}},
    }));
    world.emu.push_event(json!({
        "type": "message", "subtype": "message_deleted", "channel": channel, "ts": later,
        "deleted_ts": deleted_ts,
    }));
    world.emu.push_event(json!({
        "type": "message", "channel": channel, "user": BOB, "text": "original text",
        "ts": edited_ts,
    }));
    world.emu.push_event(json!({
        "type": "message", "channel": channel, "user": CAROL, "text": "said, then deleted",
        "ts": deleted_ts,
    }));
    let marker = world
        .emu
        .post_message(BOB, &channel, "in order again", None)
        .expect("posted");
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "the marker", |e| {
        e.iter()
            .any(|x| x.slack_ts.as_deref() == Some(marker.as_str()))
    })
    .await;
    let find = |ts: &str| {
        let all: Vec<_> = entries
            .iter()
            .filter(|e| e.slack_ts.as_deref() == Some(ts))
            .collect();
        assert_eq!(all.len(), 1, "one entry for {ts}: {all:#?}");
        all[0].clone()
    };
    let edited = find(&edited_ts);
    assert_eq!(edited.text, "edited text", "the later edit wins");
    assert!(edited.deleted_at.is_none());
    let deleted = find(&deleted_ts);
    assert!(deleted.deleted_at.is_some(), "the delete still holds");
    assert_eq!(
        deleted.text, "said, then deleted",
        "the late message fills the text in"
    );
    check_invariants(&world, &store, 1).await;
}

/// Slack turns Socket Mode off (`disconnect` / `link_disabled`, then the connection goes):
/// the bot says so in its readiness instead of hammering `apps.connections.open`.
#[tokio::test]
async fn socket_mode_turned_off_shows_in_readiness_and_is_not_hammered() {
    let world = World::new().await;
    let bot = world.start_bot().await;
    world
        .emu
        .push_raw_frame(json!({"type": "disconnect", "reason": "link_disabled"}).to_string())
        .await
        .expect("frame sent");
    let status = bot.socket_status().clone();
    wait_until_sync(DEADLINE, "link_disabled to reach the status", || {
        status.problem().is_some()
    })
    .await;
    let opens = |ws: &warroom::slack_emulator::Workspace| {
        ws.api_calls
            .iter()
            .filter(|c| c.method == "apps.connections.open")
            .count()
    };
    let opens_before = opens(&world.emu.workspace());
    world.emu.drop_connections();
    world
        .emu
        .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
        .await
        .expect("the connection is gone");
    wait_until_sync(DEADLINE, "the status to say disconnected", || {
        !status.is_connected()
    })
    .await;
    assert!(status
        .problem()
        .is_some_and(|p| p.contains("link_disabled")));
    assert_eq!(
        bot.metrics.socket_reconnects_of("link_disabled"),
        1,
        "counted once"
    );
    // The next attempt waits a minute; right after the drop there is none.
    assert_eq!(opens(&world.emu.workspace()), opens_before);
}
