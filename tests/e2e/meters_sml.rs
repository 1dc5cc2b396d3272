//! SML end to end: the simulator's SML meter pushing files on a TCP port (as an optical head behind ser2net),
//! with garbage on the line between files, read by the real gateway, through the real broker and ingest into
//! InfluxDB, and the API's energy per period. The meter's registers are set by the test, so the energy is
//! exact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zw_model::{Device, Inventory};
use zw_sim::sml_tcp::{self, SmlMeterConfig, SmlState};
use zw_tests::{Stack, free_port, influx_query};

use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get};

const WAIT: Duration = Duration::from_secs(40);

async fn last(stack: &Stack, device: &str, field: &str) -> Option<f64> {
    let q = format!("SELECT last(\"{field}\") FROM readings WHERE device = '{device}'");
    let answer = influx_query(&stack.influx_url(), stack.influx_db(), &q)
        .await
        .ok()?;
    answer.pointer("/results/0/series/0/values/0/1")?.as_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sml_meter_over_tcp_reaches_the_energy_per_period() -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let sim_cfg = SmlMeterConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        manufacturer: "EMH".into(),
        serial: 12_345_678,
        interval: Duration::from_millis(300),
    };
    let listener = TcpListener::bind(sim_cfg.listen).await?;
    let endpoint = format!("tcp://127.0.0.1:{}", listener.local_addr()?.port());
    let state = SmlState {
        import_t1_wh: 1_000_000.0,
        import_t2_wh: 500_000.0,
        export_wh: 42.5,
        phases_w: [500.0, 300.0, 200.0],
    };
    let meter = Arc::new(Mutex::new(state));
    tokio::spawn(sml_tcp::serve(
        sim_cfg,
        listener,
        meter.clone(),
        false,
        stop.clone(),
    ));

    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    cfg.gateway.sml.publish_interval = Duration::from_millis(500);
    cfg.inventory = Inventory::builder()
        .building("kita", [Device::sml("kita-main", &endpoint)])
        .build();
    cfg.inventory.users.push(admin());
    let path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");

    eventually(WAIT, "the SML meter's registers in InfluxDB", || async {
        let import = last(&stack, "kita-main", "energy_import").await?;
        let export = last(&stack, "kita-main", "energy_export").await?;
        let power = last(&stack, "kita-main", "active_power").await?;
        let l1 = last(&stack, "kita-main", "active_power_l1").await?;
        // The tariff registers 1.8.1 and 1.8.2 beside their sum.
        let t1 = last(&stack, "kita-main", "energy_import_t1").await?;
        let t2 = last(&stack, "kita-main", "energy_import_t2").await?;
        (import == 1_500_000.0
            && export == 42.5
            && power == 1000.0
            && l1 == 500.0
            && t1 == 1_000_000.0
            && t2 == 500_000.0)
            .then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // 200 Wh in ten steps a second apart (72 kW: a plausible rate, not a jump the counter logic refuses).
    for _ in 0..10 {
        meter
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .import_t1_wh += 20.0;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eventually(WAIT, "the new import energy", || async {
        let t1 = last(&stack, "kita-main", "energy_import_t1").await?;
        (last(&stack, "kita-main", "energy_import").await? == 1_500_200.0 && t1 == 1_000_200.0).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;
    let url = format!("{api}/api/v1/devices/kita-main/energy?period=day&count=1");
    let body = eventually(WAIT, "today's energy", || async {
        let (s, body) = get(&url, Some("tok-admin")).await.ok()?;
        (s == 200).then_some(body)
    })
    .await?;
    let today = body["periods"]
        .as_array()
        .and_then(|p| p.last())
        .or_else(|| body.as_array().and_then(|p| p.last()))
        .with_context(|| format!("{body}"))?;
    let wh = today["wh"].as_f64().with_context(|| format!("{body}"))?;
    assert!((wh - 200.0).abs() < 1e-6, "{wh} Wh today, not 200: {body}");
    all.stop(Duration::from_secs(10)).await?;
    stop.cancel();
    Ok(())
}
