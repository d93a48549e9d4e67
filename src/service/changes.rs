//! "What changed before the alarm?": posted in an alarm-opened war room right after the
//! first post, and on `/incident changes [2h]` in any incident. The AWS adapter fetches
//! (CloudTrail LookupEvents, DescribeAlarmHistory, DescribeAlarms), the domain ranks and
//! explains ([`crate::domain::changes`]), the report is posted and kept on the timeline as
//! evidence (the AWS Support case draft and the postmortem quote it).
//!
//! Failures are explained in the post (the IAM action to add, throttling), never swallowed;
//! a failed part does not stop the others.

use chrono::Duration;

use super::authorization::Actor;
use super::failure::Failure;
use super::Ctx;
use crate::aws::Aws;
use crate::domain::alarm::Alarm;
use crate::domain::changes::{
    explain_failure, rank, summarise_history, ChangeReport, Finding, RegionChanges, Source,
    CLOUDTRAIL_DELAY, HISTORY_WINDOW,
};
use crate::domain::{ChannelId, IncidentId, IncidentRecord, OutboxDestination};
use crate::slack::inbound::CommandInvocation;
use crate::slack::{render, render_changes};
use crate::store::inbox::InboxRow;
use crate::store::outbox::{self, Refusal};
use crate::store::{alarms, changes, timeline};

/// What one look-up is about.
struct Target {
    anchor: chrono::DateTime<chrono::Utc>,
    anchor_label: String,
    lookback: Duration,
    regions: Vec<String>,
    /// The alarm that opened the incident: its dimensions rank changes, its history and
    /// neighbours are read.
    alarm: Option<Alarm>,
}

