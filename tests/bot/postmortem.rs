//! Action items and postmortem drafts, end to end: the golden incident (fixed clocks, built
//! through the emulator and the in-memory AWS) against the checked-in drafts, the graph kept
//! or explained, the resolve button, the command, the operator CLI and the template checks
//! at start.
//!
//! `UPDATE_GOLDEN=1 cargo test --test bot postmortem` rewrites `tests/golden/` after a
//! deliberate change; review the diff. The screenshot beside them is rewritten by the
//! browser test (`tests/postmortem_browser.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use warroom::app::App;
use warroom::aws::fake::{AwsFake, CloudWatchBackend, FakeAlarm, FakeTrailEvent};
use warroom::clock::ManualClock;
use warroom::config::Config;
use warroom::demo::{bot_scopes, config_for_emulator};
use warroom::domain::routing::{Glob, Route};
use warroom::domain::{IncidentId, UserId};
use warroom::postmortem::{self, Format, Templates};
use warroom::slack::render_support::RESOLVE_CASE_ACTION;
use warroom::slack_emulator::{EmulatorConfig, EnvelopeKind, Fault, Message, UploadedFile};

use crate::helpers::*;

/// The golden incident's day: its alarm fires at 12:56 UTC, the test's clock starts at 13:00.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 13, 0, 0).unwrap()
}

/// The load balancer's 5xx alarm that opens the golden incident.
const ALARM: &str = "checkout-alb-5xx";

/// A workspace whose bot has the scopes the manifest asks for (`files:write` included).
async fn world() -> World {
    assert!(bot_scopes().iter().any(|s| s == "files:write"));
    World::new().await
}

fn config(world: &World, tweak: impl FnOnce(&mut Config)) -> (Config, warroom::config::Secrets) {
    let (mut config, secrets) =
        config_for_emulator(&world.emu, &world.db_url, &[BOB, CAROL]).unwrap();
    // The golden incident has an hour without a stakeholder update; its draft is pinned to
    // the postmortem's own content, so no update nudge joins its timeline.
    config.escalation.update_every = None;
    tweak(&mut config);
    (config, secrets)
}

/// `[alarms]` on the AWS fake: one region, polled every 200 ms, and the checkout route
/// (SEV2, Alice on call, a runbook).
fn alarms_on(config: &mut Config, aws: &AwsFake) {
    config.aws.endpoint_url = Some(aws.endpoint_url());
    poll_alarms(config);
    config.alarms.routes.routes = vec![Route {
        responders: vec![UserId::parse(ALICE).unwrap()],
        runbook: Some("https://wiki.example.com/runbooks/checkout-5xx".to_string()),
        ..checkout_route()
    }];
}

/// The bot with the AWS fake as its AWS, on `clock`.
async fn start_with_aws(
    world: &World,
    clock: warroom::clock::SharedClock,
    aws: &AwsFake,
    tweak: impl FnOnce(&mut Config),
) -> App {
    let (mut config, secrets) = config(world, |c| alarms_on(c, aws));
    tweak(&mut config);
    world
        .launch(
            config,
            secrets,
            clock,
            Some(test_keys()),
            Connect::AtLeastOne,
        )
        .await
}

/// The bot's, the emulator's and AWS's clocks, moved together (AWS shares the bot's).
struct Clocks<'a> {
    bot: ManualClock,
    world: &'a World,
}

impl Clocks<'_> {
    fn at(&self, minutes: i64) {
        let t = t0() + Duration::minutes(minutes);
        self.bot.set(t);
        self.world.emu.set_clock(Some(t));
    }
}

/// Run a command that posts a notice; wait for the notice (so the next step happens later).
async fn command(world: &World, user: &str, channel: &str, text: &str) {
    let before = bot_count(world, channel);
    assert_eq!(world.command(user, channel, text).await, None, "{text}");
    world.bot_messages(channel, before + 1).await;
}

