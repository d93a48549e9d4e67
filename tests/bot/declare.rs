//! `/incident declare`: channel, members, pinned header, reply to the declarer.

use crate::helpers::*;

#[tokio::test]
async fn declare_opens_a_channel_invites_responders_and_pins_the_header() {
    let world = World::new().await;
    let _bot = world.start_bot().await;

    let channel = world.declare(ALICE, "Checkout API: 5xx spike! sev2").await;

    let ch = world.emu.channel(&channel).unwrap();
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert_eq!(ch.name, format!("inc-{today}-checkout-api-5xx-spike"));
    for who in [ALICE, BOB, CAROL] {
        assert!(
            ch.is_member(who),
            "{who} should be in the channel: {:?}",
            ch.members
        );
    }
    assert!(!ch.is_member(DAVE));

    let header = world.header(&channel);
    let shown = warroom::slack::render::plain_text(&header.text, header.blocks.as_ref());
    for expected in [
        "Checkout API: 5xx spike!",
        "SEV2",
        "investigating",
        "@U0ALICE",
        "Opened",
    ] {
        assert!(
            shown.contains(expected),
            "header lacks {expected:?}: {shown}"
        );
    }
    assert_eq!(world.emu.pins(&channel), vec![header.ts.clone()]);

    let reply = world.ephemeral_after(ALICE, 0).await;
    assert!(
        reply.contains(&format!("<#{channel}>")),
        "declarer is pointed at the channel: {reply}"
    );

    let store = world.store().await;
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident.title, "Checkout API: 5xx spike!");
    assert_eq!(record.incident.severity.to_string(), "SEV2");
    assert_eq!(record.header_ts.as_deref(), Some(header.ts.as_str()));
}

#[tokio::test]
async fn a_taken_channel_name_gets_a_suffix() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    let taken = format!("inc-{today}-db-down");
    world.emu.create_channel(DAVE, &taken);

    let channel = world.declare(ALICE, "DB down").await;
    assert_eq!(
        world.emu.channel(&channel).unwrap().name,
        format!("{taken}-2")
    );

    // Same title again the same day: a third name, and a second incident.
    let again = world.declare(BOB, "DB down sev1").await;
    assert_eq!(
        world.emu.channel(&again).unwrap().name,
        format!("{taken}-3")
    );
    let store = world.store().await;
    assert_eq!(
        warroom::store::incidents::list(store.db(), true)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn declare_without_severity_defaults_to_sev3_and_the_declarer_leads() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(DAVE, "Elevated latency in eu-west-1").await;
    let record = incident_in(&world.store().await, &channel).await;
    assert_eq!(record.incident.severity.to_string(), "SEV3");
    assert_eq!(
        record.incident.lead.as_ref().map(|l| l.as_str()),
        Some(DAVE)
    );
    // The declarer is invited even when not a responder.
    assert!(world.emu.channel(&channel).unwrap().is_member(DAVE));
}
