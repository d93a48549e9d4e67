//! SIGKILL of the real binary at seeded random points of a scripted incident, N times in a
//! row on one database, restarted each time. A kill point is "after the k-th next step of
//! the script, once the bot has made m more Web API calls" (k, m drawn from the seed), so a
//! seed names the same interleaving on every run, up to the bot's own timing.
//!
//! `WARROOM_CHAOS_SEED=<u64>` picks the seed (default 9); `WARROOM_SOAK=1` kills 25 times
//! instead of 4.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::helpers::*;

#[derive(Debug, Clone)]
enum Step {
    Message(String),
    Command(&'static str),
}

fn script() -> Vec<Step> {
    let mut steps = Vec::new();
    let commands = [
        "status identified connection pool exhausted",
        "sev 1",
        "note raised max_connections",
        "update EU checkout degraded",
        "status monitoring",
        "note error rate back to normal",
        "sev 2",
        "resolve pool resized",
    ];
    for (i, cmd) in commands.iter().enumerate() {
        for j in 0..3 {
            steps.push(Step::Message(format!("step {i}.{j}")));
        }
        steps.push(Step::Command(cmd));
    }
    steps
}

async fn run_step(world: &World, channel: &str, step: &Step) {
    match step {
        Step::Message(text) => {
            let who = if text.ends_with('1') { CAROL } else { BOB };
            world
                .emu
                .post_message(who, channel, text, None)
                .expect("posted");
        }
        Step::Command(cmd) => {
            assert_eq!(world.command(BOB, channel, cmd).await, None, "{cmd}");
        }
    }
}

fn summary_posts(world: &World, status: &str) -> usize {
    world
        .emu
        .messages(status)
        .iter()
        .filter(|m| m.text.contains("Incident summary"))
        .count()
}

#[tokio::test]
async fn sigkill_at_seeded_points_loses_nothing_and_records_once() {
    sigkill_scenario(false).await;
}

/// Summary delivery is effectively once across a crash: a row marked "sending" is looked
/// for in the channel's history before it is posted again.
#[tokio::test]
async fn sigkill_right_after_a_summary_post_does_not_post_it_twice() {
    sigkill_scenario(true).await;
}

/// The scripted incident under seeded kills; `exactly_once_summaries` also demands that no
/// summary is posted twice (see the known issue).
async fn sigkill_scenario(exactly_once_summaries: bool) {
    let seed: u64 = std::env::var("WARROOM_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let kills = if std::env::var("WARROOM_SOAK").is_ok_and(|v| v == "1") {
        25
    } else {
        4
    };
    eprintln!("sigkill chaos: seed {seed}, {kills} kills (WARROOM_CHAOS_SEED, WARROOM_SOAK=1)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    let slack = format!("status_channel = \"{status}\"");
    let extra = "[summary]\nevery = \"2s\"\n";
    let steps = script();
    let mut next = 0;
    let mut channel: Option<String> = None;

    for round in 0..kills {
        let bot = BotProcess::start(&world, &slack, extra).await;
        world
            .emu
            .wait_for_connections(1, DEADLINE)
            .await
            .expect("bot connects");
        let ch = match &channel {
            Some(c) => c.clone(),
            None => {
                assert_eq!(
                    world
                        .command(ALICE, &world.ops, "declare Crash loop sev2")
                        .await,
                    None
                );
                // The channel exists and the responders are in it (the header may not be).
                let c = world
                    .emu
                    .wait_until(DEADLINE, |ws| {
                        ws.channels
                            .iter()
                            .find(|c| c.name.starts_with("inc-") && c.is_member(BOB))
                            .map(|c| c.id.clone())
                    })
                    .await
                    .expect("the war room is created");
                channel = Some(c.clone());
                c
            }
        };
        let k = rng.random_range(1..=4usize);
        for step in steps.iter().skip(next).take(k) {
            run_step(&world, &ch, step).await;
        }
        next = (next + k).min(steps.len());
        // Kill once the bot has made m more Web API calls (or has gone quiet).
        let m = rng.random_range(0..6usize);
        let base = world.emu.api_calls().len();
        let _ = world
            .emu
            .wait_until(Duration::from_secs(2), |ws| {
                (ws.api_calls.len() >= base + m).then_some(())
            })
            .await;
        bot.kill(&world).await;
        eprintln!("round {round}: killed after step {next} and {m} calls");
        // Sometimes people keep talking while the bot is down.
        if rng.random_bool(0.5) {
            run_step(&world, &ch, &Step::Message(format!("while down {round}"))).await;
        }
    }

    let bot = BotProcess::start(&world, &slack, extra).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("bot connects");
    let channel = channel.expect("declared");
    for step in steps.iter().skip(next) {
        run_step(&world, &channel, step).await;
    }
    let store = world.store().await;
    let posted: Vec<String> = world
        .emu
        .messages(&channel)
        .iter()
        .filter(|m| m.bot_id.is_none())
        .map(|m| m.ts.clone())
        .collect();
    wait_timeline(&store, &channel, "every message and the resolve", |e| {
        posted
            .iter()
            .all(|ts| e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str())))
            && e.iter().any(|x| x.text.contains("pool resized"))
    })
    .await;
    // Every message people posted was acked (nothing dropped) and recorded once.
    let acked = acked_messages(
        &world.emu.workspace(),
        &channel,
        &world.emu.config().bot_user_id,
    );
    for ts in &posted {
        assert!(acked.contains(ts), "message {ts} was never acked");
    }
    check_invariants(&world, &store, 1).await;
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident.status.to_string(), "resolved");
    assert_eq!(record.incident.severity.to_string(), "SEV2");

    // Each change is on the timeline once, whatever the kills interrupted.
    let entries = warroom::store::timeline::of_incident(store.db(), record.incident.id)
        .await
        .expect("timeline");
    for needle in [
        "raised max_connections",
        "error rate back to normal",
        "EU checkout degraded",
    ] {
        let n = entries.iter().filter(|e| e.text.contains(needle)).count();
        assert_eq!(n, 1, "{needle:?} recorded {n} times");
    }

    // Summaries: nothing due is left unfired (the timer after the last one may be just due).
    // The scheduler fires in its own time, so a loaded machine may find one a few seconds
    // late: wait for it (a lost timer stays overdue and fails here)...
    wait_until_ok(DEADLINE, "every due summary to fire", async || {
        let overdue = warroom::store::timers::due(
            store.db(),
            chrono::Utc::now() - chrono::Duration::seconds(3),
        )
        .await
        .expect("timers readable");
        if overdue.is_empty() {
            Ok(())
        } else {
            Err(overdue)
        }
    })
    .await;
    // ...and, once the bot has stopped (gracefully, so no delivery is cut in half), each
    // summary marked delivered was posted exactly once.
    bot.terminate(&world).await;
    let delivered = delivered_summaries(&world, &status);
    assert!(delivered > 0, "the run is long enough for summaries");
    let posts = summary_posts(&world, &status);
    assert!(
        posts >= delivered,
        "a summary marked delivered was never posted"
    );
    if exactly_once_summaries {
        assert_eq!(
            posts, delivered,
            "each delivered summary is posted exactly once"
        );
    } else {
        // Known issue (RELIABILITY.md): a kill between the post and marking it sent
        // posts that summary again; at most once per kill.
        assert!(
            posts <= delivered + kills,
            "{posts} summary posts for {delivered} summaries and {kills} kills"
        );
    }
}

