//! `[events]`: AWS's events pushed through EventBridge into SQS. The real bot reads a real
//! queue through aws-sdk-sqs (moto keeps it, behind the AWS fake); the test plays
//! EventBridge, sending bodies shaped as AWS documents each event, and the operator
//! (creating alarms and setting their state in moto with the CloudWatch SDK).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use warroom::app::App;
use warroom::aws::fake::ACCOUNT_ID;
use warroom::clock::SystemClock;
use warroom::config::EventsConfig;
use warroom::domain::routing::{Glob, Matcher, Route};
use warroom::domain::Severity;

use crate::helpers::*;

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
    let clock = Arc::new(SystemClock);
    world
        .start_aws_bot(Some(&aws.fake), clock, Connect::AtLeastOne, |config| {
            poll_alarms(config);
            config.alarms.polling = poll.is_some();
            config.alarms.poll_interval = poll.unwrap_or(Duration::from_secs(3600));
            config.alarms.health_recheck = Duration::from_secs(3600);
            // No "what changed" look-up (it lists the alarms in ALARM): DescribeAlarms is
            // then the poller's alone.
            config.diagnostics.enabled = false;
            // The Support poll only looks at a new case at once, then hourly: a reply seen
            // within the test came from the queue.
            config.escalation.support_api = true;
            config.escalation.support_poll_interval = Duration::from_secs(3600);
            config.alarms.routes.routes = vec![checkout_route()];
            config.events = Some(EventsConfig {
                sqs_queue_url: aws.queue_url().to_string(),
                region: REGION.to_string(),
                wait: Duration::from_secs(1),
                batch: 10,
                health_opens_incident: false,
            });
            adjust(config);
        })
        .await
}

/// Wait until the bot has handled `n` queue messages of `kind` and the queue is empty.
async fn wait_handled(app: &App, aws: &Aws, kind: &str, n: u64) {
    let m = app.service.ctx().metrics.clone();
    wait_until(
        DEADLINE,
        &format!("{n} {kind} queue messages handled"),
        async || {
            let got = if kind == "malformed" {
                m.queue_messages_malformed()
            } else {
                m.queue_messages_of(kind)
            };
            got >= n && aws.depth().await == 0
        },
    )
    .await;
}

