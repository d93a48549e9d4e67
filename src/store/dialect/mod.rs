//! What differs between the backends, and nothing else: how to connect, which migrations
//! run, the maintenance statements that have no common SQL, and (PostgreSQL only) the
//! lease several replicas share ([`lease`]) and the inbox notifications. Every query of the
//! per-table modules is one text for every backend.

pub mod lease;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyPool, Executor, Row};

use super::{StoreError, StoreResult};
use crate::config::redact_url;

/// Which database a [`super::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one process: the embedded default.
    Sqlite,
    /// A server several replicas share (RDS, Aurora, Cloud SQL, Patroni, …).
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or why it names none.
    pub fn of_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database url (use sqlite://path/to/warroom.db or \
                 postgres://user@host:5432/database)"
            )
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Whether a PostgreSQL error (its SQLSTATE) can go away by trying again: a conflict
/// between transactions (class 40: serialization failure, deadlock), a lost or refused
/// connection (class 08), the server shutting down, restarting or not yet accepting
/// connections (57P01-57P03), out of resources (class 53: too many connections, disk full),
/// a lock not available (55P03), a cancelled statement (57014: a statement timeout), a
/// read-only transaction (25006: connected to a standby during a failover) or an I/O error
/// (class 58). Everything else (data, syntax, constraints, corruption) fails the same way
/// every time.
pub(super) fn postgres_error_is_transient(sqlstate: &str) -> bool {
    let class = sqlstate.get(..2).unwrap_or("");
    matches!(class, "40" | "08" | "53" | "58")
        || matches!(
            sqlstate,
            "57P01" | "57P02" | "57P03" | "57P05" | "57014" | "55P03" | "25006"
        )
}

/// How a store is opened beyond its URL.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// PostgreSQL's `application_name` of every connection (`pg_stat_activity` shows which
    /// replica a connection belongs to).
    pub application_name: String,
    /// PostgreSQL: a transaction left idle this long is ended by the server, so a replica
    /// cut off mid-transaction cannot hold the lease row (and with it a failover) for long.
    pub idle_transaction_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            application_name: "warroom".to_string(),
            idle_transaction_timeout: Duration::from_secs(5),
        }
    }
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// SQLite's settings, run on the connection before anything else. WAL lets readers (a
/// backup, `warroom timeline`) work beside the bot; `synchronous=NORMAL` in WAL mode keeps
/// every committed transaction across a process crash (kill -9), though not necessarily
/// across a power loss; the busy timeout makes a second writer wait instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// PostgreSQL connections per replica: the intake, the worker, the scheduler, the pollers,
/// the lease and the probes each need one at times; a few more absorb bursts.
const POSTGRES_POOL_SIZE: u32 = 10;

/// Open a pool on `url`, with the backend's settings.
pub(super) async fn connect(url: &str, open: &OpenOptions) -> anyhow::Result<(Backend, AnyPool)> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).context("invalid database url")?;
    let options: AnyConnectOptions = url
        .parse::<AnyConnectOptions>()
        .map_err(|e| anyhow::anyhow!("invalid database url: {}", redact_error(&e.to_string())))?;
    match backend {
        Backend::Sqlite => {
            let path = sqlite_path(url)?;
            let in_memory = url.contains(":memory:") || path.as_os_str().is_empty();
            if !in_memory && !path.exists() {
                create_private_file(&path)
                    .with_context(|| format!("cannot create database file {}", path.display()))?;
            }
            // One connection: SQLite takes one writer at a time anyway, and with several
            // connections a writer that finds the lock taken sleeps in SQLite's busy handler
            // (1, 2, 5, 10 … ms) instead of queueing here; each switch of connection also
            // drops the page cache. No ping before each use: a local file does not go stale.
            // Measured in BENCHMARKS.md (figure 2): about twice the recorded-event rate.
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open database {}", path.display()))?;
            Ok((backend, pool))
        }
        Backend::Postgres => {
            let settings = Arc::new(format!(
                "SET application_name = '{}'; SET idle_in_transaction_session_timeout = {};",
                open.application_name.replace('\'', ""),
                open.idle_transaction_timeout.as_millis()
            ));
            // A server connection can go away (failover, pg_terminate_backend, a proxy's
            // idle timeout): each is pinged before use, and a dead one replaced.
            let pool = AnyPoolOptions::new()
                .max_connections(POSTGRES_POOL_SIZE)
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(true)
                .after_connect(move |conn, _| {
                    let settings = settings.clone();
                    Box::pin(async move {
                        conn.execute(settings.as_str()).await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot connect to {}: {}",
                        redact_url(url),
                        redact_error(&e.to_string())
                    )
                })?;
            Ok((backend, pool))
        }
    }
}

