//! The simulator's history (`[sim] history`): the past of every simulated meter, plug, Shelly and soil
//! sensor lands in InfluxDB as the gateway would have read it, and the live counters the meter then serves
//! continue where it ends.

use std::time::Duration;

use anyhow::Context as _;
use tokio_modbus::client::Reader as _;
use tokio_modbus::prelude::{Slave, SlaveContext as _};
use zw_config::Config;
use zw_model::inventory::fixtures;
use zw_model::{Device, Inventory};
use zw_sim::shelly::{ShellyConfig, ShellyModel};
use zw_sim::{MeterConfig, MeterModel};
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::config::{connected, plug, soil_sensor, write};
use crate::support::{Zaehlwerk, eventually};

fn config(stack: &Stack, modbus: u16) -> Config {
    let mut cfg = connected(stack);
    let sim = &mut cfg.sim;
    sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
    sim.update_interval = Duration::from_secs(3600);
    sim.history = Duration::from_secs(30 * 60);
    sim.history_step = Duration::from_secs(60);
    let five_minutes = Duration::from_secs(5 * 60);
    sim.plugs = vec![plug("plug-e2e", five_minutes)];
    sim.soil_sensors = vec![soil_sensor("lse01-e2e", five_minutes)];
    sim.shellies = vec![
        ShellyConfig {
            prefix: "pro3em-e2e".into(),
            model: ShellyModel::Pro3em,
            interval: five_minutes,
        },
        ShellyConfig {
            prefix: "splug-e2e".into(),
            model: ShellyModel::Plug,
            interval: five_minutes,
        },
    ];
    sim.meters = vec![
        MeterConfig {
            includes: vec![2],
            ..MeterConfig::sdm630(1)
        },
        MeterConfig {
            profile: MeterModel::JanitzaB23,
            ..MeterConfig::sdm630(2)
        },
        MeterConfig::sdm630(3),
    ];
    let (ip, host) = (format!("127.0.0.1:{modbus}"), format!("tcp://localhost:{modbus}"));
    cfg.inventory = Inventory::builder()
        .building(
            "rathaus",
            [
                Device::modbus("main", &ip, 1, "sdm630").class("main_meter"),
                Device::modbus("kitchen", &host, 2, "janitza-b23"),
            ],
        )
        .household(
            "hh-1",
            [
                Device::tasmota("hh-1-plug", "plug-e2e"),
                Device::shelly("hh-1-shelly", "splug-e2e"),
            ],
        )
        .building(
            "kita",
            [Device::shelly("kita-main", "pro3em-e2e").class("main_meter")],
        )
        .site(fixtures::park_with_soil_sensor(
            "v3/soil-app@ttn/devices/lse01-e2e/up",
        ))
        .build();
    cfg
}

/// `SELECT fields FROM readings WHERE device = d` as rows of numbers (time dropped, nulls as NaN).
async fn rows(influx: &zw_influx::Client, fields: &str, device: &str) -> anyhow::Result<Vec<Vec<f64>>> {
    let q = format!("SELECT {fields} FROM readings WHERE device = $d");
    let series = influx.query(&q, &[("d", device)]).await?;
    Ok(series
        .first()
        .map(|s| {
            s.values
                .iter()
                .map(|r| r.iter().skip(1).map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_stored_as_the_gateway_reads_it_and_live_counters_continue() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let modbus = free_port();
    let cfg = write(&stack, &config(&stack, modbus))?;
    let sim = Zaehlwerk::start("sim", &cfg, stack.state_dir())?;
    let influx = crate::support::influx(&stack)?;
    // 30 minutes in 1-minute steps: the steps strictly between the start and now.
    let main = eventually(WAIT, "main meter history", || async {
        let r = rows(&influx, "energy_import, active_power", "main").await.ok()?;
        (r.len() == 29).then_some(r)
    })
    .await
    .with_context(|| sim.log_tail())?;
    let kitchen = eventually(WAIT, "kitchen history", || async {
        let r = rows(
            &influx,
            "energy_import, active_power, active_power_l1, active_power_l2, active_power_l3",
            "kitchen",
        )
        .await
        .ok()?;
        (r.len() == 29).then_some(r)
    })
    .await?;
    // Counters never go down; the kitchen's total power is derived from its phases, as the gateway does.
    assert!(main.windows(2).all(|w| w[1][0] >= w[0][0]), "{main:?}");
    for k in &kitchen {
        assert!(
            (k[1] - (k[2] + k[3] + k[4])).abs() <= 1e-6 * k[1].abs().max(1.0),
            "{k:?}"
        );
    }
    // The main meter measures the kitchen behind it, every minute.
    assert!(
        main.iter().zip(&kitchen).all(|(m, k)| m[1] > k[1]),
        "{main:?}\n{kitchen:?}"
    );
    // The soil sensor's past uplinks (every 15 minutes at most), decoded by the gateway's LSE01 adapter.
    let soil = rows(&influx, "soil_moisture, battery_voltage", "soil-1").await?;
    assert_eq!(soil.len(), 1, "{soil:?}");
    assert!(
        (5.0..=40.0).contains(&soil[0][0]) && (2.5..=3.7).contains(&soil[0][1]),
        "{soil:?}"
    );
    // The plug's telemetry every 5 minutes, through the gateway's Tasmota adapter; its counter only grows.
    let plug = rows(&influx, "energy_import, active_power", "hh-1-plug").await?;
    assert_eq!(plug.len(), 5, "{plug:?}");
    assert!(plug.windows(2).all(|w| w[1][0] >= w[0][0]), "{plug:?}");
    // The Shelly plug alternates full statuses and NotifyStatus deltas (merged by the adapter); the Pro 3EM's
    // `em:0` (power) and `emdata:0` (energy) of one step are one point. Every field is present: none missing.
    for (device, fields) in [
        ("hh-1-shelly", "energy_import, active_power"),
        (
            "kita-main",
            "energy_import, energy_export, active_power, active_power_l1",
        ),
    ] {
        let r = rows(&influx, fields, device).await?;
        assert_eq!(r.len(), 5, "{device}: {r:?}");
        assert!(r.iter().flatten().all(|v| v.is_finite()), "{device}: {r:?}");
        assert!(r.windows(2).all(|w| w[1][0] >= w[0][0]), "{device}: {r:?}");
    }
    // Unit 3 has no inventory device: nothing stored for it, and the log says so.
    assert!(
        sim.log_tail().contains("unmatched_steps=29"),
        "{}",
        sim.log_tail()
    );

    // Live: the meter serves the counter its history ended with (plus at most a minute of consumption).
    let mut ctx = tokio_modbus::client::tcp::connect(format!("127.0.0.1:{modbus}").parse()?).await?;
    ctx.set_slave(Slave(1));
    let regs = ctx.read_input_registers(0x0048, 2).await??;
    let live_wh = f64::from(f32::from_bits((u32::from(regs[0]) << 16) | u32::from(regs[1]))) * 1000.0;
    let last_wh = main.last().context("rows")?[0];
    // float32 registers hold kWh to about 2 Wh at these totals.
    assert!(
        live_wh >= last_wh - 4.0,
        "live {live_wh} Wh below history {last_wh} Wh"
    );
    assert!(
        live_wh - last_wh < 2000.0,
        "live {live_wh} Wh far above history {last_wh} Wh"
    );
    sim.stop(std::time::Duration::from_secs(15)).await
}
