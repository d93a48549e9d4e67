//! An emulated Slack workspace with people in it, a database, and the bot in-process; what a
//! test does there (declare, run a command) and waits on (a channel, a post, the header, the
//! timeline, the outbox).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use warroom::app::App;
use warroom::aws::AwsAccess;
use warroom::clock::{ManualClock, SharedClock, SystemClock};
use warroom::config::{Config, Secrets};
use warroom::demo::{bot_scopes, config_for_emulator};
use warroom::domain::{EntryKind, IncidentRecord, TimelineEntry};
use warroom::slack::render::plain_text;
use warroom::slack_emulator::{EmulatorConfig, Message, SlackEmulator};
use warroom::store::Store;

use super::wait::{wait_until_ok, Seen};
use crate::helpers::DEADLINE;

/// PostgreSQL: a killed bot's lease lapses this long after its last renewal; then the
/// restarted one leads. Short, so a restart test does not wait 15 s.
pub const TEST_FAILOVER: Duration = Duration::from_secs(2);

pub const ALICE: &str = "U0ALICE";
pub const BOB: &str = "U0BOB";
pub const CAROL: &str = "U0CAROL";
pub const DAVE: &str = "U0DAVE";

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
pub(crate) use on_both_backends;

/// An emulated workspace (alice, bob, carol, dave; #ops with alice and bob) and a database.
pub struct World {
    pub emu: SlackEmulator,
    /// #ops, where incidents are declared.
    pub ops: String,
    /// Holds the SQLite file (unless it was put elsewhere), config files and logs.
    pub dir: tempfile::TempDir,
    /// The SQLite file, for read-only looks beside the running bot.
    pub db_path: PathBuf,
    pub db_url: String,
}

