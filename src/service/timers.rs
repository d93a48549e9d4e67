//! The scheduler: fires due timers and delivers the outbox they fill.
//!
//! Deadlines live in SQLite, so a restart (even kill -9) loses none: a timer that came due
//! while the bot was down fires at start; one that fired is never fired again, because
//! claiming it and recording what it produced is one transaction.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::summary::SUMMARY;
use super::Service;
use crate::slack::render;
use crate::slack::web::Outgoing;
use crate::store::{OutboxRow, CASE_RETRY_TIMER, NUDGE_TIMER};

/// The longest the scheduler sleeps before looking again (bounds timer lag when the clock is
/// moved by hand, and after a system clock jump).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Delivery attempts before a message is given up on.
const MAX_DELIVERY_ATTEMPTS: i64 = 6;

impl Service {
    /// Wake the scheduler now (after something was scheduled, or the clock moved).
    pub fn kick_timers(&self) {
        self.timers_kick.notify_one();
    }

    /// Run until `shutdown` turns true.
    pub async fn run_scheduler(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            self.fire_due().await;
            self.deliver_outbox().await;
            let wait = match self.store.next_due().await {
                Ok(Some(due)) => (due - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP),
                _ => MAX_SLEEP,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = self.timers_kick.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn fire_due(&self) {
        let due = match self.store.due_timers(self.clock.now()).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read timers");
                return;
            }
        };
        for timer in due {
            let lag = self.clock.now() - timer.due_at;
            tracing::debug!(key = %timer.key, lag_ms = lag.num_milliseconds(), "timer due");
            let result = match timer.kind.as_str() {
                SUMMARY => self.fire_summary(&timer).await,
                NUDGE_TIMER => self.fire_nudge(&timer).await,
                CASE_RETRY_TIMER => self.fire_case_retry(&timer).await,
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
            self.metrics.timer_fired(lag.to_std().unwrap_or_default());
        }
    }

    async fn deliver_outbox(&self) {
        let pending = match self.store.pending_outbox(100).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return;
            }
        };
        for row in pending {
            if !self.deliver(&row).await {
                return; // transient failure: keep order, retry on the next tick
            }
        }
    }

    /// Deliver one message; returns false on a transient failure.
    async fn deliver(&self, row: &OutboxRow) -> bool {
        let msg = Outgoing {
            text: row.text.clone(),
            blocks: row
                .blocks
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok()),
        };
        let is_user = row.destination.starts_with('U') || row.destination.starts_with('W');
        let result = if is_user {
            self.web.post_dm(&row.destination, &msg).await.map(drop)
        } else {
            self.web.post(&row.destination, &msg).await.map(drop)
        };
        let now = self.clock.now();
        match result {
            Ok(()) => {
                if let Err(e) = self.store.finish_outgoing(row.id, now, None).await {
                    tracing::error!(error = %e, "cannot mark a message delivered");
                }
                true
            }
            Err(e) if e.is_transient() => {
                let attempts = self
                    .store
                    .outgoing_failed(row.id, &e.to_string())
                    .await
                    .unwrap_or(row.attempts + 1);
                if attempts >= MAX_DELIVERY_ATTEMPTS {
                    tracing::error!(destination = %row.destination, error = %e, "giving up on a message");
                    let _ = self
                        .store
                        .finish_outgoing(row.id, now, Some(&e.to_string()))
                        .await;
                    return true;
                }
                false
            }
            Err(e) => {
                let _ = self
                    .store
                    .finish_outgoing(row.id, now, Some(&e.to_string()))
                    .await;
                let first = self
                    .store
                    .record_recipient_problem(&row.destination, e.code().unwrap_or("error"), now)
                    .await
                    .unwrap_or(false);
                if first {
                    tracing::warn!(destination = %row.destination, error = %e, "Slack refused a recipient; reported once");
                    let who = if is_user { "manager" } else { "channel" };
                    self.tell_status_channel(&render::problem(&format!(
                        "warroom cannot deliver summaries to {who} {}: Slack says {}. Check [slack] managers / status_channel in the config",
                        row.destination,
                        e.code().unwrap_or("error")
                    )))
                    .await;
                }
                true
            }
        }
    }
}
