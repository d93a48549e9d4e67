//! The timeline: the source of truth of what happened during an incident.
//!
//! Message entries are keyed `msg:<channel>:<ts>`, so a redelivered or replayed event never
//! adds a second entry; edits keep the earlier text in `timeline_revisions`; deletes mark the
//! entry (the text stays for the record). Each write can also mark its inbox row processed in
//! the same transaction, so an event is applied exactly once even across a crash.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{fmt_time, parse_opt_time, parse_time, Store, StoreError, StoreResult};
use crate::domain::{EntryKind, IncidentId};

/// A timeline entry to record.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub incident_id: IncidentId,
    pub dedupe_key: String,
    pub kind: EntryKind,
    pub occurred_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub text: String,
    pub slack_ts: Option<String>,
    pub thread_ts: Option<String>,
    pub key_event: bool,
}

/// A recorded timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident_id: IncidentId,
    pub kind: EntryKind,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Option<String>,
    pub text: String,
    pub slack_ts: Option<String>,
    pub thread_ts: Option<String>,
    pub key_event: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Earlier texts, oldest first (edits).
    pub revisions: Vec<String>,
}

/// The dedupe key of a Slack message entry.
pub fn message_key(channel: &str, ts: &str) -> String {
    format!("msg:{channel}:{ts}")
}

fn from_row(row: &SqliteRow) -> StoreResult<TimelineEntry> {
    let kind: String = row.try_get("kind")?;
    Ok(TimelineEntry {
        id: row.try_get("id")?,
        incident_id: IncidentId(row.try_get("incident_id")?),
        kind: EntryKind::parse(&kind)
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad stored kind {kind}")))?,
        occurred_at: parse_time(&row.try_get::<String, _>("occurred_at")?)?,
        recorded_at: parse_time(&row.try_get::<String, _>("recorded_at")?)?,
        actor: row.try_get("actor")?,
        text: row.try_get("text")?,
        slack_ts: row.try_get("slack_ts")?,
        thread_ts: row.try_get("thread_ts")?,
        key_event: row.try_get::<i64, _>("key_event")? != 0,
        edited_at: parse_opt_time(row.try_get("edited_at")?)?,
        deleted_at: parse_opt_time(row.try_get("deleted_at")?)?,
        revisions: Vec::new(),
    })
}

/// Insert an entry inside a caller's transaction (no-op when its key exists; a message that
/// arrives after its own delete fills in the tombstone's text). Returns whether it was new.
pub(super) async fn insert_entry(
    tx: &mut Transaction<'_, Sqlite>,
    entry: &NewEntry,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let written = sqlx::query(
        "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor,
                               text, slack_ts, thread_ts, key_event)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dedupe_key) DO UPDATE SET text = excluded.text
         WHERE timeline.text = '' AND timeline.deleted_at IS NOT NULL",
    )
    .bind(entry.incident_id.0)
    .bind(&entry.dedupe_key)
    .bind(entry.kind.as_str())
    .bind(fmt_time(entry.occurred_at))
    .bind(fmt_time(now))
    .bind(&entry.actor)
    .bind(&entry.text)
    .bind(&entry.slack_ts)
    .bind(&entry.thread_ts)
    .bind(entry.key_event as i64)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    Ok(written)
}

