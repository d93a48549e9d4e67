//! Operator maintenance: online backups, the schema version, integrity checks.

use std::path::Path;

use anyhow::Context;
use sqlx::Row;

use super::dialect::{self, create_private_file, Backend};
use super::{inbox, Store, StoreResult};

impl Store {
    /// Write a consistent copy of the database to `out` while the bot may be running.
    ///
    /// SQLite: `VACUUM INTO` reads inside one read transaction, so the copy is the database
    /// as of one moment (WAL lets the bot keep writing meanwhile), compacted and free of
    /// WAL files: it can be restored by copying it over the database file. `out` must not
    /// exist; it is created with mode 0600 like the database itself.
    pub async fn backup_to(&self, out: &Path) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => {
                if out.exists() {
                    anyhow::bail!(
                        "{} already exists; choose a new file name or remove it first",
                        out.display()
                    );
                }
                create_private_file(out)
                    .with_context(|| format!("cannot create {}", out.display()))?;
                let target = out
                    .to_str()
                    .with_context(|| format!("{} is not a UTF-8 path", out.display()))?;
                let done = sqlx::query("VACUUM INTO $1")
                    .bind(target)
                    .execute(&self.pool)
                    .await;
                if let Err(e) = done {
                    let _ = std::fs::remove_file(out);
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot write the backup to {}", out.display())));
                }
                Ok(())
            }
        }
    }

    /// The newest applied migration's version (`20261121000001`), and how many are applied.
    pub async fn schema_version(&self) -> StoreResult<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(version), 0), COUNT(*) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The migrations this build knows: (version, description), oldest first.
    pub fn known_migrations(&self) -> Vec<(i64, String)> {
        dialect::known_migrations(self.backend)
    }

    /// SQLite's `PRAGMA integrity_check`: `Ok` when it finds nothing wrong, else what it
    /// found.
    pub async fn integrity_check(&self) -> StoreResult<Result<(), String>> {
        match self.backend {
            Backend::Sqlite => {
                let rows = sqlx::query("PRAGMA integrity_check")
                    .fetch_all(&self.pool)
                    .await?;
                let found: Vec<String> = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                Ok(if found == ["ok"] {
                    Ok(())
                } else {
                    Err(found.join("; "))
                })
            }
        }
    }

    /// How many events are recorded but not applied (a gauge for `/metrics`).
    pub async fn inbox_backlog(&self) -> StoreResult<i64> {
        inbox::backlog(self.db()).await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::temp_store;
    use crate::store::Store;

    #[tokio::test]
    async fn a_backup_opens_as_the_same_database_and_never_overwrites() {
        let (store, dir) = temp_store().await;
        store
            .record_inbound("ev:1", "{}", chrono::Utc::now())
            .await
            .unwrap();
        let out = dir.path().join("copy.db");
        store.backup_to(&out).await.unwrap();
        let copy = Store::open(&format!("sqlite://{}", out.display()))
            .await
            .unwrap();
        assert_eq!(copy.inbox_backlog().await.unwrap(), 1);
        assert_eq!(copy.integrity_check().await.unwrap(), Ok(()));
        assert_eq!(
            copy.schema_version().await.unwrap(),
            store.schema_version().await.unwrap()
        );
        let again = store.backup_to(&out).await.unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
