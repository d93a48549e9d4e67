//! Applies recorded events in arrival order: one at a time, except that a run of
//! consecutive message events is written in one transaction (they only add timeline
//! entries, and one transaction per message held the timeline to a third to two thirds of
//! the inbox rate; BENCHMARKS.md, finding 4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::Service;
use crate::domain::{EntryKind, IncidentId};
use crate::slack::inbound::Inbound;
use crate::slack::web::SlackError;
use crate::store::inbox::{self, InboxRow};
use crate::store::timeline::{self, MessageEdit, NewEntry};
use crate::store::{incidents, Backend, StoreError};

/// Attempts before an event is given up on (its failure is recorded in the inbox row).
/// With [`backoff`], that is six to seven minutes of a failing Slack: long enough to ride out
/// an outage without abandoning a declare half set up, short enough not to hold the queue
/// for ever behind an event that cannot succeed.
const MAX_ATTEMPTS: i64 = 60;

/// How long the worker waits, once woken from idle, before it reads the inbox: a person
/// does not notice 2 ms, and under load it turns one-event runs into runs of several.
const LINGER: Duration = Duration::from_millis(2);

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
            let batch = match inbox::pending(self.store.db(), 256).await {
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
                // With several replicas, events recorded elsewhere arrive as notifications;
                // a look every second covers a notification lost to a reconnect.
                let poll = async {
                    match self.store.backend() {
                        Backend::Sqlite => std::future::pending().await,
                        Backend::Postgres => tokio::time::sleep(Duration::from_secs(1)).await,
                    }
                };
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = poll => {}
                    _ = shutdown.changed() => {}
                }
                // Let events that arrive together be read and applied together: without
                // it, a busy channel is applied one event per wake-up, each costing a read
                // of the inbox and a transaction (BENCHMARKS.md, finding 12).
                tokio::time::sleep(LINGER).await;
                continue;
            }
            let mut next = 0;
            // Rows before this index are taken one at a time (a run that failed as a whole).
            let mut singly_until = 0;
            while next < batch.len() {
                if *shutdown.borrow() {
                    return;
                }
                if next >= singly_until {
                    let run = message_run(&batch[next..]);
                    let len = run.len();
                    if len > 0 {
                        match self.apply_messages(run).await {
                            Ok(()) => {
                                next += len;
                                continue;
                            }
                            Err(e) => {
                                // Row by row below: each row gets its own attempts and
                                // backoff, exactly as before batching.
                                tracing::warn!(error = %format!("{e:#}"), rows = len, "cannot apply a run of messages at once; taking them one by one");
                                singly_until = next + len;
                            }
                        }
                    }
                }
                if let Some(backoff) = self.process_row(&batch[next]).await {
                    if wait_or_shutdown(&mut shutdown, backoff).await {
                        return;
                    }
                    break;
                }
                next += 1;
            }
        }
    }

    /// Apply a run of consecutive message events in one transaction: their timeline entries
    /// (for incident channels) and their inbox marks. All or nothing, so a crash leaves the
    /// whole run pending and its replay is a no-op for what was already written.
    async fn apply_messages(&self, run: Vec<(&InboxRow, Message)>) -> Result<(), StoreError> {
        let mut incidents: HashMap<String, Option<IncidentId>> = HashMap::new();
        let mut ids = Vec::with_capacity(run.len());
        let mut entries = Vec::with_capacity(run.len());
        for (row, m) in run {
            ids.push(row.id);
            let incident = match incidents.get(&m.channel) {
                Some(known) => *known,
                None => {
                    let found = incidents::by_channel(self.store.db(), &m.channel)
                        .await?
                        .map(|r| r.incident.id);
                    incidents.insert(m.channel.clone(), found);
                    found
                }
            };
            // Not an incident channel: nothing to record, the row is only marked.
            if let Some(incident_id) = incident {
                entries.push(NewEntry {
                    incident_id,
                    dedupe_key: timeline::message_key(&m.channel, &m.ts),
                    kind: EntryKind::Message,
                    occurred_at: m.at,
                    actor: Some(m.user),
                    text: m.text,
                    slack_ts: Some(m.ts),
                    thread_ts: m.thread_ts,
                    key_event: false,
                });
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        timeline::insert_many(&mut tx, &entries, now).await?;
        inbox::mark_all_processed(&mut tx, &ids, now).await?;
        tx.commit().await
    }

    /// Mark an inbox row done (with the reason when it was given up on), on its own.
    async fn mark_done(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        inbox::mark_processed(&mut tx, id, self.clock.now(), error).await?;
        tx.commit().await
    }

    /// Count a failed attempt of an inbox row; the attempts so far.
    async fn count_failure(&self, id: i64, error: &str) -> Result<i64, StoreError> {
        let mut tx = self.store.begin().await?;
        let attempts = inbox::record_failure(&mut tx, id, error).await?;
        tx.commit().await?;
        Ok(attempts)
    }

    /// Handle one row; returns a backoff when it should be retried.
    async fn process_row(&self, row: &InboxRow) -> Option<Duration> {
        let result = match serde_json::from_str::<Inbound>(&row.payload) {
            Ok(inbound) => self.handle(row, inbound).await,
            Err(e) => Err(Failure::Permanent(anyhow::anyhow!(
                "unreadable inbox payload: {e}"
            ))),
        };
        match result {
            // The store already marked it, in the transaction that applied it.
            Ok(Marked::Already) => None,
            Ok(Marked::No) => {
                if let Err(e) = self.mark_done(row.id, None).await {
                    tracing::error!(error = %e, "cannot mark event processed");
                    return Some(Duration::from_millis(500));
                }
                None
            }
            Err(Failure::Permanent(e)) => {
                tracing::warn!(key = %row.dedupe_key, error = %format!("{e:#}"), "giving up on event");
                let _ = self.mark_done(row.id, Some(&format!("{e:#}"))).await;
                None
            }
            Err(Failure::Transient(e)) => {
                let msg = format!("{e:#}");
                let attempts = self
                    .count_failure(row.id, &msg)
                    .await
                    .unwrap_or(row.attempts + 1);
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(key = %row.dedupe_key, error = %msg, attempts, "giving up on event after retries");
                    let _ = self.mark_done(row.id, Some(&msg)).await;
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
        let Some(record) = incidents::by_channel(self.store.db(), inbound.channel()).await? else {
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
                    dedupe_key: timeline::message_key(&channel, &ts),
                    kind: EntryKind::Message,
                    occurred_at: at,
                    actor: Some(user),
                    text,
                    slack_ts: Some(ts),
                    thread_ts,
                    key_event: false,
                };
                let mut tx = self.store.begin().await?;
                timeline::insert(&mut tx, &entry, now).await?;
                inbox::mark_processed(&mut tx, row.id, now, None).await?;
                tx.commit().await?;
                Ok(Marked::Already)
            }
            Inbound::MessageEdited {
                channel,
                ts,
                user,
                text,
                at,
            } => {
                let edit = MessageEdit {
                    incident_id: id,
                    channel: &channel,
                    ts: &ts,
                    actor: user.as_deref(),
                    text: &text,
                    at,
                };
                let mut tx = self.store.begin().await?;
                timeline::edit_message(&mut tx, &edit, now).await?;
                inbox::mark_processed(&mut tx, row.id, now, None).await?;
                tx.commit().await?;
                Ok(Marked::Already)
            }
            Inbound::MessageDeleted { channel, ts, at } => {
                let mut tx = self.store.begin().await?;
                timeline::delete_message(&mut tx, id, &channel, &ts, at, now).await?;
                inbox::mark_processed(&mut tx, row.id, now, None).await?;
                tx.commit().await?;
                Ok(Marked::Already)
            }
            Inbound::Reaction {
                channel,
                ts,
                reaction,
                ..
            } => {
                if reaction == "pushpin" || reaction == "round_pushpin" {
                    self.mark_key_event(row, &channel, &ts).await?;
                    return Ok(Marked::Already);
                }
                Ok(Marked::No)
            }
            Inbound::Pinned { channel, ts, .. } => {
                self.mark_key_event(row, &channel, &ts).await?;
                Ok(Marked::Already)
            }
        }
    }
}

impl Service {
    /// A pin or :pushpin: makes a message a key event; the row is marked with it.
    async fn mark_key_event(
        &self,
        row: &InboxRow,
        channel: &str,
        ts: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        timeline::mark_key_event(&mut tx, channel, ts).await?;
        inbox::mark_processed(&mut tx, row.id, self.clock.now(), None).await?;
        tx.commit().await
    }
}

/// Most message rows applied in one transaction. The intake waits for the one database
/// connection while a run is written, so a run must stay short next to the ack budget
/// (64 rows: about half a millisecond; `cargo bench --bench store`, `add_entries_64`).
const MAX_RUN: usize = 64;

/// A new message, as the worker records it.
struct Message {
    channel: String,
    user: String,
    ts: String,
    thread_ts: Option<String>,
    text: String,
    at: DateTime<Utc>,
}

/// The message events at the head of `rows`, in order, at most [`MAX_RUN`]; stops at the
/// first row that is anything else (or unreadable), which is then handled on its own.
fn message_run(rows: &[InboxRow]) -> Vec<(&InboxRow, Message)> {
    rows.iter()
        .take(MAX_RUN)
        .map_while(|row| match serde_json::from_str::<Inbound>(&row.payload) {
            Ok(Inbound::Message {
                channel,
                user,
                ts,
                thread_ts,
                text,
                at,
            }) => Some((
                row,
                Message {
                    channel,
                    user,
                    ts,
                    thread_ts,
                    text,
                    at,
                },
            )),
            _ => None,
        })
        .collect()
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

    fn row(id: i64, inbound: &Inbound) -> InboxRow {
        InboxRow {
            id,
            dedupe_key: format!("ev:{id}"),
            payload: serde_json::to_string(inbound).unwrap(),
            attempts: 0,
        }
    }

    fn message(ts: &str) -> Inbound {
        Inbound::Message {
            channel: "C1".into(),
            user: "U1".into(),
            ts: ts.into(),
            thread_ts: None,
            text: format!("at {ts}"),
            at: Utc::now(),
        }
    }

    #[test]
    fn a_run_is_the_messages_before_anything_else_and_is_bounded() {
        let delete = Inbound::MessageDeleted {
            channel: "C1".into(),
            ts: "1.000001".into(),
            at: Utc::now(),
        };
        let rows = [
            row(1, &message("1.000001")),
            row(2, &message("1.000002")),
            row(3, &delete),
            row(4, &message("1.000003")),
        ];
        let run = message_run(&rows);
        let ids: Vec<i64> = run.iter().map(|(r, _)| r.id).collect();
        assert_eq!(ids, [1, 2]);
        assert_eq!(run[1].1.ts, "1.000002");
        assert!(
            message_run(&rows[2..]).is_empty(),
            "the delete goes on its own"
        );
        let unreadable = InboxRow {
            payload: "{".into(),
            ..row(5, &message("1.0"))
        };
        assert!(message_run(std::slice::from_ref(&unreadable)).is_empty());
        let many: Vec<InboxRow> = (0..200)
            .map(|i| row(i, &message(&format!("2.{i:06}"))))
            .collect();
        assert_eq!(message_run(&many).len(), MAX_RUN);
    }

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
