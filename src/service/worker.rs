//! Applies recorded events one at a time, in arrival order.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Service;
use crate::domain::EntryKind;
use crate::slack::inbound::Inbound;
use crate::slack::web::SlackError;
use crate::store::{InboxRow, NewEntry};

/// Attempts before an event is given up on (its failure is recorded in the inbox row).
/// With [`backoff`], that is six to seven minutes of a failing Slack: long enough to ride out
/// an outage without abandoning a declare half set up, short enough not to hold the queue
/// for ever behind an event that cannot succeed.
const MAX_ATTEMPTS: i64 = 60;

/// Wait before attempt `attempts + 1`: growing by 250 ms per failure, at most 10 s.
fn backoff(attempts: i64) -> Duration {
    Duration::from_millis((250 * attempts.clamp(1, 40) as u64).min(10_000))
}

/// Whether handling an event already marked its inbox row processed (timeline writes do it
/// in their own transaction, so the event is applied exactly once even across a crash).
enum Marked {
    Already,
    No,
}

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// Worth retrying (Slack 5xx/429/timeouts, a busy database).
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Retrying cannot help; the event is marked done with the reason.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<SlackError> for Failure {
    fn from(e: SlackError) -> Self {
        if e.is_transient() {
            Failure::Transient(e.into())
        } else {
            Failure::Permanent(e.into())
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Transient(e.into())
    }
}

impl Service {
    /// Run until `shutdown` turns true; the event being handled is finished first.
    pub async fn run_worker(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let batch = match self.store.pending_inbound(256).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the inbox; retrying");
                    if wait_or_shutdown(&mut shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for row in batch {
                if *shutdown.borrow() {
                    return;
                }
                if let Some(backoff) = self.process_row(&row).await {
                    if wait_or_shutdown(&mut shutdown, backoff).await {
                        return;
                    }
                    break;
                }
            }
        }
    }

    /// Handle one row; returns a backoff when it should be retried.
    async fn process_row(&self, row: &InboxRow) -> Option<Duration> {
        let result = match serde_json::from_str::<Inbound>(&row.payload) {
            Ok(inbound) => self.handle(row, inbound).await,
            Err(e) => Err(Failure::Permanent(anyhow::anyhow!(
                "unreadable inbox payload: {e}"
            ))),
        };
        let now = self.clock.now();
        match result {
            // The store already marked it, in the transaction that applied it.
            Ok(Marked::Already) => None,
            Ok(Marked::No) => {
                if let Err(e) = self.store.mark_processed(row.id, now, None).await {
                    tracing::error!(error = %e, "cannot mark event processed");
                    return Some(Duration::from_millis(500));
                }
                None
            }
            Err(Failure::Permanent(e)) => {
                tracing::warn!(key = %row.dedupe_key, error = %format!("{e:#}"), "giving up on event");
                let _ = self
                    .store
                    .mark_processed(row.id, now, Some(&format!("{e:#}")))
                    .await;
                None
            }
            Err(Failure::Transient(e)) => {
                let msg = format!("{e:#}");
                let attempts = self
                    .store
                    .record_attempt_failure(row.id, &msg)
                    .await
                    .unwrap_or(row.attempts + 1);
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(key = %row.dedupe_key, error = %msg, attempts, "giving up on event after retries");
                    let _ = self.store.mark_processed(row.id, now, Some(&msg)).await;
                    None
                } else {
                    tracing::warn!(key = %row.dedupe_key, error = %msg, attempts, "event failed; will retry");
                    Some(backoff(attempts))
                }
            }
        }
    }

    async fn handle(&self, row: &InboxRow, inbound: Inbound) -> Result<Marked, Failure> {
        let now = self.clock.now();
        if let Inbound::Command(inv) = inbound {
            return self.execute_command(row, inv).await.map(|()| Marked::No);
        }
        if let Inbound::Action(click) = inbound {
            return self.handle_click(row, click).await.map(|()| Marked::No);
        }
        if let Inbound::AppHomeOpened { user, .. } = inbound {
            return self.publish_home(&user).await.map(|()| Marked::No);
        }
        if let Inbound::ViewSubmitted(v) = inbound {
            return self.handle_submission(row, v).await.map(|()| Marked::No);
        }
        let Some(record) = self.store.incident_by_channel(inbound.channel()).await? else {
            return Ok(Marked::No); // not an incident channel: nothing to record
        };
        let id = record.incident.id;
        match inbound {
            Inbound::Command(_)
            | Inbound::AppHomeOpened { .. }
            | Inbound::Action(_)
            | Inbound::ViewSubmitted(_) => Ok(Marked::No),
            Inbound::Message {
                channel,
                user,
                ts,
                thread_ts,
                text,
                at,
            } => {
                let entry = NewEntry {
                    incident_id: id,
                    dedupe_key: crate::store::timeline_message_key(&channel, &ts),
                    kind: EntryKind::Message,
                    occurred_at: at,
                    actor: Some(user),
                    text,
                    slack_ts: Some(ts),
                    thread_ts,
                    key_event: false,
                };
                self.store.add_entry(&entry, now, Some(row.id)).await?;
                Ok(Marked::Already)
            }
            Inbound::MessageEdited {
                channel,
                ts,
                user,
                text,
                at,
            } => {
                self.store
                    .edit_message(
                        id,
                        &channel,
                        &ts,
                        user.as_deref(),
                        &text,
                        at,
                        now,
                        Some(row.id),
                    )
                    .await?;
                Ok(Marked::Already)
            }
            Inbound::MessageDeleted { channel, ts, at } => {
                self.store
                    .delete_message(id, &channel, &ts, at, now, Some(row.id))
                    .await?;
                Ok(Marked::Already)
            }
            Inbound::Reaction {
                channel,
                ts,
                reaction,
                ..
            } => {
                if reaction == "pushpin" || reaction == "round_pushpin" {
                    self.store
                        .mark_key_event(&channel, &ts, now, Some(row.id))
                        .await?;
                    return Ok(Marked::Already);
                }
                Ok(Marked::No)
            }
            Inbound::Pinned { channel, ts, .. } => {
                self.store
                    .mark_key_event(&channel, &ts, now, Some(row.id))
                    .await?;
                Ok(Marked::Already)
            }
        }
    }
}

/// Sleep for `d` unless shutdown comes first; returns whether shutdown came.
async fn wait_or_shutdown(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_budget_rides_out_minutes_of_slack_failures() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(4), Duration::from_millis(1000));
        assert_eq!(backoff(100), Duration::from_secs(10));
        let total: Duration = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert!(
            total > Duration::from_secs(4 * 60) && total < Duration::from_secs(8 * 60),
            "{total:?}"
        );
    }
}
