//! AWS faults, with moto behind the AWS fake (as in `tests/bot/alarms.rs` and
//! `tests/bot/escalation.rs`): CloudWatch's DescribeAlarms throttled, failing with 5xx and
//! answering later than the poll interval while an alarm fires and recovers; AWS Support's
//! CreateCase throttled past the SDK's own retries across a restart, and its answer lost to
//! a SIGKILL; DescribeCommunications failing for a while, then answering late; and a nudge
//! that comes due while Slack's chat.postMessage answers 5xx.
//!
//! The invariants are what people see: one incident and one channel per alarm, one case per
//! request, each AWS reply mirrored once, each nudge posted once. `WARROOM_SOAK=1` makes the
//! outages longer.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudwatch::types::StateValue;
use chrono::Utc;
use warroom::app::App;
use warroom::clock::{SharedClock, SystemClock};
use warroom::domain::EntryKind;
use warroom::slack_emulator::Fault;
use warroom::store::Store;

use crate::helpers::*;

/// Attempts the SDK makes per call (standard retry mode) before warroom sees the error.
const SDK_ATTEMPTS: usize = 3;
/// An outage that lasts until it is cleared by hand.
const UNTIL_CLEARED: u32 = 100_000;

fn soak() -> bool {
    std::env::var("WARROOM_SOAK").is_ok_and(|v| v == "1")
}

/// Why the chaos suite moves its alarms.
const REASON: &str = "Threshold Crossed: set by the chaos suite";

/// The CPU alarm the chaos suite fires (no dimension).
async fn put_alarm(aws: &Aws, name: &str) {
    CpuAlarm::new(name)
        .described("CPU of the checkout fleet")
        .put(&aws.cw)
        .await
}

/// The bot in-process, polling the fake's CloudWatch every [`POLL`].
async fn start_alarm_bot(world: &World, aws: &Aws) -> App {
    let clock = Arc::new(SystemClock);
    world
        .start_aws_bot(Some(&aws.fake), clock, Connect::OneMore, |config| {
            poll_alarms(config);
            config.alarms.health_recheck = Duration::from_secs(600);
        })
        .await
}

/// The bot in-process with `[escalation]` (a case nudge 30 minutes into an incident AWS is
/// involved in, no stale-update nudges), on `clock`, asking `aws` (when given) for AWS
/// Support, whose correspondence it polls every `support_poll`.
async fn start_escalation_bot(
    world: &World,
    clock: SharedClock,
    aws: Option<&Aws>,
    support_poll: Duration,
) -> App {
    let fake = aws.map(|aws| &aws.fake);
    world
        .start_aws_bot(fake, clock, Connect::OneMore, |config| {
            escalate(config);
            config.escalation.support_poll_interval = support_poll;
        })
        .await
}

/// Wait until the incident's latest case has `n` failed CreateCase attempts on record. The
/// bot reads its clock for the next retry only after CreateCase has answered, so a test that
/// moves the clock as soon as AWS has *seen* the call can push that retry out of reach.
async fn wait_case_attempts(store: &Store, channel: &str, n: i64) {
    let id = incident_in(store, channel).await.incident.id;
    let what = format!("{n} failed CreateCase attempts on record");
    wait_until_ok(DEADLINE, &what, async || {
        let case = warroom::store::escalation::latest_case(store.db(), id)
            .await
            .expect("cases readable");
        if case.as_ref().is_some_and(|c| c.attempts >= n) {
            Ok(())
        } else {
            Err(case)
        }
    })
    .await
}

// --- CloudWatch alarms ----------------------------------------------------------------------

