//! Action items (`/incident action …`): numbered per incident from 1, each addition and
//! closure written together with its timeline entry in one transaction.
//!
//! The timeline entries are notes (key events) whose `data` says what happened
//! (`{"change":"action_added","number":2,"owner":"U…"}`), so the timeline reads naturally
//! and the postmortem can still tell them apart. The command's inbox key is the idempotency
//! key: a replay after a crash changes nothing.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::timers::enqueue;
use super::{fmt_time, parse_opt_time, parse_time, NewOutgoing, Store, StoreError, StoreResult};
use crate::domain::{EntryKind, IncidentId, UserId};

/// One action item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    pub incident_id: IncidentId,
    /// 1, 2, 3 … within the incident; what `/incident action done <n>` names.
    pub number: u32,
    pub text: String,
    pub owner: Option<UserId>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

impl ActionItem {
    pub fn is_done(&self) -> bool {
        self.done_at.is_some()
    }
}

/// What `/incident action done <n>` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    /// Closed now.
    Closed(ActionItem),
    /// Already closed earlier (by this command before a crash, or by someone else).
    AlreadyDone(ActionItem),
    /// No item with that number in this incident.
    NotFound,
}

const COLUMNS: &str = "incident_id, number, text, owner, created_by, created_at, done_at, done_by";

fn from_row(row: &SqliteRow) -> StoreResult<ActionItem> {
    let owner: Option<String> = row.try_get("owner")?;
    let number: i64 = row.try_get("number")?;
    Ok(ActionItem {
        incident_id: IncidentId(row.try_get("incident_id")?),
        number: u32::try_from(number)
            .map_err(|_| StoreError::Other(anyhow::anyhow!("bad stored action number {number}")))?,
        text: row.try_get("text")?,
        owner: owner
            .map(|o| {
                UserId::parse(&o)
                    .map_err(|_| StoreError::Other(anyhow::anyhow!("bad stored action owner {o}")))
            })
            .transpose()?,
        created_by: row.try_get("created_by")?,
        created_at: parse_time(&row.try_get::<String, _>("created_at")?)?,
        done_at: parse_opt_time(row.try_get("done_at")?)?,
        done_by: row.try_get("done_by")?,
    })
}

/// The timeline entry that records an action item change.
struct ActionEntry<'a> {
    incident_id: IncidentId,
    key: &'a str,
    actor: &'a UserId,
    at: DateTime<Utc>,
    text: String,
    data: serde_json::Value,
}