/// The alarm war room's "What changed before the alarm", once per incident.
pub(super) async fn alarm_changes(
    ctx: &Ctx,
    aws: &Aws,
    incident: IncidentId,
    channel: &ChannelId,
    alarm: &Alarm,
) -> Result<(), Failure> {
    let key = changes::alarm_key(incident);
    if timeline::exists(ctx.store.db(), &key).await? {
        return Ok(());
    }
    let target = Target {
        anchor: alarm.state_updated_at,
        anchor_label: "the alarm".to_string(),
        lookback: ctx.config.diagnostics.lookback,
        regions: vec![alarm.region.clone()],
        alarm: Some(alarm.clone()),
    };
    let report = look_up(ctx, aws, &target).await;
    ctx.web
        .post(channel, &render_changes::changes_report(&report))
        .await?;
    let mut tx = ctx.store.begin().await?;
    changes::record(&mut tx, incident, &key, None, &report, ctx.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// `/incident changes [lookback]`: the same look-up for the incident of this channel,
/// posted there for everyone and kept on the timeline.
pub(super) async fn changes_command(
    ctx: &Ctx,
    row: &InboxRow,
    inv: &CommandInvocation,
    actor: Actor,
    lookback: Option<Duration>,
) -> Result<(), Failure> {
    let Some(record) = super::answer::incident_here(ctx, inv).await? else {
        return Ok(());
    };
    let key = format!("changes:{}", row.dedupe_key);
    if timeline::exists(ctx.store.db(), &key).await? {
        return Ok(()); // a replay: already posted and recorded
    }
    let Some(aws) = &ctx.aws else {
        super::answer::reply(ctx,
            inv,
            &render::problem(
                "warroom has no AWS access configured: add a [diagnostics] section (or [alarms]) to its config and grant it deploy/iam-policy.json",
            ),
        )
        .await;
        return Ok(());
    };
    let Some(channel) = record.channel_id.clone() else {
        return Err(Failure::Transient(anyhow::anyhow!(
            "incident {} has no channel yet",
            record.incident.id
        )));
    };
    let target = command_target(ctx, aws, &record, lookback).await?;
    let report = look_up(ctx, aws, &target).await;
    // Kept and queued in one unit of work: posted once, even across a crash. A drill
    // looks AWS up for real (read-only); the scheduler marks its post DRILL, like all
    // posts in a drill's channel.
    let post = render_changes::changes_report(&report);
    let now = ctx.clock.now();
    let mut tx = ctx.store.begin().await?;
    let new = changes::record(
        &mut tx,
        record.incident.id,
        &key,
        Some(actor.as_str()),
        &report,
        now,
    )
    .await?;
    if new {
        let refusal = Refusal {
            response_url: inv.response_url.clone(),
            text: "the report is recorded, but it could not be posted".to_string(),
        };
        let message = super::announce::to_outbox(OutboxDestination::channel(channel), post);
        outbox::enqueue_answerable(&mut tx, &message, Some(&refusal), now).await?;
    }
    tx.commit().await?;
    ctx.kick_timers();
    Ok(())
}

/// Around the alarm that opened the incident, in its alarms' regions; or around the
/// declaration, in `[aws] region`.
async fn command_target(
    ctx: &Ctx,
    aws: &Aws,
    record: &IncidentRecord,
    lookback: Option<Duration>,
) -> Result<Target, Failure> {
    let lookback = lookback.unwrap_or(ctx.config.diagnostics.lookback);
    let transitions = alarms::of_incident(ctx.store.db(), record.incident.id).await?;
    let opening = transitions
        .iter()
        .find(|t| t.alarm.state == crate::domain::alarm::AlarmState::Alarm);
    let known = aws.change_regions();
    let target = match opening {
        Some(t) => {
            let mut regions: Vec<String> = Vec::new();
            for t in &transitions {
                if !regions.contains(&t.alarm.region) && known.contains(&t.alarm.region) {
                    regions.push(t.alarm.region.clone());
                }
            }
            Target {
                anchor: t.alarm.state_updated_at,
                anchor_label: "the alarm".to_string(),
                lookback,
                regions,
                alarm: Some(t.alarm.clone()),
            }
        }
        None => Target {
            anchor: record.incident.opened_at,
            anchor_label: "the incident was declared".to_string(),
            lookback,
            regions: vec![ctx.config.aws.region.clone()],
            alarm: None,
        },
    };
    Ok(target)
}

/// Ask AWS and rank what it says. Each part that fails says why in the report.
async fn look_up(ctx: &Ctx, aws: &Aws, t: &Target) -> ChangeReport {
    let since = t.anchor - t.lookback;
    let until = t.anchor;
    let dimensions = t
        .alarm
        .as_ref()
        .map(|a| a.dimensions.clone())
        .unwrap_or_default();
    let ignore = &ctx.config.diagnostics.ignore_events;
    let mut regions = Vec::new();
    for region in &t.regions {
        let changes = match aws.write_events(region, since, until).await {
            Ok(found) => Finding::Found(rank(
                &found.events,
                &dimensions,
                ignore,
                since,
                until,
                found.truncated,
            )),
            Err(e) => {
                tracing::warn!(region = %region, error = %e, "cannot look up CloudTrail changes");
                Finding::Failed(explain_failure(Source::Changes, e.code()))
            }
        };
        regions.push(RegionChanges {
            region: region.clone(),
            changes,
        });
    }
    let mut history = None;
    // A listed account's alarm is read in that account ([[aws.accounts]]).
    let alarm_target = t
        .alarm
        .as_ref()
        .and_then(|a| aws.target_of(&a.region, &a.arn).map(|target| (a, target)));
    let neighbours_target = match &t.alarm {
        Some(_) => alarm_target.as_ref().map(|(_, target)| target.clone()),
        None => t
            .regions
            .first()
            .filter(|r| aws.watches_region(r))
            .map(|r| crate::aws::PollTarget {
                account: None,
                region: r.clone(),
            }),
    };
    if let Some((a, target)) = &alarm_target {
        let window_end = a.state_updated_at + Duration::seconds(1);
        history = Some(
            match aws
                .alarm_history_at(
                    target,
                    &a.name,
                    a.state_updated_at - HISTORY_WINDOW,
                    window_end,
                )
                .await
            {
                Ok(items) => Finding::Found(summarise_history(&items, a.state_updated_at)),
                Err(e) => {
                    tracing::warn!(alarm = %a.name, error = %e, "cannot read the alarm's history");
                    Finding::Failed(explain_failure(Source::History, e.code()))
                }
            },
        );
    }
    let neighbours = match neighbours_target {
        Some(target) => Some(match aws.alarms_in_alarm_at(&target).await {
            Ok(alarms) => {
                let own = t.alarm.as_ref().map(|a| a.arn.as_str());
                let mut names: Vec<String> = alarms
                    .into_iter()
                    .filter(|a| Some(a.arn.as_str()) != own)
                    .map(|a| a.name)
                    .collect();
                names.sort();
                names.dedup();
                Finding::Found(names)
            }
            Err(e) => {
                tracing::warn!(target = %target, error = %e, "cannot list the alarms in ALARM");
                Finding::Failed(explain_failure(Source::Neighbours, e.code()))
            }
        }),
        None => None,
    };
    ChangeReport {
        anchor: t.anchor,
        anchor_label: t.anchor_label.clone(),
        lookback_minutes: t.lookback.num_minutes(),
        alarm_name: t.alarm.as_ref().map(|a| a.name.clone()),
        regions,
        history,
        neighbours,
        maybe_incomplete: ctx.clock.now() - t.anchor < CLOUDTRAIL_DELAY,
    }
}
