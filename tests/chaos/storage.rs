//! Storage faults: another connection holding the write lock, a read-only database, a full
//! disk. warroom withholds the ack of what it could not record (Slack redelivers), says why
//! in its log, corrupts nothing, and carries on when the fault clears.
//!
//! Nothing is mounted, so these run for any user, in CI as elsewhere: the database is made
//! read-only with file permissions (binding the bot even when the tests run as root, see
//! [`Confined`]), and the disk is full for the bot when its files may not grow
//! (RLIMIT_FSIZE on the running process): SQLite's writes fail as they do on a full disk.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use warroom::slack_emulator::EmulatorConfig;

use crate::helpers::*;

/// The database's own directory, apart from the config and the log.
fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Make the database's directory and files read-only (`writable: false`), or writable again.
fn set_writable(dir: &Path, writable: bool) {
    for entry in std::fs::read_dir(dir).expect("the database directory") {
        let path = entry.expect("an entry").path();
        let mode = if writable { 0o600 } else { 0o400 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let mode = if writable { 0o700 } else { 0o500 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The size of the largest file the bot writes in `dir`.
fn largest_file(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("the database directory")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

fn log_text(world: &World) -> String {
    std::fs::read_to_string(BotProcess::log_path(world)).unwrap_or_default()
}

/// Wait until the bot's log contains one of `needles`. The log is written by another
/// process, in its own time: seeing the effect of an error (say, a redelivery) does not
/// mean the line about it is written yet.
async fn wait_log(world: &World, needles: &[&str]) {
    let what = format!("the log to say one of {needles:?}");
    wait_until_ok(DEADLINE, &what, async || {
        let log = log_text(world);
        if needles.iter().any(|n| log.contains(n)) {
            Ok(())
        } else {
            Err(Seen(log))
        }
    })
    .await
}

async fn integrity_ok(world: &World) {
    let store = world.store().await;
    let check = store.integrity_check().await.expect("integrity check runs");
    assert_eq!(check, Ok(()), "the database is not corrupt");
}

#[tokio::test]
async fn a_busy_database_is_waited_for_and_nothing_is_lost() {
    let world = World::new().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Busy database").await;

    // Another process takes the write lock and keeps it until told to let go.
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let path = world.db_path.clone();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("second connection");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("write lock taken");
        let _ = locked_tx.send(());
        let _ = release_rx.recv();
        conn.execute_batch("ROLLBACK").expect("lock released");
    });
    locked_rx.await.expect("lock taken");

    let posted: Vec<String> = (0..5)
        .map(|i| {
            world
                .emu
                .post_message(BOB, &channel, &format!("while locked {i}"), None)
                .expect("posted")
        })
        .collect();
    // While it cannot write, the bot does not ack (it waits on the lock).
    let early = world
        .emu
        .wait_until(Duration::from_millis(1500), |ws| {
            ws.envelopes
                .iter()
                .any(|e| {
                    e.acked_at.is_some()
                        && e.payload
                            .pointer("/event/ts")
                            .and_then(|t| t.as_str())
                            .is_some_and(|t| posted.iter().any(|p| p == t))
                })
                .then_some(())
        })
        .await;
    assert!(
        early.is_err(),
        "an event was acked while the database was locked"
    );
    release_tx.send(()).expect("holder alive");
    holder.join().expect("holder thread");

    for ts in &posted {
        world.wait_acked(ts).await;
    }
    assert_eq!(
        world.command(BOB, &channel, "status identified").await,
        None
    );
    let store = world.store().await;
    // Acked before the worker applies it: wait, so the header check below sees the change.
    wait_incident(&store, &channel, "status identified", |r| {
        r.incident.status.to_string() == "identified"
    })
    .await;
    check_invariants(&world, &store, 1).await;
    integrity_ok(&world).await;
}

#[tokio::test]
async fn a_read_only_database_stops_the_start_with_a_clear_error_and_recovers() {
    let data = data_dir();
    let world = World::with(EmulatorConfig::default(), Some(data.path())).await;
    let bot = BotProcess::start(&world, "", "").await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("connects");
    let channel = world.declare(ALICE, "Read-only database").await;
    let before = world
        .emu
        .post_message(BOB, &channel, "before read-only", None)
        .expect("posted");
    world.wait_acked(&before).await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter()
            .any(|x| x.slack_ts.as_deref() == Some(before.as_str()))
    })
    .await;
    store.close().await;
    bot.kill(&world).await;

    set_writable(data.path(), false);
    let while_ro = world
        .emu
        .post_message(BOB, &channel, "while read-only", None)
        .expect("posted");
    let mut bot = BotProcess::start_confined(&world, Confined::ObeysFilePermissions).await;
    let status = within(DEADLINE, async || bot.try_exit()).await;
    let log = log_text(&world);
    assert!(
        status.is_some_and(|s| !s.success()),
        "the bot refuses to run on a read-only database: {log}"
    );
    // Depending on whether the crash left WAL files behind, SQLite either opens the file
    // read-only (then the start-up write check refuses it) or cannot open it at all.
    let path = world.db_path.display().to_string();
    assert!(
        log.contains(&path)
            && ((log.contains("not writable") && log.contains("readonly database"))
                || log.contains("cannot open database")),
        "the error names the database and why: {log}"
    );
    assert!(
        !world.emu.envelopes().iter().any(|e| e.acked_at.is_some()
            && e.payload.pointer("/event/ts").and_then(|t| t.as_str()) == Some(while_ro.as_str())),
        "nothing is acked that could not be recorded"
    );

    set_writable(data.path(), true);
    let bot = BotProcess::start(&world, "", "").await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("connects");
    world.wait_acked(&while_ro).await;
    let store = world.store().await;
    check_invariants(&world, &store, 1).await;
    integrity_ok(&world).await;
    bot.kill(&world).await;
}

#[tokio::test]
async fn a_full_disk_withholds_acks_says_why_and_recovers() {
    let data = data_dir();
    // Slack keeps redelivering for a while (ack time-out 1 s, 30 retries).
    let world = World::with(
        EmulatorConfig {
            ack_timeout: Duration::from_secs(1),
            max_retries: 30,
            ..EmulatorConfig::default()
        },
        Some(data.path()),
    )
    .await;
    let bot = BotProcess::start_confined(&world, Confined::SurvivesFileSizeLimit).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("connects");
    let channel = world.declare(ALICE, "Disk full").await;
    // From here no file of the bot's may grow more than a few messages' worth.
    bot.limit_file_size(Some(largest_file(data.path()) + 200 * 1024));

    // Post big messages until one is not acked in time: the disk is full for the bot.
    let big = "x".repeat(30_000);
    let mut posted = Vec::new();
    let mut stuck = None;
    for i in 0..400 {
        let ts = world
            .emu
            .post_message(BOB, &channel, &format!("{i} {big}"), None)
            .expect("posted");
        posted.push(ts.clone());
        let outcome = world
            .emu
            .wait_until(DEADLINE, |ws| {
                let mine = ws.envelopes.iter().filter(|e| {
                    e.payload.pointer("/event/ts").and_then(|t| t.as_str()) == Some(ts.as_str())
                });
                let mut redelivered = false;
                for e in mine {
                    if e.acked_at.is_some() {
                        return Some(true);
                    }
                    redelivered |= e.retry_attempt > 0;
                }
                redelivered.then_some(false)
            })
            .await
            .expect("acked or redelivered");
        if !outcome {
            stuck = Some(ts);
            break;
        }
    }
    let stuck = stuck.expect("the disk filled up");
    // The log says the write failed, with SQLite's reason (a write the OS refused; on a
    // tmpfs that filled up it reads "database or disk is full").
    wait_log(&world, &["disk I/O error", "database or disk is full"]).await;
    assert_eq!(world.emu.connection_count(), 1, "the connection stays up");

    bot.limit_file_size(None);
    world.wait_acked(&stuck).await;
    for ts in &posted {
        world.wait_acked(ts).await;
    }
    assert_eq!(
        world.command(BOB, &channel, "status identified").await,
        None
    );
    let store = world.store().await;
    // Acked before the worker applies it: wait, so the header check below sees the change.
    wait_incident(&store, &channel, "status identified", |r| {
        r.incident.status.to_string() == "identified"
    })
    .await;
    check_invariants(&world, &store, 1).await;
    integrity_ok(&world).await;
    bot.kill(&world).await;
}
