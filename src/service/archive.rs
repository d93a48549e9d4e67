//! Tidying up after a resolve (`[incident] archive_after`): a resolved incident's channel
//! is archived that long after its resolve, announced a day before with a "Keep open"
//! button.
//!
//! Both deadlines are timer rows scheduled in the unit of work that resolves the incident
//! (so a restart loses neither), keyed by the incident and its resolve time: a reopen
//! cancels them in its own unit of work, and a timer whose resolve is no longer the
//! incident's latest is dropped when it comes due. With `archive_after` of a day or less
//! the warning is posted at once, on the resolve. The warning goes through the outbox
//! (posted once whatever crashes); the archive is `conversations.archive`, where
//! `already_archived` counts as done, so a crash between Slack's answer and its record
//! archives once and records once.

use chrono::{DateTime, Duration, Utc};

use super::answer::Request;
use super::failure::Failure;
use super::Ctx;
use crate::domain::OutboxDestination;
use crate::domain::{EntryKind, Incident, IncidentId, IncidentRecord, Status};
use crate::slack::render;
use crate::slack::render_support::answered_prompt;
use crate::store::outbox;
use crate::store::timeline::{self, NewEntry};
use crate::store::timers::{self, Timer};
use crate::store::{inbox, incidents, StoreError, Tx};

/// The timer kind of the "this channel will be archived" notice.
pub const ARCHIVE_WARNING: &str = "archive_warning";
/// The timer kind of the archive itself.
pub const ARCHIVE: &str = "archive";

/// How long before the archive it is announced.
fn warning_ahead() -> Duration {
    Duration::days(1)
}

/// The key prefix of an incident's timers of `kind` (digits and `:` after the kind, so it
/// is a safe LIKE prefix).
fn key_prefix(kind: &str, incident: IncidentId) -> String {
    format!("{kind}:{}:", incident.0)
}

fn key(kind: &str, incident: IncidentId, resolved_at: DateTime<Utc>) -> String {
    format!("{}{}", key_prefix(kind, incident), resolved_at.timestamp())
}

fn payload(incident: IncidentId, resolved_at: DateTime<Utc>) -> String {
    serde_json::json!({"incident": incident.0, "resolved_at": resolved_at.timestamp()}).to_string()
}

fn parse_payload(payload: &str) -> Option<(IncidentId, i64)> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    Some((
        IncidentId(v.get("incident")?.as_i64()?),
        v.get("resolved_at")?.as_i64()?,
    ))
}

/// When the warning and the archive are due for an incident resolved at `resolved_at`.
fn deadlines(resolved_at: DateTime<Utc>, after: Duration) -> (DateTime<Utc>, DateTime<Utc>) {
    let archive_at = resolved_at + after;
    let warn_at = (archive_at - warning_ahead()).max(resolved_at);
    (warn_at, archive_at)
}

fn archive_after(ctx: &Ctx) -> Option<Duration> {
    ctx.config
        .incident
        .archive_after
        .and_then(|d| Duration::from_std(d).ok())
}

/// In the unit of work of a status change from `before` to `after`: a resolve schedules
/// the archive (when configured), a reopen cancels it.
pub(super) async fn archive_on_change(
    ctx: &Ctx,
    tx: &mut Tx,
    before: &Incident,
    after: &Incident,
) -> Result<(), StoreError> {
    let resolved = after.status == Status::Resolved && before.status != Status::Resolved;
    let reopened = before.status == Status::Resolved && after.status != Status::Resolved;
    if reopened {
        for kind in [ARCHIVE_WARNING, ARCHIVE] {
            timers::cancel_pending(tx, &key_prefix(kind, after.id)).await?;
        }
    }
    if let (true, Some(after_d), Some(resolved_at)) =
        (resolved, archive_after(ctx), after.resolved_at)
    {
        let (warn_at, archive_at) = deadlines(resolved_at, after_d);
        let p = payload(after.id, resolved_at);
        timers::schedule(
            tx,
            ARCHIVE_WARNING,
            &key(ARCHIVE_WARNING, after.id, resolved_at),
            warn_at,
            &p,
        )
        .await?;
        timers::schedule(
            tx,
            ARCHIVE,
            &key(ARCHIVE, after.id, resolved_at),
            archive_at,
            &p,
        )
        .await?;
    }
    Ok(())
}

/// The incident a timer is about, when that timer still applies: the incident is
/// resolved, by the resolve the timer was scheduled for, and has a channel.
async fn archive_target(ctx: &Ctx, timer: &Timer) -> Result<Option<IncidentRecord>, Failure> {
    let Some((id, resolved_at)) = parse_payload(&timer.payload) else {
        tracing::warn!(key = %timer.key, "unreadable archive timer; dropping it");
        return Ok(None);
    };
    let record = incidents::get(ctx.store.db(), id).await?;
    let current = record.incident.status == Status::Resolved
        && record.incident.resolved_at.map(|t| t.timestamp()) == Some(resolved_at)
        && record.channel_id.is_some();
    Ok(current.then_some(record))
}

