//! A throwaway PostgreSQL cluster from the machine's `postgresql` package, for the tests and
//! the load driver: `initdb` in a temp dir, the server on a loopback port, a fresh database
//! per test. Real PostgreSQL, no mock.
//!
//! - The binaries are the newest `/usr/lib/postgresql/<major>/bin` (or `WARROOM_PG_BIN`).
//! - `initdb` refuses to run as root, so as root the cluster runs as the `postgres` system
//!   user when it exists, else as `nobody`, in a directory that user owns.
//! - One cluster per process ([`Cluster::shared`]), started on first use. The server dies
//!   with the process (`PR_SET_PDEATHSIG`, set from a thread that lives as long as the
//!   process); clusters left by killed runs are removed by the next one.
//! - `fsync=off` and `full_page_writes=off`: they only matter when the *server's* machine
//!   crashes, which no test does; a test kills warroom, or a server backend
//!   (`pg_terminate_backend`), and committed data survives both with these settings.
//!   [`Cluster::start_durable`] keeps the defaults, for the benchmarks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The superuser of every throwaway cluster (no password: loopback, `trust`).
const SUPERUSER: &str = "warroom";

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    pub port: u16,
    /// The cluster's directory (data, socket, server log).
    pub dir: PathBuf,
    bin: PathBuf,
    server_pid: u32,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

impl Cluster {
    /// The cluster of this process, started on first use. Panics with what to install when
    /// PostgreSQL is missing: a test that needs it must not pass without it.
    pub fn shared() -> &'static Cluster {
        SHARED.get_or_init(|| match Cluster::start(false) {
            Ok(c) => c,
            Err(e) => panic!("cannot start a throwaway PostgreSQL cluster: {e:#}"),
        })
    }

    /// A cluster with PostgreSQL's durability defaults (fsync on), for measurements.
    pub fn start_durable() -> anyhow::Result<Cluster> {
        Cluster::start(true)
    }

    fn start(durable: bool) -> anyhow::Result<Cluster> {
        let bin = bin_dir()?;
        let base = std::env::temp_dir().join("warroom-pg");
        std::fs::create_dir_all(&base)?;
        sweep_stale(&base);
        let owner = unprivileged_owner()?;
        let dir = base.join(format!(
            "cluster-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o1777))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
            }
        }
        let data = dir.join("data");
        let out = as_owner(Command::new(bin.join("initdb")), owner)
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "--no-sync", "-E", "UTF8"])
            .args(["--locale=C"])
            .stdin(Stdio::null())
            .output()
            .context("cannot run initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            match start_server(&bin, &dir, &data, port, owner, durable) {
                Ok(server_pid) => {
                    return Ok(Cluster {
                        port,
                        dir,
                        bin,
                        server_pid,
                    })
                }
                // The port went to someone else in between: another one.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("the server did not start")))
    }

    /// A URL for `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database; its URL.
    pub async fn fresh_database(&self) -> anyhow::Result<String> {
        use sqlx::Connection;
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::postgres::PgConnection::connect(&self.url("postgres"))
            .await
            .context("cannot reach the throwaway cluster")?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        admin.close().await.ok();
        Ok(self.url(&name))
    }

    /// The server's log (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The directory of the PostgreSQL binaries (`pg_dump` for the backup tests).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The server's process id.
    pub fn server_pid(&self) -> u32 {
        self.server_pid
    }
}

/// The newest installed PostgreSQL's binaries.
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("WARROOM_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install the \
             `postgresql` package (apt-get install postgresql; .ci/run does), or point \
             WARROOM_PG_BIN at its bin directory"
        ),
    }
}

/// As root: the user the cluster runs as (`postgres`, else `nobody`). `None`: run as is.
fn unprivileged_owner() -> anyhow::Result<Option<(u32, u32)>> {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        for name in ["postgres", "nobody"] {
            if let Some(ids) = user_ids(name) {
                return Ok(Some(ids));
            }
        }
        bail!("running as root, and neither the postgres nor the nobody user exists for initdb")
    }
    #[cfg(not(unix))]
    Ok(None)
}

/// A user's uid and gid, from `id` (no NSS bindings needed).
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg(name).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())?
    };
    Some((id("-u")?, id("-g")?))
}

fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    #[cfg(unix)]
    if let Some((uid, gid)) = owner {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    let _ = owner;
    command
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Start the server on `port` from a thread that outlives every test (the server is sent
/// SIGQUIT, an immediate stop, when that thread's process ends); wait until it answers.
fn start_server(
    bin: &Path,
    dir: &Path,
    data: &Path,
    port: u16,
    owner: Option<(u32, u32)>,
    durable: bool,
) -> anyhow::Result<u32> {
    let log = std::fs::File::create(dir.join("server.log"))?;
    #[cfg(unix)]
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir.join("server.log"), Some(uid), Some(gid))?;
    }
    let mut command = as_owner(Command::new(bin.join("postgres")), owner);
    command
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "max_connections=400"])
        .args(["-c", "shared_buffers=32MB"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if !durable {
        command.args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and only changes this child's own settings.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                Ok(())
            });
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("postgres-{port}"))
        .spawn(move || {
            let child = command.spawn();
            let _ = tx.send(child.map(|mut c| {
                let pid = c.id();
                // Reap it if it exits (a taken port), then stay: the server's parent-death
                // signal is tied to this thread.
                std::thread::spawn(move || {
                    let _ = c.wait();
                });
                pid
            }));
            loop {
                std::thread::park();
            }
        })?;
    let pid = rx
        .recv()
        .context("the server's thread died")?
        .context("cannot start postgres")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(pid);
        }
        if !Path::new(&format!("/proc/{pid}")).exists() || Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            bail!("postgres did not start on port {port}: {}", log.trim());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Remove the clusters of processes that are gone.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("cluster-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
