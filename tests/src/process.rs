//! One service child process: output captured into a log file, readiness polling, ordered shutdown.
//!
//! Guarantees: a [`ChildProcess`] never outlives its owner. Dropping it sends SIGTERM, waits up to a
//! grace period and then sends SIGKILL, so services get the chance to save their state (mosquitto writes
//! its persistence file on SIGTERM) while a hung child still cannot block a test run.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustix::process::{Pid, Signal, kill_process};

/// How long a child gets between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(10);
/// How often readiness and exit are polled. This is a polling interval, not a fixed wait: a ready service
/// is noticed within one interval.
const POLL: Duration = Duration::from_millis(20);
/// Lines of log shown in errors.
const TAIL_LINES: usize = 40;

/// Finds a service binary: the explicit path, else `$env`, else `default`; fails with install advice.
pub(crate) fn find_binary(
    explicit: Option<&Path>,
    env: &str,
    default: &str,
    package: &str,
) -> anyhow::Result<PathBuf> {
    let path = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(env).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(default));
    anyhow::ensure!(
        path.is_file(),
        "{package} not found at {}: run deploy/setup.sh to install the Debian package `{package}` \
         (or set {env} to the binary's path)",
        path.display()
    );
    Ok(path)
}

/// Why a service did not become ready.
#[derive(Debug)]
pub(crate) enum StartError {
    /// The child exited while starting because one of its ports was taken; retry with new ports.
    AddrInUse(anyhow::Error),
    /// Anything else; not worth retrying.
    Other(anyhow::Error),
}

impl StartError {
    pub(crate) fn into_anyhow(self) -> anyhow::Error {
        match self {
            Self::AddrInUse(e) | Self::Other(e) => e,
        }
    }
}

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

/// A running service child whose stdout and stderr go to a log file.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
    /// Length of the log when this child started: its own output begins here (the file is appended to
    /// across restarts).
    log_offset: u64,
}

impl ChildProcess {
    /// Spawns `program args…` with stdin closed and stdout/stderr appended to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: &[&str],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open log file {}", log.display()))?;
        let log_offset = out.metadata().map(|m| m.len()).unwrap_or(0);
        let err = out.try_clone().context("cannot duplicate log file handle")?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Self {
            name,
            child: Some(child),
            log: log.to_path_buf(),
            log_offset,
        })
    }

    /// The exit status if the child has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => Some(status),
            _ => None,
        }
    }

    /// The last lines this child wrote to its log.
    pub(crate) fn log_tail(&self) -> String {
        tail(&self.log, self.log_offset, TAIL_LINES)
    }

    /// Polls `probe` until it returns true, failing early if the child exits and after `timeout` at most.
    pub(crate) async fn await_ready<F, Fut>(
        &mut self,
        timeout: Duration,
        mut probe: F,
    ) -> Result<(), StartError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                let tail = self.log_tail();
                let err = anyhow::anyhow!(
                    "{} exited while starting ({status}); log {}:\n{tail}",
                    self.name,
                    self.log.display()
                );
                return Err(if tail.to_ascii_lowercase().contains("address already in use") {
                    StartError::AddrInUse(err)
                } else {
                    StartError::Other(err)
                });
            }
            if probe().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Other(anyhow::anyhow!(
                    "{} not ready after {timeout:?}; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sends SIGTERM, waits up to `grace` for the child to exit, then kills it.
    pub(crate) async fn terminate(mut self, grace: Duration) {
        // The wait polls a child process: a blocking thread keeps the runtime's workers free meanwhile.
        let waited = tokio::task::spawn_blocking(move || self.terminate_blocking(grace)).await;
        if let Err(e) = waited {
            tracing::warn!("Stopping a service failed: {e}");
        }
    }

    /// SIGKILL, as a crash or an OOM kill would: the child saves nothing.
    pub(crate) async fn kill9(mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let waited = tokio::task::spawn_blocking(move || {
            let _ = child.kill();
            let _ = child.wait();
        })
        .await;
        if let Err(e) = waited {
            tracing::warn!("Killing a service failed: {e}");
        }
    }

    /// Blocking variant of [`Self::terminate`], also used by `Drop`.
    fn terminate_blocking(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal_term(&mut child);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(POLL);
        }
        tracing::warn!(service = self.name, "Service ignored SIGTERM; killing it.");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.terminate_blocking(GRACE);
    }
}

/// Sends SIGTERM unless the child was already reaped (its pid may belong to another process by now).
fn signal_term(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
    if let Some(pid) = pid {
        // ESRCH (already gone) is fine: the caller reaps it next.
        let _ = kill_process(pid, Signal::TERM);
    }
}

/// The last `lines` lines of `path` from byte `offset` on; a note instead if it cannot be read.
pub(crate) fn tail(path: &Path, offset: u64, lines: usize) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            let shown = all[start..].join("\n");
            if shown.is_empty() {
                "(log is empty)".to_owned()
            } else {
                shown
            }
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
