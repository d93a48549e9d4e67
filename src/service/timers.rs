//! The scheduler: fires due timers, delivers the outbox they fill, and prunes raw events
//! past their retention (`super::retention`).
//!
//! Deadlines live in SQLite, so a restart (even kill -9) loses none: a timer that came due
//! while the bot was down fires at start; one that fired is never fired again, because
//! claiming it and recording what it produced is one transaction.
//!
//! The outbox (summaries, nudges, mirrored AWS replies, change notices) is delivered in
//! order and effectively once: a row is marked "sending" before its post, and a row found
//! so again (a crash or a lost answer in between) is first looked for in the destination's
//! history. A transient failure pauses the outbox with a growing back-off, for minutes; a
//! permanent refusal is told to the change's caller, or reported once to the status channel.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::archive::{ARCHIVE, ARCHIVE_WARNING};
use super::summary::{SUMMARY, WEEKLY_REPORT};
use super::{Ctx, Service};
use crate::backoff::Backoff;
use crate::domain::OutboxDestination;
use crate::slack::render;
use crate::slack::web::{Outgoing, SlackError};
use crate::store::escalation::{CASE_RETRY_TIMER, NUDGE_TIMER};
use crate::store::outbox::{self, OutboxRow};
use crate::store::{timers, StoreError};

/// The longest the scheduler sleeps before looking again (bounds timer lag when the clock is
/// moved by hand, and after a system clock jump).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Delivery attempts before a message is given up on: with [`retry_delay`], six to seven
/// minutes of a failing Slack, the same outage the worker rides out.
const MAX_DELIVERY_ATTEMPTS: i64 = 60;

/// The pause after a message's `attempts`-th transient failure: 250 ms more per failure, at
/// most 10 s. Kicks do not cut it short, so a busy bot does not burn the attempts in seconds.
fn retry_delay(attempts: i64) -> Duration {
    const RETRY: Backoff = Backoff::linear(Duration::from_millis(250), Duration::from_secs(10));
    RETRY.delay_i64(attempts)
}

impl Service {
    /// Run until `shutdown` turns true.
    pub async fn run_scheduler(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // After a transient delivery failure, the outbox waits until then (timers do not).
        let mut outbox_paused_until: Option<tokio::time::Instant> = None;
        let mut last_prune = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            fire_due(&self.ctx).await;
            super::retention::prune_raw_events(&self.ctx, &mut last_prune).await;
            if outbox_paused_until.is_none_or(|t| tokio::time::Instant::now() >= t) {
                outbox_paused_until = deliver_outbox(&self.ctx)
                    .await
                    .map(|pause| tokio::time::Instant::now() + pause);
            }
            let mut wait = match timers::next_due(self.ctx.store.db()).await {
                Ok(Some(due)) => (due - self.ctx.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP),
                _ => MAX_SLEEP,
            };
            if let Some(t) = outbox_paused_until {
                wait = wait.min(t.saturating_duration_since(tokio::time::Instant::now()));
            }
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = self.ctx.timers_kick.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

async fn fire_due(ctx: &Ctx) {
    let due = match timers::due(ctx.store.db(), ctx.clock.now()).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot read timers");
            return;
        }
    };
    for timer in due {
        let lag = ctx.clock.now() - timer.due_at;
        tracing::debug!(key = %timer.key, lag_ms = lag.num_milliseconds(), "timer due");
        let result = match timer.kind.as_str() {
            SUMMARY => super::summary::fire_summary(ctx, &timer).await,
            WEEKLY_REPORT => super::summary::fire_weekly_report(ctx, &timer).await,
            NUDGE_TIMER => super::nudges::fire_nudge(ctx, &timer).await,
            CASE_RETRY_TIMER => super::support::fire_case_retry(ctx, &timer).await,
            ARCHIVE_WARNING => super::archive::fire_archive_warning(ctx, &timer).await,
            ARCHIVE => super::archive::fire_archive(ctx, &timer).await,
            other => {
                tracing::warn!(kind = other, key = %timer.key, "unknown timer kind; leaving it");
                Ok(())
            }
        };
        if let Err(e) = result {
            // The timer stays pending and is tried again on the next tick.
            tracing::warn!(key = %timer.key, error = %e, "timer failed; will retry");
            return;
        }
        ctx.metrics.timer_fired(lag.to_std().unwrap_or_default());
    }
}

/// Deliver pending messages in order; on a transient failure, stop (order is kept) and
/// return how long to pause before the next try.
async fn deliver_outbox(ctx: &Ctx) -> Option<Duration> {
    let pending = match outbox::pending(ctx.store.db(), 100).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox");
            return Some(MAX_SLEEP);
        }
    };
    for row in pending {
        if let Some(pause) = deliver(ctx, &row).await {
            return Some(pause);
        }
    }
    None
}