/// Apply the backend's migrations; a database migrated by a newer warroom is refused.
pub(super) async fn migrate(backend: Backend, pool: &AnyPool) -> anyhow::Result<()> {
    match migrator(backend).run(pool).await {
        Ok(()) => Ok(()),
        Err(MigrateError::VersionMissing(version)) => anyhow::bail!(
            "the database was migrated by a newer warroom (migration {version} is unknown to \
             warroom {}); run that version or newer, or restore a backup taken before the upgrade",
            env!("CARGO_PKG_VERSION")
        ),
        Err(e) => Err(anyhow::Error::new(e).context("cannot apply database migrations")),
    }
}

/// The migrations this build knows for `backend`: (version, description), oldest first.
pub(super) fn known_migrations(backend: Backend) -> Vec<(i64, String)> {
    migrator(backend)
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// Whether a write would go through (see [`super::Store::check_writable`]).
pub(super) async fn check_writable(backend: Backend, pool: &AnyPool) -> StoreResult<()> {
    match backend {
        // A real page write, rolled back: `BEGIN IMMEDIATE` alone succeeds on a read-only
        // WAL database.
        Backend::Sqlite => {
            let mut tx = pool.begin().await?;
            sqlx::query("CREATE TABLE writable_check (x INTEGER)")
                .execute(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok(())
        }
        // A standby (a failover left the URL on a replica) or a read-only default refuses
        // every write; both are settings to read, no need to write.
        Backend::Postgres => {
            let row = sqlx::query(
                "SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END,
                        current_setting('transaction_read_only')",
            )
            .fetch_one(pool)
            .await?;
            if row.try_get::<i64, _>(0)? != 0 {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "the server is a read-only standby (pg_is_in_recovery)"
                )));
            }
            if row.try_get::<String, _>(1)? == "on" {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "the server makes transactions read-only (default_transaction_read_only)"
                )));
            }
            Ok(())
        }
    }
}

/// The server's version, as `(150004, "15.4")`; `None` for SQLite (embedded).
pub(super) async fn server_version(
    backend: Backend,
    pool: &AnyPool,
) -> StoreResult<Option<(i64, String)>> {
    match backend {
        Backend::Sqlite => Ok(None),
        Backend::Postgres => {
            let row = sqlx::query(
                "SELECT CAST(current_setting('server_version_num') AS BIGINT),
                        current_setting('server_version')",
            )
            .fetch_one(pool)
            .await?;
            Ok(Some((row.try_get(0)?, row.try_get(1)?)))
        }
    }
}

/// The oldest PostgreSQL warroom supports (`server_version_num`): 13, for
/// `GENERATED … AS IDENTITY`, `EXECUTE FUNCTION` triggers and `idle_in_transaction` limits,
/// and because older majors are out of upstream support.
pub const MIN_POSTGRES_VERSION: i64 = 130000;