/// Wait for the war room an alarm opens: its channel, once the bot has posted `last` there.
async fn alarm_war_room(world: &World, alarm: &str, last: &str) -> String {
    let name = format!("-{alarm}");
    let channel = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .find(|c| c.name.starts_with("inc-") && c.name.ends_with(&name))
                .map(|c| c.id.clone())
        })
        .await
        .expect("the alarm opens a war room");
    bot_post(world, &channel, last).await;
    channel
}

/// Post as a person and wait until the bot recorded it.
async fn say(world: &World, user: &str, channel: &str, text: &str, thread: Option<&str>) -> String {
    let ts = world.emu.post_message(user, channel, text, thread).unwrap();
    let store = world.store().await;
    let want = ts.clone();
    wait_timeline(&store, channel, "the message", |e| {
        e.iter()
            .any(|e| e.slack_ts.as_deref() == Some(want.as_str()))
    })
    .await;
    ts
}

/// Wait for a completed upload in `channel` beyond the first `seen`.
async fn upload(world: &World, channel: &str, seen: usize) -> UploadedFile {
    let ch = channel.to_string();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.files
                .iter()
                .filter(|f| f.completed && f.channel.as_deref() == Some(ch.as_str()))
                .nth(seen)
                .cloned()
        })
        .await
        .expect("a file shared in the channel")
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compare with the checked-in file (or rewrite it with UPDATE_GOLDEN=1).
fn assert_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_GOLDEN=1 rewrites it)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn resolve_notice(world: &World, channel: &str) -> Message {
    world
        .emu
        .messages(channel)
        .into_iter()
        .rev()
        .find(|m| {
            m.blocks
                .as_ref()
                .is_some_and(|b| b.to_string().contains("postmortem_draft"))
        })
        .expect("the resolve notice with its button")
}

/// The load balancer's 5xx alarm, in ALARM since `at`.
fn checkout_alarm(name: &str, at: DateTime<Utc>) -> FakeAlarm {
    FakeAlarm {
        region: REGION.to_string(),
        name: name.to_string(),
        description: Some(
            "Checkout API returning 5xx behind the ALB | page the checkout on-call".to_string(),
        ),
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
        state_reason: "Threshold Crossed: 3 datapoints [412.0, 388.0, 97.0] were greater than the threshold (50.0)".to_string(),
        state_updated_at: at,
        tags: Vec::new(),
    }
}

