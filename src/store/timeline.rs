//! The timeline: the source of truth of what happened during an incident.
//!
//! Message entries are keyed `msg:<channel>:<ts>`, so a redelivered or replayed event never
//! adds a second entry; edits keep the earlier text in `timeline_revisions`; deletes mark the
//! entry (the text stays for the record). Each write can also mark its inbox row processed in
//! the same transaction, so an event is applied exactly once even across a crash.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::{fmt_time, parse_opt_time, parse_time, Store, StoreError, StoreResult};
use crate::domain::{EntryKind, IncidentId};

/// Rows per multi-row statement in [`Store::add_entries`]: ten bound values each, far
/// below SQLite's limit on variables, and one prepared statement per distinct length.
const ROWS_PER_STATEMENT: usize = 64;

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

    /// Record many entries and mark inbox rows processed, in one transaction: the worker's
    /// path for a run of message events. `inbox_ids` may include rows with nothing to record
    /// (messages outside incident channels). Each entry behaves as in [`Store::add_entry`]
    /// (a replay is a no-op, a late message fills its tombstone), in the given order.
    ///
    /// Why: through sqlx every statement is a round trip to the connection's thread
    /// (~140 µs), so the worker's five statements per message held the timeline to a third
    /// to two thirds of the inbox rate. Here a run costs a handful of statements, whatever
    /// its length (up to 64 rows per multi-row INSERT).
    pub async fn add_entries(
        &self,
        entries: &[NewEntry],
        inbox_ids: &[i64],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if entries.is_empty() && inbox_ids.is_empty() {
            return Ok(());
        }
        let recorded_at = fmt_time(now);
        let mut tx = self.pool().begin().await?;
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at,
                                       actor, text, slack_ts, thread_ts, key_event) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.incident_id.0)
                    .push_bind(&e.dedupe_key)
                    .push_bind(e.kind.as_str())
                    .push_bind(fmt_time(e.occurred_at))
                    .push_bind(&recorded_at)
                    .push_bind(&e.actor)
                    .push_bind(&e.text)
                    .push_bind(&e.slack_ts)
                    .push_bind(&e.thread_ts)
                    .push_bind(e.key_event as i64);
            });
            q.push(
                " ON CONFLICT (dedupe_key) DO UPDATE SET text = excluded.text
                 WHERE timeline.text = '' AND timeline.deleted_at IS NOT NULL",
            );
            q.build().execute(&mut *tx).await?;
        }
        for chunk in inbox_ids.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE inbox SET processed_at = ");
            q.push_bind(&recorded_at).push(" WHERE id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Record an entry and, only when it is new, put `messages` (its notices) in the outbox,
    /// in one transaction: a crash or a Slack failure after this can delay a notice but
    /// neither lose it nor post it twice. Marks `inbox_id` processed too.
    /// When Slack refuses a message for good, `refusal` (a `response_url` and what to say)
    /// tells the person who asked.
    pub async fn add_entry_with_messages(
        &self,
        entry: &NewEntry,
        messages: &[super::NewOutgoing],
        refusal: Option<&super::NewOutgoing>,
        now: DateTime<Utc>,
        inbox_id: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let written = insert_entry(&mut tx, entry, now).await?;
        if written {
            for m in messages {
                super::timers::enqueue_answerable(&mut tx, None, m, refusal, now).await?;
            }
        }
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
        // By id, not by scanning: an incident of 100,000 entries with 1,000 edits would
        // otherwise compare 10^8 times (BENCHMARKS.md, figure 4).
        let index: HashMap<i64, usize> =
            entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
        for row in revisions {
            let entry_id: i64 = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            if let Some(&i) = index.get(&entry_id) {
                entries[i].revisions.push(text);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Severity, UserId};
    use crate::store::test_support::temp_store;
    use crate::store::NewIncident;

    async fn incident(store: &Store) -> IncidentId {
        let (r, _) = store
            .create_incident(
                &NewIncident {
                    source_key: "k".into(),
                    title: "t".into(),
                    severity: Severity::Sev2,
                    declared_by: UserId::parse("U1").unwrap(),
                    opened_at: Utc::now(),
                    channel_name: "inc-k".into(),
                },
                Utc::now(),
            )
            .await
            .unwrap();
        r.incident.id
    }

    /// The message entries of the incident (creating it recorded a change entry too).
    async fn messages(store: &Store, id: IncidentId) -> Vec<TimelineEntry> {
        let mut entries = store.timeline(id).await.unwrap();
        entries.retain(|e| e.kind == EntryKind::Message);
        entries
    }

    fn message(incident_id: IncidentId, ts: &str, text: &str) -> NewEntry {
        NewEntry {
            incident_id,
            dedupe_key: message_key("C1", ts),
            kind: EntryKind::Message,
            occurred_at: crate::slack::inbound::ts_to_time(ts).unwrap(),
            actor: Some("U2".into()),
            text: text.into(),
            slack_ts: Some(ts.into()),
            thread_ts: None,
            key_event: false,
        }
    }

    #[tokio::test]
    async fn a_run_of_entries_is_recorded_in_order_with_its_inbox_rows_marked() {
        let (store, _dir) = temp_store().await;
        let id = incident(&store).await;
        let now = Utc::now();
        for key in ["ev:1", "ev:2", "ev:3", "ev:4"] {
            store.record_inbound(key, "{}", now).await.unwrap();
        }
        let rows = store.pending_inbound(10).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // 150 entries: more than one multi-row statement.
        let entries: Vec<NewEntry> = (0..150)
            .map(|i| message(id, &format!("1800000000.{i:06}"), &format!("m{i}")))
            .collect();
        store.add_entries(&entries, &ids[..3], now).await.unwrap();
        let texts: Vec<String> = messages(&store, id)
            .await
            .into_iter()
            .map(|e| e.text)
            .collect();
        let expected: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
        assert_eq!(texts, expected);
        // Only the row not in the run is left.
        let pending = store.pending_inbound(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, ids[3]);
    }

    #[tokio::test]
    async fn each_entry_keeps_its_own_earlier_texts_oldest_first() {
        let (store, _dir) = temp_store().await;
        let id = incident(&store).await;
        let now = Utc::now();
        let run = [
            message(id, "1800000000.001000", "a1"),
            message(id, "1800000000.002000", "b1"),
        ];
        store.add_entries(&run, &[], now).await.unwrap();
        for (ts, text) in [
            ("1800000000.002000", "b2"),
            ("1800000000.001000", "a2"),
            ("1800000000.002000", "b3"),
        ] {
            store
                .edit_message(id, "C1", ts, Some("U2"), text, now, now, None)
                .await
                .unwrap();
        }
        let entries = messages(&store, id).await;
        assert_eq!(entries[0].text, "a2");
        assert_eq!(entries[0].revisions, ["a1"]);
        assert_eq!(entries[1].text, "b3");
        assert_eq!(entries[1].revisions, ["b1", "b2"]);
    }

    #[tokio::test]
    async fn a_replayed_run_adds_nothing_and_a_late_message_fills_its_tombstone() {
        let (store, _dir) = temp_store().await;
        let id = incident(&store).await;
        let now = Utc::now();
        let deleted_at = crate::slack::inbound::ts_to_time("1800000001.000000").unwrap();
        store
            .delete_message(id, "C1", "1800000000.002000", deleted_at, now, None)
            .await
            .unwrap();
        let run = [
            message(id, "1800000000.001000", "first"),
            message(id, "1800000000.002000", "deleted before it arrived"),
        ];
        store.add_entries(&run, &[], now).await.unwrap();
        let mut replay = run.clone();
        replay[0].text = "replayed".into();
        store.add_entries(&replay, &[], now).await.unwrap();
        let entries = messages(&store, id).await;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].text, "first");
        assert_eq!(entries[1].text, "deleted before it arrived");
        assert_eq!(entries[1].deleted_at, Some(deleted_at));
    }
}
