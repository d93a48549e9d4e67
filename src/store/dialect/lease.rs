//! PostgreSQL only: the lease that makes one replica the leader, and its fencing term.
//!
//! One row (`leadership`, id 1): who holds the lease, its term and when it expires, in the
//! database server's time (`clock_timestamp()`), so no replica's clock matters. Taking the
//! lease after it lapsed starts a new term; every unit of work of the leader first checks,
//! `FOR SHARE`, that the row still names it with its term ([`check_fence`]). A takeover has
//! to update the row, so it waits for every leader transaction already past its check, and
//! no later one passes: a deposed leader cannot write.

use std::time::Duration;

use sqlx::{AnyConnection, AnyPool, Row};

use crate::store::StoreResult;

/// The lease as the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// The replica holding it ('' before any did).
    pub holder: String,
    /// The fencing token: +1 each time the lease was taken after it lapsed.
    pub term: i64,
    /// Whether it is still valid.
    pub valid: bool,
    /// Since the current term began.
    pub held_for: Duration,
    /// Since the last renewal.
    pub renewed_ago: Duration,
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Take the lease for `holder` if it lapsed, or renew it if `holder` has it, for
/// `duration` from now. Returns the term `holder` leads in, or `None` while another
/// replica's lease is valid. A lease that lapsed, even one `holder` had, starts a new term:
/// whatever the old term had in flight can no longer commit.
pub async fn acquire(pool: &AnyPool, holder: &str, duration: Duration) -> StoreResult<Option<i64>> {
    let mut tx = pool.begin().await?;
    // A takeover waits for the old leader's transactions that passed their fence check;
    // one stuck on a dead connection is ended by idle_in_transaction_session_timeout, and
    // meanwhile this attempt gives up and is tried again.
    sqlx::query("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(
        "UPDATE leadership SET
             term = CASE WHEN holder = $1 AND expires_at > clock_timestamp()
                         THEN term ELSE term + 1 END,
             acquired_at = CASE WHEN holder = $1 AND expires_at > clock_timestamp()
                                THEN acquired_at ELSE clock_timestamp() END,
             holder = $1,
             renewed_at = clock_timestamp(),
             expires_at = clock_timestamp() + $2 * INTERVAL '1 millisecond'
         WHERE id = 1 AND (holder = $1 OR expires_at <= clock_timestamp())
         RETURNING term",
    )
    .bind(holder)
    .bind(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

/// Give the lease up (a graceful stop): another replica takes it at its next look instead
/// of waiting for it to lapse.
pub async fn release(pool: &AnyPool, holder: &str, term: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE leadership SET expires_at = clock_timestamp()
         WHERE id = 1 AND holder = $1 AND term = $2",
    )
    .bind(holder)
    .bind(term)
    .execute(pool)
    .await?;
    Ok(())
}

/// Inside a leader's transaction, before it writes: whether `holder` still leads in
/// `term`. The row stays share-locked until the transaction ends, so no takeover commits
/// in between.
pub async fn check_fence(conn: &mut AnyConnection, holder: &str, term: i64) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT 1 FROM leadership
         WHERE id = 1 AND holder = $1 AND term = $2 AND expires_at > clock_timestamp()
         FOR SHARE",
    )
    .bind(holder)
    .bind(term)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Who leads, for `warroom doctor` and the operators.
pub async fn state(pool: &AnyPool) -> StoreResult<LeaseState> {
    let row = sqlx::query(
        "SELECT holder, term,
                CASE WHEN expires_at > clock_timestamp() THEN 1 ELSE 0 END,
                CAST(EXTRACT(EPOCH FROM clock_timestamp() - acquired_at) * 1000 AS BIGINT),
                CAST(EXTRACT(EPOCH FROM clock_timestamp() - renewed_at) * 1000 AS BIGINT)
         FROM leadership WHERE id = 1",
    )
    .fetch_one(pool)
    .await?;
    Ok(LeaseState {
        holder: row.try_get(0)?,
        term: row.try_get(1)?,
        valid: row.try_get::<i64, _>(2)? != 0,
        held_for: millis(row.try_get(3)?),
        renewed_ago: millis(row.try_get(4)?),
    })
}