/// Wake `notify` whenever a replica records an event (PostgreSQL's `LISTEN` on the inbox
/// trigger's channel), until the returned task is aborted. A lost connection is re-made;
/// meanwhile the worker's own poll covers the gap.
pub(super) fn watch_inbox(
    url: String,
    notify: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen("warroom_inbox").await {
                        tracing::warn!(error = %redact_error(&e.to_string()), "cannot LISTEN for new events; polling");
                    } else {
                        // Anything recorded while not listening is picked up now.
                        notify.notify_one();
                        loop {
                            match listener.recv().await {
                                Ok(_) => notify.notify_one(),
                                Err(e) => {
                                    tracing::debug!(error = %redact_error(&e.to_string()), "inbox notifications interrupted");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %redact_error(&e.to_string()), "cannot listen for new events yet")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

/// How `migrate-db` binds a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Integer,
    Text,
    Bytes,
}

/// PostgreSQL (the target of `migrate-db`): the type of each column of `table`.
pub(super) async fn column_types(
    conn: &mut sqlx::AnyConnection,
    table: &str,
) -> anyhow::Result<std::collections::HashMap<String, ColumnType>> {
    let rows = sqlx::query(
        "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT)
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let ty: String = r.try_get(1)?;
            let ty = match ty.as_str() {
                "bigint" | "integer" | "smallint" => ColumnType::Integer,
                "bytea" => ColumnType::Bytes,
                _ => ColumnType::Text,
            };
            Ok((name, ty))
        })
        .collect()
}

/// The id of a new real incident, as an SQL expression. Drills have negative ids
/// (`store::drills`), inserted explicitly. PostgreSQL's identity counter ignores explicit
/// ids, so `DEFAULT` goes on from the last real incident. SQLite gives a new row the
/// largest rowid plus one: with only drills in the table that would be 0, so the first
/// real incident is given 1 explicitly; from then on NULL lets SQLite count on as before.
pub(super) fn new_incident_id(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "(SELECT CASE WHEN COALESCE(MAX(id), 0) < 1 THEN 1 END FROM incidents)",
        Backend::Postgres => "DEFAULT",
    }
}

/// PostgreSQL, after rows were copied into `table` with their ids: move its identity
/// counter past them, so the next row gets a new id.
pub(super) async fn after_copy(conn: &mut sqlx::AnyConnection, table: &str) -> anyhow::Result<()> {
    let types = column_types(&mut *conn, table).await?;
    if !types.contains_key("id") {
        return Ok(());
    }
    let has_sequence = sqlx::query("SELECT CAST(pg_get_serial_sequence($1, 'id') AS TEXT)")
        .bind(table)
        .fetch_one(&mut *conn)
        .await?
        .try_get::<Option<String>, _>(0)?
        .is_some();
    if has_sequence {
        // `table` is one of store::copy::TABLES, never input.
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence($1, 'id'),
                           GREATEST(COALESCE((SELECT MAX(id) FROM {table}), 0), 0) + 1,
                           false)"
        ))
        .bind(table)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// An error message from the driver, without anything that could be a password (sqlx may
/// quote the URL it failed on).
fn redact_error(message: &str) -> String {
    message
        .split_whitespace()
        .map(|w| {
            if w.contains("://") {
                redact_url(w.trim_matches(|c| c == '"' || c == '\''))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The file behind a `sqlite://` URL.
pub(super) fn sqlite_path(url: &str) -> anyhow::Result<std::path::PathBuf> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid database url {url:?}"))?;
    Ok(options.get_filename().to_path_buf())
}

#[cfg(unix)]
pub(super) fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
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
pub(super) fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact_url("postgres://warroom:s3cret@db.internal:5432/warroom?sslmode=require"),
            "postgres://warroom:***@db.internal:5432/warroom?sslmode=require"
        );
        let q = redact_url("postgres://db/warroom?user=w&password=s3cret");
        assert!(!q.contains("s3cret") && q.contains("password=***"), "{q}");
        assert_eq!(
            redact_url("sqlite:///var/lib/warroom/warroom.db"),
            "sqlite:///var/lib/warroom/warroom.db"
        );
        let e = redact_error("error with configuration: postgres://a:s3cret@h/d is bad");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn backends_are_named_by_their_url() {
        assert_eq!(Backend::of_url("sqlite://w.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgres://h/d").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of_url("postgresql://h/d").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of_url("mysql://h/d").is_err());
    }
}
