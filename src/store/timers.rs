//! Timers, the outbox they fill, summaries and refused recipients.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{fmt_time, parse_opt_time, parse_time, Store, StoreResult};

/// A pending or fired deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub due_at: DateTime<Utc>,
    pub payload: String,
}

/// A message waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub destination: String,
    pub text: String,
    pub blocks: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    /// When its first post began ([`Store::mark_sending`]); set on a row not yet marked sent
    /// means a post may already be in Slack.
    pub sending_since: Option<DateTime<Utc>>,
    /// Where to tell the person behind the message when Slack refuses it for good (a
    /// command's response_url), and what to say before Slack's reason.
    pub refusal: Option<(String, String)>,
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewOutgoing {
    pub destination: String,
    pub text: String,
    pub blocks: Option<String>,
}

/// What a fired summary covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRecord {
    pub at: DateTime<Utc>,
    pub open_count: i64,
    pub resolved_count: i64,
    pub sent: bool,
}

/// The result of firing a summary timer, written atomically with the claim.
#[derive(Debug, Clone)]
pub struct FiredSummary {
    pub summary: SummaryRecord,
    pub messages: Vec<NewOutgoing>,
    /// The next summary timer: (key, due).
    pub next: Option<(String, DateTime<Utc>)>,
}

