//! Two replicas (the real binary) on one PostgreSQL: an alarm storm, a stream of messages
//! and commands, an AWS Support case AWS answers on, a summary every 3 s and nudges every
//! 10 s, while the leader is SIGKILLed and, later, cut off from the database (its role may
//! no longer log in and its connections are ended with `pg_terminate_backend`). Then:
//! every acked event is on the timeline once, no incident or channel is doubled, every
//! message warroom put in its outbox is in Slack exactly once (summaries, nudges, notices,
//! mirrored AWS replies), and one Support case exists.
//!
//! `WARROOM_SOAK=1` runs 8 rounds of faults instead of 1 (seeded, `WARROOM_CHAOS_SEED`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use warroom::aws::fake::{AwsFake, CloudWatchBackend, FakeAlarm};
use warroom::store::Store;

use crate::helpers::*;

const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

fn alarm(name: &str) -> FakeAlarm {
    FakeAlarm {
        region: REGION.to_string(),
        name: name.to_string(),
        description: Some("chaos".to_string()),
        namespace: "Chaos/Checkout".to_string(),
        metric_name: "Errors".to_string(),
        dimensions: vec![("Service".to_string(), "checkout".to_string())],
        statistic: "Sum".to_string(),
        period_secs: 60,
        threshold: 10.0,
        comparison: "GreaterThanThreshold".to_string(),
        state: "ALARM".to_string(),
        state_reason: "Threshold Crossed".to_string(),
        state_updated_at: Utc::now(),
        tags: Vec::new(),
    }
}

/// One replica: its database role (so it alone can be cut off) and its process.
struct Replica {
    role: String,
    url: String,
    process: Option<BotProcess>,
}

struct Rig {
    world: World,
    aws: AwsFake,
    status: String,
    admin: String,
    replicas: Vec<Replica>,
    store: Store,
    messages: usize,
    /// Slash commands that landed on a replica that could not answer in time.
    timed_out: usize,
}

impl Rig {
    async fn start(&mut self, i: usize) {
        let slack = format!("status_channel = \"{}\"", self.status);
        let extra = format!(
            "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n\
             [alarms]\npoll_interval = \"300ms\"\ncorrelation_window = \"1h\"\n\
             [[alarms.route]]\nname = \"db\"\nalarm_name = \"db-*\"\n\
             [[alarms.route]]\nname = \"web\"\nalarm_name = \"web-*\"\n\
             [escalation]\naws_support_after = \"3s\"\nrenudge_every = \"10s\"\n\
             support_poll_interval = \"10s\"\nupdate_every = \"off\"\n\
             [summary]\nevery = \"3s\"\n",
            self.aws.endpoint_url()
        );
        let mut env: Vec<(&str, &str)> = AWS_ENV.to_vec();
        let url = self.replicas[i].url.clone();
        env.push(("WARROOM_DATABASE_URL", &url));
        let before = self.world.emu.connection_count();
        let process = BotProcess::start_with_env(&self.world, &slack, &extra, &env).await;
        self.world
            .emu
            .wait_for_connections(before + 1, DEADLINE)
            .await
            .expect("the replica connects");
        self.replicas[i].process = Some(process);
    }

    fn pid(&self, i: usize) -> u32 {
        self.replicas[i].process.as_ref().map_or(0, BotProcess::pid)
    }

    /// The replica that holds a valid lease, once one does (other than `not`).
    async fn wait_leader(&self, not: Option<usize>) -> usize {
        let what = "a replica to take the lease over";
        wait_until_ok_every(DEADLINE, Duration::from_millis(50), what, async || {
            let lease = match self.store.lease_state().await {
                Ok(Some(lease)) => lease,
                other => return Err(Seen(format!("{other:?}"))),
            };
            let pid = lease.holder.split(':').nth(1).and_then(|p| p.parse().ok());
            let leader = (0..self.replicas.len()).find(|i| Some(self.pid(*i)) == pid);
            leader
                .filter(|i| lease.valid && Some(*i) != not)
                .ok_or(Seen(format!("{lease:?}")))
        })
        .await
    }

