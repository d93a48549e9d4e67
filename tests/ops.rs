//! Operating a running bot: the health and metrics endpoints, and `warroom doctor`, against
//! the in-crate Slack emulator on 127.0.0.1 with a real SQLite file.

#[allow(dead_code)]
#[path = "bot/helpers.rs"]
mod helpers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use helpers::{
    wait_timeline, wait_until_ok, wait_until_ok_every, Aws, BotProcess, Seen, World, ALICE, BOB,
    DEADLINE,
};
use warroom::app::App;
use warroom::clock::SystemClock;
use warroom::demo::bot_scopes;
use warroom::slack_emulator::{EmulatorConfig, EnvelopeKind, Fault};

/// Start the bot in-process with the ops listener on a free port; returns it and the base URL.
async fn start_with_listener(world: &World) -> (App, String) {
    // The Socket Mode connection is opened in the background: a slash command sent before
    // it is up finds no connection. (Started waits for it.)
    let app = world
        .start_bot_with(Arc::new(SystemClock), |config| {
            config.server.listen = Some("127.0.0.1:0".parse().expect("an address"));
        })
        .await;
    let addr = app.ops_addr().expect("the ops listener is on");
    (app, format!("http://{addr}"))
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("the ops listener answers");
    let status = r.status().as_u16();
    (status, r.text().await.expect("a body"))
}

/// Poll `path` until its status is `want`; returns the body.
async fn wait_status(base: &str, path: &str, want: u16) -> String {
    wait_until_ok(
        DEADLINE,
        &format!("{path} to answer {want}"),
        async || match get(&format!("{base}{path}")).await {
            (status, body) if status == want => Ok(body),
            (status, body) => Err(Seen(format!("{status} {body}"))),
        },
    )
    .await
}

/// One sample of a scrape, `None` when the series is absent.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrape until `f` holds for the text; returns it.
async fn wait_metrics(base: &str, what: &str, f: impl Fn(&str) -> bool) -> String {
    wait_until_ok(
        DEADLINE,
        &format!("the metrics to show {what}"),
        async || {
            let (status, text) = get(&format!("{base}/metrics")).await;
            assert_eq!(status, 200);
            if f(&text) {
                Ok(text)
            } else {
                Err(Seen(text))
            }
        },
    )
    .await
}

#[tokio::test]
async fn readyz_follows_the_socket_mode_connection() {
    let world = World::new().await;
    let (app, base) = start_with_listener(&world).await;
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    wait_status(&base, "/readyz", 200).await;

    // Reconnecting fails twice (about a second apart), so the outage is long enough to see.
    world.emu.inject_fault(
        "apps.connections.open",
        Fault::Error("internal_error".into()),
        2,
    );
    world.emu.drop_connections();
    let body = wait_status(&base, "/readyz", 503).await;
    assert!(body.contains("Socket Mode not connected"), "{body}");
    assert_eq!(
        get(&format!("{base}/healthz")).await.0,
        200,
        "alive while disconnected"
    );

    wait_status(&base, "/readyz", 200).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("reconnected");
    // Ready again means working again: a message is recorded.
    let channel = world.declare(ALICE, "readiness check").await;
    let ts = world
        .emu
        .post_message(ALICE, &channel, "after the reconnect", None)
        .unwrap();
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;

    let text = wait_metrics(&base, "the disconnect", |t| {
        sample(t, "warroom_socket_mode_disconnects_total") >= Some(1.0)
    })
    .await;
    assert_eq!(sample(&text, "warroom_socket_mode_connections"), Some(1.0));
    app.stop().await.unwrap();
}

