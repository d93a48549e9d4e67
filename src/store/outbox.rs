//! The outbox: every message warroom posts on its own initiative (notices, summaries,
//! nudges, mirrored AWS replies), enqueued in the unit of work that records what it
//! announces and delivered by the scheduler, in order, effectively once.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::domain::OutboxDestination;

use super::{fmt_time, parse_opt_time, parse_time, Db, StoreResult, Tx};

/// A message waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub destination: OutboxDestination,
    pub text: String,
    pub blocks: Option<String>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    /// When its first post began ([`mark_sending`]); set on a row not yet marked sent
    /// means a post may already be in Slack.
    pub sending_since: Option<DateTime<Utc>>,
    /// Where to tell the person behind the message when Slack refuses it for good (a
    /// command's response_url), and what to say before Slack's reason.
    pub refusal: Option<(String, String)>,
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewOutgoing {
    /// A channel, or a person for a direct message.
    pub destination: OutboxDestination,
    pub text: String,
    /// Block Kit JSON.
    pub blocks: Option<String>,
}

/// Whom to tell, privately, when Slack refuses a message for good.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The command's `response_url`.
    pub response_url: String,
    /// What to say before Slack's reason.
    pub text: String,
}

/// Put a message in the outbox; it is delivered after the unit of work commits.
pub async fn enqueue(tx: &mut Tx, message: &NewOutgoing, now: DateTime<Utc>) -> StoreResult<()> {
    insert(tx, None, message, None, now).await
}

/// [`enqueue`], with whom to tell when Slack refuses the message for good.
pub async fn enqueue_answerable(
    tx: &mut Tx,
    message: &NewOutgoing,
    refusal: Option<&Refusal>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    insert(tx, None, message, refusal, now).await
}

/// [`enqueue`] for a message a fired timer produced (a summary, a nudge).
pub async fn enqueue_for_timer(
    tx: &mut Tx,
    timer_id: i64,
    message: &NewOutgoing,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    insert(tx, Some(timer_id), message, None, now).await
}

async fn insert(
    tx: &mut Tx,
    timer_id: Option<i64>,
    message: &NewOutgoing,
    refusal: Option<&Refusal>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (timer_id, destination, text, blocks, created_at, refusal_url,
                             refusal_text)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(timer_id)
    .bind(message.destination.as_str())
    .bind(&message.text)
    .bind(&message.blocks)
    .bind(fmt_time(now))
    .bind(refusal.map(|r| r.response_url.as_str()))
    .bind(refusal.map(|r| r.text.as_str()))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Messages not yet delivered, oldest first.
pub async fn pending(db: Db<'_>, limit: i64) -> StoreResult<Vec<OutboxRow>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT id, destination, text, blocks, attempts, created_at, sending_at,
                refusal_url, refusal_text
         FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let url: Option<String> = r.try_get(7)?;
            let text: Option<String> = r.try_get(8)?;
            Ok(OutboxRow {
                id: r.try_get(0)?,
                destination: OutboxDestination::from_stored(r.try_get::<String, _>(1)?),
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

/// Every message delivered (destination, text), oldest first: what Slack should show, once
/// each (the chaos suite compares).
pub async fn delivered(db: Db<'_>) -> StoreResult<Vec<(String, String)>> {
    let mut c = db.conn().await?;
    let rows = sqlx::query(
        "SELECT destination, text FROM outbox
         WHERE sent_at IS NOT NULL AND last_error IS NULL ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Note that a message's first post is about to be made (committed before the Slack
/// call). Later calls keep the first time: a post may have landed after any of them.
pub async fn mark_sending(tx: &mut Tx, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query("UPDATE outbox SET sending_at = COALESCE(sending_at, $1) WHERE id = $2")
        .bind(fmt_time(at))
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Mark a message delivered, or given up on with `error`.
pub async fn finish(
    tx: &mut Tx,
    id: i64,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query("UPDATE outbox SET sent_at = $1, last_error = $2 WHERE id = $3")
        .bind(fmt_time(now))
        .bind(error)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Count a failed delivery; the attempts so far.
pub async fn failed(tx: &mut Tx, id: i64, error: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2
         RETURNING attempts",
    )
    .bind(error)
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    Ok(row.try_get(0)?)
}

/// Note that Slack refused a recipient. Returns `true` the first time (report it then).
pub async fn record_recipient_problem(
    tx: &mut Tx,
    recipient: &str,
    error: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO recipient_problems (recipient, error, first_seen) VALUES ($1, $2, $3)
         ON CONFLICT (recipient) DO NOTHING",
    )
    .bind(recipient)
    .bind(error)
    .bind(fmt_time(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_both_backends;
    use crate::store::Store;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    async fn a_row_keeps_the_time_its_first_post_began(store: Store) {
        let message = NewOutgoing {
            destination: OutboxDestination::channel("C1"),
            text: "hi".into(),
            blocks: None,
        };
        let mut tx = store.begin().await.unwrap();
        enqueue(&mut tx, &message, t("2026-11-21T10:00:00Z"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let row = pending(store.db(), 10).await.unwrap().remove(0);
        assert_eq!(row.created_at, t("2026-11-21T10:00:00Z"));
        assert_eq!((row.sending_since, row.refusal), (None, None));
        for at in ["2026-11-21T10:00:01Z", "2026-11-21T10:00:05Z"] {
            // The second: a retry after a failed post; a post may have landed after the first.
            let mut tx = store.begin().await.unwrap();
            mark_sending(&mut tx, row.id, t(at)).await.unwrap();
            tx.commit().await.unwrap();
        }
        let row = pending(store.db(), 10).await.unwrap().remove(0);
        assert_eq!(row.sending_since, Some(t("2026-11-21T10:00:01Z")));
        let mut tx = store.begin().await.unwrap();
        assert_eq!(failed(&mut tx, row.id, "503").await.unwrap(), 1);
        finish(&mut tx, row.id, t("2026-11-21T10:00:06Z"), None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(pending(store.db(), 10).await.unwrap().is_empty());
    }

    async fn a_refusal_is_kept_with_its_message(store: Store) {
        let notice = NewOutgoing {
            destination: OutboxDestination::channel("C0INC"),
            text: "severity SEV2 → SEV1".into(),
            blocks: None,
        };
        let refusal = Refusal {
            response_url: "https://hooks.example/response".into(),
            text: "the change is recorded, but its notice could not be posted".into(),
        };
        let mut tx = store.begin().await.unwrap();
        enqueue_answerable(&mut tx, &notice, Some(&refusal), Utc::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let row = pending(store.db(), 10).await.unwrap().remove(0);
        assert_eq!(row.destination, OutboxDestination::channel("C0INC"));
        assert_eq!(
            row.refusal,
            Some((refusal.response_url.clone(), refusal.text.clone()))
        );
    }

    async fn a_refused_recipient_is_reported_once(store: Store) {
        let now = Utc::now();
        let mut tx = store.begin().await.unwrap();
        assert!(
            record_recipient_problem(&mut tx, "U0NOPE", "user_not_found", now)
                .await
                .unwrap()
        );
        assert!(
            !record_recipient_problem(&mut tx, "U0NOPE", "user_not_found", now)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
    }

    on_both_backends!(
        a_row_keeps_the_time_its_first_post_began,
        a_refusal_is_kept_with_its_message,
        a_refused_recipient_is_reported_once,
    );
}