/// The golden incident, the demo's story on fixed clocks: the ALB's 5xx alarm opens it at
/// 12:56 (war room, first post, graph, Health); then a backdated note, a pinned message with
/// Markdown-breaking characters, an edit, a thread reply, severity and lead changes, an AWS
/// Support case with AWS's reply, action items (one closed), two stakeholder updates, the
/// alarm's recovery, a 1h 4m quiet spell, the resolution and the case resolved.
/// Returns the channel.
async fn golden_incident(world: &World, clocks: &Clocks<'_>, aws: &AwsFake) -> String {
    clocks.at(0);
    // The deploy that raised the DB pool size, ten minutes before the alarm, and the role
    // it assumed (routine: left out).
    let mut deploy = FakeTrailEvent::write(
        REGION,
        "3f1c2e9a-5b7d-4c1e-9f00-000000000143",
        "UpdateService",
        t0() - Duration::minutes(10),
        "arn:aws:sts::123456789012:assumed-role/Deployer/ci-2026.11.20-3",
    );
    deploy.source = "ecs.amazonaws.com".to_string();
    deploy.resources = vec![("AWS::ECS::Service".to_string(), "checkout-api".to_string())];
    deploy.request_parameters = serde_json::json!({
        "cluster": "prod",
        "service": "checkout-api",
        "taskDefinition": "checkout-api:143",
    });
    aws.add_trail_event(deploy);
    aws.add_trail_event(FakeTrailEvent::write(
        REGION,
        "3f1c2e9a-5b7d-4c1e-9f00-000000000142",
        "AssumeRole",
        t0() - Duration::minutes(11),
        "arn:aws:iam::123456789012:user/ci",
    ));
    aws.set_alarm(checkout_alarm(ALARM, t0() - Duration::minutes(4)));
    // The war room's last step is what AWS Health says; the graph comes before it.
    let channel = alarm_war_room(world, ALARM, "AWS Health").await;
    clocks.at(2);
    let looking = say(world, BOB, &channel, "looking at the ALB dashboards", None).await;
    clocks.at(3);
    let evidence = say(
        world,
        CAROL,
        &channel,
        "5xx from `checkout-api` | only us-east-1\n# since ~12:55 <@U0BOB>",
        None,
    )
    .await;
    clocks.at(4);
    world.emu.pin_message(BOB, &channel, &evidence).unwrap();
    clocks.at(5);
    command(
        world,
        BOB,
        &channel,
        "note at 12:50 deploy 2026.11.20-3 raised the DB pool size per instance from 10 to 50",
    )
    .await;
    clocks.at(8);
    command(world, BOB, &channel, "sev 1").await;
    clocks.at(10);
    command(world, ALICE, &channel, "lead <@U0BOB|bob>").await;
    clocks.at(15);
    command(
        world,
        BOB,
        &channel,
        "status identified RDS connections exhausted by the reporting job",
    )
    .await;
    clocks.at(16);
    say(world, CAROL, &channel, "killed the job", Some(&looking)).await;
    clocks.at(17);
    world
        .emu
        .edit_message(
            BOB,
            &channel,
            &looking,
            "looking at the ALB and RDS dashboards",
        )
        .unwrap();
    clocks.at(20);
    assert_eq!(world.command(BOB, &channel, "escalate aws").await, None);
    bot_post(world, &channel, "opened AWS Support case").await;
    let case = aws.support_cases().remove(0);
    clocks.at(21);
    command(
        world,
        BOB,
        &channel,
        "action alarm on RDS connections at 80% <@U0CAROL>",
    )
    .await;
    clocks.at(22);
    command(
        world,
        ALICE,
        &channel,
        "action runbook for the reporting job",
    )
    .await;
    clocks.at(25);
    command(
        world,
        CAROL,
        &channel,
        "update Checkout fails for about a third of orders; the job that exhausted the database is stopped. Next update 13:55",
    )
    .await;
    clocks.at(30);
    aws.add_support_reply(
        &case.case_id,
        "Hello, this is AWS Support. checkout-db has been at its max_connections limit since 12:55; the engine is healthy. Consider RDS Proxy to pool connections.",
        t0() + Duration::minutes(30),
        &["checkout-db-connections.png"],
    );
    clocks.at(31);
    bot_post(world, &channel, "AWS Support replied").await;
    clocks.at(35);
    command(
        world,
        BOB,
        &channel,
        "status monitoring error rate back to normal",
    )
    .await;
    clocks.at(36);
    aws.set_alarm_state(
        REGION,
        ALARM,
        "OK",
        "Threshold Crossed: 1 datapoint [3.0] was not greater than the threshold (50.0)",
        t0() + Duration::minutes(36),
    );
    bot_post(world, &channel, "recovered (OK)").await;
    clocks.at(100);
    let quiet = say(world, CAROL, &channel, "all quiet for an hour", None).await;
    clocks.at(101);
    world
        .emu
        .add_reaction(ALICE, &channel, &quiet, "pushpin")
        .unwrap();
    clocks.at(103);
    command(world, ALICE, &channel, "action done 2").await;
    clocks.at(105);
    command(
        world,
        BOB,
        &channel,
        "update Checkout is back to normal since 13:35; the reporting job now reads from the replica",
    )
    .await;
    clocks.at(110);
    command(
        world,
        BOB,
        &channel,
        "resolve job moved to the read replica",
    )
    .await;
    // The AWS case is still open: Bob resolves it from the prompt.
    let prompt = bot_post(world, &channel, "is still open").await;
    clocks.at(111);
    world
        .emu
        .click_button(BOB, &channel, &prompt.ts, RESOLVE_CASE_ACTION)
        .await
        .expect("the click is acked");
    bot_post(world, &channel, "resolved AWS Support case").await;
    channel
}

