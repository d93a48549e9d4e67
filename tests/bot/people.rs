//! People (issue 18): names from Slack where Slack does not render mentions itself, the
//! catch-up a late joiner is sent, and the incident roles besides the lead.

use warroom::domain::EntryKind;
use warroom::slack::render::plain_text;
use warroom::slack_emulator::EphemeralSource;

use crate::helpers::*;

/// What `user` was shown privately (ack answers and `chat.postEphemeral`), as read.
fn shown_to(world: &World, user: &str) -> Vec<String> {
    world
        .emu
        .ephemerals(user)
        .iter()
        .map(|e| plain_text(&e.text, e.blocks.as_ref()))
        .collect()
}

/// A role goes to the people allowed to set the lead, shows in the pinned header, is a key
/// event on the timeline, and survives a restart; an unknown role and a bystander are
/// refused, privately.
async fn roles_are_assigned_shown_and_kept_across_a_restart(world: World) {
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Checkout errors sev2").await;

    // Bob is a responder: allowed, like for the lead.
    assert_eq!(
        world
            .command(BOB, &channel, "role comms <@U0DAVE|dave>")
            .await,
        None
    );
    world
        .wait_header(&channel, &["Roles", "comms: @U0DAVE"])
        .await;
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "the role", |e| {
        e.iter().any(|e| e.kind == EntryKind::RoleAssigned)
    })
    .await;
    let role = entries
        .iter()
        .find(|e| e.kind == EntryKind::RoleAssigned)
        .unwrap();
    assert_eq!(role.actor.as_deref(), Some(BOB));
    assert_eq!(role.text, "role comms set to U0DAVE");
    assert!(role.key_event);
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&channel)?
                .iter()
                .find(|m| m.text.contains("<@U0DAVE> *comms*"))
                .map(|_| ())
        })
        .await
        .expect("the role is announced in the channel");

    // Dave is nobody in this incident (yet): refused, told privately, nothing recorded.
    let before = world.ephemeral_count(DAVE);
    world.command(DAVE, &channel, "role scribe <@U0DAVE>").await;
    let refusal = world.ephemeral_after(DAVE, before).await;
    assert!(refusal.contains("may hand out incident roles"), "{refusal}");
    // A role the config does not list: the caller is told which ones exist.
    let before = world.ephemeral_count(BOB);
    world.command(BOB, &channel, "role chef <@U0CAROL>").await;
    let unknown = world.ephemeral_after(BOB, before).await;
    assert!(
        unknown.contains("comms, scribe, ops, aws-liaison"),
        "{unknown}"
    );
    wait_outbox_drained(&store).await;
    let roles = warroom::store::people::roles_of(
        store.db(),
        incident_in(&store, &channel).await.incident.id,
    )
    .await
    .unwrap();
    assert_eq!(roles.len(), 1, "{roles:?}");

    // A restart keeps the role: the next assignment's header shows both.
    app.stop().await.unwrap();
    let app = world.start_bot().await;
    assert_eq!(
        world.command(ALICE, &channel, "role ops <@U0CAROL>").await,
        None
    );
    world
        .wait_header(&channel, &["comms: @U0DAVE", "ops: @U0CAROL"])
        .await;
    app.stop().await.unwrap();
}

