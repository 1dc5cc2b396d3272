//! Warm-up against a real influxd: three weeks of history in the `readings` measurement teach the learned
//! normal through the bounded, bind-parameter query, so the first live excess is judged against it.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use zw_analytics::{Analytics, Config, Event};
use zw_model::{Device, Id, Inventory, Quantity, Reading};
use zw_tests::Stack;

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

/// The building `school` with its main meter `meter-1`.
fn inventory() -> Inventory {
    Inventory::builder()
        .building(
            "school",
            [Device::tasmota("meter-1", "meter-1").class("main_meter")],
        )
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_from_influxdb_teaches_the_normal() -> anyhow::Result<()> {
    let stack = Stack::builder().influxd().start().await?;
    // Three weeks of a flat 1 kW, one point per 5 minutes, ending an hour ago.
    let now = Utc::now();
    let start = now - TimeDelta::weeks(3);
    let lines: Vec<String> = (0..3 * 7 * 24 * 12)
        .map(|k| {
            let t = start + TimeDelta::minutes(5 * k);
            format!(
                "readings,device=meter-1,site=school active_power=1000 {}",
                t.timestamp_millis()
            )
        })
        .collect();
    for chunk in lines.chunks(5000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }
    let influx = zw_influx::Client::new(zw_influx::Config {
        url: stack.influx_url(),
        database: stack.influx_db().into(),
        ..Default::default()
    })?;
    let (cfg, inv) = (Config::default(), inventory());
    let mut a = Analytics::new(&cfg, &inv);
    let (learned, soil) = zw_analytics::warmup::warm(&mut a, &influx, &inv, &cfg, now).await?;
    assert!(learned >= 3 * 7 * 24 * 4 - 8, "{learned} windows");
    assert_eq!(soil, 0, "no tree sensors in this inventory");

    // Live: 2.5 kW for 20 minutes is far above the learned 1 kW.
    let mut texts = Vec::new();
    for m in 0..20 {
        let t: DateTime<Utc> = now + TimeDelta::minutes(m);
        let r = Reading::new(
            id("school"),
            id("meter-1"),
            t,
            BTreeMap::from([(Quantity::ActivePower, 2500.0)]),
        );
        for e in a.observe(&r, t) {
            if let Event::Alert(x) = e {
                texts.push(x.explanation.text);
            }
        }
    }
    assert!(
        texts
            .first()
            .is_some_and(|t| t.contains("above the usual 1.0 kW")),
        "{texts:?}"
    );
    Ok(())
}
