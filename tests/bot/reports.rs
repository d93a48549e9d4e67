//! The managers' report from incidents whose times are known: three incidents built
//! through the emulator on a hand-moved clock (one opened by an alarm of the in-memory AWS,
//! with an AWS Support case AWS answers; two declared, one with a case AWS never answers),
//! then `warroom report` (the real binary) checked number by number, `/incident stats`
//! (to the caller only) and the weekly report in the status channel and the managers' DMs.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use warroom::app::App;
use warroom::aws::fake::{AwsFake, CloudWatchBackend, FakeAlarm};
use warroom::clock::{Clock, ManualClock};
use warroom::config::Config;
use warroom::domain::routing::Route;
use warroom::domain::schedule::Weekly;
use warroom::domain::UserId;
use warroom::slack::render::plain_text;

use crate::helpers::*;

/// Monday 16 November 2026, 10:00 UTC: the test's clock starts here.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 10, 0, 0).unwrap()
}

const ALARM: &str = "checkout-alb-5xx";
const MANAGER: &str = "U0MANAGER";

/// The bot's and the emulator's clocks, moved together (the AWS fake shares the bot's).
struct Clocks<'a> {
    bot: ManualClock,
    world: &'a World,
}

impl Clocks<'_> {
    fn set(&self, t: DateTime<Utc>) {
        self.bot.set(t);
        self.world.emu.set_clock(Some(t));
    }

    /// `minutes` after [`t0`].
    fn at(&self, minutes: i64) {
        self.set(t0() + Duration::minutes(minutes));
    }
}

/// The bot with `[alarms]` on the in-memory AWS (the checkout route, SEV2) and `tweak`.
async fn start(
    world: &World,
    clock: &ManualClock,
    aws: &AwsFake,
    tweak: impl FnOnce(&mut Config),
) -> App {
    let clock = Arc::new(clock.clone());
    world
        .start_aws_bot(Some(aws), clock, Connect::AtLeastOne, |config| {
            config.escalation.update_every = None;
            poll_alarms(config);
            config.alarms.routes.routes = vec![Route {
                responders: vec![UserId::parse(ALICE).unwrap()],
                ..checkout_route()
            }];
            tweak(config);
        })
        .await
}

/// Run a command that posts a notice; wait for the notice.
async fn command(world: &World, user: &str, channel: &str, text: &str) {
    let before = bot_count(world, channel);
    assert_eq!(world.command(user, channel, text).await, None, "{text}");
    world.bot_messages(channel, before + 1).await;
}

