//! The `[events]` queue consumer: what AWS pushes through an EventBridge rule into SQS,
//! from any account, handled as it arrives. The leader runs it (`app::LeaderTasks`).
//!
//! One message at a time: parse (`domain::events`) and apply each message of a receive,
//! then delete the handled ones in one DeleteMessageBatch. Applying ends in a committed
//! write that makes a redelivery a no-op, so a crash between the two only means SQS hands
//! the message out again:
//! - an **alarm state change** is recorded as the poller records one, on the transition's
//!   own unique row (alarm ARN + state time), and the alarm loop is woken to decide it and
//!   open or update the war room. A transition seen by both the queue and the poll is one
//!   row, so one incident;
//! - an **AWS Health event** for the service and region of open alarm-opened incidents is
//!   posted in their war rooms and recorded (`health_events_seen`, unique per incident,
//!   event and update time);
//! - a **Support case update** from AWS on a case warroom follows makes it mirror that
//!   case's correspondence and status at once (each communication unique per case); the
//!   Support poll stays as the fallback, since these events are best-effort.
//!
//! A body that is not an EventBridge event is logged by message id (never its text),
//! counted (`warroom_queue_messages_malformed_total`) and deleted; a well-formed event of
//! another kind is counted and deleted. A message that keeps failing for another reason
//! (the database or AWS down) is left for SQS to redeliver, and given up after
//! [`MAX_RECEIVES`] deliveries, so no message loops for ever.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Ctx, Service};
use crate::aws::sqs::QueueMessage;
use crate::aws::Aws;
use crate::backoff::Backoff;
use crate::domain::alarm::Alarm;
use crate::domain::channel_name::channel_name;
use crate::domain::events::{self, QueueEvent, SupportCaseUpdate};
use crate::domain::health_service::HealthEvent;
use crate::domain::{OutboxDestination, UserId};
use crate::slack::render;
use crate::store::incidents::{self, NewIncident};
use crate::store::outbox;
use crate::store::{alarms, escalation};

/// Deliveries after which a message that still cannot be applied is logged and deleted.
pub const MAX_RECEIVES: u32 = 10;
/// Wait after a failed ReceiveMessage: 1 s, doubling up to a minute.
const RECEIVE_BACKOFF: Backoff = Backoff::doubling(Duration::from_secs(1), Duration::from_secs(60));

impl Service {
    /// Long-poll the queue until `shutdown` turns true.
    pub async fn run_events(self: Arc<Self>, aws: Aws, mut shutdown: watch::Receiver<bool>) {
        let Some(events) = self.ctx.config.events.clone() else {
            return;
        };
        tracing::info!(region = %events.region, wait = ?events.wait, "reading AWS events from the SQS queue");
        let wait = i32::try_from(events.wait.as_secs()).unwrap_or(20);
        let batch = i32::try_from(events.batch).unwrap_or(10);
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let received = tokio::select! {
                r = aws.receive_events(wait, batch) => r,
                _ = shutdown.changed() => return,
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    let mut handled = Vec::with_capacity(messages.len());
                    for m in &messages {
                        if *shutdown.borrow() {
                            break; // the rest are handed out again after their timeout
                        }
                        if queue_message(&self.ctx, &aws, m).await {
                            handled.push(m);
                        }
                    }
                    delete_handled(&aws, &handled).await;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let backoff = RECEIVE_BACKOFF.delay(failures);
                    tracing::warn!(error = %e, retry_in = ?backoff, "cannot read the [events] queue; will retry");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    }
}

/// Apply one message; whether it is done with (applied, or given up on) and may be
/// deleted. A failure leaves it for redelivery.
async fn queue_message(ctx: &Ctx, aws: &Aws, m: &QueueMessage) -> bool {
    let kind = match apply_queue_message(ctx, aws, m).await {
        Ok(kind) => kind,
        Err(e) if m.receive_count >= MAX_RECEIVES => {
            tracing::error!(message_id = %m.message_id, receives = m.receive_count, error = %format!("{e:#}"), "giving up on a queue message that keeps failing; deleting it");
            "abandoned"
        }
        Err(e) => {
            tracing::warn!(message_id = %m.message_id, receives = m.receive_count, error = %format!("{e:#}"), "cannot apply a queue message yet; SQS will deliver it again");
            return false;
        }
    };
    ctx.metrics.queue_message(kind);
    true
}

/// What the message was (`alarm`, `health`, `support_case`, `unknown`, `malformed`),
/// once whatever it asks for is durably recorded.
async fn apply_queue_message(
    ctx: &Ctx,
    aws: &Aws,
    m: &QueueMessage,
) -> anyhow::Result<&'static str> {
    let event = match events::parse(&m.body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(message_id = %m.message_id, problem = %e, "a queue message is not an EventBridge event warroom reads; deleting it");
            ctx.metrics.queue_message_malformed();
            return Ok("malformed");
        }
    };
    Ok(match event {
        QueueEvent::Alarm(alarm) => {
            queue_alarm(ctx, aws, alarm).await?;
            "alarm"
        }
        QueueEvent::Health {
            account,
            event,
            account_specific,
        } => {
            let joined = queue_health(ctx, &account, &event).await?;
            if !joined && account_specific {
                health_incident(ctx, &account, &event).await?;
            }
            "health"
        }
        QueueEvent::SupportCase(update) => {
            queue_support(ctx, &update).await?;
            "support_case"
        }
        QueueEvent::Unknown {
            source,
            detail_type,
        } => {
            tracing::info!(message_id = %m.message_id, source = %source, detail_type = %detail_type, "an event warroom does not handle; deleting it");
            "unknown"
        }
    })
}

