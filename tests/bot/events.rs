//! `[events]`: AWS's events pushed through EventBridge into SQS. The real bot reads a real
//! queue through aws-sdk-sqs (moto keeps it, behind the AWS fake); the test plays
//! EventBridge, sending bodies shaped as AWS documents each event, and the operator
//! (creating alarms and setting their state in moto with the CloudWatch SDK).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use chrono::{DateTime, Utc};
use serde_json::json;
use warroom::app::App;
use warroom::aws::fake::{AwsFake, MotoServer, ACCOUNT_ID};
use warroom::aws::AwsAccess;
use warroom::clock::SystemClock;
use warroom::config::EventsConfig;
use warroom::demo::config_for_emulator;
use warroom::domain::routing::{Glob, Matcher, Route};
use warroom::domain::Severity;
use warroom::slack::render::plain_text;

use crate::helpers::*;

const REGION: &str = "us-east-1";

/// moto with the AWS fake before it, the operator's CloudWatch and SQS clients, the queue.
struct Aws {
    fake: AwsFake,
    cw: aws_sdk_cloudwatch::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    _moto: MotoServer,
}

impl Aws {
    async fn start() -> Aws {
        let (fake, moto) = AwsFake::start_on_moto()
            .await
            .expect("moto and the AWS fake start");
        let sqs = fake.operator_sqs(REGION);
        let queue_url = sqs
            .create_queue()
            .queue_name("warroom-events")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url()
            .expect("a queue URL")
            .to_string();
        Aws {
            cw: fake.operator_cloudwatch(REGION),
            sqs,
            queue_url,
            fake,
            _moto: moto,
        }
    }

    /// An EC2 CPU alarm in moto (in OK until fired).
    async fn put_alarm(&self, name: &str) {
        self.cw
            .put_metric_alarm()
            .alarm_name(name)
            .alarm_description("CPU of the checkout fleet")
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .dimensions(
                Dimension::builder()
                    .name("AutoScalingGroupName")
                    .value("checkout-web")
                    .build(),
            )
            .statistic(Statistic::Average)
            .period(300)
            .evaluation_periods(1)
            .threshold(80.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("PutMetricAlarm");
    }

    /// Fire the alarm in moto; its StateUpdatedTimestamp, as the event will carry it.
    async fn fire(&self, name: &str) -> DateTime<Utc> {
        self.cw
            .set_alarm_state()
            .alarm_name(name)
            .state_value(StateValue::Alarm)
            .state_reason(
                "Threshold Crossed: 1 datapoint [97.5] was greater than the threshold (80.0)",
            )
            .send()
            .await
            .expect("SetAlarmState");
        let out = self
            .cw
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .expect("DescribeAlarms");
        let t = out.metric_alarms()[0]
            .state_updated_timestamp()
            .expect("a state time");
        DateTime::from_timestamp_millis(t.to_millis().expect("millis")).expect("a time")
    }

    /// EventBridge delivering one event to the queue.
    async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .expect("SendMessage");
    }

