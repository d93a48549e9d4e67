//! Alarms pushed through EventBridge → SQS (`load queue`, `load queue-storm`), the `[events]`
//! intake of issue 16, with the alarm poller off.
//!
//! moto_server keeps the queue (behind the AWS fake, as in the tests); this program plays
//! EventBridge, sending "CloudWatch Alarm State Change" events shaped as AWS documents them,
//! and the release binary long-polls the queue with the default `[events] wait` (20 s). The
//! same [`TimingProxy`]s as figure 3 sit between the bot and AWS, and the bot and Slack.
//!
//! - `queue`: `--alarms` alarms, one at a time, each its own incident (correlation window
//!   1 ms), each after Slack has been quiet for 1.1 s (as in figure 3). Per alarm: from the
//!   start of the SendMessage that puts the event in the queue to the header (the first
//!   `chat.postMessage` into the new channel); split into the queue's part (until the bot's
//!   ReceiveMessage answer that carries the event is back) and warroom's own (the rest, less
//!   what AWS and Slack spent answering in between).
//! - `queue-storm`: `--storm-alarms` state changes to ALARM over `--storm-routes` routes,
//!   sent as fast as SendMessageBatch takes them (10 a call), with the production rate limits
//!   on: from the first send until every transition is recorded, on a timeline, every
//!   incident has its channel and its posts, and the queue is empty; checked along the way:
//!   one incident per route (nothing doubled) and every transition recorded once.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use chrono::{DateTime, Utc};
use serde_json::json;
use warroom::aws::fake::ACCOUNT_ID;

use super::alarm::{
    busiest, count, ms, others_time, Hop, Rig, QUIET, REGION, STORM_DEADLINE, TIER2_PER_MINUTE,
};
use super::{cpu_secs, percentile, Args, Results, DEADLINE};

/// "CloudWatch Alarm State Change" as EventBridge delivers it (AWS's documented shape), for
/// a metric alarm on a custom metric (AWS Health has nothing to say about it).
fn alarm_event(name: &str, at: DateTime<Utc>) -> String {
    let arn = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}");
    let stamp = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    json!({
        "version": "0",
        "id": format!("5b2a1a7e-{:04x}-4c1e-9d43-{:012x}", name.len(), at.timestamp_millis()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT_ID,
        "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "alarmName": name,
            "configuration": {
                "description": "Checkout API p99 latency over budget",
                "metrics": [{
                    "id": "m1",
                    "metricStat": {
                        "metric": {
                            "dimensions": {"Service": "checkout"},
                            "name": "LatencyP99",
                            "namespace": "Bench/Checkout"
                        },
                        "period": 60,
                        "stat": "Maximum"
                    },
                    "returnData": true
                }]
            },
            "previousState": {
                "reason": "Threshold Crossed: 1 datapoint [310.0] was not greater than the threshold (800.0)",
                "timestamp": stamp(at - chrono::Duration::minutes(30)),
                "value": "OK"
            },
            "state": {
                "reason": "Threshold Crossed: 1 datapoint [1312.0] was greater than the threshold (800.0)",
                "reasonData": "{\"version\":\"1.0\",\"statistic\":\"Maximum\",\"period\":60,\"recentDatapoints\":[1312.0],\"threshold\":800.0}",
                "timestamp": stamp(at),
                "value": "ALARM"
            }
        }
    })
    .to_string()
}

/// The queue EventBridge's rule targets, created in moto.
async fn create_queue(sqs: &aws_sdk_sqs::Client) -> anyhow::Result<String> {
    sqs.create_queue()
        .queue_name("warroom-events")
        .send()
        .await
        .context("CreateQueue")?
        .queue_url()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("CreateQueue gave no queue URL"))
}

