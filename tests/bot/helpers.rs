//! Spawning a bot against a fresh emulator and database, and waiting on what it does.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use warroom::app::App;
use warroom::clock::SystemClock;
use warroom::demo::{bot_scopes, config_for_emulator};
use warroom::domain::{IncidentRecord, TimelineEntry};
use warroom::slack::render::plain_text;
use warroom::slack_emulator::{EmulatorConfig, Message, SlackEmulator};
use warroom::store::Store;

/// Upper bound for any single awaited effect; generous for a loaded 2-core CI machine.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// PostgreSQL: a killed bot's lease lapses this long after its last renewal; then the
/// restarted one leads. Short, so a restart test does not wait 15 s.
pub const TEST_FAILOVER: Duration = Duration::from_secs(2);

/// A fresh database on this test binary's throwaway PostgreSQL cluster.
pub async fn postgres_database() -> String {
    let cluster = tokio::task::spawn_blocking(warroom::pg_cluster::Cluster::shared)
        .await
        .expect("the cluster starts");
    cluster.fresh_database().await.expect("a fresh database")
}

/// Durability tests on both backends: for each `async fn name(world: World)`, a module
/// `name` with a `sqlite` test (a SQLite file) and a `postgres` test (the throwaway
/// cluster).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::helpers::World::new().await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(crate::helpers::World::on_postgres().await).await
            }
        }
    )* };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

pub const ALICE: &str = "U0ALICE";
pub const BOB: &str = "U0BOB";
pub const CAROL: &str = "U0CAROL";
pub const DAVE: &str = "U0DAVE";

/// An emulated workspace (alice, bob, carol, dave; #ops with alice and bob) and a database.
pub struct World {
    pub emu: SlackEmulator,
    pub ops: String,
    pub dir: tempfile::TempDir,
    pub db_url: String,
}

impl World {
    pub async fn new() -> World {
        Self::with_config(EmulatorConfig {
            scopes: bot_scopes(),
            ..EmulatorConfig::default()
        })
        .await
    }

    pub async fn with_config(config: EmulatorConfig) -> World {
        // RUST_LOG=warroom=debug shows the bot's logs for a failing test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let emu = SlackEmulator::start(config).await.expect("emulator starts");
        for (id, name) in [
            (ALICE, "alice"),
            (BOB, "bob"),
            (CAROL, "carol"),
            (DAVE, "dave"),
        ] {
            emu.add_user(id, name);
        }
        let ops = emu.create_channel(ALICE, "ops");
        emu.join_channel(&ops, BOB);
        let dir = tempfile::tempdir().expect("temp dir");
        let db_url = format!("sqlite://{}", dir.path().join("warroom.db").display());
        World {
            emu,
            ops,
            dir,
            db_url,
        }
    }

    /// The same world on a fresh database of this test binary's throwaway PostgreSQL
    /// cluster (`warroom::pg_cluster`) instead of a SQLite file.
    pub async fn on_postgres() -> World {
        let mut world = World::new().await;
        world.db_url = postgres_database().await;
        world
    }

    /// Start the bot in-process (responders: bob and carol) and wait for its connection.
    pub async fn start_bot(&self) -> App {
        let (mut config, secrets) =
            config_for_emulator(&self.emu, &self.db_url, &[BOB, CAROL]).unwrap();
        config.database.failover_after = TEST_FAILOVER;
        let app = App::build(config, secrets, Arc::new(SystemClock))
            .await
            .expect("bot starts");
        self.emu
            .wait_for_connections(1, DEADLINE)
            .await
            .expect("bot connects");
        app
    }

    /// Start the bot with a hand-moved clock and config changes (responders: bob and carol).
    pub async fn start_bot_with(
        &self,
        clock: warroom::clock::SharedClock,
        tweak: impl FnOnce(&mut warroom::config::Config),
    ) -> App {
        let (mut config, secrets) =
            config_for_emulator(&self.emu, &self.db_url, &[BOB, CAROL]).unwrap();
        config.database.failover_after = TEST_FAILOVER;
        tweak(&mut config);
        let before = self.emu.connection_count();
        let app = App::build(config, secrets, clock)
            .await
            .expect("bot starts");
        self.emu
            .wait_for_connections(before + 1, DEADLINE)
            .await
            .expect("bot connects");
        app
    }

    /// A channel the bot is in (e.g. the status channel); returns its id.
    pub fn bot_channel(&self, name: &str) -> String {
        let id = self.emu.create_channel(ALICE, name);
        self.emu
            .join_channel(&id, &self.emu.config().bot_user_id.clone());
        id
    }

    /// A second handle on the bot's database, for assertions.
    pub async fn store(&self) -> Store {
        Store::open(&self.db_url).await.expect("database opens")
    }