    /// Messages in the queue, visible or handed out and not yet deleted.
    async fn depth(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("GetQueueAttributes");
        let attrs = out.attributes().cloned().unwrap_or_default();
        let n = |k: A| {
            attrs
                .get(&k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible)
    }
}

/// "CloudWatch Alarm State Change", as AWS's documentation shows it, for an alarm in moto's
/// account.
fn alarm_event(name: &str, state: &str, at: DateTime<Utc>) -> String {
    alarm_event_in(ACCOUNT_ID, name, state, at)
}

/// [`alarm_event`] for an alarm in `account` (forwarded from a member account's bus).
fn alarm_event_in(account: &str, name: &str, state: &str, at: DateTime<Utc>) -> String {
    let arn = format!("arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}");
    json!({
        "version": "0",
        "id": format!("c4c1c1c9-6542-e61b-6ef0-{:012x}", at.timestamp_millis()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "alarmName": name,
            "configuration": {
                "description": "CPU of the checkout fleet",
                "metrics": [{
                    "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                    "metricStat": {
                        "metric": {
                            "dimensions": {"AutoScalingGroupName": "checkout-web"},
                            "name": "CPUUtilization",
                            "namespace": "AWS/EC2"
                        },
                        "period": 300,
                        "stat": "Average"
                    },
                    "returnData": true
                }]
            },
            "previousState": {
                "reason": "Threshold Crossed: 1 datapoint [12.0] was not greater than the threshold (80.0)",
                "timestamp": (at - chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
                "value": "OK"
            },
            "state": {
                "reason": "Threshold Crossed: 1 datapoint [97.5] was greater than the threshold (80.0)",
                "reasonData": "{\"version\":\"1.0\",\"statistic\":\"Average\",\"period\":300,\"recentDatapoints\":[97.5],\"threshold\":80.0}",
                "timestamp": at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
                "value": state
            }
        }
    })
    .to_string()
}

/// "AWS Health Event", as AWS's documentation shows it: a PUBLIC service event.
fn health_event(service: &str, region: &str, updated: DateTime<Utc>) -> String {
    health_event_scoped(service, region, updated, "PUBLIC")
}

fn health_event_scoped(service: &str, region: &str, updated: DateTime<Utc>, scope: &str) -> String {
    let rfc1123 = |t: DateTime<Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    json!({
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": ACCOUNT_ID,
        "time": updated.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": region,
        "resources": [],
        "detail": {
            "eventArn": format!("arn:aws:health:{region}::event/{service}/AWS_{service}_OPERATIONAL_ISSUE/AWS_{service}_OPERATIONAL_ISSUE_7f35c8ae"),
            "service": service,
            "eventTypeCode": format!("AWS_{service}_OPERATIONAL_ISSUE"),
            "eventTypeCategory": "issue",
            "eventScopeCode": scope,
            "communicationId": "01b0993207d81a09dcd552ebd1e633e36cf1f09a-1",
            "startTime": rfc1123(updated - chrono::Duration::minutes(20)),
            "lastUpdatedTime": rfc1123(updated),
            "statusCode": "open",
            "eventRegion": region,
            "eventDescription": [{"language": "en_US", "latestDescription": "Increased API error rates."}],
            "affectedEntities": []
        }
    })
    .to_string()
}

/// The bot with `[events]` on the test queue (1 s long polls), polling alarms every
/// `poll` or not at all, without the "what changed" look-up.
async fn start_bot(world: &World, aws: &Aws, poll: Option<Duration>) -> App {
    start_bot_with(world, aws, poll, |_| {}).await
}

async fn start_bot_with(
    world: &World,
    aws: &Aws,
    poll: Option<Duration>,
    adjust: impl FnOnce(&mut warroom::config::Config),
) -> App {
    let (mut config, secrets) =
        config_for_emulator(&world.emu, &world.db_url, &[BOB, CAROL]).unwrap();
    config.aws.endpoint_url = Some(aws.fake.endpoint_url());
    config.alarms.enabled = true;
    config.alarms.regions = vec![REGION.to_string()];
    config.alarms.polling = poll.is_some();
    config.alarms.poll_interval = poll.unwrap_or(Duration::from_secs(3600));
    config.alarms.health_recheck = Duration::from_secs(3600);
    // No "what changed" look-up (it lists the alarms in ALARM): DescribeAlarms is then the
    // poller's alone.
    config.diagnostics.enabled = false;
    // The Support poll only looks at a new case at once, then hourly: a reply seen within
    // the test came from the queue.
    config.escalation.support_api = true;
    config.escalation.support_poll_interval = Duration::from_secs(3600);
    config.alarms.routes.routes = vec![Route {
        name: "checkout".into(),
        matcher: Matcher {
            alarm_name: Some(Glob::new("checkout-*")),
            ..Matcher::default()
        },
        severity: Severity::Sev2,
        ..Route::default_route()
    }];
    config.events = Some(EventsConfig {
        sqs_queue_url: aws.queue_url.clone(),
        region: REGION.to_string(),
        wait: Duration::from_secs(1),
        batch: 10,
        health_opens_incident: false,
    });
    adjust(&mut config);
    let access = AwsAccess::Static {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    };
    let app = App::build_with_aws(config, secrets, Arc::new(SystemClock), access)
        .await
        .expect("bot starts");
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("bot connects");
    app
}

/// Wait until `done` holds, or fail naming `what`.
async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {DEADLINE:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until the bot has handled `n` queue messages of `kind` and the queue is empty.
async fn wait_handled(app: &App, aws: &Aws, kind: &str, n: u64) {
    let m = app.service.ctx().metrics.clone();
    wait_for(&format!("{n} {kind} queue messages handled"), async || {
        let got = if kind == "malformed" {
            m.queue_messages_malformed()
        } else {
            m.queue_messages_of(kind)
        };
        got >= n && aws.depth().await == 0
    })
    .await;
}

fn incident_channels(world: &World) -> Vec<String> {
    world
        .emu
        .channels()
        .into_iter()
        .filter(|c| c.name.starts_with("inc-"))
        .map(|c| c.id)
        .collect()
}

fn posts_containing(world: &World, channel: &str, needle: &str) -> usize {
    let bot = world.emu.config().bot_user_id.clone();
    world
        .emu
        .messages(channel)
        .iter()
        .filter(|m| m.user == bot && plain_text(&m.text, m.blocks.as_ref()).contains(needle))
        .count()
}

async fn wait_post(world: &World, channel: &str, needle: &str) {
    let ch = channel.to_string();
    wait_for(&format!("a post with {needle:?}"), async || {
        posts_containing(world, &ch, needle) > 0
    })
    .await;
}

async fn wait_one_channel(world: &World) -> String {
    wait_for("an incident channel", async || {
        !incident_channels(world).is_empty()
    })
    .await;
    incident_channels(world).remove(0)
}

#[tokio::test]
async fn an_alarm_from_the_queue_opens_a_war_room_with_the_poller_off() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, None).await;
    // A body that is no event, and an event with a broken detail, come first: deleted and
    // counted, and the queue goes on.
    aws.send("{not json").await;
    aws.send(&alarm_event("checkout-web-cpu", "ON_FIRE", Utc::now()))
        .await;
    wait_handled(&app, &aws, "malformed", 2).await;
    assert_eq!(app.service.ctx().metrics.queue_messages_malformed(), 2);
    assert!(incident_channels(&world).is_empty());

