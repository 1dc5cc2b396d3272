//! [`Stack`]: the real services one test needs, each in its own temporary directory on free ports.
//!
//! Layout of [`Stack::state_dir`]: `mosquitto/` (config, persistence, `mosquitto.log`) and `influxd/`
//! (config, meta, data, wal, `influxd.log`). A service can be stopped and started again on the same port
//! and data directory, which is how tests simulate outages. Dropping the stack stops every service
//! (SIGTERM, then SIGKILL after a grace period) and removes the directory unless `ZW_KEEP_TEST_STATE`
//! is set.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context as _;
use tempfile::TempDir;

use crate::influxd::{self, Ports};
use crate::mosquitto;
use crate::ports::free_port;
use crate::process::{ChildProcess, GRACE, StartError, find_binary, tail};
use crate::victoria;

/// Attempts with fresh ports when a child finds its port taken (another process won the race).
const PORT_ATTEMPTS: usize = 3;
/// Environment variable that keeps the state directory after the test.
const KEEP_ENV: &str = "ZW_KEEP_TEST_STATE";

/// Chooses which services a [`Stack`] runs. Created by [`Stack::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct StackBuilder {
    mosquitto: bool,
    influxd: bool,
    victoria: bool,
    postgres: bool,
    database: String,
    mosquitto_bin: Option<PathBuf>,
    influxd_bin: Option<PathBuf>,
    /// `Some(require_client_cert)`: the broker also gets a TLS listener.
    mosquitto_tls: Option<bool>,
    mqtt_devices: Vec<String>,
}

impl StackBuilder {
    /// Runs a mosquitto broker.
    pub fn mosquitto(mut self) -> Self {
        self.mosquitto = true;
        self
    }

    /// Adds a TLS listener to the broker ([`Stack::mqtt_tls`]) with a throwaway CA and server certificate made
    /// now; `require_client_cert` makes it demand a client certificate from the same CA (mutual TLS).
    pub fn mosquitto_tls(mut self, require_client_cert: bool) -> Self {
        self.mosquitto_tls = Some(require_client_cert);
        self
    }

    /// Adds a device account `name` to the broker (random password, [`Stack::mqtt_device_credentials`]): it
    /// may do only what the shipped ACL's device patterns grant (`tele/<name>/+`, `<name>/status/#`, …).
    pub fn mqtt_device_account(mut self, name: impl Into<String>) -> Self {
        self.mqtt_devices.push(name.into());
        self
    }

    /// Runs an influxd and creates the database (default `zaehlwerk`).
    pub fn influxd(mut self) -> Self {
        self.influxd = true;
        self
    }

    /// Runs a VictoriaMetrics single-node server (Debian package `victoria-metrics`), for the v2 write path.
    pub fn victoria_metrics(mut self) -> Self {
        self.victoria = true;
        self
    }

    /// Runs a PostgreSQL server (Debian package `postgresql`) with the database `zaehlwerk`, see
    /// [`crate::Postgres`].
    pub fn postgres(mut self) -> Self {
        self.postgres = true;
        self
    }

    /// Name of the database created in influxd (default `zaehlwerk`).
    pub fn influx_database(mut self, name: impl Into<String>) -> Self {
        self.database = name.into();
        self
    }

