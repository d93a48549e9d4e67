//! Drills: `/incident drill` opens a rehearsal from a synthetic alarm on a route, in a
//! `drill-…` channel that says DRILL; the AWS Support case is a dry run (nothing reaches
//! the AWS fake) unless a member of the support group asked for `--real-case`; drills are
//! numbered apart, listed apart, and scored on resolve against `[drills] targets`.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use warroom::app::App;
use warroom::aws::fake::{AwsFake, CloudWatchBackend};
use warroom::clock::ManualClock;
use warroom::config::Config;
use warroom::demo::config_for_emulator;
use warroom::domain::routing::{Glob, Matcher, Route};
use warroom::domain::{IncidentId, Severity, UserId};
use warroom::slack_emulator::Message;

use crate::helpers::*;

const SUPPORT_GROUP: &str = "S0AWSADMIN";
const AWS_ADMIN: &str = "U0AWSADMIN1";

/// A whole minute near now: the bot's, the emulator's and AWS's clocks start here.
fn t0() -> DateTime<Utc> {
    let now = Utc::now();
    Utc.timestamp_opt(now.timestamp() - now.timestamp() % 60, 0)
        .unwrap()
}

/// The bot with a `checkout` route (SEV2, Carol responds, a runbook), the AWS Support
/// group, the in-memory AWS fake, and `[drills] targets` with a 4 minute lead target.
async fn start(world: &World, clock: &ManualClock, aws: &AwsFake) -> App {
    let (config, secrets) = config(world, aws);
    let clock = Arc::new(clock.clone());
    world
        .launch(config, secrets, clock, Some(test_keys()), Connect::OneMore)
        .await
}

fn config(world: &World, aws: &AwsFake) -> (Config, warroom::config::Secrets) {
    let (mut config, secrets) = config_for_emulator(&world.emu, &world.db_url, &[BOB]).unwrap();
    config.database.failover_after = TEST_FAILOVER;
    config.aws.endpoint_url = Some(aws.endpoint_url());
    config.escalation.support_usergroup = Some(SUPPORT_GROUP.into());
    config.alarms.routes.routes = vec![Route {
        name: "checkout".to_string(),
        matcher: Matcher {
            alarm_name: Some(Glob::new("checkout-*-5xx")),
            namespace: Some(Glob::new("AWS/ApplicationELB")),
            ..Matcher::default()
        },
        severity: Severity::Sev2,
        responders: vec![UserId::parse(CAROL).unwrap()],
        usergroup: None,
        runbook: Some("https://wiki.example.com/runbooks/checkout".to_string()),
        opens_incident: true,
        for_health: false,
        incident_type: None,
    }];
    config.drills.targets.lead = Duration::minutes(4);
    (config, secrets)
}

/// The bot's and the emulator's clocks, moved together to `minutes` after `start`.
struct Clocks<'a> {
    bot: ManualClock,
    start: DateTime<Utc>,
    world: &'a World,
    app: Option<&'a App>,
}

impl Clocks<'_> {
    fn at(&self, minutes: i64) {
        let t = self.start + Duration::minutes(minutes);
        self.bot.set(t);
        self.world.emu.set_clock(Some(t));
        if let Some(app) = self.app {
            app.service.kick_timers();
        }
    }
}

/// Start a drill from #ops and wait for its channel (name starting `prefix`) with its
/// pinned header; returns the channel id.
async fn drill(world: &World, user: &str, text: &str, prefix: &str) -> String {
    let before: Vec<String> = world.emu.channels().into_iter().map(|c| c.id).collect();
    assert_eq!(world.command(user, &world.ops, text).await, None, "{text}");
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .filter(|c| c.name.starts_with(prefix) && !before.contains(&c.id))
                .find(|c| {
                    ws.messages
                        .get(&c.id)
                        .is_some_and(|m| m.iter().any(|m| m.user == bot && m.pinned))
                })
                .map(|c| c.id.clone())
        })
        .await
        .expect("a drill channel with a pinned header")
}

/// Run a command in `channel` and wait until warroom has posted `needle` there.
async fn command(world: &World, user: &str, channel: &str, text: &str, needle: &str) -> Message {
    assert_eq!(world.command(user, channel, text).await, None, "{text}");
    bot_post(world, channel, needle).await
}

