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
use super::Service;
use crate::backoff::Backoff;
use crate::domain::OutboxDestination;
use crate::slack::render;
use crate::slack::web::{Outgoing, PostedMessage, SlackError};
use crate::store::escalation::{CASE_RETRY_TIMER, NUDGE_TIMER};
use crate::store::outbox::{self, NewOutgoing, OutboxRow, Refusal};
use crate::store::timeline::{self, NewEntry};
use crate::store::{inbox, timers, StoreError};

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
    /// Record `entry` and, if it is new, announce it: `notices` go into the outbox in the
    /// same transaction and the scheduler is woken to deliver them. Returns whether the
    /// entry was new (a replay announces nothing twice).
    pub(crate) async fn record_and_announce(
        &self,
        entry: &NewEntry,
        notices: Vec<(String, Outgoing)>,
        refusal: Option<(&str, &str)>,
        inbox_id: Option<i64>,
    ) -> Result<bool, StoreError> {
        let messages: Vec<NewOutgoing> = notices
            .into_iter()
            .map(|(destination, m)| NewOutgoing {
                destination: OutboxDestination::from_stored(destination),
                text: m.text,
                blocks: m.blocks.map(|b| b.to_string()),
            })
            .collect();
        let refusal = refusal.map(|(url, text)| Refusal {
            response_url: url.to_string(),
            text: text.to_string(),
        });
        let now = self.ctx.clock.now();
        let mut tx = self.ctx.store.begin().await?;
        let new = timeline::insert(&mut tx, entry, now).await?;
        if new {
            for m in &messages {
                outbox::enqueue_answerable(&mut tx, m, refusal.as_ref(), now).await?;
            }
        }
        if let Some(id) = inbox_id {
            inbox::mark_processed(&mut tx, id, now, None).await?;
        }
        tx.commit().await?;
        if new && !messages.is_empty() {
            self.kick_timers();
        }
        Ok(new)
    }

    /// The incident channel and, when configured, the status channel.
    pub(crate) fn channel_and_status(
        &self,
        channel: Option<&String>,
        msg: &Outgoing,
    ) -> Vec<(String, Outgoing)> {
        channel
            .into_iter()
            .chain(self.ctx.config.slack.status_channel.as_ref())
            .map(|c| (c.clone(), msg.clone()))
            .collect()
    }

    /// Wake the scheduler now (after something was scheduled, or the clock moved).
    pub fn kick_timers(&self) {
        self.timers_kick.notify_one();
    }

    /// Run until `shutdown` turns true.
    pub async fn run_scheduler(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // After a transient delivery failure, the outbox waits until then (timers do not).
        let mut outbox_paused_until: Option<tokio::time::Instant> = None;
        let mut last_prune = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            self.fire_due().await;
            super::retention::prune_raw_events(&self.ctx, &mut last_prune).await;
            if outbox_paused_until.is_none_or(|t| tokio::time::Instant::now() >= t) {
                outbox_paused_until = self
                    .deliver_outbox()
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
                _ = self.timers_kick.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn fire_due(&self) {
        let due = match timers::due(self.ctx.store.db(), self.ctx.clock.now()).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read timers");
                return;
            }
        };
        for timer in due {
            let lag = self.ctx.clock.now() - timer.due_at;
            tracing::debug!(key = %timer.key, lag_ms = lag.num_milliseconds(), "timer due");
            let result = match timer.kind.as_str() {
                SUMMARY => self.fire_summary(&timer).await,
                WEEKLY_REPORT => self.fire_weekly_report(&timer).await,
                NUDGE_TIMER => self.fire_nudge(&timer).await,
                CASE_RETRY_TIMER => self.fire_case_retry(&timer).await,
                ARCHIVE_WARNING => self.fire_archive_warning(&timer).await,
                ARCHIVE => self.fire_archive(&timer).await,
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
            self.ctx
                .metrics
                .timer_fired(lag.to_std().unwrap_or_default());
        }
    }

    /// Deliver pending messages in order; on a transient failure, stop (order is kept) and
    /// return how long to pause before the next try.
    async fn deliver_outbox(&self) -> Option<Duration> {
        let pending = match outbox::pending(self.ctx.store.db(), 100).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return Some(MAX_SLEEP);
            }
        };
        for row in pending {
            if let Some(pause) = self.deliver(&row).await {
                return Some(pause);
            }
        }
        None
    }

    /// Deliver one message, or give it up; returns the pause before a retry on a transient
    /// failure.
    async fn deliver(&self, row: &OutboxRow) -> Option<Duration> {
        if row.sending_since.is_none() {
            // Wall-clock time, not the service clock: it is compared with Slack's ts (and a
            // test's hand-moved clock may be hours ahead of Slack's).
            if let Err(e) = self.mark_sending(row.id, chrono::Utc::now()).await {
                tracing::error!(error = %e, "cannot mark a message as being sent; will retry");
                return Some(retry_delay(1));
            }
        }
        let result = self.post_once(row).await;
        let now = self.ctx.clock.now();
        match result {
            Ok(()) => {
                if let Err(e) = self.finish_outgoing(row.id, now, None).await {
                    tracing::error!(error = %e, "cannot mark a message delivered");
                }
                None
            }
            Err(e) if e.is_transient() => {
                let attempts = self
                    .outgoing_failed(row.id, &e.to_string())
                    .await
                    .unwrap_or(row.attempts + 1);
                if attempts < MAX_DELIVERY_ATTEMPTS {
                    tracing::debug!(destination = %row.destination, attempts, error = %e, "delivery failed; will retry");
                    return Some(retry_delay(attempts));
                }
                tracing::error!(destination = %row.destination, error = %e, "giving up on a message");
                let _ = self
                    .finish_outgoing(row.id, now, Some(&e.to_string()))
                    .await;
                self.tell_refusal(row, &e).await;
                None
            }
            Err(e) => {
                let _ = self
                    .finish_outgoing(row.id, now, Some(&e.to_string()))
                    .await;
                if self.tell_refusal(row, &e).await {
                    return None;
                }
                // A resolved incident's channel archived (by `[incident] archive_after` or by
                // hand) is where it should be: a late message for it is dropped quietly.
                if e.code() == Some("is_archived")
                    && self.is_resolved_channel(row.destination.as_str()).await
                {
                    tracing::info!(destination = %row.destination, "a message for an archived incident channel; dropped");
                    return None;
                }
                let is_user = matches!(row.destination, OutboxDestination::Dm(_));
                let first = self
                    .recipient_problem(row.destination.as_str(), e.code().unwrap_or("error"), now)
                    .await
                    .unwrap_or(false);
                if first {
                    tracing::warn!(destination = %row.destination, error = %e, "Slack refused a recipient; reported once");
                    let who = if is_user { "manager" } else { "channel" };
                    self.tell_status_channel(&render::problem(&format!(
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
        &self,
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.ctx.store.begin().await?;
        outbox::mark_sending(&mut tx, id, at).await?;
        tx.commit().await
    }

    async fn finish_outgoing(
        &self,
        id: i64,
        now: chrono::DateTime<chrono::Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.ctx.store.begin().await?;
        outbox::finish(&mut tx, id, now, error).await?;
        tx.commit().await
    }

    async fn outgoing_failed(&self, id: i64, error: &str) -> Result<i64, StoreError> {
        let mut tx = self.ctx.store.begin().await?;
        let attempts = outbox::failed(&mut tx, id, error).await?;
        tx.commit().await?;
        Ok(attempts)
    }

    async fn recipient_problem(
        &self,
        recipient: &str,
        error: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.ctx.store.begin().await?;
        let first = outbox::record_recipient_problem(&mut tx, recipient, error, now).await?;
        tx.commit().await?;
        Ok(first)
    }

    /// Post a message, unless it was found already in Slack: a row marked sending before
    /// this attempt may have been posted by a process killed (or an answer lost) before it
    /// was marked sent, so the destination's history since the mark is searched first.
    async fn post_once(&self, row: &OutboxRow) -> Result<(), SlackError> {
        let mut msg = Outgoing {
            text: row.text.clone(),
            blocks: row
                .blocks
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok()),
        };
        // Everything warroom posts in a drill's channel says DRILL.
        if let OutboxDestination::Channel(channel) = &row.destination {
            if self
                .is_drill_channel(self.ctx.store.db(), channel.as_str())
                .await
            {
                msg = crate::slack::render::with_drill_banner(msg);
            }
        }
        if let Some(since) = row.sending_since {
            if self
                .already_posted(row.destination.as_str(), since, &msg)
                .await?
                .is_some()
            {
                return Ok(());
            }
        }
        match &row.destination {
            OutboxDestination::Dm(user) => {
                self.ctx.web.post_dm(user.as_str(), &msg).await.map(drop)
            }
            OutboxDestination::Channel(channel) => {
                self.ctx.web.post(channel.as_str(), &msg).await.map(drop)
            }
        }
    }

    /// The ts of this bot's message `msg` in `destination` since `since`, if an interrupted
    /// attempt (a process killed, or an answer lost, between the post and its record) had
    /// posted it. Every post that can be repeated after a crash looks here first: the
    /// outbox (rows marked sending), the war-room header and the alarm's first post.
    pub(super) async fn already_posted(
        &self,
        destination: &str,
        since: chrono::DateTime<chrono::Utc>,
        msg: &Outgoing,
    ) -> Result<Option<String>, SlackError> {
        match self.ctx.web.messages_since(destination, since).await {
            Ok(messages) => {
                // Slack has the text as it was sent: fitted to its limits.
                let sent = crate::slack::limits::fit_message(msg).text;
                let text = sent.trim();
                let mine = |m: &PostedMessage| {
                    m.user.as_deref() == Some(self.ctx.bot.user_id.as_str())
                        || (m.bot_id.is_some() && m.bot_id == self.ctx.bot.bot_id)
                };
                let found = messages.iter().find(|m| mine(m) && m.text.trim() == text);
                if let Some(found) = found {
                    tracing::info!(destination = %destination, ts = %found.ts, "an interrupted post had reached Slack; not posting it again");
                }
                Ok(found.map(|m| m.ts.clone()))
            }
            Err(e) if e.is_transient() => Err(e),
            // Cannot look (a scope missing from an older install): posting twice beats
            // not posting.
            Err(e) => {
                tracing::warn!(destination = %destination, error = %e, "cannot check whether an interrupted post reached Slack; posting it");
                Ok(None)
            }
        }
    }

    /// Post `msg` in a war room and return its ts. `may_be_there` says an earlier attempt
    /// may have posted it and died before recording its ts: then the channel's history is
    /// searched first (the channel was created for this incident, so all of it) and the
    /// message found is adopted instead of posted again.
    pub(super) async fn post_in_war_room(
        &self,
        channel: &str,
        msg: &Outgoing,
        may_be_there: bool,
    ) -> Result<String, SlackError> {
        if may_be_there {
            if let Some(ts) = self
                .already_posted(channel, chrono::DateTime::UNIX_EPOCH, msg)
                .await?
            {
                return Ok(ts);
            }
        }
        self.ctx.web.post(channel, msg).await
    }

    /// Tell the person behind a message Slack will not take (a change notice's caller),
    /// privately. Returns whether the row had someone to tell.
    async fn tell_refusal(&self, row: &OutboxRow, e: &SlackError) -> bool {
        let Some((url, what)) = &row.refusal else {
            return false;
        };
        tracing::warn!(destination = %row.destination, error = %e, "Slack refused a notice; telling its caller");
        // Slack's error code says why (`is_archived`, `channel_not_found`); anything else is
        // warroom's business, told by reference.
        let msg = match e.code() {
            Some(code) => render::problem(&format!("{what} (Slack says {code})")),
            None => super::worker::internal_error(what, &super::worker::fresh_reference(), e),
        };
        if let Err(e) = self.ctx.web.respond_ephemeral(url, &msg).await {
            tracing::warn!(error = %e, "could not tell the caller");
        }
        true
    }
}

impl Service {
    /// Whether `channel` is the channel of a resolved incident.
    async fn is_resolved_channel(&self, channel: &str) -> bool {
        matches!(
            crate::store::incidents::by_channel(self.ctx.store.db(), channel).await,
            Ok(Some(r)) if r.incident.status == crate::domain::Status::Resolved
        )
    }
}

/// A rendered message as an outbox row for `destination`.
pub(super) fn to_outbox(destination: OutboxDestination, msg: Outgoing) -> NewOutgoing {
    NewOutgoing {
        destination,
        text: msg.text,
        blocks: msg.blocks.map(|b| b.to_string()),
    }
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