/// A probe flood does not take the database's write lock once per request (the acks wait
/// for the one connection too): at most one write check a second answers every probe, and
/// events are still recorded meanwhile.
#[tokio::test]
async fn a_readyz_flood_checks_the_database_at_most_once_a_second() {
    let world = World::new().await;
    let (app, base) = start_with_listener(&world).await;
    let channel = world.declare(ALICE, "probe flood").await;
    let checks = |text: &str| sample(text, "warroom_readiness_database_checks_total");
    let before = checks(&get(&format!("{base}/metrics")).await.1).unwrap_or(0.0);
    let started = tokio::time::Instant::now();
    let client = reqwest::Client::new();
    let mut answered = 0;
    for _ in 0..10 {
        let probes: Vec<_> = (0..40)
            .map(|_| {
                let (client, url) = (client.clone(), format!("{base}/readyz"));
                tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
            })
            .collect();
        for p in probes {
            assert_eq!(p.await.unwrap().unwrap().as_u16(), 200);
            answered += 1;
        }
    }
    let elapsed = started.elapsed();
    let ts = world
        .emu
        .post_message(BOB, &channel, "recorded through the flood", None)
        .unwrap();
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    let made = checks(&get(&format!("{base}/metrics")).await.1).unwrap() - before;
    // One check per second of the flood (and one for a second begun).
    let allowed = elapsed.as_secs_f64().ceil() + 1.0;
    assert!(
        made >= 1.0 && made <= allowed,
        "{answered} probes in {elapsed:?} made {made} database checks (at most {allowed})"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn readyz_is_not_ready_after_stop_begins_and_the_listener_closes_with_the_bot() {
    let world = World::new().await;
    let (app, base) = start_with_listener(&world).await;
    wait_status(&base, "/readyz", 200).await;
    app.stop().await.unwrap();
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "the listener is closed after stop"
    );
}

#[tokio::test]
async fn metrics_move_as_an_incident_runs() {
    let world = World::new().await;
    let (app, base) = start_with_listener(&world).await;
    let before = wait_metrics(&base, "the database gauges", |t| {
        t.contains("warroom_open_incidents{severity=\"sev2\"}")
    })
    .await;
    assert_eq!(
        sample(&before, "warroom_open_incidents{severity=\"sev2\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&before, "warroom_envelopes_received_total"),
        Some(0.0)
    );
    // SQLite: the one process leads, and has no lease to age.
    assert_eq!(sample(&before, "warroom_leader"), Some(1.0));
    assert_eq!(sample(&before, "warroom_lease_age_seconds"), None);

    let channel = world.declare(ALICE, "Checkout 5xx sev2").await;
    // One transient failure of chat.update: retried, and counted as an error.
    world
        .emu
        .inject_fault("chat.update", Fault::Error("internal_error".into()), 1);
    world
        .command(BOB, &channel, "status identified pool size")
        .await;
    let ts = world
        .emu
        .post_message(BOB, &channel, "pool raised to 50", None)
        .unwrap();
    world.wait_header(&channel, &["identified"]).await;
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;

    let during = wait_metrics(&base, "the incident's work", |t| {
        sample(t, "warroom_open_incidents{severity=\"sev2\"}") == Some(1.0)
            && sample(t, "warroom_slack_api_errors_total{method=\"chat.update\"}") == Some(1.0)
            && sample(t, "warroom_inbox_backlog") == Some(0.0)
    })
    .await;
    let received = sample(&during, "warroom_envelopes_received_total").unwrap();
    let acked = sample(&during, "warroom_envelopes_acked_total").unwrap();
    // declare, status, the message (and whatever else the emulator pushed, e.g. joins)
    assert!(received >= 3.0, "{during}");
    assert_eq!(acked, received, "every envelope acked:\n{during}");
    assert_eq!(
        sample(&during, "warroom_ack_latency_seconds_count"),
        Some(acked)
    );
    assert_eq!(
        sample(&during, "warroom_ack_latency_seconds_bucket{le=\"+Inf\"}"),
        Some(acked)
    );
    for method in ["conversations.create", "chat.postMessage", "pins.add"] {
        let calls = sample(
            &during,
            &format!("warroom_slack_api_calls_total{{method=\"{method}\"}}"),
        );
        assert!(calls >= Some(1.0), "{method}: {calls:?}\n{during}");
    }
    assert!(
        sample(
            &during,
            "warroom_slack_api_calls_total{method=\"chat.update\"}"
        ) >= Some(2.0),
        "the failed update and its retry"
    );
    assert_eq!(
        sample(&during, "warroom_envelopes_redelivered_total"),
        Some(0.0)
    );

    // Slack sends the acked message event again: recorded once, counted as a redelivery.
    let acked_event = world
        .emu
        .envelopes()
        .into_iter()
        .find(|e| {
            e.kind == EnvelopeKind::EventsApi
                && e.acked_at.is_some()
                && e.payload["event"]["ts"].as_str() == Some(ts.as_str())
        })
        .expect("the message's acked envelope");
    world.emu.redeliver(&acked_event.envelope_id).unwrap();
    wait_metrics(&base, "the redelivery", |t| {
        sample(t, "warroom_envelopes_redelivered_total") == Some(1.0)
    })
    .await;

    world.command(BOB, &channel, "resolve pool fixed").await;
    wait_metrics(&base, "the resolution", |t| {
        sample(t, "warroom_open_incidents{severity=\"sev2\"}") == Some(0.0)
    })
    .await;
    app.stop().await.unwrap();
}

// --- warroom doctor ---------------------------------------------------------------------

/// Write a config for `world` and run `warroom doctor` on it with `bot_token`. The Support
/// API is off: these are the Slack and database checks (AWS has its own tests below).
async fn doctor(world: &World, bot_token: &str) -> (bool, String) {
    let path: PathBuf = world.dir.path().join("doctor.toml");
    std::fs::write(
        &path,
        format!(
            "[slack]\napi_url = \"{}\"\nproactive_rate_limits = false\n[database]\nurl = \"{}\"\n\
             [escalation]\nsupport_api = false\n",
            world.emu.api_url(),
            world.db_url
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["doctor", "--config"])
        .arg(&path)
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .env("SLACK_BOT_TOKEN", bot_token)
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom doctor runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[tokio::test]
async fn doctor_is_green_against_a_correct_setup() {
    let world = World::new().await;
    let (ok, out) = doctor(&world, &world.emu.config().bot_token.clone()).await;
    assert!(ok, "{out}");
    for line in [
        "✓ config",
        "✓ bot token (SLACK_BOT_TOKEN): accepted by auth.test: @warroom (U0WARBOT)",
        "✓ bot scopes: all",
        "✓ app-level token (SLACK_APP_TOKEN): accepted",
        "✓ Socket Mode: a connection opened and Slack said hello",
        "✓ database",
        "✓ replicas: SQLite: one warroom process per database file",
        "all 7 checks passed",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains('✗'), "{out}");
    // The database is left migrated and usable.
    world.store().await.check_writable().await.unwrap();
}

#[tokio::test]
async fn doctor_names_a_refused_bot_token_and_how_to_fix_it() {
    let world = World::new().await;
    let wrong = "xoxb-1111111111-2222222222222-WrongWrongWrongWrongWrong";
    let (ok, out) = doctor(&world, wrong).await;
    assert!(!ok, "doctor must fail:\n{out}");
    assert!(
        out.contains("✗ bot token (SLACK_BOT_TOKEN): Slack refused SLACK_BOT_TOKEN (invalid_auth)"),
        "{out}"
    );
    assert!(out.contains("fix: copy the token again"), "{out}");
    assert!(
        out.contains("✗ bot scopes: not checked (the bot token could not be checked)"),
        "{out}"
    );
    // The other checks still run.
    assert!(out.contains("✓ Socket Mode"), "{out}");
    assert!(out.contains("✓ database"), "{out}");
    assert!(!out.contains(wrong), "the token is never printed:\n{out}");
}

#[tokio::test]
async fn doctor_names_a_missing_scope_and_what_needs_it() {
    let world = World::with_config(EmulatorConfig {
        scopes: bot_scopes()
            .into_iter()
            .filter(|s| s != "pins:write")
            .collect(),
        ..EmulatorConfig::default()
    })
    .await;
    let (ok, out) = doctor(&world, &world.emu.config().bot_token.clone()).await;
    assert!(!ok, "doctor must fail:\n{out}");
    assert!(
        out.contains("✗ bot scopes: missing pins:write (for pins.add)"),
        "{out}"
    );
    assert!(out.contains("reinstall the app"), "{out}");
    assert!(out.contains("✓ bot token"), "{out}");
}

#[tokio::test]
async fn doctor_reports_an_unusable_database() {
    let world = World::new().await;
    // A database path under a regular file cannot be created.
    let blocker = world.dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let path = world.dir.path().join("doctor.toml");
    std::fs::write(
        &path,
        format!(
            "[slack]\napi_url = \"{}\"\n[database]\nurl = \"sqlite://{}/warroom.db\"\n\
             [escalation]\nsupport_api = false\n",
            world.emu.api_url(),
            blocker.display()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["doctor", "--config"])
        .arg(&path)
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom doctor runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("✗ database: sqlite://"), "{text}");
    assert!(text.contains("fix: check [database] url"), "{text}");
}

/// Run `warroom doctor` for a bot that polls alarms through `aws_endpoint` (and uses the
/// Support API there, the default).
async fn doctor_with_aws(world: &World, aws_endpoint: &str) -> (bool, String) {
    doctor_with_config(
        world,
        &format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{aws_endpoint}\"\n\
             [alarms]\nregions = [\"us-east-1\"]\n"
        ),
    )
    .await
}

/// Run `warroom doctor` with test AWS keys on `[slack]`, `[database]` and `extra`.
async fn doctor_with_config(world: &World, extra: &str) -> (bool, String) {
    let path: PathBuf = world.dir.path().join("doctor-aws.toml");
    std::fs::write(
        &path,
        format!(
            "[slack]\napi_url = \"{}\"\nproactive_rate_limits = false\n[database]\nurl = \"{}\"\n{extra}",
            world.emu.api_url(),
            world.db_url
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["doctor", "--config"])
        .arg(&path)
        .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
        .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
        .env("AWS_ACCESS_KEY_ID", "AKIADOCTORTEST000000")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "doctor-test-secret-key-not-real-0000000",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom doctor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn doctor_checks_the_events_queue() {
    let world = World::new().await;
    let aws = Aws::start_with_queue().await;
    let fake = &aws.fake;
    let url = aws.queue_url().to_string();
    aws.send("{}").await;
    let config = |queue: &str| {
        format!(
            "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\
             [escalation]\nsupport_api = false\n[events]\nsqs_queue_url = \"{queue}\"\n",
            fake.endpoint_url()
        )
    };
    let (ok, out) = doctor_with_config(&world, &config(&url)).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ [events] SQS queue: GetQueueAttributes answered (1 messages waiting)"),
        "{out}"
    );
    // The doctor only looked: the message is still there for the bot.
    let (ok, out) = doctor_with_config(&world, &config(&url)).await;
    assert!(ok && out.contains("(1 messages waiting)"), "{out}");

    let missing = url.replace("warroom-events", "no-such-queue");
    let (ok, out) = doctor_with_config(&world, &config(&missing)).await;
    assert!(!ok, "{out}");
    assert!(out.contains("✗ [events] SQS queue"), "{out}");
    assert!(out.contains("fix: check [events] sqs_queue_url"), "{out}");
}

#[tokio::test]
async fn doctor_checks_cloudwatch_and_health_and_explains_a_missing_support_plan() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let fake = &aws.fake;

    let (ok, out) = doctor_with_aws(&world, &fake.endpoint_url()).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ CloudWatch (us-east-1): DescribeAlarms answered"),
        "{out}"
    );
    assert!(
        out.contains("✓ AWS Health: DescribeEvents answered"),
        "{out}"
    );
    assert!(
        out.contains("✓ CloudTrail (us-east-1): LookupEvents answered"),
        "{out}"
    );
    assert!(
        out.contains("✓ CloudWatch alarm history (us-east-1): DescribeAlarmHistory answered"),
        "{out}"
    );

    // What "What changed before the alarm" needs, refused: the IAM action to add.
    fake.fail_cloudtrail("LookupEvents", "AccessDeniedException", 1);
    fake.fail_cloudwatch("DescribeAlarmHistory", "AccessDenied", 1);
    let (ok, out) = doctor_with_aws(&world, &fake.endpoint_url()).await;
    assert!(!ok, "{out}");
    assert!(out.contains("✗ CloudTrail (us-east-1)"), "{out}");
    assert!(
        out.contains("add \"cloudtrail:LookupEvents\" to its IAM policy (deploy/iam-policy.json)"),
        "{out}"
    );
    assert!(
        out.contains("✗ CloudWatch alarm history (us-east-1)"),
        "{out}"
    );
    assert!(
        out.contains("add \"cloudwatch:DescribeAlarmHistory\" to its IAM policy"),
        "{out}"
    );

    fake.require_subscription(true);
    let (ok, out) = doctor_with_aws(&world, &fake.endpoint_url()).await;
    assert!(!ok, "a missing plan is reported:\n{out}");
    assert!(
        out.contains("✗ AWS Health: the account has no Business"),
        "{out}"
    );
    assert!(out.contains("fix: warroom works without it"), "{out}");
    assert!(
        !out.contains("doctor-test-secret-key"),
        "no secret in the output"
    );

    // Nothing listening where AWS should be: a red line that says what to check.
    let (ok, out) = doctor_with_aws(&world, "http://127.0.0.1:9").await;
    assert!(!ok);
    assert!(
        out.contains("✗ CloudWatch (us-east-1)") && out.contains("endpoint_url"),
        "{out}"
    );
}

#[tokio::test]
async fn doctor_checks_the_support_api_and_explains_a_missing_support_plan() {
    use warroom::aws::fake::{AwsFake, CloudWatchBackend, SUPPORT};
    let world = World::new().await;
    let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    // Escalation without alarm polling, in another region than Support's.
    let config = format!(
        "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
        fake.endpoint_url()
    );

    let (ok, out) = doctor_with_config(&world, &config).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ AWS Support API: DescribeCases answered"),
        "{out}"
    );
    assert!(
        !out.contains("CloudWatch"),
        "no [alarms], no CloudWatch check:\n{out}"
    );
    let calls: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.service == SUPPORT)
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].region.as_deref(), Some("us-east-1"));

    fake.require_subscription(true);
    let (ok, out) = doctor_with_config(&world, &config).await;
    assert!(!ok, "a missing plan is reported:\n{out}");
    assert!(
        out.contains(
            "✗ AWS Support API: the account has no Business, Enterprise On-Ramp or Enterprise \
             support plan"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "fix: warroom still nudges towards AWS Support but links to the Support Center"
        ),
        "{out}"
    );

    // Turned off: not checked at all.
    let (ok, out) = doctor_with_config(
        &world,
        &format!("{config}[escalation]\nsupport_api = false\n"),
    )
    .await;
    assert!(ok, "{out}");
    assert!(!out.contains("AWS Support API"), "{out}");
}