#[tokio::test]
async fn an_alarm_from_the_queue_opens_a_war_room_with_the_poller_off() {
    let world = World::new().await;
    let aws = Aws::start_with_queue().await;
    let app = start_bot(&world, &aws, None).await;
    // A body that is no event, and an event with a broken detail, come first: deleted and
    // counted, and the queue goes on.
    aws.send("{not json").await;
    aws.send(&alarm_event("checkout-web-cpu", "ON_FIRE", Utc::now()))
        .await;
    wait_handled(&app, &aws, "malformed", 2).await;
    assert_eq!(app.service.ctx().metrics.queue_messages_malformed(), 2);
    assert!(world.inc_channels().is_empty());

    aws.put_alarm("checkout-web-cpu", "CPU of the checkout fleet")
        .await;
    let at = aws.fire_timed("checkout-web-cpu").await;
    // The test's own DescribeAlarms (reading the state time) is the only one.
    let described = aws.fake.call_count("DescribeAlarms");
    let body = alarm_event("checkout-web-cpu", "ALARM", at);
    aws.send(&body).await;
    let channel = wait_one_channel(&world).await;
    bot_post(
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
            bot_posts(&world, &channel, want).len(),
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
    assert_eq!(world.inc_channels().len(), 1);
    assert_eq!(
        bot_posts(&world, &channel, "is in *ALARM*").len(),
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
    let aws = Aws::start_with_queue().await;
    aws.put_alarm("checkout-db-cpu", "CPU of the checkout fleet")
        .await;
    let app = start_bot(&world, &aws, Some(Duration::from_millis(200))).await;
    let at = aws.fire_timed("checkout-db-cpu").await;
    // The event and the poll race for the same transition.
    aws.send(&alarm_event("checkout-db-cpu", "ALARM", at)).await;
    let channel = wait_one_channel(&world).await;
    bot_post(&world, &channel, "is in *ALARM*").await;
    wait_handled(&app, &aws, "alarm", 1).await;
    // Several more polls see the alarm still in ALARM, and the same event comes again.
    aws.send(&alarm_event("checkout-db-cpu", "ALARM", at)).await;
    wait_handled(&app, &aws, "alarm", 2).await;
    let polls = aws.fake.call_count("DescribeAlarms");
    wait_until(DEADLINE, "three more polls", async || {
        aws.fake.call_count("DescribeAlarms") >= polls + 3
    })
    .await;
    let store = world.store().await;
    wait_outbox_drained(&store).await;
    assert_eq!(world.inc_channels().len(), 1, "one incident");
    assert_eq!(bot_posts(&world, &channel, "is in *ALARM*").len(), 1);
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
    let aws = Aws::start_with_queue().await;
    let app = start_bot(&world, &aws, None).await;
    aws.put_alarm("checkout-web-cpu", "CPU of the checkout fleet")
        .await;
    let at = aws.fire_timed("checkout-web-cpu").await;
    aws.send(&alarm_event("checkout-web-cpu", "ALARM", at))
        .await;
    let channel = wait_one_channel(&world).await;
    // The war room's own Health check (nothing open yet) comes first.
    bot_post(&world, &channel, "AWS Health reports no open issue").await;

    // Another service's and another region's events are not this incident's.
    let now = Utc::now();
    aws.send(&health_event("RDS", REGION, now)).await;
    aws.send(&health_event("EC2", "eu-west-1", now)).await;
    let ec2 = health_event("EC2", REGION, now);
    aws.send(&ec2).await;
    bot_post(
        &world,
        &channel,
        &format!("AWS Health event for EC2 in {REGION} (account {ACCOUNT_ID})"),
    )
    .await;
    bot_post(&world, &channel, "AWS_EC2_OPERATIONAL_ISSUE").await;
    wait_handled(&app, &aws, "health", 3).await;
    // Delivered again: not posted again.
    aws.send(&ec2).await;
    wait_handled(&app, &aws, "health", 4).await;
    wait_outbox_drained(&world.store().await).await;
    assert_eq!(bot_posts(&world, &channel, "AWS Health event for").len(), 1);
    assert_eq!(bot_posts(&world, &channel, "RDS").len(), 0);
    assert_eq!(bot_posts(&world, &channel, "eu-west-1").len(), 0);
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
    let aws = Aws::start_with_queue().await;
    let app = start_bot(&world, &aws, None).await;
    let ch = world.declare(ALICE, "Queue backlog sev2").await;
    assert_eq!(world.command(BOB, &ch, "escalate aws urgent").await, None);
    bot_post(&world, &ch, "opened AWS Support case").await;
    let case_id = aws.fake.support_cases()[0].case_id.clone();
    // The case's first look (right after CreateCase); the next poll is an hour away.
    wait_until(DEADLINE, "the new case's first poll", async || {
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
    bot_post(&world, &ch, "AWS Support replied").await;
    bot_post(&world, &ch, "We see elevated errors on your queue.").await;
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
    assert_eq!(bot_posts(&world, &ch, "AWS Support replied").len(), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_account_specific_health_issue_opens_an_incident_on_the_health_route() {
    let world = World::new().await;
    let aws = Aws::start_with_queue().await;
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
    assert!(world.inc_channels().is_empty());

    let issue = health_event_scoped("EC2", REGION, now, "ACCOUNT_SPECIFIC");
    aws.send(&issue).await;
    let channel = wait_one_channel(&world).await;
    bot_post(
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
    assert_eq!(world.inc_channels().len(), 1);
    assert_eq!(bot_posts(&world, &channel, "AWS Health event for").len(), 1);
    app.stop().await.unwrap();
}

/// An alarm forwarded from a member account listed in `[[aws.accounts]]`: its tags (the
/// route matches on them) are read in that account, through the assumed role.
#[tokio::test]
async fn an_alarm_from_a_listed_account_is_routed_by_tags_read_in_that_account() {
    let world = World::new().await;
    let aws = Aws::start_with_queue().await;
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
    // In the member account.
    CpuAlarm::new("checkout-web-cpu")
        .tagged(&[("team", "payments")])
        .put(&cw)
        .await;
    aws.send(&alarm_event_in(
        "111111111111",
        "checkout-web-cpu",
        "ALARM",
        Utc::now(),
    ))
    .await;
    let channel = wait_one_channel(&world).await;
    bot_post(
        &world,
        &channel,
        "CloudWatch alarm *checkout-web-cpu* is in *ALARM*",
    )
    .await;
    for want in ["payments (SEV1)", "us-east-1 (account 111111111111)"] {
        assert_eq!(
            bot_posts(&world, &channel, want).len(),
            1,
            "{want:?} not in the first post"
        );
    }
    app.stop().await.unwrap();
}