/// Mark the inbox row processed inside a caller's transaction.
pub(super) async fn mark_inbox(
    tx: &mut Transaction<'_, Sqlite>,
    inbox_id: Option<i64>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if let Some(id) = inbox_id {
        sqlx::query("UPDATE inbox SET processed_at = ? WHERE id = ?")
            .bind(fmt_time(now))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Record an entry (no-op when its key exists; a message that arrives after its own
    /// delete fills in the tombstone's text). Marks `inbox_id` processed in the same
    /// transaction. Returns whether a new entry was written.
    pub async fn add_entry(
        &self,
        entry: &NewEntry,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let written = insert_entry(&mut tx, entry, now).await?;
        mark_inbox(&mut tx, inbox_id, now).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Apply an edit to a message entry, keeping the earlier text as a revision. An edit
    /// that arrives before its message (out-of-order delivery) records the message with the
    /// edited text.
    #[allow(clippy::too_many_arguments)]
    pub async fn edit_message(
        &self,
        incident_id: IncidentId,
        channel: &str,
        ts: &str,
        actor: Option<&str>,
        new_text: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<()> {
        let key = message_key(channel, ts);
        let mut tx = self.pool().begin().await?;
        let existing = sqlx::query("SELECT id, text FROM timeline WHERE dedupe_key = ?")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?;
        match existing {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
                let old: String = row.try_get(1)?;
                if old != new_text {
                    sqlx::query(
                        "INSERT INTO timeline_revisions (entry_id, text, replaced_at) VALUES (?, ?, ?)",
                    )
                    .bind(id)
                    .bind(&old)
                    .bind(fmt_time(at))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE timeline SET text = ?, edited_at = ? WHERE id = ?")
                        .bind(new_text)
                        .bind(fmt_time(at))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            None => {
                let occurred = crate::slack::inbound::ts_to_time(ts).unwrap_or(at);
                sqlx::query(
                    "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at,
                                           actor, text, slack_ts, edited_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(incident_id.0)
                .bind(&key)
                .bind(EntryKind::Message.as_str())
                .bind(fmt_time(occurred))
                .bind(fmt_time(now))
                .bind(actor)
                .bind(new_text)
                .bind(ts)
                .bind(fmt_time(at))
                .execute(&mut *tx)
                .await?;
            }
        }
        mark_inbox(&mut tx, inbox_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mark a message entry deleted (its text is kept for the record). A delete that
    /// arrives first leaves a tombstone that the late message fills in.
    pub async fn delete_message(
        &self,
        incident_id: IncidentId,
        channel: &str,
        ts: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<()> {
        let key = message_key(channel, ts);
        let occurred = crate::slack::inbound::ts_to_time(ts).unwrap_or(at);
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, text,
                                   slack_ts, deleted_at)
             VALUES (?, ?, ?, ?, ?, '', ?, ?)
             ON CONFLICT (dedupe_key) DO UPDATE SET deleted_at = excluded.deleted_at
             WHERE timeline.deleted_at IS NULL",
        )
        .bind(incident_id.0)
        .bind(&key)
        .bind(EntryKind::Message.as_str())
        .bind(fmt_time(occurred))
        .bind(fmt_time(now))
        .bind(ts)
        .bind(fmt_time(at))
        .execute(&mut *tx)
        .await?;
        mark_inbox(&mut tx, inbox_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mark a message as a key event (pinned, or reacted to with :pushpin:). Returns whether
    /// a message entry was found.
    pub async fn mark_key_event(
        &self,
        channel: &str,
        ts: &str,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query("UPDATE timeline SET key_event = 1 WHERE dedupe_key = ?")
            .bind(message_key(channel, ts))
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        mark_inbox(&mut tx, inbox_id, now).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// Whether an entry with this key was recorded (a replayed command checks this first).
    pub async fn entry_exists(&self, dedupe_key: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM timeline WHERE dedupe_key = ?")
            .bind(dedupe_key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// The whole timeline of an incident in time order, with edit history.
    pub async fn timeline(&self, incident_id: IncidentId) -> StoreResult<Vec<TimelineEntry>> {
        let rows = sqlx::query(
            "SELECT id, incident_id, kind, occurred_at, recorded_at, actor, text, slack_ts,
                    thread_ts, key_event, edited_at, deleted_at
             FROM timeline WHERE incident_id = ? ORDER BY occurred_at, id",
        )
        .bind(incident_id.0)
        .fetch_all(self.pool())
        .await?;
        let mut entries = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
        let revisions = sqlx::query(
            "SELECT r.entry_id, r.text FROM timeline_revisions r
             JOIN timeline t ON t.id = r.entry_id
             WHERE t.incident_id = ? ORDER BY r.id",
        )
        .bind(incident_id.0)
        .fetch_all(self.pool())
        .await?;
        for row in revisions {
            let entry_id: i64 = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            if let Some(e) = entries.iter_mut().find(|e| e.id == entry_id) {
                e.revisions.push(text);
            }
        }
        Ok(entries)
    }
}
