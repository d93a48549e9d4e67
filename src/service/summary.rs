//! What managers see: the periodic summary (status channel + DMs) and App Home.

use chrono::{DateTime, Utc};

use super::failure::Failure;
use super::Ctx;
use crate::domain::privacy::Viewer;
use crate::domain::report::Period;
use crate::domain::OutboxDestination;
use crate::report::managers;
use crate::slack::render::{self, Overview};
use crate::slack::render_report;
use crate::store::outbox::{self, NewOutgoing};
use crate::store::timers::{self, SummaryRecord, Timer};
use crate::store::{incidents, overview, timeline};

/// The timer kind of periodic summaries.
pub const SUMMARY: &str = "summary";

/// The timer kind of the weekly report (`[summary] weekly`).
pub const WEEKLY_REPORT: &str = "weekly_report";

/// What the weekly report covers: the 7 days before it is due.
const WEEK: chrono::Duration = chrono::Duration::days(7);

/// Resolved incidents shown on App Home.
const HOME_RECENT: i64 = 10;

fn summary_key(due: DateTime<Utc>) -> String {
    format!("{SUMMARY}:{}", crate::store::format_time(due))
}

fn weekly_key(due: DateTime<Utc>) -> String {
    format!("{WEEKLY_REPORT}:{}", crate::store::format_time(due))
}

/// Make sure the next summary, and the next weekly report when configured, are
/// scheduled (at start; the firing of one schedules the next).
pub async fn ensure_summary_scheduled(ctx: &Ctx) -> anyhow::Result<()> {
    ensure_periodic_summary_scheduled(ctx).await?;
    ensure_weekly_report_scheduled(ctx).await
}

