//! "What changed before the alarm?": the real bot against the Slack emulator and the AWS
//! fake (CloudTrail LookupEvents and DescribeAlarmHistory, which moto lacks), CloudWatch
//! on moto, everything through the AWS SDK on loopback.

use std::sync::Arc;

use aws_sdk_cloudwatch::types::StateValue;
use chrono::Utc;
use warroom::app::App;
use warroom::aws::fake::{AwsFake, CloudWatchBackend, FakeTrailEvent};
use warroom::clock::SystemClock;
use warroom::domain::EntryKind;
use warroom::slack::render::plain_text;
use warroom::slack_emulator::Message;

use crate::helpers::*;

const DEPLOYER: &str = "arn:aws:sts::123456789012:assumed-role/Deployer/ci-7";

fn minutes_ago(m: i64) -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(m)
}

/// The bot with AWS pointed at `fake` (fixed test keys); `alarms` turns the poller on.
async fn start_bot(world: &World, fake: &AwsFake, alarms: bool) -> App {
    let clock = Arc::new(SystemClock);
    world
        .start_aws_bot(Some(fake), clock, Connect::AtLeastOne, |config| {
            config.aws.region = REGION.to_string();
            config.diagnostics.configured = true;
            config.diagnostics.ignore_events = vec!["CreateSnapshot".to_string()];
            if alarms {
                poll_alarms(config);
                config.alarms.routes.routes = vec![checkout_route()];
                // Other alarms fire beside it without opening incidents of their own.
                config.alarms.routes.default.opens_incident = false;
            }
        })
        .await
}

/// Wait for the `nth` (0-based) bot message in `channel` whose visible text contains `needle`.
async fn wait_nth_post(world: &World, channel: &str, needle: &str, nth: usize) -> Message {
    let bot = world.emu.config().bot_user_id.clone();
    let (ch, needle_s) = (channel.to_string(), needle.to_string());
    world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.messages
                .get(&ch)?
                .iter()
                .filter(|m| {
                    m.user == bot && plain_text(&m.text, m.blocks.as_ref()).contains(&needle_s)
                })
                .nth(nth)
                .cloned()
        })
        .await
        .unwrap_or_else(|e| {
            let seen: Vec<String> = world
                .emu
                .messages(channel)
                .iter()
                .map(|m| plain_text(&m.text, m.blocks.as_ref()))
                .collect();
            panic!("no post #{nth} containing {needle:?}: {e}; the channel has {seen:#?}")
        })
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} missing from {haystack}"))
}

