//! Every simulated meter model and every scripted fault over a real Modbus TCP socket, no broker needed.

use std::time::{Duration, Instant};

use anyhow::Result;
use tokio_modbus::prelude::*;
use tokio_util::sync::CancellationToken;
use zw_sim::{Config, FaultConfig, FaultKind, MeterConfig, MeterModel};

fn meter(unit_id: u8, profile: MeterModel, faults: Vec<FaultConfig>) -> MeterConfig {
    MeterConfig {
        unit_id,
        profile,
        faults,
        ..MeterConfig::sdm630(unit_id)
    }
}

fn f32_at(regs: &[u16]) -> f32 {
    f32::from_bits(u32::from(regs[0]) << 16 | u32::from(regs[1]))
}

async fn read(ctx: &mut client::Context, fc: u8, addr: u16) -> tokio_modbus::Result<Vec<u16>> {
    if fc == 3 {
        ctx.read_holding_registers(addr, 2).await
    } else {
        ctx.read_input_registers(addr, 2).await
    }
}

#[tokio::test]
async fn models_answer_at_their_addresses_and_faults_misbehave_as_scripted() -> Result<()> {
    let cfg = Config {
        modbus_listen: "127.0.0.1:0".parse()?,
        meters: vec![
            meter(1, MeterModel::Sdm630, vec![]),
            meter(2, MeterModel::Sdm120, vec![]),
            meter(3, MeterModel::Sdm72dmV2, vec![]),
            meter(4, MeterModel::JanitzaB23, vec![]),
            meter(
                5,
                MeterModel::Sdm630,
                vec![FaultConfig {
                    delay: Duration::from_millis(300),
                    ..FaultConfig::always(FaultKind::Slow)
                }],
            ),
            meter(
                6,
                MeterModel::Sdm630,
                vec![FaultConfig::always(FaultKind::DropConnection)],
            ),
            meter(7, MeterModel::Sdm630, vec![FaultConfig::always(FaultKind::Stuck)]),
            meter(
                8,
                MeterModel::Sdm630,
                vec![FaultConfig::always(FaultKind::NoAnswer)],
            ),
        ],
        plugs: vec![],
        soil_sensors: vec![],
        update_interval: Duration::from_millis(20),
        ..Config::default()
    };
    let bus = zw_bus::Bus {
        config: zw_bus::Config::default(),
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let stop = CancellationToken::new();
    let sim = zw_sim::start(cfg, &bus, stop.clone()).await?;
    let mut ctx = tcp::connect(sim.modbus_addr).await?;

    // Table: (unit, function code, import address, voltage address).
    for (unit, fc, import, voltage) in [
        (1, 4, 0x48, 0x00),
        (2, 4, 0x48, 0x00),
        (3, 4, 0x48, 0x00),
        (4, 3, 0x4A7C, 0x4A38),
    ] {
        ctx.set_slave(Slave(unit));
        let kwh = f32_at(&read(&mut ctx, fc, import).await??);
        let v = f32_at(&read(&mut ctx, fc, voltage).await??);
        assert!(
            kwh > 1000.0 && (200.0..260.0).contains(&v),
            "unit {unit}: {kwh} kWh, {v} V"
        );
        // The other function code is refused like the real meter does.
        let wrong = if fc == 3 {
            ctx.read_input_registers(import, 2).await?
        } else {
            ctx.read_holding_registers(import, 2).await?
        };
        assert_eq!(wrong, Err(ExceptionCode::IllegalFunction), "unit {unit}");
    }
    // Janitza answers odd counts (no even-only rule), Eastron refuses them.
    ctx.set_slave(Slave(4));
    assert_eq!(ctx.read_holding_registers(0x4A38, 3).await??.len(), 3);

    // Slow: the answer comes, late.
    ctx.set_slave(Slave(5));
    let t = Instant::now();
    ctx.read_input_registers(0, 2).await??;
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Stuck: values freeze while a healthy meter's counter moves on.
    ctx.set_slave(Slave(7));
    let frozen = ctx.read_input_registers(0x0156, 2).await??;
    ctx.set_slave(Slave(1));
    let moving = ctx.read_input_registers(0x0000, 2).await??;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if ctx.read_input_registers(0x0000, 2).await?? != moving {
            break;
        }
        assert!(Instant::now() < deadline, "healthy meter never changed");
    }
    ctx.set_slave(Slave(7));
    assert_eq!(ctx.read_input_registers(0x0156, 2).await??, frozen);

    // No answer: the client times out, the server stays up.
    ctx.set_slave(Slave(8));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), ctx.read_input_registers(0, 2))
            .await
            .is_err()
    );

    // Drop: the connection is closed under the client.
    let mut ctx = tcp::connect(sim.modbus_addr).await?;
    ctx.set_slave(Slave(6));
    assert!(
        ctx.read_input_registers(0, 2).await.is_err(),
        "expected a transport error"
    );
    let mut again = tcp::connect_slave(sim.modbus_addr, Slave(1)).await?;
    assert_eq!(
        again.read_input_registers(0, 2).await??.len(),
        2,
        "the server survives"
    );

    stop.cancel();
    sim.join().await?;
    Ok(())
}
