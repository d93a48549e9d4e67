//! PostgreSQL: ack latency and ingest next to SQLite's (`load pg`), and failover time with
//! two replicas (`load failover`), against a throwaway cluster with PostgreSQL's
//! durability defaults (`Cluster::start_durable`: fsync on, synchronous commit) on this
//! machine's disk.
//!
//! - `pg`: the `ack` and `ingest` runs of figures 1 and 2, the bot on PostgreSQL; progress
//!   and "visible in the timeline" are polled with a connection of the driver's own.
//! - `failover`: two replicas, a summary every second. `--kills` times: SIGKILL the leader
//!   (t0), post a message at once, and time until the other replica has applied it (the
//!   first event) and until it has fired a summary (the first timer); then start the
//!   killed one again as a follower. With `[database] failover_after = --failover-after`.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use sqlx::{Connection, Row};
use tokio::process::{Child, Command};
use warroom::pg_cluster::Cluster;
use warroom::store::Store;

use super::{
    ack_run, percentile, Args, Bot, BotProc, Results, Running, World, ALICE, BOB, DEADLINE,
};

/// Start warroom on `db_url` with `connections` Socket Mode connections and `extra` config.
async fn spawn(
    args: &Args,
    world: &World,
    name: &str,
    db_url: &str,
    connections: u32,
    extra: &str,
) -> anyhow::Result<(Child, u32)> {
    let config_path = world.dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &config_path,
        format!(
            "[slack]\napi_url = \"{}\"\nresponders = [\"{BOB}\"]\nproactive_rate_limits = false\n\
             socket_connections = {connections}\n{extra}\n[database]\nurl = \"{db_url}\"\n\
             failover_after = \"{}s\"\n",
            world.emu.api_url(),
            args.failover_after
        ),
    )?;
    let bin = args.warroom_bin()?;
    let before = world.emu.connection_count();
    let child = Command::new(&bin)
        .arg("run")
        .arg("--config")
        .arg(&config_path)
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
        .env(
            "RUST_LOG",
            std::env::var("BOT_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} (cargo build --release?)", bin.display()))?;
    let pid = child.id().ok_or_else(|| anyhow!("bot exited at once"))?;
    world
        .emu
        .wait_for_connections(before + connections as usize, DEADLINE)
        .await?;
    Ok((child, pid))
}

/// Declare the incident the load goes to; its channel.
async fn declare(world: &World, title: &str) -> anyhow::Result<String> {
    let before: Vec<String> = world.emu.channels().into_iter().map(|c| c.id).collect();
    world
        .emu
        .slash_command(ALICE, &world.ops, &format!("declare {title} sev2"))
        .await?;
    let bot = world.emu.config().bot_user_id.clone();
    Ok(world
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
        .await?)
}

async fn max_id(pg: &mut sqlx::PgConnection, table: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query(&format!("SELECT COALESCE(MAX(id), 0) FROM {table}"))
            .fetch_one(&mut *pg)
            .await?
            .try_get(0)?,
    )
}

