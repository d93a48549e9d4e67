//! CloudWatch alarms open war rooms: the real bot against the Slack emulator and against
//! moto (through the CBOR front in `warroom::aws::fake`), with the AWS SDK speaking Smithy
//! RPC v2 CBOR the whole way. The test plays the operator: it creates alarms and sets their
//! state with the SDK, as `aws cloudwatch put-metric-alarm` / `set-alarm-state` would.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use futures::StreamExt;
use warroom::app::App;
use warroom::clock::SystemClock;
use warroom::domain::health_service::HealthEvent;
use warroom::domain::routing::{Glob, Matcher, Route};
use warroom::domain::{EntryKind, Severity, UserId};
use warroom::slack::render::plain_text;
use warroom::slack_emulator::Fault;

use crate::helpers::*;

fn route(name: &str, alarm_name: &str) -> Route {
    Route {
        name: name.to_string(),
        matcher: Matcher {
            alarm_name: Some(Glob::new(alarm_name)),
            ..Matcher::default()
        },
        severity: Severity::Sev2,
        ..Route::default_route()
    }
}

/// The bot in-process, polling the fake every 200 ms, with `routes` and fixed test keys.
async fn start_bot(world: &World, aws: &Aws, routes: Vec<Route>) -> App {
    start_bot_with_accounts(world, aws, routes, Vec::new()).await
}

/// [`start_bot`], also polling the `[[aws.accounts]]` `accounts`.
async fn start_bot_with_accounts(
    world: &World,
    aws: &Aws,
    routes: Vec<Route>,
    accounts: Vec<warroom::config::AccountConfig>,
) -> App {
    start_bot_adjusted(world, aws, routes, |c| c.aws.accounts = accounts).await
}

/// [`start_bot`] with the config adjusted by `adjust` last.
async fn start_bot_adjusted(
    world: &World,
    aws: &Aws,
    routes: Vec<Route>,
    adjust: impl FnOnce(&mut warroom::config::Config),
) -> App {
    let clock = Arc::new(SystemClock);
    world
        .start_aws_bot(Some(&aws.fake), clock, Connect::AtLeastOne, |config| {
            poll_alarms(config);
            config.alarms.health_recheck = Duration::from_millis(400);
            config.alarms.routes.routes = routes;
            adjust(config);
        })
        .await
}

fn posts_containing(world: &World, channel: &str, needle: &str) -> usize {
    world
        .emu
        .messages(channel)
        .iter()
        .filter(|m| plain_text(&m.text, m.blocks.as_ref()).contains(needle))
        .count()
}

