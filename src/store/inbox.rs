//! The inbox: every Slack event, recorded before its envelope is acked.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{fmt_time, parse_time, Store, StoreError, StoreResult};

/// Rows per grouped inbox INSERT: three bound values each, far below SQLite's limit.
pub(super) const INBOX_ROWS_PER_STATEMENT: usize = 128;

/// One event waiting to be recorded.
pub(super) struct InboundRow {
    dedupe_key: String,
    payload: String,
    received_at: String,
}

/// Insert `rows` in one statement; per row, whether it was new. A key repeated within the
/// batch (one envelope redelivered on two connections at once) is new only the first time.
async fn insert_inbound(pool: &sqlx::SqlitePool, rows: Vec<InboundRow>) -> Vec<StoreResult<bool>> {
    if let [row] = rows.as_slice() {
        // Alone (always so with one Socket Mode connection): a plain INSERT. RETURNING
        // streams its row back as a message of its own, one more thread hand-off per event
        // (BENCHMARKS.md, finding 11).
        let done = sqlx::query(
            "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES (?, ?, ?)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(&row.dedupe_key)
        .bind(&row.payload)
        .bind(&row.received_at)
        .execute(pool)
        .await;
        return vec![done
            .map(|d| d.rows_affected() == 1)
            .map_err(StoreError::from)];
    }
    let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO inbox (dedupe_key, payload, received_at) ",
    );
    q.push_values(&rows, |mut b, r| {
        b.push_bind(&r.dedupe_key)
            .push_bind(&r.payload)
            .push_bind(&r.received_at);
    });
    q.push(" ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key");
    match q.build().fetch_all(pool).await {
        Ok(inserted) => {
            let mut new: std::collections::HashSet<String> =
                inserted.iter().map(|r| r.get::<String, _>(0)).collect();
            rows.iter().map(|r| Ok(new.remove(&r.dedupe_key))).collect()
        }
        Err(e) => {
            // Every caller gets the reason; none acks, so Slack redelivers each envelope.
            let reason = format!("{e:#}");
            let mut errors = vec![Err(StoreError::from(e))];
            errors.extend((1..rows.len()).map(|_| {
                Err(StoreError::Other(anyhow::anyhow!(
                    "recording the event failed: {reason}"
                )))
            }));
            errors
        }
    }
}

/// A recorded event waiting to be (or already) processed.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub id: i64,
    pub dedupe_key: String,
    pub payload: String,
    pub attempts: i64,
}

/// An event the worker set aside after it kept failing (`warroom inbox --failed`).
#[derive(Debug, Clone)]
pub struct FailedEvent {
    pub id: i64,
    pub dedupe_key: String,
    /// The event as recorded (JSON of `slack::inbound::Inbound`).
    pub payload: String,
    pub received_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
    pub attempts: i64,
    /// The last error, with its causes.
    pub error: String,
}

