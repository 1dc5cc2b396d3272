//! Issue 24, the peak watch end to end: the real simulator, `zaehlwerk all` (gateway polling Modbus,
//! ingest, analytics), mosquitto and InfluxDB. Two schools pay a demand charge; InfluxDB holds an earlier
//! quarter hour of this billing year for each (25 kW and 100 kW: their peaks so far, which analytics reads
//! at start). At the first school the simulator switches 60 kW on at once (the cold Monday at 07:00, now):
//! the `peak` alert must reach a subscriber while that quarter hour is still running, naming the forecast,
//! the peak so far, the extra demand charge, the time left and the device drawing most. The other school's
//! quarter hour stays far below its peak: no alert.
//!
//! The quarter-hour grid is the real one (a billing fact, never shortened): the test starts right after a
//! boundary when less than 80 s of the present quarter hour are left, so the warning has time to come.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rumqttc::QoS;
use zw_analytics::peak::{QUARTER_MS, quarter_start};
use zw_model::tariff::Tariff;
use zw_model::{Device, Id, Inventory};
use zw_sim::MeterConfig;
use zw_sim::surge::SurgeConfig;
use zw_tests::{Stack, free_port};

use crate::gateway_outage::ready;
use crate::support::config::{serving, write};
use crate::support::{Zaehlwerk, eventually};

fn demand_tariff(site: &str) -> Tariff {
    Tariff {
        medium: Default::default(),
        ct_per_m3: 0.0,
        id: Id::new(format!("rlm-{site}")).expect("id"),
        name: "RLM with Leistungspreis".into(),
        valid_from: NaiveDate::from_ymd_opt(2000, 1, 1).expect("date"),
        valid_to: None,
        sites: vec![Id::new(site).expect("id")],
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: 20.0,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        demand_eur_per_kw_year: 110.0,
        demand_billing: Default::default(),
        dynamic: None,
    }
}

fn config(stack: &Stack) -> (zw_config::Config, String) {
    let (api, modbus) = (free_port(), free_port());
    let mut cfg = serving(stack, api);
    let sim = &mut cfg.sim;
    sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
    sim.plugs = Vec::new();
    sim.soil_sensors = Vec::new();
    // The school's main meter includes its heating, where everything switches on at once, now.
    let surge = SurgeConfig {
        ramp: Duration::from_secs(5),
        ..SurgeConfig::after(Duration::ZERO, 60_000.0, Duration::from_secs(3600))
    };
    sim.meters = vec![
        MeterConfig {
            includes: vec![2],
            ..MeterConfig::sdm630(1)
        },
        MeterConfig {
            surges: vec![surge],
            ..MeterConfig::sdm630(2)
        },
        MeterConfig::sdm630(3),
    ];
    let endpoint = format!("127.0.0.1:{modbus}");
    let meter = |id: &str, unit| Device::modbus(id, &endpoint, unit, "sdm630").every(Duration::from_secs(1));
    cfg.inventory = Inventory::builder()
        .building(
            "schule",
            [meter("schule-main", 1).class("main_meter"), meter("heating", 2)],
        )
        .building("gymnasium", [meter("gym-main", 3).class("main_meter")])
        .build();
    cfg.inventory.tariffs = vec![demand_tariff("schule"), demand_tariff("gymnasium")];
    let a = &mut cfg.analytics;
    a.tick_interval = Duration::from_millis(500);
    a.alerts.restore_wait = Duration::from_secs(2);
    a.alerts.restore_quiet = Duration::from_millis(500);
    a.peak.min_elapsed = Duration::from_secs(20);
    a.peak.refresh = Duration::from_secs(5);
    (cfg, format!("http://127.0.0.1:{api}"))
}