/// What [`World::launch`] waits for once the bot is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// At least one live Socket Mode connection.
    AtLeastOne,
    /// One live connection more than before the start (a second bot beside a first).
    OneMore,
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
        Self::with_config_in(config, None).await
    }

    /// `db_dir` puts the SQLite file in a directory of its own (default: [`World::dir`]).
    pub async fn with_config_in(config: EmulatorConfig, db_dir: Option<&Path>) -> World {
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
        let db_path = db_dir.unwrap_or(dir.path()).join("warroom.db");
        let db_url = format!("sqlite://{}", db_path.display());
        World {
            emu,
            ops,
            dir,
            db_path,
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

    /// The bot's config for this world: the emulator, the database, responders bob and
    /// carol.
    pub fn bot_config(&self) -> (Config, Secrets) {
        config_for_emulator(&self.emu, &self.db_url, &[BOB, CAROL]).expect("config")
    }

    /// Build the bot in-process on `clock` (AWS through `aws`, when given) and wait until
    /// Slack sees its connection.
    pub async fn launch(
        &self,
        config: Config,
        secrets: Secrets,
        clock: SharedClock,
        aws: Option<AwsAccess>,
        connect: Connect,
    ) -> App {
        let live = match connect {
            Connect::AtLeastOne => 1,
            Connect::OneMore => self.emu.connection_count() + 1,
        };
        let app = match aws {
            Some(access) => App::build_with_aws(config, secrets, clock, access).await,
            None => App::build(config, secrets, clock).await,
        }
        .expect("bot starts");
        self.emu
            .wait_for_connections(live, DEADLINE)
            .await
            .expect("bot connects");
        app
    }

    /// Start the bot in-process (responders: bob and carol) and wait for its connection.
    pub async fn start_bot(&self) -> App {
        let (mut config, secrets) = self.bot_config();
        config.database.failover_after = TEST_FAILOVER;
        self.launch(
            config,
            secrets,
            Arc::new(SystemClock),
            None,
            Connect::AtLeastOne,
        )
        .await
    }

    /// Start the bot with a hand-moved clock and config changes (responders: bob and carol).
    pub async fn start_bot_with(&self, clock: SharedClock, tweak: impl FnOnce(&mut Config)) -> App {
        let (mut config, secrets) = self.bot_config();
        config.database.failover_after = TEST_FAILOVER;
        tweak(&mut config);
        self.launch(config, secrets, clock, None, Connect::OneMore)
            .await
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

    /// Declare from #ops and wait for the new channel with its pinned header; returns its id.
    pub async fn declare(&self, user: &str, text: &str) -> String {
        let before: Vec<String> = self.emu.channels().into_iter().map(|c| c.id).collect();
        let reply = self
            .command(user, &self.ops, &format!("declare {text}"))
            .await;
        assert_eq!(reply, None, "declare was refused");
        self.wait_war_room(&before).await
    }

    /// Wait for an `inc-` channel not in `known` with the bot's pinned header.
    pub async fn wait_war_room(&self, known: &[String]) -> String {
        let bot = self.emu.config().bot_user_id.clone();
        self.emu
            .wait_until(DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .filter(|c| c.name.starts_with("inc-") && !known.contains(&c.id))
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

    /// Every `inc-` channel.
    pub fn inc_channels(&self) -> Vec<String> {
        self.emu
            .channels()
            .into_iter()
            .filter(|c| c.name.starts_with("inc-"))
            .map(|c| c.id)
            .collect()
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
                let shown = plain_text(&h.text, h.blocks.as_ref());
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

    /// Wait until the envelope carrying the message `ts` has been acked.
    pub async fn wait_acked(&self, ts: &str) {
        self.emu
            .wait_until(DEADLINE, |ws| {
                ws.envelopes
                    .iter()
                    .any(|e| {
                        e.payload.pointer("/event/ts").and_then(|t| t.as_str()) == Some(ts)
                            && e.acked_at.is_some()
                    })
                    .then_some(())
            })
            .await
            .unwrap_or_else(|e| panic!("message {ts} never acked: {e}"));
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
        .unwrap_or_else(|e| {
            let seen: Vec<String> = world.emu.messages(channel).iter().map(shown).collect();
            panic!("waiting for warroom to say {needle:?}: {e}; the channel has {seen:#?}")
        })
}

/// The bot's messages in `channel` that show `needle`.
pub fn bot_posts(world: &World, channel: &str, needle: &str) -> Vec<Message> {
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .messages(channel)
        .into_iter()
        .filter(|m| m.user == bot && shown(m).contains(needle))
        .collect()
}

/// How many messages the bot has in `channel`.
pub fn bot_count(world: &World, channel: &str) -> usize {
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .messages(channel)
        .iter()
        .filter(|m| m.user == bot)
        .count()
}

/// Wait until at least `n` bot messages in `channel` show `needle`; returns them.
pub async fn wait_posts(world: &World, channel: &str, needle: &str, n: usize) -> Vec<Message> {
    wait_posts_within(world, channel, needle, n, DEADLINE).await
}

/// [`wait_posts`] with a deadline of its own.
pub async fn wait_posts_within(
    world: &World,
    channel: &str,
    needle: &str,
    n: usize,
    deadline: Duration,
) -> Vec<Message> {
    let bot = world.emu.config().bot_user_id.clone();
    let ch = channel.to_string();
    world
        .emu
        .wait_until(deadline, |ws| {
            let found: Vec<Message> = ws
                .messages
                .get(&ch)?
                .iter()
                .filter(|m| m.user == bot && shown(m).contains(needle))
                .cloned()
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} posts with {needle:?} in {channel}: {e}"))
}

/// Wait until there are at least `n` `inc-` channels; returns every one.
pub async fn wait_channels(world: &World, n: usize) -> Vec<String> {
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let ids: Vec<String> = ws
                .channels
                .iter()
                .filter(|c| c.name.starts_with("inc-"))
                .map(|c| c.id.clone())
                .collect();
            (ids.len() >= n).then_some(ids)
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} incident channels: {e}"))
}

/// Wait for the first `inc-` channel.
pub async fn wait_one_channel(world: &World) -> String {
    wait_channels(world, 1).await.remove(0)
}

/// Stop the in-process bot, close its sockets, and wait until Slack has seen them go.
pub async fn stop(world: &World, app: App) {
    app.stop().await.expect("bot stops");
    world.emu.drop_connections();
    world
        .emu
        .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
        .await
        .expect("the bot's connections are gone");
}

/// A hand-moved clock at the start of this minute, so Slack's own timestamps and the bot's
/// clock agree.
pub fn whole_minute_clock() -> ManualClock {
    clock_at_whole(60)
}

/// A hand-moved clock at the start of this hour (due times are easy to read).
pub fn whole_hour_clock() -> ManualClock {
    clock_at_whole(3600)
}

fn clock_at_whole(seconds: i64) -> ManualClock {
    let now = Utc::now().timestamp();
    ManualClock::new(
        Utc.timestamp_opt(now - now % seconds, 0)
            .single()
            .expect("a valid time"),
    )
}

/// How many entries of `kind` the incident's timeline has.
pub async fn count_kind(store: &Store, channel: &str, kind: EntryKind) -> usize {
    let r = incident_in(store, channel).await;
    warroom::store::timeline::of_incident(store.db(), r.incident.id)
        .await
        .expect("timeline readable")
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

pub async fn incident_in(store: &Store, channel: &str) -> IncidentRecord {
    warroom::store::incidents::by_channel(store.db(), channel)
        .await
        .expect("database readable")
        .expect("an incident for the channel")
}

/// Poll the database until `f` holds for the incident's record: a command is acked before
/// the worker applies it.
pub async fn wait_incident(
    store: &Store,
    channel: &str,
    what: &str,
    mut f: impl FnMut(&IncidentRecord) -> bool,
) -> IncidentRecord {
    wait_until_ok(
        DEADLINE,
        &format!("the incident to show {what}"),
        async || {
            let record = incident_in(store, channel).await;
            if f(&record) {
                Ok(record)
            } else {
                Err(record)
            }
        },
    )
    .await
}

/// Poll the database until `f` holds for the incident's timeline. A read that fails (a
/// database under fault injection) is tried again.
pub async fn wait_timeline(
    store: &Store,
    channel: &str,
    what: &str,
    mut f: impl FnMut(&[TimelineEntry]) -> bool,
) -> Vec<TimelineEntry> {
    wait_until_ok(
        DEADLINE,
        &format!("the timeline to show {what}"),
        async || {
            let record = match warroom::store::incidents::by_channel(store.db(), channel).await {
                Ok(Some(record)) => record,
                Ok(None) => return Err(Seen(format!("no incident for {channel}"))),
                Err(e) => return Err(Seen(format!("{e:#}"))),
            };
            match warroom::store::timeline::of_incident(store.db(), record.incident.id).await {
                Ok(entries) if f(&entries) => Ok(entries),
                Ok(entries) => Err(Seen(format!("{entries:#?}"))),
                Err(e) => Err(Seen(format!("{e:#}"))),
            }
        },
    )
    .await
}

/// Wait until the outbox has nothing left to deliver (every row posted or given up on).
///
/// Notices, nudges, summaries and mirrored AWS replies are committed to the outbox and posted
/// later by the scheduler. A check that something was *not* posted is only meaningful once
/// whatever the bot committed so far has been delivered: call this first.
pub async fn wait_outbox_drained(store: &Store) {
    wait_until_ok(DEADLINE, "the outbox to drain", async || {
        let pending = warroom::store::outbox::pending(store.db(), 100)
            .await
            .expect("outbox readable");
        if pending.is_empty() {
            Ok(())
        } else {
            Err(pending)
        }
    })
    .await
}
