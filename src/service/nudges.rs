//! The nudge clocks: arming them when facts change, firing them from the scheduler, and
//! the answers people give (snooze, "AWS is / is not involved").
//!
//! A clock is a timer row per incident, kind and due time. When one fires, the policy is
//! asked again with the current facts ([`crate::domain::escalation::next_due`]): a nudge is
//! posted only if it is still due, and the next look is scheduled in the same transaction,
//! so a restart neither loses a nudge nor posts one twice.

use chrono::{DateTime, Duration, Utc};

use super::answer::Request;
use super::failure::Failure;
use super::Ctx;
use crate::domain::escalation::{self as policy, Facts, NudgeKind, Policy};
use crate::domain::IncidentRecord;
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, IncidentId, UserId};
use crate::slack::render_support as render;
use crate::slack::web::Outgoing;
use crate::store::escalation::{self, parse_nudge_payload, NudgeAnswer};
use crate::store::outbox::{self, NewOutgoing};
use crate::store::timeline::{self, NewEntry};
use crate::store::timers::{self, Timer};
use crate::store::{alarms, inbox, incidents, StoreError};

/// The `[escalation]` knobs as the policy wants them.
pub(crate) fn escalation_policy(ctx: &Ctx) -> Policy {
    let e = &ctx.config.escalation;
    let d = |s: std::time::Duration| Duration::from_std(s).unwrap_or(Duration::MAX);
    Policy {
        support_after: crate::domain::Severity::ALL
            .into_iter()
            .map(|s| (s, d(e.support_after(s))))
            .collect(),
        renudge_every: d(e.renudge_every),
        update_every: e.update_every.map(d),
        response_targets: crate::domain::support::SupportSeverity::ALL
            .into_iter()
            .map(|s| (s, d(e.response_target(s))))
            .collect(),
    }
}

/// Schedule a look at every clock of `incident` for its next due time. Idempotent; call
/// it whenever a fact changes (declare, severity, snooze, answers, a case, an update).
pub(crate) async fn arm_nudges(ctx: &Ctx, incident: IncidentId) -> Result<(), Failure> {
    let facts = escalation::facts(ctx.store.db(), incident).await?;
    let policy = escalation_policy(ctx);
    let mut scheduled = false;
    let mut tx = ctx.store.begin().await?;
    for kind in NudgeKind::ALL {
        if let Some(due) = policy::next_due(&policy, &facts, kind) {
            scheduled |= escalation::schedule_nudge(&mut tx, incident, kind, due).await?;
        }
    }
    tx.commit().await?;
    if scheduled {
        ctx.kick_timers();
    }
    Ok(())
}

/// At start: arm every open incident's clocks (covers incidents from before an upgrade
/// and config changes such as a shorter `aws_support_after`).
pub async fn arm_all_nudges(ctx: &Ctx) -> anyhow::Result<()> {
    for id in incidents::open_ids(ctx.store.db()).await? {
        arm_nudges(ctx, id)
            .await
            .map_err(|e| anyhow::anyhow!("arming nudges of incident {id}: {e}"))?;
    }
    Ok(())
}

/// A nudge timer is due: post the nudge if the facts still call for it. Claiming the
/// timer, the nudge's timeline entry, its message (outbox) and the next look are one
/// unit of work, so a restart neither loses a nudge nor posts one twice.
pub(crate) async fn fire_nudge(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let now = ctx.clock.now();
    let Some((incident, kind)) = parse_nudge_payload(&timer.payload) else {
        tracing::warn!(key = %timer.key, "unreadable nudge timer; dropping it");
        let mut tx = ctx.store.begin().await?;
        timers::claim(&mut tx, timer.id, now).await?;
        tx.commit().await?;
        return Ok(());
    };
    let policy = escalation_policy(ctx);
    let mut facts = escalation::facts(ctx.store.db(), incident).await?;
    let record = incidents::get(ctx.store.db(), incident).await?;
    let nudge = match (
        &record.channel_id,
        policy::is_due(&policy, &facts, kind, now),
    ) {
        (Some(channel), true) => {
            let message = nudge_message(ctx, &record, &facts, kind, &policy, now).await?;
            facts.last_nudge.insert(kind, now);
            let entry = NewEntry {
                incident_id: incident,
                dedupe_key: format!("nudge:{}", timer.key),
                kind: EntryKind::Nudge,
                occurred_at: now,
                actor: None,
                text: format!("warroom nudged: {}", render::nudge_label(kind)),
                slack_ts: None,
                thread_ts: None,
                key_event: true,
            };
            let message =
                super::announce::to_outbox(OutboxDestination::Channel(channel.clone()), message);
            Some((entry, message))
        }
        _ => None,
    };
    let next = match (&nudge, &record.channel_id) {
        (Some(_), _) => policy::next_due(&policy, &facts, kind),
        // The war room is still being set up: look again shortly.
        (None, None) if policy::is_due(&policy, &facts, kind, now) => {
            Some(now + Duration::minutes(1))
        }
        (None, _) => policy::next_due(&policy, &facts, kind).filter(|d| *d > now),
    };
    let mut tx = ctx.store.begin().await?;
    if !timers::claim(&mut tx, timer.id, now).await? {
        tx.rollback().await?;
        return Ok(()); // fired already (a replay): nothing twice
    }
    if let Some((entry, message)) = &nudge {
        timeline::insert(&mut tx, entry, now).await?;
        escalation::set_last_nudge(&mut tx, incident, kind, now).await?;
        outbox::enqueue_for_timer(&mut tx, timer.id, message, now).await?;
    }
    if let Some(due) = next {
        escalation::schedule_nudge(&mut tx, incident, kind, due).await?;
    }
    tx.commit().await?;
    if nudge.is_some() {
        tracing::info!(incident = %incident, kind = %kind, "nudged");
        ctx.metrics.nudge_fired(kind.as_str());
    }
    Ok(())
}