impl Store {
    /// Record an event. Returns `false` when the key was already recorded (a redelivery),
    /// in which case nothing changes. Events recorded at the same moment (several Socket
    /// Mode connections, or the worker holding the database) share one statement
    /// ([`super::group_commit`]); each caller still returns only once its row is durable.
    #[tracing::instrument(skip_all, fields(key = dedupe_key))]
    pub async fn record_inbound(
        &self,
        dedupe_key: &str,
        payload: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let row = InboundRow {
            dedupe_key: dedupe_key.to_owned(),
            payload: payload.to_owned(),
            received_at: fmt_time(now),
        };
        self.inbox_writes
            .submit(row, |rows| insert_inbound(self.pool(), rows))
            .await
            .unwrap_or_else(|| {
                Err(StoreError::Other(anyhow::anyhow!(
                    "the inbox write was abandoned before it finished"
                )))
            })
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

    /// Set aside an event that kept failing: out of the queue, kept with its `error` until
    /// [`Store::retry_event`] puts it back, never pruned; `notice` (for the status channel)
    /// goes into the outbox in the same transaction.
    pub async fn set_aside(
        &self,
        id: i64,
        error: &str,
        notice: Option<&super::NewOutgoing>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE inbox SET processed_at = $1, failed_at = $1, last_error = $2 WHERE id = $3",
        )
        .bind(fmt_time(now))
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(notice) = notice {
            super::timers::enqueue(&mut tx, None, notice, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The events set aside, oldest first.
    pub async fn failed_events(&self) -> StoreResult<Vec<FailedEvent>> {
        let rows = sqlx::query(
            "SELECT id, dedupe_key, payload, received_at, failed_at, attempts, last_error
             FROM inbox WHERE failed_at IS NOT NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FailedEvent {
                    id: r.try_get(0)?,
                    dedupe_key: r.try_get(1)?,
                    payload: r.try_get(2)?,
                    received_at: parse_time(&r.try_get::<String, _>(3)?)?,
                    failed_at: parse_time(&r.try_get::<String, _>(4)?)?,
                    attempts: r.try_get(5)?,
                    error: r.try_get::<Option<String>, _>(6)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Put a set-aside event back in the queue, with fresh attempts; the worker applies it
    /// next (it keeps its place: events are applied by id). `false` when `id` is not a
    /// set-aside event.
    pub async fn retry_event(&self, id: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE inbox SET processed_at = NULL, failed_at = NULL, attempts = 0, last_error = NULL
             WHERE id = $1 AND failed_at IS NOT NULL",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Keep only the dedupe key of these processed events: they recorded nothing (messages
    /// in channels that are not incidents), so their content is not kept at all.
    pub async fn forget_payloads(&self, ids: &[i64]) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        for id in ids {
            sqlx::query("UPDATE inbox SET payload = '' WHERE id = $1 AND processed_at IS NOT NULL")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Delete events processed before `before` (raw payloads are kept only that long; what
    /// they recorded is on the timeline). Set-aside and pending events stay. Returns how many
    /// went.
    pub async fn prune_inbox(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM inbox
             WHERE processed_at IS NOT NULL AND processed_at < $1 AND failed_at IS NULL",
        )
        .bind(fmt_time(before))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
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

    #[tokio::test]
    async fn set_aside_events_are_kept_listed_replayed_and_never_pruned() {
        let (store, _dir) = temp_store().await;
        let t0 = chrono::Utc::now();
        for key in ["ev:1", "ev:2", "ev:3"] {
            store
                .record_inbound(key, "{\"type\":\"message\"}", t0)
                .await
                .unwrap();
        }
        let rows = store.pending_inbound(10).await.unwrap();
        let notice = crate::store::NewOutgoing {
            destination: "C0STATUS".into(),
            text: "set aside".into(),
            blocks: None,
        };
        store
            .record_attempt_failure(rows[0].id, "boom")
            .await
            .unwrap();
        store
            .set_aside(rows[0].id, "bad stored time: corrupt", Some(&notice), t0)
            .await
            .unwrap();
        store.mark_processed(rows[1].id, t0, None).await.unwrap();
        store.forget_payloads(&[rows[1].id]).await.unwrap();
        // Out of the queue, with its error and its notice in the outbox.
        let pending: Vec<i64> = store
            .pending_inbound(10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(pending, [rows[2].id]);
        let failed = store.failed_events().await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, rows[0].id);
        assert_eq!(failed[0].error, "bad stored time: corrupt");
        assert_eq!(failed[0].attempts, 1);
        assert_eq!(store.pending_outbox(10).await.unwrap()[0].text, "set aside");
        // A forgotten payload keeps its key: a redelivery is still recognised.
        assert!(!store.record_inbound("ev:2", "{}", t0).await.unwrap());
        let (payload,): (String,) = sqlx::query_as("SELECT payload FROM inbox WHERE id = $1")
            .bind(rows[1].id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(payload, "");
        // Pruning takes processed rows only, never the one set aside or a pending one.
        let later = t0 + chrono::Duration::days(8);
        assert_eq!(store.prune_inbox(later).await.unwrap(), 1);
        assert_eq!(store.failed_events().await.unwrap().len(), 1);
        assert_eq!(store.inbox_backlog().await.unwrap(), 1);
        // Replayed: back in the queue in its place, with fresh attempts; only once.
        assert!(store.retry_event(rows[0].id).await.unwrap());
        assert!(!store.retry_event(rows[0].id).await.unwrap());
        assert!(
            !store.retry_event(rows[2].id).await.unwrap(),
            "not set aside"
        );
        let pending = store.pending_inbound(10).await.unwrap();
        assert_eq!(pending[0].id, rows[0].id);
        assert_eq!(pending[0].attempts, 0);
        assert!(store.failed_events().await.unwrap().is_empty());
    }

    /// Many envelopes recorded at once (several connections, redeliveries among them):
    /// each is stored once with its own payload, and each caller learns whether its event
    /// was new, while the database holds a write of its own in the way.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_records_are_each_stored_once_and_answered_truthfully() {
        let (store, _dir) = temp_store().await;
        let now = chrono::Utc::now();
        assert!(store
            .record_inbound("ev:0", "{\"n\":0}", now)
            .await
            .unwrap());
        // Hold the one connection so records queue up behind it and get grouped.
        let mut held = store.pool().begin().await.unwrap();
        sqlx::query("UPDATE inbox SET attempts = 0")
            .execute(&mut *held)
            .await
            .unwrap();
        let mut handles = Vec::new();
        for n in 0..300u32 {
            // ev:1..=149 twice, ev:150 once, ev:0 again: 150 new events, 150 redeliveries.
            let (store, key) = (store.clone(), format!("ev:{}", n % 150 + 1));
            let key = if n == 299 { "ev:0".to_string() } else { key };
            handles.push(tokio::spawn(async move {
                let payload = format!("{{\"key\":\"{key}\"}}");
                (
                    key.clone(),
                    store.record_inbound(&key, &payload, now).await.unwrap(),
                )
            }));
        }
        held.commit().await.unwrap();
        let mut new_keys = std::collections::HashMap::<String, usize>::new();
        for h in handles {
            let (key, new) = h.await.unwrap();
            *new_keys.entry(key).or_default() += usize::from(new);
        }
        assert_eq!(new_keys["ev:0"], 0, "ev:0 was recorded before");
        for n in 1..=150 {
            let key = format!("ev:{n}");
            assert_eq!(new_keys.get(&key), Some(&1), "{key} is new exactly once");
        }
        let rows = store.pending_inbound(1_000).await.unwrap();
        assert_eq!(rows.len(), 151, "one row per distinct event");
        for r in &rows[1..] {
            assert_eq!(r.payload, format!("{{\"key\":\"{}\"}}", r.dedupe_key));
        }
    }
}
