//! What differs between the backends, and nothing else: how to connect, which migrations
//! run, and the maintenance statements that have no common SQL. Every query of the
//! per-table modules is one text for every backend.

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::AnyPool;
use sqlx::Executor;

use super::StoreResult;

/// Which database a [`super::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, one process: the embedded default.
    Sqlite,
}

impl Backend {
    /// The backend a database URL names, or why it names none.
    pub fn of_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            anyhow::bail!("unsupported database url (use sqlite://path/to/warroom.db)")
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
        }
    }
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite's settings, run on the connection before anything else. WAL lets readers (a
/// backup, `warroom timeline`) work beside the bot; `synchronous=NORMAL` in WAL mode keeps
/// every committed transaction across a process crash (kill -9), though not necessarily
/// across a power loss; the busy timeout makes a second writer wait instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Open a pool on `url`, with the backend's settings.
pub(super) async fn connect(url: &str) -> anyhow::Result<(Backend, AnyPool)> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).with_context(|| format!("invalid database url {url:?}"))?;
    match backend {
        Backend::Sqlite => {
            let path = sqlite_path(url)?;
            let in_memory = url.contains(":memory:") || path.as_os_str().is_empty();
            if !in_memory && !path.exists() {
                create_private_file(&path)
                    .with_context(|| format!("cannot create database file {}", path.display()))?;
            }
            let options: AnyConnectOptions = url
                .parse::<AnyConnectOptions>()
                .with_context(|| format!("invalid database url {url:?}"))?;
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
    }
}

/// Apply the backend's migrations; a database migrated by a newer warroom is refused.
pub(super) async fn migrate(backend: Backend, pool: &AnyPool) -> anyhow::Result<()> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
    };
    match migrator.run(pool).await {
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
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
    };
    migrator
        .iter()
        .map(|m| (m.version, m.description.to_string()))
        .collect()
}

/// A real write, rolled back (see [`super::Store::check_writable`]).
pub(super) async fn check_writable(backend: Backend, pool: &AnyPool) -> StoreResult<()> {
    match backend {
        Backend::Sqlite => {
            let mut tx = pool.begin().await?;
            sqlx::query("CREATE TABLE writable_check (x INTEGER)")
                .execute(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok(())
        }
    }
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
