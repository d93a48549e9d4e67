//! The chaos suite's helpers: the world every suite shares (`tests/common`), with this
//! suite's patience and what fault injection needs on top: a database in a chosen folder, the
//! real binary with extra config (confined, killed, stopped), and [`check_invariants`], the
//! invariants every scenario ends with.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use warroom::demo::bot_scopes;
use warroom::slack_emulator::{EmulatorConfig, EnvelopeKind, Message, Workspace};
use warroom::store::Store;

#[path = "../common/mod.rs"]
mod common;

pub use common::aws::*;
pub use common::wait::*;
pub use common::world::*;

/// Upper bound for any single awaited effect; generous for a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

impl World {
    /// A world on the emulator `config` (with the bot's scopes); `db_dir` puts the database
    /// in a directory of its own.
    pub async fn with(mut config: EmulatorConfig, db_dir: Option<&Path>) -> World {
        config.scopes = bot_scopes();
        World::with_config_in(config, db_dir).await
    }
}

/// The `ts` of every plain message by a person that Slack saw acked in `channel`.
pub fn acked_messages(ws: &Workspace, channel: &str, bot_user: &str) -> Vec<String> {
    let mut out: Vec<String> = ws
        .envelopes
        .iter()
        .filter(|e| e.kind == EnvelopeKind::EventsApi && e.acked_at.is_some())
        .filter_map(|e| {
            let ev = e.payload.get("event")?;
            let plain = ev.get("type")?.as_str()? == "message"
                && ev.get("subtype").is_none()
                && ev.get("bot_id").is_none_or(|b| b.is_null())
                && ev.get("channel")?.as_str()? == channel
                && ev.get("user")?.as_str()? != bot_user;
            plain.then(|| ev.get("ts")?.as_str().map(str::to_string))?
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The invariants every scenario ends with:
/// - exactly `incidents` incidents, each with its own `inc-` channel, and no other `inc-`
///   channel (nothing duplicated);
/// - every person's message that Slack saw acked in an incident channel is on that
///   incident's timeline exactly once;
/// - the pinned header says what the database says (text of `render::header`).
pub async fn check_invariants(world: &World, store: &Store, incidents: usize) {
    let records = warroom::store::incidents::list(store.db(), false)
        .await
        .expect("incidents readable");
    assert_eq!(records.len(), incidents, "incidents: {records:#?}");
    let mut channels: Vec<String> = records
        .iter()
        .map(|r| {
            r.channel_id
                .clone()
                .expect("every incident has its channel")
                .to_string()
        })
        .collect();
    channels.sort();
    let mut inc = world.inc_channels();
    inc.sort();
    assert_eq!(channels, inc, "one channel per incident, no strays");

    let bot = world.emu.config().bot_user_id.clone();
    let ws = world.emu.workspace();
    for channel in &channels {
        let acked = acked_messages(&ws, channel, &bot);
        let entries = wait_timeline(store, channel, "every acked message", |e| {
            acked
                .iter()
                .all(|ts| e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str())))
        })
        .await;
        for ts in &acked {
            let n = entries
                .iter()
                .filter(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
                .count();
            assert_eq!(n, 1, "message {ts} is on the timeline {n} times");
        }
        wait_header_matches(world, store, channel).await;
    }
}

/// Wait until the pinned header's text is what the database's record renders to.
pub async fn wait_header_matches(world: &World, store: &Store, channel: &str) {
    let what = "the pinned header to match the database";
    wait_until_ok(DEADLINE, what, async || {
        let record = incident_in(store, channel).await;
        let held = warroom::store::people::roles_of(store.db(), record.incident.id)
            .await
            .expect("roles readable");
        let roles = warroom::domain::roles::Roles {
            held,
            ..Default::default()
        };
        let want = warroom::slack::render::header(&record, &roles, chrono::Utc::now()).text;
        let pinned: Vec<Message> = world
            .emu
            .messages(channel)
            .into_iter()
            .filter(|m| m.pinned && m.bot_id.is_some())
            .collect();
        let ok = pinned.len() == 1
            && pinned[0].text == want
            && record.header_ts.as_deref() == Some(pinned[0].ts.as_str());
        if ok {
            return Ok(());
        }
        let got: Vec<&str> = pinned.iter().map(|m| m.text.as_str()).collect();
        Err(Seen(format!("want {want:?}, got {got:?}")))
    })
    .await
}

/// Messages still waiting in the outbox, read from the SQLite file beside the running bot
/// (read-only, without the bot's pool, so it works while the database misbehaves).
pub fn outbox_unsent(world: &World) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        &world.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("database opens read-only");
    conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
        [],
        |r| r.get(0),
    )
    .expect("outbox readable")
}

/// Wait until the outbox is empty ([`outbox_unsent`]): every message delivered or given up on.
pub async fn wait_outbox_unsent(world: &World) {
    wait_until_ok(
        DEADLINE,
        "the outbox to drain",
        async || match outbox_unsent(world) {
            0 => Ok(()),
            n => Err(Seen(format!("{n} outbox rows unsent"))),
        },
    )
    .await
}

