//! Action items (`/incident action …`): numbered per incident from 1, each addition and
//! closure written together with its timeline entry.
//!
//! The timeline entries are notes (key events) whose `data` says what happened
//! (`{"change":"action_added","number":2,"owner":"U…"}`), so the timeline reads naturally
//! and the postmortem can still tell them apart. The command's inbox key is the idempotency
//! key: a replay after a crash changes nothing.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::timeline::{self, NewEntry};
use super::{bad, fmt_time, parse_opt_time, parse_time, Db, StoreResult, Tx};
use crate::domain::{ActionItem, EntryKind, IncidentId, UserId};

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

/// An action item to add.
#[derive(Debug, Clone)]
pub struct NewAction<'a> {
    pub incident_id: IncidentId,
    pub text: &'a str,
    pub owner: Option<&'a UserId>,
    pub by: &'a UserId,
    pub at: DateTime<Utc>,
    /// The command's inbox key: a second add with it returns the first item.
    pub source_key: &'a str,
}

/// An action item to close.
#[derive(Debug, Clone)]
pub struct Closing<'a> {
    pub incident_id: IncidentId,
    pub number: u32,
    pub by: &'a UserId,
    pub at: DateTime<Utc>,
    /// The command's inbox key (the closure's timeline entry).
    pub source_key: &'a str,
}

const COLUMNS: &str = "incident_id, number, text, owner, created_by, created_at, done_at, done_by";

fn from_row(row: &AnyRow) -> StoreResult<ActionItem> {
    let owner: Option<String> = row.try_get("owner")?;
    let number: i64 = row.try_get("number")?;
    Ok(ActionItem {
        incident_id: IncidentId(row.try_get("incident_id")?),
        number: u32::try_from(number).map_err(|_| bad("action number", number))?,
        text: row.try_get("text")?,
        owner: owner
            .map(|o| UserId::parse(&o).map_err(|_| bad("action owner", &o)))
            .transpose()?,
        created_by: row.try_get("created_by")?,
        created_at: parse_time(&row.try_get::<String, _>("created_at")?)?,
        done_at: parse_opt_time(row.try_get("done_at")?)?,
        done_by: row.try_get("done_by")?,
    })
}

/// The note that records an action item change.
fn note(
    incident_id: IncidentId,
    key: &str,
    by: &UserId,
    at: DateTime<Utc>,
    text: String,
) -> NewEntry {
    NewEntry {
        incident_id,
        dedupe_key: key.to_string(),
        kind: EntryKind::Note,
        occurred_at: at,
        actor: Some(by.as_str().to_string()),
        text,
        slack_ts: None,
        thread_ts: None,
        key_event: true,
    }
}

/// Add an action item with the next number, and its timeline note. Idempotent by
/// `source_key`: returns `(item, false)` when this command already added it.
pub async fn add(
    tx: &mut Tx,
    new: &NewAction<'_>,
    now: DateTime<Utc>,
) -> StoreResult<(ActionItem, bool)> {
    let existing = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM action_items WHERE source_key = $1"
    ))
    .bind(new.source_key)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(row) = existing {
        return Ok((from_row(&row)?, false));
    }
    let row = sqlx::query(&format!(
        "INSERT INTO action_items (incident_id, number, text, owner, created_by, created_at,
                                   source_key)
         VALUES ($1, (SELECT COALESCE(MAX(number), 0) + 1 FROM action_items WHERE incident_id = $1),
                 $2, $3, $4, $5, $6)
         RETURNING {COLUMNS}"
    ))
    .bind(new.incident_id.0)
    .bind(new.text)
    .bind(new.owner.map(UserId::as_str))
    .bind(new.by.as_str())
    .bind(fmt_time(new.at))
    .bind(new.source_key)
    .fetch_one(tx.conn())
    .await?;
    let item = from_row(&row)?;
    let owned_by = new
        .owner
        .map(|o| format!(" (owner {o})"))
        .unwrap_or_default();
    let entry = note(
        new.incident_id,
        new.source_key,
        new.by,
        new.at,
        format!("action item {}: {}{owned_by}", item.number, new.text),
    );
    let data = json!({"change": "action_added", "number": item.number, "owner": new.owner});
    timeline::insert_with_data(tx, &entry, Some(&data), now).await?;
    Ok((item, true))
}

