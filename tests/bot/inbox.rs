//! The inbox after the fact: an event a retry cannot fix is set aside (kept, counted, told
//! once to the status channel) while later events go on, and an operator replays it with
//! `warroom inbox`; raw events are kept only as long as `[database] keep_raw_events`, and
//! those outside incident channels not beyond their dedupe key.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use warroom::clock::{ManualClock, SystemClock};

use crate::helpers::*;

/// A second connection to the bot's database (SQLite file or PostgreSQL), as an operator's.
async fn db(world: &World) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&world.db_url)
        .await
        .expect("a second connection")
}

async fn count(db: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(db)
        .await
        .expect("a count")
}

fn config_file(world: &World) -> PathBuf {
    let path = world.dir.path().join("operator.toml");
    std::fs::write(&path, format!("[database]\nurl = \"{}\"\n", world.db_url)).unwrap();
    path
}

async fn inbox(world: &World, args: &[&str]) -> (bool, String, String) {
    let cfg = config_file(world);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("inbox")
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .env_remove("WARROOM_CONFIG")
        .output()
        .await
        .expect("warroom runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn an_event_a_retry_cannot_fix_is_set_aside_and_replayed_once_fixed(world: World) {
    let status = world.bot_channel("incident-status");
    let app = world
        .start_bot_with(Arc::new(SystemClock), |c| {
            c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()))
        })
        .await;
    let broken = world.declare(ALICE, "Corrupt row").await;
    let healthy = world.declare(ALICE, "Healthy incident").await;
    let store = world.store().await;

    // The broken incident's row no longer decodes: every read of it fails the same way.
    let conn = db(&world).await;
    let opened: String =
        sqlx::query_scalar("SELECT opened_at FROM incidents WHERE channel_id = $1")
            .bind(&broken)
            .fetch_one(&conn)
            .await
            .unwrap();
    sqlx::query("UPDATE incidents SET opened_at = 'not a time' WHERE channel_id = $1")
        .bind(&broken)
        .execute(&conn)
        .await
        .unwrap();
    let lost = world
        .emu
        .post_message(BOB, &broken, "said in the corrupt incident", None)
        .unwrap();
    let later = world
        .emu
        .post_message(BOB, &healthy, "said after it", None)
        .unwrap();

    // The worker tries a few times, sets the event aside and goes on with the next one.
    wait_timeline(&store, &healthy, "the later message", |e| {
        e.iter()
            .any(|e| e.slack_ts.as_deref() == Some(later.as_str()))
    })
    .await;
    let bot = world.emu.config().bot_user_id.clone();
    let notice = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&status)?
                .iter()
                .find(|m| m.user == bot && m.text.contains("set aside"))
                .cloned()
        })
        .await
        .expect("the status channel is told");
    let id: i64 = notice
        .text
        .split("`warroom inbox --retry ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event id in {:?}", notice.text));
    assert!(notice.text.contains(&format!("ev-{id}")), "{}", notice.text);
    assert!(
        !notice.text.contains("bad stored time"),
        "the error stays in the log: {}",
        notice.text
    );
    assert_eq!(app.metrics.events_set_aside(), 1);
    let text = app.metrics.render(None, Default::default());
    assert!(text.contains("warroom_events_set_aside_total 1"), "{text}");

    // The operator sees it, with its error.
    let (ok, listed, err) = inbox(&world, &["--failed"]).await;
    assert!(ok, "{err}");
    assert!(
        listed.contains(&format!("ev-{id}")) && listed.contains("bad stored time"),
        "{listed}"
    );
    assert!(listed.contains("after 3 attempt(s)"), "{listed}");

    // Fixed, and replayed: the message is recorded, once.
    sqlx::query("UPDATE incidents SET opened_at = $1 WHERE channel_id = $2")
        .bind(&opened)
        .bind(&broken)
        .execute(&conn)
        .await
        .unwrap();
    let (ok, out, err) = inbox(&world, &["--retry", &id.to_string()]).await;
    assert!(ok && out.contains("back in the queue"), "{out}{err}");
    let entries = wait_timeline(&store, &broken, "the replayed message", |e| {
        e.iter()
            .any(|e| e.slack_ts.as_deref() == Some(lost.as_str()))
    })
    .await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.slack_ts.as_deref() == Some(lost.as_str()))
            .count(),
        1
    );
    let (ok, listed, _) = inbox(&world, &["--failed"]).await;
    assert!(ok && listed.contains("no events set aside"), "{listed}");
    let (ok, _, err) = inbox(&world, &["--retry", &id.to_string()]).await;
    assert!(!ok && err.contains("is not set aside"), "{err}");
    // One notice for the one event.
    let notices = world
        .emu
        .messages(&status)
        .into_iter()
        .filter(|m| m.text.contains("set aside"))
        .count();
    assert_eq!(notices, 1);
    app.stop().await.unwrap();
}

async fn raw_events_are_kept_only_as_long_as_needed(world: World) {
    let now = Utc::now();
    let clock = ManualClock::new(Utc.timestamp_opt(now.timestamp(), 0).unwrap());
    let app = world
        .start_bot_with(Arc::new(clock.clone()), |c| {
            assert_eq!(
                c.database.keep_raw_events,
                Some(std::time::Duration::from_secs(7 * 24 * 3600)),
                "a week by default"
            );
        })
        .await;
    let random = world.bot_channel("random");
    world.emu.join_channel(&random, BOB);
    let channel = world.declare(ALICE, "Retention").await;
    world
        .emu
        .post_message(BOB, &random, "lunch at noon? my phone is 555-0100", None)
        .unwrap();
    let ts = world
        .emu
        .post_message(BOB, &channel, "the database is slow", None)
        .unwrap();
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    let conn = db(&world).await;
    // Outside an incident: once applied, only the dedupe key is left.
    wait_until(
        DEADLINE,
        "the message outside incidents to be dropped",
        async || count(&conn, "SELECT COUNT(*) FROM inbox WHERE payload = ''").await > 0,
    )
    .await;
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM inbox WHERE payload LIKE '%555-0100%'"
        )
        .await,
        0
    );
    // In an incident channel: kept for now, for a replay or an investigation.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM inbox WHERE payload LIKE '%database is slow%'"
        )
        .await,
        1
    );

    // A week and a day later every processed event is gone; the timeline keeps its text.
    clock.advance(chrono::Duration::days(8));
    app.service.kick_timers();
    wait_until(DEADLINE, "processed events to be pruned", async || {
        count(
            &conn,
            "SELECT COUNT(*) FROM inbox WHERE processed_at IS NOT NULL",
        )
        .await
            == 0
    })
    .await;
    let entries = warroom::store::timeline::of_incident(
        store.db(),
        incident_in(&store, &channel).await.incident.id,
    )
    .await
    .unwrap();
    assert!(entries.iter().any(|e| e.text == "the database is slow"));
    app.stop().await.unwrap();
}

on_both_backends!(
    an_event_a_retry_cannot_fix_is_set_aside_and_replayed_once_fixed,
    raw_events_are_kept_only_as_long_as_needed,
);