    /// Uses this mosquitto binary instead of `$ZW_MOSQUITTO_BIN` or `/usr/sbin/mosquitto`.
    pub fn mosquitto_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.mosquitto_bin = Some(path.into());
        self
    }

    /// Uses this influxd binary instead of `$ZW_INFLUXD_BIN` or `/usr/bin/influxd`.
    pub fn influxd_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.influxd_bin = Some(path.into());
        self
    }

    /// Starts the chosen services and returns once every one of them is ready.
    ///
    /// Errors name the missing binary (with a pointer to `deploy/setup.sh`) or include the tail of the
    /// log of the service that failed.
    pub async fn start(self) -> anyhow::Result<Stack> {
        let mosquitto_bin = self
            .mosquitto
            .then(|| {
                find_binary(
                    self.mosquitto_bin.as_deref(),
                    mosquitto::BIN_ENV,
                    mosquitto::DEFAULT_BIN,
                    "mosquitto",
                )
            })
            .transpose()?;
        let influxd_bin = self
            .influxd
            .then(|| {
                find_binary(
                    self.influxd_bin.as_deref(),
                    influxd::BIN_ENV,
                    influxd::DEFAULT_BIN,
                    "influxdb",
                )
            })
            .transpose()?;

        let dir = tempfile::Builder::new()
            .prefix("zw-stack-")
            .tempdir()
            .context("cannot create state dir")?;
        let mosquitto_dir = dir.path().join("mosquitto");
        let influxd_dir = dir.path().join("influxd");
        std::fs::create_dir_all(&mosquitto_dir)?;
        std::fs::create_dir_all(&influxd_dir)?;

        let start_mosquitto = async {
            let Some(bin) = mosquitto_bin else { return Ok(None) };
            let access = crate::bus_access::Access::create(&mosquitto_dir, &self.mqtt_devices)?;
            let tls = match self.mosquitto_tls {
                None => None,
                Some(require_client_cert) => Some(mosquitto::Tls {
                    port: free_port(),
                    pki: crate::tls::throwaway_pki(&mosquitto_dir.join("tls"))?,
                    require_client_cert,
                }),
            };
            let (port, child) = with_fresh_ports(free_port, |port| {
                mosquitto::start(&bin, &mosquitto_dir, port, &access, tls.as_ref())
            })
            .await?;
            anyhow::Ok(Some(Mosquitto {
                bin,
                dir: mosquitto_dir.clone(),
                port,
                child: Mutex::new(Some(child)),
                access,
                tls,
            }))
        };
        let start_influxd = async {
            let Some(bin) = influxd_bin else { return Ok(None) };
            let new_ports = || Ports {
                http: free_port(),
                rpc: free_port(),
            };
            let (ports, child) =
                with_fresh_ports(new_ports, |p| influxd::start(&bin, &influxd_dir, p)).await?;
            let url = format!("http://127.0.0.1:{}", ports.http);
            influxd::create_database(&url, &self.database).await?;
            anyhow::Ok(Some(Influxd {
                bin,
                dir: influxd_dir.clone(),
                ports,
                url,
                child: Mutex::new(Some(child)),
            }))
        };
        let start_victoria = async {
            if !self.victoria {
                return Ok(None);
            }
            let bin = find_binary(None, victoria::BIN_ENV, victoria::DEFAULT_BIN, "victoria-metrics")?;
            let vdir = dir.path().join("victoria");
            std::fs::create_dir_all(&vdir)?;
            let (port, child) =
                with_fresh_ports(free_port, |port| victoria::start(&bin, &vdir, port)).await?;
            anyhow::Ok(Some((port, Mutex::new(Some(child)))))
        };
        let start_postgres = async {
            if !self.postgres {
                return Ok(None);
            }
            crate::Postgres::start().await.map(Some)
        };
        let (mosquitto, influxd, victoria, postgres) =
            tokio::try_join!(start_mosquitto, start_influxd, start_victoria, start_postgres)?;
        Ok(Stack {
            mosquitto,
            influxd,
            victoria,
            postgres,
            database: self.database,
            dir: Some(dir),
        })
    }
}

/// Calls `start` with new ports until it succeeds, gives up on an error other than "address in use", or
/// runs out of attempts.
async fn with_fresh_ports<P: Copy, F, Fut>(
    mut new_ports: impl FnMut() -> P,
    mut start: F,
) -> anyhow::Result<(P, ChildProcess)>
where
    F: FnMut(P) -> Fut,
    Fut: Future<Output = Result<ChildProcess, StartError>>,
{
    let mut attempt = 1;
    loop {
        let ports = new_ports();
        match start(ports).await {
            Ok(child) => return Ok((ports, child)),
            Err(StartError::AddrInUse(e)) if attempt < PORT_ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "Port taken before the service bound it; retrying with new ports.");
                attempt += 1;
            }
            Err(e) => return Err(e.into_anyhow()),
        }
    }
}

#[derive(Debug)]
struct Mosquitto {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Mutex<Option<ChildProcess>>,
    access: crate::bus_access::Access,
    tls: Option<mosquitto::Tls>,
}

