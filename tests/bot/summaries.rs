//! Stakeholders and managers stay informed: updates, status-channel notices, periodic
//! summaries (scheduled from the database, driven by a hand-moved clock), App Home.

use std::sync::Arc;

use chrono::Duration;
use warroom::domain::UserId;

use crate::helpers::*;

const MANAGER: &str = "U0MANAGER";
const OTHER_MANAGER: &str = "U0BOSS";

fn texts(world: &World, channel: &str) -> Vec<String> {
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .messages(channel)
        .into_iter()
        .filter(|m| m.user == bot)
        .map(|m| warroom::slack::render::plain_text(&m.text, m.blocks.as_ref()))
        .collect()
}

async fn wait_texts(world: &World, channel: &str, n: usize) -> Vec<String> {
    let bot = world.emu.config().bot_user_id.clone();
    let ch = channel.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let count = ws
                .messages
                .get(&ch)
                .map(|m| m.iter().filter(|m| m.user == bot).count())
                .unwrap_or(0);
            (count >= n).then_some(())
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} messages in {channel}: {e}"));
    texts(world, channel)
}

async fn dm_texts(world: &World, user: &str, n: usize) -> Vec<String> {
    let u = user.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let im = ws
                .channels
                .iter()
                .find(|c| c.is_im && c.im_user.as_deref() == Some(u.as_str()))?;
            let msgs = ws.messages.get(&im.id)?;
            (msgs.len() >= n).then(|| {
                msgs.iter()
                    .map(|m| warroom::slack::render::plain_text(&m.text, m.blocks.as_ref()))
                    .collect()
            })
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} DMs to {user}: {e}"))
}

#[tokio::test]
async fn an_update_is_posted_in_both_places_and_recorded() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let _bot = world
        .start_bot_with(Arc::new(warroom::clock::SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
        })
        .await;
    let channel = world.declare(ALICE, "Checkout errors sev2").await;

    assert_eq!(
        world
            .command(
                ALICE,
                &channel,
                "update checkout degraded for EU customers; next update 14:30"
            )
            .await,
        None
    );
    let in_channel = world.bot_messages(&channel, 2).await;
    let shown =
        warroom::slack::render::plain_text(&in_channel[1].text, in_channel[1].blocks.as_ref());
    for expected in [
        "Update on incident #1",
        "SEV2",
        "investigating",
        "checkout degraded for EU customers",
        "@U0ALICE",
    ] {
        assert!(shown.contains(expected), "{expected:?} missing: {shown}");
    }
    let status_posts = wait_texts(&world, &status, 1).await;
    assert!(
        status_posts[0].contains("checkout degraded for EU customers"),
        "{status_posts:?}"
    );

    let entries = wait_timeline(&world.store().await, &channel, "the update", |e| {
        e.iter().any(|x| x.kind.as_str() == "update")
    })
    .await;
    let update = entries
        .iter()
        .find(|e| e.kind.as_str() == "update")
        .unwrap();
    assert_eq!(update.actor.as_deref(), Some(ALICE));
    assert!(update.key_event);

    // Status and severity changes leave a one-line notice in the status channel.
    assert_eq!(
        world.command(BOB, &channel, "status identified").await,
        None
    );
    assert_eq!(world.command(BOB, &channel, "sev 1").await, None);
    let status_posts = wait_texts(&world, &status, 3).await;
    assert!(
        status_posts[1].contains("status investigating → *identified*"),
        "{status_posts:?}"
    );
    assert!(
        status_posts[2].contains("severity SEV2 → *SEV1*"),
        "{status_posts:?}"
    );
    // A note is not stakeholder news.
    assert_eq!(
        world
            .command(BOB, &channel, "note checked the dashboards")
            .await,
        None
    );
    world.bot_messages(&channel, 5).await;
    // A status-channel copy would be a second outbox row, posted after the channel's.
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(texts(&world, &status).len(), 3);
}