    /// People talk in the incident channel and run commands there.
    async fn talk(&mut self, channel: &str, n: usize) {
        for _ in 0..n {
            self.messages += 1;
            let who = if self.messages.is_multiple_of(2) {
                BOB
            } else {
                CAROL
            };
            self.world
                .emu
                .post_message(
                    who,
                    channel,
                    &format!("chaos message {}", self.messages),
                    None,
                )
                .expect("posted");
            if self.messages.is_multiple_of(7) {
                // A command lands on one replica and is not redelivered (Slack does not
                // retry slash commands): one that lands on a replica cut off from the
                // database times out for the person, as it would with any app that cannot
                // answer. That is not a loss: the person sees it failed.
                let note = format!("note checkpoint {}", self.messages);
                match self.world.emu.slash_command(BOB, channel, &note).await {
                    Ok(_) => {}
                    Err(warroom::slack_emulator::EmulatorError::AckTimeout) => self.timed_out += 1,
                    Err(e) => panic!("{note}: {e}"),
                }
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Run SQL as the cluster's superuser.
    async fn admin(&self, sql: &str) {
        let mut c = sqlx::postgres::PgConnection::connect(&self.admin)
            .await
            .expect("admin connection");
        sqlx::query(sql).execute(&mut c).await.expect(sql);
        c.close().await.ok();
    }
}

#[tokio::test]
async fn two_replicas_lose_nothing_and_double_nothing_through_kills_and_cut_offs() {
    let seed: u64 = std::env::var("WARROOM_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(14);
    let rounds = if std::env::var("WARROOM_SOAK").is_ok_and(|v| v == "1") {
        8
    } else {
        1
    };
    eprintln!("replicas chaos: seed {seed}, {rounds} round(s) of a SIGKILL and a cut-off");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let world = World::on_postgres().await;
    let status = world.bot_channel("incident-status");
    let aws = AwsFake::start(CloudWatchBackend::InMemory)
        .await
        .expect("the AWS fake starts");
    let cluster = warroom::pg_cluster::Cluster::shared();
    let db = world
        .db_url
        .rsplit('/')
        .next()
        .expect("a database")
        .to_string();
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let role = format!("{db}_{name}");
        replicas.push(Replica {
            url: format!("postgres://{role}@127.0.0.1:{}/{db}", cluster.port),
            role,
            process: None,
        });
    }
    let store = Store::open(&world.db_url).await.expect("database opens");
    let mut rig = Rig {
        admin: cluster.url("postgres"),
        world,
        aws,
        status,
        replicas,
        store,
        messages: 0,
        timed_out: 0,
    };
    for r in &rig.replicas {
        rig.admin(&format!("CREATE ROLE {} LOGIN SUPERUSER", r.role))
            .await;
    }

    // Two replicas; the first leads.
    rig.start(0).await;
    assert_eq!(rig.wait_leader(None).await, 0);
    rig.start(1).await;

    let channel = rig.world.declare(ALICE, "Checkout errors sev2").await;
    assert_eq!(rig.world.command(BOB, &channel, "escalate aws").await, None);
    rig.world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&channel)?
                .iter()
                .any(|m| m.text.contains("opened AWS Support case"))
                .then_some(())
        })
        .await
        .expect("the case is opened");
    let case_id = rig.aws.support_cases()[0].case_id.clone();
    rig.talk(&channel, 10).await;

