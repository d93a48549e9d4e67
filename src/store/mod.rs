//! SQLite through sqlx: the only module that writes SQL.
//!
//! Opened with WAL (readers never block the writer), foreign keys on, `synchronous=NORMAL`
//! (in WAL mode a committed transaction survives a process crash, kill -9 included) and a
//! busy timeout so a second writer waits instead of failing. Migrations in `migrations/`
//! run at open. Times are stored as UTC text in one fixed, sortable format.

mod actions;
mod alarms;
mod changes;
mod escalation;
mod graphs;
mod group_commit;
mod inbox;
mod incidents;
mod maintenance;
mod overview;
mod postmortem;
mod timeline;
mod timers;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use actions::{ActionItem, CloseOutcome};
pub use alarms::{outcome as alarm_outcome, AlarmIncident, AlarmTransition, WatchedAlarm};
pub use changes::alarm_changes_key;
pub use escalation::{
    nudge_timer_key, parse_nudge_payload, CaseCorrespondence, NewCase, NudgeAnswer, NudgeOutcome,
    SupportCase, CASE_RETRY_TIMER, NUDGE_TIMER,
};
pub use graphs::Graph;
pub use inbox::{FailedEvent, InboxRow};
pub use incidents::{IncidentRecord, NewIncident};
pub use overview::CaseGlance;
pub use postmortem::{
    AlarmEvent, AwsCase, CaseMessage, CaseMessageKind, Evidence, HealthEvent, PostmortemSource,
};
pub use timeline::{message_key as timeline_message_key, NewEntry, TimelineEntry};
pub use timers::{FiredSummary, NewOutgoing, OutboxRow, SummaryRecord, Timer};

/// Errors callers may want to tell apart; everything else is `Other` with its context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Other(anyhow::Error::new(e))
    }
}

impl StoreError {
    /// Whether trying again can help: a busy, locked or full database, an I/O or pool
    /// problem. A constraint violation, a row that does not decode, a corrupt file or a
    /// missing row fails the same way every time.
    pub fn is_transient(&self) -> bool {
        let StoreError::Other(e) = self else {
            return false;
        };
        let Some(sql) = e.chain().find_map(|c| c.downcast_ref::<sqlx::Error>()) else {
            // Our own checks of what was read (a bad stored time, an unknown kind).
            return false;
        };
        match sql {
            sqlx::Error::Database(db) => {
                use sqlx::error::ErrorKind;
                if !matches!(db.kind(), ErrorKind::Other) {
                    return false; // unique, foreign key, not null, check
                }
                // SQLite's primary result code: CORRUPT, TOOBIG, CONSTRAINT, MISMATCH,
                // RANGE, NOTADB cannot go away by themselves.
                let primary = db
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .map(|c| c & 0xff);
                !matches!(primary, Some(11 | 18 | 19 | 20 | 25 | 26))
            }
            sqlx::Error::RowNotFound
            | sqlx::Error::TypeNotFound { .. }
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Encode(_)
            | sqlx::Error::Decode(_) => false,
            _ => true,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database handle. Cheap to clone (a pool inside).
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Inbox records made at the same moment share one statement.
    inbox_writes: std::sync::Arc<group_commit::GroupCommit<inbox::InboundRow, StoreResult<bool>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("pool", &self.pool).finish()
    }
}

impl Store {
    /// Open (creating it with mode 0600 when missing) and migrate the database at `url`
    /// (`sqlite://path`, or `sqlite::memory:` for throwaway use).
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid database url {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let path = options.get_filename().to_path_buf();
        let in_memory = url.contains(":memory:") || path.as_os_str().is_empty();
        if !in_memory && !path.exists() {
            create_private_file(&path)
                .with_context(|| format!("cannot create database file {}", path.display()))?;
        }
        // One connection: SQLite takes one writer at a time anyway, and with several
        // connections a writer that finds the lock taken sleeps in SQLite's busy handler
        // (1, 2, 5, 10 … ms) instead of queueing here; each switch of connection also drops
        // the page cache. No ping before each use: a local file does not go stale.
        // Measured in BENCHMARKS.md (figure 2): about twice the recorded-event rate.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;
        Ok(Store {
            pool,
            inbox_writes: std::sync::Arc::new(group_commit::GroupCommit::new(
                inbox::INBOX_ROWS_PER_STATEMENT,
            )),
        })
    }

    /// Whether a write goes through right now (for readiness checks and at start). A real
    /// page write, rolled back: `BEGIN IMMEDIATE` alone succeeds on a read-only WAL database.
    pub async fn check_writable(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("CREATE TABLE writable_check (x)")
            .execute(&mut *tx)
            .await?;
        tx.rollback().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[cfg(unix)]
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

#[cfg(not(unix))]
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
}

/// The stored time format, for keys derived from times (`2026-11-21T13:50:00.000Z`).
pub fn format_time(t: DateTime<Utc>) -> String {
    fmt_time(t)
}

/// The one stored time format: `2026-11-21T13:50:00.000Z`.
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_time(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Other(anyhow::anyhow!("bad stored time {s:?}: {e}")))
}

pub(crate) fn parse_opt_time(s: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_time).transpose()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Store;

    /// A fresh on-disk database in a temp dir (kept alive by the returned guard).
    pub async fn temp_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (Store::open(&url).await.unwrap(), dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_file_is_private_and_migrated() {
        let (store, dir) = test_support::temp_store().await;
        store.check_writable().await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("t.db"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM incidents")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn store_errors_a_retry_cannot_fix_are_told_apart() {
        let (store, _dir) = test_support::temp_store().await;
        sqlx::query("INSERT INTO inbox (dedupe_key, payload, received_at) VALUES ('k', '', 't')")
            .execute(store.pool())
            .await
            .unwrap();
        let duplicate = sqlx::query(
            "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES ('k', '', 't')",
        )
        .execute(store.pool())
        .await
        .unwrap_err();
        assert!(
            !StoreError::from(duplicate).is_transient(),
            "a constraint violation"
        );
        let decode = sqlx::query_as::<_, (i64,)>("SELECT 'not a number'")
            .fetch_one(store.pool())
            .await
            .unwrap_err();
        assert!(
            !StoreError::from(decode).is_transient(),
            "a value that does not decode"
        );
        assert!(
            !parse_time("garbage").unwrap_err().is_transient(),
            "a corrupt row"
        );
        assert!(!StoreError::NotFound("incident #9".into()).is_transient());
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_transient());
        let context = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("reading the inbox");
        assert!(StoreError::Other(context).is_transient(), "through context");
    }

    #[test]
    fn time_format_round_trips_and_sorts() {
        let a = DateTime::parse_from_rfc3339("2026-11-21T09:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = a + chrono::Duration::milliseconds(1500);
        assert_eq!(parse_time(&fmt_time(a)).unwrap(), a);
        assert!(fmt_time(a) < fmt_time(b));
        assert_eq!(fmt_time(a), "2026-11-21T09:05:00.000Z");
    }
}
