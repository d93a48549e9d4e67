//! The inbox: every Slack event, recorded before its envelope is acked.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{fmt_time, Store, StoreResult};

/// A recorded event waiting to be (or already) processed.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub id: i64,
    pub dedupe_key: String,
    pub payload: String,
    pub attempts: i64,
}

impl Store {
    /// Record an event. Returns `false` when the key was already recorded (a redelivery),
    /// in which case nothing changes.
    #[tracing::instrument(skip_all, fields(key = dedupe_key))]
    pub async fn record_inbound(
        &self,
        dedupe_key: &str,
        payload: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES (?, ?, ?)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(dedupe_key)
        .bind(payload)
        .bind(fmt_time(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Unprocessed events in the order they were received.
    pub async fn pending_inbound(&self, limit: i64) -> StoreResult<Vec<InboxRow>> {
        let rows = sqlx::query(
            "SELECT id, dedupe_key, payload, attempts FROM inbox
             WHERE processed_at IS NULL ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| InboxRow {
                id: r.get(0),
                dedupe_key: r.get(1),
                payload: r.get(2),
                attempts: r.get(3),
            })
            .collect())
    }

    /// Mark an event done; `error` keeps the reason when it was given up on.
    pub async fn mark_processed(
        &self,
        id: i64,
        now: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE inbox SET processed_at = ?, last_error = ? WHERE id = ?")
            .bind(fmt_time(now))
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Count a failed attempt (the event stays pending and is retried).
    pub async fn record_attempt_failure(&self, id: i64, error: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE inbox SET attempts = attempts + 1, last_error = ? WHERE id = ? RETURNING attempts",
        )
        .bind(error)
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.get(0))
    }

    /// How many events are recorded but not yet processed.
    pub async fn inbox_backlog(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(row.get(0))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::temp_store;

    #[tokio::test]
    async fn redelivered_event_is_recorded_once_and_processed_in_order() {
        let (store, _dir) = temp_store().await;
        let now = chrono::Utc::now();
        assert!(store.record_inbound("ev:1", "{}", now).await.unwrap());
        assert!(store.record_inbound("ev:2", "{}", now).await.unwrap());
        assert!(!store
            .record_inbound("ev:1", "{\"x\":1}", now)
            .await
            .unwrap());
        let pending = store.pending_inbound(10).await.unwrap();
        let keys: Vec<_> = pending.iter().map(|r| r.dedupe_key.as_str()).collect();
        assert_eq!(keys, ["ev:1", "ev:2"]);
        assert_eq!(pending[0].payload, "{}");
        store
            .mark_processed(pending[0].id, now, None)
            .await
            .unwrap();
        assert_eq!(store.inbox_backlog().await.unwrap(), 1);
        assert_eq!(
            store
                .record_attempt_failure(pending[1].id, "boom")
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.pending_inbound(10).await.unwrap()[0].attempts, 1);
    }
}
