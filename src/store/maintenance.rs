//! Operator maintenance: online backups, the schema version, integrity checks.

use std::path::Path;

use anyhow::Context;
use sqlx::Row;

use super::dialect::{self, create_private_file, Backend};
use super::{inbox, Store, StoreResult};
use crate::config::redact_url;

impl Store {
    /// Write a consistent copy of the database to `out` while the bot may be running.
    ///
    /// SQLite: `VACUUM INTO` reads inside one read transaction, so the copy is the database
    /// as of one moment (WAL lets the bot keep writing meanwhile), compacted and free of
    /// WAL files: it can be restored by copying it over the database file. `out` must not
    /// exist; it is created with mode 0600 like the database itself.
    ///
    /// PostgreSQL is backed up with its own tools: this runs `pg_dump --format=custom` (a
    /// consistent snapshot too, restored with `pg_restore`) when it is on PATH, with the
    /// password passed in `PGPASSWORD`, never on its command line; otherwise it says how.
    pub async fn backup_to(&self, out: &Path) -> anyhow::Result<()> {
        if out.exists() {
            anyhow::bail!(
                "{} already exists; choose a new file name or remove it first",
                out.display()
            );
        }
        match self.backend {
            Backend::Sqlite => {
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
            Backend::Postgres => pg_dump(&self.url, out).await,
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
    /// found. PostgreSQL checks its pages itself (checksums, `amcheck`): `Ok`.
    pub async fn integrity_check(&self) -> StoreResult<Result<(), String>> {
        match self.backend {
            Backend::Postgres => Ok(Ok(())),
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

/// Run `pg_dump` into `out`, or say how to back up when it is not installed.
async fn pg_dump(url: &str, out: &Path) -> anyhow::Result<()> {
    let how = format!(
        "PostgreSQL is backed up with its own tools: pg_dump --format=custom --file={} \
         '{}' (restore with pg_restore), or your provider's snapshots and point-in-time \
         recovery (RDS, Aurora, Cloud SQL)",
        out.display(),
        redact_url(url)
    );
    let mut parsed = url::Url::parse(url).context("invalid database url")?;
    let password = parsed.password().map(percent_decode);
    let _ = parsed.set_password(None);
    let mut command = tokio::process::Command::new("pg_dump");
    command
        .arg("--format=custom")
        .arg("--no-owner")
        .arg(format!("--file={}", out.display()))
        .arg(format!("--dbname={parsed}"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(p) = password {
        command.env("PGPASSWORD", p);
    }
    let result = command.output().await;
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("pg_dump is not on PATH. {how}")
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot run pg_dump")),
        Ok(output) if output.status.success() => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600));
            }
            Ok(())
        }
        Ok(output) => {
            let _ = std::fs::remove_file(out);
            anyhow::bail!(
                "pg_dump failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )
        }
    }
}

/// A URL's percent-encoded password as the server expects it.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
