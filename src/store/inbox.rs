//! The inbox: every Slack event, recorded before its envelope is acked.

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::Row;

use super::{
    fmt_time, parse_time, placeholders, value_rows, Db, Store, StoreError, StoreResult, Tx,
};

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

/// Set aside an event that kept failing: out of the queue, kept with its `error` until
/// [`retry`] puts it back, never pruned.
pub async fn set_aside(tx: &mut Tx, id: i64, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "UPDATE inbox SET processed_at = $1, failed_at = $1, last_error = $2 WHERE id = $3",
    )
    .bind(fmt_time(now))
    .bind(error)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The events set aside, oldest first.
pub async fn failed(db: Db<'_>) -> StoreResult<Vec<FailedEvent>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT id, dedupe_key, payload, received_at, failed_at, attempts, last_error
         FROM inbox WHERE failed_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(&mut *c)
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

/// Put a set-aside event back in the queue, with fresh attempts; the worker applies it next
/// (it keeps its place: events are applied by id). `false` when `id` is not a set-aside
/// event.
pub async fn retry(tx: &mut Tx, id: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE inbox SET processed_at = NULL, failed_at = NULL, attempts = 0, last_error = NULL
         WHERE id = $1 AND failed_at IS NOT NULL",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keep only the dedupe key of these processed events: they recorded nothing (messages in
/// channels that are not incidents), so their content is not kept at all.
pub async fn forget_payloads(tx: &mut Tx, ids: &[i64]) -> StoreResult<()> {
    for chunk in ids.chunks(64) {
        let sql = format!(
            "UPDATE inbox SET payload = '' WHERE processed_at IS NOT NULL AND id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// Delete events processed before `before` (raw payloads are kept only that long; what they
/// recorded is on the timeline). Set-aside and pending events stay. Returns how many went.
pub async fn prune(tx: &mut Tx, before: DateTime<Utc>) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM inbox
         WHERE processed_at IS NOT NULL AND processed_at < $1 AND failed_at IS NULL",
    )
    .bind(fmt_time(before))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
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

    async fn set_aside_events_are_kept_listed_replayed_and_never_pruned(store: Store) {
        let t0 = chrono::Utc::now();
        for key in ["ev:1", "ev:2", "ev:3"] {
            store
                .record_inbound(key, "{\"type\":\"message\"}", t0)
                .await
                .unwrap();
        }
        let rows = inbox::pending(store.db(), 10).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        inbox::record_failure(&mut tx, rows[0].id, "boom")
            .await
            .unwrap();
        inbox::set_aside(&mut tx, rows[0].id, "bad stored time: corrupt", t0)
            .await
            .unwrap();
        inbox::mark_processed(&mut tx, rows[1].id, t0, None)
            .await
            .unwrap();
        inbox::forget_payloads(&mut tx, &[rows[1].id])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Out of the queue, with its error.
        let pending: Vec<i64> = inbox::pending(store.db(), 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(pending, [rows[2].id]);
        let failed = inbox::failed(store.db()).await.unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, rows[0].id);
        assert_eq!(failed[0].error, "bad stored time: corrupt");
        assert_eq!(failed[0].attempts, 1);
        // A forgotten payload keeps its key: a redelivery is still recognised.
        assert!(!store.record_inbound("ev:2", "{}", t0).await.unwrap());
        let (payload,): (String,) = sqlx::query_as("SELECT payload FROM inbox WHERE id = $1")
            .bind(rows[1].id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(payload, "");
        // Pruning takes processed rows only, never the one set aside or a pending one.
        let later = t0 + chrono::Duration::days(8);
        let mut tx = store.begin().await.unwrap();
        assert_eq!(inbox::prune(&mut tx, later).await.unwrap(), 1);
        tx.commit().await.unwrap();
        assert_eq!(inbox::failed(store.db()).await.unwrap().len(), 1);
        assert_eq!(inbox::backlog(store.db()).await.unwrap(), 1);
        // Replayed: back in the queue in its place, with fresh attempts; only once.
        let mut tx = store.begin().await.unwrap();
        assert!(inbox::retry(&mut tx, rows[0].id).await.unwrap());
        assert!(!inbox::retry(&mut tx, rows[0].id).await.unwrap());
        assert!(
            !inbox::retry(&mut tx, rows[2].id).await.unwrap(),
            "not set aside"
        );
        tx.commit().await.unwrap();
        let pending = inbox::pending(store.db(), 10).await.unwrap();
        assert_eq!(pending[0].id, rows[0].id);
        assert_eq!(pending[0].attempts, 0);
        assert!(inbox::failed(store.db()).await.unwrap().is_empty());
    }

    on_both_backends!(
        set_aside_events_are_kept_listed_replayed_and_never_pruned,
        redelivered_event_is_recorded_once_and_processed_in_order,
        concurrent_records_are_each_stored_once_and_answered_truthfully,
    );
}