impl Store {
    /// Schedule a timer; a second one with the same key is ignored. Returns whether it is new.
    pub async fn schedule_timer(
        &self,
        kind: &str,
        key: &str,
        due_at: DateTime<Utc>,
        payload: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO timers (kind, key, due_at, payload) VALUES (?, ?, ?, ?)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(kind)
        .bind(key)
        .bind(fmt_time(due_at))
        .bind(payload)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Pending timers of a kind (not yet fired), earliest first.
    pub async fn pending_timers(&self, kind: &str) -> StoreResult<Vec<Timer>> {
        let rows = sqlx::query(
            "SELECT id, kind, key, due_at, payload FROM timers
             WHERE fired_at IS NULL AND kind = ? ORDER BY due_at, id",
        )
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(timer_from_row).collect()
    }

    /// Timers due at or before `now`, earliest first.
    pub async fn due_timers(&self, now: DateTime<Utc>) -> StoreResult<Vec<Timer>> {
        let rows = sqlx::query(
            "SELECT id, kind, key, due_at, payload FROM timers
             WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at, id",
        )
        .bind(fmt_time(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(timer_from_row).collect()
    }

    /// The earliest pending due time, if any.
    pub async fn next_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT MIN(due_at) FROM timers WHERE fired_at IS NULL")
            .fetch_one(self.pool())
            .await?;
        parse_opt_time(row.try_get(0)?)
    }

    /// Claim a summary timer and record what it produced, atomically: the summary row, its
    /// messages in the outbox, and the next timer. Returns `false` (and writes nothing) when
    /// the timer had already fired.
    pub async fn fire_summary(
        &self,
        timer: &Timer,
        fired: &FiredSummary,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        if !claim_timer(&mut tx, timer.id, now).await? {
            return Ok(false);
        }
        let s = &fired.summary;
        sqlx::query(
            "INSERT INTO summaries (timer_id, at, open_count, resolved_count, sent) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(timer.id)
        .bind(fmt_time(s.at))
        .bind(s.open_count)
        .bind(s.resolved_count)
        .bind(s.sent as i64)
        .execute(&mut *tx)
        .await?;
        for m in &fired.messages {
            enqueue(&mut tx, Some(timer.id), m, now).await?;
        }
        if let Some((key, due)) = &fired.next {
            schedule_in(&mut tx, &timer.kind, key, *due, "{}").await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The most recent summary, sent or skipped.
    pub async fn last_summary(&self) -> StoreResult<Option<SummaryRecord>> {
        let row = sqlx::query(
            "SELECT at, open_count, resolved_count, sent FROM summaries ORDER BY at DESC, id DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
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
    pub async fn summary_count(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM summaries")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Messages not yet delivered, oldest first.
    pub async fn pending_outbox(&self, limit: i64) -> StoreResult<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, destination, text, blocks, attempts, created_at, sending_at,
                    refusal_url, refusal_text
             FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let url: Option<String> = r.try_get(7)?;
                let text: Option<String> = r.try_get(8)?;
                Ok(OutboxRow {
                    id: r.try_get(0)?,
                    destination: r.try_get(1)?,
                    text: r.try_get(2)?,
                    blocks: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    created_at: parse_time(&r.try_get::<String, _>(5)?)?,
                    sending_since: parse_opt_time(r.try_get(6)?)?,
                    refusal: url.map(|u| (u, text.unwrap_or_default())),
                })
            })
            .collect()
    }

    /// Note that a message's first post is about to be made (committed before the Slack
    /// call). Later calls keep the first time: a post may have landed after any of them.
    pub async fn mark_sending(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET sending_at = COALESCE(sending_at, ?) WHERE id = ?")
            .bind(fmt_time(at))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Mark a message delivered, or given up on with `error`.
    pub async fn finish_outgoing(
        &self,
        id: i64,
        now: DateTime<Utc>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET sent_at = ?, last_error = ? WHERE id = ?")
            .bind(fmt_time(now))
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn outgoing_failed(&self, id: i64, error: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ? RETURNING attempts",
        )
        .bind(error)
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Note that Slack refused a recipient. Returns `true` the first time (report it then).
    pub async fn record_recipient_problem(
        &self,
        recipient: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO recipient_problems (recipient, error, first_seen) VALUES (?, ?, ?)
             ON CONFLICT (recipient) DO NOTHING",
        )
        .bind(recipient)
        .bind(error)
        .bind(fmt_time(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Claim a pending timer inside a caller's transaction; `false` when it had fired already.
pub(super) async fn claim_timer(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    timer_id: i64,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    Ok(
        sqlx::query("UPDATE timers SET fired_at = ? WHERE id = ? AND fired_at IS NULL")
            .bind(fmt_time(now))
            .bind(timer_id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Schedule a timer inside a caller's transaction (a second one with the same key is ignored).
pub(super) async fn schedule_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    kind: &str,
    key: &str,
    due_at: DateTime<Utc>,
    payload: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO timers (kind, key, due_at, payload) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(kind)
    .bind(key)
    .bind(fmt_time(due_at))
    .bind(payload)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Put a message in the outbox inside a caller's transaction; delivered after it commits.
pub(super) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    timer_id: Option<i64>,
    message: &NewOutgoing,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    enqueue_answerable(tx, timer_id, message, None, now).await
}

/// [`enqueue`], with whom to tell when Slack refuses the message for good: `refusal`'s
/// destination is a command's response_url, its text what to say before Slack's reason.
pub(super) async fn enqueue_answerable(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    timer_id: Option<i64>,
    message: &NewOutgoing,
    refusal: Option<&NewOutgoing>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (timer_id, destination, text, blocks, created_at, refusal_url, refusal_text)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(timer_id)
    .bind(&message.destination)
    .bind(&message.text)
    .bind(&message.blocks)
    .bind(fmt_time(now))
    .bind(refusal.map(|r| r.destination.as_str()))
    .bind(refusal.map(|r| r.text.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn timer_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<Timer> {
    Ok(Timer {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        key: r.try_get(2)?,
        due_at: parse_time(&r.try_get::<String, _>(3)?)?,
        payload: r.try_get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::temp_store;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[tokio::test]
    async fn a_timer_fires_once_and_schedules_the_next() {
        let (store, _dir) = temp_store().await;
        assert!(store
            .schedule_timer("summary", "summary:a", t("2026-11-21T10:00:00Z"), "{}")
            .await
            .unwrap());
        assert!(!store
            .schedule_timer("summary", "summary:a", t("2026-11-21T10:00:00Z"), "{}")
            .await
            .unwrap());
        assert!(store
            .due_timers(t("2026-11-21T09:59:59Z"))
            .await
            .unwrap()
            .is_empty());
        let due = store.due_timers(t("2026-11-21T10:00:00Z")).await.unwrap();
        assert_eq!(due.len(), 1);
        let fired = FiredSummary {
            summary: SummaryRecord {
                at: t("2026-11-21T10:00:00Z"),
                open_count: 1,
                resolved_count: 0,
                sent: true,
            },
            messages: vec![NewOutgoing {
                destination: "C1".into(),
                text: "hi".into(),
                blocks: None,
            }],
            next: Some(("summary:b".into(), t("2026-11-21T11:00:00Z"))),
        };
        let now = t("2026-11-21T10:00:01Z");
        assert!(store.fire_summary(&due[0], &fired, now).await.unwrap());
        assert!(
            !store.fire_summary(&due[0], &fired, now).await.unwrap(),
            "never twice"
        );
        assert_eq!(store.pending_outbox(10).await.unwrap().len(), 1);
        assert_eq!(
            store.next_due().await.unwrap(),
            Some(t("2026-11-21T11:00:00Z"))
        );
        assert_eq!(store.last_summary().await.unwrap().unwrap().open_count, 1);
    }

    #[tokio::test]
    async fn a_row_keeps_the_time_its_first_post_began() {
        let (store, _dir) = temp_store().await;
        let mut tx = store.pool().begin().await.unwrap();
        let message = NewOutgoing {
            destination: "C1".into(),
            text: "hi".into(),
            blocks: None,
        };
        enqueue(&mut tx, None, &message, t("2026-11-21T10:00:00Z"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let row = store.pending_outbox(10).await.unwrap().remove(0);
        assert_eq!(row.created_at, t("2026-11-21T10:00:00Z"));
        assert_eq!((row.sending_since, row.refusal), (None, None));
        store
            .mark_sending(row.id, t("2026-11-21T10:00:01Z"))
            .await
            .unwrap();
        // A retry after a failed post: a post may have landed after the first mark.
        store
            .mark_sending(row.id, t("2026-11-21T10:00:05Z"))
            .await
            .unwrap();
        let row = store.pending_outbox(10).await.unwrap().remove(0);
        assert_eq!(row.sending_since, Some(t("2026-11-21T10:00:01Z")));
        store
            .finish_outgoing(row.id, t("2026-11-21T10:00:06Z"), None)
            .await
            .unwrap();
        assert!(store.pending_outbox(10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_refused_recipient_is_reported_once() {
        let (store, _dir) = temp_store().await;
        let now = Utc::now();
        assert!(store
            .record_recipient_problem("U0NOPE", "user_not_found", now)
            .await
            .unwrap());
        assert!(!store
            .record_recipient_problem("U0NOPE", "user_not_found", now)
            .await
            .unwrap());
    }
}