/// The weekly report's next timer, unless one is pending or nobody would get it.
async fn ensure_weekly_report_scheduled(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(weekly) = &ctx.config.summary.weekly else {
        return Ok(());
    };
    if ctx.config.slack.status_channel.is_none() && ctx.config.slack.managers.is_empty() {
        return Ok(()); // nobody to send it to
    }
    if !timers::pending_of_kind(ctx.store.db(), WEEKLY_REPORT)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    if let Some(due) = weekly.next_after(ctx.clock.now()) {
        let mut tx = ctx.store.begin().await?;
        timers::schedule(&mut tx, WEEKLY_REPORT, &weekly_key(due), due, "{}").await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Fire a due weekly report: the short report of the 7 days before its due time, to the
/// status channel and each manager, written to the outbox with the claim of the timer
/// and the next one in one unit of work (a restart neither skips nor repeats it).
pub(crate) async fn fire_weekly_report(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let now = ctx.clock.now();
    let period = Period {
        since: timer.due_at - WEEK,
        until: timer.due_at,
    };
    let report = managers::of_period(ctx.store.db(), period, &ctx.config.escalation).await?;
    let tz = ctx.config.summary.timezone;
    let heading = format!(
        "Weekly incident report, the 7 days to {} ({tz})",
        timer.due_at.with_timezone(&tz).format("%a %-d %b %Y %H:%M")
    );
    let msg = render_report::short_report(&report, &heading);
    let blocks = msg.blocks.as_ref().map(|b| b.to_string());
    let messages: Vec<NewOutgoing> = ctx
        .config
        .slack
        .status_channel
        .iter()
        .cloned()
        .map(OutboxDestination::Channel)
        .chain(
            ctx.config
                .slack
                .managers
                .iter()
                .cloned()
                .map(OutboxDestination::Dm),
        )
        .map(|destination| NewOutgoing {
            destination,
            text: msg.text.clone(),
            blocks: blocks.clone(),
        })
        .collect();
    let next = ctx
        .config
        .summary
        .weekly
        .as_ref()
        // After downtime: this one now, then on schedule.
        .and_then(|w| w.next_after(timer.due_at.max(now)))
        .map(|due| (weekly_key(due), due));
    let mut tx = ctx.store.begin().await?;
    let fired = timers::claim(&mut tx, timer.id, now).await?;
    if fired {
        for m in &messages {
            outbox::enqueue_for_timer(&mut tx, timer.id, m, now).await?;
        }
        if let Some((key, due)) = &next {
            timers::schedule(&mut tx, WEEKLY_REPORT, key, *due, "{}").await?;
        }
    }
    tx.commit().await?;
    if fired {
        tracing::info!(
            incidents = report.incidents,
            recipients = messages.len(),
            "weekly report fired"
        );
    }
    Ok(())
}

/// Make sure the next periodic summary is scheduled.
async fn ensure_periodic_summary_scheduled(ctx: &Ctx) -> anyhow::Result<()> {
    if !timers::pending_of_kind(ctx.store.db(), SUMMARY)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    if ctx.config.slack.status_channel.is_none() && ctx.config.slack.managers.is_empty() {
        return Ok(()); // nobody to send it to
    }
    if let Some(due) = ctx.config.summary.schedule().next_after(ctx.clock.now()) {
        let mut tx = ctx.store.begin().await?;
        timers::schedule(&mut tx, SUMMARY, &summary_key(due), due, "{}").await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Fire a due summary timer: decide what to say, and record it with its messages and the
/// next timer in one transaction (delivery happens from the outbox).
pub(crate) async fn fire_summary(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let now = ctx.clock.now();
    let open = incidents::list(ctx.store.db(), true).await?;
    let last = timers::last_summary(ctx.store.db()).await?;
    // The first summary covers the period before it.
    let since = last
        .as_ref()
        .map(|l| l.at)
        .unwrap_or(timer.due_at - chrono::Duration::days(1));
    let resolved = incidents::resolved_since(ctx.store.db(), since).await?;
    let last_updates = timeline::last_updates(ctx.store.db()).await?;
    let aws_cases = overview::case_glances(ctx.store.db()).await?;
    let idle = open.is_empty() && resolved.is_empty();
    let said_idle_already = last
        .as_ref()
        .is_some_and(|l| l.open_count == 0 && l.resolved_count == 0);
    let send = !(idle && said_idle_already && ctx.config.summary.quiet_when_idle);
    let mut messages = Vec::new();
    if send {
        // The status channel is shared: private incidents are redacted there. Each
        // manager's DM shows the details only to those in `[incident] private_viewers`.
        let render_for = |viewer: &Viewer| {
            let msg = render::summary(
                &Overview {
                    open: &open,
                    last_updates: &last_updates,
                    aws_cases: &aws_cases,
                    now,
                    viewer,
                },
                &resolved,
            );
            let blocks = msg.blocks.as_ref().map(|b| b.to_string());
            (msg.text, blocks)
        };
        let public = render_for(&Viewer::public());
        let destinations = ctx
            .config
            .slack
            .status_channel
            .iter()
            .map(|c| (OutboxDestination::Channel(c.clone()), Viewer::public()))
            .chain(ctx.config.slack.managers.iter().map(|m| {
                (
                    OutboxDestination::Dm(m.clone()),
                    super::authorization::viewer(ctx, m.as_str(), []),
                )
            }));
        messages = destinations
            .map(|(destination, viewer)| {
                let (text, blocks) = if viewer == Viewer::public() {
                    public.clone()
                } else {
                    render_for(&viewer)
                };
                NewOutgoing {
                    destination,
                    text,
                    blocks,
                }
            })
            .collect();
    }
    let next = ctx
        .config
        .summary
        .schedule()
        // Never schedule into the past after downtime: one summary now, then on schedule.
        .next_after(timer.due_at.max(now))
        .map(|due| (summary_key(due), due));
    let summary = SummaryRecord {
        at: now,
        // Real incidents only: drills are rehearsals, listed apart.
        open_count: open.iter().filter(|r| !r.incident.id.is_drill()).count() as i64,
        resolved_count: resolved
            .iter()
            .filter(|r| !r.incident.id.is_drill())
            .count() as i64,
        sent: send,
    };
    // Claiming the timer and writing what it produced, the next timer included, is one
    // unit of work: a restart neither skips nor repeats a summary.
    let mut tx = ctx.store.begin().await?;
    let fired = timers::claim(&mut tx, timer.id, now).await?;
    if fired {
        timers::record_summary(&mut tx, timer.id, &summary).await?;
        for m in &messages {
            outbox::enqueue_for_timer(&mut tx, timer.id, m, now).await?;
        }
        if let Some((key, due)) = &next {
            timers::schedule(&mut tx, SUMMARY, key, *due, "{}").await?;
        }
    }
    tx.commit().await?;
    if fired {
        tracing::info!(
            open = open.len(),
            resolved = resolved.len(),
            sent = send,
            "summary fired"
        );
    }
    Ok(())
}

/// Publish App Home for `user`: open incidents and the last ten resolved. A private
/// incident shows its details only if `user` is in its channel (asked of Slack now) or
/// in `[incident] private_viewers`.
pub(crate) async fn publish_home(ctx: &Ctx, user: &str) -> Result<(), Failure> {
    let open = incidents::list(ctx.store.db(), true).await?;
    let recent = incidents::recently_resolved(ctx.store.db(), HOME_RECENT).await?;
    let last_updates = timeline::last_updates(ctx.store.db()).await?;
    let aws_cases = overview::case_glances(ctx.store.db()).await?;
    let shown: Vec<&crate::domain::IncidentRecord> = open.iter().chain(&recent).collect();
    let viewer = super::authorization::home_viewer(ctx, user, &shown).await;
    let view = render::home(
        &Overview {
            open: &open,
            last_updates: &last_updates,
            aws_cases: &aws_cases,
            now: ctx.clock.now(),
            viewer: &viewer,
        },
        &recent,
    );
    ctx.web.publish_home(user, view).await?;
    Ok(())
}
