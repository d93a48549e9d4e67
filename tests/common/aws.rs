//! moto behind the AWS fake (`warroom::aws::fake`), the clients the test uses to play the
//! operator (CloudWatch, SQS and the events queue), and the bot started against them.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic, Tag};
use chrono::{DateTime, Utc};
use warroom::app::App;
use warroom::aws::fake::{AwsFake, MotoServer};
use warroom::aws::AwsAccess;
use warroom::clock::SharedClock;
use warroom::config::Config;
use warroom::domain::routing::{Glob, Matcher, Route};
use warroom::domain::Severity;

use super::wait::{wait_until_ok, Seen};
use super::world::{Connect, World};
use crate::helpers::DEADLINE;

/// The region everything runs in.
pub const REGION: &str = "us-east-1";

/// How often a bot started with [`poll_alarms`] asks CloudWatch.
pub const POLL: Duration = Duration::from_millis(200);

/// What CloudWatch says when the CPU alarm fires.
pub const CPU_BREACH: &str =
    "Threshold Crossed: 1 datapoint [97.5] was greater than the threshold (80.0)";

/// The fixed keys the bot signs its requests to the fake with.
pub fn test_keys() -> AwsAccess {
    AwsAccess::Static {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    }
}

/// moto with the AWS fake before it, and the operator's clients.
pub struct Aws {
    pub fake: AwsFake,
    /// The operator's CloudWatch, in the fake's own account.
    pub cw: aws_sdk_cloudwatch::Client,
    /// The operator's SQS (EventBridge, delivering to the events queue).
    pub sqs: aws_sdk_sqs::Client,
    /// The events queue, when started with one ([`Aws::start_with_queue`]).
    queue_url: Option<String>,
    _moto: MotoServer,
}

impl Aws {
    pub async fn start() -> Aws {
        let (fake, moto) = AwsFake::start_on_moto()
            .await
            .expect("moto and the AWS fake start");
        Aws {
            cw: fake.operator_cloudwatch(REGION),
            sqs: fake.operator_sqs(REGION),
            queue_url: None,
            fake,
            _moto: moto,
        }
    }

    /// [`Aws::start`] with the events queue `warroom-events` created.
    pub async fn start_with_queue() -> Aws {
        let mut aws = Aws::start().await;
        let url = aws
            .sqs
            .create_queue()
            .queue_name("warroom-events")
            .send()
            .await
            .expect("CreateQueue")
            .queue_url()
            .expect("a queue URL")
            .to_string();
        aws.queue_url = Some(url);
        aws
    }

    /// The events queue's URL.
    pub fn queue_url(&self) -> &str {
        self.queue_url
            .as_deref()
            .expect("started with a queue (Aws::start_with_queue)")
    }

    /// An EC2 CPU alarm on the `checkout-web` group, in OK until fired.
    pub async fn put_alarm(&self, name: &str, description: &str) {
        CpuAlarm::new(name)
            .described(description)
            .on_group("checkout-web")
            .put(&self.cw)
            .await
    }

    /// [`Aws::put_alarm`] with tags.
    pub async fn put_tagged_alarm(&self, name: &str, description: &str, tags: &[(&str, &str)]) {
        CpuAlarm::new(name)
            .described(description)
            .on_group("checkout-web")
            .tagged(tags)
            .put(&self.cw)
            .await
    }

    /// `aws cloudwatch set-alarm-state`.
    pub async fn set_state(&self, name: &str, state: StateValue, reason: &str) {
        set_state(&self.cw, name, state, reason).await
    }

    /// Put the alarm into ALARM, as a CPU breach.
    pub async fn fire(&self, name: &str) {
        self.set_state(name, StateValue::Alarm, CPU_BREACH).await
    }

    /// [`Aws::fire`], and return the alarm's StateUpdatedTimestamp, as the event will carry it.
    pub async fn fire_timed(&self, name: &str) -> DateTime<Utc> {
        self.fire(name).await;
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
    pub async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(self.queue_url())
            .message_body(body)
            .send()
            .await
            .expect("SendMessage");
    }

    /// Messages in the queue, visible or handed out and not yet deleted.
    pub async fn depth(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue_url())
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

    /// Wait until the fake has answered `n` more calls of `operation` (than now).
    pub async fn wait_calls(&self, operation: &str, n: usize) {
        self.wait_calls_since(operation, self.fake.call_count(operation), n)
            .await
    }