/// Two replicas on one PostgreSQL: both are ready (Socket Mode and the database), one leads
/// (`warroom_leader 1` with its lease's age), the other follows; stopping the leader hands
/// the lease over at once, and the follower applies what either records.
#[tokio::test]
async fn two_replicas_both_ready_one_leads_and_a_stop_hands_over() {
    let world = World::on_postgres().await;
    let (first, a) = start_with_listener(&world).await;
    let (second, b) = start_with_listener(&world).await;
    for base in [&a, &b] {
        wait_status(base, "/readyz", 200).await;
    }
    let leads = |text: &str| sample(text, "warroom_leader") == Some(1.0);
    let text = wait_metrics(&a, "the first replica leading", leads).await;
    assert!(
        sample(&text, "warroom_lease_age_seconds").is_some(),
        "{text}"
    );
    let text = wait_metrics(&b, "the second replica following", |t| {
        sample(t, "warroom_leader") == Some(0.0)
    })
    .await;
    assert!(
        sample(&text, "warroom_lease_age_seconds").is_none(),
        "{text}"
    );

    let channel = world.declare(ALICE, "Replica handover").await;
    first.stop().await.expect("stops");
    wait_metrics(&b, "the second replica leading", leads).await;
    let ts = world
        .emu
        .post_message(BOB, &channel, "after the handover", None)
        .unwrap();
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    second.stop().await.expect("stops");
}