/// A past quarter hour of `device` at `site` averaging `w`, as readings every 10 s.
fn quarter_of(site: &str, device: &str, start_ms: i64, w: f64) -> String {
    (0..90)
        .map(|i| {
            format!(
                "readings,device={device},site={site} active_power={w} {}\n",
                start_ms + i * 10_000
            )
        })
        .collect()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surge_warns_before_its_quarter_hour_ends_and_a_quiet_site_stays_silent() -> anyhow::Result<()> {
    // Enough of the quarter hour left for the warning (min_elapsed 20 s after the first readings).
    let now = Utc::now().timestamp_millis();
    let left = quarter_start(now) + QUARTER_MS - now;
    if left < 80_000 {
        tokio::time::sleep(Duration::from_millis((left + 1000) as u64)).await;
    }
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let influx = crate::support::influx(&stack)?;
    // The peaks so far: a quarter hour half an hour ago (the same billing year unless run in the first
    // half hour of January 1st).
    let past = quarter_start(Utc::now().timestamp_millis()) - 2 * QUARTER_MS;
    influx
        .write(
            quarter_of("schule", "schule-main", past, 25_000.0)
                + &quarter_of("gymnasium", "gym-main", past, 100_000.0),
        )
        .await?;
    let (cfg, api) = config(&stack);
    let cfg = write(&stack, &cfg)?;
    let alerts = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-peak-watch",
        &["zw/v1/alerts/+"],
        QoS::AtLeastOnce,
    )
    .await?
    .into_json_log();
    let all = Zaehlwerk::start("all", &cfg, stack.state_dir())?;
    ready(&api).await.with_context(|| all.log_tail())?;
    let sim = Zaehlwerk::start("sim", &cfg, stack.state_dir())?;
    let logs = || format!("sim:\n{}\nall:\n{}", sim.log_tail(), all.log_tail());
    let (alert, received) = eventually(
        Duration::from_secs(90),
        "the peak alert of the school",
        || async {
            let log = alerts.lock().ok()?;
            let a = log
                .iter()
                .find(|(t, a)| t == "zw/v1/alerts/peak.schule" && a["state"] == "open")?
                .1
                .clone();
            Some((a, Utc::now()))
        },
    )
    .await
    .with_context(logs)?;
    // It came while its quarter hour was still running.
    let opened: DateTime<Utc> = alert["opened_at"].as_str().context("opened_at")?.parse()?;
    let end = at(quarter_start(opened.timestamp_millis()) + QUARTER_MS);
    assert!(
        received < end,
        "the warning arrived at {received}, after its quarter hour ended at {end}: {alert:#}"
    );
    assert!(end - opened > TimeDelta::zero(), "{alert:#}");
    // The explanation: forecast against the peak so far, the cost, the time left, who draws most.
    let e = &alert["explanation"];
    assert_eq!(e["unit"], "kW", "{alert:#}");
    assert_eq!(
        e["expected"], 25.0,
        "the peak so far, read from InfluxDB: {alert:#}"
    );
    assert_eq!(e["threshold"], 25.5, "{alert:#}");
    let forecast = e["observed"].as_f64().context("observed")?;
    assert!(forecast > 25.5, "{alert:#}");
    assert_eq!(alert["category"], "energy");
    let text = e["text"].as_str().context("text")?;
    // `observed` is rounded for the explanation, the text formats the forecast itself: the figures agree
    // to the text's one decimal (60.55 may print as 60.5 or 60.6).
    let number_after = |prefix: &str| -> Option<f64> {
        let rest = &text[text.find(prefix)? + prefix.len()..];
        rest.split(" kW").next()?.parse().ok()
    };
    let shown = number_after("forecast to average ").context("the forecast in the text")?;
    assert!(
        (shown - forecast).abs() <= 0.051,
        "forecast {forecast} shown as {shown}: {text}"
    );
    let added = number_after("+").context("the extra demand in the text")?;
    assert!(
        (added - (forecast - 25.0)).abs() <= 0.051,
        "extra {added}: {text}"
    );
    for part in [
        "above the",
        "peak so far of 25.0 kW",
        "kW would add",
        "net demand charge (110.00 EUR/kW a year)",
        "left; drawing most now: heating",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    // The other school's quarter hour, measured as long, stays below its 100 kW: no alert for it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let log = alerts.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(!log.iter().any(|(t, _)| t.contains("peak.gymnasium")), "{log:#?}");
    sim.stop(Duration::from_secs(15)).await?;
    all.stop(Duration::from_secs(15)).await
}