    // The alarm storm: three routes, three incidents however many alarms.
    for i in 0..24 {
        let prefix = ["db", "web", "misc"][i % 3];
        rig.aws.set_alarm(alarm(&format!("{prefix}-{i}")));
    }
    let mut replies = Vec::new();
    for round in 0..rounds {
        // SIGKILL the leader mid-way.
        let leader = rig.wait_leader(None).await;
        rig.talk(&channel, rng.random_range(3..12)).await;
        let reply = format!("AWS looked at it (round {round}, before the kill)");
        rig.aws.add_support_reply(&case_id, &reply, Utc::now(), &[]);
        replies.push(reply);
        let survivors = rig.world.emu.connection_count() - 1;
        let process = rig.replicas[leader].process.take().expect("running");
        process.kill_leaving(&rig.world, survivors).await;
        rig.talk(&channel, rng.random_range(3..12)).await;
        let next = rig.wait_leader(Some(leader)).await;
        rig.start(leader).await; // back, as a follower
        rig.talk(&channel, 5).await;
        for i in 0..6 {
            let prefix = ["db", "web", "misc"][i % 3];
            rig.aws.set_alarm(alarm(&format!("{prefix}-r{round}-{i}")));
        }

        // Cut the new leader off from the database: no new connection, and the ones it has
        // ended by the server. It keeps its Slack connection and its belief that it leads
        // until its lease runs out.
        let role = rig.replicas[next].role.clone();
        rig.admin(&format!("ALTER ROLE {role} NOLOGIN")).await;
        rig.admin(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
        ))
        .await;
        let reply = format!("AWS looked again (round {round}, during the cut-off)");
        rig.aws.add_support_reply(&case_id, &reply, Utc::now(), &[]);
        replies.push(reply);
        rig.talk(&channel, rng.random_range(3..12)).await;
        let taker = rig.wait_leader(Some(next)).await;
        assert_ne!(taker, next);
        rig.admin(&format!("ALTER ROLE {role} LOGIN")).await;
        rig.talk(&channel, 5).await;
    }
    assert_eq!(
        rig.world.command(BOB, &channel, "status monitoring").await,
        None
    );

    // Let everything settle: every alarm decided and posted, the inbox and outbox empty.
    let what = "everything to settle";
    wait_until_ok_every(DEADLINE * 4, Duration::from_millis(200), what, async || {
        let undecided = warroom::store::alarms::undecided(rig.store.db(), 10)
            .await
            .expect("readable");
        let pending = warroom::store::outbox::pending(rig.store.db(), 10)
            .await
            .expect("readable");
        let backlog = rig.store.inbox_backlog().await.expect("readable");
        let replies_in = replies.iter().all(|r| {
            rig.world
                .emu
                .messages(&channel)
                .iter()
                .any(|m| m.text.contains(r.as_str()))
        });
        if undecided.is_empty() && pending.is_empty() && backlog == 0 && replies_in {
            return Ok(());
        }
        Err(Seen(format!(
            "{} undecided alarms, {} messages to send, {backlog} events to apply, AWS replies mirrored: {replies_in}",
            undecided.len(),
            pending.len()
        )))
    })
    .await;
    check_invariants(&rig.world, &rig.store, 4).await;

    // Stop both gracefully: from then on nothing more is posted, and what is in Slack can
    // be compared with what the outbox delivered.
    let mut processes: Vec<BotProcess> = rig
        .replicas
        .iter_mut()
        .filter_map(|r| r.process.take())
        .collect();
    for p in &processes {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &p.pid().to_string()])
            .status();
    }
    for p in &mut processes {
        assert!(p.wait_exit().await.success(), "a graceful stop exits 0");
    }
    let delivered = warroom::store::outbox::delivered(rig.store.db())
        .await
        .expect("readable");
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (destination, text) in delivered {
        *want
            .entry((destination, text.trim().to_string()))
            .or_default() += 1;
    }
    let bot = rig.world.emu.config().bot_user_id.clone();
    for ((destination, text), n) in &want {
        let posted = rig
            .world
            .emu
            .messages(destination)
            .iter()
            .filter(|m| m.user == bot && m.text.trim() == text)
            .count();
        assert_eq!(
            posted, *n,
            "{destination}: {text:?} was delivered {n} times by the outbox and is in Slack {posted} times"
        );
    }
    let summaries = want
        .keys()
        .filter(|(d, t)| *d == rig.status && t.contains("Incident summary"))
        .count();
    assert!(summaries > 0, "summaries were posted");
    for r in &replies {
        let n = rig
            .world
            .emu
            .messages(&channel)
            .iter()
            .filter(|m| m.text.contains(r.as_str()))
            .count();
        assert_eq!(n, 1, "AWS's reply {r:?} is mirrored {n} times");
    }
    assert_eq!(rig.aws.support_cases().len(), 1, "one Support case");
    eprintln!(
        "replicas chaos: {} messages ({} commands timed out on a cut-off replica), {} outbox messages ({} distinct) each in Slack once, {} AWS replies mirrored once",
        rig.messages,
        rig.timed_out,
        want.values().sum::<usize>(),
        want.len(),
        replies.len()
    );
}