/// DescribeAlarms throttled (past the SDK's retries) while an alarm fires: nothing opens
/// while AWS refuses, and one incident with one channel and one first post opens when it
/// recovers. Then 5xx for a while, during which the alarm recovers: the recovery is posted
/// once, and nothing is duplicated.
#[tokio::test]
async fn alarm_polls_throttled_or_failing_open_one_incident_when_aws_recovers() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let app = start_alarm_bot(&world, &aws).await;
    let store = world.store().await;
    put_alarm(&aws, "checkout-web-cpu").await;
    let outage_polls = if soak() { 20 } else { 3 };

    aws.fake
        .fail_cloudwatch("DescribeAlarms", "Throttling", UNTIL_CLEARED);
    aws.set_state("checkout-web-cpu", StateValue::Alarm, REASON)
        .await;
    aws.wait_calls("DescribeAlarms", outage_polls * SDK_ATTEMPTS)
        .await;
    assert!(
        warroom::store::incidents::list(store.db(), false)
            .await
            .expect("readable")
            .is_empty(),
        "nothing can be known while DescribeAlarms is throttled"
    );
    assert!(world.inc_channels().is_empty());
    aws.fake.fail_cloudwatch("DescribeAlarms", "Throttling", 0);
    // The SDK's retries gave up and warroom saw the throttling (so do operators: /metrics).
    assert!(app.metrics.aws_calls_of("DescribeAlarms", "Throttling") >= 1);

    let channel = wait_one_channel(&world).await;
    wait_posts(&world, &channel, "is in *ALARM*", 1).await;
    aws.wait_calls("DescribeAlarms", 3).await;
    check_invariants(&world, &store, 1).await;
    assert_eq!(bot_posts(&world, &channel, "is in *ALARM*").len(), 1);
    assert_eq!(count_kind(&store, &channel, EntryKind::AlarmFired).await, 1);

    // 5xx now, and the alarm recovers during the outage.
    aws.fake
        .fail_cloudwatch("DescribeAlarms", "InternalServiceFault", UNTIL_CLEARED);
    aws.wait_calls("DescribeAlarms", SDK_ATTEMPTS).await;
    aws.set_state("checkout-web-cpu", StateValue::Ok, REASON)
        .await;
    aws.wait_calls("DescribeAlarms", outage_polls * SDK_ATTEMPTS)
        .await;
    assert_eq!(bot_posts(&world, &channel, "recovered (OK)").len(), 0);
    aws.fake
        .fail_cloudwatch("DescribeAlarms", "InternalServiceFault", 0);
    assert!(
        app.metrics
            .aws_calls_of("DescribeAlarms", "InternalServiceFault")
            >= 1
    );
    wait_posts(&world, &channel, "recovered (OK)", 1).await;
    aws.wait_calls("DescribeAlarms", 3).await;
    check_invariants(&world, &store, 1).await;
    assert_eq!(bot_posts(&world, &channel, "recovered (OK)").len(), 1);
    assert_eq!(bot_posts(&world, &channel, "is in *ALARM*").len(), 1);
    app.stop().await.expect("bot stops");
}

/// DescribeAlarms (and the graph and Health calls after it) answering later than the poll
/// interval: the polls do not overlap into a second incident or a second first post.
#[tokio::test]
async fn slow_alarm_polls_longer_than_the_interval_do_not_duplicate_anything() {
    let world = World::new().await;
    let aws = Aws::start().await;
    let slow = POLL * 4;
    let times = if soak() { 40 } else { 6 };
    aws.fake.slow_aws("DescribeAlarms", slow, times);
    aws.fake.slow_aws("GetMetricWidgetImage", slow, 2);
    aws.fake.slow_aws("DescribeEvents", slow, 2);
    let app = start_alarm_bot(&world, &aws).await;
    let store = world.store().await;
    put_alarm(&aws, "db-latency").await;
    aws.set_state("db-latency", StateValue::Alarm, REASON).await;

    let channel = wait_one_channel(&world).await;
    wait_posts(&world, &channel, "is in *ALARM*", 1).await;
    // Every slow answer given, and a few polls after them.
    aws.wait_calls("DescribeAlarms", times as usize + 3).await;
    check_invariants(&world, &store, 1).await;
    assert_eq!(bot_posts(&world, &channel, "is in *ALARM*").len(), 1);
    assert_eq!(count_kind(&store, &channel, EntryKind::AlarmFired).await, 1);
    let files = world
        .emu
        .workspace()
        .files
        .iter()
        .filter(|f| f.completed && f.channel.as_deref() == Some(channel.as_str()))
        .count();
    assert_eq!(files, 1, "one graph");
    app.stop().await.expect("bot stops");
}

// --- AWS Support ----------------------------------------------------------------------------