/// Messages the outbox marks delivered to the status channel: the summaries (change
/// notices go through the outbox too, to the incident channel).
fn delivered_summaries(world: &World, status: &str) -> usize {
    let conn = rusqlite::Connection::open_with_flags(
        &world.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("database opens read-only");
    let sent: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox
             WHERE sent_at IS NOT NULL AND last_error IS NULL AND destination = ?
               AND timer_id IN (SELECT id FROM timers WHERE kind = 'summary')",
            [status],
            |r| r.get(0),
        )
        .expect("outbox readable");
    usize::try_from(sent).expect("a count")
}

/// What a kill between `chat.postMessage` and marking the outbox row sent leaves behind,
/// set up by hand so that both outcomes are certain: one row marked sending whose post is in
/// the channel, one whose post is in a manager's DM, and one marked sending whose post never
/// reached Slack (though an older summary with the same text did). On restart the first two
/// are found in the history and not posted again; the third is posted, once.
#[tokio::test]
async fn an_interrupted_outbox_post_is_looked_up_before_it_is_posted_again() {
    let world = World::new().await;
    let status = world.bot_channel("incident-status");
    // Start once: the database and its tables exist, and so does the TLS provider.
    let bot = world.start_bot().await;
    bot.stop().await.expect("bot stops");
    world.emu.drop_connections();

    let (_, secrets) =
        warroom::demo::config_for_emulator(&world.emu, &world.db_url, &[]).expect("config");
    let client =
        warroom::slack::web::build_client(&world.emu.api_url(), false).expect("a Slack client");
    let web = warroom::slack::web::SlackWeb::new(client, &secrets.bot_token);
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // Slack's clock is set by hand so that the order of the posts and the mark is certain.
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(10);
    let say = |text: &str| warroom::slack::web::Outgoing::text(text);
    // An older summary with the same text as the lost one: not to be taken for it.
    world.emu.set_clock(Some(t0));
    web.post(
        &warroom::domain::ChannelId::new(status.clone()),
        &say("summary lost with the process"),
    )
    .await
    .expect("posted as the bot");
    let marked = t0 + chrono::Duration::seconds(1);
    // The killed process had marked the rows, then posted these two.
    world.emu.set_clock(Some(t0 + chrono::Duration::seconds(2)));
    web.post(
        &warroom::domain::ChannelId::new(status.clone()),
        &say("summary that reached Slack"),
    )
    .await
    .expect("posted as the bot");
    web.post_dm(DAVE, &say("summary that reached the manager"))
        .await
        .expect("DM as the bot");
    world.emu.set_clock(None);
    let conn = rusqlite::Connection::open(&world.db_path).expect("database opens");
    for (destination, text, sending) in [
        (status.as_str(), "summary that reached Slack", true),
        (DAVE, "summary that reached the manager", true),
        (status.as_str(), "summary lost with the process", true),
        (status.as_str(), "summary not started", false),
    ] {
        conn.execute(
            "INSERT INTO outbox (destination, text, created_at, sending_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                destination,
                text,
                stamp(marked - chrono::Duration::seconds(1)),
                sending.then(|| stamp(marked))
            ],
        )
        .expect("outbox row written");
    }
    drop(conn);

    let _bot = world.start_bot().await;
    let bot_id = world.emu.config().bot_user_id.clone();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let texts: Vec<&str> = ws
                .messages
                .get(&status)?
                .iter()
                .filter(|m| m.user == bot_id)
                .map(|m| m.text.as_str())
                .collect();
            let lost = texts
                .iter()
                .filter(|t| **t == "summary lost with the process")
                .count();
            (lost == 2 && texts.contains(&"summary not started")).then_some(())
        })
        .await
        .expect("the lost and the pending summaries are posted");
    wait_outbox_unsent(&world).await;
    let count = |msgs: &[warroom::slack_emulator::Message], text: &str| {
        msgs.iter().filter(|m| m.text == text).count()
    };
    let in_status = world.emu.messages(&status);
    assert_eq!(count(&in_status, "summary that reached Slack"), 1);
    assert_eq!(
        count(&in_status, "summary lost with the process"),
        2,
        "the older one and the repost"
    );
    assert_eq!(count(&in_status, "summary not started"), 1);
    assert_eq!(
        count(&world.emu.dms(DAVE), "summary that reached the manager"),
        1
    );
}