/// Post as a person and wait until the bot recorded it.
async fn say(world: &World, user: &str, channel: &str, text: &str) {
    let ts = world.emu.post_message(user, channel, text, None).unwrap();
    let store = world.store().await;
    wait_timeline(&store, channel, "the message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
}

/// The three incidents, every time known (minutes after [`t0`]):
/// - #1, opened by the checkout alarm that fired at -4 (warroom routed it at 0): Bob
///   speaks at 1, an urgent AWS case at 20 that AWS answers at 30, monitoring at 35,
///   resolved at 50, a postmortem drafted at 51.
/// - #2, SEV1, declared at 60: Carol speaks at 66, monitoring at 90, an action item for
///   Carol at 95 (left open), resolved at 100; no postmortem.
/// - #3, SEV3, declared at 120: Bob speaks at 121, a high AWS case at 125 that AWS never
///   answers; still open.
async fn three_incidents(world: &World, clocks: &Clocks<'_>, aws: &AwsFake) {
    clocks.at(0);
    aws.set_alarm(FakeAlarm {
        region: REGION.to_string(),
        name: ALARM.to_string(),
        description: Some("Checkout API returning 5xx".to_string()),
        namespace: "AWS/ApplicationELB".to_string(),
        metric_name: "HTTPCode_Target_5XX_Count".to_string(),
        dimensions: vec![(
            "LoadBalancer".to_string(),
            "app/checkout-alb/50dc6c495c0c9188".to_string(),
        )],
        statistic: "Sum".to_string(),
        period_secs: 60,
        threshold: 50.0,
        comparison: "GreaterThanThreshold".to_string(),
        state: "ALARM".to_string(),
        state_reason: "Threshold Crossed".to_string(),
        state_updated_at: t0() - Duration::minutes(4),
        tags: Vec::new(),
    });
    let one = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .find(|c| c.name.starts_with("inc-") && c.name.ends_with(ALARM))
                .map(|c| c.id.clone())
        })
        .await
        .expect("the alarm opens a war room");
    // The war room's last step is what AWS Health says.
    bot_post(world, &one, "AWS Health").await;
    clocks.at(1);
    say(world, BOB, &one, "looking at the ALB").await;
    clocks.at(20);
    assert_eq!(world.command(BOB, &one, "escalate aws urgent").await, None);
    bot_post(world, &one, "opened AWS Support case").await;
    let case = aws.support_cases().remove(0);
    clocks.at(30);
    aws.add_support_reply(&case.case_id, "We are looking.", clocks.bot.now(), &[]);
    clocks.at(31);
    bot_post(world, &one, "AWS Support replied").await;
    clocks.at(35);
    command(world, BOB, &one, "status monitoring errors back to normal").await;
    clocks.at(50);
    command(world, BOB, &one, "resolve rolled back").await;
    clocks.at(51);
    let files = world.emu.workspace().files.len();
    assert_eq!(world.command(BOB, &one, "postmortem").await, None);
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            (ws.files
                .iter()
                .filter(|f| f.completed && f.filename.starts_with("postmortem-"))
                .count()
                > 0
                && ws.files.len() > files)
                .then_some(())
        })
        .await
        .expect("the postmortem draft is uploaded");
    // Recorded after the upload: wait for it before anything later happens.
    let store = world.store().await;
    wait_until(DEADLINE, "the draft to be recorded", async || {
        let facts = warroom::store::reports::facts(
            store.db(),
            warroom::domain::report::Period {
                since: t0() - Duration::hours(1),
                until: t0() + Duration::hours(1),
            },
        )
        .await
        .unwrap();
        facts
            .incidents
            .first()
            .is_some_and(|i| i.postmortem_drafted)
    })
    .await;

    clocks.at(60);
    let two = world.declare(ALICE, "Queue backlog sev1").await;
    clocks.at(66);
    say(world, CAROL, &two, "the consumers are stuck").await;
    clocks.at(90);
    command(world, CAROL, &two, "status monitoring consumers restarted").await;
    clocks.at(95);
    command(
        world,
        CAROL,
        &two,
        "action add a queue depth alarm <@U0CAROL>",
    )
    .await;
    clocks.at(100);
    command(world, ALICE, &two, "resolve").await;

    clocks.at(120);
    let three = world.declare(BOB, "Slow search sev3").await;
    clocks.at(121);
    say(world, BOB, &three, "p99 is 4s").await;
    clocks.at(125);
    assert_eq!(world.command(BOB, &three, "escalate aws high").await, None);
    bot_post(world, &three, "opened AWS Support case").await;
}