/// Record the transition (a no-op if the poll or an earlier delivery did), then wake
/// the alarm loop.
async fn queue_alarm(ctx: &Ctx, aws: &Aws, mut alarm: Alarm) -> anyhow::Result<()> {
    let known = alarms::known(
        ctx.store.db(),
        &[(alarm.arn.as_str(), alarm.state_updated_at)],
    )
    .await?;
    if known.first().copied().unwrap_or(false) {
        tracing::debug!(alarm = %alarm.name, "alarm transition already recorded");
        return Ok(());
    }
    if super::alarms::routes_use_tags(ctx) {
        // The event has no tags; without them the alarm could take the wrong route.
        // Failing here leaves the message for redelivery.
        alarm.tags = aws
            .tags(&alarm.region, &alarm.arn)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the alarm's tags: {e}"))?;
    }
    let mut tx = ctx.store.begin().await?;
    let new = alarms::record(&mut tx, &alarm, ctx.clock.now()).await?;
    tx.commit().await?;
    if new {
        tracing::info!(alarm = %alarm.name, state = alarm.state.as_str(), account = events::alarm_account(&alarm.arn).unwrap_or("?"), "recorded an alarm transition from the queue");
    }
    ctx.kick_alarms();
    Ok(())
}

/// Post the event in every open war room watching its service and region, once per
/// event update, and record it there. Whether any open incident watches it.
async fn queue_health(ctx: &Ctx, account: &str, event: &HealthEvent) -> anyhow::Result<bool> {
    let Some(region) = event.region.as_deref() else {
        return Ok(false);
    };
    let watchers = alarms::health_watchers(ctx.store.db(), &event.service, region).await?;
    let watched = !watchers.is_empty();
    for (incident, channel) in watchers {
        let Some(channel) = channel else {
            // The war room is not open yet: its own Health check will see the event.
            continue;
        };
        let new =
            alarms::unseen_health_events(ctx.store.db(), incident, std::slice::from_ref(event))
                .await?;
        if new.is_empty() {
            continue;
        }
        // Recorded and queued in one unit of work: posted once, even across a crash.
        let msg = render::health_pushed(account, &event.service, region, &new);
        let now = ctx.clock.now();
        let mut tx = ctx.store.begin().await?;
        for e in &new {
            alarms::record_health_event(&mut tx, incident, e, &super::health::entry_text(e), now)
                .await?;
        }
        outbox::enqueue(
            &mut tx,
            &super::announce::to_outbox(OutboxDestination::channel(channel), msg),
            now,
        )
        .await?;
        tx.commit().await?;
        ctx.kick_timers();
        tracing::info!(incident = %incident, service = %event.service, region, "AWS Health event from the queue posted");
    }
    Ok(watched)
}