    aws.put_alarm("checkout-web-cpu").await;
    let at = aws.fire("checkout-web-cpu").await;
    // The test's own DescribeAlarms (reading the state time) is the only one.
    let described = aws.fake.call_count("DescribeAlarms");
    let body = alarm_event("checkout-web-cpu", "ALARM", at);
    aws.send(&body).await;
    let channel = wait_one_channel(&world).await;
    wait_post(
        &world,
        &channel,
        "CloudWatch alarm *checkout-web-cpu* is in *ALARM*",
    )
    .await;
    for want in [
        "CPU of the checkout fleet",
        "AutoScalingGroupName=checkout-web",
        "Threshold Crossed: 1 datapoint [97.5]",
        "checkout (SEV2)",
        "us-east-1 (account 123456789012)",
        "Open the alarm in the CloudWatch console (account 123456789012)",
    ] {
        assert_eq!(
            posts_containing(&world, &channel, want),
            1,
            "{want:?} not in the first post"
        );
    }
    assert_eq!(
        aws.fake.call_count("DescribeAlarms"),
        described,
        "the poller is off: the war room came from the queue"
    );
    wait_handled(&app, &aws, "alarm", 1).await;

    // EventBridge delivers at least once: the same event again changes nothing.
    aws.send(&body).await;
    wait_handled(&app, &aws, "alarm", 2).await;
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(incident_channels(&world).len(), 1);
    assert_eq!(
        posts_containing(&world, &channel, "is in *ALARM*"),
        1,
        "one first post"
    );
    let metrics = app.service.ctx().metrics.render(None, Default::default());
    assert!(
        metrics.contains("warroom_queue_messages_malformed_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("warroom_queue_messages_total{kind=\"alarm\"} 2"),
        "{metrics}"
    );
    app.stop().await.unwrap();
}

/// On PostgreSQL the leader reads the queue and polls, as one process does on SQLite.
async fn the_same_transition_from_queue_and_poll_opens_one_incident(world: World) {
    let aws = Aws::start().await;
    aws.put_alarm("checkout-db-cpu").await;
    let app = start_bot(&world, &aws, Some(Duration::from_millis(200))).await;
    let at = aws.fire("checkout-db-cpu").await;
    // The event and the poll race for the same transition.
    aws.send(&alarm_event("checkout-db-cpu", "ALARM", at)).await;
    let channel = wait_one_channel(&world).await;
    wait_post(&world, &channel, "is in *ALARM*").await;
    wait_handled(&app, &aws, "alarm", 1).await;
    // Several more polls see the alarm still in ALARM, and the same event comes again.
    aws.send(&alarm_event("checkout-db-cpu", "ALARM", at)).await;
    wait_handled(&app, &aws, "alarm", 2).await;
    let polls = aws.fake.call_count("DescribeAlarms");
    wait_for("three more polls", async || {
        aws.fake.call_count("DescribeAlarms") >= polls + 3
    })
    .await;
    let store = world.store().await;
    wait_outbox_drained(&store).await;
    assert_eq!(incident_channels(&world).len(), 1, "one incident");
    assert_eq!(posts_containing(&world, &channel, "is in *ALARM*"), 1);
    let r = incident_in(&store, &channel).await;
    let transitions = warroom::store::alarms::of_incident(store.db(), r.incident.id)
        .await
        .unwrap();
    assert_eq!(transitions.len(), 1, "one recorded transition");
    app.stop().await.unwrap();
}

on_both_backends!(the_same_transition_from_queue_and_poll_opens_one_incident);

#[tokio::test]
async fn a_health_event_from_the_queue_joins_the_open_incident_once() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, None).await;
    aws.put_alarm("checkout-web-cpu").await;
    let at = aws.fire("checkout-web-cpu").await;
    aws.send(&alarm_event("checkout-web-cpu", "ALARM", at))
        .await;
    let channel = wait_one_channel(&world).await;
    // The war room's own Health check (nothing open yet) comes first.
    wait_post(&world, &channel, "AWS Health reports no open issue").await;

    // Another service's and another region's events are not this incident's.
    let now = Utc::now();
    aws.send(&health_event("RDS", REGION, now)).await;
    aws.send(&health_event("EC2", "eu-west-1", now)).await;
    let ec2 = health_event("EC2", REGION, now);
    aws.send(&ec2).await;
    wait_post(
        &world,
        &channel,
        &format!("AWS Health event for EC2 in {REGION} (account {ACCOUNT_ID})"),
    )
    .await;
    wait_post(&world, &channel, "AWS_EC2_OPERATIONAL_ISSUE").await;
    wait_handled(&app, &aws, "health", 3).await;
    // Delivered again: not posted again.
    aws.send(&ec2).await;
    wait_handled(&app, &aws, "health", 4).await;
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(
        posts_containing(&world, &channel, "AWS Health event for"),
        1
    );
    assert_eq!(posts_containing(&world, &channel, "RDS"), 0);
    assert_eq!(posts_containing(&world, &channel, "eu-west-1"), 0);
    app.stop().await.unwrap();
}

