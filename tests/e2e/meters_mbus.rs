//! Wired M-Bus end to end: the simulator's M-Bus/Ethernet gateway on a TCP port (a heat meter answering in
//! two telegrams at primary address 5, a water meter selected by its secondary address, and address 9 where
//! nobody answers) polled by the real gateway, through the real broker and ingest into InfluxDB and the API.
//! The meters' states are set by the test, so the values are exact, and so is the API's heat and water of
//! today (`medium=heat`, `medium=water`, per device and per site); the dead meter is backed off and does not
//! delay the live ones.

use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zw_model::{Device, Inventory};
use zw_sim::mbus_tcp::{self, MbusBusConfig, MbusMeterConfig};
use zw_sim::wmbus::Medium;
use zw_tests::{Stack, free_port, influx_query};

use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const WAIT: Duration = Duration::from_secs(40);

/// The last row's value of `field` of `device` in InfluxDB.
async fn last(stack: &Stack, device: &str, field: &str) -> Option<f64> {
    let q = format!("SELECT last(\"{field}\") FROM readings WHERE device = '{device}'");
    let answer = influx_query(&stack.influx_url(), stack.influx_db(), &q)
        .await
        .ok()?;
    answer.pointer("/results/0/series/0/values/0/1")?.as_f64()
}

/// The value of the first metrics line starting with `prefix`.
fn counter(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wired_mbus_meters_reach_influxdb_and_a_dead_meter_does_not_delay_them() -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let sim_cfg = MbusBusConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        meters: vec![
            MbusMeterConfig {
                address: 5,
                manufacturer: "ZWS".into(),
                id: "20260005".into(),
                medium: Medium::Heat,
                split: true,
            },
            MbusMeterConfig {
                address: 6,
                manufacturer: "ZWS".into(),
                id: "20260006".into(),
                medium: Medium::Water,
                split: false,
            },
        ],
        update_interval: Duration::from_secs(1),
    };
    let listener = TcpListener::bind(sim_cfg.listen).await?;
    let endpoint = format!("127.0.0.1:{}", listener.local_addr()?.port());
    let meters = mbus_tcp::bus(&sim_cfg);
    {
        let mut m = meters.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        m[0].state.step(Medium::Heat, 13.0, Duration::from_secs(600));
    }
    let (heat_wh, flow_c) = {
        let m = meters.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (m[0].state.energy_wh.round(), m[0].state.flow_c)
    };
    tokio::spawn(mbus_tcp::serve(listener, meters.clone(), stop.clone()));

    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    cfg.gateway.mbus.request_timeout = Duration::from_millis(300);
    cfg.gateway.mbus.probe_timeout = Duration::from_millis(300);
    let every = Duration::from_secs(1);
    cfg.inventory = Inventory::builder()
        .building(
            "schule",
            [
                Device::mbus("heat-1", &endpoint, 5)
                    .every(every)
                    .class("heat_meter"),
                Device::mbus_secondary("water-1", &endpoint, "20260006")
                    .every(every)
                    .class("water_meter"),
                Device::mbus("dead-1", &endpoint, 9).every(every),
            ],
        )
        .build();
    cfg.inventory.users.push(admin());
    let path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");

    // Exact values: the heat meter's energy from its first telegram, the flow temperature from its second.
    eventually(WAIT, "heat and water readings in InfluxDB", || async {
        let e = last(&stack, "heat-1", "heat_energy").await?;
        let t = last(&stack, "heat-1", "flow_temperature").await?;
        let v = last(&stack, "water-1", "volume").await?;
        (e == heat_wh && t == flow_c && v == 123.529).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // The counters move on: 350 Wh and 0.25 m³ in ten steps a second apart (126 kW: a rate the counter
    // logic accepts, not a jump); the new values arrive within a few polls.
    for _ in 0..10 {
        {
            let mut m = meters.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            m[0].state.energy_wh += 35.0;
            m[1].state.volume_m3 += 0.025;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eventually(WAIT, "the meters' new values", || async {
        let e = last(&stack, "heat-1", "heat_energy").await?;
        let v = last(&stack, "water-1", "volume").await?;
        (e == heat_wh + 350.0 && (v - 123.779).abs() < 1e-9).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;
    // The heat of today is exactly what the meter counted, for the device and for its site; water in m³.
    for (path, medium) in [
        ("devices/heat-1", "heat"),
        ("sites/schule", "heat"),
        ("devices/water-1", "water"),
        ("sites/schule", "water"),
    ] {
        let url = format!("{api}/api/v1/{path}/energy?period=day&count=1&medium={medium}");
        let (status, body) = get(&url, Some("tok-admin")).await?;
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(body["medium"], medium, "{body}");
        let today = &body["periods"][0];
        if medium == "heat" {
            assert_eq!(body["unit"], "Wh", "{body}");
            let wh = today["wh"].as_f64().with_context(|| format!("{url}: {body}"))?;
            assert!((wh - 350.0).abs() < 1e-6, "{url}: {wh} Wh today, not 350: {body}");
            assert!(today["m3"].is_null(), "{body}");
        } else {
            assert_eq!(body["unit"], "m³", "{body}");
            let m3 = today["m3"].as_f64().with_context(|| format!("{url}: {body}"))?;
            assert!((m3 - 0.25).abs() < 1e-9, "{url}: {m3} m³ today, not 0.25: {body}");
            assert!(today["wh"].is_null(), "water has no Wh: {body}");
        }
        assert!(
            today["cost"].is_null(),
            "no tariff of the medium configured: no cost: {body}"
        );
    }
    // Export is electricity's only; an unknown medium is a 400, never a 5xx.
    for q in ["medium=heat&direction=export", "medium=steam"] {
        let url = format!("{api}/api/v1/devices/heat-1/energy?{q}");
        let (status, body) = get(&url, Some("tok-admin")).await?;
        assert_eq!(status, 400, "{url}: {body}");
    }
    let live = format!("{api}/api/v1/devices/heat-1/live");
    let (status, body) = get(&live, Some("tok-admin")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["values"]["heat_energy"]["value"].as_f64(),
        Some(heat_wh + 350.0),
        "{body}"
    );

    // Over 5 s the live meters are read about once a second while the dead one failed once and is backed off.
    let before = metrics(&api).await.context("metrics")?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = metrics(&api).await.context("metrics")?;
    let reads = |t: &str, d: &str, o: &str| {
        counter(
            t,
            &format!("zw_gateway_mbus_reads_total{{device=\"{d}\",outcome=\"{o}\"}}"),
        )
    };
    for d in ["heat-1", "water-1"] {
        let n = reads(&after, d, "complete") - reads(&before, d, "complete");
        assert!(n >= 4.0, "{d}: {n} complete reads in 5 s\n{after}");
        assert_eq!(reads(&after, d, "failed"), 0.0, "{d}");
    }
    assert_eq!(reads(&after, "dead-1", "failed"), 1.0, "{after}");
    assert!(
        counter(
            &after,
            "zw_gateway_mbus_requests_total{device=\"dead-1\",result=\"timeout\"}"
        ) >= 3.0,
        "{after}"
    );
    all.stop(Duration::from_secs(10)).await?;
    stop.cancel();
    Ok(())
}