/// The real `warroom` binary, run with a config file against the emulator.
pub struct BotProcess {
    child: tokio::process::Child,
}

impl BotProcess {
    /// Start with `slack` added to the `[slack]` section and `extra` appended to the config
    /// file (more TOML sections). Its log (warn and up) goes to [`BotProcess::log_path`].
    pub async fn start(world: &World, slack: &str, extra: &str) -> BotProcess {
        Self::start_with_env(world, slack, extra, &[]).await
    }

    /// [`BotProcess::start`] with more environment variables (AWS credentials for the fake).
    pub async fn start_with_env(
        world: &World,
        slack: &str,
        extra: &str,
        env: &[(&str, &str)],
    ) -> BotProcess {
        Self::start_as(world, slack, extra, env, Confined::No).await
    }

    /// [`BotProcess::start`] for the storage faults, which are made without mounting
    /// anything, so they run for any user: see [`Confined`].
    pub async fn start_confined(world: &World, confined: Confined) -> BotProcess {
        Self::start_as(world, "", "", &[], confined).await
    }

    async fn start_as(
        world: &World,
        slack: &str,
        extra: &str,
        env: &[(&str, &str)],
        confined: Confined,
    ) -> BotProcess {
        let config_path: PathBuf = world.dir.path().join("warroom.toml");
        let text = format!(
            "[slack]\napi_url = \"{}\"\nresponders = [\"{BOB}\", \"{CAROL}\"]\nproactive_rate_limits = false\nsocket_connections = 1\n{slack}\n[database]\nurl = \"{}\"\nfailover_after = \"3s\"\n{extra}",
            world.emu.api_url(),
            world.db_url
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Self::log_path(world))
            .expect("log file");
        std::fs::write(&config_path, text).expect("config written");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
        confined.apply(&mut cmd);
        let child = cmd
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
            .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("warroom binary starts");
        BotProcess { child }
    }

    /// The process id (for [`BotProcess::limit_file_size`], and to tell replicas apart).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Let no file the bot writes grow past `bytes` (`None`: no limit), as a full disk
    /// would: SQLite's writes past it fail (RLIMIT_FSIZE, set on the running process).
    pub fn limit_file_size(&self, bytes: Option<u64>) {
        let limit = libc::rlimit {
            rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
            rlim_max: libc::RLIM_INFINITY,
        };
        let pid = libc::pid_t::try_from(self.pid()).expect("a pid");
        // SAFETY: a plain system call with a valid pointer to a local value.
        let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    }

    /// Where every run's stderr goes (appended).
    pub fn log_path(world: &World) -> PathBuf {
        world.dir.path().join("warroom.log")
    }

    /// SIGKILL one of several bots; waits until Slack has seen its socket go (`remaining`
    /// connections left).
    pub async fn kill_leaving(mut self, world: &World, remaining: usize) {
        self.child.kill().await.expect("kill -9");
        world
            .emu
            .wait_until(DEADLINE, |ws| {
                (ws.live_connections <= remaining).then_some(())
            })
            .await
            .expect("the socket closes with the process");
    }

    /// The process's exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Wait (with the deadline) for the process to exit by itself.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("the process exits")
            .expect("exit status")
    }

    /// SIGTERM, and wait for the graceful exit.
    pub async fn terminate(mut self, world: &World) {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        let status = self.wait_exit().await;
        assert!(status.success(), "a graceful stop exits 0: {status}");
        world
            .emu
            .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
            .await
            .expect("the socket closes with the process");
    }

    /// SIGKILL: no graceful anything. Waits until Slack has seen the socket go.
    pub async fn kill(mut self, world: &World) {
        self.child.kill().await.expect("kill -9");
        world
            .emu
            .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
            .await
            .expect("the socket closes with the process");
    }
}

/// How a [`BotProcess`] is held for a storage fault, without mounting anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confined {
    No,
    /// File permissions bind it even when the tests run as root: the capabilities that
    /// override them are dropped from its bounding set before `exec`, so a read-only file
    /// or directory is read-only to it. (For another user they bind anyway.)
    ObeysFilePermissions,
    /// A write past its file size limit ([`BotProcess::limit_file_size`]) fails instead of
    /// killing it (SIGXFSZ ignored), as a write to a full disk fails.
    SurvivesFileSizeLimit,
}

impl Confined {
    fn apply(self, cmd: &mut tokio::process::Command) {
        // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER (linux/capability.h).
        const OVERRIDE_PERMISSIONS: [libc::c_ulong; 3] = [1, 2, 3];
        match self {
            Confined::No => {}
            Confined::ObeysFilePermissions => {
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        for cap in OVERRIDE_PERMISSIONS {
                            // Fails without CAP_SETPCAP, i.e. when not root: then file
                            // permissions bind already.
                            let _ = libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
                        }
                        Ok(())
                    });
                }
            }
            Confined::SurvivesFileSizeLimit => {
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                        Ok(())
                    });
                }
            }
        }
    }
}