/// Someone who joins the incident channel late is sent the catch-up, visible to them only
/// and once; the people warroom invited when it opened the channel are not. What people
/// typed is escaped in it.
async fn a_late_joiner_is_sent_the_catch_up_and_only_they_are(world: World) {
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Payments down sev1").await;
    world
        .command(
            BOB,
            &channel,
            "update <!channel> card payments failing, rolling back",
        )
        .await;
    world
        .command(ALICE, &channel, "action add an alarm on pool saturation")
        .await;
    world.command(BOB, &channel, "role scribe <@U0CAROL>").await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the role", |e| {
        e.iter().any(|e| e.kind == EntryKind::RoleAssigned)
    })
    .await;

    world.emu.member_joins(&channel, DAVE, None).unwrap();
    let dave = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.ephemerals
                .iter()
                .find(|e| e.user == DAVE && e.source == EphemeralSource::PostEphemeral)
                .cloned()
        })
        .await
        .expect("the catch-up for Dave");
    assert_eq!(dave.channel, channel);
    let raw = dave
        .blocks
        .as_ref()
        .map(|b| b.to_string())
        .unwrap_or_default();
    let seen = plain_text(&dave.text, dave.blocks.as_ref());
    for expected in [
        "Catch-up on incident",
        "Payments down",
        "SEV1",
        "investigating",
        "open for",
        "Lead*: @U0ALICE",
        "scribe: @U0CAROL",
        "card payments failing",
        "AWS Support*: no case",
        "add an alarm on pool saturation",
        "How to help",
    ] {
        assert!(seen.contains(expected), "{expected:?} missing from {seen}");
    }
    // The `<!channel>` Bob typed is shown, not obeyed.
    assert!(raw.contains("&lt;!channel&gt;"), "{raw}");
    assert!(!raw.contains("<!channel>"), "{raw}");

    // Only Dave: the responders invited at creation got no catch-up.
    for invited in [ALICE, BOB, CAROL] {
        assert!(
            !shown_to(&world, invited)
                .iter()
                .any(|t| t.contains("Catch-up on incident")),
            "{invited} was sent a catch-up"
        );
    }

    // Added later by a person (Slack names the inviter): a late joiner too.
    world.emu.add_user("U0ERIN", "erin");
    world
        .emu
        .member_joins(&channel, "U0ERIN", Some(ALICE))
        .unwrap();
    let erin = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.ephemerals
                .iter()
                .find(|e| e.user == "U0ERIN" && e.source == EphemeralSource::PostEphemeral)
                .map(|e| plain_text(&e.text, e.blocks.as_ref()))
        })
        .await
        .expect("the catch-up for Erin");
    assert!(erin.contains("Catch-up on incident"), "{erin}");
    // Dave got exactly one.
    let to_dave = world
        .emu
        .ephemerals(DAVE)
        .iter()
        .filter(|e| e.source == EphemeralSource::PostEphemeral)
        .count();
    assert_eq!(to_dave, 1);
    app.stop().await.unwrap();
}

/// `/incident catchup` shows the same, to the caller only, in the ack.
async fn the_catch_up_on_demand(world: World) {
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Search slow sev3").await;
    let answer = world
        .command(DAVE, &channel, "catchup")
        .await
        .unwrap_or_default();
    assert!(answer.contains("Catch-up on incident"), "{answer}");
    assert!(answer.contains("Search slow"), "{answer}");
    // Outside an incident channel it says where it works.
    let elsewhere = world
        .command(DAVE, &world.ops, "catchup")
        .await
        .unwrap_or_default();
    assert!(
        elsewhere.contains("inside an incident channel"),
        "{elsewhere}"
    );
    app.stop().await.unwrap();
}

