//! The load driver behind BENCHMARKS.md: runs a bot as a separate process (the release
//! `warroom` binary, or the Bolt-for-Python peer in `benches/peer/`) against the in-crate
//! Slack emulator, which lives in this process, and measures what the emulator sees.
//!
//! ```sh
//! cargo build --release --features bench --bins --examples && benches/peer/setup.sh
//! target/release/examples/load all --runs 3
//! ```
//!
//! Scenarios (`load <scenario>... [options]`, `load --help`):
//! - `ack`: figure 1. People post `--events` messages at `--rate` per second into an incident
//!   channel, with `--commands` `/incident note …` slash commands spread among them. Ack
//!   latency per envelope is the emulator's `acked_at - delivered_at` (envelope handed to the
//!   connection → ack frame read), for the people's messages and the slash commands.
//! - `ingest`: figure 2. `--ingest-events` messages pushed as fast as the bot acks them, with
//!   at most `--window` envelopes unacked (as Slack limits what it has in flight to one
//!   app), then the time until every one is a row in the bot's SQLite file (polled with a
//!   read-only connection); the ack latency of those envelopes is "ack under load". Raw
//!   SQLite insert rate of the same schema and settings measured right after in the same
//!   run. warroom with each of `--connections`; the peer with one connection.
//! - `serial`: `--serial-events` messages one at a time (each posted once the previous one
//!   is acked): the ack latency of a bot with nothing else to do.
//! - `feed`: the in-process figure. warroom built into this process (`App::build`), its
//!   Socket Mode pointed at a bare feeder here that sends `--ingest-events` ready-made
//!   message envelopes with at most `--window` unacked (the emulator serves the Web API
//!   only): what the bot's own ingest path does once the emulator's cost is out of the way.
//! - `memory`: figure 5. Peak RSS (`VmHWM`) idle, after `ack`+`ingest`, and for warroom with
//!   1,000 open incidents and 1,000,000 timeline rows (filled straight into its schema);
//!   and figure 8's resident memory (`VmRSS`, file-backed and anonymous) of an idle bot 10 s
//!   after it connected.
//! - `startup`: figure 6. Process spawn → Socket Mode connected (the emulator sees the
//!   WebSocket), fresh and with the big database; binary size.
//! - `peer`: figure 7. `ack` + `ingest` + `serial` + RSS for warroom and Bolt in one run, as
//!   ratios.
//! - `kill`: durability under load. `--kills` times per run, warroom (the release binary)
//!   gets SIGKILL at a random moment 0.1–1 s into an ingest burst (window `--window`); every
//!   envelope Slack saw acked before the socket went must then be in the bot's inbox (read
//!   straight from its SQLite file before the restart). Acked events lost: must be 0.
//! - `alarm`, `storm`: figure 3, against the in-memory AWS fake as well ([`alarm`]).
//! - `pg`, `failover`: figure 9, PostgreSQL next to SQLite and failover time with two
//!   replicas, on a throwaway cluster ([`replicas`]).
//! - `queue`, `queue-storm`: figure 10, alarms pushed through EventBridge → SQS (`[events]`)
//!   with the poller off, on moto_server ([`queue`]).
//! - `all`: everything above but `pg`, `failover`, `queue` and `queue-storm` (they need
//!   PostgreSQL or moto).
//!
//! `--bots null` adds a bot that acks every envelope at once and does nothing else: the
//! floor of the apparatus (emulator, loopback, scheduling), to read the other latencies against.
//!
//! Every scenario runs `--runs` times; the summary prints each figure's median over runs
//! (and the spread), and `--json FILE` keeps every run's numbers.

#[path = "../benches/support/raw_sqlite.rs"]
mod raw_sqlite;

#[path = "load/alarm.rs"]
mod alarm;
#[path = "load/queue.rs"]
mod queue;
#[path = "load/replicas.rs"]
mod replicas;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Parser, ValueEnum};
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use warroom::slack_emulator::{EmulatorConfig, EnvelopeKind, EnvelopeRecord, SlackEmulator};
use warroom::store::Store;

const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const DEADLINE: Duration = Duration::from_secs(120);

#[derive(Parser, Debug, Clone)]
#[command(about = "Load driver for warroom's benchmarks (see BENCHMARKS.md)")]
struct Args {
    /// What to measure.
    #[arg(value_enum, required_unless_present = "null_bot")]
    scenarios: Vec<Scenario>,
    /// Internal: run as the null bot against this Web API base URL.
    #[arg(long, hide = true)]
    null_bot: Option<String>,
    /// Repetitions of every scenario.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Message events in the ack-latency scenario.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Slash commands in the ack-latency scenario (spread among the messages).
    #[arg(long, default_value_t = 1_000)]
    commands: usize,
    /// Offered message rate (per second) in the ack-latency scenario.
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Message events per ingest run.
    #[arg(long, default_value_t = 20_000)]
    ingest_events: usize,
    /// Ingest flow control: most envelopes delivered but not yet acked at any time.
    #[arg(long, default_value_t = 64)]
    window: u64,
    /// Message events posted one at a time (`serial`).
    #[arg(long, default_value_t = 1_000)]
    serial_events: usize,
    /// SIGKILLs per run of the `kill` scenario, and of the leader in the `failover` one
    /// (BENCHMARKS.md's failover figures were taken with `--kills 20`).
    #[arg(long, default_value_t = 10)]
    kills: usize,
    /// Socket Mode connection counts to run warroom's ingest with.
    #[arg(long, value_delimiter = ',', default_values_t = [1u32, 4])]
    connections: Vec<u32>,
    /// Bots to run (`ack`, `ingest`, `memory` idle); `peer` adds warroom and bolt.
    #[arg(long, value_delimiter = ',', default_values_t = [Bot::Warroom])]
    bots: Vec<Bot>,
    /// Start-ups timed per run.
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Alarms per run of the alarm → war room scenario (one at a time, about 2.5 s each).
    #[arg(long, default_value_t = 60)]
    alarms: usize,
    /// Alarms that go to ALARM at once in the storm scenario.
    #[arg(long, default_value_t = 1_000)]
    storm_alarms: usize,
    /// Routes the storm's alarms are spread over (one incident, one channel each).
    #[arg(long, default_value_t = 50)]
    storm_routes: usize,
    /// The warroom binary (default: `warroom` next to this example's folder).
    #[arg(long)]
    warroom_bin: Option<PathBuf>,
    /// The peer's Python (default: target/bolt-peer-venv/bin/python, from benches/peer/setup.sh).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Write every run's numbers here (JSON).
    #[arg(long)]
    json: Option<PathBuf>,
    /// `[database] failover_after` of the PostgreSQL scenarios, in seconds.
    #[arg(long, default_value_t = 15)]
    failover_after: u64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Ack,
    Ingest,
    Serial,
    Feed,
    Kill,
    Memory,
    Startup,
    Peer,
    Alarm,
    Storm,
    /// Figures 1 and 2 with the bot on PostgreSQL ([`replicas`]).
    Pg,
    /// Failover time with two replicas on PostgreSQL ([`replicas`]).
    Failover,
    /// Alarm → war room through the `[events]` SQS queue, one at a time ([`queue`]).
    Queue,
    /// The alarm storm through the `[events]` SQS queue ([`queue`]).
    QueueStorm,
    All,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bot {
    Warroom,
    /// warroom built into this process (`App::build`) beside the emulator: the in-process
    /// figures, without the process boundary.
    #[value(name = "warroom-inproc")]
    WarroomInproc,
    Bolt,
    /// Acks every envelope at once and does nothing else: the floor of the apparatus
    /// (emulator, loopback, scheduling on this machine), not a bot.
    Null,
}

impl std::fmt::Display for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bot::Warroom => "warroom",
            Bot::WarroomInproc => "warroom-inproc",
            Bot::Bolt => "bolt",
            Bot::Null => "null",
        })
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Args {
    fn warroom_bin(&self) -> anyhow::Result<PathBuf> {
        if let Some(p) = &self.warroom_bin {
            return Ok(p.clone());
        }
        let exe = std::env::current_exe().context("locating this example")?;
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| anyhow!("cannot find the target folder from {}", exe.display()))?;
        Ok(dir.join("warroom"))
    }

    fn python(&self) -> PathBuf {
        self.python
            .clone()
            .unwrap_or_else(|| repo_root().join("target/bolt-peer-venv/bin/python"))
    }
}