#[tokio::test]
async fn the_resolve_button_drafts_the_golden_postmortem() {
    let world = world().await;
    let clocks = Clocks {
        bot: ManualClock::new(t0()),
        world: &world,
    };
    world.emu.set_clock(Some(t0()));
    let aws = AwsFake::start_with_clock(CloudWatchBackend::InMemory, Arc::new(clocks.bot.clone()))
        .await
        .expect("the AWS fake starts");
    let app = start_with_aws(&world, Arc::new(clocks.bot.clone()), &aws, |_| {}).await;
    let channel = golden_incident(&world, &clocks, &aws).await;
    let store = world.store().await;
    // Wait until the pushpin reaction is on record (it has no visible effect).
    wait_timeline(&store, &channel, "the pushpin", |e| {
        e.iter()
            .filter(|e| e.key_event && e.kind.as_str() == "message")
            .count()
            == 2
    })
    .await;
    // The graph is the channel's first file; its id is Slack's and differs each run.
    let graph = upload(&world, &channel, 0).await;
    assert_eq!(graph.filename, "checkout-alb-5xx.png");
    let redact = |text: &str| text.replace(&graph.id, "F0GRAPH0001");

    clocks.at(115);
    let notice = resolve_notice(&world, &channel);
    let outcome = world
        .emu
        .click_button(CAROL, &channel, &notice.ts, "postmortem_draft")
        .await
        .expect("the click is acked");
    assert!(outcome.payload().is_none(), "acked empty: {outcome:?}");
    let file = upload(&world, &channel, 1).await;
    assert_eq!(file.filename, "postmortem-inc-20261120-checkout-alb-5xx.md");
    assert_eq!(file.title.as_deref(), Some("Postmortem draft: incident #1"));
    let markdown = String::from_utf8(file.bytes.clone()).unwrap();
    assert_golden("postmortem.md", &redact(&markdown));
    // The draft links the graph as Slack shared it, and tells the AWS case once.
    assert!(
        markdown.contains(&format!(
            "[the file in Slack](https://emulator.slack.com/files/U0WARBOT/{}/checkout-alb-5xx.png)",
            graph.id
        )),
        "{markdown}"
    );
    let case = aws.support_cases().remove(0);
    // The case AWS got says what changed before the alarm.
    assert!(
        case.body.contains("AWS changes before the incident (CloudTrail, management writes):\n- 2026-11-20 12:50 UTC (6m before the alarm) UpdateService on checkout-api by Deployer/ci-2026.11.20-3 in us-east-1"),
        "{}",
        case.body
    );
    assert!(!case.body.contains("AssumeRole"), "{}", case.body);
    let opening = case.body.lines().next().unwrap();
    assert_eq!(
        markdown.matches(opening).count(),
        1,
        "the case's opening description is shown once: {markdown}"
    );

    // The file is shared with a short summary, in the channel, for everyone.
    let summary = file.initial_comment.clone().unwrap_or_default();
    assert!(
        summary.contains("Postmortem draft for incident #1"),
        "{summary}"
    );
    assert!(summary.contains("requested by <@U0CAROL>"), "{summary}");
    assert!(summary.contains("SEV1, resolved after 1h 54m"), "{summary}");
    assert!(summary.contains("2 action item(s) (1 open)"), "{summary}");
    assert!(summary.contains("checkout-alb-5xx"), "{summary}");
    let shared = world
        .emu
        .message(&channel, file.message_ts.as_deref().unwrap())
        .expect("the message sharing the file");
    assert_eq!(shared.text, summary);

    // The same incident as a self-contained HTML page, drafted at the same moment: the
    // graph embedded as the very PNG that was shared in Slack.
    let (config, _) = config(&world, |_| {});
    let source = warroom::store::postmortem_source(store.db(), IncidentId(1))
        .await
        .unwrap();
    let html = postmortem::draft(
        &Templates::load(None).unwrap(),
        &source,
        &postmortem::Options::from_config(&config),
        t0() + Duration::minutes(115),
        Format::Html,
    )
    .unwrap();
    use base64::Engine as _;
    let embedded = base64::engine::general_purpose::STANDARD
        .encode(&graph.bytes)
        .replace('/', "&#x2F;");
    assert!(
        html.contains(&format!("src=\"data:image&#x2F;png;base64,{embedded}\"")),
        "the page embeds the graph Slack got"
    );
    assert_eq!(html.matches("<img ").count(), 1);
    assert_golden("postmortem.html", &redact(&html));

    // Slack redelivers the click: recorded once, so no second draft. Bob's click after it
    // is the next draft (the worker goes in order: a duplicate would have come first).
    let click = world
        .emu
        .envelopes()
        .into_iter()
        .rev()
        .find(|e| e.kind == EnvelopeKind::Interactive)
        .expect("the click's envelope");
    let acked_clicks = world
        .emu
        .envelopes()
        .iter()
        .filter(|e| e.kind == EnvelopeKind::Interactive && e.acked_at.is_some())
        .count();
    world.emu.redeliver(&click.envelope_id).unwrap();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            (ws.envelopes
                .iter()
                .filter(|e| e.kind == EnvelopeKind::Interactive && e.acked_at.is_some())
                .count()
                == acked_clicks + 1)
                .then_some(())
        })
        .await
        .expect("the redelivery is acked");
    let outcome = world
        .emu
        .click_button(BOB, &channel, &notice.ts, "postmortem_draft")
        .await
        .unwrap();
    assert!(outcome.payload().is_none());
    let second = upload(&world, &channel, 2).await;
    let summary = second.initial_comment.unwrap_or_default();
    assert!(summary.contains("requested by <@U0BOB>"), "{summary}");
    app.stop().await.unwrap();
}

