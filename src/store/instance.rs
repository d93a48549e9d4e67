//! SQLite: one warroom process per database file.
//!
//! Two processes on one file would both apply the inbox, both fire timers and both post:
//! SQLite's locks keep the file consistent but not the bot's effects once. So the running
//! bot holds an exclusive lock on `<database>.lock` (`flock`, released by the kernel when
//! the process dies, kill -9 included) with its pid, host and start time inside, and a
//! second bot refuses to start, naming the file and the first one. Operator commands
//! (`backup`, `timeline`, `doctor`) do not take it: they may run beside the bot.
//!
//! A database on a network file system is refused too: SQLite's locking is not safe over
//! NFS or SMB (<https://www.sqlite.org/faq.html#q5>), and neither is this lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// File systems on which SQLite's (and `flock`'s) locking cannot be trusted.
const NETWORK_FILE_SYSTEMS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "ceph",
    "glusterfs",
    "fuse.glusterfs",
    "fuse.sshfs",
    "fuse.s3fs",
    "fuse.gcsfuse",
    "fuse.rclone",
    "afs",
    "lustre",
    "gpfs",
    "davfs",
    "fuse.davfs",
];

/// Held for as long as the bot runs on a SQLite file.
#[derive(Debug)]
pub struct InstanceLock {
    file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Lock `<database>.lock` for this process.
    pub fn take(database: &Path) -> anyhow::Result<InstanceLock> {
        if let Some(fs) = network_file_system(database) {
            anyhow::bail!(
                "the database {} is on a network file system ({fs}); SQLite's locking is not \
                 safe there: put it on a local disk, or use PostgreSQL \
                 ([database] url = \"postgres://…\") for several replicas",
                database.display()
            );
        }
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if let Err(e) = file.try_lock() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                "another process".to_string()
            } else {
                holder.to_string()
            };
            return Err(match e {
                std::fs::TryLockError::WouldBlock => anyhow::anyhow!(
                    "the database {} is in use by another warroom ({holder}); SQLite allows \
                     one warroom process per file: stop that one first, or run several \
                     replicas on PostgreSQL ([database] url = \"postgres://…\")",
                    database.display()
                ),
                std::fs::TryLockError::Error(e) => {
                    anyhow::Error::new(e).context(format!("cannot lock {}", path.display()))
                }
            });
        }
        let me = format!(
            "pid {} on {} since {}",
            std::process::id(),
            host_name(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(me.as_bytes())?;
        file.flush()?;
        Ok(InstanceLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// This machine's name, for messages.
pub(crate) fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "this host".to_string())
}

/// The network file system `path` lives on, if it does (Linux: `/proc/self/mountinfo`).
fn network_file_system(path: &Path) -> Option<String> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    let dir = dir.canonicalize().ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let fs = file_system_of(&mountinfo, &dir)?;
    NETWORK_FILE_SYSTEMS.iter().any(|n| fs == *n).then_some(fs)
}

/// The type of the file system whose mount point is the longest prefix of `dir`.
fn file_system_of(mountinfo: &str, dir: &Path) -> Option<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            // `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw`
            let (before, after) = line.split_once(" - ")?;
            let mount_point = unescape(before.split(' ').nth(4)?);
            let fs = after.split(' ').next()?.to_string();
            dir.starts_with(&mount_point)
                .then(|| (mount_point.as_os_str().len(), fs))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs)| fs)
}

/// mountinfo writes spaces and the like as octal escapes (`\040`).
fn unescape(s: &str) -> PathBuf {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let n = digits.iter().fold(0u16, |n, d| n * 8 + u16::from(d - b'0'));
                if let Ok(n) = u8::try_from(n) {
                    out.push(n);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 252:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 22 0:35 / /var/lib/warroom rw,relatime shared:20 - nfs4 fs.example:/export rw,vers=4.1
41 40 0:36 / /var/lib/warroom/local rw,relatime shared:21 - tmpfs tmpfs rw
42 22 0:37 / /mnt/my\\040share rw,relatime shared:22 - cifs //srv/share rw";

    #[test]
    fn the_deepest_mount_decides_the_file_system() {
        let fs = |p: &str| file_system_of(MOUNTINFO, Path::new(p)).unwrap();
        assert_eq!(fs("/srv/warroom"), "ext4");
        assert_eq!(fs("/var/lib/warroom"), "nfs4");
        assert_eq!(fs("/var/lib/warroom/db"), "nfs4");
        assert_eq!(fs("/var/lib/warroom/local"), "tmpfs");
        assert_eq!(fs("/mnt/my share/warroom"), "cifs");
        assert!(NETWORK_FILE_SYSTEMS.contains(&"nfs4"));
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("warroom.db");
        let first = InstanceLock::take(&db).unwrap();
        let err = InstanceLock::take(&db).unwrap_err().to_string();
        assert!(err.contains(&db.display().to_string()), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "names the holder: {err}"
        );
        drop(first);
        let again = InstanceLock::take(&db).unwrap();
        assert_eq!(again.path(), dir.path().join("warroom.db.lock"));
    }
}
