//! A whole running system for end-to-end tests: real mosquitto and influxd, `zaehlwerk sim` and
//! `zaehlwerk all` as child processes, sharing one config with three users per role and two households.

use std::time::Duration;

use anyhow::Context as _;
use zw_tests::{Stack, free_port};

use crate::support::{Zaehlwerk, eventually, get, hash};

/// How long any condition may take to become true.
pub const WAIT: Duration = Duration::from_secs(30);

fn config(stack: &Stack, api: u16, modbus: u16) -> String {
    format!(
        r#"
{conn}[api]
listen = "127.0.0.1:{api}"
# Tests poll quickly; the per-user limit itself is covered by the router tests.
rate_limit_per_second = 0
[ingest]
batch_interval = "200ms"
[sim]
modbus_listen = "127.0.0.1:{modbus}"
# Meter values stay put after the first step, so an independent Modbus read sees what the gateway saw.
update_interval = "1h"
meters = [{{ unit_id = 1 }}]
plugs = [{{ topic = "plug-e2e", interval = "300ms" }}]
soil_sensors = [{{ application = "soil-app", tenant = "ttn", device_id = "lse01-e2e", interval = "300ms" }}]

[[sites]]
id = "rathaus"
kind = "building"
devices = [{{ id = "rathaus-main", source = {{ type = "modbus", endpoint = "127.0.0.1:{modbus}", unit_id = 1, profile = "sdm630", interval = "500ms" }} }}]
[[sites]]
id = "hh-1"
kind = "household"
devices = [{{ id = "hh-1-plug", source = {{ type = "tasmota", topic = "plug-e2e" }} }}]
[[sites]]
id = "hh-2"
kind = "household"
[[sites]]
id = "park"
kind = "park"
devices = [{{ id = "soil-1", source = {{ type = "ttn", topic = "v3/soil-app@ttn/devices/lse01-e2e/up", model = "lse01" }} }}]

[[users]]
name = "fm"
role = "facility_manager"
scope = ["*"]
token_sha256 = "{fm}"
[[users]]
name = "res1"
role = "resident"
scope = ["hh-1"]
token_sha256 = "{res1}"
[[users]]
name = "res2"
role = "resident"
scope = ["hh-2"]
token_sha256 = "{res2}"
[[users]]
name = "parks"
role = "parks"
scope = ["park"]
token_sha256 = "{parks}"
"#,
        conn = crate::support::connection(stack),
        fm = hash("tok-fm"),
        res1 = hash("tok-res1"),
        res2 = hash("tok-res2"),
        parks = hash("tok-parks"),
    )
}

/// The running system.
pub struct System {
    /// mosquitto and influxd.
    pub stack: Stack,
    /// `zaehlwerk sim`.
    pub sim: Zaehlwerk,
    /// `zaehlwerk all`.
    pub all: Zaehlwerk,
    /// API base URL.
    pub api: String,
    /// Port of the simulated Modbus meters.
    pub modbus_port: u16,
}

impl System {
    /// Starts simulator and services on `stack` and waits until the API is ready.
    pub async fn start(stack: Stack) -> anyhow::Result<Self> {
        let (api_port, modbus_port) = (free_port(), free_port());
        let cfg_path = stack.state_dir().join("zaehlwerk.toml");
        std::fs::write(&cfg_path, config(&stack, api_port, modbus_port))?;
        let sim = Zaehlwerk::start("sim", &cfg_path, stack.state_dir())?;
        let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
        let api = format!("http://127.0.0.1:{api_port}");
        let ready = eventually(WAIT, "/readyz", || async {
            (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
        })
        .await;
        ready.with_context(|| format!("sim:\n{}\nall:\n{}", sim.log_tail(), all.log_tail()))?;
        Ok(Self {
            stack,
            sim,
            all,
            api,
            modbus_port,
        })
    }

    /// Stops services, then the simulator, each with SIGTERM, and checks both exit cleanly.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.all.stop(Duration::from_secs(15)).await?;
        self.sim.stop(Duration::from_secs(15)).await
    }
}