// --- numbers ---

/// Every figure of every run, keyed by figure name.
#[derive(Default)]
struct Results {
    runs: BTreeMap<String, Vec<f64>>,
    units: BTreeMap<String, &'static str>,
}

impl Results {
    fn add(&mut self, name: &str, unit: &'static str, v: f64) {
        println!("  {name} = {v:.3} {unit}");
        self.runs.entry(name.to_string()).or_default().push(v);
        self.units.insert(name.to_string(), unit);
    }

    /// Every figure with its unit and runs, emptying these results.
    fn take(&mut self) -> Vec<(String, (&'static str, Vec<f64>))> {
        let runs = std::mem::take(&mut self.runs);
        runs.into_iter()
            .map(|(k, v)| {
                let unit = self.units.remove(&k).unwrap_or("");
                (k, (unit, v))
            })
            .collect()
    }

    fn median(&self, name: &str) -> Option<f64> {
        self.runs.get(name).map(|v| percentile(v, 50.0))
    }

    fn print_summary(&self) {
        println!("\n| figure | unit | median | min | max | runs |");
        println!("| --- | --- | ---: | ---: | ---: | ---: |");
        for (name, v) in &self.runs {
            let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            println!(
                "| {name} | {} | {:.3} | {min:.3} | {max:.3} | {} |",
                self.units[name],
                percentile(v, 50.0),
                v.len()
            );
        }
    }

    fn to_json(&self) -> Value {
        let figures: BTreeMap<_, _> = self
            .runs
            .iter()
            .map(|(k, v)| (k.clone(), json!({"unit": self.units[k], "runs": v})))
            .collect();
        json!(figures)
    }
}

/// Nearest-rank percentile of unsorted values.
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

// --- process figures ---

/// `VmHWM` (peak) and `VmRSS` of a process, in MiB. With `LOAD_MEMORY_DIR` set, the
/// process's `status`, `smaps_rollup` and `smaps` are copied there too (as
/// `<label>-<pid>.*`), for `benches/memory_map.py`.
fn rss_mib(pid: u32, label: &str) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    if let Some(dir) = std::env::var_os("LOAD_MEMORY_DIR") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        for file in ["status", "smaps_rollup", "smaps"] {
            let text = std::fs::read_to_string(format!("/proc/{pid}/{file}"))?;
            std::fs::write(dir.join(format!("{label}-{pid}.{file}")), text)?;
        }
    }
    Ok((
        status_mib(&status, "VmHWM:")?,
        status_mib(&status, "VmRSS:")?,
    ))
}

/// One `kB` field of a `/proc/PID/status` text (`VmRSS:`, `RssFile:`, …), in MiB.
fn status_mib(status: &str, name: &str) -> anyhow::Result<f64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .ok_or_else(|| anyhow!("{name} missing"))?;
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow!("{name} empty"))?
        .parse()?;
    Ok(kb / 1024.0)
}

/// Forget which pages the process touched (`/proc/PID/clear_refs`), so that
/// [`referenced_mib`] later counts only what it touches from now on.
fn clear_refs(pid: u32) -> anyhow::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "1")
        .with_context(|| format!("clearing the referenced bits of {pid}"))
}

/// Resident pages the process touched since [`clear_refs`] (the sum of `Referenced:` over
/// its mappings), in MiB: its working set over that interval, code and data.
fn referenced_mib(pid: u32) -> anyhow::Result<f64> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
    let kib: u64 = smaps
        .lines()
        .filter_map(|l| l.strip_prefix("Referenced:"))
        .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Ok(kib as f64 / 1024.0)
}

/// User + system CPU seconds a process has used.
fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("odd /proc stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    Ok(ticks / 100.0) // USER_HZ is 100 on Linux
}

// --- the world: an emulator with people, a bot process, an incident channel ---

struct World {
    emu: SlackEmulator,
    ops: String,
    dir: tempfile::TempDir,
}

impl World {
    async fn new() -> anyhow::Result<World> {
        let emu = SlackEmulator::start(EmulatorConfig {
            scopes: warroom::demo::bot_scopes(),
            ..EmulatorConfig::default()
        })
        .await?;
        emu.add_user(ALICE, "alice");
        emu.add_user(BOB, "bob");
        let ops = emu.create_channel(ALICE, "ops");
        emu.join_channel(&ops, BOB);
        Ok(World {
            emu,
            ops,
            dir: tempfile::tempdir()?,
        })
    }