async fn drop_timer(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let mut tx = ctx.store.begin().await?;
    timers::claim(&mut tx, timer.id, ctx.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// The warning timer is due: post the notice with its "Keep open" button (outbox), with
/// its timeline entry, in the unit of work that claims the timer.
pub(super) async fn fire_archive_warning(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let Some(record) = archive_target(ctx, timer).await? else {
        return drop_timer(ctx, timer).await;
    };
    let archive_key = timer.key.replacen(ARCHIVE_WARNING, ARCHIVE, 1);
    let archive_at = timers::pending_of_kind(ctx.store.db(), ARCHIVE)
        .await?
        .into_iter()
        .find(|t| t.key == archive_key)
        .map(|t| t.due_at);
    let (Some(archive_at), Some(channel)) = (archive_at, record.channel_id.clone()) else {
        // Kept open (or archived) already: nothing to announce.
        return drop_timer(ctx, timer).await;
    };
    let now = ctx.clock.now();
    let msg = render::archive_warning(record.incident.id, archive_at);
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: format!("timer:{}", timer.key),
        kind: EntryKind::ChannelArchive,
        occurred_at: now,
        actor: None,
        text: format!(
            "warroom announced the channel's archive at {} UTC",
            archive_at.format("%Y-%m-%d %H:%M")
        ),
        slack_ts: None,
        thread_ts: None,
        key_event: false,
    };
    let mut tx = ctx.store.begin().await?;
    if timers::claim(&mut tx, timer.id, now).await? {
        timeline::insert(&mut tx, &entry, now).await?;
        let out = super::announce::to_outbox(OutboxDestination::Channel(channel), msg);
        outbox::enqueue_for_timer(&mut tx, timer.id, &out, now).await?;
    }
    tx.commit().await?;
    ctx.kick_timers();
    Ok(())
}

/// The archive timer is due: archive the channel, then record it with the claim. A
/// transient failure leaves the timer pending (tried again); a refusal for good
/// (`not_in_channel`, `channel_not_found`) is recorded instead and not retried.
pub(super) async fn fire_archive(ctx: &Ctx, timer: &Timer) -> Result<(), Failure> {
    let Some(record) = archive_target(ctx, timer).await? else {
        return drop_timer(ctx, timer).await;
    };
    let Some(channel) = record.channel_id.as_ref() else {
        return drop_timer(ctx, timer).await;
    };
    let text = match ctx.web.archive_channel(channel).await {
        Ok(()) => "warroom archived the channel".to_string(),
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => {
            tracing::warn!(incident = %record.incident.id, error = %e, "cannot archive an incident channel");
            format!(
                "warroom could not archive the channel: Slack says {}",
                e.code().unwrap_or("error")
            )
        }
    };
    let now = ctx.clock.now();
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: format!("timer:{}", timer.key),
        kind: EntryKind::ChannelArchive,
        occurred_at: now,
        actor: None,
        text,
        slack_ts: None,
        thread_ts: None,
        key_event: false,
    };
    let mut tx = ctx.store.begin().await?;
    if timers::claim(&mut tx, timer.id, now).await? {
        timeline::insert(&mut tx, &entry, now).await?;
    }
    tx.commit().await?;
    tracing::info!(incident = %record.incident.id, "incident channel archived");
    Ok(())
}

/// "Keep open" on the warning: cancel the archive, on the timeline and announced in the
/// channel, in one unit of work with the click's inbox row. Who may press it was decided
/// by the checkpoint.
pub(super) async fn keep_open_click(
    ctx: &Ctx,
    req: &Request<'_>,
    record: &IncidentRecord,
) -> Result<(), Failure> {
    let now = ctx.clock.now();
    let notice = render::kept_open(&req.actor);
    let entry = NewEntry {
        incident_id: record.incident.id,
        dedupe_key: req.key.to_string(),
        kind: EntryKind::ChannelArchive,
        occurred_at: req.at,
        actor: Some(req.actor.as_str().to_string()),
        text: "kept the channel open".to_string(),
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    };
    let mut tx = ctx.store.begin().await?;
    let mut cancelled = 0;
    for kind in [ARCHIVE_WARNING, ARCHIVE] {
        cancelled += timers::cancel_pending(&mut tx, &key_prefix(kind, record.incident.id)).await?;
    }
    let recorded = cancelled > 0 && timeline::insert(&mut tx, &entry, now).await?;
    if recorded {
        if let Some(out) = super::answer::notice_in(record, notice.clone()) {
            outbox::enqueue(&mut tx, &out, now).await?;
        }
    }
    inbox::mark_processed(&mut tx, req.inbox_id, now, None).await?;
    tx.commit().await?;
    if recorded {
        ctx.kick_timers();
        if let (Some(prompt), Some(url)) = (req.clicked, req.response_url) {
            let answered = answered_prompt(prompt, &notice);
            if let Err(e) = ctx.web.replace_clicked(url, &answered).await {
                tracing::warn!(error = %e, "could not take the button off the archive warning");
            }
        }
    } else if !timeline::exists(ctx.store.db(), req.key).await? {
        super::answer::tell(
            ctx,
            req,
            &render::problem("this channel is not going to be archived"),
        )
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_warning_comes_a_day_ahead_or_at_once() {
        let resolved = t("2026-12-01T10:00:00Z");
        assert_eq!(
            deadlines(resolved, Duration::days(7)),
            (t("2026-12-07T10:00:00Z"), t("2026-12-08T10:00:00Z"))
        );
        assert_eq!(
            deadlines(resolved, Duration::hours(3)),
            (resolved, t("2026-12-01T13:00:00Z"))
        );
        assert_eq!(
            deadlines(resolved, Duration::days(1)),
            (resolved, t("2026-12-02T10:00:00Z"))
        );
    }

    #[test]
    fn keys_of_one_incident_never_match_another() {
        let at = t("2026-12-01T10:00:00Z");
        let k = key(ARCHIVE, IncidentId(12), at);
        assert!(k.starts_with(&key_prefix(ARCHIVE, IncidentId(12))));
        assert!(!k.starts_with(&key_prefix(ARCHIVE, IncidentId(1))));
        assert!(!key(ARCHIVE_WARNING, IncidentId(12), at)
            .starts_with(&key_prefix(ARCHIVE, IncidentId(12))));
        assert_eq!(
            parse_payload(&payload(IncidentId(12), at)),
            Some((IncidentId(12), at.timestamp()))
        );
    }
}