async fn an_alarm_war_room_says_what_changed_with_the_alarms_own_resource_first(world: World) {
    let aws = Aws::start().await;
    let (fake, cw) = (&aws.fake, &aws.cw);

    // What CloudTrail recorded before the alarm.
    let mut own = FakeTrailEvent::write(
        REGION,
        "ev-asg",
        "UpdateAutoScalingGroup",
        minutes_ago(40),
        DEPLOYER,
    );
    own.source = "autoscaling.amazonaws.com".into();
    own.resources = vec![(
        "AWS::AutoScaling::AutoScalingGroup".into(),
        "checkout-web".into(),
    )];
    fake.add_trail_event(own);
    let mut hostile = FakeTrailEvent::write(
        REGION,
        "ev-policy",
        "PutBucketPolicy",
        minutes_ago(20),
        "arn:aws:sts::123456789012:assumed-role/<@U0BOSS>/<!here>",
    );
    hostile.request_parameters =
        serde_json::json!({"bucketName": "<!channel> <https://evil.example|click>"});
    fake.add_trail_event(hostile);
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-lambda",
        "UpdateFunctionCode",
        minutes_ago(5),
        DEPLOYER,
    ));
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-tags",
        "CreateTags",
        minutes_ago(3),
        DEPLOYER,
    ));
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-assume",
        "AssumeRole",
        minutes_ago(2),
        DEPLOYER,
    ));
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-snap",
        "CreateSnapshot",
        minutes_ago(2),
        DEPLOYER,
    ));
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-old",
        "UpdateService",
        minutes_ago(180),
        DEPLOYER,
    ));
    // It was in ALARM six hours ago, for ten minutes.
    fake.add_alarm_history(REGION, "checkout-web-cpu", minutes_ago(360), "OK", "ALARM");
    fake.add_alarm_history(REGION, "checkout-web-cpu", minutes_ago(350), "ALARM", "OK");
    // Another alarm is in ALARM in the region (its route opens no incident).
    CpuAlarm::new("orders-db-cpu")
        .on_group("orders")
        .put(cw)
        .await;
    set_state(cw, "orders-db-cpu", StateValue::Alarm, CPU_BREACH).await;

    let app = start_bot(&world, fake, true).await;
    CpuAlarm::new("checkout-web-cpu")
        .on_group("checkout-web")
        .put(cw)
        .await;
    set_state(cw, "checkout-web-cpu", StateValue::Alarm, CPU_BREACH).await;

    let channel = world
        .emu
        .wait_until(DEADLINE, |ws| {
            ws.channels
                .iter()
                .find(|c| c.name.starts_with("inc-"))
                .map(|c| c.id.clone())
        })
        .await
        .expect("a war room");
    let post = wait_nth_post(&world, &channel, "What changed before the alarm", 0).await;
    let text = shown(&post);
    // Own resource first, then deploy-like (newest first), then the rest.
    let order = [
        position(&text, "UpdateAutoScalingGroup"),
        position(&text, "UpdateFunctionCode"),
        position(&text, "PutBucketPolicy"),
        position(&text, "CreateTags"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("40m before"), "{text}");
    assert!(text.contains("by Deployer/ci-7"), "{text}");
    assert!(
        text.contains("the alarm's AutoScalingGroupName checkout-web"),
        "{text}"
    );
    for absent in ["AssumeRole", "CreateSnapshot", "UpdateService"] {
        assert!(
            !text.contains(absent),
            "{absent} should be left out: {text}"
        );
    }
    assert!(
        text.contains("2 routine or failed call(s) left out"),
        "{text}"
    );
    assert!(
        text.contains("went to ALARM once in the 24h before"),
        "{text}"
    );
    assert!(
        text.contains("*Other alarms in ALARM in us-east-1:* orders-db-cpu"),
        "{text}"
    );
    let raw = format!("{}{}", post.text, post.blocks.as_ref().unwrap());
    for bad in ["<!channel>", "<!here>", "<@U0BOSS>", "<https://evil"] {
        assert!(!raw.contains(bad), "{bad} reached Slack: {raw}");
    }
    assert!(
        raw.contains("https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/ev-asg|event"),
        "{raw}"
    );
    // It is the second post: after the alarm's first post, before the graph and Health.
    let first = wait_nth_post(&world, &channel, "is in *ALARM*", 0).await;
    let health = wait_nth_post(&world, &channel, "AWS Health", 0).await;
    assert!(first.ts < post.ts && post.ts < health.ts);
    // The look-up is on the timeline, once, with the window it covered.
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "the changes", |e| {
        e.iter().any(|e| e.kind == EntryKind::AwsChanges)
    })
    .await;
    let entry = entries
        .iter()
        .find(|e| e.kind == EntryKind::AwsChanges)
        .unwrap();
    assert_eq!(
        entry.text,
        "Changes before the alarm: 4 changes in the last 2h (UpdateAutoScalingGroup, UpdateFunctionCode, PutBucketPolicy)"
    );
    let calls = fake.call_count("LookupEvents");
    // More polls: the war room's steps are done, nothing is posted or asked again.
    let polls = fake.call_count("DescribeAlarms");
    wait_until_sync(DEADLINE, "six more alarm polls", || {
        fake.call_count("DescribeAlarms") >= polls + 6
    })
    .await;
    assert_eq!(fake.call_count("LookupEvents"), calls);
    let posts = world
        .emu
        .messages(&channel)
        .iter()
        .filter(|m| shown(m).contains("What changed before the alarm"))
        .count();
    assert_eq!(posts, 1);
    app.stop().await.unwrap();
}