#[tokio::test]
async fn only_people_in_the_response_may_post_updates() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let _bot = world
        .start_bot_with(Arc::new(warroom::clock::SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
        })
        .await;
    let channel = world.declare(ALICE, "Search is slow").await;
    world.emu.join_channel(&channel, DAVE);
    let seen = world.ephemeral_count(DAVE);
    assert_eq!(
        world
            .command(DAVE, &channel, "update all fine, nothing to see")
            .await,
        None
    );
    let reply = world.ephemeral_after(DAVE, seen).await;
    assert!(reply.contains("may post stakeholder updates"), "{reply}");
    assert!(texts(&world, &status).is_empty());
    // Once dave has taken part, he may.
    world
        .emu
        .post_message(DAVE, &channel, "I own the search cluster, looking", None)
        .unwrap();
    assert_eq!(
        world
            .command(DAVE, &channel, "update search latency back to normal")
            .await,
        None
    );
    assert!(wait_texts(&world, &status, 1).await[0].contains("search latency back to normal"));
}

#[tokio::test]
async fn summaries_list_open_incidents_worst_first_and_what_was_resolved() {
    let world = World::new().await;
    world.emu.add_user(MANAGER, "manager");
    world.emu.add_user(OTHER_MANAGER, "boss");
    let status = world.bot_channel("incident-status");
    let clock = whole_hour_clock();
    let start = warroom::clock::Clock::now(&clock);
    let bot = world
        .start_bot_with(Arc::new(clock.clone()), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
            c.slack.managers = vec![
                UserId::parse(MANAGER).unwrap(),
                UserId::parse(OTHER_MANAGER).unwrap(),
            ];
        })
        .await;

    // Nothing open: the first summary says so briefly.
    clock.advance(Duration::hours(1));
    bot.service.kick_timers();
    let posts = wait_texts(&world, &status, 1).await;
    assert!(posts[0].contains("no open incidents"), "{posts:?}");
    dm_texts(&world, MANAGER, 1).await;
    let metrics = bot.metrics.render(None, Default::default());
    assert!(
        metrics.contains("warroom_timers_fired_total 1"),
        "{metrics}"
    );

    // Still nothing: the next one stays quiet.
    clock.advance(Duration::hours(1));
    bot.service.kick_timers();
    let store = world.store().await;
    wait_summaries(&store, 2).await;
    // Recorded with its messages, which are posted afterwards: look once they would be.
    wait_outbox_drained(&store).await;
    assert_eq!(texts(&world, &status).len(), 1, "quiet when idle");

    // Three incidents of different severities, one resolved.
    let sev3 = world.declare(ALICE, "Slow reports sev3").await;
    clock.advance(Duration::minutes(10));
    let sev1 = world.declare(BOB, "Checkout down sev1").await;
    clock.advance(Duration::minutes(5));
    let sev2 = world.declare(CAROL, "Emails delayed sev2").await;
    assert_eq!(
        world.command(CAROL, &sev2, "update queue draining").await,
        None
    );
    world.bot_messages(&sev2, 2).await;
    clock.advance(Duration::minutes(20));
    assert_eq!(world.command(CAROL, &sev2, "resolve").await, None);
    world.bot_messages(&sev2, 3).await;

    clock.set(start + Duration::hours(3));
    bot.service.kick_timers();
    wait_summaries(&world.store().await, 3).await;
    let summaries = world
        .emu
        .wait_until(DEADLINE, |ws| {
            let posts: Vec<String> = ws
                .messages
                .get(&status)?
                .iter()
                .map(|m| warroom::slack::render::plain_text(&m.text, m.blocks.as_ref()))
                .filter(|t| t.contains("Incident summary"))
                .collect();
            (posts.len() >= 2).then_some(posts)
        })
        .await
        .expect("the second summary in the status channel");
    let summary = &summaries[1];
    assert!(
        summary.contains("2 open, 1 resolved since the last summary"),
        "{summary}"
    );
    let p1 = summary.find("Checkout down").expect("sev1 listed");
    let p3 = summary.find("Slow reports").expect("sev3 listed");
    assert!(p1 < p3, "worst first: {summary}");
    assert!(
        summary.contains("open 50m"),
        "the sev1 is 50m old: {summary}"
    );
    assert!(
        summary.contains("open 1h 0m"),
        "the sev3 is 1h old: {summary}"
    );
    assert!(summary.contains("no update yet"), "{summary}");
    assert!(
        summary.contains("Emails delayed") && summary.contains("resolved after 20m"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("#{sev1}")) && summary.contains(&format!("#{sev3}")),
        "channel links: {summary}"
    );
    // Every manager gets the same by DM.
    for m in [MANAGER, OTHER_MANAGER] {
        let dms = dm_texts(&world, m, 2).await;
        assert_eq!(&dms[1], summary, "{m}");
    }
}