#[tokio::test]
async fn an_alarm_opens_exactly_one_incident_with_its_details_graph_and_health() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, vec![route("checkout", "checkout-*")]).await;
    aws.put_alarm("checkout-web-cpu", "CPU of the checkout fleet")
        .await;
    aws.fire("checkout-web-cpu").await;

    let channel = wait_channels(&world, 1).await.remove(0);
    let first = bot_post(
        &world,
        &channel,
        "CloudWatch alarm *checkout-web-cpu* is in *ALARM*",
    )
    .await;
    let shown = plain_text(&first.text, first.blocks.as_ref());
    for want in [
        "CPU of the checkout fleet",
        "Average of CPUUtilization > 80 (period 5 min)",
        "AWS/EC2",
        "AutoScalingGroupName=checkout-web",
        "> 80",
        "us-east-1",
        "Threshold Crossed: 1 datapoint [97.5]",
        "checkout (SEV2)",
        "Open the alarm in the CloudWatch console",
    ] {
        assert!(shown.contains(want), "{want:?} missing from {shown}");
    }
    let blocks = first.blocks.as_ref().unwrap().to_string();
    assert!(
        blocks.contains("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/checkout-web-cpu|"),
        "{blocks}"
    );
    // The responders are in the channel; the header is pinned.
    let members = world.emu.channel(&channel).unwrap().members;
    assert!(members.contains(&BOB.to_string()) && members.contains(&CAROL.to_string()));
    world
        .wait_header(&channel, &["checkout-web-cpu", "SEV2"])
        .await;
    // The graph: a PNG of the alarm's metric with its threshold, shared in the channel.
    let files = world
        .emu
        .wait_until(DEADLINE, |ws| {
            let f: Vec<_> = ws
                .files
                .iter()
                .filter(|f| f.completed && f.channel.as_deref() == Some(channel.as_str()))
                .cloned()
                .collect();
            (!f.is_empty()).then_some(f)
        })
        .await
        .expect("the graph is shared");
    assert!(files[0].bytes.starts_with(b"\x89PNG"));
    let widget = &aws.fake.widget_requests()[0];
    assert_eq!(widget["metrics"][0][1], "CPUUtilization");
    assert_eq!(widget["annotations"]["horizontal"][0]["value"], 80.0);
    // Health: nothing reported for EC2 in the alarm's region, said plainly.
    bot_post(
        &world,
        &channel,
        "AWS Health reports no open issue for EC2 in us-east-1",
    )
    .await;

    // Three polls later: still one incident, one channel, one first post, one transition.
    aws.wait_calls("DescribeAlarms", 3).await;
    let store = world.store().await;
    assert_eq!(
        warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(world.inc_channels().len(), 1);
    assert_eq!(posts_containing(&world, &channel, "is in *ALARM*"), 1);
    assert_eq!(count_kind(&store, &channel, EntryKind::AlarmFired).await, 1);
    let record = incident_in(&store, &channel).await;
    assert_eq!(record.incident.severity, Severity::Sev2);
    assert_eq!(
        record.incident.lead, None,
        "nobody leads until someone takes it"
    );
    // The postmortem draft carries the alarm as evidence, and times detection from it.
    let source = warroom::store::postmortem_source(store.db(), record.incident.id)
        .await
        .unwrap();
    let draft = warroom::postmortem::draft(
        &warroom::postmortem::Templates::load(None).unwrap(),
        &source,
        &warroom::postmortem::Options::from_config(&warroom::config::Config::default()),
        chrono::Utc::now(),
        warroom::postmortem::Format::Markdown,
    )
    .unwrap();
    assert!(
        !draft.contains("No CloudWatch alarm is attached"),
        "{draft}"
    );
    assert!(draft.contains("checkout-web-cpu"), "{draft}");
    assert!(draft.contains("CPUUtilization"), "{draft}");
    // Every AWS call was counted for /metrics.
    assert!(app.metrics.aws_calls_of("DescribeAlarms", "ok") >= 3);
    assert_eq!(app.metrics.aws_calls_of("GetMetricWidgetImage", "ok"), 1);
    assert!(app.metrics.aws_calls_of("DescribeEvents", "ok") >= 1);
    app.stop().await.unwrap();
}