/// "Support Case Update", as AWS's documentation shows it.
fn support_event(case_id: &str, event_name: &str, origin: &str) -> String {
    json!({
        "version": "0",
        "id": "1aa4458d-556f-732e-ddc1-4a5b2fbd14a5",
        "detail-type": "Support Case Update",
        "source": "aws.support",
        "account": ACCOUNT_ID,
        "time": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "case-id": case_id,
            "display-id": "1234563851",
            "communication-id": "ReplyId-f9ae0ad3f21c1e1a",
            "event-name": event_name,
            "origin": origin
        }
    })
    .to_string()
}

#[tokio::test]
async fn a_support_reply_from_the_queue_is_mirrored_before_the_next_poll() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot(&world, &aws, None).await;
    let ch = world.declare(ALICE, "Queue backlog sev2").await;
    assert_eq!(world.command(BOB, &ch, "escalate aws urgent").await, None);
    wait_post(&world, &ch, "opened AWS Support case").await;
    let case_id = aws.fake.support_cases()[0].case_id.clone();
    // The case's first look (right after CreateCase); the next poll is an hour away.
    wait_for("the new case's first poll", async || {
        aws.fake.call_count("DescribeCommunications") >= 1
    })
    .await;
    let polled = aws.fake.call_count("DescribeCommunications");

    // warroom's own write comes back as a CUSTOMER event: nothing to fetch.
    aws.send(&support_event(
        &case_id,
        "AddCommunicationToCase",
        "CUSTOMER",
    ))
    .await;
    wait_handled(&app, &aws, "support_case", 1).await;
    assert_eq!(aws.fake.call_count("DescribeCommunications"), polled);

    aws.fake.add_support_reply(
        &case_id,
        "We see elevated errors on your queue.",
        Utc::now(),
        &[],
    );
    aws.send(&support_event(&case_id, "AddCommunicationToCase", "AWS"))
        .await;
    wait_post(&world, &ch, "AWS Support replied").await;
    wait_post(&world, &ch, "We see elevated errors on your queue.").await;
    wait_handled(&app, &aws, "support_case", 2).await;
    assert_eq!(
        aws.fake.call_count("DescribeCommunications"),
        polled + 1,
        "one look, for the event"
    );
    // Delivered again: looked at again, mirrored once.
    aws.send(&support_event(&case_id, "AddCommunicationToCase", "AWS"))
        .await;
    wait_handled(&app, &aws, "support_case", 3).await;
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(posts_containing(&world, &ch, "AWS Support replied"), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_account_specific_health_issue_opens_an_incident_on_the_health_route() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_bot_with(&world, &aws, None, |c| {
        if let Some(e) = c.events.as_mut() {
            e.health_opens_incident = true;
        }
        c.alarms.routes.routes.push(Route {
            name: "aws-health".into(),
            severity: Severity::Sev1,
            for_health: true,
            ..Route::default_route()
        });
    })
    .await;
    let now = Utc::now();
    // A public service event is everyone's: it opens nothing.
    aws.send(&health_event("RDS", REGION, now)).await;
    wait_handled(&app, &aws, "health", 1).await;
    assert!(incident_channels(&world).is_empty());

    let issue = health_event_scoped("EC2", REGION, now, "ACCOUNT_SPECIFIC");
    aws.send(&issue).await;
    let channel = wait_one_channel(&world).await;
    wait_post(
        &world,
        &channel,
        &format!("AWS Health event for EC2 in {REGION} (account {ACCOUNT_ID})"),
    )
    .await;
    let store = world.store().await;
    let r = incident_in(&store, &channel).await;
    assert_eq!(
        r.incident.severity,
        Severity::Sev1,
        "the health route's severity"
    );
    assert!(
        r.incident.title.contains("AWS_EC2_OPERATIONAL_ISSUE"),
        "{}",
        r.incident.title
    );
    wait_handled(&app, &aws, "health", 2).await;
    // Delivered again: the same incident, not posted again.
    aws.send(&issue).await;
    wait_handled(&app, &aws, "health", 3).await;
    wait_outbox_drained(&store).await;
    assert_eq!(incident_channels(&world).len(), 1);
    assert_eq!(
        posts_containing(&world, &channel, "AWS Health event for"),
        1
    );
    app.stop().await.unwrap();
}

