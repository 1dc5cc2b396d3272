//! Throughput of all detectors: readings per second through `Analytics::observe` (+ `tick` once per
//! simulated minute), one core. 100 power devices at three buildings and 20 soil sensors, one reading
//! per device and minute (soil every 20 min), after two weeks of learning so the learned normal is live.
//! The park gets a weather feed as in production: hourly observed ET0 and a daily 7-day ET0 forecast, so
//! the trees are forecast from ET0 (not counted as readings).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zw_analytics::{Analytics, Config, Event};
use zw_model::inventory::{Device, DeviceSource, Site};
use zw_model::tree::ForecastMethod;
use zw_model::weather::{Et0, Weather};
use zw_model::{Id, Inventory, Quantity, Reading, SiteKind, Tree};

fn id(s: String) -> Id {
    Id::new(s).expect("id")
}

fn device(name: String, class: &str) -> Device {
    let source = DeviceSource::Tasmota {
        topic: name.clone(),
        sml_section: None,
        sml: Vec::new(),
    };
    Device {
        id: id(name),
        name: String::new(),
        class: class.into(),
        source,
    }
}

/// The weather message of minute `m` from `t0`, if any: at minute 5 of each hour the past hour's ET0
/// (0.125 mm), at 05:05 UTC also a 7-day hourly forecast.
fn weather(t0: DateTime<Utc>, m: i64) -> Option<Weather> {
    if m % 60 != 5 || m < 60 {
        return None;
    }
    let t = t0 + TimeDelta::minutes(m);
    let hour = |h: i64| {
        let from = t0 + TimeDelta::hours(m / 60 + h);
        Et0 {
            from,
            to: from + TimeDelta::hours(1),
            mm: 0.125,
        }
    };
    let forecast = if (m / 60) % 24 == 5 {
        (0..7 * 24).map(hour).collect()
    } else {
        Vec::new()
    };
    Some(Weather {
        v: 1,
        area: id("town".into()),
        issued: t,
        source: None,
        observed: vec![hour(-1)],
        forecast,
        rain_forecast: Vec::new(),
        rain_observed: Vec::new(),
        temperature: None,
    })
}

fn setup() -> (Inventory, Vec<Vec<Reading>>) {
    let mut inv = Inventory::default();
    let class = |d: usize| match d {
        0 => "main_meter",
        d if d % 3 == 0 => "plug",
        _ => "heater",
    };
    for s in 0..3 {
        let devices = (0..34).map(|d| device(format!("s{s}-d{d}"), class(d))).collect();
        inv.sites.push(Site {
            id: id(format!("s{s}")),
            name: String::new(),
            kind: SiteKind::Building,
            category: None,
            floor_area_m2: None,
            devices,
        });
    }
    let sensors: Vec<Device> = (0..20)
        .map(|k| device(format!("soil-{k}"), "soil_sensor"))
        .collect();
    for (k, d) in sensors.iter().enumerate() {
        inv.trees.push(Tree {
            id: id(format!("t-{k}")),
            site: id("park".into()),
            species: "Tilia cordata".into(),
            planted: 2020,
            lat: 51.0,
            lon: 6.0,
            sensors: vec![d.id.clone()],
            district: None,
        });
    }
    inv.sites.push(Site {
        id: id("park".into()),
        name: String::new(),
        kind: SiteKind::Park,
        category: None,
        floor_area_m2: None,
        devices: sensors,
    });
    let t0 = DateTime::parse_from_rfc3339("2026-05-04T00:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let minutes = (0..(14 * 24 + 6) * 60)
        .map(|m: i64| {
            let t = t0 + TimeDelta::minutes(m);
            inv.devices()
                .filter(|(_, d)| d.class != "soil_sensor" || m % 20 == 0)
                .map(|(s, d)| {
                    let (q, v) = if d.class == "soil_sensor" {
                        (
                            Quantity::SoilMoisture,
                            25.0 - m as f64 / 5000.0 + (m % 7) as f64 * 0.01,
                        )
                    } else {
                        (
                            Quantity::ActivePower,
                            500.0 + ((m * 31 + d.id.as_str().len() as i64) % 97) as f64 * 10.0,
                        )
                    };
                    Reading::new(s.id.clone(), d.id.clone(), t, BTreeMap::from([(q, v)]))
                })
                .collect()
        })
        .collect();
    (inv, minutes)
}

fn bench(c: &mut Criterion) {
    let (inv, minutes) = setup();
    let t0 = minutes[0][0].ts;
    let feed: Vec<Option<Weather>> = (0..minutes.len() as i64).map(|m| weather(t0, m)).collect();
    let learn = 14 * 24 * 60;
    let warm = |cfg: &Config| {
        let mut a = Analytics::new(cfg, &inv);
        let mut method = None;
        for (batch, w) in minutes[..learn].iter().zip(&feed) {
            if let Some(w) = w {
                a.weather(w);
            }
            for r in batch {
                a.observe(r, r.ts);
            }
            if let Some(r) = batch.first() {
                for e in a.tick(r.ts) {
                    if let Event::Tree(t) = e {
                        method = t.forecast.map(|f| f.method);
                    }
                }
            }
        }
        // The bench measures the weather-aware path: the trees must be forecast from ET0 by now.
        assert_eq!(
            method,
            Some(ForecastMethod::Et0),
            "the trees are not forecast from ET0"
        );
        a
    };
    let mut on = Config::default();
    on.trees.weather.default_area = Some("town".into());
    let mut off = on.clone();
    off.common_cause.enabled = false;
    let variants = [
        ("observe_all_detectors", warm(&on)),
        ("observe_all_detectors_without_common_cause", warm(&off)),
    ];
    let live = &minutes[learn..];
    let live_feed = &feed[learn..];
    let n: usize = live.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("detectors");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    for (name, warmed) in &variants {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || warmed.clone(),
                |mut a| {
                    for (batch, w) in live.iter().zip(live_feed) {
                        if let Some(w) = w {
                            a.weather(w);
                        }
                        for r in batch {
                            std::hint::black_box(a.observe(r, r.ts));
                        }
                        if let Some(r) = batch.first() {
                            std::hint::black_box(a.tick(r.ts));
                        }
                    }
                    a
                },
                BatchSize::LargeInput,
            )
        });
    }
    // Ceiling, measured in the same run: the least any per-device detector does with a reading (find the
    // device's state by id, read the value, update an exponential average). Detector throughput is
    // reported as a share of it, so a loaded machine shows as a slow ceiling rather than slow detectors.
    g.bench_function("ceiling_lookup_and_smooth", |b| {
        b.iter_batched(
            std::collections::HashMap::<Id, f64>::new,
            |mut state| {
                for batch in live {
                    for r in batch {
                        let v = r.values.values().next().copied().unwrap_or_default();
                        match state.get_mut(&r.device) {
                            Some(e) => {
                                *e += 0.4 * (v - *e);
                                std::hint::black_box(*e);
                            }
                            None => {
                                state.insert(r.device.clone(), v);
                            }
                        }
                    }
                }
                state
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