/// Mark action item `number` done, with its timeline note.
pub async fn close(
    tx: &mut Tx,
    closing: &Closing<'_>,
    now: DateTime<Utc>,
) -> StoreResult<CloseOutcome> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM action_items WHERE incident_id = $1 AND number = $2"
    ))
    .bind(closing.incident_id.0)
    .bind(i64::from(closing.number))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(CloseOutcome::NotFound);
    };
    let item = from_row(&row)?;
    if item.is_done() {
        return Ok(CloseOutcome::AlreadyDone(item));
    }
    sqlx::query(
        "UPDATE action_items SET done_at = $1, done_by = $2 WHERE incident_id = $3 AND number = $4",
    )
    .bind(fmt_time(closing.at))
    .bind(closing.by.as_str())
    .bind(closing.incident_id.0)
    .bind(i64::from(closing.number))
    .execute(tx.conn())
    .await?;
    let entry = note(
        closing.incident_id,
        closing.source_key,
        closing.by,
        closing.at,
        format!("action item {} done: {}", closing.number, item.text),
    );
    let data = json!({"change": "action_done", "number": closing.number});
    timeline::insert_with_data(tx, &entry, Some(&data), now).await?;
    Ok(CloseOutcome::Closed(ActionItem {
        done_at: Some(closing.at),
        done_by: Some(closing.by.as_str().to_string()),
        ..item
    }))
}

/// The incident's action items by number.
pub async fn of_incident(db: Db<'_>, incident_id: IncidentId) -> StoreResult<Vec<ActionItem>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM action_items WHERE incident_id = $1 ORDER BY number"
    ))
    .bind(incident_id.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    async fn incident(store: &Store, key: &str) -> IncidentId {
        let mut tx = store.begin().await.unwrap();
        let (r, _) = incidents::create(
            &mut tx,
            &NewIncident {
                private: false,
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
        tx.commit().await.unwrap();
        r.incident.id
    }

    async fn add_one(
        store: &Store,
        incident_id: IncidentId,
        text: &str,
        owner: Option<&UserId>,
        key: &str,
    ) -> (ActionItem, bool) {
        let now = Utc::now();
        let mut tx = store.begin().await.unwrap();
        let added = add(
            &mut tx,
            &NewAction {
                incident_id,
                text,
                owner,
                by: &user("U1"),
                at: now,
                source_key: key,
            },
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        added
    }

    async fn close_one(
        store: &Store,
        incident_id: IncidentId,
        number: u32,
        key: &str,
    ) -> CloseOutcome {
        let now = Utc::now();
        let mut tx = store.begin().await.unwrap();
        let closed = close(
            &mut tx,
            &Closing {
                incident_id,
                number,
                by: &user("U2"),
                at: now,
                source_key: key,
            },
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        closed
    }

    async fn numbers_are_per_incident_and_replays_add_nothing(store: Store) {
        let a = incident(&store, "a").await;
        let b = incident(&store, "b").await;
        let owner = user("U2");
        let (first, new) = add_one(&store, a, "alarm on RDS", Some(&owner), "cmd:1").await;
        assert!(new);
        assert_eq!(first.number, 1);
        let (again, new) = add_one(&store, a, "alarm on RDS", Some(&owner), "cmd:1").await;
        assert!(!new);
        assert_eq!(again, first);
        let (second, _) = add_one(&store, a, "runbook", None, "cmd:2").await;
        assert_eq!(second.number, 2);
        let (other, _) = add_one(&store, b, "other incident", None, "cmd:3").await;
        assert_eq!(other.number, 1);
        let items = of_incident(store.db(), a).await.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].owner, Some(user("U2")));
        // One timeline note per addition, a key event with structured data.
        let notes: Vec<_> = timeline::of_incident(store.db(), a)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EntryKind::Note)
            .collect();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].text, "action item 1: alarm on RDS (owner U2)");
        assert!(notes[0].key_event);
        let data = timeline::data_of_incident(store.db(), a).await.unwrap();
        assert_eq!(data[&notes[0].id]["change"], "action_added");
    }

    async fn closing_reports_not_found_and_already_done(store: Store) {
        let a = incident(&store, "a").await;
        add_one(&store, a, "x", None, "cmd:1").await;
        assert_eq!(
            close_one(&store, a, 7, "cmd:2").await,
            CloseOutcome::NotFound
        );
        let closed = close_one(&store, a, 1, "cmd:3").await;
        assert!(matches!(&closed, CloseOutcome::Closed(i) if i.done_by.as_deref() == Some("U2")));
        let again = close_one(&store, a, 1, "cmd:4").await;
        assert!(matches!(again, CloseOutcome::AlreadyDone(_)));
        assert!(of_incident(store.db(), a).await.unwrap()[0].is_done());
        assert!(timeline::exists(store.db(), "cmd:3").await.unwrap());
        assert!(!timeline::exists(store.db(), "cmd:4").await.unwrap());
    }

    on_both_backends!(
        numbers_are_per_incident_and_replays_add_nothing,
        closing_reports_not_found_and_already_done,
    );
}
