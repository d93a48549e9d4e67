//! The database, through sqlx's `Any` driver: the only module that writes SQL.
//!
//! # Shape
//! - **Per-table functions** (`incidents::by_channel`, `timeline::insert`, `outbox::enqueue`,
//!   …): small, one statement or a few, no use-case logic. The services compose them.
//! - **A unit of work**: [`Store::begin`] gives a [`Tx`]; writes take `&mut Tx` (there is no
//!   other way to write, the inbox's group commit aside), reads take a [`Db`]: `store.db()`
//!   (a pooled connection for the call) or `tx.db()` (inside the unit of work). One
//!   transaction per use case, committed once by the service that opened it.
//! - **One SQL text for every backend**: `$1` placeholders (SQLite takes them too), times as
//!   UTC text in one sortable format, flags as 0/1 integers, no backend-specific functions.
//!   What must differ (connecting, migrations, maintenance) is in [`dialect`] and nowhere
//!   else.
//!
//! SQLite is opened with WAL (readers never block the writer), foreign keys on,
//! `synchronous=NORMAL` (in WAL mode a committed transaction survives a process crash,
//! kill -9 included) and a busy timeout, on one pooled connection. Migrations
//! (`migrations/<backend>/`) run at open.

pub mod actions;
pub mod alarms;
mod dialect;
pub mod escalation;
mod group_commit;
pub mod inbox;
pub mod incidents;
mod maintenance;
pub mod outbox;
pub mod overview;
mod postmortem;
pub mod timeline;
pub mod timers;

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::pool::PoolConnection;
use sqlx::Any;
use sqlx::{AnyConnection, AnyPool};

pub use dialect::Backend;
pub use postmortem::{
    source as postmortem_source, AlarmEvent, AwsCase, CaseMessage, Evidence, Graph, HealthEvent,
    PostmortemSource,
};

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

pub type StoreResult<T> = Result<T, StoreError>;

/// A stored value that does not read back (a bad enum name, an unparsable time).
pub(crate) fn bad(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("bad stored {what}: {value}"))
}

/// The database handle. Cheap to clone (a pool inside).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Inbox records made at the same moment share one statement.
    inbox_writes: std::sync::Arc<group_commit::GroupCommit<inbox::InboundRow, StoreResult<bool>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Open and migrate the database at `url`: `sqlite://path` (created with mode 0600 when
    /// missing; `sqlite::memory:` for throwaway use).
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        let (backend, pool) = dialect::connect(url).await?;
        dialect::migrate(backend, &pool).await?;
        Ok(Store {
            pool,
            backend,
            inbox_writes: std::sync::Arc::new(group_commit::GroupCommit::new(
                inbox::INBOX_ROWS_PER_STATEMENT,
            )),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begin a unit of work. Commit it with [`Tx::commit`]; dropped uncommitted, it rolls
    /// back. Never hold one across a Slack or AWS call: on SQLite every other writer (the
    /// intake, before its acks) waits for it.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let mut tx = Tx {
            conn: self.pool.acquire().await?,
            open: true,
        };
        sqlx::query("BEGIN").execute(tx.conn()).await?;
        Ok(tx)
    }

    /// Reads outside a unit of work: each per-table function takes a pooled connection for
    /// its own statements and gives it back.
    pub fn db(&self) -> Db<'_> {
        Db::Pool(&self.pool)
    }

    /// Whether a write goes through right now (for readiness checks and at start). A real
    /// page write, rolled back: `BEGIN IMMEDIATE` alone succeeds on a read-only WAL database.
    pub async fn check_writable(&self) -> StoreResult<()> {
        dialect::check_writable(self.backend, &self.pool).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A unit of work: one database transaction. Per-table writes take `&mut Tx`.
///
/// Its `BEGIN`, `COMMIT` and `ROLLBACK` are plain statements, and a unit of work that ends
/// any other way (an error on the way, a failed `COMMIT`) closes its connection instead of
/// giving it back: after some errors (SQLite's "database or disk is full") the database
/// has already rolled the transaction back, and sqlx's own transaction bookkeeping would
/// then disagree with it, leaving later work in a transaction that never commits.
pub struct Tx {
    conn: PoolConnection<Any>,
    /// Begun and neither committed nor rolled back.
    open: bool,
}

impl Tx {
    /// Make everything written through this unit of work durable, at once.
    pub async fn commit(mut self) -> StoreResult<()> {
        sqlx::query("COMMIT").execute(self.conn()).await?;
        self.open = false;
        Ok(())
    }

    /// Give up this unit of work (nothing it wrote stays).
    pub async fn rollback(mut self) -> StoreResult<()> {
        sqlx::query("ROLLBACK").execute(self.conn()).await?;
        self.open = false;
        Ok(())
    }

    /// Reads inside this unit of work (they see its writes).
    pub fn db(&mut self) -> Db<'_> {
        Db::Conn(&mut self.conn)
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            // Closing the connection ends the transaction on the server side whatever state
            // it is in; the pool opens a fresh connection for the next unit of work.
            self.conn.close_on_drop();
        }
    }
}

/// Where a read runs: on a pooled connection of its own, or inside a unit of work.
pub enum Db<'a> {
    Pool(&'a AnyPool),
    Conn(&'a mut AnyConnection),
}

impl<'a> Db<'a> {
    /// The connection to run statements on (a pooled one is given back when dropped).
    pub(crate) async fn conn(self) -> StoreResult<Held<'a>> {
        Ok(match self {
            Db::Pool(pool) => Held::Pooled(pool.acquire().await?),
            Db::Conn(c) => Held::Borrowed(c),
        })
    }
}

/// A connection a read holds for its statements.
pub(crate) enum Held<'a> {
    Pooled(PoolConnection<Any>),
    Borrowed(&'a mut AnyConnection),
}

impl Held<'_> {
    /// Another read on the same connection (a read made of other reads).
    pub(crate) fn db(&mut self) -> Db<'_> {
        Db::Conn(self)
    }
}

impl Deref for Held<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Held::Pooled(c) => c,
            Held::Borrowed(c) => c,
        }
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Held::Pooled(c) => c,
            Held::Borrowed(c) => c,
        }
    }
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
        .map_err(|e| bad("time", format!("{s:?} ({e})")))
}

pub(crate) fn parse_opt_time(s: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_time).transpose()
}

/// `$first, $first+1, …` for `n` values: the placeholders of a multi-row statement, in the
/// one syntax both backends take (sqlx's `QueryBuilder` writes `?` for `Any`).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, $3), ($4, $5, $6), …`: `rows` tuples of `width` placeholders.
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
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
        assert!(incidents::list(store.db(), false).await.unwrap().is_empty());
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

    #[test]
    fn multi_row_placeholders_count_on() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(value_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