async fn nudge_message(
    ctx: &Ctx,
    record: &IncidentRecord,
    facts: &Facts,
    kind: NudgeKind,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Outgoing, Failure> {
    let people = nudge_people(ctx, record).await?;
    Ok(match kind {
        NudgeKind::OpenCase => render::open_case_nudge(
            &record.incident,
            &people,
            policy.support_after(record.incident.severity),
            ctx.config.escalation.support_api,
            now,
        ),
        NudgeKind::AwsQuiet => {
            let case = escalation::latest_case(ctx.store.db(), record.incident.id).await?;
            match (case, facts.case.as_ref().and_then(|c| c.awaiting_aws_since)) {
                (Some(case), Some(since)) => render::aws_quiet_nudge(
                    &case,
                    &people,
                    since,
                    policy.response_target(case.severity),
                    now,
                ),
                _ => Outgoing::text("AWS Support has been quiet on this incident's case."),
            }
        }
        NudgeKind::StaleUpdate => render::stale_update_nudge(
            &people,
            facts.last_update_at.unwrap_or(record.incident.opened_at),
            facts.last_update_at.is_some(),
            now,
        ),
    })
}

/// Nudges mention the lead; without one, the responders (configured and of the alarm
/// route) and whoever declared (unless an alarm did).
async fn nudge_people(ctx: &Ctx, record: &IncidentRecord) -> Result<Vec<UserId>, Failure> {
    if let Some(lead) = &record.incident.lead {
        return Ok(vec![lead.clone()]);
    }
    let mut people = ctx.config.slack.responders.clone();
    if let Some(route) = alarms::route_of(ctx.store.db(), record.incident.id).await? {
        let routes = &ctx.config.alarms.routes;
        if let Some(r) = routes.by_name(&route).or(Some(&routes.default)) {
            people.extend(r.responders.iter().cloned());
        }
    }
    people.push(record.incident.declared_by.clone());
    people.retain(|u| u.as_str() != ctx.bot.user_id);
    let mut seen = std::collections::HashSet::new();
    people.retain(|u| seen.insert(u.clone()));
    Ok(people)
}

/// `/incident snooze <duration>` and the Snooze button.
pub(super) async fn snooze(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    duration: Duration,
) -> Result<(), Failure> {
    let until = ctx.clock.now() + duration;
    let text = format!(
        "snoozed nudges for {} (until {} UTC)",
        crate::domain::time::format_duration(duration),
        until.format("%H:%M")
    );
    let notice = render::snoozed(&req.actor, until);
    let answer = NudgeAnswer::SnoozedUntil(until);
    answer_nudges(ctx, req, record, answer, EntryKind::Snoozed, text, notice).await
}

/// `/incident aws yes|no` and the "Not an AWS issue" button.
pub(super) async fn set_involvement(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    involved: bool,
) -> Result<(), Failure> {
    let text = if involved {
        "said AWS is involved"
    } else {
        "said this is not an AWS issue"
    };
    let after = escalation_policy(ctx).support_after(record.incident.severity);
    let notice = render::involvement(&req.actor, involved, after);
    let answer = NudgeAnswer::AwsInvolved(involved);
    answer_nudges(
        ctx,
        req,
        record,
        answer,
        EntryKind::AwsInvolvement,
        text.into(),
        notice,
    )
    .await
}

/// Record an answer with its timeline entry and channel notice (once, whatever the
/// replays), then re-arm the clocks it changes.
async fn answer_nudges(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
    answer: NudgeAnswer,
    kind: EntryKind,
    text: String,
    notice: Outgoing,
) -> Result<(), Failure> {
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: req.key.to_string(),
        kind,
        occurred_at: req.at,
        actor: Some(req.actor.as_str().to_string()),
        text,
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let answered = req
        .clicked
        .zip(req.response_url)
        .map(|(prompt, url)| (url, render::answered_prompt(prompt, &notice)));
    let notice = super::answer::notice_in(record, notice);
    if record_answer(
        ctx,
        record.incident.id,
        answer,
        &entry,
        notice.as_ref(),
        req.inbox_id,
    )
    .await?
    {
        ctx.kick_timers();
        // Best effort: the answer is recorded and announced whatever happens here.
        if let Some((url, prompt)) = answered {
            if let Err(e) = ctx.web.replace_clicked(url, &prompt).await {
                tracing::warn!(error = %e, "could not take the buttons off an answered nudge");
            }
        }
    }
    arm_nudges(ctx, record.incident.id).await
}

/// Record an answer to the nudges with its timeline entry and its channel notice
/// (outbox), marking the inbox row processed, in one unit of work. Returns whether it
/// was new (a replay changes nothing).
async fn record_answer(
    ctx: &Ctx,
    incident: IncidentId,
    answer: NudgeAnswer,
    entry: &NewEntry,
    notice: Option<&NewOutgoing>,
    inbox_id: i64,
) -> Result<bool, StoreError> {
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    let new = timeline::insert(&mut tx, entry, now).await?;
    if new {
        escalation::set_answer(&mut tx, incident, answer).await?;
        if let Some(notice) = notice {
            outbox::enqueue(&mut tx, notice, now).await?;
        }
    }
    inbox::mark_processed(&mut tx, inbox_id, now, None).await?;
    tx.commit().await?;
    Ok(new)
}
