//! What managers see: the periodic summary (status channel + DMs) and App Home.

use chrono::{DateTime, Utc};

use super::worker::Failure;
use super::Service;
use crate::slack::render::{self, Overview};
use crate::store::outbox::{self, NewOutgoing};
use crate::store::timers::{self, SummaryRecord, Timer};
use crate::store::{incidents, overview, timeline};

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
        if !timers::pending_of_kind(self.store.db(), SUMMARY)
            .await?
            .is_empty()
        {
            return Ok(());
        }
        if self.config.slack.status_channel.is_none() && self.config.slack.managers.is_empty() {
            return Ok(()); // nobody to send it to
        }
        if let Some(due) = self.config.summary.schedule().next_after(self.clock.now()) {
            let mut tx = self.store.begin().await?;
            timers::schedule(&mut tx, SUMMARY, &summary_key(due), due, "{}").await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Fire a due summary timer: decide what to say, and record it with its messages and the
    /// next timer in one transaction (delivery happens from the outbox).
    pub(crate) async fn fire_summary(&self, timer: &Timer) -> Result<(), Failure> {
        let now = self.clock.now();
        let open = incidents::list(self.store.db(), true).await?;
        let last = timers::last_summary(self.store.db()).await?;
        // The first summary covers the period before it.
        let since = last
            .as_ref()
            .map(|l| l.at)
            .unwrap_or(timer.due_at - chrono::Duration::days(1));
        let resolved = incidents::resolved_since(self.store.db(), since).await?;
        let last_updates = timeline::last_updates(self.store.db()).await?;
        let aws_cases = overview::case_glances(self.store.db()).await?;
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
        let mut tx = self.store.begin().await?;
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

    /// Publish App Home for `user`: open incidents and the last ten resolved.
    pub(crate) async fn publish_home(&self, user: &str) -> Result<(), Failure> {
        let open = incidents::list(self.store.db(), true).await?;
        let recent = incidents::recently_resolved(self.store.db(), HOME_RECENT).await?;
        let last_updates = timeline::last_updates(self.store.db()).await?;
        let aws_cases = overview::case_glances(self.store.db()).await?;
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