/// `warroom <args>` (the real binary) with a config file naming only the database.
async fn warroom(world: &World, args: &[&str]) -> String {
    let config = world.dir.path().join("report.toml");
    std::fs::write(&config, format!("[database]\nurl = \"{}\"\n", world.db_url)).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .env_remove("WARROOM_CONFIG")
        .output()
        .await
        .expect("warroom runs");
    assert!(
        out.status.success(),
        "warroom {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stat(count: u64, p50: f64, p90: f64) -> Value {
    json!({"count": count, "p50_minutes": p50, "p90_minutes": p90})
}

#[tokio::test]
async fn the_report_of_known_incidents_number_by_number() {
    let world = World::new().await;
    let clocks = Clocks {
        bot: ManualClock::new(t0()),
        world: &world,
    };
    clocks.at(0);
    let aws = AwsFake::start_with_clock(CloudWatchBackend::InMemory, Arc::new(clocks.bot.clone()))
        .await
        .expect("the AWS fake starts");
    let app = start(&world, &clocks.bot, &aws, |_| {}).await;
    three_incidents(&world, &clocks, &aws).await;
    clocks.at(130);

    // The whole day, from the binary: every figure.
    let out = warroom(
        &world,
        &[
            "report",
            "--since",
            "2026-11-16",
            "--until",
            "2026-11-17",
            "--format",
            "json",
        ],
    )
    .await;
    let r: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(r["since"], "2026-11-16T00:00:00Z");
    assert_eq!(r["until"], "2026-11-17T00:00:00Z");
    assert_eq!(r["incidents"], 3);
    assert_eq!(r["resolved"], 2);
    assert_eq!(
        r["by_severity"],
        json!({"SEV1": 1, "SEV2": 1, "SEV3": 1, "SEV4": 0})
    );
    assert_eq!(r["by_route"], json!({"(none)": 2, "checkout": 1}));
    assert_eq!(
        r["by_aws_service"],
        json!({"(unknown)": 2, "ELASTICLOADBALANCING": 1})
    );
    assert_eq!(
        r["by_week"],
        json!([{"week": "2026-W47", "starts": "2026-11-16", "incidents": 3}])
    );
    // Detect: the alarm at -4, routed at 0.
    assert_eq!(r["time_to_detect"], stat(1, 4.0, 4.0));
    // Engage: 1 - (-4) = 5, 66 - 60 = 6, 121 - 120 = 1 → 1, 5, 6.
    assert_eq!(r["time_to_engage"], stat(3, 5.0, 6.0));
    // Escalate: 20 - (-4) = 24, 125 - 120 = 5 → 5, 24.
    assert_eq!(r["time_to_escalate"], stat(2, 5.0, 24.0));
    // Mitigate: 35 - (-4) = 39, 90 - 60 = 30; resolve: 54 and 40.
    assert_eq!(r["time_to_mitigate"], stat(2, 30.0, 39.0));
    assert_eq!(r["time_to_resolve"], stat(2, 40.0, 54.0));
    // AWS: the urgent case answered after 10 minutes (target 1h); the high one never
    // (opened 12:05, its 4h passed before midnight).
    assert_eq!(
        r["aws_first_response"],
        json!({
            "count": 1,
            "p50_minutes": 10.0,
            "p90_minutes": 10.0,
            "within_target": 1,
            "unanswered": 1,
            "unanswered_past_target": 1,
            "by_case_severity": [
                {"severity": "high", "target_minutes": 240.0, "cases": 1, "answered": 0, "within_target": 0},
                {"severity": "urgent", "target_minutes": 60.0, "cases": 1, "answered": 1, "within_target": 1},
            ]
        })
    );
    assert_eq!(r["without_postmortem"], json!([2]));
    let open = &r["open_action_items"];
    assert_eq!(open["count"], 1);
    assert_eq!(
        open["by_owner"],
        json!([{
            "owner": CAROL, "count": 1, "under_7_days": 1, "from_7_to_30_days": 0,
            "over_30_days": 0, "oldest_days": 0, "items": ["#2/1"]
        }])
    );
    assert_eq!(r["drills"], json!({"count": 0}));

    // A period that ends before #2 and #3: only #1.
    let morning = warroom(
        &world,
        &[
            "report",
            "--since",
            "2026-11-16",
            "--until",
            "2026-11-16T10:30:00Z",
            "--format",
            "json",
        ],
    )
    .await;
    let m: Value = serde_json::from_str(&morning).unwrap();
    assert_eq!(m["incidents"], 1);
    assert_eq!(m["without_postmortem"], json!([]));

    // The CSV has the same figures, one per row; the page is written to a file.
    let csv = warroom(
        &world,
        &[
            "report",
            "--since",
            "2026-11-16",
            "--until",
            "2026-11-17",
            "--format",
            "csv",
        ],
    )
    .await;
    for row in [
        "incidents,,3\r\n",
        "time_to_engage,p50_minutes,5\r\n",
        "time_to_escalate,p90_minutes,24\r\n",
        "aws_first_response,within_target,1\r\n",
        "without_postmortem,#2,1\r\n",
    ] {
        assert!(csv.contains(row), "{row:?} missing:\n{csv}");
    }
    let page = world.dir.path().join("report.html");
    let said = warroom(
        &world,
        &[
            "report",
            "--since",
            "2026-11-16",
            "--until",
            "2026-11-17",
            "--format",
            "html",
            "--out",
            page.to_str().unwrap(),
        ],
    )
    .await;
    assert!(said.contains("report of 3 incident(s)"), "{said}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<strong id=\"incidents\">3</strong>"),
        "{html}"
    );

    // `/incident stats` in #ops, by someone with no role: the short version, to Dave only.
    let ops_posts = bot_count(&world, &world.ops);
    let outcome = world
        .emu
        .slash_command(DAVE, &world.ops, "stats 7d")
        .await
        .expect("command acked");
    let payload = outcome.payload().expect("answered in the ack").clone();
    let text = plain_text(
        payload["text"].as_str().unwrap_or_default(),
        payload.get("blocks"),
    );
    for line in [
        "Incidents in the last 7 days",
        "3 incident(s), 2 resolved (SEV1 1 · SEV2 1 · SEV3 1 · SEV4 0)",
        "detect: 4m / 4m (1)",
        "engage: 5m / 6m (3)",
        "escalate to AWS: 5m / 24m (2)",
        "AWS first response: 10m / 10m (1); 1 of 2 case(s) answered within target, 1 unanswered",
        "mitigate: 30m / 39m (2)",
        "resolve: 40m / 54m (2)",
        "#2",
        "Action items open",
    ] {
        assert!(text.contains(line), "{line:?} missing: {text}");
    }
    assert_eq!(
        payload
            .get("response_type")
            .and_then(Value::as_str)
            .unwrap_or("ephemeral"),
        "ephemeral"
    );
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(
        bot_count(&world, &world.ops),
        ops_posts,
        "nothing posted for everyone"
    );

    // A period it does not know is explained with the usage line.
    let bad = world
        .command(DAVE, &world.ops, "stats forever")
        .await
        .unwrap();
    assert!(bad.contains("is not a period"), "{bad}");
    assert!(bad.contains("/incident stats [30d]"), "{bad}");
    app.stop().await.unwrap();
}