/// Deliver one message, or give it up; returns the pause before a retry on a transient
/// failure.
async fn deliver(ctx: &Ctx, row: &OutboxRow) -> Option<Duration> {
    if row.sending_since.is_none() {
        // Wall-clock time, not the service clock: it is compared with Slack's ts (and a
        // test's hand-moved clock may be hours ahead of Slack's).
        if let Err(e) = mark_sending(ctx, row.id, chrono::Utc::now()).await {
            tracing::error!(error = %e, "cannot mark a message as being sent; will retry");
            return Some(retry_delay(1));
        }
    }
    let result = post_once(ctx, row).await;
    let now = ctx.clock.now();
    match result {
        Ok(()) => {
            if let Err(e) = finish_outgoing(ctx, row.id, now, None).await {
                tracing::error!(error = %e, "cannot mark a message delivered");
            }
            None
        }
        Err(e) if e.is_transient() => {
            let attempts = outgoing_failed(ctx, row.id, &e.to_string())
                .await
                .unwrap_or(row.attempts + 1);
            if attempts < MAX_DELIVERY_ATTEMPTS {
                tracing::debug!(destination = %row.destination, attempts, error = %e, "delivery failed; will retry");
                return Some(retry_delay(attempts));
            }
            tracing::error!(destination = %row.destination, error = %e, "giving up on a message");
            let _ = finish_outgoing(ctx, row.id, now, Some(&e.to_string())).await;
            tell_refusal(ctx, row, &e).await;
            None
        }
        Err(e) => {
            let _ = finish_outgoing(ctx, row.id, now, Some(&e.to_string())).await;
            if tell_refusal(ctx, row, &e).await {
                return None;
            }
            // A resolved incident's channel archived (by `[incident] archive_after` or by
            // hand) is where it should be: a late message for it is dropped quietly.
            if e.code() == Some("is_archived")
                && is_resolved_channel(ctx, row.destination.as_str()).await
            {
                tracing::info!(destination = %row.destination, "a message for an archived incident channel; dropped");
                return None;
            }
            let is_user = matches!(row.destination, OutboxDestination::Dm(_));
            let first = recipient_problem(
                ctx,
                row.destination.as_str(),
                e.code().unwrap_or("error"),
                now,
            )
            .await
            .unwrap_or(false);
            if first {
                tracing::warn!(destination = %row.destination, error = %e, "Slack refused a recipient; reported once");
                let who = if is_user { "manager" } else { "channel" };
                super::announce::tell_status_channel(ctx, &render::problem(&format!(
                    "warroom cannot deliver messages (summaries, nudges, notices) to {who} {}: Slack says {}. Check [slack] managers / status_channel in the config, or whether the bot was removed from the channel",
                    row.destination,
                    e.code().unwrap_or("error")
                )))
                .await;
            }
            None
        }
    }
}

/// Note that a message's first post is about to be made (committed before the post).
async fn mark_sending(
    ctx: &Ctx,
    id: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    outbox::mark_sending(&mut tx, id, at).await?;
    tx.commit().await
}

async fn finish_outgoing(
    ctx: &Ctx,
    id: i64,
    now: chrono::DateTime<chrono::Utc>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let mut tx = ctx.store.begin().await?;
    outbox::finish(&mut tx, id, now, error).await?;
    tx.commit().await
}

async fn outgoing_failed(ctx: &Ctx, id: i64, error: &str) -> Result<i64, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let attempts = outbox::failed(&mut tx, id, error).await?;
    tx.commit().await?;
    Ok(attempts)
}

async fn recipient_problem(
    ctx: &Ctx,
    recipient: &str,
    error: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let first = outbox::record_recipient_problem(&mut tx, recipient, error, now).await?;
    tx.commit().await?;
    Ok(first)
}

/// Post a message, unless it was found already in Slack: a row marked sending before
/// this attempt may have been posted by a process killed (or an answer lost) before it
/// was marked sent, so the destination's history since the mark is searched first.
async fn post_once(ctx: &Ctx, row: &OutboxRow) -> Result<(), SlackError> {
    let mut msg = Outgoing {
        text: row.text.clone(),
        blocks: row
            .blocks
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok()),
    };
    // Everything warroom posts in a drill's channel says DRILL.
    if let OutboxDestination::Channel(channel) = &row.destination {
        if super::drills::is_drill_channel(ctx.store.db(), channel.as_str()).await {
            msg = crate::slack::render::with_drill_banner(msg);
        }
    }
    if let Some(since) = row.sending_since {
        if super::announce::already_posted(ctx, &row.destination, since, &msg)
            .await?
            .is_some()
        {
            return Ok(());
        }
    }
    match &row.destination {
        OutboxDestination::Dm(user) => ctx.web.post_dm(user.as_str(), &msg).await.map(drop),
        OutboxDestination::Channel(channel) => ctx.web.post(channel, &msg).await.map(drop),
    }
}

/// Tell the person behind a message Slack will not take (a change notice's caller),
/// privately. Returns whether the row had someone to tell.
async fn tell_refusal(ctx: &Ctx, row: &OutboxRow, e: &SlackError) -> bool {
    let Some((url, what)) = &row.refusal else {
        return false;
    };
    tracing::warn!(destination = %row.destination, error = %e, "Slack refused a notice; telling its caller");
    // Slack's error code says why (`is_archived`, `channel_not_found`); anything else is
    // warroom's business, told by reference.
    let msg = match e.code() {
        Some(code) => render::problem(&format!("{what} (Slack says {code})")),
        None => super::failure::internal_error(what, &super::failure::fresh_reference(), e),
    };
    if let Err(e) = ctx.web.respond_ephemeral(url, &msg).await {
        tracing::warn!(error = %e, "could not tell the caller");
    }
    true
}

/// Whether `channel` is the channel of a resolved incident.
async fn is_resolved_channel(ctx: &Ctx, channel: &str) -> bool {
    matches!(
        crate::store::incidents::by_channel(ctx.store.db(), channel).await,
        Ok(Some(r)) if r.incident.status == crate::domain::Status::Resolved
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_budget_rides_out_minutes_of_failures() {
        assert_eq!(retry_delay(1), Duration::from_millis(250));
        assert_eq!(retry_delay(4), Duration::from_secs(1));
        assert_eq!(retry_delay(100), Duration::from_secs(10));
        let total: Duration = (1..MAX_DELIVERY_ATTEMPTS).map(retry_delay).sum();
        assert!(
            (Duration::from_secs(300)..=Duration::from_secs(600)).contains(&total),
            "{total:?} of retries"
        );
    }
}