#[tokio::test]
async fn a_drill_runs_for_real_but_its_case_is_a_dry_run_and_it_is_scored() {
    let world = World::new().await;
    let aws = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    let start_at = t0();
    let bot_clock = ManualClock::new(start_at);
    world.emu.set_clock(Some(start_at));
    let app = start(&world, &bot_clock, &aws).await;
    let clocks = Clocks {
        bot: bot_clock.clone(),
        start: start_at,
        world: &world,
        app: Some(&app),
    };
    let store = world.store().await;
    let date = start_at.format("%Y%m%d").to_string();

    // Alice starts a drill on the checkout route: its own channel, DRILL in the header,
    // the synthetic alarm with a graph placeholder and no Health check.
    let ch = drill(&world, ALICE, "drill checkout", "drill-").await;
    let channel = world.emu.channel(&ch).unwrap();
    assert_eq!(channel.name, format!("drill-{date}-checkout"));
    let header = world.wait_header(&ch, &["DRILL", "SEV2"]).await;
    assert!(header.contains("drill #1"), "{header}");
    let first = bot_post(&world, &ch, "Synthetic alarm").await;
    let text = shown(&first);
    for needle in [
        "DRILL",
        "checkout-drill-5xx",
        "Graph placeholder",
        "drill: AWS Health not checked",
        "dry run",
        "Runbook",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
    let record = incident_in(&store, &ch).await;
    assert_eq!(record.incident.id, IncidentId(-1));
    assert_eq!(record.incident.lead, None, "a drill starts without a lead");
    for member in [ALICE, BOB, CAROL] {
        assert!(
            world
                .emu
                .channel(&ch)
                .unwrap()
                .members
                .iter()
                .any(|m| m == member),
            "{member} was not invited"
        );
    }
    // The caller is told where it is.
    let reply = world.ephemeral_after(ALICE, 0).await;
    assert!(reply.contains("DRILL drill #1 started"), "{reply}");

    // Listed apart: no open incident, one open drill.
    let list = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(list.contains("No open incidents"), "{list}");
    assert!(list.contains("*Drills*"), "{list}");
    assert!(list.contains("drill #1"), "{list}");

    // The response, on known steps of the clock.
    clocks.at(2);
    let ts = world
        .emu
        .post_message(CAROL, &ch, "looking at the ALB", None)
        .unwrap();
    wait_timeline(&store, &ch, "Carol's message", |e| {
        e.iter().any(|e| e.slack_ts.as_deref() == Some(ts.as_str()))
    })
    .await;
    clocks.at(5);
    let notice = command(&world, CAROL, &ch, &format!("lead <@{CAROL}>"), "the lead").await;
    assert!(shown(&notice).contains("DRILL"), "{}", shown(&notice));
    clocks.at(15);
    command(
        &world,
        CAROL,
        &ch,
        "status identified bad deploy",
        "identified",
    )
    .await;
    clocks.at(20);
    let dry = command(&world, CAROL, &ch, "escalate aws high", "Dry run").await;
    let dry = shown(&dry);
    assert!(dry.contains("did not call AWS"), "{dry}");
    assert!(dry.contains("Subject"), "{dry}");
    assert!(dry.contains("high"), "{dry}");
    assert_eq!(
        aws.call_count("CreateCase"),
        0,
        "a drill reached CreateCase"
    );
    assert!(aws.support_cases().is_empty());
    let kept = warroom::store::drills::get(store.db(), IncidentId(-1))
        .await
        .unwrap()
        .unwrap();
    let case = kept.dry_run.expect("the dry-run case is recorded");
    assert_eq!(case.severity.code(), "high");
    assert!(
        case.subject.contains("checkout-drill-5xx"),
        "{}",
        case.subject
    );
    // A second ask is told the dry run stands; still nothing sent.
    let seen = world.ephemeral_count(CAROL);
    world.command(CAROL, &ch, "escalate aws").await;
    let again = world.ephemeral_after(CAROL, seen).await;
    assert!(again.contains("dry run"), "{again}");
    assert_eq!(aws.call_count("CreateCase"), 0);

    clocks.at(70);
    command(&world, CAROL, &ch, "resolve", "resolved the incident").await;
    let card = shown(&bot_post(&world, &ch, "Scorecard of drill #1").await);
    for line in [
        "First responder message: *2m 00s* (target 5m 00s)",
        "Lead set: *5m 00s* (target 4m 00s)",
        "Status identified: *15m 00s* (target 30m 00s)",
        "AWS decision (case or not AWS): *20m 00s* (target 30m 00s)",
        "Resolved: *1h 10m* (target 2h 0m)",
        "4 of 5 targets met",
        "The first scored drill on this route",
    ] {
        assert!(card.contains(line), "{line:?} missing from {card}");
    }
    assert!(card.contains(":x: Lead set"), "{card}");

    // The next real incident is #1; the next drill is drill #2 and compares with #1.
    let real = world.declare(ALICE, "Real checkout errors sev2").await;
    assert_eq!(incident_in(&store, &real).await.incident.id, IncidentId(1));
    clocks.at(80);
    let second = drill(&world, BOB, "drill checkout sev3", "drill-").await;
    assert_eq!(
        world.emu.channel(&second).unwrap().name,
        format!("drill-{date}-checkout-2")
    );
    let record = incident_in(&store, &second).await;
    assert_eq!(record.incident.id, IncidentId(-2));
    assert_eq!(record.incident.severity, Severity::Sev3);
    clocks.at(81);
    command(&world, BOB, &second, "resolve", "resolved the incident").await;
    let card = shown(&bot_post(&world, &second, "Scorecard of drill #2").await);
    assert!(card.contains("First responder message: *missed*"), "{card}");
    assert!(card.contains("before: drill #1 2m 00s"), "{card}");
    assert!(
        card.contains("Resolved: *1m 00s* (target 2h 0m) · before: drill #1 1h 10m"),
        "{card}"
    );

    // The postmortem draft of a drill says so, in the file and in the message beside it.
    assert_eq!(world.command(BOB, &second, "postmortem").await, None);
    let second_id = second.clone();
    let file = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.files
                .iter()
                .find(|f| f.completed && f.channel.as_deref() == Some(second_id.as_str()))
                .cloned()
        })
        .await
        .expect("the drill's postmortem draft is shared in its channel");
    let comment = file.initial_comment.clone().unwrap_or_default();
    assert!(comment.starts_with("DRILL · "), "{comment}");
    assert!(comment.contains("incident drill #2"), "{comment}");
    let md = String::from_utf8(file.bytes.clone()).unwrap();
    assert!(md.contains("DRILL"), "{md}");

    // Listed apart: the real incident counts, the drills do not.
    let list = world.command(DAVE, &world.ops, "list").await.unwrap();
    assert!(list.contains("1 open incident(s)"), "{list}");
    assert!(!list.contains("*Drills*"), "no drill is open: {list}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_real_case_in_a_drill_is_for_the_support_group_only() {
    let world = World::new().await;
    world.emu.add_user(AWS_ADMIN, "awsadmin");
    world
        .emu
        .add_usergroup(SUPPORT_GROUP, "aws-admins", &[AWS_ADMIN]);
    let aws = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    let clock = ManualClock::new(t0());
    let app = start(&world, &clock, &aws).await;
    let store = world.store().await;

    // Dave may start drills, but not ones that open real cases: told privately, nothing
    // opened.
    world
        .command(DAVE, &world.ops, "drill checkout --real-case")
        .await;
    let refusal = world.ephemeral_after(DAVE, 0).await;
    assert!(refusal.starts_with(":no_entry: Only"), "{refusal}");
    assert!(
        refusal.contains("may start drills that open real AWS Support cases"),
        "{refusal}"
    );
    assert!(refusal.contains(SUPPORT_GROUP), "{refusal}");
    wait_outbox_drained(&store).await;
    assert!(warroom::store::incidents::list(store.db(), false)
        .await
        .unwrap()
        .is_empty());
    assert!(world
        .emu
        .channels()
        .iter()
        .all(|c| !c.name.starts_with("drill-")));

    // A member of the support group may: the case is real.
    let ch = drill(&world, AWS_ADMIN, "drill checkout --real-case", "drill-").await;
    let first = shown(&bot_post(&world, &ch, "Synthetic alarm").await);
    assert!(first.contains("is *real*"), "{first}");
    command(
        &world,
        AWS_ADMIN,
        &ch,
        "escalate aws",
        "opened AWS Support case",
    )
    .await;
    assert_eq!(aws.call_count("CreateCase"), 1);
    assert_eq!(aws.support_cases().len(), 1);
    app.stop().await.unwrap();
}