    /// Wait until the fake has answered `n` more calls of `operation` than `start`. Allows
    /// 2 s a call on top of the deadline: the SDK backs off between its retries, and slow
    /// answers are slow.
    pub async fn wait_calls_since(&self, operation: &str, start: usize, n: usize) {
        let allowed =
            DEADLINE + Duration::from_secs(2).saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        let what = format!("{n} more {operation} calls");
        wait_until_ok(allowed, &what, async || {
            match self.fake.call_count(operation) {
                count if count >= start + n => Ok(()),
                count => Err(Seen(format!("{} of them", count.saturating_sub(start)))),
            }
        })
        .await
    }
}

/// An EC2 CPU alarm (average above 80 over one period), as `aws cloudwatch
/// put-metric-alarm` makes it.
#[derive(Debug, Clone, Copy)]
pub struct CpuAlarm<'a> {
    name: &'a str,
    description: Option<&'a str>,
    group: Option<&'a str>,
    tags: &'a [(&'a str, &'a str)],
    period: i32,
}

impl<'a> CpuAlarm<'a> {
    /// No description, no dimension, no tags, five-minute periods.
    pub fn new(name: &'a str) -> Self {
        CpuAlarm {
            name,
            description: None,
            group: None,
            tags: &[],
            period: 300,
        }
    }

    pub fn described(self, description: &'a str) -> Self {
        CpuAlarm {
            description: Some(description),
            ..self
        }
    }

    /// On the CPU of the auto scaling group `group`.
    pub fn on_group(self, group: &'a str) -> Self {
        CpuAlarm {
            group: Some(group),
            ..self
        }
    }

    pub fn tagged(self, tags: &'a [(&'a str, &'a str)]) -> Self {
        CpuAlarm { tags, ..self }
    }

    pub fn period(self, seconds: i32) -> Self {
        CpuAlarm {
            period: seconds,
            ..self
        }
    }

    /// Create it with `cw` (in whichever account its credentials act), in OK until fired.
    pub async fn put(&self, cw: &aws_sdk_cloudwatch::Client) {
        let mut put = cw
            .put_metric_alarm()
            .alarm_name(self.name)
            .set_alarm_description(self.description.map(str::to_string))
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .statistic(Statistic::Average)
            .period(self.period)
            .evaluation_periods(1)
            .threshold(80.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold);
        if let Some(group) = self.group {
            put = put.dimensions(
                Dimension::builder()
                    .name("AutoScalingGroupName")
                    .value(group)
                    .build(),
            );
        }
        for (k, v) in self.tags {
            put = put.tags(Tag::builder().key(*k).value(*v).build());
        }
        put.send().await.expect("PutMetricAlarm");
    }
}

/// `aws cloudwatch set-alarm-state` with `cw`.
pub async fn set_state(
    cw: &aws_sdk_cloudwatch::Client,
    name: &str,
    state: StateValue,
    reason: &str,
) {
    cw.set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .expect("SetAlarmState");
}

/// The `checkout` route: alarms named `checkout-*` open SEV2 incidents.
pub fn checkout_route() -> Route {
    Route {
        name: "checkout".to_string(),
        matcher: Matcher {
            alarm_name: Some(Glob::new("checkout-*")),
            ..Matcher::default()
        },
        severity: Severity::Sev2,
        ..Route::default_route()
    }
}

/// Alarms on: CloudWatch in [`REGION`] polled every [`POLL`].
pub fn poll_alarms(config: &mut Config) {
    config.alarms.enabled = true;
    config.alarms.regions = vec![REGION.to_string()];
    config.alarms.poll_interval = POLL;
}

/// `[escalation]` as the escalation tests start from: a case nudge 30 minutes into an
/// incident AWS is involved in, repeated every 15 minutes, no stale-update nudges.
pub fn escalate(config: &mut Config) {
    let e = &mut config.escalation;
    e.aws_support_after = Duration::from_secs(30 * 60);
    e.renudge_every = Duration::from_secs(15 * 60);
    e.update_every = None;
}

impl World {
    /// Start the bot in-process on `clock` with AWS at `aws` (when given) and the fixed
    /// [`test_keys`], its config adjusted by `tweak`; waits for its connection as `connect`
    /// says. (The database's failover is the config's default, as these tests always had.)
    pub async fn start_aws_bot(
        &self,
        aws: Option<&AwsFake>,
        clock: SharedClock,
        connect: Connect,
        tweak: impl FnOnce(&mut Config),
    ) -> App {
        let (mut config, secrets) = self.bot_config();
        if let Some(aws) = aws {
            config.aws.endpoint_url = Some(aws.endpoint_url());
        }
        tweak(&mut config);
        self.launch(config, secrets, clock, Some(test_keys()), connect)
            .await
    }
}
