//! Kill -9 mid-incident and start again on the same database: nothing lost, nothing doubled.

use crate::helpers::*;

async fn a_killed_bot_restarts_without_losing_or_duplicating_anything(world: World) {
    let bot = BotProcess::start(&world).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    let channel = world.declare(ALICE, "Kill test sev2").await;

    let before: Vec<String> = (0..5)
        .map(|i| {
            world
                .emu
                .post_message(BOB, &channel, &format!("before kill {i}"), None)
                .unwrap()
        })
        .collect();
    // Wait until the last one has been acked: from then on it must survive the kill.
    let last = before.last().unwrap().clone();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.envelopes
                .iter()
                .any(|e| {
                    e.payload.pointer("/event/ts").and_then(|t| t.as_str()) == Some(last.as_str())
                        && e.acked_at.is_some()
                })
                .then_some(())
        })
        .await
        .unwrap();
    bot.kill().await;
    world
        .emu
        .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
        .await
        .unwrap();

    // Slack keeps delivering while the bot is down (queued until it reconnects).
    let during: Vec<String> = (0..3)
        .map(|i| {
            world
                .emu
                .post_message(CAROL, &channel, &format!("while down {i}"), None)
                .unwrap()
        })
        .collect();

    let bot = BotProcess::start(&world).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    let store = world.store().await;
    let all: Vec<String> = before.iter().chain(during.iter()).cloned().collect();
    let entries = wait_timeline(&store, &channel, "every message", |e| {
        all.iter()
            .all(|ts| e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str())))
    })
    .await;
    for ts in &all {
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
                .count(),
            1,
            "{ts}"
        );
    }

    // Commands still work after the restart, and there is still exactly one incident.
    assert_eq!(
        world.command(BOB, &channel, "status monitoring").await,
        None
    );
    world.bot_messages(&channel, 2).await;
    let incidents = warroom::store::incidents::list(store.db(), false)
        .await
        .unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].incident.status.to_string(), "monitoring");
    assert_eq!(
        world
            .emu
            .channels()
            .iter()
            .filter(|c| c.name.starts_with("inc-"))
            .count(),
        1
    );
    bot.kill().await;
}

async fn a_declare_interrupted_mid_setup_resumes_on_restart(world: World) {
    // The bot records the declare and creates the channel, but Slack fails the invite; the
    // bot is killed while retrying. After the restart it finishes the same war room.
    // Two failures: the first bot sees at least the first, the restarted one at most both.
    world.emu.inject_fault(
        "conversations.invite",
        warroom::slack_emulator::Fault::HttpStatus(500),
        2,
    );
    let bot = BotProcess::start(&world).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    assert_eq!(
        world
            .command(ALICE, &world.ops, "declare Half-open incident")
            .await,
        None
    );
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .any(|c| c.name.starts_with("inc-"))
                .then_some(())
        })
        .await
        .unwrap();
    bot.kill().await;

    let bot = BotProcess::start(&world).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    let bot_user = world.emu.config().bot_user_id.clone();
    let channel = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .find(|c| {
                    c.name.starts_with("inc-")
                        && ws
                            .messages
                            .get(&c.id)
                            .is_some_and(|m| m.iter().any(|m| m.user == bot_user && m.pinned))
                })
                .map(|c| c.id.clone())
        })
        .await
        .expect("the war room is completed after the restart");
    assert_eq!(
        world
            .emu
            .channels()
            .iter()
            .filter(|c| c.name.starts_with("inc-"))
            .count(),
        1,
        "no second channel"
    );
    assert!(world.emu.channel(&channel).unwrap().is_member(BOB));
    let store = world.store().await;
    assert_eq!(
        warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .len(),
        1
    );
    bot.kill().await;
}

async fn a_channel_the_bot_created_before_a_crash_is_adopted_not_duplicated(world: World) {
    // The crash window between conversations.create and saving its id: the channel exists,
    // made by the bot, attached to no incident. The replayed declare must adopt it.
    let bot_user = world.emu.config().bot_user_id.clone();
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    let name = format!("inc-{today}-orphaned-channel");
    let orphan = world.emu.create_channel(&bot_user, &name);
    world.emu.join_channel(&orphan, &bot_user);
    let _bot = world.start_bot().await;
    assert_eq!(
        world
            .command(ALICE, &world.ops, "declare Orphaned channel")
            .await,
        None
    );
    let header = world.bot_messages(&orphan, 1).await;
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&orphan)?
                .iter()
                .find(|m| m.pinned)
                .map(|_| ())
        })
        .await
        .expect("the header is pinned in the adopted channel");
    assert!(header[0].text.contains("Orphaned channel"));
    let record = incident_in(&world.store().await, &orphan).await;
    assert_eq!(record.channel_name, name);
    assert_eq!(
        world
            .emu
            .channels()
            .iter()
            .filter(|c| c.name.starts_with("inc-"))
            .count(),
        1
    );
}

async fn a_header_posted_just_before_a_crash_is_adopted_not_posted_again(world: World) {
    // The crash window between the header's chat.postMessage and recording its ts: the
    // header is in the channel, the incident says none was posted, and the declare is
    // replayed. The replay must find that header and pin it, not post a second one.
    let bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Header crash window").await;
    let header = world.header(&channel);
    bot.stop().await.unwrap();

    sqlx::any::install_default_drivers();
    let conn = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&world.db_url)
        .await
        .expect("a second connection");
    sqlx::query("UPDATE incidents SET header_ts = NULL, header_pinned = 0 WHERE channel_id = $1")
        .bind(&channel)
        .execute(&conn)
        .await
        .unwrap();
    let replayed = sqlx::query(
        "UPDATE inbox SET processed_at = NULL WHERE id = (SELECT MAX(id) FROM inbox WHERE payload LIKE $1)",
    )
    .bind("%declare Header crash window%")
    .execute(&conn)
    .await
    .unwrap();
    assert_eq!(replayed.rows_affected(), 1, "the declare is in the inbox");
    conn.close().await;

    let _bot = world.start_bot().await;
    let store = world.store().await;
    let record = wait_until_some(
        DEADLINE,
        "the war room completed after the replay",
        async || {
            let r = incident_in(&store, &channel).await;
            (r.header_ts.is_some() && r.header_pinned).then_some(r)
        },
    )
    .await;
    assert_eq!(record.header_ts.as_deref(), Some(header.ts.as_str()));
    let bot_user = world.emu.config().bot_user_id.clone();
    let headers = world
        .emu
        .messages(&channel)
        .into_iter()
        .filter(|m| m.user == bot_user && m.text.contains("Header crash window"))
        .count();
    assert_eq!(headers, 1, "one header in the war room");
}

on_both_backends!(
    a_killed_bot_restarts_without_losing_or_duplicating_anything,
    a_declare_interrupted_mid_setup_resumes_on_restart,
    a_channel_the_bot_created_before_a_crash_is_adopted_not_duplicated,
    a_header_posted_just_before_a_crash_is_adopted_not_posted_again,
);