async fn incident_changes_looks_back_from_the_declaration_and_explains_failures(world: World) {
    let fake = AwsFake::start(CloudWatchBackend::InMemory).await.unwrap();
    let app = start_bot(&world, &fake, false).await;
    let channel = world.declare(BOB, "Checkout is slow").await;
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-db",
        "ModifyDBInstance",
        minutes_ago(30),
        DEPLOYER,
    ));
    fake.add_trail_event(FakeTrailEvent::write(
        REGION,
        "ev-5h",
        "UpdateStack",
        minutes_ago(300),
        DEPLOYER,
    ));
    fake.add_trail_event(FakeTrailEvent::write(
        "eu-west-1",
        "ev-eu",
        "UpdateStack",
        minutes_ago(10),
        DEPLOYER,
    ));

    // The default lookback (2h) sees the database change only.
    assert_eq!(world.command(CAROL, &channel, "changes").await, None);
    let post = shown(
        &wait_nth_post(
            &world,
            &channel,
            "What changed before the incident was declared",
            0,
        )
        .await,
    );
    assert!(post.contains("ModifyDBInstance"), "{post}");
    assert!(
        !post.contains("UpdateStack"),
        "outside the window or the region: {post}"
    );
    assert!(
        post.contains("*Other alarms in ALARM in us-east-1:* none"),
        "{post}"
    );
    // A longer lookback reaches further back.
    assert_eq!(world.command(CAROL, &channel, "changes 6h").await, None);
    let post = shown(
        &wait_nth_post(
            &world,
            &channel,
            "What changed before the incident was declared",
            1,
        )
        .await,
    );
    assert!(
        post.contains("ModifyDBInstance") && post.contains("UpdateStack"),
        "{post}"
    );
    assert!(post.contains("(6h)"), "{post}");

    // No permission: the exact IAM action to add.
    fake.fail_cloudtrail("LookupEvents", "AccessDeniedException", 1);
    world.command(CAROL, &channel, "changes").await;
    let post = shown(&wait_nth_post(&world, &channel, "could not be checked", 0).await);
    assert!(
        post.contains("warroom may not call cloudtrail:LookupEvents: add \"cloudtrail:LookupEvents\" to its IAM policy"),
        "{post}"
    );
    // Throttled beyond the SDK's own retries: said, with the rate.
    fake.fail_cloudtrail("LookupEvents", "ThrottlingException", 100);
    world.command(CAROL, &channel, "changes").await;
    let post = shown(&wait_nth_post(&world, &channel, "could not be checked", 1).await);
    assert!(
        post.contains("2 requests per second per account and region"),
        "{post}"
    );
    fake.fail_cloudtrail("LookupEvents", "", 0);
    // Nothing found is said plainly.
    assert_eq!(world.command(CAROL, &channel, "changes 5m").await, None);
    let post = shown(&wait_nth_post(&world, &channel, "No management changes", 0).await);
    assert!(
        post.contains("No management changes in the last 5m in us-east-1."),
        "{post}"
    );

    // Every look-up is on the timeline with who asked.
    let store = world.store().await;
    let entries = wait_timeline(&store, &channel, "five look-ups", |e| {
        e.iter().filter(|e| e.kind == EntryKind::AwsChanges).count() == 5
    })
    .await;
    assert!(entries
        .iter()
        .filter(|e| e.kind == EntryKind::AwsChanges)
        .all(|e| e.actor.as_deref() == Some(CAROL)));

    // A lookback out of range is a usage error for the caller only.
    let ack = world
        .command(CAROL, &channel, "changes 30d")
        .await
        .unwrap_or_default();
    assert!(ack.contains("out of range: look back 5m to 7d"), "{ack}");
    app.stop().await.unwrap();
}

// The look-ups are recorded in the service's unit of work: on PostgreSQL too.
on_both_backends!(
    an_alarm_war_room_says_what_changed_with_the_alarms_own_resource_first,
    incident_changes_looks_back_from_the_declaration_and_explains_failures,
);
