//! The inbox: every Slack event, recorded before its envelope is acked.

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::Row;

use super::{fmt_time, placeholders, value_rows, Db, Store, StoreError, StoreResult, Tx};

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
async fn insert_inbound(pool: &AnyPool, rows: Vec<InboundRow>) -> Vec<StoreResult<bool>> {
    if let [row] = rows.as_slice() {
        // Alone (always so with one Socket Mode connection): a plain INSERT. RETURNING
        // streams its row back as a message of its own, one more thread hand-off per event
        // (BENCHMARKS.md, finding 11).
        let done = sqlx::query(
            "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES ($1, $2, $3)
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
    let sql = format!(
        "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES {}
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
        value_rows(rows.len(), 3)
    );
    let mut q = sqlx::query(&sql);
    for r in &rows {
        q = q.bind(&r.dedupe_key).bind(&r.payload).bind(&r.received_at);
    }
    match q.fetch_all(pool).await {
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

impl Store {
    /// Record an event. Returns `false` when the key was already recorded (a redelivery),
    /// in which case nothing changes. Events recorded at the same moment (several Socket
    /// Mode connections, or the worker holding the database) share one statement
    /// ([`super::group_commit`]); each caller still returns only once its row is durable.
    /// Not a unit of work: the one write every replica makes, leader or not.
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
            .submit(row, |rows| insert_inbound(&self.pool, rows))
            .await
            .unwrap_or_else(|| {
                Err(StoreError::Other(anyhow::anyhow!(
                    "the inbox write was abandoned before it finished"
                )))
            })
    }
}

/// Unprocessed events in the order they were received.
pub async fn pending(db: Db<'_>, limit: i64) -> StoreResult<Vec<InboxRow>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT id, dedupe_key, payload, attempts FROM inbox
         WHERE processed_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InboxRow {
                id: r.try_get(0)?,
                dedupe_key: r.try_get(1)?,
                payload: r.try_get(2)?,
                attempts: r.try_get(3)?,
            })
        })
        .collect()
}

/// Mark an event done; `error` keeps the reason when it was given up on.
pub async fn mark_processed(
    tx: &mut Tx,
    id: i64,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query("UPDATE inbox SET processed_at = $1, last_error = $2 WHERE id = $3")
        .bind(fmt_time(now))
        .bind(error)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Mark many events done (a run of messages applied at once): one statement per 64 rows.
pub async fn mark_all_processed(tx: &mut Tx, ids: &[i64], now: DateTime<Utc>) -> StoreResult<()> {
    let at = fmt_time(now);
    for chunk in ids.chunks(64) {
        let sql = format!(
            "UPDATE inbox SET processed_at = $1 WHERE id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(&at);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// Count a failed attempt (the event stays pending and is retried); the attempts so far.
pub async fn record_failure(tx: &mut Tx, id: i64, error: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "UPDATE inbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2 RETURNING attempts",
    )
    .bind(error)
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.try_get(0)?)
}

/// How many events are recorded but not yet processed.
pub async fn backlog(db: Db<'_>) -> StoreResult<i64> {
    let mut c = db.conn().await?;
    let row = sqlx::query("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL")
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get(0)?)
}

#[cfg(test)]
mod tests {
    use crate::store::inbox;
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    async fn redelivered_event_is_recorded_once_and_processed_in_order(store: Store) {
        let now = chrono::Utc::now();
        assert!(store.record_inbound("ev:1", "{}", now).await.unwrap());
        assert!(store.record_inbound("ev:2", "{}", now).await.unwrap());
        assert!(!store
            .record_inbound("ev:1", "{\"x\":1}", now)
            .await
            .unwrap());
        let pending = inbox::pending(store.db(), 10).await.unwrap();
        let keys: Vec<_> = pending.iter().map(|r| r.dedupe_key.as_str()).collect();
        assert_eq!(keys, ["ev:1", "ev:2"]);
        assert_eq!(pending[0].payload, "{}");
        let mut tx = store.begin().await.unwrap();
        inbox::mark_processed(&mut tx, pending[0].id, now, None)
            .await
            .unwrap();
        assert_eq!(
            inbox::record_failure(&mut tx, pending[1].id, "boom")
                .await
                .unwrap(),
            1
        );
        tx.commit().await.unwrap();
        assert_eq!(inbox::backlog(store.db()).await.unwrap(), 1);
        assert_eq!(inbox::pending(store.db(), 10).await.unwrap()[0].attempts, 1);
    }

    /// Many envelopes recorded at once (several connections, redeliveries among them):
    /// each is stored once with its own payload, and each caller learns whether its event
    /// was new, while the database holds a write of its own in the way.
    async fn concurrent_records_are_each_stored_once_and_answered_truthfully(store: Store) {
        let now = chrono::Utc::now();
        assert!(store
            .record_inbound("ev:0", "{\"n\":0}", now)
            .await
            .unwrap());
        // Hold the one connection so records queue up behind it and get grouped.
        let mut held = store.begin().await.unwrap();
        sqlx::query("UPDATE inbox SET attempts = 0")
            .execute(held.conn())
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
        let rows = inbox::pending(store.db(), 1_000).await.unwrap();
        assert_eq!(rows.len(), 151, "one row per distinct event");
        for r in &rows[1..] {
            assert_eq!(r.payload, format!("{{\"key\":\"{}\"}}", r.dedupe_key));
        }
    }

    on_both_backends!(
        redelivered_event_is_recorded_once_and_processed_in_order,
        concurrent_records_are_each_stored_once_and_answered_truthfully,
    );
}
