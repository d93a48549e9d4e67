//! Timers (deadlines as rows: summaries, nudges, CreateCase retries) and the summaries
//! that fired. Claiming a timer and writing what it produced happen in one unit of work,
//! so a restart neither skips nor repeats one.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{fmt_time, parse_opt_time, parse_time, Db, StoreResult, Tx};

/// A pending or fired deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub payload: String,
}

/// What a fired summary covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRecord {
    pub at: DateTime<Utc>,
    pub open_count: i64,
    pub resolved_count: i64,
    pub sent: bool,
}

fn timer_from_row(r: &AnyRow) -> StoreResult<Timer> {
    Ok(Timer {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        key: r.try_get(2)?,
        due_at: parse_time(&r.try_get::<String, _>(3)?)?,
        payload: r.try_get(4)?,
    })
}

/// Schedule a timer; a second one with the same key is ignored. Returns whether it is new.
pub async fn schedule(
    tx: &mut Tx,
    kind: &str,
    key: &str,
    due_at: DateTime<Utc>,
    payload: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO timers (kind, key, due_at, payload) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(kind)
    .bind(key)
    .bind(fmt_time(due_at))
    .bind(payload)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancel the pending timers whose key starts with `prefix` (which must hold no `%` or
/// `_`). Returns how many were pending.
pub async fn cancel_pending(tx: &mut Tx, prefix: &str) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM timers WHERE fired_at IS NULL AND key LIKE $1")
            .bind(format!("{prefix}%"))
            .execute(tx.conn())
            .await?
            .rows_affected(),
    )
}

/// Whether a timer with this key is pending (scheduled, not fired, not cancelled).
pub async fn is_pending(db: Db<'_>, key: &str) -> StoreResult<bool> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT COUNT(*) FROM timers WHERE fired_at IS NULL AND key = $1")
        .bind(key)
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// Claim a pending timer; `false` when it had fired already (then write nothing for it).
pub async fn claim(tx: &mut Tx, timer_id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
    Ok(
        sqlx::query("UPDATE timers SET fired_at = $1 WHERE id = $2 AND fired_at IS NULL")
            .bind(fmt_time(now))
            .bind(timer_id)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

/// Pending timers of a kind (not yet fired), earliest first.
pub async fn pending_of_kind(db: Db<'_>, kind: &str) -> StoreResult<Vec<Timer>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT id, kind, key, due_at, payload FROM timers
         WHERE fired_at IS NULL AND kind = $1 ORDER BY due_at, id",
    )
    .bind(kind)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(timer_from_row).collect()
}

/// Timers due at or before `now`, earliest first.
pub async fn due(db: Db<'_>, now: DateTime<Utc>) -> StoreResult<Vec<Timer>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT id, kind, key, due_at, payload FROM timers
         WHERE fired_at IS NULL AND due_at <= $1 ORDER BY due_at, id",
    )
    .bind(fmt_time(now))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(timer_from_row).collect()
}

/// The earliest pending due time, if any.
pub async fn next_due(db: Db<'_>) -> StoreResult<Option<DateTime<Utc>>> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT MIN(due_at) FROM timers WHERE fired_at IS NULL")
        .fetch_one(&mut *c)
        .await?;
    parse_opt_time(row.try_get(0)?)
}

/// Record what a summary timer covered (with the claim of `timer_id`).
pub async fn record_summary(tx: &mut Tx, timer_id: i64, s: &SummaryRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO summaries (timer_id, at, open_count, resolved_count, sent)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(timer_id)
    .bind(fmt_time(s.at))
    .bind(s.open_count)
    .bind(s.resolved_count)
    .bind(s.sent as i64)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The most recent summary, sent or skipped.
pub async fn last_summary(db: Db<'_>) -> StoreResult<Option<SummaryRecord>> {
    let mut c = db.conn().await?;
    let row = sqlx::query(
        "SELECT at, open_count, resolved_count, sent FROM summaries
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok(SummaryRecord {
            at: parse_time(&r.try_get::<String, _>(0)?)?,
            open_count: r.try_get(1)?,
            resolved_count: r.try_get(2)?,
            sent: r.try_get::<i64, _>(3)? != 0,
        })
    })
    .transpose()
}

/// How many summaries have fired (sent or kept quiet).
pub async fn summary_count(db: Db<'_>) -> StoreResult<i64> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT COUNT(*) FROM summaries")
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::{self, NewOutgoing};
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    async fn a_timer_fires_once_and_schedules_the_next(store: Store) {
        let mut tx = store.begin().await.unwrap();
        let at = t("2026-11-21T10:00:00Z");
        assert!(schedule(&mut tx, "summary", "summary:a", at, "{}")
            .await
            .unwrap());
        assert!(!schedule(&mut tx, "summary", "summary:a", at, "{}")
            .await
            .unwrap());
        tx.commit().await.unwrap();
        assert!(due(store.db(), t("2026-11-21T09:59:59Z"))
            .await
            .unwrap()
            .is_empty());
        let timer = due(store.db(), at).await.unwrap().remove(0);
        let now = t("2026-11-21T10:00:01Z");
        // What the scheduler writes when it fires a summary: twice, as a replay would.
        for first in [true, false] {
            let mut tx = store.begin().await.unwrap();
            assert_eq!(
                claim(&mut tx, timer.id, now).await.unwrap(),
                first,
                "never twice"
            );
            if first {
                let summary = SummaryRecord {
                    at,
                    open_count: 1,
                    resolved_count: 0,
                    sent: true,
                };
                record_summary(&mut tx, timer.id, &summary).await.unwrap();
                let hi = NewOutgoing {
                    destination: crate::domain::OutboxDestination::channel("C1"),
                    text: "hi".into(),
                    blocks: None,
                };
                outbox::enqueue_for_timer(&mut tx, timer.id, &hi, now)
                    .await
                    .unwrap();
                schedule(
                    &mut tx,
                    "summary",
                    "summary:b",
                    t("2026-11-21T11:00:00Z"),
                    "{}",
                )
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
        assert_eq!(outbox::pending(store.db(), 10).await.unwrap().len(), 1);
        assert_eq!(
            next_due(store.db()).await.unwrap(),
            Some(t("2026-11-21T11:00:00Z"))
        );
        assert_eq!(
            last_summary(store.db()).await.unwrap().unwrap().open_count,
            1
        );
        assert_eq!(summary_count(store.db()).await.unwrap(), 1);
        assert_eq!(
            pending_of_kind(store.db(), "summary").await.unwrap().len(),
            1
        );
    }

    on_both_backends!(a_timer_fires_once_and_schedules_the_next,);
}