/// An alarm forwarded from a member account listed in `[[aws.accounts]]`: its tags (the
/// route matches on them) are read in that account, through the assumed role.
#[tokio::test]
async fn an_alarm_from_a_listed_account_is_routed_by_tags_read_in_that_account() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let role_arn = "arn:aws:iam::111111111111:role/warroom-read";
    let app = start_bot_with(&world, &aws, None, |c| {
        c.aws.accounts = vec![warroom::config::AccountConfig {
            name: "payments".into(),
            role_arn: role_arn.into(),
            account_id: "111111111111".into(),
            external_id: None,
            regions: vec![REGION.to_string()],
        }];
        c.alarms.routes.routes = vec![Route {
            name: "payments".into(),
            matcher: Matcher {
                tags: vec![("team".into(), Glob::new("payments"))],
                ..Matcher::default()
            },
            severity: Severity::Sev1,
            ..Route::default_route()
        }];
    })
    .await;
    let cw = aws.fake.operator_cloudwatch_as(REGION, role_arn).await;
    cw.put_metric_alarm()
        .alarm_name("checkout-web-cpu")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(1)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .tags(
            aws_sdk_cloudwatch::types::Tag::builder()
                .key("team")
                .value("payments")
                .build(),
        )
        .send()
        .await
        .expect("PutMetricAlarm in the member account");
    aws.send(&alarm_event_in(
        "111111111111",
        "checkout-web-cpu",
        "ALARM",
        Utc::now(),
    ))
    .await;
    let channel = wait_one_channel(&world).await;
    wait_post(
        &world,
        &channel,
        "CloudWatch alarm *checkout-web-cpu* is in *ALARM*",
    )
    .await;
    for want in ["payments (SEV1)", "us-east-1 (account 111111111111)"] {
        assert_eq!(
            posts_containing(&world, &channel, want),
            1,
            "{want:?} not in the first post"
        );
    }
    app.stop().await.unwrap();
}
