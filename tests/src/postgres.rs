//! A real PostgreSQL server for tests: a fresh cluster in a temporary directory on a free loopback port.
//!
//! `initdb` makes the cluster (trust authentication, superuser `zw`, no fsync: test data need not survive a
//! power cut), `postgres` serves it on `127.0.0.1:<port>` with its socket in the data directory, and
//! readiness is `pg_isready` answering 0, polled, never slept for. The binaries come from Debian's
//! `postgresql` package (`/usr/lib/postgresql/<newest>/bin`, `deploy/setup.sh` installs it); `ZW_PG_BIN_DIR`
//! points elsewhere.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (as CI does), the cluster belongs to the
//! `postgres` system user that the Debian package creates and every PostgreSQL program is started
//! through `setpriv` as that user; the directory is made traversable for it.
//!
//! Dropping a [`Postgres`] stops the server with a fast shutdown (open connections are cut) and deletes
//! the directory (kept with `ZW_KEEP_TEST_STATE=1`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use tempfile::TempDir;

use crate::ports::free_port;
use crate::process::{ChildProcess, StartError};

/// Environment variable naming the folder with `initdb`, `postgres`, `pg_isready`, `createdb`.
const BIN_DIR_ENV: &str = "ZW_PG_BIN_DIR";
/// Where Debian installs the versions of PostgreSQL.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// The cluster's superuser.
pub const SUPERUSER: &str = "zw";
/// The database created with the cluster.
pub const DATABASE: &str = "zaehlwerk";
/// Upper bound for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts with fresh ports when the port was taken before the server bound it.
const PORT_ATTEMPTS: usize = 3;

/// A running PostgreSQL server with the database [`DATABASE`].
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    /// `Some` when running as root: the user the server runs as.
    run_as: Option<String>,
    data: PathBuf,
    port: u16,
    child: Mutex<Option<ChildProcess>>,
    /// `None` only during `Drop`.
    dir: Option<TempDir>,
}

impl Postgres {
    /// Makes a cluster and starts a server on a free port; returns once it accepts connections and
    /// [`DATABASE`] exists. Errors name a missing installation or carry the tail of the server's log.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let run_as = (rustix::process::getuid().is_root()).then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new()
            .prefix("zw-pg-")
            .tempdir()
            .context("cannot create the PostgreSQL state dir")?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        if let Some(user) = &run_as {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
            let status = Command::new("chown")
                .args([&format!("{user}:"), &data.display().to_string()])
                .status()
                .context("cannot run chown")?;
            anyhow::ensure!(
                status.success(),
                "chown {user}: {} failed: as root, the tests run PostgreSQL as the system user {user:?} \
                 that the Debian package `postgresql` creates (deploy/setup.sh installs it)",
                data.display()
            );
        }
        let mut pg = Self {
            bin,
            run_as,
            data,
            port: 0,
            child: Mutex::new(None),
            dir: Some(dir),
        };
        pg.initdb().await?;
        let mut attempt = 1;
        loop {
            pg.port = free_port();
            match pg.spawn().await {
                Ok(child) => {
                    *pg.child.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(child);
                    break;
                }
                Err(StartError::AddrInUse(e)) if attempt < PORT_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "Port taken before PostgreSQL bound it; retrying.");
                    attempt += 1;
                }
                Err(e) => return Err(e.into_anyhow()),
            }
        }
        pg.create_database(DATABASE).await?;
        Ok(pg)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server, e.g. `postgres://zw@127.0.0.1:40123/zaehlwerk`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates another database (so tests can share one server and still start empty).
    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let out = self
            .command(
                "createdb",
                &["-h", "127.0.0.1", "-p", &port, "-U", SUPERUSER, name],
            )
            .output()
            .await
            .context("cannot run createdb")?;
        anyhow::ensure!(
            out.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }

    /// The last lines of the server's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        crate::process::tail(&self.log(), 0, 40)
    }

    fn log(&self) -> PathBuf {
        self.data
            .parent()
            .map_or_else(|| PathBuf::from("postgres.log"), |d| d.join("postgres.log"))
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        let data = self.data.display().to_string();
        let out = self
            .command(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    SUPERUSER,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C",
                ],
            )
            .output()
            .await
            .context("cannot run initdb")?;
        anyhow::ensure!(
            out.status.success(),
            "initdb failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }

    async fn spawn(&self) -> Result<ChildProcess, StartError> {
        let (data, port) = (self.data.display().to_string(), self.port.to_string());
        let server = self.bin.join("postgres");
        let server = server.to_string_lossy();
        let mut args = vec![
            "-D",
            &data,
            "-p",
            &port,
            "-h",
            "127.0.0.1",
            "-k",
            &data,
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "shared_buffers=16MB",
        ];
        let (program, prefix) = self.wrap(&server);
        args.splice(0..0, prefix.iter().map(String::as_str));
        let mut child = ChildProcess::spawn("postgres", Path::new(&program), &args, &self.log())?;
        child
            .await_ready(READY_TIMEOUT, || {
                let mut probe = self.command("pg_isready", &["-q", "-h", "127.0.0.1", "-p", &port]);
                async move { probe.status().await.is_ok_and(|s| s.success()) }
            })
            .await?;
        Ok(child)
    }

    /// A PostgreSQL program from [`Self::bin`], as the cluster's owner.
    fn command(&self, name: &str, args: &[&str]) -> tokio::process::Command {
        let program = self.bin.join(name);
        let (program, prefix) = self.wrap(&program.to_string_lossy());
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(prefix).args(args).stdin(std::process::Stdio::null());
        cmd.kill_on_drop(true);
        cmd
    }

    /// `program` itself, or `setpriv` with the arguments that run it as [`Self::run_as`].
    fn wrap(&self, program: &str) -> (String, Vec<String>) {
        match &self.run_as {
            None => (program.to_owned(), Vec::new()),
            Some(user) => (
                "setpriv".to_owned(),
                vec![
                    format!("--reuid={user}"),
                    format!("--regid={user}"),
                    "--init-groups".to_owned(),
                    "--".to_owned(),
                    program.to_owned(),
                ],
            ),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(child) = child {
            // Fast shutdown: SIGTERM alone would wait for every client to disconnect.
            let (program, mut args) = self.wrap(&self.bin.join("pg_ctl").to_string_lossy());
            args.extend(["stop", "-m", "fast", "-w", "-D"].map(String::from));
            args.push(self.data.display().to_string());
            let _ = Command::new(program)
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            drop(child);
        }
        let Some(dir) = self.dir.take() else { return };
        if std::env::var_os("ZW_KEEP_TEST_STATE").is_some() {
            eprintln!("zw-tests: kept PostgreSQL state in {}", dir.keep().display());
        } else if std::thread::panicking() {
            eprintln!(
                "zw-tests: test failed; PostgreSQL log follows:\n{}",
                self.log_tail()
            );
        }
    }
}

/// `$ZW_PG_BIN_DIR`, else the newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let newest = std::fs::read_dir(DEBIAN_ROOT)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .max_by_key(|(v, _)| *v);
    newest.map(|(_, bin)| bin).ok_or_else(|| {
        anyhow::anyhow!(
            "PostgreSQL not found in {DEBIAN_ROOT}/<version>/bin: run deploy/setup.sh to install the Debian \
             package `postgresql` (or set {BIN_DIR_ENV} to the folder with initdb and postgres)"
        )
    })
}