/// `warroom doctor` on PostgreSQL: the server's version, the migrations, who leads.
#[tokio::test]
async fn doctor_on_postgres_names_the_server_and_the_leader() {
    let world = World::on_postgres().await;
    let bot = BotProcess::start(&world).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    let what = "doctor to pass and name the leader";
    let out = wait_until_ok_every(DEADLINE, Duration::from_millis(200), what, async || {
        let (ok, out) = doctor(&world, &world.emu.config().bot_token.clone()).await;
        if ok && out.contains(&format!(":{}:", bot.pid())) {
            Ok(out)
        } else {
            Err(Seen(out))
        }
    })
    .await;
    assert!(out.contains("✓ database server: PostgreSQL 1"), "{out}");
    assert!(out.contains("✓ database: postgres://"), "{out}");
    assert!(out.contains(" leads (term "), "{out}");
    bot.kill().await;
}

/// `warroom backup` on PostgreSQL runs pg_dump, into a new file only.
#[tokio::test]
async fn backup_on_postgres_runs_pg_dump() {
    let world = World::on_postgres().await;
    world
        .store()
        .await
        .record_inbound("ev:1", "{}", chrono::Utc::now())
        .await
        .unwrap();
    let config = world.dir.path().join("backup.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{}\"\n", world.db_url)).unwrap();
    let out_file = world.dir.path().join("warroom.dump");
    let run = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["backup", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&out_file)
            .kill_on_drop(true)
            .output()
    };
    let out = run().await.expect("warroom backup runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = std::fs::read(&out_file).unwrap();
    assert!(
        dump.starts_with(b"PGDMP"),
        "a pg_dump custom-format archive"
    );
    let again = run().await.expect("warroom backup runs");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

/// Without pg_dump on PATH, `warroom backup` on PostgreSQL explains how to back up, with
/// the URL's password hidden, and writes nothing.
#[tokio::test]
async fn backup_on_postgres_without_pg_dump_explains_how() {
    let world = World::on_postgres().await;
    // The throwaway cluster trusts loopback: the password is carried, never checked.
    let mut with_password = url::Url::parse(&world.db_url).unwrap();
    with_password.set_password(Some("hunter2")).unwrap();
    let config = world.dir.path().join("backup.toml");
    std::fs::write(&config, "[database]\nurl = \"sqlite://unused.db\"\n").unwrap();
    let empty_path = world.dir.path().join("no-tools");
    std::fs::create_dir(&empty_path).unwrap();
    let out_file = world.dir.path().join("warroom.dump");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["backup", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out_file)
        .env("WARROOM_DATABASE_URL", with_password.as_str())
        .env("PATH", &empty_path)
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom backup runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("pg_dump is not on PATH"), "{err}");
    assert!(err.contains("pg_dump --format=custom"), "{err}");
    assert!(err.contains("pg_restore"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!out_file.exists(), "nothing written");
}

/// `warroom migrate-db` moves a SQLite deployment to PostgreSQL, counts verified; the bot
/// then carries on there with the same incident and timeline.
#[tokio::test]
async fn migrate_db_moves_a_sqlite_database_to_postgres_and_the_bot_carries_on() {
    let mut world = World::new().await;
    let bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Moving house").await;
    let ts = world
        .emu
        .post_message(BOB, &channel, "before the move", None)
        .unwrap();
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|x| x.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    bot.stop().await.expect("stops");
    let sqlite = world.db_url.clone();
    let postgres = helpers::postgres_database().await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["migrate-db", "--from", &sqlite, "--to", &postgres])
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom migrate-db runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("timeline"), "{text}");
    assert!(text.contains("counts match"), "{text}");
    world.db_url = postgres;
    let _bot = world.start_bot().await;
    let ts2 = world
        .emu
        .post_message(BOB, &channel, "after the move", None)
        .unwrap();
    let moved = world.store().await;
    let entries = wait_timeline(&moved, &channel, "both messages", |e| {
        [&ts, &ts2]
            .iter()
            .all(|t| e.iter().any(|x| x.slack_ts.as_deref() == Some(t.as_str())))
    })
    .await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
            .count(),
        1
    );
}