/// A graph AWS could not draw, and one Slack would not take: the draft says why, and the
/// page still shows the image warroom has.
#[tokio::test]
async fn a_graph_that_could_not_be_posted_is_explained_in_the_draft() {
    let world = world().await;
    let aws = AwsFake::start(CloudWatchBackend::InMemory)
        .await
        .expect("the AWS fake starts");
    // A route of its own for the second alarm, so it opens a second incident.
    let app = start_with_aws(&world, Arc::new(warroom::clock::SystemClock), &aws, |c| {
        let mut api = c.alarms.routes.routes[0].clone();
        api.name = "api".to_string();
        api.matcher.alarm_name = Some(Glob::new("checkout-api-*"));
        c.alarms.routes.routes.insert(0, api);
    })
    .await;
    let templates = Templates::load(None).unwrap();
    let options = postmortem::Options::from_config(&Config::default());
    let store = world.store().await;
    let drafts = |source: &warroom::store::PostmortemSource| {
        let md =
            postmortem::draft(&templates, source, &options, Utc::now(), Format::Markdown).unwrap();
        let html =
            postmortem::draft(&templates, source, &options, Utc::now(), Format::Html).unwrap();
        (md, html)
    };

    // AWS fails to draw the first one.
    aws.fail_widget_images(true);
    aws.set_alarm(checkout_alarm("checkout-alb-5xx", Utc::now()));
    let first = alarm_war_room(&world, "checkout-alb-5xx", "AWS Health").await;
    let unavailable = bot_post(&world, &first, "is unavailable").await;
    assert!(world.emu.files(&first).is_empty());
    let source = warroom::store::postmortem_source(
        store.db(),
        incident_in(&store, &first).await.incident.id,
    )
    .await
    .unwrap();
    let (md, html) = drafts(&source);
    let graphs = md
        .split("### Graphs")
        .nth(1)
        .and_then(|g| g.split("\n## ").next())
        .unwrap_or_default();
    assert!(
        graphs.contains("- checkout-alb-5xx around the breach, posted ")
            && graphs.contains("_(no graph: ")
            && graphs.contains("InternalServiceFault"),
        "{graphs}\n(the channel was told: {})",
        unavailable.text
    );
    assert!(!html.contains("<img "), "no image to show");
    assert!(html.contains("No graph: "), "{html}");

    // Slack refuses the second one: the page still embeds the image AWS drew.
    aws.fail_widget_images(false);
    world.emu.inject_fault(
        "files.getUploadURLExternal",
        Fault::Error("file_uploads_disabled".to_string()),
        1,
    );
    aws.set_alarm(checkout_alarm("checkout-api-5xx", Utc::now()));
    let second = alarm_war_room(&world, "checkout-api-5xx", "AWS Health").await;
    let source = warroom::store::postmortem_source(
        store.db(),
        incident_in(&store, &second).await.incident.id,
    )
    .await
    .unwrap();
    let (md, html) = drafts(&source);
    assert!(
        md.contains(
            "_(not shared in Slack: Slack refused the upload (file\\_uploads\\_disabled))_"
        ),
        "{md}"
    );
    assert!(html.contains("<img class=\"graph\" src=\"data:image&#x2F;png;base64,"));
    assert!(html.contains("Not shared in Slack: Slack refused the upload (file_uploads_disabled)."));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn action_items_are_added_listed_and_closed() {
    let world = world().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Queue backlog").await;

    let empty = world.command(BOB, &channel, "actions").await.unwrap();
    assert!(empty.contains("no action items yet"), "{empty}");

    command(
        &world,
        BOB,
        &channel,
        "action add a lag alarm <!channel> <@U0CAROL|carol>",
    )
    .await;
    let posted = world.bot_messages(&channel, 2).await;
    let text = &posted[1].text;
    assert!(
        text.contains("added action item 1: add a lag alarm &lt;!channel&gt;"),
        "{text}"
    );
    assert!(text.contains("owner <@U0CAROL>"), "{text}");
    command(&world, ALICE, &channel, "action scale the consumers").await;

    let list = world.command(DAVE, &channel, "actions").await.unwrap();
    assert!(list.contains("(2 open, 0 done)"), "{list}");
    assert!(
        list.contains("1. add a lag alarm &lt;!channel&gt; — <@U0CAROL> — open"),
        "{list}"
    );
    assert!(
        list.contains("2. scale the consumers — _no owner_ — open"),
        "{list}"
    );

    command(&world, CAROL, &channel, "action done 1").await;
    let posted = world.bot_messages(&channel, 4).await;
    assert!(
        posted[3].text.contains("<@U0CAROL> closed action item 1"),
        "{}",
        posted[3].text
    );
    let list = world.command(DAVE, &channel, "actions").await.unwrap();
    assert!(list.contains("(1 open, 1 done)"), "{list}");
    assert!(list.contains("1. ~add a lag alarm"), "{list}");

    // Closing again, or a number that does not exist: explained privately, nothing posted.
    let seen = world.ephemeral_count(BOB);
    assert_eq!(world.command(BOB, &channel, "action done 1").await, None);
    let reply = world.ephemeral_after(BOB, seen).await;
    assert!(
        reply.contains("action item 1 is already done (closed by <@U0CAROL>"),
        "{reply}"
    );
    assert_eq!(world.command(BOB, &channel, "action done 9").await, None);
    let reply = world.ephemeral_after(BOB, seen + 1).await;
    assert!(reply.contains("has no action item 9"), "{reply}");
    // A typo is a usage error in the ack.
    let usage = world
        .command(BOB, &channel, "action done two")
        .await
        .unwrap();
    assert!(usage.contains("\"two\" is not an action number"), "{usage}");
    assert_eq!(world.bot_messages(&channel, 4).await.len(), 4);

    // On the timeline: three key-event notes with what happened.
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "three action notes", |e| {
        e.iter()
            .filter(|e| e.text.starts_with("action item"))
            .count()
            == 3
    })
    .await;
    let notes: Vec<&str> = entries
        .iter()
        .filter(|e| e.text.starts_with("action item"))
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(
        notes,
        [
            "action item 1: add a lag alarm <!channel> (owner U0CAROL)",
            "action item 2: scale the consumers",
            "action item 1 done: add a lag alarm <!channel>",
        ]
    );
    assert!(entries
        .iter()
        .filter(|e| e.text.starts_with("action item"))
        .all(|e| e.key_event));
}