/// `[events] health_opens_incident`: an open account-specific issue nobody watches
/// opens an incident on the Health route, its war room, and the event as its first
/// post. Resumable: the incident is keyed by the event, the war room's steps are
/// recorded, and the post is made until the event is recorded as seen.
async fn health_incident(ctx: &Ctx, account: &str, event: &HealthEvent) -> anyhow::Result<()> {
    let opens = ctx
        .config
        .events
        .as_ref()
        .is_some_and(|e| e.health_opens_incident);
    if !opens || event.status != "open" || event.category.as_deref() != Some("issue") {
        return Ok(());
    }
    let route = ctx.config.alarms.routes.health_route().clone();
    if !route.opens_incident {
        return Ok(());
    }
    let region = event.region.as_deref().unwrap_or("global");
    let bot = UserId::parse(&ctx.bot.user_id)
        .map_err(|e| anyhow::anyhow!("the bot's own user id is unusable: {e}"))?;
    let now = ctx.clock.now();
    let opened_at = event.started_at.unwrap_or(now).min(now);
    let title = crate::slack::mrkdwn::truncate(
        &format!(
            "AWS Health: {} ({} in {region}, account {account})",
            event.event_type, event.service
        ),
        200,
    );
    let new = NewIncident {
        private: false,
        source_key: format!("health:{}", event.arn),
        channel_name: channel_name(opened_at, &title),
        title,
        severity: route.severity,
        declared_by: bot.clone(),
        opened_at,
    };
    let mut tx = ctx.store.begin().await?;
    let (mut record, created) = incidents::create(&mut tx, &new, now).await?;
    if created {
        incidents::clear_bot_lead(&mut tx, record.incident.id).await?;
    }
    tx.commit().await?;
    if created {
        tracing::info!(incident = %record.incident.id, service = %event.service, region, route = %route.name, "an AWS Health event opened an incident");
    }
    if !record.incident.is_open() {
        return Ok(()); // resolved since: its updates are not news for anyone
    }
    {
        let extra = if record.members_invited {
            Vec::new()
        } else {
            super::alarms::route_invitees(ctx, &route)
                .await
                .map_err(|f| anyhow::anyhow!("{:#}", f.error()))?
        };
        super::war_room::open_war_room(ctx, &mut record, &bot, &extra)
            .await
            .map_err(|f| anyhow::anyhow!("{:#}", f.error()))?;
    }
    let Some(channel) = record.channel_id.clone() else {
        return Ok(());
    };
    let id = record.incident.id;
    let new = alarms::unseen_health_events(ctx.store.db(), id, std::slice::from_ref(event)).await?;
    if new.is_empty() {
        return Ok(());
    }
    // Recorded and queued in one unit of work: posted once, even across a crash.
    let msg = render::health_pushed(account, &event.service, region, &new);
    let mut tx = ctx.store.begin().await?;
    for e in &new {
        alarms::record_health_event(&mut tx, id, e, &super::health::entry_text(e), now).await?;
    }
    outbox::enqueue(
        &mut tx,
        &super::announce::to_outbox(OutboxDestination::channel(channel), msg),
        now,
    )
    .await?;
    tx.commit().await?;
    ctx.kick_timers();
    Ok(())
}

/// AWS wrote on (or resolved, or reopened) a case warroom follows: mirror it now.
async fn queue_support(ctx: &Ctx, update: &SupportCaseUpdate) -> anyhow::Result<()> {
    if !update.is_from_aws() {
        return Ok(()); // warroom's own writes, or someone's in the console: the poll sees them
    }
    let Some(aws) = super::support::support_api(ctx).cloned() else {
        return Ok(());
    };
    let cases = escalation::open_cases(ctx.store.db()).await?;
    let Some(case) = cases
        .iter()
        .find(|c| c.case_id.as_deref() == Some(update.case_id.as_str()))
    else {
        tracing::debug!(event = %update.event_name, "a Support case update for a case warroom does not follow");
        return Ok(());
    };
    super::support::poll_case(ctx, &aws, case).await?;
    tracing::info!(incident = %case.incident_id, event = %update.event_name, "AWS Support case mirrored from the queue");
    Ok(())
}

/// Delete the handled messages of one receive in one DeleteMessageBatch. Each is applied
/// and recorded already: a message left behind (the call failed, or SQS refused an entry)
/// comes back after its visibility timeout and changes nothing.
async fn delete_handled(aws: &Aws, handled: &[&QueueMessage]) {
    if handled.is_empty() {
        return;
    }
    let handles: Vec<&str> = handled.iter().map(|m| m.receipt_handle.as_str()).collect();
    match aws.delete_events(&handles).await {
        Ok(refused) => {
            for (handle, code) in refused {
                let id = handled
                    .iter()
                    .find(|m| m.receipt_handle == handle)
                    .map_or("?", |m| m.message_id.as_str());
                tracing::warn!(message_id = %id, code = %code, "SQS did not delete a handled queue message; its redelivery will change nothing");
            }
        }
        Err(e) => {
            tracing::warn!(messages = handled.len(), error = %e, "cannot delete handled queue messages; their redelivery will change nothing");
        }
    }
}