/// Two processes on one SQLite file: the second refuses to start, naming the file and the
/// first process.
#[tokio::test]
async fn a_second_process_on_one_sqlite_file_refuses_naming_the_first() {
    let world = World::new().await;
    let first = BotProcess::start(&world).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    let config = world.dir.path().join("warroom.toml");
    let out = tokio::time::timeout(
        DEADLINE,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["run", "--config"])
            .arg(&config)
            .env("SLACK_APP_TOKEN", &world.emu.config().app_token)
            .env("SLACK_BOT_TOKEN", &world.emu.config().bot_token)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the second process stops by itself")
    .expect("warroom runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    let file = world.db_url.trim_start_matches("sqlite://");
    assert!(
        err.contains(&format!("the database {file} is in use by another warroom")),
        "{err}"
    );
    assert!(err.contains(&format!("pid {}", first.pid())), "{err}");
    assert_eq!(world.emu.connection_count(), 1, "the first one runs on");
    first.kill().await;
}

/// A pseudo-terminal: (the side a terminal reads, the side a program writes).
#[cfg(target_os = "linux")]
fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors, which the Files then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

/// Run `warroom <args>` with its output on a terminal; returns what the terminal got.
#[cfg(target_os = "linux")]
async fn on_a_terminal(args: &[&str]) -> String {
    use std::io::Read;
    let (mut master, slave) = pty();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env_remove("WARROOM_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(slave))
        .stderr(std::process::Stdio::piped())
        .status();
    let status = tokio::time::timeout(DEADLINE, status)
        .await
        .expect("warroom ends")
        .expect("warroom runs");
    assert!(status.success(), "warroom {args:?}");
    // The program is gone and holds no end of the terminal: reading ends there.
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap()
}

/// Recorded text is whatever people and alarms wrote, and a terminal obeys escape
/// sequences (colours, cursor moves, window titles, hyperlinks that hide their target).
/// `warroom timeline`, `incidents` and `postmortem` show it on a terminal without them;
/// piped, the text is as recorded.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn operator_output_to_a_terminal_carries_no_escape_sequences() {
    let world = World::new().await;
    let app = world.start_bot().await;
    let hostile_title = "Checkout \u{1b}]0;owned\u{7}down\u{1b}[2J";
    let channel = world.declare(ALICE, hostile_title).await;
    let hostile = "\u{1b}[31mred\u{1b}[0m then\roverwrite \u{1b}]8;;https://evil.example\u{1b}\\the link\u{1b}]8;;\u{1b}\\ \u{9b}2Jend";
    let ts = world
        .emu
        .post_message(BOB, &channel, hostile, None)
        .unwrap();
    let store = world.store().await;
    wait_timeline(&store, &channel, "the message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    let id = warroom::store::incidents::by_channel(store.db(), &channel)
        .await
        .unwrap()
        .unwrap()
        .incident
        .id
        .0
        .to_string();
    app.stop().await.unwrap();
    let cfg = world.dir.path().join("operator.toml");
    std::fs::write(&cfg, format!("[database]\nurl = \"{}\"\n", world.db_url)).unwrap();
    let cfg = cfg.to_str().unwrap();

    for args in [
        vec!["timeline", id.as_str(), "--config", cfg],
        vec!["incidents", "--all", "--config", cfg],
        vec!["postmortem", id.as_str(), "--config", cfg],
    ] {
        let shown = on_a_terminal(&args).await;
        assert!(shown.contains("Checkout"), "{args:?}: {shown}");
        // The terminal ends its own lines with CR LF; a CR anywhere else came from the text.
        let stray_cr = shown.replace("\r\n", "\n").contains('\r');
        assert!(
            !shown.contains(['\u{1b}', '\u{7}', '\u{9b}']) && !stray_cr,
            "{args:?} put control characters on the terminal: {shown:?}"
        );
        if args[0] != "incidents" {
            for word in ["red", "overwrite", "the link", "end"] {
                assert!(shown.contains(word), "{args:?} lost {word:?}: {shown}");
            }
        }
    }
    // Piped, the timeline is the record, byte for byte.
    let piped = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["timeline", id.as_str(), "--config", cfg])
        .env_remove("WARROOM_CONFIG")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&piped.stdout).contains(hostile));
}

