//! A whole running system for end-to-end tests: real mosquitto and influxd, `zaehlwerk sim` and
//! `zaehlwerk all` as child processes, sharing one config with three users per role and two households.

use std::time::Duration;

use anyhow::Context as _;
use zw_config::Config;
use zw_model::inventory::fixtures;
use zw_model::{Inventory, Role};
use zw_sim::MeterConfig;
use zw_tests::{Stack, free_port};

use crate::support::config::{plug, serving, soil_sensor, user, write};
use crate::support::{Zaehlwerk, eventually, get};

/// How long any condition may take to become true.
pub const WAIT: Duration = Duration::from_secs(30);

/// The model's town hall, first household and park on the simulator's devices (the second household has
/// none), with a facility manager, a resident per household and the parks department.
fn config(stack: &Stack, api: u16, modbus: u16) -> Config {
    let mut cfg = serving(stack, api);
    cfg.sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
    // Meter values stay put after the first step, so an independent Modbus read sees what the gateway saw.
    cfg.sim.update_interval = Duration::from_secs(3600);
    cfg.sim.meters = vec![MeterConfig::sdm630(1)];
    cfg.sim.plugs = vec![plug("plug-e2e", Duration::from_millis(300))];
    cfg.sim.soil_sensors = vec![soil_sensor("lse01-e2e", Duration::from_millis(300))];
    let meter = format!("127.0.0.1:{modbus}");
    cfg.inventory = Inventory::builder()
        .site(fixtures::town_hall(&meter, Duration::from_millis(500)))
        .site(fixtures::household_with_plug("hh-1", "plug-e2e"))
        .household("hh-2", [])
        .site(fixtures::park_with_soil_sensor(
            "v3/soil-app@ttn/devices/lse01-e2e/up",
        ))
        .build();
    cfg.inventory.users = vec![
        user("fm", Role::FacilityManager, &["*"], "tok-fm"),
        user("res1", Role::Resident, &["hh-1"], "tok-res1"),
        user("res2", Role::Resident, &["hh-2"], "tok-res2"),
        user("parks", Role::Parks, &["park"], "tok-parks"),
    ];
    cfg
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
        let cfg_path = write(&stack, &config(&stack, api_port, modbus_port))?;
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