/// CreateCase throttled past the SDK's retries, twice in a row, with a restart between the
/// attempts: the channel hears once that warroom keeps trying, and one case opens when AWS
/// takes it; a later restart and more time change nothing.
#[tokio::test]
async fn create_case_throttled_across_a_restart_opens_exactly_one_case() {
    let aws = Aws::start().await;
    let world = World::new().await;
    let clock = whole_minute_clock();
    let shared: SharedClock = Arc::new(clock.clone());
    let poll = Duration::from_secs(60);
    let app = start_escalation_bot(&world, shared.clone(), Some(&aws), poll).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Queue backlog sev2").await;

    // Two warroom attempts' worth of throttling: the first one, then its retry.
    aws.fake
        .fail_support("CreateCase", "ThrottlingException", 2 * SDK_ATTEMPTS as u32);
    assert_eq!(world.command(BOB, &ch, "escalate aws high").await, None);
    wait_posts(&world, &ch, "keeps trying", 1).await;
    stop(&world, app).await;

    let app = start_escalation_bot(&world, shared.clone(), Some(&aws), poll).await;
    // The first retry (15 s later) is throttled again; the second (30 s after it) opens it.
    let asked = aws.fake.call_count("CreateCase");
    clock.advance(chrono::Duration::seconds(20));
    app.service.kick_timers();
    aws.wait_calls_since("CreateCase", asked, SDK_ATTEMPTS)
        .await;
    // That retry's failure, and so the time of the next one, is on record before the clock
    // moves again (else the next retry is scheduled from the moved clock, out of reach).
    wait_case_attempts(&store, &ch, 2).await;
    clock.advance(chrono::Duration::seconds(35));
    app.service.kick_timers();
    wait_posts(&world, &ch, "opened AWS Support case", 1).await;
    stop(&world, app).await;

    let app = start_escalation_bot(&world, shared.clone(), Some(&aws), poll).await;
    for _ in 0..3 {
        let polled = aws.fake.call_count("DescribeCommunications");
        clock.advance(chrono::Duration::minutes(5));
        app.service.kick_timers();
        aws.wait_calls_since("DescribeCommunications", polled, 1)
            .await;
    }
    assert_eq!(aws.fake.support_cases().len(), 1, "one case at AWS");
    assert_eq!(bot_posts(&world, &ch, "opened AWS Support case").len(), 1);
    assert_eq!(bot_posts(&world, &ch, "keeps trying").len(), 1);
    assert_eq!(count_kind(&store, &ch, EntryKind::SupportCase).await, 1);
    check_invariants(&world, &store, 1).await;
    stop(&world, app).await;
}

/// The bot is killed while AWS has opened the case but not answered yet (a lost answer):
/// the restarted bot replays the request, finds the case at AWS and adopts it instead of
/// opening a second one.
#[tokio::test]
async fn a_create_case_answer_lost_to_a_sigkill_is_adopted_not_opened_twice() {
    let aws = Aws::start().await;
    let world = World::new().await;
    let extra = format!(
        "[aws]\nregion = \"{REGION}\"\nendpoint_url = \"{}\"\n[escalation]\nsupport_poll_interval = \"10s\"\n",
        aws.fake.endpoint_url()
    );
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let bot = BotProcess::start_with_env(&world, "", &extra, &env).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("bot connects");
    let ch = world.declare(ALICE, "Payments timeouts sev1").await;

    // AWS opens the case at once but answers only after the bot is gone.
    aws.fake.slow_aws("CreateCase", Duration::from_secs(20), 1);
    assert_eq!(world.command(BOB, &ch, "escalate aws urgent").await, None);
    wait_until_sync(DEADLINE, "CreateCase to reach AWS", || {
        !aws.fake.support_cases().is_empty()
    })
    .await;
    bot.kill(&world).await;
    assert_eq!(bot_posts(&world, &ch, "opened AWS Support case").len(), 0);

    let bot = BotProcess::start_with_env(&world, "", &extra, &env).await;
    world
        .emu
        .wait_for_connections(1, DEADLINE)
        .await
        .expect("bot reconnects");
    wait_posts(&world, &ch, "opened AWS Support case", 1).await;
    let store = world.store().await;
    wait_timeline(&store, &ch, "the case on the timeline", |e| {
        e.iter().any(|x| x.kind == EntryKind::SupportCase)
    })
    .await;
    bot.terminate(&world).await;
    let cases = aws.fake.support_cases();
    assert_eq!(cases.len(), 1, "one case at AWS: {cases:?}");
    assert_eq!(aws.fake.call_count("CreateCase"), 1, "never asked twice");
    assert_eq!(bot_posts(&world, &ch, "opened AWS Support case").len(), 1);
    assert_eq!(count_kind(&store, &ch, EntryKind::SupportCase).await, 1);
    let case = warroom::store::escalation::latest_case(
        store.db(),
        incident_in(&store, &ch).await.incident.id,
    )
    .await
    .expect("readable")
    .expect("the case is recorded");
    assert_eq!(case.case_id.as_deref(), Some(cases[0].case_id.as_str()));
    check_invariants(&world, &store, 1).await;
}