/// `warroom drill` records its request in the inbox; the bot applies it once, whatever the
/// retries and restarts.
async fn a_cli_drill_request_opens_one_drill(world: World) {
    let aws = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    let clock = ManualClock::new(t0());
    let app = start(&world, &clock, &aws).await;
    let store = world.store().await;
    let alice = UserId::parse(ALICE).unwrap();
    let (key, inbound) = warroom::cli::drill_request(
        "checkout",
        Some(1),
        false,
        &alice,
        "gameday-1",
        clock_now(&clock),
    );
    let payload = serde_json::to_string(&inbound).unwrap();
    // The CLI retried: the same key twice.
    assert!(store
        .record_inbound(&key, &payload, Utc::now())
        .await
        .unwrap());
    assert!(!store
        .record_inbound(&key, &payload, Utc::now())
        .await
        .unwrap());
    let ch = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .find(|c| c.name.starts_with("drill-"))
                .map(|c| c.id.clone())
        })
        .await
        .expect("the drill's channel");
    world.wait_header(&ch, &["DRILL", "SEV1"]).await;
    bot_post(&world, &ch, "Synthetic alarm").await;
    app.stop().await.unwrap();
    world.emu.drop_connections();

    // A restart finds the request applied and opens nothing more.
    let app = start(&world, &clock, &aws).await;
    let drills: Vec<_> = warroom::store::incidents::list(store.db(), false)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.incident.id.is_drill())
        .collect();
    assert_eq!(drills.len(), 1, "{drills:?}");
    assert_eq!(drills[0].incident.id, IncidentId(-1));
    let drill_channels = world
        .emu
        .channels()
        .into_iter()
        .filter(|c| c.name.starts_with("drill-"))
        .count();
    assert_eq!(drill_channels, 1);
    app.stop().await.unwrap();
}
on_both_backends!(a_cli_drill_request_opens_one_drill);

