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
async fn sigkill_at_seeded_points_loses_and_doubles_nothing() {
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
    let entries = store.timeline(record.incident.id).await.expect("timeline");
    for needle in [
        "raised max_connections",
        "error rate back to normal",
        "EU checkout degraded",
    ] {
        let n = entries.iter().filter(|e| e.text.contains(needle)).count();
        assert_eq!(n, 1, "{needle:?} recorded {n} times");
    }

    // Summaries: nothing due is left unfired, and each fired one was posted exactly once.
    let now = chrono::Utc::now();
    let fired_posts = wait_outbox_delivered(&world).await;
    let overdue = store
        .due_timers(now - chrono::Duration::seconds(3))
        .await
        .expect("timers readable");
    assert!(
        overdue.is_empty(),
        "summaries due but never fired: {overdue:?}"
    );
    assert!(fired_posts > 0, "the run is long enough for summaries");
    assert_eq!(
        summary_posts(&world, &status),
        fired_posts,
        "each fired summary is posted exactly once"
    );
    bot.kill(&world).await;
}

/// Wait until the outbox is empty; returns how many of its messages went to a channel.
async fn wait_outbox_delivered(world: &World) -> usize {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let conn = rusqlite::Connection::open_with_flags(
            &world.db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("database opens read-only");
        let pending: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
                [],
                |r| r.get(0),
            )
            .expect("outbox readable");
        if pending == 0 {
            let sent: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM outbox WHERE last_error IS NULL AND destination LIKE 'C%'",
                    [],
                    |r| r.get(0),
                )
                .expect("outbox readable");
            return usize::try_from(sent).expect("a count");
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{pending} summary messages never delivered");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