    /// Run `/incident <text>` and return the text shown to the caller in the ack, if any.
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> Option<String> {
        let outcome = self
            .emu
            .slash_command(user, channel, text)
            .await
            .expect("command acked");
        outcome
            .payload()
            .and_then(|p| p.get("text"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    }

    /// Declare from #ops and wait for the channel with its pinned header; returns its id.
    pub async fn declare(&self, user: &str, text: &str) -> String {
        let before: Vec<String> = self.emu.channels().into_iter().map(|c| c.id).collect();
        let reply = self
            .command(user, &self.ops, &format!("declare {text}"))
            .await;
        assert_eq!(reply, None, "declare was refused");
        let bot = self.emu.config().bot_user_id.clone();
        self.emu
            .wait_until(DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .filter(|c| c.name.starts_with("inc-") && !before.contains(&c.id))
                    .find(|c| {
                        ws.messages
                            .get(&c.id)
                            .is_some_and(|m| m.iter().any(|m| m.user == bot && m.pinned))
                    })
                    .map(|c| c.id.clone())
            })
            .await
            .expect("incident channel with a pinned header")
    }

    /// Wait until the bot has posted at least `n` messages in `channel`; returns them.
    pub async fn bot_messages(&self, channel: &str, n: usize) -> Vec<Message> {
        let bot = self.emu.config().bot_user_id.clone();
        let ch = channel.to_string();
        self.emu
            .wait_until(DEADLINE, |ws| {
                let mine: Vec<Message> = ws
                    .messages
                    .get(&ch)
                    .map(|m| m.iter().filter(|m| m.user == bot).cloned().collect())
                    .unwrap_or_default();
                (mine.len() >= n).then_some(mine)
            })
            .await
            .unwrap_or_else(|e| panic!("waiting for {n} bot messages: {e}"))
    }

    /// The pinned header message of an incident channel.
    pub fn header(&self, channel: &str) -> Message {
        self.emu
            .messages(channel)
            .into_iter()
            .find(|m| m.pinned && m.bot_id.is_some())
            .expect("a pinned header")
    }

    /// Wait until the pinned header (as a person reads it) contains every one of `words`.
    pub async fn wait_header(&self, channel: &str, words: &[&str]) -> String {
        let ch = channel.to_string();
        self.emu
            .wait_until(DEADLINE, |ws| {
                let h = ws
                    .messages
                    .get(&ch)?
                    .iter()
                    .find(|m| m.pinned && m.bot_id.is_some())?;
                let shown = warroom::slack::render::plain_text(&h.text, h.blocks.as_ref());
                words.iter().all(|w| shown.contains(w)).then_some(shown)
            })
            .await
            .unwrap_or_else(|e| panic!("header never showed {words:?}: {e}"))
    }

    /// The text (ack or response_url) shown privately to `user` most recently, after `skip`.
    pub async fn ephemeral_after(&self, user: &str, skip: usize) -> String {
        let u = user.to_string();
        self.emu
            .wait_until(DEADLINE, |ws| {
                ws.ephemerals
                    .iter()
                    .filter(|e| e.user == u)
                    .nth(skip)
                    .map(|e| e.text.clone())
            })
            .await
            .expect("an ephemeral reply")
    }

    pub fn ephemeral_count(&self, user: &str) -> usize {
        self.emu.ephemerals(user).len()
    }
}

pub async fn incident_in(store: &Store, channel: &str) -> IncidentRecord {
    warroom::store::incidents::by_channel(store.db(), channel)
        .await
        .unwrap()
        .expect("an incident for the channel")
}

/// Poll the database (a condition with a deadline) until `f` holds for the incident's timeline.
pub async fn wait_timeline(
    store: &Store,
    channel: &str,
    what: &str,
    mut f: impl FnMut(&[TimelineEntry]) -> bool,
) -> Vec<TimelineEntry> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(r) = warroom::store::incidents::by_channel(store.db(), channel)
            .await
            .unwrap()
        {
            let entries = warroom::store::timeline::of_incident(store.db(), r.incident.id)
                .await
                .unwrap();
            if f(&entries) {
                return entries;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timeline never showed {what}: {entries:#?}");
            }
        } else if tokio::time::Instant::now() > deadline {
            panic!("no incident for {channel} while waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until the outbox has nothing left to deliver (every row posted or given up on).
///
/// Notices, nudges, summaries and mirrored AWS replies are committed to the outbox and posted
/// later by the scheduler. A check that something was *not* posted is only meaningful once
/// whatever the bot committed so far has been delivered: call this first.
pub async fn wait_outbox_drained(store: &Store) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let pending = warroom::store::outbox::pending(store.db(), 100)
            .await
            .unwrap();
        if pending.is_empty() {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("the outbox never drained: {pending:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The real `warroom` binary, run with a config file against the emulator.
pub struct BotProcess {
    child: tokio::process::Child,
}

impl BotProcess {
    pub async fn start(world: &World) -> BotProcess {
        Self::start_with(world, "", &[]).await
    }

    /// Start with `extra` appended to the config file (more TOML sections) and `env` set
    /// for the process (e.g. AWS credentials for the default chain).
    pub async fn start_with(world: &World, extra: &str, env: &[(&str, &str)]) -> BotProcess {
        let config_path: PathBuf = world.dir.path().join("warroom.toml");
        let text = format!(
            "[slack]\napi_url = \"{}\"\nresponders = [\"{BOB}\", \"{CAROL}\"]\nproactive_rate_limits = false\nsocket_connections = 1\n[database]\nurl = \"{}\"\nfailover_after = \"{}\"\n{extra}",
            world.emu.api_url(),
            world.db_url,
            humantime::format_duration(TEST_FAILOVER)
        );
        std::fs::write(&config_path, text).unwrap();
        let before = world.emu.workspace().envelopes.len();
        let _ = before;
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
            .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("warroom binary starts");
        BotProcess { child }
    }

    /// The process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// SIGKILL: no graceful anything.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill -9");
    }
}

/// What a message shows a person: its text and blocks as plain text.
pub fn shown(m: &Message) -> String {
    plain_text(&m.text, m.blocks.as_ref())
}

/// Wait for a message of the bot's in `channel` that shows `needle`.
pub async fn bot_post(world: &World, channel: &str, needle: &str) -> Message {
    let bot = world.emu.config().bot_user_id.clone();
    let ch = channel.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&ch)?
                .iter()
                .find(|m| m.user == bot && shown(m).contains(needle))
                .cloned()
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for warroom to say {needle:?}: {e}"))
}