#[tokio::test]
async fn the_postmortem_command_uploads_a_draft_of_an_open_incident() {
    let world = world().await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Search is slow sev2").await;
    say(
        &world,
        BOB,
        &channel,
        "p99 | 4s `search-api` # hot shard",
        None,
    )
    .await;
    assert_eq!(world.command(BOB, &channel, "postmortem").await, None);
    let file = upload(&world, &channel, 0).await;
    let md = String::from_utf8(file.bytes).unwrap();
    assert!(md.starts_with("# Postmortem: Search is slow\n"), "{md}");
    assert!(md.contains("| Status | investigating |"), "{md}");
    assert!(md.contains("| Resolved | not yet |"), "{md}");
    assert!(
        md.contains("p99 \\| 4s \\`search-api\\` \\# hot shard"),
        "{md}"
    );
    let summary = file.initial_comment.unwrap_or_default();
    assert!(summary.contains("still investigating"), "{summary}");

    // Outside an incident channel: refused privately, nothing uploaded.
    let reply = world
        .command(ALICE, &world.ops, "postmortem")
        .await
        .unwrap();
    assert!(reply.contains("inside an incident channel"), "{reply}");
    assert_eq!(world.emu.workspace().files.len(), 1);
}

#[tokio::test]
async fn without_files_write_the_caller_is_told_there_is_no_draft_with_a_reference() {
    let scopes = bot_scopes()
        .into_iter()
        .filter(|s| s != "files:write")
        .collect();
    let world = World::with_config(EmulatorConfig {
        scopes,
        ..EmulatorConfig::default()
    })
    .await;
    let _bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Cache misses").await;
    let seen = world.ephemeral_count(BOB);
    assert_eq!(world.command(BOB, &channel, "postmortem").await, None);
    let reply = world.ephemeral_after(BOB, seen).await;
    assert!(
        reply.contains("the postmortem draft could not be posted"),
        "{reply}"
    );
    // What it means and a reference for the operators; Slack's answer stays in the log.
    assert!(reply.contains("(reference `ev-"), "{reply}");
    assert!(!reply.contains("missing_scope"), "{reply}");
    assert!(world.emu.workspace().files.iter().all(|f| !f.completed));
}