// --- warroom drill ----------------------------------------------------------------------

/// Run the `warroom` binary with `args` and the config at `path`; its success and output.
async fn warroom_cli(args: &[&str], path: &std::path::Path) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .arg("--config")
        .arg(path)
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output()
        .await
        .expect("warroom runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn warroom_drill_records_one_request_the_running_bot_opens() {
    let world = World::new().await;
    let path: PathBuf = world.dir.path().join("drill.toml");
    std::fs::write(
        &path,
        format!(
            "[slack]\napi_url = \"{}\"\n[database]\nurl = \"{}\"\n",
            world.emu.api_url(),
            world.db_url
        ),
    )
    .unwrap();
    let app = world.start_bot().await;
    let drill = [
        "drill",
        "--route",
        "default",
        "--sev",
        "2",
        "--as",
        ALICE,
        "--key",
        "gameday-7",
    ];
    let (ok, out) = warroom_cli(&drill, &path).await;
    assert!(ok, "{out}");
    assert!(out.contains("drill requested (key gameday-7)"), "{out}");
    // Retried with the same key: nothing new.
    let (ok, out) = warroom_cli(&drill, &path).await;
    assert!(ok, "{out}");
    assert!(out.contains("already requested"), "{out}");
    let (ok, out) = warroom_cli(&["drill", "--route", "nope", "--as", ALICE], &path).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("there is no alarm route called \"nope\"; the routes are: default"),
        "{out}"
    );

    let ch = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .find(|c| c.name.starts_with("drill-") && c.name.ends_with("-default"))
                .map(|c| c.id.clone())
        })
        .await
        .expect("the drill's channel");
    world.wait_header(&ch, &["DRILL", "SEV2", "drill #1"]).await;
    let store = world.store().await;
    wait_timeline(&store, &ch, "the synthetic alarm", |e| {
        e.iter()
            .any(|e| e.text.starts_with("DRILL: synthetic alarm"))
    })
    .await;
    // The operator commands read a drill by `drill-1` or `-1`.
    for id in ["drill-1", "-1"] {
        let (ok, out) = warroom_cli(&["timeline", id], &path).await;
        assert!(ok, "{out}");
        assert!(out.contains("drill #1"), "{out}");
        assert!(out.contains("DRILL: synthetic alarm"), "{out}");
    }
    let (ok, out) = warroom_cli(&["postmortem", "drill-1"], &path).await;
    assert!(ok, "{out}");
    assert!(out.starts_with("# DRILL — Postmortem: "), "{out}");
    let drills = warroom::store::incidents::list(store.db(), false)
        .await
        .unwrap();
    assert_eq!(drills.len(), 1, "{drills:?}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn doctor_assumes_every_account_role_and_names_the_refused_one() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let fake = &aws.fake;
    let denied = "arn:aws:iam::222222222222:role/warroom-read";
    fake.deny_assume_role(denied, true);
    let config = format!(
        "[aws]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\
         [[aws.accounts]]\nname = \"payments\"\n\
         role_arn = \"arn:aws:iam::111111111111:role/warroom-read\"\nexternal_id = \"wr-7f3a\"\n\
         [[aws.accounts]]\nname = \"legacy\"\nrole_arn = \"{denied}\"\nregions = [\"eu-west-1\"]\n\
         [alarms]\nregions = [\"us-east-1\"]\n[escalation]\nsupport_api = false\n",
        fake.endpoint_url()
    );
    let (ok, out) = doctor_with_config(&world, &config).await;
    assert!(!ok, "a refused role fails the doctor:\n{out}");
    assert!(
        out.contains("✓ CloudWatch (account payments, us-east-1): the role was assumed"),
        "{out}"
    );
    assert!(
        out.contains("✗ CloudWatch (account legacy, eu-west-1)"),
        "{out}"
    );
    assert!(out.contains("AccessDenied"), "the refusal is named:\n{out}");
    assert!(out.contains("deploy/aws/member-account.yaml"), "{out}");
    assert!(!out.contains("doctor-test-secret-key"), "{out}");
    let assumed: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.service == "sts" && c.operation == "AssumeRole")
        .collect();
    assert_eq!(assumed.len(), 2, "each role assumed once: {assumed:?}");

    fake.deny_assume_role(denied, false);
    let (ok, out) = doctor_with_config(&world, &config).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("✓ CloudWatch (account legacy, eu-west-1): the role was assumed"),
        "{out}"
    );
}