/// DescribeCommunications fails (5xx past the SDK's retries) for several polls while AWS
/// replies: the reply is mirrored once when AWS recovers. Then it answers later than the
/// poll interval while AWS replies again: that reply is mirrored once too.
#[tokio::test]
async fn aws_replies_are_mirrored_once_through_failing_and_slow_polls() {
    let aws = Aws::start().await;
    let world = World::new().await;
    // The floor for the config file is 10 s; in-process, polls every 300 ms of real time.
    let poll = Duration::from_millis(300);
    let app = start_escalation_bot(&world, Arc::new(SystemClock), Some(&aws), poll).await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    assert_eq!(world.command(BOB, &ch, "escalate aws high").await, None);
    wait_posts(&world, &ch, "opened AWS Support case", 1).await;
    let case_id = aws.fake.support_cases()[0].case_id.clone();
    let outage_polls = if soak() { 20 } else { 3 };

    aws.fake.fail_support(
        "DescribeCommunications",
        "InternalServerError",
        UNTIL_CLEARED,
    );
    aws.wait_calls("DescribeCommunications", SDK_ATTEMPTS).await;
    aws.fake
        .add_support_reply(&case_id, "We are looking at your queue.", Utc::now(), &[]);
    aws.wait_calls("DescribeCommunications", outage_polls * SDK_ATTEMPTS)
        .await;
    assert_eq!(bot_posts(&world, &ch, "AWS Support replied").len(), 0);
    aws.fake
        .fail_support("DescribeCommunications", "InternalServerError", 0);
    wait_posts(&world, &ch, "AWS Support replied", 1).await;

    // Slow answers: each takes longer than three poll intervals.
    let slow = poll * 3;
    aws.fake
        .slow_aws("DescribeCommunications", slow, outage_polls as u32 + 2);
    aws.wait_calls("DescribeCommunications", 1).await;
    aws.fake
        .add_support_reply(&case_id, "The queue is draining again.", Utc::now(), &[]);
    wait_posts(&world, &ch, "AWS Support replied", 2).await;
    aws.wait_calls("DescribeCommunications", outage_polls + 3)
        .await;
    wait_outbox_unsent(&world).await;
    assert_eq!(
        bot_posts(&world, &ch, "We are looking at your queue").len(),
        1
    );
    assert_eq!(
        bot_posts(&world, &ch, "The queue is draining again").len(),
        1
    );
    assert_eq!(count_kind(&store, &ch, EntryKind::AwsReply).await, 2);
    check_invariants(&world, &store, 1).await;
    stop(&world, app).await;
}

// --- nudges under a Slack outage ------------------------------------------------------------

/// The case nudge comes due while chat.postMessage answers 503, more times in a row than
/// the outbox once allowed (6): it is posted once when Slack recovers, and not again.
#[tokio::test]
async fn a_nudge_due_during_a_slack_outage_is_posted_once_when_slack_recovers() {
    let world = World::new().await;
    let clock = whole_minute_clock();
    let app = start_escalation_bot(
        &world,
        Arc::new(clock.clone()),
        None,
        Duration::from_secs(60),
    )
    .await;
    let store = world.store().await;
    let ch = world.declare(ALICE, "Checkout errors sev2").await;
    assert_eq!(world.command(ALICE, &ch, "aws yes").await, None);
    wait_posts(&world, &ch, "says AWS is involved", 1).await;
    wait_outbox_unsent(&world).await;

    // The outage: the outbox backs off 250 ms more per failure, so 8 failures take ~9 s.
    let failures: u32 = if soak() { 25 } else { 8 };
    let outage = Duration::from_millis(250 * u64::from(failures) * u64::from(failures + 1) / 2);
    world
        .emu
        .inject_fault("chat.postMessage", Fault::HttpStatus(503), failures);
    clock.advance(chrono::Duration::minutes(30));
    app.service.kick_timers();
    wait_timeline(&store, &ch, "the nudge recorded", |e| {
        e.iter().any(|x| x.kind == EntryKind::Nudge)
    })
    .await;
    wait_posts_within(
        &world,
        &ch,
        "no AWS Support case is open",
        1,
        outage + DEADLINE,
    )
    .await;
    wait_outbox_unsent(&world).await;
    let refused = world
        .emu
        .api_calls()
        .iter()
        .filter(|c| c.method == "chat.postMessage" && c.http_status == 503)
        .count();
    assert_eq!(refused, failures as usize, "the whole outage was met");
    assert_eq!(
        bot_posts(&world, &ch, "no AWS Support case is open").len(),
        1
    );
    assert_eq!(count_kind(&store, &ch, EntryKind::Nudge).await, 1);
    check_invariants(&world, &store, 1).await;
    stop(&world, app).await;
}