    fn db_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A bot process under test.
struct BotProc {
    bot: Bot,
    /// The bot's process, or the app itself when it runs in this process.
    child: Running,
    pid: u32,
    db: PathBuf,
    /// The incident channel the load goes to.
    channel: String,
    /// How long from spawn until the emulator saw the connection(s).
    connected_after: Duration,
}

enum Running {
    Process(Child),
    InProcess(Box<warroom::app::App>),
}

impl BotProc {
    async fn stop(self, world: &World) -> anyhow::Result<()> {
        match self.child {
            Running::Process(mut child) => child.kill().await.context("killing the bot")?,
            Running::InProcess(app) => app.stop().await?,
        }
        world
            .emu
            .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
            .await?;
        Ok(())
    }
}

async fn spawn_warroom(
    args: &Args,
    world: &World,
    db: &Path,
    connections: u32,
) -> anyhow::Result<(Child, u32, Duration)> {
    let config_path = db.with_extension("toml");
    std::fs::write(
        &config_path,
        format!(
            "[slack]\napi_url = \"{}\"\nresponders = [\"{BOB}\"]\nproactive_rate_limits = false\n\
             socket_connections = {connections}\n[database]\nurl = \"sqlite://{}\"\n",
            world.emu.api_url(),
            db.display()
        ),
    )?;
    let bin = args.warroom_bin()?;
    let start = Instant::now();
    let child = Command::new(&bin)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
        // BOT_LOG=warroom=debug shows the bot's own logs on stderr.
        .env(
            "RUST_LOG",
            std::env::var("BOT_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (cargo build --release --features bench --bins --examples?)",
                bin.display()
            )
        })?;
    let pid = child.id().ok_or_else(|| anyhow!("bot exited at once"))?;
    world
        .emu
        .wait_for_connections(connections as usize, DEADLINE)
        .await?;
    Ok((child, pid, start.elapsed()))
}

/// Start warroom and declare the incident the load goes to (the real declare flow).
async fn start_warroom(
    args: &Args,
    world: &World,
    db_name: &str,
    connections: u32,
    in_process: bool,
) -> anyhow::Result<BotProc> {
    let db = world.db_path(db_name);
    let (child, pid, connected_after) = if in_process {
        let url = format!("sqlite://{}", db.display());
        let (mut config, secrets) = warroom::demo::config_for_emulator(&world.emu, &url, &[BOB])?;
        config.slack.socket_connections = connections;
        let start = Instant::now();
        let app = warroom::app::App::build(
            config,
            secrets,
            std::sync::Arc::new(warroom::clock::SystemClock),
        )
        .await?;
        world
            .emu
            .wait_for_connections(connections as usize, DEADLINE)
            .await?;
        (
            Running::InProcess(Box::new(app)),
            std::process::id(),
            start.elapsed(),
        )
    } else {
        let (child, pid, t) = spawn_warroom(args, world, &db, connections).await?;
        (Running::Process(child), pid, t)
    };
    let before: Vec<String> = world.emu.channels().into_iter().map(|c| c.id).collect();
    world
        .emu
        .slash_command(
            ALICE,
            &world.ops,
            &format!("declare Load test {db_name} sev2"),
        )
        .await?;
    let bot = world.emu.config().bot_user_id.clone();
    let channel = world
        .emu
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
        .await?;
    Ok(BotProc {
        bot: if in_process {
            Bot::WarroomInproc
        } else {
            Bot::Warroom
        },
        child,
        pid,
        db,
        channel,
        connected_after,
    })
}

/// Start the Bolt peer on a channel made for it (it has no declare flow).
async fn start_bolt(args: &Args, world: &World, db_name: &str) -> anyhow::Result<BotProc> {
    let db = world.db_path(db_name);
    let channel = world
        .emu
        .create_channel(ALICE, &format!("inc-bolt-{}", db_name.replace('.', "-")));
    world.emu.join_channel(&channel, BOB);
    world
        .emu
        .join_channel(&channel, &world.emu.config().bot_user_id);
    let python = args.python();
    let start = Instant::now();
    let child = Command::new(&python)
        .arg(repo_root().join("benches/peer/bolt_peer.py"))
        .env("SLACK_API_URL", world.emu.api_url())
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
        .env("BOLT_PEER_DB", &db)
        .env("BOLT_PEER_CHANNEL", &channel)
        .env(
            "WARROOM_MIGRATIONS",
            repo_root().join("migrations").join("sqlite"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} (benches/peer/setup.sh?)", python.display()))?;
    let pid = child.id().ok_or_else(|| anyhow!("peer exited at once"))?;
    world.emu.wait_for_connections(1, DEADLINE).await?;
    Ok(BotProc {
        bot: Bot::Bolt,
        child: Running::Process(child),
        pid,
        db,
        channel,
        connected_after: start.elapsed(),
    })
}

/// Start the null bot (this program in `--null-bot` mode) on a channel made for it.
async fn start_null(world: &World) -> anyhow::Result<BotProc> {
    let channel = world.emu.create_channel(ALICE, "inc-null");
    world.emu.join_channel(&channel, BOB);
    world
        .emu
        .join_channel(&channel, &world.emu.config().bot_user_id);
    let start = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .arg("--null-bot")
        .arg(world.emu.api_url())
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| anyhow!("null bot exited at once"))?;
    world.emu.wait_for_connections(1, DEADLINE).await?;
    Ok(BotProc {
        bot: Bot::Null,
        child: Running::Process(child),
        pid,
        db: world.db_path("none.db"),
        channel,
        connected_after: start.elapsed(),
    })
}

/// The null bot: `apps.connections.open`, then ack every envelope the moment it arrives.
async fn run_null_bot(api_url: &str) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let token = std::env::var("SLACK_APP_TOKEN").context("SLACK_APP_TOKEN")?;
    let open: Value = reqwest::Client::new()
        .post(format!("{api_url}apps.connections.open"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let url = open["url"]
        .as_str()
        .ok_or_else(|| anyhow!("apps.connections.open: {open}"))?;
    // NULL_BOT_NODELAY=1 turns Nagle's algorithm off, as websocket-client (the Bolt peer)
    // does; by default it stays on, as in slack-morphism's `connect_async`.
    let nodelay = std::env::var("NULL_BOT_NODELAY").is_ok_and(|v| v == "1");
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, nodelay).await?;
    let (mut tx, mut rx) = ws.split();
    while let Some(frame) = rx.next().await {
        if let Message::Text(text) = frame? {
            let v: Value = serde_json::from_str(text.as_str())?;
            if let Some(id) = v["envelope_id"].as_str() {
                tx.send(Message::Text(json!({"envelope_id": id}).to_string().into()))
                    .await?;
            }
        }
    }
    Ok(())
}

async fn start_bot(
    args: &Args,
    world: &World,
    bot: Bot,
    db_name: &str,
    connections: u32,
) -> anyhow::Result<BotProc> {
    match bot {
        Bot::Warroom => start_warroom(args, world, db_name, connections, false).await,
        Bot::WarroomInproc => start_warroom(args, world, db_name, connections, true).await,
        Bot::Bolt => start_bolt(args, world, db_name).await,
        Bot::Null => start_null(world).await,
    }
}

/// Rows in `table` with `id > after`, read through a fresh read-only connection.
fn count_after(db: &Path, table: &str, after: i64) -> anyhow::Result<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn.query_row(
        &format!("SELECT COUNT(*) FROM {table} WHERE id > ?1"),
        [after],
        |r| r.get(0),
    )?)
}

