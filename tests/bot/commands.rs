//! Each subcommand's visible effect inside an incident channel.

use crate::helpers::*;

#[tokio::test]
async fn status_sev_lead_note_and_resolve_are_posted_recorded_and_shown_in_the_header() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Payments failing sev3").await;
    let store = world.store().await;

    assert_eq!(
        world
            .command(BOB, &channel, "status identified bad config push")
            .await,
        None
    );
    let msgs = world.bot_messages(&channel, 2).await;
    assert!(
        msgs[1].text.contains("investigating → *identified*"),
        "{}",
        msgs[1].text
    );
    assert!(msgs[1].text.contains("bad config push"));

    assert_eq!(world.command(BOB, &channel, "sev 1").await, None);
    let msgs = world.bot_messages(&channel, 3).await;
    assert!(msgs[2].text.contains("SEV3 → *SEV1*"), "{}", msgs[2].text);

    assert_eq!(
        world.command(ALICE, &channel, "lead <@U0BOB|bob>").await,
        None
    );
    let msgs = world.bot_messages(&channel, 4).await;
    assert!(msgs[3].text.contains("<@U0BOB>"), "{}", msgs[3].text);

    assert_eq!(
        world
            .command(BOB, &channel, "note at 00:00 config change merged")
            .await,
        None
    );
    let msgs = world.bot_messages(&channel, 5).await;
    assert!(
        msgs[4].text.contains("backdated to 00:00 UTC"),
        "{}",
        msgs[4].text
    );

    // The header followed every change (chat.update, same ts).
    let header_ts = world.header(&channel).ts;
    world
        .wait_header(&channel, &["SEV1", "identified", "Lead*: @U0BOB"])
        .await;

    assert_eq!(
        world.command(BOB, &channel, "resolve rolled back").await,
        None
    );
    let msgs = world.bot_messages(&channel, 6).await;
    assert!(
        msgs[5].text.contains("resolved the incident"),
        "{}",
        msgs[5].text
    );
    let h = world.wait_header(&channel, &["resolved", "Resolved"]).await;
    assert!(!h.contains("Open for"), "{h}");
    assert_eq!(
        world.header(&channel).ts,
        header_ts,
        "updated in place, not reposted"
    );

    let entries = wait_timeline(&store, &channel, "six entries", |e| e.len() >= 6).await;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    // The backdated note sorts first after the declaration only if 00:00 is before the
    // declaration; either way every kind is present exactly once.
    for k in [
        "declared",
        "status_changed",
        "severity_changed",
        "lead_changed",
        "note",
        "resolved",
    ] {
        assert_eq!(
            kinds.iter().filter(|x| **x == k).count(),
            1,
            "{k} in {kinds:?}"
        );
    }
    let note = entries.iter().find(|e| e.kind.as_str() == "note").unwrap();
    assert_eq!(note.occurred_at.format("%H:%M").to_string(), "00:00");
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident.status.to_string(), "resolved");
    assert!(record.incident.resolved_at.is_some());
}

#[tokio::test]
async fn timeline_list_and_help_answer_the_caller_only() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Queue backlog").await;
    world
        .emu
        .post_message(BOB, &channel, "consumer lag 2h on orders-queue", None)
        .unwrap();
    wait_timeline(&world.store().await, &channel, "the message", |e| {
        e.len() >= 2
    })
    .await;
    let channel_messages_before = world.emu.messages(&channel).len();

    let timeline = world
        .command(BOB, &channel, "timeline")
        .await
        .expect("timeline reply");
    assert!(timeline.contains("consumer lag 2h"), "{timeline}");
    assert!(timeline.contains("declared"), "{timeline}");

    let list = world
        .command(DAVE, &world.ops, "list")
        .await
        .expect("list reply");
    assert!(
        list.contains("Queue backlog") && list.contains(&format!("<#{channel}>")),
        "{list}"
    );

    let help = world
        .command(DAVE, &world.ops, "help")
        .await
        .expect("help reply");
    for sub in [
        "declare", "status", "sev", "lead", "note", "timeline", "resolve", "list",
    ] {
        assert!(help.contains(sub), "help lacks {sub}: {help}");
    }
    // Nothing was posted for everyone to see.
    assert_eq!(world.emu.messages(&channel).len(), channel_messages_before);
}

#[tokio::test]
async fn incident_commands_outside_an_incident_channel_are_refused_privately() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let reply = world
        .command(ALICE, &world.ops, "status identified")
        .await
        .expect("a refusal");
    assert!(reply.contains("inside an incident channel"), "{reply}");
    let reply = world
        .command(ALICE, &world.ops, "timeline")
        .await
        .expect("a refusal");
    assert!(reply.contains("inside an incident channel"), "{reply}");
    let store = world.store().await;
    assert!(warroom::store::incidents::list(store.db(), false)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_change_that_changes_nothing_is_explained_to_the_caller() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Cache misses sev2").await;
    let seen = world.ephemeral_count(BOB);
    assert_eq!(world.command(BOB, &channel, "sev 2").await, None);
    let reply = world.ephemeral_after(BOB, seen).await;
    assert!(reply.contains("SEV2"), "{reply}");
    // No notice in the channel: only the header is there. A notice would go through the
    // outbox and could land after the reply, so look once the outbox is empty.
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(world.bot_messages(&channel, 1).await.len(), 1);
}
