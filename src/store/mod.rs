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
//! kill -9 included) and a busy timeout, on one pooled connection. PostgreSQL gets a pool
//! of connections and, when several replicas share it, a [`Fence`]: every unit of work of
//! the leader checks its lease's term before it writes. Migrations (`migrations/<backend>/`)
//! run at open.

pub mod actions;
pub mod alarms;
pub mod changes;
pub mod checklist;
pub mod copy;
mod dialect;
pub mod drills;
pub mod escalation;
pub mod graphs;
mod group_commit;
pub mod inbox;
pub mod incidents;
mod instance;
mod maintenance;
pub mod outbox;
pub mod overview;
pub mod people;
mod postmortem;
pub mod reports;
pub mod timeline;
pub mod timers;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::pool::PoolConnection;
use sqlx::Any;
use sqlx::{AnyConnection, AnyPool};

pub use dialect::lease::LeaseState;
pub use dialect::{Backend, OpenOptions, MIN_POSTGRES_VERSION};
pub use graphs::Graph;
pub(crate) use instance::host_name;
pub use instance::InstanceLock;
pub use postmortem::{
    source as postmortem_source, AlarmEvent, AwsCase, CaseMessage, CaseMessageKind, Evidence,
    HealthEvent, PostmortemSource,
};

/// Errors callers may want to tell apart; everything else is `Other` with its context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    /// A unit of work of a replica that does not (or no longer) lead: nothing was written.
    #[error("this replica does not hold the lease (another replica leads)")]
    NotLeader,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Other(anyhow::Error::new(e))
    }
}

impl StoreError {
    /// Whether trying again can help: a busy, locked or full database, a serialization
    /// failure or deadlock, a lost connection, a server shutting down or failing over, an
    /// I/O or pool problem. A constraint violation, a row that does not decode, a corrupt
    /// file or a missing row fails the same way every time. ([`StoreError::NotLeader`] is
    /// not: this replica must stop writing, not try again.)
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
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    return dialect::postgres_error_is_transient(pg.code());
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

/// A stored value that does not read back (a bad enum name, an unparsable time).
pub(crate) fn bad(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("bad stored {what}: {value}"))
}

/// Which term this replica leads in, if it leads: what every unit of work checks on
/// PostgreSQL before it writes (the lease's fencing token). Set by the replica's lease loop.
#[derive(Debug)]
pub struct Fence {
    holder: String,
    /// 0: not leading.
    term: AtomicI64,
}

impl Fence {
    pub fn new(holder: &str) -> Fence {
        Fence {
            holder: holder.to_string(),
            term: AtomicI64::new(0),
        }
    }

    /// This replica's name in the lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The term this replica leads in, if it leads.
    pub fn term(&self) -> Option<i64> {
        Some(self.term.load(Ordering::SeqCst)).filter(|t| *t > 0)
    }

    /// Lead in `term`, or (None) not at all.
    pub fn set(&self, term: Option<i64>) {
        self.term.store(term.unwrap_or(0), Ordering::SeqCst);
    }
}