#[derive(Debug)]
struct Influxd {
    bin: PathBuf,
    dir: PathBuf,
    ports: Ports,
    url: String,
    child: Mutex<Option<ChildProcess>>,
}

/// Running services for one test.
///
/// [`Stack::state_dir`] holds `mosquitto/` (config, persistence, `mosquitto.log`) and `influxd/` (config,
/// meta, data, wal, `influxd.log`). Dropping the stack stops every service (SIGTERM, SIGKILL after 10 s)
/// and deletes the directory, unless `ZW_KEEP_TEST_STATE` is set; if the test is panicking, the log tails
/// are printed first.
#[derive(Debug)]
pub struct Stack {
    mosquitto: Option<Mosquitto>,
    influxd: Option<Influxd>,
    /// VictoriaMetrics' port and process.
    victoria: Option<(u16, Mutex<Option<ChildProcess>>)>,
    /// PostgreSQL, in its own directory (see [`crate::Postgres`]).
    postgres: Option<crate::Postgres>,
    database: String,
    /// `None` only during `Drop`.
    dir: Option<TempDir>,
}

impl Stack {
    /// A builder that starts no service until told which.
    pub fn builder() -> StackBuilder {
        StackBuilder {
            mosquitto: false,
            influxd: false,
            victoria: false,
            postgres: false,
            database: "zaehlwerk".to_owned(),
            mosquitto_bin: None,
            influxd_bin: None,
            mosquitto_tls: None,
            mqtt_devices: Vec::new(),
        }
    }

    /// The broker's host, always `127.0.0.1`.
    pub fn mqtt_host(&self) -> &str {
        "127.0.0.1"
    }