async fn weekly_posts(world: &World, channel: &str, n: usize) -> Vec<String> {
    let bot = world.emu.config().bot_user_id.clone();
    let ch = channel.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            let found: Vec<String> = ws
                .messages
                .get(&ch)?
                .iter()
                .filter(|m| m.user == bot)
                .map(shown)
                .filter(|t| t.contains("Weekly incident report"))
                .collect();
            (found.len() >= n).then_some(found)
        })
        .await
        .unwrap_or_else(|e| panic!("waiting for {n} weekly reports in {channel}: {e}"))
}

fn manager_dm(ws: &warroom::slack_emulator::Workspace) -> Option<String> {
    ws.channels
        .iter()
        .find(|c| c.is_im && c.im_user.as_deref() == Some(MANAGER))
        .map(|c| c.id.clone())
}

#[tokio::test]
async fn the_weekly_report_goes_to_the_status_channel_and_the_managers_each_monday() {
    let world = World::new().await;
    world.emu.add_user(MANAGER, "manager");
    let status = world.bot_channel("incident-status");
    // Thursday 12 November, 10:00 UTC.
    let thursday = Utc.with_ymd_and_hms(2026, 11, 12, 10, 0, 0).unwrap();
    let clocks = Clocks {
        bot: ManualClock::new(thursday),
        world: &world,
    };
    clocks.set(thursday);
    let aws = AwsFake::start_with_clock(CloudWatchBackend::InMemory, Arc::new(clocks.bot.clone()))
        .await
        .expect("the AWS fake starts");
    let status_id = status.clone();
    let app = start(&world, &clocks.bot, &aws, |c| {
        c.alarms.enabled = false;
        c.slack.status_channel = Some(warroom::domain::ChannelId::new(status_id));
        c.slack.managers = vec![UserId::parse(MANAGER).unwrap()];
        c.summary.every = None;
        c.summary.at = Vec::new();
        c.summary.timezone = chrono_tz::Europe::Berlin;
        c.summary.weekly = Some(Weekly::parse("mon 09:00", chrono_tz::Europe::Berlin).unwrap());
    })
    .await;
    let store = world.store().await;
    // The first one is due Monday the 16th, 09:00 in Berlin: 08:00 UTC.
    let pending = warroom::store::timers::pending_of_kind(store.db(), "weekly_report")
        .await
        .unwrap();
    let due: Vec<DateTime<Utc>> = pending.iter().map(|t| t.due_at).collect();
    assert_eq!(due, [Utc.with_ymd_and_hms(2026, 11, 16, 8, 0, 0).unwrap()]);

    world.declare(ALICE, "Cache misses sev2").await;
    // A minute early: nothing yet.
    clocks.set(Utc.with_ymd_and_hms(2026, 11, 16, 7, 59, 0).unwrap());
    app.service.kick_timers();
    wait_outbox_drained(&store).await;
    assert!(
        world
            .emu
            .messages(&status)
            .iter()
            .all(|m| !shown(m).contains("Weekly incident report")),
        "sent early"
    );
    clocks.set(Utc.with_ymd_and_hms(2026, 11, 16, 8, 0, 0).unwrap());
    app.service.kick_timers();
    let first = weekly_posts(&world, &status, 1).await;
    assert!(
        first[0].contains("the 7 days to Mon 16 Nov 2026 09:00 (Europe/Berlin)"),
        "{first:?}"
    );
    assert!(
        first[0].contains("1 incident(s), 0 resolved (SEV1 0 · SEV2 1 · SEV3 0 · SEV4 0)"),
        "{first:?}"
    );
    let dm = world
        .emu
        .wait_until(DEADLINE, manager_dm)
        .await
        .expect("a DM to the manager");
    let dm_posts = weekly_posts(&world, &dm, 1).await;
    assert_eq!(dm_posts, first);

    // Wednesday: another incident, resolved after 30 minutes.
    clocks.set(Utc.with_ymd_and_hms(2026, 11, 18, 14, 0, 0).unwrap());
    let wednesday = world.declare(BOB, "Login errors sev3").await;
    clocks.set(Utc.with_ymd_and_hms(2026, 11, 18, 14, 30, 0).unwrap());
    command(&world, BOB, &wednesday, "resolve").await;
    // The next Monday: only this week's incident.
    clocks.set(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap());
    app.service.kick_timers();
    let both = weekly_posts(&world, &status, 2).await;
    assert!(
        both[1].contains("1 incident(s), 1 resolved (SEV1 0 · SEV2 0 · SEV3 1 · SEV4 0)"),
        "{both:?}"
    );
    assert!(both[1].contains("resolve: 30m / 30m (1)"), "{both:?}");
    assert!(both[1].contains("#2"), "{both:?}");
    weekly_posts(&world, &dm, 2).await;
    // Sent once each: the claim and its messages are one unit of work.
    wait_outbox_drained(&store).await;
    assert_eq!(weekly_posts(&world, &status, 2).await.len(), 2);
    let next: Vec<DateTime<Utc>> =
        warroom::store::timers::pending_of_kind(store.db(), "weekly_report")
            .await
            .unwrap()
            .iter()
            .map(|t| t.due_at)
            .collect();
    assert_eq!(next, [Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()]);
    app.stop().await.unwrap();
}