/// Write a config file for the operator commands, with `extra` TOML appended.
fn config_file(world: &World, extra: &str) -> PathBuf {
    let path = world.dir.path().join("warroom.toml");
    std::fs::write(
        &path,
        format!("[database]\nurl = \"{}\"\n{extra}", world.db_url),
    )
    .unwrap();
    path
}

async fn warroom(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env_remove("WARROOM_CONFIG")
        .output()
        .await
        .expect("warroom runs")
}

#[tokio::test]
async fn the_cli_writes_drafts_and_check_config_reports_a_broken_template_with_its_line() {
    let world = world().await;
    let bot = world.start_bot().await;
    let channel = world.declare(ALICE, "Disk full on db-1 sev1").await;
    command(&world, BOB, &channel, "resolve cleaned up old WAL files").await;
    bot.stop().await.unwrap();

    let cfg = config_file(&world, "");
    let cfg = cfg.to_str().unwrap();
    let out = warroom(&["postmortem", "1", "--config", cfg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# Postmortem: Disk full on db-1\n"), "{md}");
    assert!(md.contains("resolved: cleaned up old WAL files"), "{md}");

    let page = world.dir.path().join("pm.html");
    let out = warroom(&[
        "postmortem",
        "1",
        "--config",
        cfg,
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Disk full on db-1"));

    let out = warroom(&["postmortem", "7", "--config", cfg]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no incident #7"));
    let out = warroom(&["postmortem", "1", "--config", cfg, "--format", "pdf"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use md or html"));

    // A custom template that does not parse: check-config names the file and the line.
    let dir = world.dir.path().join("templates");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("postmortem.md.tera"),
        "# {{ incident.title }}\n\n<p>{{ incident.title </p>\n{{ incident.status }}\n",
    )
    .unwrap();
    let cfg = config_file(
        &world,
        &format!("[postmortem]\ntemplate_dir = \"{}\"\n", dir.display()),
    );
    let cfg = cfg.to_str().unwrap();
    let out = warroom(&["check-config", "--config", cfg]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("postmortem template postmortem.md.tera"),
        "{err}"
    );
    assert!(err.contains("templates/postmortem.md.tera"), "{err}");
    assert!(err.contains("line 3"), "{err}");

    // Fixed: check-config passes and the CLI uses the custom template.
    std::fs::write(
        dir.join("postmortem.md.tera"),
        "Custom: {{ incident.title }} ({{ incident.duration }})\n",
    )
    .unwrap();
    let out = warroom(&["check-config", "--config", cfg]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = warroom(&["postmortem", "1", "--config", cfg]).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Custom: Disk full on db-1 (0m)\n"
    );
}

#[tokio::test]
async fn a_broken_custom_template_stops_the_bot_at_start() {
    let world = world().await;
    let dir = world.dir.path().join("templates");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("postmortem.html.tera"),
        "<p>{{ incident.nope }}</p>",
    )
    .unwrap();
    let (config, secrets) = config(&world, |c| c.postmortem.template_dir = Some(dir.clone()));
    let clock = Arc::new(ManualClock::new(t0()));
    let err = App::build(config, secrets, clock)
        .await
        .err()
        .expect("refused");
    let err = format!("{err:#}");
    assert!(
        err.contains("postmortem template postmortem.html.tera"),
        "{err}"
    );
    assert!(err.contains("does not render"), "{err}");
    assert_eq!(world.emu.connection_count(), 0, "never connected");
}

/// A custom template must not print the environment (the bot token) into a draft that is
/// uploaded to Slack: `check-config` refuses it, naming the function, and shows no secret.
#[tokio::test]
async fn check_config_refuses_a_template_that_reads_the_environment() {
    let world = world().await;
    let dir = world.dir.path().join("templates");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("postmortem.md.tera"),
        "# {{ incident.title }}\n{% if incident.id == 424242 %}{{ get_env(name=\"SLACK_BOT_TOKEN\") }}{% endif %}\n",
    )
    .unwrap();
    let cfg = config_file(
        &world,
        &format!("[postmortem]\ntemplate_dir = \"{}\"\n", dir.display()),
    );
    let token = "xoxb-1111-2222-ZZZZtemplatetokenZZZZ";
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["check-config", "--config", cfg.to_str().unwrap()])
        .env_remove("WARROOM_CONFIG")
        .env("SLACK_BOT_TOKEN", token)
        .output()
        .await
        .expect("warroom runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("postmortem template postmortem.md.tera") && err.contains("get_env"),
        "{err}"
    );
    assert!(!err.contains(token) && !String::from_utf8_lossy(&out.stdout).contains(token));
}