    /// The broker's port.
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::mosquitto`].
    pub fn mqtt_port(&self) -> u16 {
        self.mosquitto().port
    }

    /// The login of `role`'s broker account (random password, also in a file for `password_file`).
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::mosquitto`].
    pub fn mqtt_credentials(&self, role: crate::Role) -> crate::MqttCredentials {
        self.mosquitto().access.role(role).clone()
    }

    /// The login of device account `name`.
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::mqtt_device_account`] for `name`.
    pub fn mqtt_device_credentials(&self, name: &str) -> crate::MqttCredentials {
        self.mosquitto()
            .access
            .device(name)
            .unwrap_or_else(|| panic!("stack was built without .mqtt_device_account({name:?})"))
            .clone()
    }

    /// The broker's TLS listener, with the CA that signed its certificate.
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::mosquitto_tls`].
    pub fn mqtt_tls(&self) -> &crate::MqttTls {
        self.mosquitto()
            .tls
            .as_ref()
            .expect("stack was built without .mosquitto_tls()")
    }

    /// Base URL of influxd's HTTP API, e.g. `http://127.0.0.1:40123`.
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::influxd`].
    pub fn influx_url(&self) -> String {
        self.influxd().url.clone()
    }

    /// Whether the stack runs influxd.
    pub fn has_influxd(&self) -> bool {
        self.influxd.is_some()
    }

    /// Base URL of VictoriaMetrics, e.g. `http://127.0.0.1:40125`.
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::victoria_metrics`].
    pub fn victoria_url(&self) -> String {
        let (port, _) = self
            .victoria
            .as_ref()
            .expect("stack was built without .victoria_metrics()");
        format!("http://127.0.0.1:{port}")
    }

    /// The PostgreSQL server.
    ///
    /// # Panics
    /// If the stack was built without [`StackBuilder::postgres`].
    pub fn postgres(&self) -> &crate::Postgres {
        self.postgres
            .as_ref()
            .expect("stack was built without .postgres()")
    }

    /// The database the stack created in influxd.
    pub fn influx_db(&self) -> &str {
        &self.database
    }

    /// The temporary directory holding configs, data and logs of all services.
    pub fn state_dir(&self) -> &Path {
        self.dir.as_ref().map_or_else(|| Path::new(""), TempDir::path)
    }

    /// Stops the broker (SIGTERM, so it saves its persistence file). A no-op if it is not running.
    pub async fn stop_mosquitto(&self) {
        let child = lock(&self.mosquitto().child).take();
        if let Some(child) = child {
            child.terminate(GRACE).await;
        }
    }

    /// Kills the broker with SIGKILL: it saves nothing, as in a crash or an OOM kill. A no-op if it is not
    /// running.
    pub async fn kill9_mosquitto(&self) {
        let child = lock(&self.mosquitto().child).take();
        if let Some(child) = child {
            child.kill9().await;
        }
    }

    /// Waits until the broker has written its persistence file after this call (it autosaves every second),
    /// so the sessions and subscriptions of now survive a kill -9 that follows, as those of a broker that
    /// has run for longer than its `autosave_interval` do.
    pub async fn await_mosquitto_saved(&self) -> anyhow::Result<()> {
        let file = self.mosquitto().dir.join("mosquitto.db");
        let modified = || std::fs::metadata(&file).and_then(|m| m.modified()).ok();
        let before = modified();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while modified() == before || modified().is_none() {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "mosquitto did not save {} within 10 s",
                file.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Starts the broker again on the same port with the same persistence; a no-op if it is running.
    pub async fn start_mosquitto(&self) -> anyhow::Result<()> {
        let m = self.mosquitto();
        if running(&m.child) {
            return Ok(());
        }
        let child = mosquitto::start(&m.bin, &m.dir, m.port, &m.access, m.tls.as_ref())
            .await
            .map_err(StartError::into_anyhow)?;
        *lock(&m.child) = Some(child);
        Ok(())
    }

    /// Stops influxd (SIGTERM, then SIGKILL after a grace period). A no-op if it is not running.
    pub async fn stop_influxd(&self) {
        let child = lock(&self.influxd().child).take();
        if let Some(child) = child {
            child.terminate(GRACE).await;
        }
    }

    /// Kills influxd with SIGKILL, as a crash would (what it acknowledged is in its fsynced WAL). A no-op if
    /// it is not running.
    pub async fn kill9_influxd(&self) {
        let child = lock(&self.influxd().child).take();
        if let Some(child) = child {
            child.kill9().await;
        }
    }

    /// Starts influxd again on the same ports and data directory; a no-op if it is running.
    pub async fn start_influxd(&self) -> anyhow::Result<()> {
        let i = self.influxd();
        if running(&i.child) {
            return Ok(());
        }
        let child = influxd::start(&i.bin, &i.dir, i.ports)
            .await
            .map_err(StartError::into_anyhow)?;
        *lock(&i.child) = Some(child);
        Ok(())
    }

    /// The last lines of every service's log, for assertion messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for log in self.logs() {
            out.push_str(&format!("==> {} <==\n{}\n", log.display(), tail(&log, 0, 40)));
        }
        out
    }

    fn logs(&self) -> Vec<PathBuf> {
        let m = self.mosquitto.as_ref().map(|m| m.dir.join("mosquitto.log"));
        let i = self.influxd.as_ref().map(|i| i.dir.join("influxd.log"));
        m.into_iter().chain(i).collect()
    }

    fn mosquitto(&self) -> &Mosquitto {
        self.mosquitto
            .as_ref()
            .expect("stack was built without .mosquitto()")
    }

    fn influxd(&self) -> &Influxd {
        self.influxd.as_ref().expect("stack was built without .influxd()")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Stop the services before their directory goes away.
        let children = [
            self.mosquitto.as_ref().and_then(|m| lock(&m.child).take()),
            self.influxd.as_ref().and_then(|i| lock(&i.child).take()),
            self.victoria.as_ref().and_then(|(_, c)| lock(c).take()),
        ];
        drop(children);
        self.postgres.take();
        let Some(dir) = self.dir.take() else { return };
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("zw-tests: kept stack state in {}", dir.keep().display());
        } else if std::thread::panicking() {
            eprintln!("zw-tests: test failed; service logs follow (set {KEEP_ENV}=1 to keep the state dir).");
            eprintln!("{}", self.log_tails());
        }
    }
}

fn lock(m: &Mutex<Option<ChildProcess>>) -> MutexGuard<'_, Option<ChildProcess>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn running(m: &Mutex<Option<ChildProcess>>) -> bool {
    lock(m).as_mut().is_some_and(|c| c.exited().is_none())
}