#[tokio::test]
async fn drills_are_nudged_as_usual_and_listed_apart_in_summaries_and_app_home() {
    let world = World::new().await;
    let aws = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    let status = world.bot_channel("incident-status");
    // A whole hour: the first summary is due at the next one.
    let now = Utc::now();
    let hour = Utc
        .timestamp_opt(now.timestamp() - now.timestamp() % 3600, 0)
        .unwrap();
    let bot_clock = ManualClock::new(hour);
    world.emu.set_clock(Some(hour));
    let (mut config, secrets) = config(&world, &aws);
    config.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
    config.summary.every = Some(std::time::Duration::from_secs(3600));
    let app = world
        .launch(
            config,
            secrets,
            Arc::new(bot_clock.clone()),
            Some(test_keys()),
            Connect::AtLeastOne,
        )
        .await;
    let clocks = Clocks {
        bot: bot_clock.clone(),
        start: hour,
        world: &world,
        app: Some(&app),
    };
    let store = world.store().await;
    let real = world.declare(ALICE, "Real outage sev2").await;
    let ch = drill(&world, ALICE, "drill checkout", "drill-").await;
    bot_post(&world, &ch, "Synthetic alarm").await;

    // The case nudge runs on its usual clock (a drill's alarm implicates AWS), marked DRILL.
    clocks.at(30);
    let nudge = bot_post(&world, &ch, "no AWS Support case is open").await;
    assert!(shown(&nudge).contains("DRILL"), "{}", shown(&nudge));
    // Through the case form: the dry run, and nothing sent to AWS.
    world
        .emu
        .click_button(
            CAROL,
            &ch,
            &nudge.ts,
            warroom::slack::render_support::OPEN_CASE_ACTION,
        )
        .await
        .expect("click acked");
    let view = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.views_opened
                .iter()
                .find(|v| v.user == CAROL)
                .map(|v| v.view_id.clone())
        })
        .await
        .expect("the case form opens");
    world
        .emu
        .submit_view(CAROL, &view, serde_json::json!({}))
        .await
        .expect("submission acked");
    bot_post(&world, &ch, "Dry run").await;
    assert_eq!(aws.call_count("CreateCase"), 0);

    // A status change is told to the status channel as a drill's.
    clocks.at(40);
    command(&world, CAROL, &ch, "status identified cache", "identified").await;
    let bot = world.emu.config().bot_user_id.clone();
    let notice = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&status)?
                .iter()
                .find(|m| m.user == bot && m.text.contains("identified"))
                .cloned()
        })
        .await
        .expect("a status-channel notice");
    assert!(notice.text.starts_with("DRILL · "), "{}", notice.text);

    // The summary counts the real incident, and shows the drill in its own section.
    clocks.at(60);
    let summary = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&status)?
                .iter()
                .find(|m| m.user == bot && m.text.contains("Incident summary"))
                .cloned()
        })
        .await
        .expect("a summary");
    let text = shown(&summary);
    assert!(text.contains("1 open, 0 resolved"), "{text}");
    assert!(text.contains("Real outage"), "{text}");
    assert!(
        text.contains("*Drills* (rehearsals, not counted as incidents): 1 open"),
        "{text}"
    );
    assert!(text.contains("drill #1"), "{text}");

    // No "AWS is quiet" nudge for a dry run, and no more case nudges, hours later.
    clocks.at(240);
    wait_outbox_drained(&store).await;
    let posts: Vec<String> = world.emu.messages(&ch).iter().map(shown).collect();
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.contains("no AWS Support case is open"))
            .count(),
        1,
        "{posts:#?}"
    );
    assert!(
        !posts.iter().any(|p| p.contains("silent for")),
        "{posts:#?}"
    );

    // App Home: the real incident under Open, the drill apart.
    world.emu.open_app_home(DAVE);
    let view = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.views_published
                .iter()
                .find(|v| v.user == DAVE)
                .map(|v| v.view.clone())
        })
        .await
        .expect("a published home view");
    let home = view.to_string();
    assert!(
        home.contains("Open (1)") && home.contains(&format!("<#{real}>")),
        "{home}"
    );
    assert!(
        home.contains("*Drills*") && home.contains(&format!("<#{ch}>")),
        "{home}"
    );
    app.stop().await.unwrap();
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    use warroom::clock::Clock;
    clock.now()
}

