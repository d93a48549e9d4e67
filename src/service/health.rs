//! AWS Health for alarm-opened incidents: on open, what Health reports for the alarming
//! service in the alarm's region; then a re-check every `[alarms] health_recheck` while the
//! incident is open, posting only new or updated events.
//!
//! Without a Business/Enterprise support plan the Health API answers
//! `SubscriptionRequiredException`: that is said once (in the incident that found out),
//! remembered in the database, and Health is never asked again.

use super::failure::Failure;
use super::Ctx;
use crate::aws::{Aws, HealthAnswer};
use crate::domain::health_service::HealthEvent;
use crate::domain::{IncidentRecord, OutboxDestination};
use crate::slack::render;
use crate::store::alarms::{self, AlarmIncident, AlarmStep};
use crate::store::{outbox, StoreError};

/// The `aws_facts` key recording that this account has no Health API.
pub(crate) const HEALTH_UNAVAILABLE: &str = "health_subscription_required";

pub(super) async fn alarm_health_check(
    ctx: &Ctx,
    aws: &Aws,
    ai: &AlarmIncident,
    record: &IncidentRecord,
    channel: &str,
) -> Result<(), Failure> {
    let (Some(service), Some(region)) = (&ai.health_service, &ai.health_region) else {
        return Ok(()); // no AWS service to ask about (custom metric, composite alarm)
    };
    let now = ctx.clock.now();
    let first = ai.health_checked_at.is_none();
    let due = match ai.health_checked_at {
        None => true,
        Some(at) => {
            record.incident.is_open()
                && (now - at).to_std().unwrap_or_default() >= ctx.config.alarms.health_recheck
        }
    };
    if !due {
        return Ok(());
    }
    if alarms::aws_fact(ctx.store.db(), HEALTH_UNAVAILABLE)
        .await?
        .is_some()
    {
        return Ok(health_checked(ctx, ai, now).await?);
    }
    // What to say, and what to record, are written in one unit of work with the step
    // done: the post goes through the outbox, so a crash neither loses nor repeats it.
    let answer = aws.health_events(service, region).await;
    let new = match &answer {
        Ok(HealthAnswer::Events(events)) => {
            alarms::unseen_health_events(ctx.store.db(), ai.incident_id, events).await?
        }
        _ => Vec::new(),
    };
    let mut tx = ctx.store.begin().await?;
    let notice = match answer {
        Ok(HealthAnswer::SubscriptionRequired) => {
            // Say it only if this is the round that learned it.
            let learned = alarms::learn_aws_fact(
                &mut tx,
                HEALTH_UNAVAILABLE,
                "SubscriptionRequiredException",
                now,
            )
            .await?;
            learned.then(|| {
                tracing::warn!(
                    "AWS Health needs a support plan this account lacks; not asking again"
                );
                render::health_unavailable()
            })
        }
        Ok(HealthAnswer::Events(_)) => {
            for e in &new {
                alarms::record_health_event(&mut tx, ai.incident_id, e, &entry_text(e), now)
                    .await?;
            }
            (first || !new.is_empty()).then(|| render::health_report(service, region, &new, !first))
        }
        Err(e) if first => {
            let said = match e.code() {
                Some(code) => format!("AWS says {code}"),
                None => "AWS did not answer".to_string(),
            };
            Some(super::failure::internal_error(
                &format!(
                    "AWS Health could not be checked for {service} in {region} ({said}); warroom will ask again while the incident is open"
                ),
                &super::failure::fresh_reference(),
                &e,
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "AWS Health re-check failed; will ask again");
            None
        }
    };
    if let Some(msg) = notice {
        let message = super::announce::to_outbox(OutboxDestination::channel(channel), msg);
        outbox::enqueue(&mut tx, &message, now).await?;
    }
    alarms::record_step(&mut tx, ai.incident_id, AlarmStep::HealthChecked, now).await?;
    tx.commit().await?;
    ctx.kick_timers();
    Ok(())
}

async fn health_checked(
    ctx: &Ctx,
    ai: &AlarmIncident,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    alarms::record_step(&mut tx, ai.incident_id, AlarmStep::HealthChecked, now).await?;
    tx.commit().await
}

pub(super) fn entry_text(e: &HealthEvent) -> String {
    format!(
        "AWS Health: {} for {} in {} is {}",
        e.event_type,
        e.service,
        e.region.as_deref().unwrap_or("all regions"),
        e.status
    )
}