/// Poll the database until `n` summaries have fired (sent or kept quiet).
async fn wait_summaries(store: &warroom::store::Store, n: i64) {
    wait_until_ok(DEADLINE, &format!("{n} summaries to fire"), async || {
        let count = warroom::store::timers::summary_count(store.db())
            .await
            .unwrap();
        if count >= n {
            Ok(())
        } else {
            Err(Seen(format!("only {count} summaries fired")))
        }
    })
    .await;
}

#[tokio::test]
async fn a_manager_slack_rejects_is_reported_once_and_the_others_still_get_theirs() {
    let world = World::new().await;
    world.emu.add_user(MANAGER, "manager");
    let status = world.bot_channel("incident-status");
    let clock = whole_hour_clock();
    let bot = world
        .start_bot_with(Arc::new(clock.clone()), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
            c.slack.managers = vec![
                UserId::parse("U0GHOST").unwrap(),
                UserId::parse(MANAGER).unwrap(),
            ];
            c.summary.quiet_when_idle = false;
        })
        .await;
    for round in 1..=2 {
        clock.advance(Duration::hours(1));
        bot.service.kick_timers();
        dm_texts(&world, MANAGER, round).await;
    }
    let posts = texts(&world, &status);
    let complaints: Vec<_> = posts.iter().filter(|p| p.contains("U0GHOST")).collect();
    assert_eq!(complaints.len(), 1, "{posts:#?}");
    assert!(
        complaints[0].contains("user_not_found"),
        "{}",
        complaints[0]
    );
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.contains("Incident summary"))
            .count(),
        2
    );
}

async fn a_restart_at_the_due_time_neither_skips_nor_doubles_a_summary(world: World) {
    let status = world.bot_channel("incident-status");
    let clock = whole_hour_clock();
    let tweak = |c: &mut warroom::config::Config| {
        c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
        c.summary.quiet_when_idle = false;
    };
    let bot = world.start_bot_with(Arc::new(clock.clone()), tweak).await;
    // Down before the due time, back after it: the missed summary fires once at start.
    stop(&world, bot).await;
    clock.advance(Duration::minutes(90));
    let bot = world.start_bot_with(Arc::new(clock.clone()), tweak).await;
    wait_texts(&world, &status, 1).await;
    // Restart right at (after) the firing: no second copy.
    stop(&world, bot).await;
    let bot = world.start_bot_with(Arc::new(clock.clone()), tweak).await;
    bot.service.kick_timers();
    // The next one is an hour after the late firing, not at the old cadence.
    clock.advance(Duration::minutes(59));
    bot.service.kick_timers();
    let store = world.store().await;
    let pending = warroom::store::timers::pending_of_kind(store.db(), "summary")
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].due_at,
        warroom::clock::Clock::now(&clock) + Duration::minutes(1)
    );
    // The row the stop may have left marked "sending" is settled (looked up, not reposted).
    wait_outbox_drained(&store).await;
    assert_eq!(texts(&world, &status).len(), 1);
    clock.advance(Duration::minutes(1));
    bot.service.kick_timers();
    wait_texts(&world, &status, 2).await;
    assert_eq!(
        warroom::store::timers::summary_count(store.db())
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn app_home_shows_open_and_recently_resolved_incidents() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let open = world.declare(ALICE, "Open thing sev2").await;
    let done = world.declare(BOB, "Done thing").await;
    assert_eq!(world.command(BOB, &done, "resolve").await, None);
    world.bot_messages(&done, 2).await;

    world.emu.open_app_home(DAVE);
    let view = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.views_published
                .iter()
                .find(|v| v.user == DAVE)
                .map(|v| v.view.clone())
        })
        .await
        .expect("a published home view");
    let text = view.to_string();
    assert!(
        text.contains("Open thing") && text.contains(&format!("<#{open}>")),
        "{text}"
    );
    assert!(
        text.contains("Recently resolved (1)") && text.contains("Done thing"),
        "{text}"
    );
    assert_eq!(view["type"], "home");

    // `/incident list` shows the same open incidents, to the caller only.
    let list = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(
        list.contains("Open thing") && !list.contains("Done thing"),
        "{list}"
    );
}

on_both_backends!(a_restart_at_the_due_time_neither_skips_nor_doubles_a_summary);