/// Names where Slack does not render mentions: `warroom timeline` (as the CLI prints it)
/// and the postmortem draft show "Bob Smith"; a user Slack does not know stays an id, and
/// the failed look-up costs the caller nothing.
async fn names_in_the_timeline_and_postmortem_and_ids_for_unknown_users(world: World) {
    world.emu.set_user_names(BOB, "Bob Smith", "Bob Smith");
    // No display name: the full name is used, as Slack does.
    world.emu.set_user_names(CAROL, "Carol Diaz", "");
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Login failures sev2").await;
    world
        .emu
        .post_message(BOB, &channel, "errors from <@U0CAROL> dashboards too", None)
        .unwrap();
    world
        .command(CAROL, &channel, "note checked the IdP status page")
        .await;
    // U0GHOST is not in the workspace (users.info: user_not_found).
    assert_eq!(
        world.command(ALICE, &channel, "lead <@U0GHOST>").await,
        None
    );
    world.command(BOB, &channel, "role comms <@U0BOB>").await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the role", |e| {
        e.iter().any(|e| e.kind == EntryKind::RoleAssigned)
    })
    .await;
    assert_eq!(world.command(ALICE, &channel, "postmortem").await, None);
    let draft = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.files
                .iter()
                .find(|f| f.completed && f.channel.as_deref() == Some(channel.as_str()))
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        })
        .await
        .expect("a postmortem draft");
    assert!(draft.contains("Bob Smith"), "{draft}");
    assert!(draft.contains("Carol Diaz"), "{draft}");
    // The message's mention is named too.
    assert!(
        draft.contains("errors from @Carol Diaz dashboards too"),
        "{draft}"
    );
    // The participants table lists Bob's role.
    assert!(
        draft
            .lines()
            .any(|l| l.contains("Bob Smith") && l.contains("comms")),
        "{draft}"
    );
    // Slack does not know U0GHOST: shown by id, and remembered as unknown.
    assert!(draft.contains("U0GHOST"), "{draft}");
    let cached = warroom::store::people::names(store.db(), &["U0GHOST".to_string()])
        .await
        .unwrap();
    assert_eq!(cached.get("U0GHOST").map(|c| c.name.clone()), Some(None));

    // `warroom timeline <id>`, as the CLI prints it: from the database alone.
    let record = incident_in(&store, &channel).await;
    let entries = warroom::store::timeline::of_incident(store.db(), record.incident.id)
        .await
        .unwrap();
    let people = warroom::report::people_in_timeline(&record, &entries);
    let names = warroom::store::people::known_names(store.db(), &people)
        .await
        .unwrap();
    let printed = warroom::report::timeline(&record, &entries, &names);
    assert!(
        printed
            .lines()
            .any(|l| l.contains("message") && l.contains("Bob Smith")),
        "{printed}"
    );
    assert!(
        printed
            .lines()
            .any(|l| l.contains("note") && l.contains("Carol Diaz")),
        "{printed}"
    );
    assert!(printed.contains("lead U0GHOST"), "{printed}");
    // users.info was asked, and not once per message.
    let asked = world
        .emu
        .api_calls()
        .iter()
        .filter(|c| c.method == "users.info")
        .count();
    assert!((1..=6).contains(&asked), "{asked} users.info calls");
    app.stop().await.unwrap();
}

/// A catch-up full of long text that grows when escaped still fits Slack's limits (the
/// emulator refuses what Slack would), on joining and on demand.
async fn a_catch_up_of_long_hostile_text_fits(world: World) {
    let app = world.start_bot().await;
    let channel = world.declare(ALICE, "Everything is on fire sev1").await;
    let hostile = "<&>".repeat(95);
    for i in 0..6 {
        world
            .command(BOB, &channel, &format!("note {i} {hostile}"))
            .await;
    }
    for i in 0..12 {
        world
            .command(BOB, &channel, &format!("action {i} {hostile}"))
            .await;
    }
    world
        .command(BOB, &channel, &format!("update {}", "<!here>".repeat(400)))
        .await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the update", |e| {
        e.iter().any(|e| e.kind == EntryKind::Update)
    })
    .await;
    world.emu.member_joins(&channel, DAVE, None).unwrap();
    let dave = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.ephemerals
                .iter()
                .find(|e| e.user == DAVE && e.source == EphemeralSource::PostEphemeral)
                .cloned()
        })
        .await
        .expect("the catch-up fits and is sent");
    let raw = dave
        .blocks
        .as_ref()
        .map(|b| b.to_string())
        .unwrap_or_default();
    assert!(!raw.contains("<&>") && !raw.contains("<!here>"), "{raw}");
    assert!(plain_text(&dave.text, dave.blocks.as_ref()).contains("more: `/incident actions`"));
    let answer = world
        .command(CAROL, &channel, "catchup")
        .await
        .unwrap_or_default();
    assert!(answer.contains("Catch-up on incident"), "{answer}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_long_catch_up_fits() {
    a_catch_up_of_long_hostile_text_fits(World::new().await).await
}

on_both_backends!(roles_are_assigned_shown_and_kept_across_a_restart);

#[tokio::test]
async fn a_late_joiner_is_sent_the_catch_up() {
    a_late_joiner_is_sent_the_catch_up_and_only_they_are(World::new().await).await
}

#[tokio::test]
async fn catch_up_on_demand() {
    the_catch_up_on_demand(World::new().await).await
}

#[tokio::test]
async fn names_and_fallbacks() {
    names_in_the_timeline_and_postmortem_and_ids_for_unknown_users(World::new().await).await
}
