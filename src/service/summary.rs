//! What managers see: the periodic summary (status channel + DMs) and App Home.

use chrono::{DateTime, Utc};

use super::worker::Failure;
use super::Service;
use crate::slack::render::{self, Overview};
use crate::store::{FiredSummary, NewOutgoing, SummaryRecord, Timer};

/// The timer kind of periodic summaries.
pub const SUMMARY: &str = "summary";

/// Resolved incidents shown on App Home.
const HOME_RECENT: i64 = 10;

fn summary_key(due: DateTime<Utc>) -> String {
    format!("{SUMMARY}:{}", crate::store::format_time(due))
}

impl Service {
    /// Make sure the next summary is scheduled (at start; the firing of one schedules the next).
    pub async fn ensure_summary_scheduled(&self) -> anyhow::Result<()> {
        if !self.store.pending_timers(SUMMARY).await?.is_empty() {
            return Ok(());
        }
        if self.config.slack.status_channel.is_none() && self.config.slack.managers.is_empty() {
            return Ok(()); // nobody to send it to
        }
        if let Some(due) = self.config.summary.schedule().next_after(self.clock.now()) {
            self.store
                .schedule_timer(SUMMARY, &summary_key(due), due, "{}")
                .await?;
        }
        Ok(())
    }

    /// Fire a due summary timer: decide what to say, and record it with its messages and the
    /// next timer in one transaction (delivery happens from the outbox).
    pub(crate) async fn fire_summary(&self, timer: &Timer) -> Result<(), Failure> {
        let now = self.clock.now();
        let open = self.store.incidents(true).await?;
        let last = self.store.last_summary().await?;
        // The first summary covers the period before it.
        let since = last
            .as_ref()
            .map(|l| l.at)
            .unwrap_or(timer.due_at - chrono::Duration::days(1));
        let resolved = self.store.resolved_since(since).await?;
        let last_updates = self.store.last_updates().await?;
        let aws_cases = self.store.case_glances().await?;
        let idle = open.is_empty() && resolved.is_empty();
        let said_idle_already = last
            .as_ref()
            .is_some_and(|l| l.open_count == 0 && l.resolved_count == 0);
        let send = !(idle && said_idle_already && self.config.summary.quiet_when_idle);
        let mut messages = Vec::new();
        if send {
            let msg = render::summary(
                &Overview {
                    open: &open,
                    last_updates: &last_updates,
                    aws_cases: &aws_cases,
                    now,
                },
                &resolved,
            );
            let blocks = msg.blocks.as_ref().map(|b| b.to_string());
            let destinations = self.config.slack.status_channel.iter().cloned().chain(
                self.config
                    .slack
                    .managers
                    .iter()
                    .map(|m| m.as_str().to_string()),
            );
            messages = destinations
                .map(|destination| NewOutgoing {
                    destination,
                    text: msg.text.clone(),
                    blocks: blocks.clone(),
                })
                .collect();
        }
        let next = self
            .config
            .summary
            .schedule()
            // Never schedule into the past after downtime: one summary now, then on schedule.
            .next_after(timer.due_at.max(now))
            .map(|due| (summary_key(due), due));
        let fired = FiredSummary {
            summary: SummaryRecord {
                at: now,
                open_count: open.len() as i64,
                resolved_count: resolved.len() as i64,
                sent: send,
            },
            messages,
            next,
        };
        if self.store.fire_summary(timer, &fired, now).await? {
            tracing::info!(
                open = open.len(),
                resolved = resolved.len(),
                sent = send,
                "summary fired"
            );
        }
        Ok(())
    }

    /// Publish App Home for `user`: open incidents and the last ten resolved.
    pub(crate) async fn publish_home(&self, user: &str) -> Result<(), Failure> {
        let open = self.store.incidents(true).await?;
        let recent = self.store.recently_resolved(HOME_RECENT).await?;
        let last_updates = self.store.last_updates().await?;
        let aws_cases = self.store.case_glances().await?;
        let view = render::home(
            &Overview {
                open: &open,
                last_updates: &last_updates,
                aws_cases: &aws_cases,
                now: self.clock.now(),
            },
            &recent,
        );
        self.web.publish_home(user, view).await?;
        Ok(())
    }
}