/// Messages in the queue, waiting or handed out and not yet deleted.
async fn depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<u64> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .context("GetQueueAttributes")?;
    let attrs = out.attributes().cloned().unwrap_or_default();
    let n = |k: QueueAttributeName| {
        attrs
            .get(&k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

/// `[alarms]` with polling off and `[events]` on the queue with its defaults (20 s long
/// polls, batches of 10).
fn events_toml(queue_url: &str, alarms: &str) -> String {
    format!(
        "[alarms]\npoll_interval = \"off\"\n{alarms}[events]\nsqs_queue_url = \"{queue_url}\"\n"
    )
}

/// One alarm's way from the queue into its war room.
struct Sample {
    total: Duration,
    delivery: Duration,
    own: Duration,
}

pub(super) async fn latency_run(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let rig = Rig::on_moto().await?;
    let sqs = rig.aws.operator_sqs(REGION);
    let queue_url = create_queue(&sqs).await?;
    let db = rig.world.db_path(&format!("queue-{run}.db"));
    let routes = "correlation_window = \"1ms\"\n\
                  [[alarms.route]]\nname = \"checkout\"\nalarm_name = \"bench-*\"\nseverity = \"sev2\"\n";
    let (mut child, pid, _) = rig
        .start_bot(
            args,
            &db,
            "proactive_rate_limits = false",
            &events_toml(&queue_url, routes),
        )
        .await?;
    let emu = &rig.world.emu;
    let bot = emu.config().bot_user_id.clone();
    let cpu_before = cpu_secs(pid)?;
    let mut samples = Vec::with_capacity(args.alarms);
    let mut known: Vec<String> = Vec::new();
    for k in 0..args.alarms {
        loop {
            let since = rig.slack.last_post().map_or(QUIET, |t| t.elapsed());
            if since >= QUIET {
                break;
            }
            tokio::time::sleep(QUIET - since).await;
        }
        rig.slack.take();
        let name = format!("bench-{run}-{k:04}");
        rig.aws_proxy.watch(Some(name.clone()));
        let body = alarm_event(&name, Utc::now());
        // EventBridge hands the event to SQS: from the start of that call (an upper bound on
        // the time it sat in the queue; the long poll may answer before SendMessage does).
        let queued = Instant::now();
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .context("SendMessage")?;
        let known_now = known.clone();
        let channel = emu
            .wait_until(DEADLINE, |ws| {
                ws.channels
                    .iter()
                    .filter(|c| c.name.starts_with("inc-") && !known_now.contains(&c.id))
                    .find(|c| {
                        ws.messages
                            .get(&c.id)
                            .is_some_and(|m| m.iter().filter(|m| m.user == bot).count() >= 2)
                    })
                    .map(|c| c.id.clone())
            })
            .await
            .map_err(|e| anyhow!("alarm {name}: war room not set up: {e}"))?;
        known.push(channel.clone());
        let aws_hops = rig.aws_proxy.take();
        let slack_hops = rig.slack.take();
        let received = aws_hops
            .iter()
            .find(|h| h.saw_watched)
            .ok_or_else(|| anyhow!("alarm {name}: no ReceiveMessage answer carried it"))?;
        let header = slack_hops
            .iter()
            .find(|h| {
                h.is("chat.postMessage") && h.body.as_deref().is_some_and(|b| b.contains(&channel))
            })
            .ok_or_else(|| anyhow!("alarm {name}: no post into {channel}"))?;
        let all: Vec<&Hop> = aws_hops.iter().chain(slack_hops.iter()).collect();
        let (others, _) = others_time(&all, received.end, header.start);
        let total = header.start.saturating_duration_since(queued);
        let delivery = received.end.saturating_duration_since(queued);
        samples.push(Sample {
            total,
            delivery,
            own: header
                .start
                .saturating_duration_since(received.end)
                .saturating_sub(others),
        });
    }
    let cpu = cpu_secs(pid)? - cpu_before;
    child.kill().await?;
    let receives = rig.aws.call_count("ReceiveMessage");
    println!(
        "queue run {run}: {} alarms through the queue, {receives} ReceiveMessage calls",
        samples.len()
    );
    let series =
        |f: fn(&Sample) -> Duration| -> Vec<f64> { samples.iter().map(|s| ms(f(s))).collect() };
    for (label, v) in [
        ("header.total", series(|s| s.total)),
        ("delivery", series(|s| s.delivery)),
        ("header.own", series(|s| s.own)),
    ] {
        for (p, tag) in [(50.0, "p50"), (99.0, "p99"), (100.0, "max")] {
            res.add(
                &format!("warroom.queue.{label}.{tag}"),
                "ms",
                percentile(&v, p),
            );
        }
    }
    res.add(
        "warroom.queue.cpu_per_alarm",
        "ms",
        cpu * 1000.0 / samples.len().max(1) as f64,
    );
    Ok(())
}

pub(super) async fn storm_run(args: &Args, run: usize, res: &mut Results) -> anyhow::Result<()> {
    let (alarms, routes) = (args.storm_alarms, args.storm_routes.max(1));
    let rig = Rig::on_moto().await?;
    let sqs = rig.aws.operator_sqs(REGION);
    let queue_url = create_queue(&sqs).await?;
    let db = rig.world.db_path(&format!("queue-storm-{run}.db"));
    let mut route_toml = String::new();
    for r in 0..routes {
        route_toml.push_str(&format!(
            "[[alarms.route]]\nname = \"service-{r:03}\"\nalarm_name = \"storm-{r:03}-*\"\nseverity = \"sev2\"\n"
        ));
    }
    // Production rate limits: proactive_rate_limits left at its default (on).
    let (mut child, pid, _) = rig
        .start_bot(args, &db, "", &events_toml(&queue_url, &route_toml))
        .await?;
    let emu = &rig.world.emu;
    let bot = emu.config().bot_user_id.clone();
    rig.slack.take();
    rig.aws_proxy.take();
    rig.aws_proxy.watch(None);
    let cpu_before = cpu_secs(pid)?;
    // Breaches spread over the last minute, as a real storm's would be.
    let now = Utc::now();
    let bodies: Vec<String> = (0..alarms)
        .map(|i| {
            let name = format!("storm-{:03}-{:04}", i % routes, i / routes);
            let at = now - chrono::Duration::milliseconds((i as i64 * 7_919) % 60_000);
            alarm_event(&name, at)
        })
        .collect();
    let t0 = Instant::now();
    for (b, chunk) in bodies.chunks(10).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{b}-{i}"))
                    .message_body(body)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = sqs
            .send_message_batch()
            .queue_url(&queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("SendMessageBatch")?;
        if !out.failed().is_empty() {
            bail!("SendMessageBatch refused {} messages", out.failed().len());
        }
    }
    let sent = t0.elapsed();
    println!(
        "queue storm run {run}: {alarms} state changes over {routes} routes queued in {:.1} s",
        sent.as_secs_f64()
    );
    let until = t0 + STORM_DEADLINE;
    let total = alarms as i64;
    let (mut recorded, mut on_timeline, mut drained) = (None, None, None);
    while on_timeline.is_none() || drained.is_none() {
        if recorded.is_none() && count(&db, "SELECT COUNT(*) FROM alarm_transitions")? >= total {
            recorded = Some(t0.elapsed());
        }
        if on_timeline.is_none()
            && count(
                &db,
                "SELECT COUNT(*) FROM timeline WHERE kind = 'alarm_fired'",
            )? >= total
        {
            on_timeline = Some(t0.elapsed());
            recorded.get_or_insert(t0.elapsed());
        }
        if drained.is_none() && recorded.is_some() && depth(&sqs, &queue_url).await? == 0 {
            drained = Some(t0.elapsed());
        }
        if Instant::now() > until {
            bail!("queue storm: not every transition on a timeline and the queue empty after {STORM_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let incidents = count(&db, "SELECT COUNT(*) FROM incidents")? as usize;
    let channels_at = emu
        .wait_until(STORM_DEADLINE, |ws| {
            let n = ws
                .channels
                .iter()
                .filter(|c| c.name.starts_with("inc-"))
                .count();
            (n >= incidents).then(|| t0.elapsed())
        })
        .await?;
    // Every war room: header, the alarm's details and the "joined" post for the others.
    let posts = if alarms > routes { 3 } else { 2 };
    let posted_at = emu
        .wait_until(STORM_DEADLINE, |ws| {
            let rooms: Vec<_> = ws
                .channels
                .iter()
                .filter(|c| c.name.starts_with("inc-"))
                .collect();
            let done = rooms.len() >= incidents
                && rooms.iter().all(|c| {
                    ws.messages
                        .get(&c.id)
                        .is_some_and(|m| m.iter().filter(|m| m.user == bot).count() >= posts)
                });
            done.then(|| t0.elapsed())
        })
        .await?;
    let cpu = cpu_secs(pid)? - cpu_before;
    child.kill().await?;
    // Nothing doubled: one row per transition, one incident per route.
    let transitions = count(&db, "SELECT COUNT(*) FROM alarm_transitions")?;
    if transitions != total || incidents != routes {
        bail!(
            "queue storm: {transitions} transitions recorded for {alarms} sent, {incidents} incidents for {routes} routes"
        );
    }
    let deletes = rig.aws.call_count("DeleteMessageBatch");
    let receives = rig.aws.call_count("ReceiveMessage");
    println!(
        "queue storm run {run}: {incidents} incidents; {receives} ReceiveMessage, {deletes} DeleteMessageBatch"
    );
    let secs = |d: Duration| d.as_secs_f64();
    let (recorded, on_timeline, drained) = (
        recorded.unwrap_or_default(),
        on_timeline.unwrap_or_default(),
        drained.unwrap_or_default(),
    );
    res.add("warroom.queue_storm.incidents", "count", incidents as f64);
    res.add("warroom.queue_storm.all_queued", "s", secs(sent));
    res.add("warroom.queue_storm.all_recorded", "s", secs(recorded));
    res.add(
        "warroom.queue_storm.all_on_a_timeline",
        "s",
        secs(on_timeline),
    );
    res.add("warroom.queue_storm.queue_empty", "s", secs(drained));
    res.add("warroom.queue_storm.all_channels", "s", secs(channels_at));
    res.add(
        "warroom.queue_storm.all_war_rooms_posted",
        "s",
        secs(posted_at),
    );
    res.add(
        "warroom.queue_storm.recorded_per_s",
        "1/s",
        alarms as f64 / secs(recorded).max(1e-3),
    );
    res.add("warroom.queue_storm.delete_calls", "count", deletes as f64);
    // What SQS (moto here) spent answering the bot's calls: the queue's share of the drain.
    let aws_hops = rig.aws_proxy.take();
    // Only the calls that ended while the queue was being drained (the long polls after
    // it was empty are idle waiting).
    let drained_at = t0 + drained;
    let mut sqs_total = Duration::ZERO;
    for op in ["ReceiveMessage", "DeleteMessage", "DeleteMessageBatch"] {
        let calls: Vec<&Hop> = aws_hops
            .iter()
            .filter(|h| h.is(op) && h.end <= drained_at)
            .collect();
        if calls.is_empty() {
            continue;
        }
        let spent: Duration = calls.iter().map(|h| h.took()).sum();
        println!(
            "queue storm run {run}: {} {op} calls, {:.1} s answering them ({:.1} ms each)",
            calls.len(),
            spent.as_secs_f64(),
            ms(spent) / calls.len() as f64
        );
        res.add(
            &format!("warroom.queue_storm.sqs_{}_s", op.to_lowercase()),
            "s",
            spent.as_secs_f64(),
        );
        sqs_total += spent;
    }
    // The consumer is one loop (receive, apply each, delete): what it did not spend waiting
    // on SQS is its own.
    res.add(
        "warroom.queue_storm.own_per_message",
        "ms",
        ms(drained.saturating_sub(sqs_total)) / alarms as f64,
    );
    let slack_hops = rig.slack.take();
    let mut creates: Vec<Instant> = slack_hops
        .iter()
        .filter(|h| h.is("conversations.create"))
        .map(|h| h.start)
        .collect();
    creates.sort();
    let busiest_minute = busiest(&creates, Duration::from_secs(60));
    res.add(
        "warroom.queue_storm.create_busiest_minute",
        "calls",
        busiest_minute as f64,
    );
    res.add(
        "warroom.queue_storm.slack_429",
        "count",
        slack_hops.iter().filter(|h| h.status == 429).count() as f64,
    );
    res.add("warroom.queue_storm.cpu", "s", cpu);
    if busiest_minute > TIER2_PER_MINUTE {
        println!(
            "queue storm run {run}: {busiest_minute} conversations.create in one minute, over Tier 2 ({TIER2_PER_MINUTE}/min)"
        );
    }
    Ok(())
}