fn max_id(db: &Path, table: &str) -> anyhow::Result<i64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn.query_row(
        &format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
        [],
        |r| r.get(0),
    )?)
}

/// Poll (a condition with a deadline) until `table` has `n` rows after `after`.
async fn wait_rows(db: &Path, table: &str, after: i64, n: i64) -> anyhow::Result<Instant> {
    let until = Instant::now() + DEADLINE;
    loop {
        let got = count_after(db, table, after)?;
        if got >= n {
            return Ok(Instant::now());
        }
        if Instant::now() > until {
            bail!("{table}: {got} of {n} rows after {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn redeliveries(emu: &SlackEmulator) -> usize {
    emu.envelopes()
        .iter()
        .filter(|e| e.retry_attempt > 0)
        .count()
}

fn latency_us(e: &EnvelopeRecord) -> Option<f64> {
    let d = e.acked_at? - e.delivered_at?;
    d.num_microseconds().map(|us| us as f64)
}

/// An envelope carrying a message a person typed (not the bot's own posts echoed back).
fn is_person_message(e: &EnvelopeRecord, bot_user: &str) -> bool {
    let ev = &e.payload["event"];
    e.kind == EnvelopeKind::EventsApi
        && ev["type"] == "message"
        && ev.get("subtype").is_none()
        && ev.get("bot_id").is_none()
        && ev["user"].as_str().is_some_and(|u| u != bot_user)
}

// --- figure 1: ack latency ---

async fn ack_run(
    args: &Args,
    world: &World,
    bot: &BotProc,
    run: usize,
    res: &mut Results,
) -> anyhow::Result<()> {
    let emu = &world.emu;
    let bot_user = emu.config().bot_user_id.clone();
    let since = chrono::Utc::now();
    let every = (args.events / args.commands.max(1)).max(1);
    let mut commands = Vec::new();
    let start = tokio::time::Instant::now();
    let gap = Duration::from_secs_f64(1.0 / args.rate);
    for i in 0..args.events {
        tokio::time::sleep_until(start + gap.mul_f64(i as f64)).await;
        let who = if i % 2 == 0 { ALICE } else { BOB };
        emu.post_message(
            who,
            &bot.channel,
            &format!("run {run} message {i}: ALB 5xx still at 3%, checking RDS connections"),
            None,
        )?;
        if i % every == every - 1 && commands.len() < args.commands {
            let emu = emu.clone();
            let channel = bot.channel.clone();
            let text = format!("note run {run} command {i}: failover of the writer done");
            commands.push(tokio::spawn(async move {
                emu.slash_command(ALICE, &channel, &text).await
            }));
        }
    }
    let offered = start.elapsed();
    let mut failed = 0;
    for c in commands {
        if !matches!(c.await, Ok(Ok(_))) {
            failed += 1;
        }
    }
    // Every person's message acked (a condition with a deadline, checked every 50 ms).
    let until = Instant::now() + DEADLINE;
    let envelopes = loop {
        let envs: Vec<EnvelopeRecord> = emu
            .envelopes()
            .into_iter()
            .filter(|e| e.delivered_at.is_some_and(|t| t >= since))
            .collect();
        let msgs = envs.iter().filter(|e| is_person_message(e, &bot_user));
        let (n, acked) = msgs.fold((0, 0), |(n, a), e| {
            (n + 1, a + e.acked_at.is_some() as usize)
        });
        if n >= args.events && acked >= n {
            break envs;
        }
        if Instant::now() > until {
            bail!("{acked} of {n} message envelopes acked after {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let msg: Vec<f64> = envelopes
        .iter()
        .filter(|e| is_person_message(e, &bot_user) && e.retry_attempt == 0)
        .filter_map(latency_us)
        .collect();
    let cmd: Vec<f64> = envelopes
        .iter()
        .filter(|e| e.kind == EnvelopeKind::SlashCommands)
        .filter_map(latency_us)
        .collect();
    let all: Vec<f64> = msg.iter().chain(cmd.iter()).cloned().collect();
    let retries = envelopes.iter().filter(|e| e.retry_attempt > 0).count();
    let b = bot.bot;
    println!(
        "{b} ack run {run}: {} message envelopes, {} slash commands ({failed} failed), \
         {retries} redeliveries, offered in {:.2}s",
        msg.len(),
        cmd.len(),
        offered.as_secs_f64()
    );
    let ms = |v: f64| v / 1000.0;
    res.add(
        &format!("{b}.ack.all.p50"),
        "ms",
        ms(percentile(&all, 50.0)),
    );
    res.add(
        &format!("{b}.ack.all.p99"),
        "ms",
        ms(percentile(&all, 99.0)),
    );
    res.add(
        &format!("{b}.ack.all.max"),
        "ms",
        ms(percentile(&all, 100.0)),
    );
    res.add(
        &format!("{b}.ack.message.p50"),
        "ms",
        ms(percentile(&msg, 50.0)),
    );
    res.add(
        &format!("{b}.ack.message.p99"),
        "ms",
        ms(percentile(&msg, 99.0)),
    );
    res.add(
        &format!("{b}.ack.command.p50"),
        "ms",
        ms(percentile(&cmd, 50.0)),
    );
    res.add(
        &format!("{b}.ack.command.p99"),
        "ms",
        ms(percentile(&cmd, 99.0)),
    );
    res.add(&format!("{b}.ack.command.failed"), "count", failed as f64);
    res.add(&format!("{b}.ack.redeliveries"), "count", retries as f64);
    Ok(())
}

// --- figure 2: ingest ---

async fn ingest_run(
    args: &Args,
    world: &World,
    bot: &BotProc,
    label: &str,
    run: usize,
    res: &mut Results,
) -> anyhow::Result<()> {
    let n = args.ingest_events;
    let timeline_base = max_id(&bot.db, "timeline")?;
    let inbox_base = match bot.bot {
        Bot::Warroom | Bot::WarroomInproc => Some(max_id(&bot.db, "inbox")?),
        Bot::Bolt | Bot::Null => None,
    };
    let redeliveries_before = redeliveries(&world.emu);
    let since = chrono::Utc::now();
    let cpu_before = cpu_secs(bot.pid)?;
    let driver_cpu_before = cpu_secs(std::process::id())?;
    let start = Instant::now();
    // The working set is measured over the second half of the run (not for a bot inside
    // this process, whose pages are the emulator's too).
    let own_process = bot.pid == std::process::id();
    for i in 0..n {
        if i == n / 2 && !own_process {
            clear_refs(bot.pid)?;
        }
        // Flow control: at most `--window` envelopes unacked, as Slack never dumps tens of
        // thousands of events on one app at once; without it, events queued behind the first
        // ones pass the 3 s ack timeout and get redelivered.
        if world.emu.unacked_envelopes() >= args.window {
            world
                .emu
                .wait_unacked_at_most(args.window.saturating_sub(1), DEADLINE)
                .await
                .with_context(|| format!("{label}: stuck at {i} of {n} events"))?;
        }
        let who = if i % 2 == 0 { ALICE } else { BOB };
        world.emu.post_message(
            who,
            &bot.channel,
            &format!("ingest {run}/{i}: error rate back under 0.1% after the pool resize"),
            None,
        )?;
    }
    let pushed = start.elapsed();
    if !own_process {
        res.add(
            &format!("{label}.ingest.working_set"),
            "MiB",
            referenced_mib(bot.pid)?,
        );
    }
    let recorded = match inbox_base {
        Some(base) => Some(wait_rows(&bot.db, "inbox", base, n as i64).await?),
        None => None,
    };
    let visible = wait_rows(&bot.db, "timeline", timeline_base, n as i64).await?;
    let cpu = cpu_secs(bot.pid)? - cpu_before;
    let driver_cpu = cpu_secs(std::process::id())? - driver_cpu_before;
    let rate = n as f64 / (visible - start).as_secs_f64();
    let bot_user = world.emu.config().bot_user_id.clone();
    let latencies: Vec<f64> = world
        .emu
        .envelopes()
        .iter()
        .filter(|e| e.delivered_at.is_some_and(|t| t >= since))
        .filter(|e| is_person_message(e, &bot_user) && e.retry_attempt == 0)
        .filter_map(latency_us)
        .collect();
    res.add(
        &format!("{label}.ingest.ack_p50"),
        "ms",
        percentile(&latencies, 50.0) / 1000.0,
    );
    res.add(
        &format!("{label}.ingest.ack_p99"),
        "ms",
        percentile(&latencies, 99.0) / 1000.0,
    );
    res.add(
        &format!("{label}.ingest.redeliveries"),
        "count",
        (redeliveries(&world.emu) - redeliveries_before) as f64,
    );
    println!(
        "{label} ingest run {run}: {n} events pushed in {:.2}s, all in the timeline after {:.2}s",
        pushed.as_secs_f64(),
        (visible - start).as_secs_f64()
    );
    res.add(&format!("{label}.ingest.timeline_rate"), "events/s", rate);
    if let Some(t) = recorded {
        res.add(
            &format!("{label}.ingest.recorded_rate"),
            "events/s",
            n as f64 / (t - start).as_secs_f64(),
        );
    }
    res.add(
        &format!("{label}.ingest.cpu_per_1k"),
        "ms",
        cpu * 1000.0 / (n as f64 / 1000.0),
    );
    // The emulator and this driver share the 2 cores with the bot.
    res.add(
        &format!("{label}.ingest.emulator_cpu_per_1k"),
        "ms",
        driver_cpu * 1000.0 / (n as f64 / 1000.0),
    );
    // The raw limit, same schema and settings, same machine, right now.
    let raw_db = world.db_path(&format!("raw-{label}-{run}.db"));
    let url = format!("sqlite://{}", raw_db.display());
    Store::open(&url).await?.close().await;
    let raw_path = raw_db.clone();
    let raw =
        tokio::task::spawn_blocking(move || raw_sqlite::insert_rate(&raw_path, n as u64)).await??;
    res.add(&format!("{label}.ingest.raw_rate"), "events/s", raw);
    res.add(
        &format!("{label}.ingest.fraction_of_raw"),
        "%",
        100.0 * rate / raw,
    );
    Ok(())
}

// --- one at a time ---

/// Post `--serial-events` messages, each once the previous one is acked: ack latency with
/// nothing else in flight.
async fn serial_run(
    args: &Args,
    world: &World,
    bot: &BotProc,
    run: usize,
    res: &mut Results,
) -> anyhow::Result<()> {
    let emu = &world.emu;
    let since = chrono::Utc::now();
    for i in 0..args.serial_events {
        emu.wait_unacked_at_most(0, DEADLINE).await?;
        emu.post_message(
            if i % 2 == 0 { ALICE } else { BOB },
            &bot.channel,
            &format!("serial {run}/{i}: p99 latency of the checkout API back to normal"),
            None,
        )?;
    }
    emu.wait_unacked_at_most(0, DEADLINE).await?;
    let bot_user = emu.config().bot_user_id.clone();
    let latencies: Vec<f64> = emu
        .envelopes()
        .iter()
        .filter(|e| e.delivered_at.is_some_and(|t| t >= since))
        .filter(|e| is_person_message(e, &bot_user) && e.retry_attempt == 0)
        .filter_map(latency_us)
        .collect();
    let b = bot.bot;
    println!(
        "{b} serial run {run}: {} envelopes acked one at a time",
        latencies.len()
    );
    res.add(
        &format!("{b}.serial.ack_p50"),
        "ms",
        percentile(&latencies, 50.0) / 1000.0,
    );
    res.add(
        &format!("{b}.serial.ack_p99"),
        "ms",
        percentile(&latencies, 99.0) / 1000.0,
    );
    Ok(())
}

// --- in process: the bot against a bare Socket Mode feeder ---

/// One Slack-shaped `events_api` envelope carrying a message (the fields Slack sends,
/// rich-text blocks included, so parsing costs what it costs for real).
fn feed_envelope(run: usize, i: usize, channel: &str, ts: &str) -> String {
    let text = format!("feed {run}/{i}: error rate back under 0.1% after the pool resize");
    json!({
        "envelope_id": format!("feed-{run}-{i}"),
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {
            "token": "verification-token", "team_id": "T0WARROOM", "context_team_id": "T0WARROOM",
            "context_enterprise_id": null, "api_app_id": "A0WARROOM", "type": "event_callback",
            "event_id": format!("EvFEED{run}x{i}"), "event_time": 1_800_000_000 + i as i64,
            "authorizations": [{"enterprise_id": null, "team_id": "T0WARROOM",
                "user_id": "U0WARBOT", "is_bot": true, "is_enterprise_install": false}],
            "is_ext_shared_channel": false,
            "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMFdBUlJPT00iLCJhaWQiOiJBMFdBUlJPT00ifQ",
            "event": {
                "type": "message", "channel": channel, "user": ALICE, "text": text, "ts": ts,
                "event_ts": ts, "channel_type": "channel", "team": "T0WARROOM",
                "client_msg_id": format!("0c7f8f3e-feed-{run}-{i}"),
                "blocks": [{"type": "rich_text", "block_id": "Feed", "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
            },
        },
    })
    .to_string()
}

/// Accept the bot's connection, say `hello`, send `n` envelopes keeping at most `window`
/// unacked, and return (first envelope sent, last ack read, ack latencies in µs).
async fn feed(
    listener: tokio::net::TcpListener,
    run: usize,
    n: usize,
    window: u64,
    channel: String,
) -> anyhow::Result<(Instant, Instant, Vec<f64>)> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (tcp, _) = listener.accept().await?;
    tcp.set_nodelay(true)?;
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    let hello = json!({"type": "hello", "num_connections": 1,
        "debug_info": {"host": "feeder", "approximate_connection_time": 18060},
        "connection_info": {"app_id": "A0WARROOM"}});
    ws.send(Message::Text(hello.to_string().into())).await?;
    let frames: Vec<String> = (0..n)
        .map(|i| {
            let ts = format!("{}.{:06}", 1_800_000_000 + run, i);
            feed_envelope(run, i, &channel, &ts)
        })
        .collect();
    let mut sent_at = vec![None::<Instant>; n];
    let mut latencies = Vec::with_capacity(n);
    let (mut next, mut acked, mut in_flight) = (0usize, 0usize, 0u64);
    let start = Instant::now();
    while acked < n {
        let mut wrote = false;
        while next < n && in_flight < window {
            sent_at[next] = Some(Instant::now());
            ws.feed(Message::Text(frames[next].clone().into())).await?;
            next += 1;
            in_flight += 1;
            wrote = true;
        }
        if wrote {
            ws.flush().await?;
        }
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let ack: Value = serde_json::from_str(text.as_str())?;
                let Some(i) = ack["envelope_id"]
                    .as_str()
                    .and_then(|id| id.rsplit('-').next())
                    .and_then(|i| i.parse::<usize>().ok())
                else {
                    bail!("feeder: an ack it cannot read: {text}");
                };
                if let Some(t) = sent_at.get_mut(i).and_then(Option::take) {
                    latencies.push(t.elapsed().as_secs_f64() * 1e6);
                    acked += 1;
                    in_flight -= 1;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("feeder: the bot closed the connection after {acked} acks"),
        }
    }
    Ok((start, Instant::now(), latencies))
}

async fn feed_run(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let n = args.ingest_events;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/", listener.local_addr()?);
    let emu = SlackEmulator::start(EmulatorConfig {
        scopes: warroom::demo::bot_scopes(),
        socket_url: Some(url),
        ..EmulatorConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("feed.db");
    let db_url = format!("sqlite://{}", db.display());
    // The incident the messages go to, written straight into warroom's schema.
    Store::open(&db_url).await?.close().await;
    let channel = "C0FEED".to_string();
    let fill_db = db.clone();
    let fill_channel = channel.clone();
    tokio::task::spawn_blocking(move || raw_sqlite::fill(&fill_db, 1, 0, |_| fill_channel.clone()))
        .await??;
    let (config, secrets) = warroom::demo::config_for_emulator(&emu, &db_url, &[BOB])?;
    let feeder = tokio::spawn(feed(listener, run, n, args.window, channel));
    let app = warroom::app::App::build(
        config,
        secrets,
        std::sync::Arc::new(warroom::clock::SystemClock),
    )
    .await?;
    let cpu_before = cpu_secs(std::process::id())?;
    let (start, all_acked, latencies) = feeder.await??;
    let visible = wait_rows(&db, "timeline", 0, n as i64).await?;
    let cpu = cpu_secs(std::process::id())? - cpu_before;
    app.stop().await?;
    let rate = n as f64 / (visible - start).as_secs_f64();
    println!(
        "feed run {run}: {n} envelopes acked after {:.2}s, all in the timeline after {:.2}s",
        (all_acked - start).as_secs_f64(),
        (visible - start).as_secs_f64()
    );
    res.add("feed.timeline_rate", "events/s", rate);
    res.add(
        "feed.recorded_rate",
        "events/s",
        n as f64 / (all_acked - start).as_secs_f64(),
    );
    res.add("feed.ack_p50", "ms", percentile(&latencies, 50.0) / 1000.0);
    res.add("feed.ack_p99", "ms", percentile(&latencies, 99.0) / 1000.0);
    res.add("feed.cpu_per_1k", "ms", cpu * 1000.0 / (n as f64 / 1000.0));
    let raw_db = dir.path().join("raw.db");
    Store::open(&format!("sqlite://{}", raw_db.display()))
        .await?
        .close()
        .await;
    let raw =
        tokio::task::spawn_blocking(move || raw_sqlite::insert_rate(&raw_db, n as u64)).await??;
    res.add("feed.raw_rate", "events/s", raw);
    res.add("feed.fraction_of_raw", "%", 100.0 * rate / raw);
    Ok(())
}

// --- kill -9 under load ---

/// SIGKILL warroom `--kills` times mid-burst and count the acked events its inbox lacks.
async fn kill_run(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let world = World::new().await?;
    let bot = start_warroom(args, &world, &format!("warroom-kill-{run}.db"), 1, false).await?;
    let Running::Process(mut child) = bot.child else {
        bail!("the kill scenario needs the bot in its own process");
    };
    let bot_user = world.emu.config().bot_user_id.clone();
    let (mut acked_total, mut lost_total) = (0usize, 0usize);
    for kill in 0..args.kills {
        let since = chrono::Utc::now();
        let burst = Duration::from_millis(rand::random_range(100..1_000));
        let start = Instant::now();
        let mut posted = 0usize;
        while start.elapsed() < burst {
            if world.emu.unacked_envelopes() >= args.window {
                // Full window: wait for an ack, but not past the moment of the kill.
                let _ = world
                    .emu
                    .wait_unacked_at_most(args.window - 1, Duration::from_millis(20))
                    .await;
                continue;
            }
            world.emu.post_message(
                if posted.is_multiple_of(2) { ALICE } else { BOB },
                &bot.channel,
                &format!("kill {run}/{kill}/{posted}: the replica is catching up"),
                None,
            )?;
            posted += 1;
        }
        child.kill().await.context("SIGKILL")?;
        world
            .emu
            .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
            .await?;
        // What Slack saw acked before the socket went must be in the inbox.
        let acked: Vec<String> = world
            .emu
            .envelopes()
            .iter()
            .filter(|e| e.delivered_at.is_some_and(|t| t >= since) && e.acked_at.is_some())
            .filter(|e| is_person_message(e, &bot_user))
            .filter_map(|e| e.event_id.clone())
            .collect();
        let inbox = rusqlite::Connection::open_with_flags(
            &bot.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        inbox.busy_timeout(Duration::from_secs(10))?;
        let mut lost = 0usize;
        for event_id in &acked {
            let found: bool = inbox.query_row(
                "SELECT EXISTS (SELECT 1 FROM inbox WHERE dedupe_key = ?1)",
                [format!("ev:{event_id}")],
                |r| r.get(0),
            )?;
            lost += usize::from(!found);
        }
        drop(inbox);
        println!(
            "kill run {run}/{kill}: SIGKILL {} ms into a burst, {posted} posted, {} acked, {lost} of them not in the inbox",
            burst.as_millis(),
            acked.len()
        );
        acked_total += acked.len();
        lost_total += lost;
        // Start again on the same database: Slack redelivers what was not acked.
        let (again, _, _) = spawn_warroom(args, &world, &bot.db, 1).await?;
        child = again;
    }
    child.kill().await?;
    res.add(
        "warroom.kill.acked_before_kill",
        "count",
        acked_total as f64,
    );
    res.add("warroom.kill.acked_lost", "count", lost_total as f64);
    Ok(())
}

// --- figure 5: memory ---

async fn big_db_memory(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    const INCIDENTS: u64 = 1_000;
    const ROWS: u64 = 1_000;
    let world = World::new().await?;
    let channels: Vec<String> = (0..INCIDENTS)
        .map(|n| {
            let c = world
                .emu
                .create_channel(ALICE, &format!("inc-20261121-load-{n}"));
            world.emu.join_channel(&c, BOB);
            world.emu.join_channel(&c, &world.emu.config().bot_user_id);
            c
        })
        .collect();
    let db = world.db_path("big.db");
    Store::open(&format!("sqlite://{}", db.display()))
        .await?
        .close()
        .await;
    let fill_start = Instant::now();
    let (fill_db, fill_channels) = (db.clone(), channels.clone());
    tokio::task::spawn_blocking(move || {
        raw_sqlite::fill(&fill_db, INCIDENTS, ROWS, |n| {
            fill_channels[n as usize].clone()
        })
    })
    .await??;
    let size = std::fs::metadata(&db)?.len() as f64 / (1024.0 * 1024.0);
    println!(
        "big database: {INCIDENTS} incidents, {} timeline rows, {size:.0} MiB, filled in {:.1}s",
        INCIDENTS * ROWS,
        fill_start.elapsed().as_secs_f64()
    );
    let (mut child, pid, connected) = spawn_warroom(args, &world, &db, 1).await?;
    res.add(
        "warroom.startup.big_db",
        "ms",
        connected.as_secs_f64() * 1000.0,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    res.add(
        "warroom.rss.big_db_idle",
        "MiB",
        rss_mib(pid, "warroom-big-db-idle")?.0,
    );
    // Use it: the open-incident list, one incident's timeline, and 10,000 messages spread
    // over 100 incidents.
    world.emu.slash_command(ALICE, &world.ops, "list").await?;
    world
        .emu
        .slash_command(ALICE, &channels[7], "timeline")
        .await?;
    let base = max_id(&db, "timeline")?;
    for i in 0..10_000usize {
        world.emu.post_message(
            if i % 2 == 0 { ALICE } else { BOB },
            &channels[i % 100],
            &format!("big db run {run} message {i}: scaling the read replicas"),
            None,
        )?;
        if i % 256 == 255 {
            tokio::task::yield_now().await;
        }
    }
    wait_rows(&db, "timeline", base, 10_000).await?;
    res.add(
        "warroom.rss.big_db_peak",
        "MiB",
        rss_mib(pid, "warroom-big-db-peak")?.0,
    );
    child.kill().await?;
    Ok(())
}

/// Figure 8: what an idle bot keeps resident once start-up is over (`VmRSS`, not the peak),
/// split into file-backed (its program and libraries) and anonymous memory, 10 s after it
/// connected. `WARROOM_STARTUP_PAGES=keep` in the driver's environment reaches the bot, for
/// the figure without the start-up pages handed back.
async fn settled_memory(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let world = World::new().await?;
    let db = world.db_path(&format!("settled-{run}.db"));
    let (mut child, pid, _) = spawn_warroom(args, &world, &db, 1).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Copies status and smaps to LOAD_MEMORY_DIR when it is set.
    rss_mib(pid, "warroom-settled")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for (field, name) in [
        ("VmRSS:", "warroom.rss.settled"),
        ("RssFile:", "warroom.rss.settled_file"),
        ("RssAnon:", "warroom.rss.settled_anon"),
    ] {
        res.add(name, "MiB", status_mib(&status, field)?);
    }
    child.kill().await?;
    Ok(())
}

// --- scenarios ---

/// Figures 1, 2 and the RSS part of 5 and 7. Each measurement gets a fresh emulator, bot and
/// database: warroom's worker applies events in order and posts a notice per `note`
/// command (paced by slack-morphism at 1/s), so an ingest run right after the ack run would
/// measure that backlog instead.
async fn scenario_ack_ingest(
    args: &Args,
    bots: &[Bot],
    with_ingest: bool,
    with_ack: bool,
    with_serial: bool,
    res: &mut Results,
) -> anyhow::Result<()> {
    for run in 1..=args.runs {
        for &bot in bots {
            if with_serial {
                let world = World::new().await?;
                let proc =
                    start_bot(args, &world, bot, &format!("{bot}-serial-{run}.db"), 1).await?;
                serial_run(args, &world, &proc, run, res).await?;
                res.add(
                    &format!("{bot}.rss.after_serial"),
                    "MiB",
                    rss_mib(proc.pid, &format!("{bot}-after-serial"))?.0,
                );
                proc.stop(&world).await?;
            }
            let world = World::new().await?;
            let proc = start_bot(args, &world, bot, &format!("{bot}-ack-{run}.db"), 1).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            res.add(
                &format!("{bot}.rss.idle"),
                "MiB",
                rss_mib(proc.pid, &format!("{bot}-idle"))?.0,
            );
            if with_ack {
                ack_run(args, &world, &proc, run, res).await?;
                res.add(
                    &format!("{bot}.rss.after_ack"),
                    "MiB",
                    rss_mib(proc.pid, &format!("{bot}-after-ack"))?.0,
                );
            }
            proc.stop(&world).await?;
            if with_ingest && bot != Bot::Null {
                let world = World::new().await?;
                let proc =
                    start_bot(args, &world, bot, &format!("{bot}-ingest-{run}.db"), 1).await?;
                ingest_run(args, &world, &proc, &format!("{bot}.c1"), run, res).await?;
                res.add(
                    &format!("{bot}.rss.after_ingest"),
                    "MiB",
                    rss_mib(proc.pid, &format!("{bot}-after-ingest"))?.0,
                );
                proc.stop(&world).await?;
            }
        }
        if with_ingest && bots.contains(&Bot::Warroom) {
            for &c in args.connections.iter().filter(|&&c| c != 1) {
                let world = World::new().await?;
                let proc = start_bot(
                    args,
                    &world,
                    Bot::Warroom,
                    &format!("warroom-c{c}-{run}.db"),
                    c,
                )
                .await?;
                ingest_run(args, &world, &proc, &format!("warroom.c{c}"), run, res).await?;
                proc.stop(&world).await?;
            }
        }
    }
    Ok(())
}

async fn scenario_startup(args: &Args, res: &mut Results) -> anyhow::Result<()> {
    let bin = args.warroom_bin()?;
    let size = std::fs::metadata(&bin)
        .with_context(|| {
            format!(
                "{} (cargo build --release --features bench --bins --examples?)",
                bin.display()
            )
        })?
        .len();
    res.add(
        "warroom.binary_size",
        "MiB",
        size as f64 / (1024.0 * 1024.0),
    );
    for run in 1..=args.runs {
        let world = World::new().await?;
        for i in 0..args.startups {
            let db = world.db_path(&format!("startup-{run}-{i}.db"));
            let (mut child, _, t) = spawn_warroom(args, &world, &db, 1).await?;
            res.add("warroom.startup.fresh_db", "ms", t.as_secs_f64() * 1000.0);
            child.kill().await?;
            world
                .emu
                .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
                .await?;
            // Second start on the now-existing database (migrations already applied).
            let (mut child, _, t) = spawn_warroom(args, &world, &db, 1).await?;
            res.add(
                "warroom.startup.existing_db",
                "ms",
                t.as_secs_f64() * 1000.0,
            );
            child.kill().await?;
            world
                .emu
                .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
                .await?;
        }
        if args.python().exists() {
            for i in 0..args.startups {
                let proc = start_bolt(args, &world, &format!("bolt-startup-{run}-{i}.db")).await?;
                res.add(
                    "bolt.startup",
                    "ms",
                    proc.connected_after.as_secs_f64() * 1000.0,
                );
                proc.stop(&world).await?;
            }
        }
    }
    Ok(())
}

fn ratios(res: &mut Results) {
    let pairs = [
        ("ack.all.p99", "ratio.ack_p99"),
        ("ack.all.p50", "ratio.ack_p50"),
        ("rss.after_ack", "ratio.rss_after_ack"),
        ("rss.after_ingest", "ratio.rss_after_ingest"),
        ("rss.idle", "ratio.rss_idle"),
        ("c1.ingest.ack_p99", "ratio.ack_p99_window"),
        ("c1.ingest.ack_p50", "ratio.ack_p50_window"),
        ("serial.ack_p99", "ratio.ack_p99_serial"),
        ("serial.ack_p50", "ratio.ack_p50_serial"),
        ("c1.ingest.working_set", "ratio.working_set"),
    ];
    for (figure, name) in pairs {
        if let (Some(w), Some(b)) = (
            res.median(&format!("warroom.{figure}")),
            res.median(&format!("bolt.{figure}")),
        ) {
            res.add(name, "warroom/bolt", w / b);
        }
    }
    if let (Some(w), Some(b)) = (
        res.median("warroom.c1.ingest.timeline_rate"),
        res.median("bolt.c1.ingest.timeline_rate"),
    ) {
        res.add("ratio.events_per_s", "warroom/bolt", w / b);
    }
    // Peak RSS: the highest VmHWM any process of the bot reached (each phase runs its own).
    let peak = |bot: &str| {
        ["rss.after_ack", "rss.after_ingest", "rss.after_serial"]
            .iter()
            .filter_map(|f| res.median(&format!("{bot}.{f}")))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    if let (Some(w), Some(b)) = (peak("warroom"), peak("bolt")) {
        res.add("ratio.rss_peak", "warroom/bolt", w / b);
    }
}

async fn main_async(args: Args) -> anyhow::Result<()> {
    let has = |s: Scenario| args.scenarios.contains(&s) || args.scenarios.contains(&Scenario::All);
    let mut res = Results::default();
    let peer = has(Scenario::Peer);
    if peer && !args.python().exists() {
        bail!(
            "{} is missing: run benches/peer/setup.sh first",
            args.python().display()
        );
    }
    let mut bots = args.bots.clone();
    if peer {
        bots.extend([Bot::Warroom, Bot::Bolt]);
    }
    bots.sort();
    bots.dedup();
    let (ack, ingest) = (has(Scenario::Ack) || peer, has(Scenario::Ingest) || peer);
    let serial = has(Scenario::Serial) || peer;
    if ack || ingest || serial || has(Scenario::Memory) {
        println!("== ack / ingest / serial / memory: {bots:?}");
        scenario_ack_ingest(&args, &bots, ingest, ack, serial, &mut res).await?;
    }
    if has(Scenario::Feed) {
        for run in 1..=args.runs {
            println!("== in process, bare feeder, run {run}");
            feed_run(&args, run, &mut res).await?;
        }
    }
    if has(Scenario::Kill) {
        for run in 1..=args.runs {
            println!("== kill -9 under load, run {run}");
            kill_run(&args, run, &mut res).await?;
        }
    }
    if has(Scenario::Memory) {
        for run in 1..=args.runs {
            println!("== memory with a big database, run {run}");
            big_db_memory(&args, run, &mut res).await?;
            println!("== memory of an idle bot once settled, run {run}");
            settled_memory(&args, run, &mut res).await?;
        }
    }
    if has(Scenario::Startup) {
        println!("== start-up");
        scenario_startup(&args, &mut res).await?;
    }
    if has(Scenario::Alarm) {
        for run in 1..=args.runs {
            println!("== alarm to war room, run {run}");
            alarm::latency_run(&args, run, &mut res).await?;
        }
    }
    if has(Scenario::Storm) {
        for run in 1..=args.runs {
            println!("== alarm storm, run {run}");
            alarm::storm_run(&args, run, &mut res).await?;
        }
    }
    // Not part of `all`: they need moto or PostgreSQL, and the failover scenario takes
    // minutes.
    let only = |s: Scenario| args.scenarios.contains(&s);
    if only(Scenario::Queue) {
        for run in 1..=args.runs {
            println!("== alarm to war room through the queue, run {run}");
            queue::latency_run(&args, run, &mut res).await?;
        }
    }
    if only(Scenario::QueueStorm) {
        for run in 1..=args.runs {
            println!("== alarm storm through the queue, run {run}");
            queue::storm_run(&args, run, &mut res).await?;
        }
    }
    if only(Scenario::Pg) || only(Scenario::Failover) {
        let cluster =
            tokio::task::spawn_blocking(warroom::pg_cluster::Cluster::start_durable).await??;
        if only(Scenario::Pg) {
            for run in 1..=args.runs {
                println!("== PostgreSQL ack and ingest, run {run}");
                replicas::pg_run(&args, &cluster, run, &mut res).await?;
            }
        }
        if only(Scenario::Failover) {
            for run in 1..=args.runs {
                println!("== failover, {} kills, run {run}", args.kills);
                replicas::failover_run(&args, &cluster, run, &mut res).await?;
            }
        }
    }
    ratios(&mut res);
    res.print_summary();
    if let Some(path) = &args.json {
        let out = json!({
            "args": format!("{args:?}"),
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
            "figures": res.to_json(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    warroom::app::install_crypto_provider();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if let Some(api_url) = &args.null_bot {
        // One thread, like the simplest possible client.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(run_null_bot(api_url));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(main_async(args))
}
