//! The timeline: the source of truth of what happened during an incident.
//!
//! Message entries are keyed `msg:<channel>:<ts>`, so a redelivered or replayed event never
//! adds a second entry; edits keep the earlier text in `timeline_revisions`; deletes mark the
//! entry (the text stays for the record). Each write can also mark its inbox row processed in
//! the same transaction, so an event is applied exactly once even across a crash.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bad, fmt_time, parse_opt_time, parse_time, value_rows, Db, StoreResult, Tx};
use crate::domain::{EntryKind, IncidentId, TimelineEntry};

/// Rows per multi-row statement in [`insert_many`]: ten bound values each, far below
/// SQLite's limit on variables, and one prepared statement per distinct length.
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

/// The dedupe key of a Slack message entry.
pub fn message_key(channel: &str, ts: &str) -> String {
    format!("msg:{channel}:{ts}")
}

fn from_row(row: &AnyRow) -> StoreResult<TimelineEntry> {
    let kind: String = row.try_get("kind")?;
    Ok(TimelineEntry {
        id: row.try_get("id")?,
        incident_id: IncidentId(row.try_get("incident_id")?),
        kind: EntryKind::parse(&kind).ok_or_else(|| bad("entry kind", &kind))?,
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

/// Record an entry (no-op when its key exists; a message that arrives after its own delete
/// fills in the tombstone's text). Returns whether it was new.
pub async fn insert(tx: &mut Tx, entry: &NewEntry, now: DateTime<Utc>) -> StoreResult<bool> {
    insert_with_data(tx, entry, None, now).await
}

/// [`insert`], with what the entry records as data (`timeline.data`, JSON): a change's
/// [`crate::domain::incident::ChangeDetail`], an action item, an alarm.
pub async fn insert_with_data(
    tx: &mut Tx,
    entry: &NewEntry,
    data: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let written = sqlx::query(
        "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor,
                               text, slack_ts, thread_ts, key_event, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
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
    .bind(data.map(|d| d.to_string()))
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    Ok(written)
}

/// Record many entries in order, each as [`insert`] would (a replay is a no-op, a late
/// message fills its tombstone): the worker's path for a run of message events.
///
/// Why: through sqlx every statement is a round trip to the connection's thread
/// (~140 µs), so one statement per message held the timeline to a third to two thirds of
/// the inbox rate. Here a run costs a statement per 64 rows, whatever its length.
pub async fn insert_many(tx: &mut Tx, entries: &[NewEntry], now: DateTime<Utc>) -> StoreResult<()> {
    let recorded_at = fmt_time(now);
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at,
                                   actor, text, slack_ts, thread_ts, key_event)
             VALUES {}
             ON CONFLICT (dedupe_key) DO UPDATE SET text = excluded.text
             WHERE timeline.text = '' AND timeline.deleted_at IS NOT NULL",
            value_rows(chunk.len(), 10)
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(e.incident_id.0)
                .bind(&e.dedupe_key)
                .bind(e.kind.as_str())
                .bind(fmt_time(e.occurred_at))
                .bind(&recorded_at)
                .bind(&e.actor)
                .bind(&e.text)
                .bind(&e.slack_ts)
                .bind(&e.thread_ts)
                .bind(e.key_event as i64);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// An edit of a Slack message in an incident channel.
#[derive(Debug, Clone)]
pub struct MessageEdit<'a> {
    pub incident_id: IncidentId,
    pub channel: &'a str,
    pub ts: &'a str,
    pub actor: Option<&'a str>,
    pub text: &'a str,
    /// When it was edited.
    pub at: DateTime<Utc>,
}

/// Apply an edit to a message entry, keeping the earlier text as a revision. An edit
/// that arrives before its message (out-of-order delivery) records the message with the
/// edited text.
pub async fn edit_message(
    tx: &mut Tx,
    edit: &MessageEdit<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let key = message_key(edit.channel, edit.ts);
    let existing = sqlx::query("SELECT id, text FROM timeline WHERE dedupe_key = $1")
        .bind(&key)
        .fetch_optional(tx.conn())
        .await?;
    match existing {
        Some(row) => {
            let id: i64 = row.try_get(0)?;
            let old: String = row.try_get(1)?;
            if old != edit.text {
                sqlx::query(
                    "INSERT INTO timeline_revisions (entry_id, text, replaced_at) VALUES ($1, $2, $3)",
                )
                .bind(id)
                .bind(&old)
                .bind(fmt_time(edit.at))
                .execute(tx.conn())
                .await?;
                sqlx::query("UPDATE timeline SET text = $1, edited_at = $2 WHERE id = $3")
                    .bind(edit.text)
                    .bind(fmt_time(edit.at))
                    .bind(id)
                    .execute(tx.conn())
                    .await?;
            }
        }
        None => {
            let occurred = crate::domain::time::ts_to_time(edit.ts).unwrap_or(edit.at);
            sqlx::query(
                "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at,
                                       actor, text, slack_ts, edited_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(edit.incident_id.0)
            .bind(&key)
            .bind(EntryKind::Message.as_str())
            .bind(fmt_time(occurred))
            .bind(fmt_time(now))
            .bind(edit.actor)
            .bind(edit.text)
            .bind(edit.ts)
            .bind(fmt_time(edit.at))
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(())
}

/// Mark a message entry deleted at `at` (its text is kept for the record). A delete that
/// arrives first leaves a tombstone that the late message fills in.
pub async fn delete_message(
    tx: &mut Tx,
    incident_id: IncidentId,
    channel: &str,
    ts: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let occurred = crate::domain::time::ts_to_time(ts).unwrap_or(at);
    sqlx::query(
        "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, text,
                               slack_ts, deleted_at)
         VALUES ($1, $2, $3, $4, $5, '', $6, $7)
         ON CONFLICT (dedupe_key) DO UPDATE SET deleted_at = excluded.deleted_at
         WHERE timeline.deleted_at IS NULL",
    )
    .bind(incident_id.0)
    .bind(message_key(channel, ts))
    .bind(EntryKind::Message.as_str())
    .bind(fmt_time(occurred))
    .bind(fmt_time(now))
    .bind(ts)
    .bind(fmt_time(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Mark a message as a key event (pinned, or reacted to with :pushpin:). Returns whether
/// a message entry was found.
pub async fn mark_key_event(tx: &mut Tx, channel: &str, ts: &str) -> StoreResult<bool> {
    Ok(
        sqlx::query("UPDATE timeline SET key_event = 1 WHERE dedupe_key = $1")
            .bind(message_key(channel, ts))
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

/// Whether an entry with this key was recorded (a replayed command checks this first).
pub async fn exists(db: Db<'_>, dedupe_key: &str) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT 1 FROM timeline WHERE dedupe_key = $1")
        .bind(dedupe_key)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.is_some())
}

/// The whole timeline of an incident in time order, with edit history.
pub async fn of_incident(db: Db<'_>, incident_id: IncidentId) -> StoreResult<Vec<TimelineEntry>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT id, incident_id, kind, occurred_at, recorded_at, actor, text, slack_ts,
                thread_ts, key_event, edited_at, deleted_at
         FROM timeline WHERE incident_id = $1 ORDER BY occurred_at, id",
    )
    .bind(incident_id.0)
    .fetch_all(&mut *c)
    .await?;
    let mut entries = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    let revisions = sqlx::query(
        "SELECT r.entry_id, r.text FROM timeline_revisions r
         JOIN timeline t ON t.id = r.entry_id
         WHERE t.incident_id = $1 ORDER BY r.id",
    )
    .bind(incident_id.0)
    .fetch_all(&mut *c)
    .await?;
    // By id, not by scanning: an incident of 100,000 entries with 1,000 edits would
    // otherwise compare 10^8 times (BENCHMARKS.md, figure 4).
    let index: HashMap<i64, usize> = entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for row in revisions {
        let entry_id: i64 = row.try_get(0)?;
        let text: String = row.try_get(1)?;
        if let Some(&i) = index.get(&entry_id) {
            entries[i].revisions.push(text);
        }
    }
    Ok(entries)
}

/// `timeline.data` by entry id, for an incident's entries that have it (changes, action
/// items, alarms). Unreadable JSON is skipped: the entry's text still tells the story.
pub async fn data_of_incident(
    db: Db<'_>,
    incident_id: IncidentId,
) -> StoreResult<HashMap<i64, serde_json::Value>> {
    let mut c = db.conn().await?;
    let rows =
        sqlx::query("SELECT id, data FROM timeline WHERE incident_id = $1 AND data IS NOT NULL")
            .bind(incident_id.0)
            .fetch_all(&mut *c)
            .await?;
    let mut details = HashMap::with_capacity(rows.len());
    for row in rows {
        let entry: i64 = row.try_get(0)?;
        let text: String = row.try_get(1)?;
        match serde_json::from_str(&text) {
            Ok(value) => {
                details.insert(entry, value);
            }
            Err(e) => tracing::warn!(entry, error = %e, "skipping unreadable timeline data"),
        }
    }
    Ok(details)
}

/// When each incident last had a stakeholder update (`/incident update`).
pub async fn last_updates(db: Db<'_>) -> StoreResult<HashMap<IncidentId, DateTime<Utc>>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT incident_id, MAX(occurred_at) FROM timeline WHERE kind = $1 GROUP BY incident_id",
    )
    .bind(EntryKind::Update.as_str())
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                IncidentId(r.try_get(0)?),
                parse_time(&r.try_get::<String, _>(1)?)?,
            ))
        })
        .collect()
}

/// When one incident last had a stakeholder update.
pub async fn last_update_of(
    db: Db<'_>,
    incident_id: IncidentId,
) -> StoreResult<Option<DateTime<Utc>>> {
    let mut c = db.conn().await?;
    let row =
        sqlx::query("SELECT MAX(occurred_at) FROM timeline WHERE incident_id = $1 AND kind = $2")
            .bind(incident_id.0)
            .bind(EntryKind::Update.as_str())
            .fetch_one(&mut *c)
            .await?;
    parse_opt_time(row.try_get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Severity, UserId};
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::on_both_backends;
    use crate::store::{inbox, Store};

    async fn incident(store: &Store) -> IncidentId {
        let mut tx = store.begin().await.unwrap();
        let (r, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
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
        tx.commit().await.unwrap();
        r.incident.id
    }

    /// Apply `entries` and mark `ids` processed in one unit of work, as the worker does.
    async fn apply_run(store: &Store, entries: &[NewEntry], ids: &[i64], now: DateTime<Utc>) {
        let mut tx = store.begin().await.unwrap();
        insert_many(&mut tx, entries, now).await.unwrap();
        inbox::mark_all_processed(&mut tx, ids, now).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// The message entries of the incident (creating it recorded a change entry too).
    async fn messages(store: &Store, id: IncidentId) -> Vec<TimelineEntry> {
        let mut entries = of_incident(store.db(), id).await.unwrap();
        entries.retain(|e| e.kind == EntryKind::Message);
        entries
    }

    fn message(incident_id: IncidentId, ts: &str, text: &str) -> NewEntry {
        NewEntry {
            incident_id,
            dedupe_key: message_key("C1", ts),
            kind: EntryKind::Message,
            occurred_at: crate::domain::time::ts_to_time(ts).unwrap(),
            actor: Some("U2".into()),
            text: text.into(),
            slack_ts: Some(ts.into()),
            thread_ts: None,
            key_event: false,
        }
    }

    async fn a_run_of_entries_is_recorded_in_order_with_its_inbox_rows_marked(store: Store) {
        let id = incident(&store).await;
        let now = Utc::now();
        for key in ["ev:1", "ev:2", "ev:3", "ev:4"] {
            store.record_inbound(key, "{}", now).await.unwrap();
        }
        let rows = inbox::pending(store.db(), 10).await.unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // 150 entries: more than one multi-row statement.
        let entries: Vec<NewEntry> = (0..150)
            .map(|i| message(id, &format!("1800000000.{i:06}"), &format!("m{i}")))
            .collect();
        apply_run(&store, &entries, &ids[..3], now).await;
        let texts: Vec<String> = messages(&store, id)
            .await
            .into_iter()
            .map(|e| e.text)
            .collect();
        let expected: Vec<String> = (0..150).map(|i| format!("m{i}")).collect();
        assert_eq!(texts, expected);
        // Only the row not in the run is left.
        let pending = inbox::pending(store.db(), 10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, ids[3]);
    }

    async fn each_entry_keeps_its_own_earlier_texts_oldest_first(store: Store) {
        let id = incident(&store).await;
        let now = Utc::now();
        let run = [
            message(id, "1800000000.001000", "a1"),
            message(id, "1800000000.002000", "b1"),
        ];
        apply_run(&store, &run, &[], now).await;
        for (ts, text) in [
            ("1800000000.002000", "b2"),
            ("1800000000.001000", "a2"),
            ("1800000000.002000", "b3"),
        ] {
            let mut tx = store.begin().await.unwrap();
            let edit = MessageEdit {
                incident_id: id,
                channel: "C1",
                ts,
                actor: Some("U2"),
                text,
                at: now,
            };
            edit_message(&mut tx, &edit, now).await.unwrap();
            tx.commit().await.unwrap();
        }
        let entries = messages(&store, id).await;
        assert_eq!(entries[0].text, "a2");
        assert_eq!(entries[0].revisions, ["a1"]);
        assert_eq!(entries[1].text, "b3");
        assert_eq!(entries[1].revisions, ["b1", "b2"]);
    }

    async fn a_replayed_run_adds_nothing_and_a_late_message_fills_its_tombstone(store: Store) {
        let id = incident(&store).await;
        let now = Utc::now();
        let deleted_at = crate::domain::time::ts_to_time("1800000001.000000").unwrap();
        let mut tx = store.begin().await.unwrap();
        delete_message(&mut tx, id, "C1", "1800000000.002000", deleted_at, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let run = [
            message(id, "1800000000.001000", "first"),
            message(id, "1800000000.002000", "deleted before it arrived"),
        ];
        apply_run(&store, &run, &[], now).await;
        let mut replay = run.clone();
        replay[0].text = "replayed".into();
        apply_run(&store, &replay, &[], now).await;
        let entries = messages(&store, id).await;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].text, "first");
        assert_eq!(entries[1].text, "deleted before it arrived");
        assert_eq!(entries[1].deleted_at, Some(deleted_at));
    }

    on_both_backends!(
        a_run_of_entries_is_recorded_in_order_with_its_inbox_rows_marked,
        each_entry_keeps_its_own_earlier_texts_oldest_first,
        a_replayed_run_adds_nothing_and_a_late_message_fills_its_tombstone,
    );
}
