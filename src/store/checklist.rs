//! An incident's type and checklist: the steps copied from `[[incident.types]]` when it
//! opens, who ticked which when, and whether the checklist messages are in the outbox.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{bad, fmt_time, parse_opt_time, Db, StoreResult, Tx};
use crate::domain::incident_type::{ChecklistItem, Step};
use crate::domain::{IncidentId, UserId};

/// Give incident `id` its type and the type's checklist (steps numbered from 1). Run in
/// the unit of work that creates the incident; a replay changes nothing.
pub async fn set_type(tx: &mut Tx, id: IncidentId, name: &str, steps: &[Step]) -> StoreResult<()> {
    sqlx::query("UPDATE incidents SET incident_type = $1 WHERE id = $2")
        .bind(name)
        .bind(id.0)
        .execute(tx.conn())
        .await?;
    for (i, step) in steps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO checklist_steps (incident_id, position, text, runbook)
             VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, position) DO NOTHING",
        )
        .bind(id.0)
        .bind(i as i64 + 1)
        .bind(&step.text)
        .bind(&step.runbook)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The incident's checklist in order (empty without a type or steps).
pub async fn of_incident(db: Db<'_>, id: IncidentId) -> StoreResult<Vec<ChecklistItem>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT position, text, runbook, done_by, done_at FROM checklist_steps
         WHERE incident_id = $1 ORDER BY position",
    )
    .bind(id.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            let by: Option<String> = row.try_get("done_by")?;
            let at = parse_opt_time(row.try_get("done_at")?)?;
            let done = match (by, at) {
                (Some(by), Some(at)) => {
                    Some((UserId::parse(&by).map_err(|_| bad("done_by", &by))?, at))
                }
                _ => None,
            };
            Ok(ChecklistItem {
                position: row.try_get("position")?,
                text: row.try_get("text")?,
                runbook: row.try_get("runbook")?,
                done,
            })
        })
        .collect()
}

/// Record step `position` as done by `by` at `at`; false when it already was (the first
/// tick stands).
pub async fn tick(
    tx: &mut Tx,
    id: IncidentId,
    position: i64,
    by: &UserId,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE checklist_steps SET done_by = $1, done_at = $2
         WHERE incident_id = $3 AND position = $4 AND done_at IS NULL",
    )
    .bind(by.as_str())
    .bind(fmt_time(at))
    .bind(id.0)
    .bind(position)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the incident has a checklist whose messages are not in the outbox yet.
pub async fn to_queue(db: Db<'_>, id: IncidentId) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM checklist_steps WHERE incident_id = $1)
                 AND EXISTS (SELECT 1 FROM incidents WHERE id = $1 AND checklist_queued = 0)
                 THEN 1 ELSE 0 END",
    )
    .bind(id.0)
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get::<i64, _>(0)? == 1)
}

/// Mark the checklist messages queued; false when they already were (a replay).
pub async fn mark_queued(tx: &mut Tx, id: IncidentId) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE incidents SET checklist_queued = 1 WHERE id = $1 AND checklist_queued = 0",
    )
    .bind(id.0)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::store::incidents::{self, NewIncident};
    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn steps_are_copied_ticked_once_and_queued_once() {
        let (store, _dir) = temp_store().await;
        let now = Utc::now();
        let alice = UserId::parse("U0ALICE").unwrap();
        let bob = UserId::parse("U0BOB").unwrap();
        let mut tx = store.begin().await.unwrap();
        let new = NewIncident {
            source_key: "cmd:1".into(),
            title: "x".into(),
            severity: Severity::Sev2,
            declared_by: alice.clone(),
            opened_at: now,
            channel_name: "inc-x".into(),
            private: false,
        };
        let (record, _) = incidents::create(&mut tx, &new, now).await.unwrap();
        let id = record.incident.id;
        let steps = [
            Step {
                text: "Page security".into(),
                runbook: None,
            },
            Step {
                text: "Rotate keys".into(),
                runbook: Some("https://wiki.example/keys".into()),
            },
        ];
        set_type(&mut tx, id, "security", &steps).await.unwrap();
        set_type(&mut tx, id, "security", &steps).await.unwrap();
        tx.commit().await.unwrap();

        let record = incidents::get(store.db(), id).await.unwrap();
        assert_eq!(record.incident_type.as_deref(), Some("security"));
        let items = of_incident(store.db(), id).await.unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1].runbook.as_deref(),
            Some("https://wiki.example/keys")
        );
        assert!(items.iter().all(|i| !i.is_done()));

        assert!(to_queue(store.db(), id).await.unwrap());
        let mut tx = store.begin().await.unwrap();
        assert!(mark_queued(&mut tx, id).await.unwrap());
        assert!(!mark_queued(&mut tx, id).await.unwrap());
        assert!(tick(&mut tx, id, 2, &bob, now).await.unwrap());
        assert!(!tick(&mut tx, id, 2, &alice, now).await.unwrap());
        tx.commit().await.unwrap();
        assert!(!to_queue(store.db(), id).await.unwrap());
        let items = of_incident(store.db(), id).await.unwrap();
        assert_eq!(items[1].done.as_ref().map(|(u, _)| u.clone()), Some(bob));
        assert!(!items[0].is_done());
    }
}
