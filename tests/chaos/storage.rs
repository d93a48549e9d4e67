//! Storage faults: another connection holding the write lock, a read-only database, a full
//! disk. warroom withholds the ack of what it could not record (Slack redelivers), says why
//! in its log, corrupts nothing, and carries on when the fault clears.
//!
//! The read-only and disk-full cases need `mount -t tmpfs` (root); without it they print why
//! they were skipped and pass.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use warroom::slack_emulator::EmulatorConfig;

use crate::helpers::*;

/// A small tmpfs mounted on a temp dir, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs { dir })
        } else {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root and mount permission)");
            None
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remount read-only or read-write; retried while the kernel still finds it busy (a
    /// killed process's files are released asynchronously).
    async fn remount(&self, mode: &str) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let ok = Command::new("mount")
                .args(["-o", &format!("remount,{mode}")])
                .arg(self.path())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "remount {mode} refused"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fill the file system up with a file; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn log_text(world: &World) -> String {
    std::fs::read_to_string(BotProcess::log_path(world)).unwrap_or_default()
}

/// Wait until the bot's log contains `needle`. The log is written by another process, in
/// its own time: seeing the effect of an error (say, a redelivery) does not mean the line
/// about it is written yet.
async fn wait_log(world: &World, needle: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !log_text(world).contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log never said {needle:?}: {}",
            log_text(world)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
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
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let world = World::with(EmulatorConfig::default(), Some(fs.path())).await;
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
    // Nothing may hold the file open for writing, or the remount is refused (busy).
    store.close().await;
    bot.kill(&world).await;

    fs.remount("ro").await;
    let while_ro = world
        .emu
        .post_message(BOB, &channel, "while read-only", None)
        .expect("posted");
    let mut bot = BotProcess::start(&world, "", "").await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = bot.try_exit() {
            break Some(s);
        }
        if tokio::time::Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
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

    fs.remount("rw").await;
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
    let Some(fs) = Tmpfs::mount("24m") else {
        return;
    };
    // Slack keeps redelivering for a while (ack time-out 1 s, 30 retries).
    let world = World::with(
        EmulatorConfig {
            ack_timeout: Duration::from_secs(1),
            max_retries: 30,
            ..EmulatorConfig::default()
        },
        Some(fs.path()),
    )
    .await;
    let bot = BotProcess::start(&world, "", "").await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("connects");
    let channel = world.declare(ALICE, "Disk full").await;
    let filler = fs.fill();

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
    // The log says the disk is full.
    wait_log(&world, "full").await;
    assert_eq!(world.emu.connection_count(), 1, "the connection stays up");

    std::fs::remove_file(filler).expect("space freed");
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
