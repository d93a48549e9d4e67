//! Everything said in an incident channel lands on the timeline, once.

use crate::helpers::*;
use warroom::domain::TimelineEntry;

fn by_ts<'a>(entries: &'a [TimelineEntry], ts: &str) -> &'a TimelineEntry {
    entries
        .iter()
        .find(|e| e.slack_ts.as_deref() == Some(ts))
        .unwrap_or_else(|| panic!("no entry for {ts}: {entries:#?}"))
}

#[tokio::test]
async fn messages_threads_edits_deletes_reactions_and_pins_are_recorded() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Login errors").await;
    let store = world.store().await;

    let m1 = world
        .emu
        .post_message(ALICE, &channel, "401s from the auth service", None)
        .unwrap();
    let m2 = world
        .emu
        .post_message(BOB, &channel, "token signing key rotated at 09:00?", None)
        .unwrap();
    let reply = world
        .emu
        .post_message(CAROL, &channel, "yes, rotation job ran", Some(&m2))
        .unwrap();
    let doomed = world
        .emu
        .post_message(BOB, &channel, "wrong channel, sorry", None)
        .unwrap();
    world
        .emu
        .edit_message(ALICE, &channel, &m1, "401s and 403s from the auth service")
        .unwrap();
    world.emu.delete_message(BOB, &channel, &doomed).unwrap();
    world
        .emu
        .add_reaction(CAROL, &channel, &m2, "pushpin")
        .unwrap();
    world
        .emu
        .add_reaction(CAROL, &channel, &m1, "eyes")
        .unwrap();
    world.emu.pin_message(ALICE, &channel, &reply).unwrap();

    let entries = wait_timeline(&store, &channel, "all effects", |e| {
        let get = |ts: &str| e.iter().find(|x| x.slack_ts.as_deref() == Some(ts));
        get(&m1).is_some_and(|x| x.edited_at.is_some())
            && get(&doomed).is_some_and(|x| x.deleted_at.is_some())
            && get(&m2).is_some_and(|x| x.key_event)
            && get(&reply).is_some_and(|x| x.key_event)
    })
    .await;

    let first = by_ts(&entries, &m1);
    assert_eq!(first.actor.as_deref(), Some(ALICE));
    assert_eq!(first.text, "401s and 403s from the auth service");
    assert_eq!(
        first.revisions,
        vec!["401s from the auth service".to_string()]
    );
    assert!(!first.key_event, ":eyes: is not a key-event marker");

    let threaded = by_ts(&entries, &reply);
    assert_eq!(threaded.thread_ts.as_deref(), Some(m2.as_str()));
    assert_eq!(threaded.actor.as_deref(), Some(CAROL));

    let deleted = by_ts(&entries, &doomed);
    assert_eq!(
        deleted.text, "wrong channel, sorry",
        "the text is kept for the record"
    );

    // One entry per message, plus the declaration; the bot's own posts are not messages.
    let messages = entries
        .iter()
        .filter(|e| e.kind.as_str() == "message")
        .count();
    assert_eq!(messages, 4, "{entries:#?}");
}

#[tokio::test]
async fn a_redelivered_envelope_is_recorded_once() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Disk full on bastion").await;
    let store = world.store().await;
    let ts = world
        .emu
        .post_message(BOB, &channel, "cleared /var/log", None)
        .unwrap();
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|x| x.slack_ts.as_deref() == Some(&ts))
    })
    .await;

    let envelope = world
        .emu
        .envelopes()
        .into_iter()
        .find(|e| e.payload.pointer("/event/ts").and_then(|t| t.as_str()) == Some(ts.as_str()))
        .expect("the message envelope");
    world.emu.redeliver(&envelope.envelope_id).unwrap();
    // Wait for the redelivery to be acked, then for a later marker to be recorded.
    let event_id = envelope.event_id.clone();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.envelopes
                .iter()
                .any(|e| e.event_id == event_id && e.retry_attempt > 0 && e.acked_at.is_some())
                .then_some(())
        })
        .await
        .expect("the redelivery is acked");
    let marker = world
        .emu
        .post_message(BOB, &channel, "marker", None)
        .unwrap();
    let entries = wait_timeline(&store, &channel, "the marker", |e| {
        e.iter().any(|x| x.slack_ts.as_deref() == Some(&marker))
    })
    .await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
            .count(),
        1
    );
}

#[tokio::test]
async fn messages_outside_incident_channels_are_not_recorded() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Noise test").await;
    world
        .emu
        .join_channel(&world.ops, &world.emu.config().bot_user_id.clone());
    world
        .emu
        .post_message(ALICE, &world.ops, "lunch?", None)
        .unwrap();
    let marker = world
        .emu
        .post_message(ALICE, &channel, "marker", None)
        .unwrap();
    let entries = wait_timeline(&world.store().await, &channel, "the marker", |e| {
        e.iter().any(|x| x.slack_ts.as_deref() == Some(&marker))
    })
    .await;
    assert!(entries.iter().all(|e| e.text != "lunch?"));
}