async fn insert_entry(
    tx: &mut Transaction<'_, Sqlite>,
    e: ActionEntry<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO timeline (incident_id, dedupe_key, kind, occurred_at, recorded_at, actor, text, key_event, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
    )
    .bind(e.incident_id.0)
    .bind(e.key)
    .bind(EntryKind::Note.as_str())
    .bind(fmt_time(e.at))
    .bind(fmt_time(now))
    .bind(e.actor.as_str())
    .bind(e.text)
    .bind(e.data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Add an action item with the next number, its timeline entry and the notice `notice`
    /// makes of it (into the outbox, so a failed post is retried rather than lost).
    /// Idempotent by `source_key`: returns `(item, false)` when this command already added it.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_action(
        &self,
        incident_id: IncidentId,
        text: &str,
        owner: Option<&UserId>,
        actor: &UserId,
        at: DateTime<Utc>,
        source_key: &str,
        notice: &(dyn Fn(&ActionItem) -> Option<NewOutgoing> + Sync),
        now: DateTime<Utc>,
    ) -> StoreResult<(ActionItem, bool)> {
        let mut tx = self.pool().begin().await?;
        let existing = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM action_items WHERE source_key = ?"
        ))
        .bind(source_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            return Ok((from_row(&row)?, false));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO action_items (incident_id, number, text, owner, created_by, created_at, source_key)
             VALUES (?, (SELECT COALESCE(MAX(number), 0) + 1 FROM action_items WHERE incident_id = ?),
                     ?, ?, ?, ?, ?)
             RETURNING {COLUMNS}"
        ))
        .bind(incident_id.0)
        .bind(incident_id.0)
        .bind(text)
        .bind(owner.map(UserId::as_str))
        .bind(actor.as_str())
        .bind(fmt_time(at))
        .bind(source_key)
        .fetch_one(&mut *tx)
        .await?;
        let item = from_row(&row)?;
        let owned_by = owner.map(|o| format!(" (owner {o})")).unwrap_or_default();
        insert_entry(
            &mut tx,
            ActionEntry {
                incident_id,
                key: source_key,
                actor,
                at,
                text: format!("action item {}: {text}{owned_by}", item.number),
                data: json!({"change": "action_added", "number": item.number, "owner": owner}),
            },
            now,
        )
        .await?;
        if let Some(message) = notice(&item) {
            enqueue(&mut tx, None, &message, now).await?;
        }
        tx.commit().await?;
        Ok((item, true))
    }

    /// Mark action item `number` done, with its timeline entry and the notice `notice`
    /// makes of it (into the outbox).
    #[allow(clippy::too_many_arguments)]
    pub async fn close_action(
        &self,
        incident_id: IncidentId,
        number: u32,
        actor: &UserId,
        at: DateTime<Utc>,
        source_key: &str,
        notice: &(dyn Fn(&ActionItem) -> Option<NewOutgoing> + Sync),
        now: DateTime<Utc>,
    ) -> StoreResult<CloseOutcome> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM action_items WHERE incident_id = ? AND number = ?"
        ))
        .bind(incident_id.0)
        .bind(i64::from(number))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CloseOutcome::NotFound);
        };
        let item = from_row(&row)?;
        if item.is_done() {
            return Ok(CloseOutcome::AlreadyDone(item));
        }
        sqlx::query(
            "UPDATE action_items SET done_at = ?, done_by = ? WHERE incident_id = ? AND number = ?",
        )
        .bind(fmt_time(at))
        .bind(actor.as_str())
        .bind(incident_id.0)
        .bind(i64::from(number))
        .execute(&mut *tx)
        .await?;
        insert_entry(
            &mut tx,
            ActionEntry {
                incident_id,
                key: source_key,
                actor,
                at,
                text: format!("action item {number} done: {}", item.text),
                data: json!({"change": "action_done", "number": number}),
            },
            now,
        )
        .await?;
        let item = ActionItem {
            done_at: Some(at),
            done_by: Some(actor.as_str().to_string()),
            ..item
        };
        if let Some(message) = notice(&item) {
            enqueue(&mut tx, None, &message, now).await?;
        }
        tx.commit().await?;
        Ok(CloseOutcome::Closed(item))
    }

    /// The incident's action items by number.
    pub async fn actions(&self, incident_id: IncidentId) -> StoreResult<Vec<ActionItem>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM action_items WHERE incident_id = ? ORDER BY number"
        ))
        .bind(incident_id.0)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::store::test_support::temp_store;
    use crate::store::NewIncident;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    async fn incident(store: &Store, key: &str) -> IncidentId {
        let (r, _) = store
            .create_incident(
                &NewIncident {
                    source_key: key.into(),
                    title: "t".into(),
                    severity: Severity::Sev2,
                    declared_by: user("U1"),
                    opened_at: Utc::now(),
                    channel_name: format!("inc-{key}"),
                },
                Utc::now(),
            )
            .await
            .unwrap();
        r.incident.id
    }

    #[tokio::test]
    async fn numbers_are_per_incident_and_replays_add_nothing() {
        let (store, _dir) = temp_store().await;
        let a = incident(&store, "a").await;
        let b = incident(&store, "b").await;
        let now = Utc::now();
        let (first, new) = store
            .add_action(
                a,
                "alarm on RDS",
                Some(&user("U2")),
                &user("U1"),
                now,
                "cmd:1",
                &|_| None,
                now,
            )
            .await
            .unwrap();
        assert!(new);
        assert_eq!(first.number, 1);
        let (again, new) = store
            .add_action(
                a,
                "alarm on RDS",
                Some(&user("U2")),
                &user("U1"),
                now,
                "cmd:1",
                &|_| None,
                now,
            )
            .await
            .unwrap();
        assert!(!new);
        assert_eq!(again, first);
        let (second, _) = store
            .add_action(
                a,
                "runbook",
                None,
                &user("U1"),
                now,
                "cmd:2",
                &|_| None,
                now,
            )
            .await
            .unwrap();
        assert_eq!(second.number, 2);
        let (other, _) = store
            .add_action(
                b,
                "other incident",
                None,
                &user("U1"),
                now,
                "cmd:3",
                &|_| None,
                now,
            )
            .await
            .unwrap();
        assert_eq!(other.number, 1);
        let items = store.actions(a).await.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].owner, Some(user("U2")));
        // One timeline note per addition, a key event with structured data.
        let notes: Vec<_> = store
            .timeline(a)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EntryKind::Note)
            .collect();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].text, "action item 1: alarm on RDS (owner U2)");
        assert!(notes[0].key_event);
    }

    #[tokio::test]
    async fn closing_reports_not_found_and_already_done() {
        let (store, _dir) = temp_store().await;
        let a = incident(&store, "a").await;
        let now = Utc::now();
        store
            .add_action(a, "x", None, &user("U1"), now, "cmd:1", &|_| None, now)
            .await
            .unwrap();
        assert_eq!(
            store
                .close_action(a, 7, &user("U1"), now, "cmd:2", &|_| None, now)
                .await
                .unwrap(),
            CloseOutcome::NotFound
        );
        let closed = store
            .close_action(a, 1, &user("U2"), now, "cmd:3", &|_| None, now)
            .await
            .unwrap();
        assert!(matches!(&closed, CloseOutcome::Closed(i) if i.done_by.as_deref() == Some("U2")));
        let again = store
            .close_action(a, 1, &user("U2"), now, "cmd:4", &|_| None, now)
            .await
            .unwrap();
        assert!(matches!(again, CloseOutcome::AlreadyDone(_)));
        assert!(store.actions(a).await.unwrap()[0].is_done());
        assert!(store.entry_exists("cmd:3").await.unwrap());
        assert!(!store.entry_exists("cmd:4").await.unwrap());
    }
}