async fn wait_rows(
    pg: &mut sqlx::PgConnection,
    table: &str,
    after: i64,
    n: i64,
) -> anyhow::Result<Instant> {
    let until = Instant::now() + DEADLINE;
    loop {
        let got: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {table} WHERE id > $1"))
            .bind(after)
            .fetch_one(&mut *pg)
            .await?
            .try_get(0)?;
        if got >= n {
            return Ok(Instant::now());
        }
        if Instant::now() > until {
            bail!("{table}: {got} of {n} rows after {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `load pg`: figures 1 and 2 with the bot on PostgreSQL.
pub async fn pg_run(
    args: &Args,
    cluster: &Cluster,
    run: usize,
    res: &mut Results,
) -> anyhow::Result<()> {
    // Ack latency.
    {
        let world = World::new().await?;
        let url = cluster.fresh_database().await?;
        let (child, pid) = spawn(args, &world, "ack", &url, 1, "").await?;
        let channel = declare(&world, &format!("Load test pg ack {run}")).await?;
        let proc = BotProc {
            bot: Bot::Warroom,
            child: Running::Process(child),
            pid,
            db: Path::new("").to_path_buf(),
            channel,
            connected_after: Duration::ZERO,
        };
        let mut label_res = Results::default();
        ack_run(args, &world, &proc, run, &mut label_res).await?;
        for (name, (unit, values)) in label_res.take() {
            for v in values {
                res.add(&name.replacen("warroom.", "warroom_pg.", 1), unit, v);
            }
        }
        proc.stop(&world).await?;
    }
    // Ingest, with each of --connections.
    for &connections in &args.connections {
        let world = World::new().await?;
        let url = cluster.fresh_database().await?;
        let (child, pid) = spawn(args, &world, "ingest", &url, connections, "").await?;
        let channel = declare(&world, &format!("Load test pg ingest {run}")).await?;
        let mut pg = sqlx::PgConnection::connect(&url).await?;
        let label = format!("warroom_pg.c{connections}");
        let n = args.ingest_events;
        let timeline_base = max_id(&mut pg, "timeline").await?;
        let inbox_base = max_id(&mut pg, "inbox").await?;
        let cpu_before = super::cpu_secs(pid)?;
        let start = Instant::now();
        let mut seen = 0usize;
        for i in 0..n {
            while i >= seen + args.window as usize {
                seen = (max_id(&mut pg, "inbox").await? - inbox_base).max(0) as usize;
                if i >= seen + args.window as usize {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                if start.elapsed() > DEADLINE {
                    bail!("{label}: stuck at {seen} of {n} events recorded");
                }
            }
            let who = if i % 2 == 0 { ALICE } else { BOB };
            world.emu.post_message(
                who,
                &channel,
                &format!("ingest {run}/{i}: error rate back under 0.1% after the pool resize"),
                None,
            )?;
            if i % 64 == 63 {
                tokio::task::yield_now().await;
            }
        }
        let recorded = wait_rows(&mut pg, "inbox", inbox_base, n as i64).await?;
        let visible = wait_rows(&mut pg, "timeline", timeline_base, n as i64).await?;
        let cpu = super::cpu_secs(pid)? - cpu_before;
        let rate = n as f64 / (visible - start).as_secs_f64();
        println!(
            "{label} ingest run {run}: {n} events, recorded after {:.2}s, all in the timeline after {:.2}s",
            (recorded - start).as_secs_f64(),
            (visible - start).as_secs_f64()
        );
        res.add(&format!("{label}.ingest.timeline_rate"), "events/s", rate);
        res.add(
            &format!("{label}.ingest.recorded_rate"),
            "events/s",
            n as f64 / (recorded - start).as_secs_f64(),
        );
        res.add(
            &format!("{label}.ingest.cpu_per_1k"),
            "ms",
            cpu * 1000.0 / (n as f64 / 1000.0),
        );
        pg.close().await.ok();
        let proc = BotProc {
            bot: Bot::Warroom,
            child: Running::Process(child),
            pid,
            db: Path::new("").to_path_buf(),
            channel,
            connected_after: Duration::ZERO,
        };
        proc.stop(&world).await?;
    }
    Ok(())
}

/// The pid of the replica holding a valid lease, once one does (other than `not`).
async fn leader(store: &Store, not: Option<u32>) -> anyhow::Result<u32> {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(lease) = store.lease_state().await? {
            let pid = lease.holder.split(':').nth(1).and_then(|p| p.parse().ok());
            if let Some(pid) = pid.filter(|p| lease.valid && Some(*p) != not) {
                return Ok(pid);
            }
        }
        if Instant::now() > until {
            bail!("no replica took the lease");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `load failover`: `--kills` SIGKILLs of the leader of two replicas.
pub async fn failover_run(
    args: &Args,
    cluster: &Cluster,
    run: usize,
    res: &mut Results,
) -> anyhow::Result<()> {
    let world = World::new().await?;
    let status = world.emu.create_channel(ALICE, "incident-status");
    world
        .emu
        .join_channel(&status, &world.emu.config().bot_user_id.clone());
    let url = cluster.fresh_database().await?;
    let extra = format!(
        "status_channel = \"{status}\"\n[summary]\nevery = \"1s\"\nquiet_when_idle = false"
    );
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        replicas.push(spawn(args, &world, name, &url, 1, &extra).await?);
    }
    let store = Store::open(&url).await?;
    let channel = declare(&world, &format!("Failover {run}")).await?;
    let mut pg = sqlx::PgConnection::connect(&url).await?;
    let mut events = Vec::new();
    let mut timers = Vec::new();
    for kill in 0..args.kills {
        let pid = leader(&store, None).await?;
        // Both connected and leading settled; give the lease a random age at the kill.
        tokio::time::sleep(Duration::from_millis(
            500 + rand::random::<u64>() % (args.failover_after * 1000 / 2),
        ))
        .await;
        let i = replicas
            .iter()
            .position(|(_, p)| *p == pid)
            .ok_or_else(|| anyhow!("the leader {pid} is not one of the replicas"))?;
        let (mut child, _) = replicas.remove(i);
        let t0 = Instant::now();
        let t0_wall = chrono::Utc::now();
        child.kill().await?;
        let ts = world.emu.post_message(
            BOB,
            &channel,
            &format!("posted right after kill {kill}"),
            None,
        )?;
        let key = format!("msg:{channel}:{ts}");
        let (mut event, mut timer) = (None, None);
        let until = Instant::now() + DEADLINE;
        while event.is_none() || timer.is_none() {
            if event.is_none() {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM timeline WHERE dedupe_key = $1")
                    .bind(&key)
                    .fetch_one(&mut pg)
                    .await?
                    .try_get(0)?;
                if n > 0 {
                    event = Some(t0.elapsed());
                }
            }
            if timer.is_none() {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM summaries WHERE at > $1")
                    .bind(warroom::store::format_time(t0_wall))
                    .fetch_one(&mut pg)
                    .await?
                    .try_get(0)?;
                if n > 0 {
                    timer = Some(t0.elapsed());
                }
            }
            if Instant::now() > until {
                bail!("kill {kill}: the other replica did not take over in {DEADLINE:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (event, timer) = (event.unwrap_or_default(), timer.unwrap_or_default());
        println!(
            "failover run {run}, kill {kill}: first event applied after {:.2}s, first timer fired after {:.2}s",
            event.as_secs_f64(),
            timer.as_secs_f64()
        );
        events.push(event.as_secs_f64());
        timers.push(timer.as_secs_f64());
        // Back, as a follower.
        let name = format!("r{kill}");
        replicas.push(spawn(args, &world, &name, &url, 1, &extra).await?);
    }
    for (what, values) in [("event", &events), ("timer", &timers)] {
        for (stat, p) in [("p50", 50.0), ("p99", 99.0), ("max", 100.0)] {
            res.add(
                &format!("failover.{what}.{stat}"),
                "s",
                percentile(values, p),
            );
        }
    }
    for (mut child, _) in replicas {
        child.kill().await.ok();
    }
    pg.close().await.ok();
    Ok(())
}
