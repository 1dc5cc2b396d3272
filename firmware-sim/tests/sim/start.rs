//! Starting and stopping the simulator: SDM630 reads over a real Modbus TCP client, config and bind errors,
//! and MQTT devices that neither block start nor shutdown without a broker.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio_modbus::prelude::*;
use tokio_util::sync::CancellationToken;
use zw_sim::{Config, MeterConfig, PlugConfig, SimError, SimHandle};

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A config with only Modbus meters, so no broker is needed.
fn modbus_only(meters: &[u8]) -> Config {
    Config {
        modbus_listen: local(0),
        meters: meters
            .iter()
            .map(|&unit_id| MeterConfig::sdm630(unit_id))
            .collect(),
        plugs: Vec::new(),
        soil_sensors: Vec::new(),
        update_interval: Duration::from_millis(50),
        ..Config::default()
    }
}

async fn start(cfg: Config, bus: zw_bus::Config) -> Result<(SimHandle, CancellationToken)> {
    let bus = zw_bus::Bus {
        config: bus,
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let shutdown = CancellationToken::new();
    let handle = zw_sim::start(cfg, &bus, shutdown.clone()).await?;
    Ok((handle, shutdown))
}

async fn stop(handle: SimHandle, shutdown: CancellationToken) -> Result<()> {
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), handle.join())
        .await
        .context("sim did not stop")??;
    Ok(())
}

fn f32_at(regs: &[u16], addr: usize) -> f32 {
    f32::from_bits(u32::from(regs[addr]) << 16 | u32::from(regs[addr + 1]))
}

#[tokio::test]
async fn sdm630_block_reads_return_plausible_values() -> Result<()> {
    let (handle, shutdown) = start(modbus_only(&[1, 2]), zw_bus::Config::default()).await?;
    assert_ne!(handle.modbus_addr.port(), 0);
    let mut ctx = tcp::connect_slave(handle.modbus_addr, Slave(1)).await?;

    let block = ctx.read_input_registers(0x0000, 76).await??;
    assert_eq!(block.len(), 76);
    for addr in [0x00, 0x02, 0x04] {
        let v = f32_at(&block, addr);
        assert!((200.0..260.0).contains(&v), "voltage at {addr:#06x}: {v}");
    }
    let freq = f32_at(&block, 0x46);
    assert!((49.0..51.0).contains(&freq), "frequency {freq}");
    let (import, export) = (f32_at(&block, 0x48), f32_at(&block, 0x4A));
    assert!(import > 0.0 && export >= 0.0, "import {import}, export {export}");
    let pf = f32_at(&block, 0x3E);
    assert!((-1.0..=1.0).contains(&pf) && pf != 0.0, "total PF {pf}");

    let total = ctx.read_input_registers(0x0156, 2).await??;
    let total = f32_at(&total, 0);
    // Both reads may straddle an update, so allow a few seconds of energy besides f32 rounding.
    assert!(
        (total - (import + export)).abs() <= 0.05,
        "total {total} != {import} + {export}"
    );

    // A second unit is a different (seeded) meter.
    ctx.set_slave(Slave(2));
    let other = ctx.read_input_registers(0x0048, 2).await??;
    assert_ne!(f32_at(&other, 0), import);

    stop(handle, shutdown).await
}

#[tokio::test]
async fn sdm630_limits_and_unknown_requests_get_exceptions() -> Result<()> {
    let (handle, shutdown) = start(modbus_only(&[1]), zw_bus::Config::default()).await?;
    let mut ctx = tcp::connect_slave(handle.modbus_addr, Slave(1)).await?;
    // Table: (address, count, exception).
    let cases = [
        (0x0000, 81, ExceptionCode::IllegalDataValue),
        (0x0000, 82, ExceptionCode::IllegalDataValue),
        (0x0000, 3, ExceptionCode::IllegalDataValue),
        (0x0001, 2, ExceptionCode::IllegalDataAddress),
        (0x4000, 2, ExceptionCode::IllegalDataAddress),
    ];
    for (addr, count, exception) in cases {
        assert_eq!(
            ctx.read_input_registers(addr, count).await?,
            Err(exception),
            "{addr:#06x} x{count}"
        );
    }
    assert_eq!(
        ctx.read_holding_registers(0x0000, 2).await?,
        Err(ExceptionCode::IllegalFunction)
    );
    ctx.set_slave(Slave(9));
    assert_eq!(
        ctx.read_input_registers(0x0000, 2).await?,
        Err(ExceptionCode::GatewayTargetDevice)
    );
    // The connection survives exceptions.
    ctx.set_slave(Slave(1));
    assert_eq!(ctx.read_input_registers(0x0000, 80).await??.len(), 80);
    stop(handle, shutdown).await
}

#[tokio::test]
async fn energy_grows_between_updates() -> Result<()> {
    let (handle, shutdown) = start(modbus_only(&[1]), zw_bus::Config::default()).await?;
    let mut ctx = tcp::connect_slave(handle.modbus_addr, Slave(1)).await?;
    let total = |regs: Vec<u16>| f64::from(f32_at(&regs, 0));
    let first = total(ctx.read_input_registers(0x0156, 2).await??);
    // Poll instead of sleeping a fixed time: at 1-12 kW the f32 counter moves within a few seconds.
    let grown = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = total(ctx.read_input_registers(0x0156, 2).await??);
            assert!(now >= first, "counter went backwards: {now} < {first}");
            if now > first {
                return anyhow::Ok(());
            }
        }
    });
    grown.await.context("energy counter did not grow")??;
    stop(handle, shutdown).await
}

#[tokio::test]
async fn start_reports_config_and_bind_errors() -> Result<()> {
    let mut bad = modbus_only(&[1, 1]);
    bad.update_interval = Duration::ZERO;
    match start(bad, zw_bus::Config::default()).await.map(|_| ()) {
        Err(e) => match e.downcast_ref::<SimError>() {
            Some(SimError::Config(problems)) => assert_eq!(problems.len(), 2, "{problems:?}"),
            other => panic!("expected a config error, got {other:?}"),
        },
        Ok(()) => panic!("invalid config accepted"),
    }
    let taken = std::net::TcpListener::bind(local(0))?;
    let mut cfg = modbus_only(&[1]);
    cfg.modbus_listen = taken.local_addr()?;
    let err = start(cfg, zw_bus::Config::default())
        .await
        .err()
        .context("bind on a taken port succeeded")?;
    assert!(
        matches!(err.downcast_ref::<SimError>(), Some(SimError::Bind(_))),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn mqtt_devices_without_a_broker_neither_block_start_nor_shutdown() -> Result<()> {
    // A port nobody listens on: the bus drivers keep failing to connect with back-off.
    let closed = std::net::TcpListener::bind(local(0))?.local_addr()?.port();
    let bus = zw_bus::Config {
        port: closed,
        ..zw_bus::Config::default()
    };
    let mut cfg = modbus_only(&[1]);
    cfg.plugs = vec![PlugConfig {
        topic: "plug-test".into(),
        interval: Duration::from_millis(100),
    }];
    cfg.soil_sensors = Config::default().soil_sensors;
    let (handle, shutdown) = tokio::time::timeout(Duration::from_secs(5), start(cfg, bus)).await??;
    let mut ctx = tcp::connect_slave(handle.modbus_addr, Slave(1)).await?;
    assert_eq!(ctx.read_input_registers(0x0000, 2).await??.len(), 2);
    stop(handle, shutdown).await
}