/// The database handle. Cheap to clone (a pool inside).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL it was opened with (for backups and the inbox listener; may hold a password:
    /// never shown).
    url: Arc<String>,
    /// Several replicas: every unit of work checks this replica still leads.
    fence: Option<Arc<Fence>>,
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
        Self::open_with(url, &OpenOptions::default()).await
    }

    /// [`Store::open`] with the replica's connection settings.
    pub async fn open_with(url: &str, options: &OpenOptions) -> anyhow::Result<Store> {
        let (backend, pool) = dialect::connect(url, options).await?;
        dialect::migrate(backend, &pool).await?;
        Ok(Store {
            pool,
            backend,
            url: Arc::new(url.to_string()),
            fence: None,
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
    ///
    /// With a [`Fence`], the unit of work first checks that this replica still leads, and
    /// fails with [`StoreError::NotLeader`] (writing nothing) when it does not.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let term = match &self.fence {
            Some(fence) => Some(fence.term().ok_or(StoreError::NotLeader)?),
            None => None,
        };
        let mut tx = Tx {
            conn: self.pool.acquire().await?,
            backend: self.backend,
            open: true,
        };
        sqlx::query("BEGIN").execute(tx.conn()).await?;
        if let (Some(fence), Some(term)) = (&self.fence, term) {
            if !dialect::lease::check_fence(tx.conn(), fence.holder(), term).await? {
                tx.rollback().await?;
                return Err(StoreError::NotLeader);
            }
        }
        Ok(tx)
    }

    /// This store, with every unit of work fenced by `fence` (PostgreSQL; SQLite has one
    /// process per file and needs none).
    pub fn with_fence(&self, fence: Arc<Fence>) -> Store {
        Store {
            fence: (self.backend == Backend::Postgres).then_some(fence),
            ..self.clone()
        }
    }

    /// PostgreSQL: take the lease for `holder`, or renew it (see [`dialect::lease::acquire`]).
    pub async fn lease_acquire(
        &self,
        holder: &str,
        duration: Duration,
    ) -> StoreResult<Option<i64>> {
        self.postgres_only("the lease")?;
        dialect::lease::acquire(&self.pool, holder, duration).await
    }

    /// PostgreSQL: give the lease up at once (a graceful stop).
    pub async fn lease_release(&self, holder: &str, term: i64) -> StoreResult<()> {
        self.postgres_only("the lease")?;
        dialect::lease::release(&self.pool, holder, term).await
    }

    /// PostgreSQL: who leads; `None` on SQLite (one process, always its own leader).
    pub async fn lease_state(&self) -> StoreResult<Option<LeaseState>> {
        match self.backend {
            Backend::Sqlite => Ok(None),
            Backend::Postgres => Ok(Some(dialect::lease::state(&self.pool).await?)),
        }
    }

    /// PostgreSQL: wake `notify` whenever any replica records an event, until the task is
    /// aborted; `None` on SQLite, where the one process wakes its worker itself.
    pub fn watch_inbox(
        &self,
        notify: Arc<tokio::sync::Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        (self.backend == Backend::Postgres)
            .then(|| dialect::watch_inbox(self.url.to_string(), notify))
    }

    /// The server's version number (`150004`) and name (`15.4`); `None` for SQLite.
    pub async fn server_version(&self) -> StoreResult<Option<(i64, String)>> {
        dialect::server_version(self.backend, &self.pool).await
    }

    /// SQLite: hold the database file for this process, refusing when another process
    /// holds it or when the file is on a network file system (see [`InstanceLock`]).
    /// `None` for PostgreSQL, which any number of replicas share.
    pub fn claim_instance(&self) -> anyhow::Result<Option<InstanceLock>> {
        match self.backend {
            Backend::Sqlite => {
                let path = dialect::sqlite_path(&self.url)?;
                if path.as_os_str().is_empty() || self.url.contains(":memory:") {
                    return Ok(None);
                }
                InstanceLock::take(&path).map(Some)
            }
            Backend::Postgres => Ok(None),
        }
    }

    fn postgres_only(&self, what: &str) -> StoreResult<()> {
        match self.backend {
            Backend::Postgres => Ok(()),
            Backend::Sqlite => Err(StoreError::Other(anyhow::anyhow!(
                "{what} exists only on PostgreSQL"
            ))),
        }
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
    /// Which database: for the few statements whose text comes from `dialect`.
    backend: Backend,
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

    pub(crate) fn backend(&self) -> Backend {
        self.backend
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

    /// A fresh database on this test binary's throwaway PostgreSQL cluster.
    pub async fn pg_store() -> Store {
        let cluster = tokio::task::spawn_blocking(crate::pg_cluster::Cluster::shared)
            .await
            .unwrap();
        let url = cluster.fresh_database().await.unwrap();
        Store::open(&url).await.unwrap()
    }

    /// Run store tests on both backends: for each `async fn name(store: Store)`, a module
    /// `name` with a `sqlite` and a `postgres` test.
    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => { $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let (store, _dir) = crate::store::test_support::temp_store().await;
                    super::$name(store).await
                }
                #[tokio::test]
                async fn postgres() {
                    let store = crate::store::test_support::pg_store().await;
                    super::$name(store).await
                }
            }
        )* };
    }
    pub(crate) use on_both_backends;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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

    /// Two replicas on one PostgreSQL: one holds the lease; the other's units of work are
    /// refused; once the lease lapses the other takes it in a new term, and the first one's
    /// units of work (begun or not) write nothing any more.
    #[tokio::test]
    async fn a_deposed_leader_cannot_write() {
        let a = test_support::pg_store().await;
        let url = a.url.to_string();
        let b = Store::open(&url).await.unwrap();
        let (fa, fb) = (Arc::new(Fence::new("a")), Arc::new(Fence::new("b")));
        let (sa, sb) = (a.with_fence(fa.clone()), b.with_fence(fb.clone()));
        let lease = Duration::from_millis(800);
        let term = a.lease_acquire("a", lease).await.unwrap().unwrap();
        fa.set(Some(term));
        assert_eq!(
            b.lease_acquire("b", lease).await.unwrap(),
            None,
            "a holds it"
        );
        assert!(matches!(sb.begin().await, Err(StoreError::NotLeader)));
        // The leader writes; renewing keeps its term.
        let mut tx = sa.begin().await.unwrap();
        timers::schedule(&mut tx, "k", "k:1", Utc::now(), "{}")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(a.lease_acquire("a", lease).await.unwrap(), Some(term));
        // a stops renewing; once the lease lapsed, b takes it in the next term.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let term_b = loop {
            if let Some(t) = b.lease_acquire("b", lease).await.unwrap() {
                break t;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the lease never lapsed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(term_b, term + 1);
        fb.set(Some(term_b));
        // a still believes it leads: its fence check fails inside the transaction.
        assert!(matches!(sa.begin().await, Err(StoreError::NotLeader)));
        let state = a.lease_state().await.unwrap().unwrap();
        assert_eq!(
            (state.holder.as_str(), state.term, state.valid),
            ("b", term_b, true)
        );
        // Giving the lease up lets the other take it at once, in a new term.
        b.lease_release("b", term_b).await.unwrap();
        assert_eq!(a.lease_acquire("a", lease).await.unwrap(), Some(term_b + 1));
        assert!(matches!(sb.begin().await, Err(StoreError::NotLeader)));
    }

    /// A takeover waits for the leader's transaction that passed its fence check, so what
    /// the old term writes lands before the new term begins.
    #[tokio::test]
    async fn a_takeover_waits_for_the_old_terms_transaction_in_flight() {
        let a = test_support::pg_store().await;
        let b = Store::open(&a.url).await.unwrap();
        let fa = Arc::new(Fence::new("a"));
        let sa = a.with_fence(fa.clone());
        let lease = Duration::from_millis(500);
        fa.set(a.lease_acquire("a", lease).await.unwrap());
        let mut tx = sa.begin().await.unwrap(); // fence checked; the lease row is share-locked
        tokio::time::sleep(lease + Duration::from_millis(200)).await; // lapsed meanwhile
        let taker = tokio::spawn(async move { b.lease_acquire("b", Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !taker.is_finished(),
            "the takeover waits for the old term's transaction"
        );
        timers::schedule(&mut tx, "k", "k:old-term", Utc::now(), "{}")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let term_b = taker.await.unwrap().unwrap();
        assert!(term_b.is_some(), "then it takes the lease");
        assert_eq!(timers::pending_of_kind(a.db(), "k").await.unwrap().len(), 1);
    }

    /// A database a newer warroom migrated is refused with a message that says so, on both
    /// backends (sqlx would otherwise report a bare "migration … missing").
    async fn a_database_from_a_newer_warroom_is_refused(store: Store) {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (29991231000000, 'from the future', TRUE, $1, 0)",
        )
        .bind(vec![0u8; 48])
        .execute(&store.pool)
        .await
        .unwrap();
        let url = store.url.to_string();
        store.close().await;
        let err = Store::open(&url).await.unwrap_err().to_string();
        assert!(
            err.contains("migrated by a newer warroom") && err.contains("29991231000000"),
            "{err}"
        );
    }

    test_support::on_both_backends!(a_database_from_a_newer_warroom_is_refused);

    async fn store_errors_a_retry_cannot_fix_are_told_apart(store: Store) {
        sqlx::query("INSERT INTO inbox (dedupe_key, payload, received_at) VALUES ('k', '', 't')")
            .execute(&store.pool)
            .await
            .unwrap();
        let duplicate = sqlx::query(
            "INSERT INTO inbox (dedupe_key, payload, received_at) VALUES ('k', '', 't')",
        )
        .execute(&store.pool)
        .await
        .unwrap_err();
        assert!(
            !StoreError::from(duplicate).is_transient(),
            "a constraint violation"
        );
        let decode = sqlx::query_as::<_, (i64,)>("SELECT 'not a number'")
            .fetch_one(&store.pool)
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
        assert!(!StoreError::NotLeader.is_transient());
    }

    test_support::on_both_backends!(store_errors_a_retry_cannot_fix_are_told_apart);

    /// PostgreSQL's errors of a server going away, a failover or a conflict between
    /// transactions are worth retrying; the real ones, raised by the server.
    #[tokio::test]
    async fn postgres_errors_worth_retrying_are_told_apart() {
        let store = test_support::pg_store().await;
        let raise = |state: &'static str| {
            let store = store.clone();
            async move {
                let sql = format!(
                    "DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{state}'; END $$"
                );
                StoreError::from(sqlx::query(&sql).execute(&store.pool).await.unwrap_err())
            }
        };
        for state in [
            "40001", "40P01", "57P01", "57P03", "08006", "53300", "55P03", "25006",
        ] {
            assert!(raise(state).await.is_transient(), "{state}");
        }
        for state in ["22P02", "42601", "XX001", "P0001"] {
            assert!(!raise(state).await.is_transient(), "{state}");
        }
        // A connection the server cut (pg_terminate_backend) is worth retrying too.
        let mut victim = store.pool.acquire().await.unwrap();
        let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
            .fetch_one(&mut *victim)
            .await
            .unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&store.pool)
            .await
            .unwrap();
        let cut = sqlx::query("SELECT 1")
            .execute(&mut *victim)
            .await
            .unwrap_err();
        assert!(StoreError::from(cut).is_transient());
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