async fn a_bot_killed_mid_setup_restarts_without_a_second_incident(world: World) {
    let aws = Aws::start().await;
    let config = format!(
        "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n[alarms]\npoll_interval = \"200ms\"\n",
        aws.fake.endpoint_url()
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    // Slack is slow to create the channel, so the kill lands after the transition is
    // recorded and the incident opened, before its channel exists.
    world.emu.inject_fault(
        "conversations.create",
        Fault::Delay(Duration::from_secs(3)),
        1,
    );
    let bot = BotProcess::start_with(&world, &config, &env).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    aws.put_alarm("db-latency", "RDS latency").await;
    aws.fire("db-latency").await;
    let store = world.store().await;
    wait_until(DEADLINE, "an incident recorded", async || {
        !warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    bot.kill().await;
    assert!(
        world.inc_channels().is_empty(),
        "killed before the channel existed"
    );
    world
        .emu
        .wait_until(DEADLINE, |ws| (ws.live_connections == 0).then_some(()))
        .await
        .unwrap();

    let bot = BotProcess::start_with(&world, &config, &env).await;
    world.emu.wait_for_connections(1, DEADLINE).await.unwrap();
    let channel = wait_channels(&world, 1).await.remove(0);
    bot_post(
        &world,
        &channel,
        "CloudWatch alarm *db-latency* is in *ALARM*",
    )
    .await;
    aws.wait_calls("DescribeAlarms", 3).await;
    assert_eq!(
        warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(world.inc_channels().len(), 1);
    assert_eq!(posts_containing(&world, &channel, "is in *ALARM*"), 1);
    assert_eq!(count_kind(&store, &channel, EntryKind::AlarmFired).await, 1);
    bot.kill().await;
}

#[tokio::test]
async fn an_ok_transition_posts_a_recovery_and_leaves_the_incident_open() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, vec![]).await;
    aws.put_alarm("web-cpu", "CPU").await;
    aws.fire("web-cpu").await;
    let channel = wait_channels(&world, 1).await.remove(0);
    bot_post(&world, &channel, "is in *ALARM*").await;

    aws.set_state(
        "web-cpu",
        StateValue::Ok,
        "Threshold Crossed: 1 datapoint [12.0] was not greater than the threshold (80.0)",
    )
    .await;
    let post = bot_post(&world, &channel, "*web-cpu* recovered (OK) at").await;
    assert!(plain_text(&post.text, None).contains("/incident status monitoring"));
    let store = world.store().await;
    wait_timeline(&store, &channel, "the recovery", |e| {
        e.iter()
            .any(|x| x.kind == EntryKind::AlarmRecovered && x.text.contains("web-cpu went to OK"))
    })
    .await;
    aws.wait_calls("DescribeAlarms", 2).await;
    let record = incident_in(&store, &channel).await;
    assert!(
        record.incident.is_open(),
        "recovery never resolves by itself"
    );
    assert_eq!(posts_containing(&world, &channel, "recovered (OK)"), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn two_hundred_alarms_on_one_route_make_one_incident_with_every_alarm_on_its_timeline() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, vec![route("storm", "storm-*")]).await;
    let names: Vec<String> = (0..200).map(|i| format!("storm-{i:03}")).collect();
    let aws_ref = &aws;
    futures::stream::iter(names.iter())
        .for_each_concurrent(16, |n| async move {
            aws_ref.put_alarm(n, "part of a storm").await;
            aws_ref.fire(n).await;
        })
        .await;

    let channel = wait_channels(&world, 1).await.remove(0);
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "200 alarms", |e| {
        e.iter().filter(|x| x.kind == EntryKind::AlarmFired).count() == 200
    })
    .await;
    for n in &names {
        assert!(
            entries.iter().any(|e| e.kind == EntryKind::AlarmFired
                && e.text.starts_with(&format!("{n} went to ALARM"))),
            "{n} is not on the timeline"
        );
    }
    bot_post(&world, &channel, "joined this incident").await;
    aws.wait_calls("DescribeAlarms", 2).await;
    assert_eq!(
        warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(world.inc_channels().len(), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_route_with_a_user_group_invites_its_members() {
    let world = World::new().await;
    world.emu.add_usergroup("S0DBONCALL", "db-oncall", &[DAVE]);
    let aws = Aws::start().await;
    // The route matches on the alarm's tags (ListTagsForResource), not its name.
    let mut db = Route {
        matcher: Matcher {
            tags: vec![("team".to_string(), Glob::new("data*"))],
            ..Matcher::default()
        },
        ..route("db", "")
    };
    db.usergroup = Some("S0DBONCALL".into());
    db.responders = vec![UserId::parse(ALICE).unwrap()];
    let app = start_bot(&world, &aws, vec![db]).await;
    aws.put_tagged_alarm(
        "rds-connections",
        "RDS connections",
        &[("team", "data-platform")],
    )
    .await;
    aws.fire("rds-connections").await;
    let channel = wait_channels(&world, 1).await.remove(0);
    // The tag route's severity, not the default's SEV3.
    world
        .wait_header(&channel, &["rds-connections", "SEV2"])
        .await;
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channel(&channel)
                .filter(|c| [ALICE, BOB, CAROL, DAVE].iter().all(|u| c.is_member(u)))
                .map(|_| ())
        })
        .await
        .expect("the user group's members, the route's and the global responders are invited");
    app.stop().await.unwrap();
}

/// An alarm opens its incident without a lead. Taking it is for the people running
/// incidents (here the route's responders and its on-call group), who may appoint anyone;
/// a bystander is told who may, and nothing changes.
#[tokio::test]
async fn an_alarm_s_unled_incident_is_taken_by_its_responders_not_by_a_bystander() {
    const STRANGER: &str = "U0STRANGER";
    let world = World::new().await;
    world.emu.add_user(STRANGER, "sam");
    world.emu.add_usergroup("S0DBONCALL", "db-oncall", &[DAVE]);
    let aws = Aws::start().await;
    let mut db = route("db", "rds-*");
    db.usergroup = Some("S0DBONCALL".into());
    db.responders = vec![UserId::parse(ALICE).unwrap()];
    let app = start_bot(&world, &aws, vec![db]).await;
    aws.put_alarm("rds-cpu", "RDS CPU").await;
    aws.fire("rds-cpu").await;
    let channel = wait_channels(&world, 1).await.remove(0);
    world
        .wait_header(&channel, &["rds-cpu", "nobody yet"])
        .await;
    world.emu.join_channel(&channel, STRANGER);
    let store = world.store().await;
    let before = incident_in(&store, &channel).await;
    assert_eq!(
        before.incident.lead, None,
        "an alarm's incident has no lead"
    );

    let seen = world.ephemeral_count(STRANGER);
    let ack = world
        .command(STRANGER, &channel, &format!("lead <@{STRANGER}>"))
        .await;
    assert_eq!(ack, None);
    let refusal = world.ephemeral_after(STRANGER, seen).await;
    assert!(
        refusal.starts_with(":no_entry: Only the incident lead, its responders")
            && refusal.contains("may choose the incident lead"),
        "{refusal}"
    );
    assert_eq!(
        incident_in(&store, &channel).await.incident,
        before.incident
    );
    assert_eq!(
        count_kind(&store, &channel, EntryKind::LeadChanged).await,
        0
    );

    // A member of the route's on-call group takes it; the route's responder hands it on,
    // to anyone (the bystander, even).
    assert_eq!(
        world
            .command(DAVE, &channel, &format!("lead <@{DAVE}>"))
            .await,
        None
    );
    world.wait_header(&channel, &["@U0DAVE"]).await;
    let ack = world
        .command(ALICE, &channel, &format!("lead <@{STRANGER}>"))
        .await;
    assert_eq!(ack, None);
    wait_timeline(&store, &channel, "two lead changes", |e| {
        e.iter()
            .filter(|e| e.kind == EntryKind::LeadChanged)
            .count()
            == 2
    })
    .await;
    let after = incident_in(&store, &channel).await;
    assert_eq!(after.incident.lead, Some(UserId::parse(STRANGER).unwrap()));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn alarm_text_is_shown_not_interpreted() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, vec![]).await;
    aws.put_alarm(
        "web-5xx",
        "<!channel> wake up, see <https://evil.example|click here>",
    )
    .await;
    aws.fire("web-5xx").await;
    let channel = wait_channels(&world, 1).await.remove(0);
    let first = bot_post(&world, &channel, "is in *ALARM*").await;
    let raw = format!("{} {}", first.text, first.blocks.as_ref().unwrap());
    assert!(!raw.contains("<!channel>"), "{raw}");
    assert!(!raw.contains("<https://evil"), "{raw}");
    assert!(raw.contains("&lt;!channel&gt; wake up"), "{raw}");
    // Read as Slack shows it: the literal text, no ping, no link.
    let shown = plain_text(&first.text, first.blocks.as_ref());
    assert!(
        shown.contains("<!channel> wake up, see <https://evil.example|click here>"),
        "{shown}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_aws_health_event_for_the_alarming_service_is_posted_and_recorded() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let now = chrono::Utc::now();
    let event = |arn: &str, region: &str, updated: chrono::DateTime<chrono::Utc>| HealthEvent {
        arn: arn.to_string(),
        service: "EC2".into(),
        event_type: "AWS_EC2_OPERATIONAL_ISSUE".into(),
        category: Some("issue".into()),
        region: Some(region.into()),
        status: "open".into(),
        started_at: Some(now - chrono::Duration::minutes(20)),
        last_updated_at: Some(updated),
    };
    aws.fake
        .add_health_event(event("arn:aws:health:us-east-1::event/EC2/1", REGION, now));
    // Another region's trouble is not this alarm's.
    aws.fake.add_health_event(event(
        "arn:aws:health:eu-west-1::event/EC2/2",
        "eu-west-1",
        now,
    ));
    let app = start_bot(&world, &aws, vec![]).await;
    aws.put_alarm("web-cpu", "CPU").await;
    aws.fire("web-cpu").await;
    let channel = wait_channels(&world, 1).await.remove(0);
    let post = bot_post(
        &world,
        &channel,
        "AWS Health reports an issue for EC2 in us-east-1",
    )
    .await;
    let shown = plain_text(&post.text, None);
    assert!(
        shown.contains("*AWS_EC2_OPERATIONAL_ISSUE* (open"),
        "{shown}"
    );
    let store = world.store().await;
    wait_timeline(&store, &channel, "the Health event", |e| {
        e.iter().any(|x| x.kind == EntryKind::HealthEvent)
    })
    .await;
    // AWS updates the event: the re-check posts it again, once.
    aws.fake.add_health_event(event(
        "arn:aws:health:us-east-1::event/EC2/1",
        REGION,
        now + chrono::Duration::minutes(5),
    ));
    bot_post(&world, &channel, "AWS Health has news for EC2 in us-east-1").await;
    wait_timeline(&store, &channel, "the update", |e| {
        e.iter()
            .filter(|x| x.kind == EntryKind::HealthEvent)
            .count()
            == 2
    })
    .await;
    // Two more re-checks with nothing new: nothing more is posted.
    let calls = aws.fake.call_count("DescribeEvents");
    wait_until_sync(DEADLINE, "Health to be re-checked twice", || {
        aws.fake.call_count("DescribeEvents") >= calls + 2
    })
    .await;
    assert_eq!(posts_containing(&world, &channel, "AWS Health has news"), 1);
    assert!(aws
        .fake
        .calls()
        .iter()
        .filter(|c| c.operation == "DescribeEvents")
        .all(|c| c.region.as_deref() == Some("us-east-1")));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_support_plan_health_is_explained_once_and_never_asked_again() {
    let world = World::new().await;
    let aws = Aws::start().await;
    aws.fake.require_subscription(true);
    let app = start_bot(
        &world,
        &aws,
        vec![route("web", "web-*"), route("db", "db-*")],
    )
    .await;
    aws.put_alarm("web-cpu", "CPU").await;
    aws.fire("web-cpu").await;
    let first = wait_channels(&world, 1).await.remove(0);
    bot_post(&world, &first, "AWS Health cannot be checked").await;
    aws.put_alarm("db-cpu", "CPU").await;
    aws.fire("db-cpu").await;
    let channels = wait_channels(&world, 2).await;
    bot_post(&world, &channels[1], "is in *ALARM*").await;
    // Several polls and re-check periods later: one explanation, one Health call in all.
    aws.wait_calls("DescribeAlarms", 5).await;
    let said: usize = channels
        .iter()
        .map(|c| posts_containing(&world, c, "AWS Health cannot be checked"))
        .sum();
    assert_eq!(said, 1);
    assert_eq!(aws.fake.call_count("DescribeEvents"), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_429_storm_on_channel_creation_delays_but_loses_nothing() {
    let world = World::new().await;
    let aws = Aws::start().await;
    world.emu.inject_fault(
        "conversations.create",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        8,
    );
    let app = start_bot(
        &world,
        &aws,
        vec![route("a", "a-*"), route("b", "b-*"), route("c", "c-*")],
    )
    .await;
    for name in ["a-cpu", "b-cpu", "c-cpu"] {
        aws.put_alarm(name, "CPU").await;
        aws.fire(name).await;
    }
    let store = world.store().await;
    // Every alarm is on record at once, channel or not.
    wait_until(DEADLINE, "the three alarms recorded", async || {
        warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .len()
            >= 3
    })
    .await;
    let channels = world
        .emu
        .wait_until(Duration::from_secs(60), |ws| {
            let ids: Vec<String> = ws
                .channels
                .iter()
                .filter(|c| c.name.starts_with("inc-"))
                .map(|c| c.id.clone())
                .collect();
            (ids.len() == 3).then_some(ids)
        })
        .await
        .expect("all three channels in the end");
    for channel in &channels {
        bot_post(&world, channel, "is in *ALARM*").await;
    }
    let refused = world
        .emu
        .api_calls()
        .iter()
        .filter(|c| c.method == "conversations.create" && c.http_status == 429)
        .count();
    assert_eq!(refused, 8, "the storm happened");
    assert_eq!(
        warroom::store::incidents::list(store.db(), false)
            .await
            .unwrap()
            .len(),
        3
    );
    app.stop().await.unwrap();
}

on_both_backends!(a_bot_killed_mid_setup_restarts_without_a_second_incident);

/// An alarm on the EC2 CPU of `group`, tagged `team`, created and fired by the operator
/// with `cw` (in whichever account its credentials act).
async fn fire_in(cw: &aws_sdk_cloudwatch::Client, name: &str, team: &str) {
    CpuAlarm::new(name)
        .on_group(name)
        .tagged(&[("team", team)])
        .put(cw)
        .await;
    set_state(cw, name, StateValue::Alarm, CPU_BREACH).await;
}

fn member_account(name: &str, account_id: &str) -> warroom::config::AccountConfig {
    warroom::config::AccountConfig {
        name: name.to_string(),
        role_arn: format!("arn:aws:iam::{account_id}:role/warroom-read"),
        account_id: account_id.to_string(),
        external_id: Some("warroom-test".to_string()),
        regions: vec![REGION.to_string()],
    }
}

/// `[[aws.accounts]]`: alarms in two other accounts are read through roles assumed with
/// STS (the SDK's AssumeRole provider against moto, which keeps each account's alarms
/// apart). One account's role is refused (AccessDenied from STS): the bot's own account and
/// the other member account go on, and once the role works again its alarm opens an
/// incident too. The routes match on tags, so ListTagsForResource must be asked in the
/// alarm's own account.
#[tokio::test]
async fn alarms_in_other_accounts_are_read_through_assumed_roles_and_one_refused_role_stops_nothing(
) {
    let world = World::new().await;
    let aws = Aws::start().await;
    let payments = member_account("payments", "111111111111");
    let legacy = member_account("legacy", "222222222222");
    aws.fake.deny_assume_role(&legacy.role_arn, true);
    let by_team = |name: &str, team: &str, severity| Route {
        matcher: Matcher {
            tags: vec![("team".to_string(), Glob::new(team))],
            ..Matcher::default()
        },
        severity,
        ..route(name, "")
    };
    let app = start_bot_with_accounts(
        &world,
        &aws,
        vec![
            by_team("payments", "payments", Severity::Sev1),
            by_team("web", "web", Severity::Sev2),
            by_team("legacy", "legacy", Severity::Sev3),
        ],
        vec![legacy.clone(), payments.clone()],
    )
    .await;

    // An alarm in warroom's own account first, so that it is in ALARM when the payments
    // war room lists the other alarms in ALARM in its account.
    fire_in(&aws.cw, "checkout-web-cpu", "web").await;
    wait_channels(&world, 1).await;
    let payments_cw = aws
        .fake
        .operator_cloudwatch_as(REGION, &payments.role_arn)
        .await;
    fire_in(&payments_cw, "payments-db-cpu", "payments").await;

    let channels = wait_channels(&world, 2).await;
    let mut seen = Vec::new();
    for ch in &channels {
        let first = bot_post(&world, ch, "is in *ALARM*").await;
        seen.push(plain_text(&first.text, first.blocks.as_ref()));
    }
    let payments_post = seen
        .iter()
        .find(|t| t.contains("payments-db-cpu"))
        .unwrap_or_else(|| panic!("no war room for the payments alarm: {seen:#?}"));
    assert!(
        payments_post.contains("account 111111111111"),
        "the post says which account: {payments_post}"
    );
    assert!(payments_post.contains("payments (SEV1)"), "{payments_post}");
    assert!(seen
        .iter()
        .any(|t| t.contains("checkout-web-cpu") && t.contains("web (SEV2)")));
    // "What changed" in the payments war room looks in the payments account: the own
    // account's firing alarm is not its neighbour.
    let neighbours = bot_post(&world, &channels[1], "Other alarms in ALARM").await;
    let neighbours = plain_text(&neighbours.text, neighbours.blocks.as_ref());
    assert!(
        neighbours.contains("Other alarms in ALARM in us-east-1:* none")
            && !neighbours.contains("checkout-web-cpu"),
        "{neighbours}"
    );

    // The refused role is asked again every round, and the others keep being polled.
    let denied_before = assume_role_calls(&aws);
    aws.wait_calls("DescribeAlarms", 4).await;
    assert!(
        assume_role_calls(&aws) > denied_before,
        "the refused role is retried"
    );
    assert_eq!(world.inc_channels().len(), 2);
    let m = &app.service.ctx().metrics;
    assert_eq!(m.alarm_poll_failing("legacy", REGION), Some(true));
    assert_eq!(m.alarm_poll_failing("payments", REGION), Some(false));
    assert_eq!(m.alarm_poll_failing("", REGION), Some(false));
    let rendered = m.render(None, Default::default());
    assert!(
        rendered.contains("warroom_alarm_poll_failing{account=\"legacy\",region=\"us-east-1\"} 1"),
        "{rendered}"
    );

    // The role is allowed again: the legacy account's alarm is seen.
    aws.fake.deny_assume_role(&legacy.role_arn, false);
    let legacy_cw = aws
        .fake
        .operator_cloudwatch_as(REGION, &legacy.role_arn)
        .await;
    fire_in(&legacy_cw, "legacy-queue-depth", "legacy").await;
    let channels = wait_channels(&world, 3).await;
    let third = bot_post(&world, &channels[2], "is in *ALARM*").await;
    let text = plain_text(&third.text, third.blocks.as_ref());
    assert!(text.contains("legacy-queue-depth"), "{text}");
    assert!(text.contains("account 222222222222"), "{text}");
    assert!(text.contains("legacy (SEV3)"), "{text}");
    assert_eq!(
        app.service
            .ctx()
            .metrics
            .alarm_poll_failing("legacy", REGION),
        Some(false),
        "the recovered account is no longer reported failing"
    );
    app.stop().await.unwrap();
}

fn assume_role_calls(aws: &Aws) -> usize {
    aws.fake
        .calls()
        .iter()
        .filter(|c| c.service == "sts" && c.operation == "AssumeRole")
        .count()
}

/// An alarm route whose incident type is private opens a private war room: a private
/// channel named without the alarm, the type's checklist in it, and only the redacted line
/// in the status channel.
#[tokio::test]
async fn a_route_with_a_private_type_opens_a_private_war_room() {
    use warroom::domain::incident_type::{IncidentType, Step};
    let world = World::new().await;
    let aws = Aws::start().await;
    let status = world.bot_channel("incident-status");
    let mut payroll = route("payroll", "payroll-*");
    payroll.incident_type = Some("sensitive".into());
    let _app = start_bot_adjusted(&world, &aws, vec![payroll], |c| {
        c.slack.status_channel = Some(warroom::domain::ChannelId::new(status.clone()));
        c.incident.types = vec![IncidentType {
            name: "sensitive".into(),
            severity: Severity::Sev2,
            private: true,
            responders: Vec::new(),
            usergroup: None,
            roles: Vec::new(),
            checklist: vec![Step {
                text: "Tell the data protection officer".into(),
                runbook: None,
            }],
            postmortem_template: None,
        }];
    })
    .await;
    aws.put_alarm("payroll-export-failures", "Payroll export failing")
        .await;
    aws.fire("payroll-export-failures").await;

    let channel = wait_channels(&world, 1).await.remove(0);
    let ch = world.emu.channel(&channel).unwrap();
    assert!(ch.is_private, "{ch:?}");
    assert!(ch.name.ends_with("-private"), "{}", ch.name);
    assert!(!ch.name.contains("payroll"), "{}", ch.name);
    bot_post(&world, &channel, "Tell the data protection officer").await;
    let store = world.store().await;
    let record = incident_in(&store, &channel).await;
    assert!(record.private);
    assert_eq!(record.incident_type.as_deref(), Some("sensitive"));

    // Outside the channel, only the redacted line.
    assert_eq!(world.command(BOB, &channel, "sev 1").await, None);
    let notice = bot_post(&world, &status, "a private SEV1 incident").await;
    let shown = format!("{} {:?}", notice.text, notice.blocks);
    assert!(!shown.to_lowercase().contains("payroll"), "{shown}");
}