/// A drill on a route with an incident type rehearses the type too: its checklist is
/// posted in the drill's channel, and its responder is invited.
#[tokio::test]
async fn a_drill_on_a_typed_route_posts_the_types_checklist() {
    use warroom::domain::incident_type::{IncidentType, Step};
    let world = World::new().await;
    let aws = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    let (mut config, secrets) = config(&world, &aws);
    config.alarms.routes.routes[0].incident_type = Some("payments".into());
    config.incident.types = vec![IncidentType {
        name: "payments".into(),
        severity: Severity::Sev2,
        private: false,
        responders: vec![UserId::parse(DAVE).unwrap()],
        usergroup: None,
        roles: Vec::new(),
        checklist: vec![Step {
            text: "Freeze checkout deploys".into(),
            runbook: None,
        }],
        postmortem_template: None,
    }];
    let _app = world
        .launch(
            config,
            secrets,
            Arc::new(ManualClock::new(t0())),
            Some(test_keys()),
            Connect::OneMore,
        )
        .await;
    let channel = drill(&world, ALICE, "drill checkout", "drill-").await;
    bot_post(&world, &channel, "Freeze checkout deploys").await;
    assert!(world.emu.channel(&channel).unwrap().is_member(DAVE));
    let store = world.store().await;
    assert_eq!(
        incident_in(&store, &channel).await.incident_type.as_deref(),
        Some("payments")
    );
}
