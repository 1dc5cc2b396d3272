//! The municipal energy report against a real InfluxDB (issue 19).
//!
//! Two buildings with two years (local 2024 and 2025) of 15-minute counter readings written straight to
//! InfluxDB and rolled up with `zaehlwerk rollup`: the town hall (Verwaltung, 500 m²) draws a steady 4 kW
//! in 2025 and 3.2 kW in 2024; the school (Schule, 2,000 m²) draws 2 kW of electricity and 40 kW of heat
//! (a heat meter) in both years; the town hall also burns 1 m³ of gas per hour (priced per kWh after the
//! DVGW conversion) and draws 0.25 m³ of water per hour (priced per m³). A temperature CSV covers both
//! years; emission factors are set for electricity and gas only. The report of 2025 must give every figure
//! exactly: consumption, the change against 2024, kWh/m² against the comparison values, the heat
//! weather-corrected with the degree days of the CSV, the night-and-weekend share of a steady load (the
//! hours outside Monday to Friday 07:00–18:00), the flat-tariff cost, the gas and water costs under their
//! tariffs (heat: none, null with the reason), CO₂ per medium, building and town (heat and water: unknown),
//! the candidates; as JSON, CSV and the printable page. `/cost?medium=` prices gas and water per month. A
//! resident sees only their household.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate, TimeDelta, TimeZone as _, Timelike, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use serde_json::Value;
use zw_model::counter::gas::GasConversion;
use zw_model::inventory::JsonField;
use zw_model::report::{BuildingCategory, EmissionFactor, Medium};
use zw_model::tariff::Tariff;
use zw_model::{Device, Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn meter(device: &str, q: Quantity, class: &str) -> Device {
    Device::json(device, &format!("meters/{device}"), [JsonField::new("/e", q)]).class(class)
}

/// The daily mean temperature of the test's CSV: a saw from −5 to 24 °C.
fn temp(d: NaiveDate) -> f64 {
    f64::from(d.ordinal() % 30) - 5.0
}

/// G20/15 of the local days `from..to` by hand.
fn degree_days(from: NaiveDate, to: NaiveDate) -> f64 {
    from.iter_days()
        .take_while(|d| *d < to)
        .map(temp)
        .filter(|t| *t < 15.0)
        .map(|t| 20.0 - t)
        .sum()
}

/// Counter lines every 15 minutes over local 2024 and 2025, `wh_2024` / `wh_2025` per quarter-hour.
fn lines(device: &str, site: &str, field: &str, (wh_2024, wh_2025): (f64, f64)) -> Vec<String> {
    let at = |y| {
        Berlin
            .with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    };
    let (mut t, switch, end) = (at(2024), at(2025), at(2026));
    let (mut v, mut out) = (1_000.0, Vec::new());
    while t <= end {
        out.push(format!(
            "readings,device={device},site={site} {field}={v} {}",
            t.timestamp_millis()
        ));
        v += if t < switch { wh_2024 } else { wh_2025 };
        t += TimeDelta::minutes(15);
    }
    out
}

async fn text(url: &str, token: &str, accept: &str) -> anyhow::Result<(u16, String, String)> {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .header("Accept", accept)
        .timeout(Duration::from_secs(120))
        .send()
        .await?;
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok((status, kind, resp.text().await?))
}

fn near(v: &Value, want: f64, what: &str) -> anyhow::Result<()> {
    let got = v.as_f64().with_context(|| format!("{what} is missing"))?;
    anyhow::ensure!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got}, not {want}"
    );
    Ok(())
}

fn medium<'a>(b: &'a Value, m: &str) -> anyhow::Result<&'a Value> {
    b["media"]
        .as_array()
        .context("media")?
        .iter()
        .find(|x| x["medium"] == m)
        .with_context(|| format!("{m} in {b}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_energy_report_of_a_year_is_exact() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let mut inv = Inventory::builder()
        .building(
            "rathaus",
            [
                meter("rathaus-main", Quantity::EnergyImport, "main_meter"),
                meter("rathaus-gas", Quantity::GasVolume, "gas_meter"),
                meter("rathaus-water", Quantity::Volume, "water_meter"),
            ],
        )
        .building(
            "schule",
            [
                meter("schule-main", Quantity::EnergyImport, "main_meter"),
                meter("schule-heat", Quantity::HeatEnergy, "heat_meter"),
            ],
        )
        .household(
            "hh-1",
            [meter("hh-1-meter", Quantity::EnergyImport, "main_meter")],
        )
        .build();
    inv.users = vec![
        user("fm", Role::FacilityManager, &["*"], "tok-fm"),
        user("res", Role::Resident, &["hh-1"], "tok-res"),
    ];
    for (site, name, category, area) in [
        ("rathaus", "Rathaus", BuildingCategory::Verwaltung, 500.0),
        ("schule", "Grundschule", BuildingCategory::Schule, 2000.0),
    ] {
        let s = inv
            .sites
            .iter_mut()
            .find(|s| s.id.as_str() == site)
            .context("site")?;
        s.name = name.into();
        s.category = Some(category);
        s.floor_area_m2 = Some(area);
    }
    // Gas: 11.0 kWh/m³ × Z 0.95 = 10.45 kWh/m³, at 10 ct/kWh; water at 2 €/m³ with 7 % VAT.
    inv.gas_conversions = vec![GasConversion {
        site: "rathaus".into(),
        valid_from: date(2024, 1, 1),
        calorific_value_kwh_per_m3: 11.0,
        z_factor: 0.95,
    }];
    let tariff = |id: &str, medium: Medium, (ct_kwh, ct_m3, vat): (f64, f64, f64)| Tariff {
        id: zw_model::Id::new(id).expect("id"),
        name: String::new(),
        valid_from: date(2024, 1, 1),
        valid_to: None,
        sites: vec![zw_model::Id::new("rathaus").expect("id")],
        medium,
        ct_per_m3: ct_m3,
        currency: "EUR".into(),
        vat_percent: vat,
        energy_ct_per_kwh: ct_kwh,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
        dynamic: None,
    };
    inv.tariffs = vec![
        tariff("erdgas", Medium::Gas, (10.0, 0.0, 19.0)),
        tariff("wasser", Medium::Water, (0.0, 200.0, 7.0)),
    ];
    cfg.inventory = inv;
    cfg.api.tariff.price_per_kwh = 0.3;
    let factor = |g: f64| EmissionFactor {
        valid_from: date(2020, 11, 1),
        g_per_kwh: Some(g),
        g_per_m3: None,
        source: "GEG 2020 Anlage 9".into(),
    };
    cfg.api.report.emission_factors.electricity = vec![factor(560.0)];
    cfg.api.report.emission_factors.gas = vec![factor(240.0)];
    // The readings of two years ago are older than the default raw retention (730 days): keep everything.
    cfg.retention.raw = Duration::ZERO;
    cfg.retention.rollups = Duration::ZERO;
    let temps = stack.state_dir().join("temperatures.csv");
    let csv: String = date(2024, 1, 1)
        .iter_days()
        .take_while(|d| *d < date(2026, 1, 1))
        .map(|d| format!("{d},{}\n", temp(d)))
        .collect();
    std::fs::write(&temps, format!("date,temp_c\n{csv}"))?;
    cfg.api.report.temperature_csv = Some(temps);
    let cfg_path = write(&stack, &cfg)?;

    let mut all = lines("rathaus-main", "rathaus", "energy_import", (800.0, 1000.0));
    all.extend(lines("schule-main", "schule", "energy_import", (500.0, 500.0)));
    all.extend(lines(
        "schule-heat",
        "schule",
        "heat_energy",
        (10_000.0, 10_000.0),
    ));
    all.extend(lines("rathaus-gas", "rathaus", "gas_volume", (0.25, 0.25)));
    all.extend(lines("rathaus-water", "rathaus", "volume", (0.0625, 0.0625)));
    for chunk in all.chunks(20_000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["rollup", "--since", "2023-12-31", "--config"])
        .arg(&cfg_path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "rollup: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let zw = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| zw.log_tail())?;

    let (status, kind, body) = text(&format!("{api}/api/v1/report?year=2025"), "tok-fm", "*/*").await?;
    anyhow::ensure!(status == 200, "{status} {body}\n{}", zw.log_tail());
    anyhow::ensure!(kind.starts_with("application/json"), "{kind}");
    let r: Value = serde_json::from_str(&body)?;

    // Local 2025 and 2024 have 8,760 and 8,784 hours (the DST changes cancel out).
    let (h25, h24) = (8760.0, 8784.0);
    let g25 = degree_days(date(2025, 1, 1), date(2026, 1, 1));
    let g24 = degree_days(date(2024, 1, 1), date(2025, 1, 1));
    near(&r["climate"]["degree_days"], g25, "degree days 2025")?;
    near(&r["climate"]["previous_degree_days"], g24, "degree days 2024")?;
    near(&r["climate"]["reference_degree_days"], 3883.0, "reference")?;
    // Hours inside Monday to Friday 07:00–18:00 (no DST change falls inside them).
    let weekdays = date(2025, 1, 1)
        .iter_days()
        .take_while(|d| d.year() == 2025)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as f64;
    let outside = (h25 - 11.0 * weekdays) / h25;

    let ids: Vec<&str> = r["buildings"]
        .as_array()
        .context("buildings")?
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["rathaus", "schule"],
        "the facility manager sees the buildings: {r}"
    );
    let hall = medium(&r["buildings"][0], "electricity")?;
    near(&hall["value"], 4.0 * h25, "rathaus kWh")?;
    assert_eq!(hall["complete"], true, "{hall}");
    near(&hall["previous_value"], 3.2 * h24, "rathaus 2024 kWh")?;
    near(
        &hall["change_ratio"],
        4.0 * h25 / (3.2 * h24) - 1.0,
        "rathaus change",
    )?;
    near(&hall["per_m2"], 4.0 * h25 / 500.0, "rathaus kWh/m²")?;
    near(&hall["comparison_per_m2"], 38.0, "verwaltung comparison value")?;
    near(
        &hall["above_comparison"],
        4.0 * h25 / 500.0 / 38.0 - 1.0,
        "rathaus above",
    )?;
    near(&hall["outside_usage_share"], outside, "rathaus outside usage")?;
    // 35,040 kWh at 0.30 € (flat, taken as final): 10,512.00 €.
    assert_eq!(hall["cost"]["gross_cents"].as_i64(), Some(1_051_200), "{hall}");
    assert_eq!(hall["cost"]["complete"], true, "{hall}");

    let school = &r["buildings"][1];
    let el = medium(school, "electricity")?;
    near(&el["value"], 2.0 * h25, "schule kWh")?;
    near(&el["change_ratio"], h25 / h24 - 1.0, "schule change")?;
    near(
        &el["above_comparison"],
        2.0 * h25 / 2000.0 / 9.0 - 1.0,
        "schule electricity above",
    )?;
    let heat = medium(school, "heat")?;
    let (heat25, heat24) = (40.0 * h25, 40.0 * h24);
    near(&heat["value"], heat25, "heat kWh")?;
    near(
        &heat["normalised_value"],
        heat25 * 3883.0 / g25,
        "heat normalised",
    )?;
    near(
        &heat["previous_normalised_value"],
        heat24 * 3883.0 / g24,
        "heat 2024 normalised",
    )?;
    near(
        &heat["normalised_change_ratio"],
        (heat25 / g25) / (heat24 / g24) - 1.0,
        "heat normalised change",
    )?;
    near(&heat["per_m2"], heat25 / 2000.0, "heat kWh/m²")?;
    near(
        &heat["compared_per_m2"],
        heat25 * 3883.0 / g25 / 2000.0,
        "heat compared",
    )?;
    near(
        &heat["above_comparison"],
        heat25 * 3883.0 / g25 / 2000.0 / 140.0 - 1.0,
        "heat above",
    )?;
    assert!(heat["cost"].is_null(), "no tariff prices heat: {heat}");
    assert!(
        heat["cost_note"]
            .as_str()
            .is_some_and(|n| n.contains("no heat tariff")),
        "{heat}"
    );
    assert!(heat["co2_kg"].is_null(), "no heat factor: {heat}");

    // Gas: 8,760 m³ = 91,542 kWh at 10 ct = 9,154.20 € net, 19 % VAT; water: 2,190 m³ at 2 € = 4,380.00 €
    // net, 7 % VAT. CO₂: electricity 35,040 kWh × 560 g, gas 91,542 kWh × 240 g; water unknown.
    let gas = medium(&r["buildings"][0], "gas")?;
    near(&gas["value"], h25, "gas m³")?;
    assert_eq!(gas["unit"], "m³", "{gas}");
    assert_eq!(gas["cost"]["net_cents"].as_i64(), Some(915_420), "{gas}");
    assert_eq!(
        gas["cost"]["gross_cents"].as_i64(),
        Some(915_420 + 173_930),
        "{gas}"
    );
    assert_eq!(gas["cost"]["complete"], true, "{gas}");
    near(&gas["co2_kg"], h25 * 10.45 * 0.24, "gas CO₂")?;
    assert_eq!(gas["co2_source"], "GEG 2020 Anlage 9", "{gas}");
    let water = medium(&r["buildings"][0], "water")?;
    near(&water["value"], 0.25 * h25, "water m³")?;
    assert_eq!(water["cost"]["net_cents"].as_i64(), Some(438_000), "{water}");
    assert_eq!(
        water["cost"]["gross_cents"].as_i64(),
        Some(438_000 + 30_660),
        "{water}"
    );
    assert!(water["co2_kg"].is_null(), "{water}");
    assert!(
        water["co2_note"]
            .as_str()
            .is_some_and(|n| n.contains("no emission factor for water")),
        "{water}"
    );
    near(
        &hall["co2_kg"],
        4.0 * h25 * 560.0 / 1000.0,
        "rathaus electricity CO₂",
    )?;
    let hall_co2 = 4.0 * h25 * 0.56 + h25 * 10.45 * 0.24;
    near(&r["buildings"][0]["co2_kg"], hall_co2, "rathaus CO₂")?;
    assert_eq!(r["buildings"][0]["co2_complete"], false, "water's CO₂ is unknown");
    near(&r["town_co2_kg"], hall_co2 + 2.0 * h25 * 0.56, "town CO₂")?;

    let town = r["town"].as_array().context("town")?;
    let town_el = town
        .iter()
        .find(|m| m["medium"] == "electricity")
        .context("town electricity")?;
    near(&town_el["value"], 6.0 * h25, "town kWh")?;
    near(&town_el["per_m2"], 6.0 * h25 / 2500.0, "town kWh/m²")?;
    assert_eq!(
        town_el["cost"]["gross_cents"].as_i64(),
        Some(1_576_800),
        "{town_el}"
    );
    // Candidates: the heat of the school and the town hall's electricity are above their values, ordered by
    // how far; the night-and-weekend shares follow (equal for steady loads: by site id).
    let mut above = [
        ("rathaus", "electricity", 4.0 * h25 / 500.0 / 38.0 - 1.0),
        ("schule", "heat", heat25 * 3883.0 / g25 / 2000.0 / 140.0 - 1.0),
    ];
    above.sort_by(|a, b| b.2.total_cmp(&a.2));
    let got: Vec<(String, String, String)> = r["candidates"]
        .as_array()
        .context("candidates")?
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
            (s("kind"), s("site"), s("medium"))
        })
        .collect();
    let want: Vec<(String, String, String)> = above
        .iter()
        .filter(|a| a.2 > 0.0)
        .map(|a| ("above_comparison".into(), a.0.into(), a.1.into()))
        .collect();
    assert_eq!(got[..want.len()], want[..], "{}", r["candidates"]);
    // The steady loads' shares are equal up to rounding: all five (the default number), in any order.
    let mut rest = got[want.len()..].to_vec();
    rest.sort();
    let steady = [
        ("rathaus", "electricity"),
        ("rathaus", "gas"),
        ("rathaus", "water"),
        ("schule", "electricity"),
        ("schule", "heat"),
    ]
    .map(|(s, m)| ("outside_usage".to_string(), s.to_string(), m.to_string()));
    assert_eq!(rest, steady, "{}", r["candidates"]);

    // CSV: one row per site and medium, then the town; by Accept or ?format=csv.
    let (status, kind, csv) = text(&format!("{api}/api/v1/report?year=2025"), "tok-fm", "text/csv").await?;
    anyhow::ensure!(
        status == 200 && kind.starts_with("text/csv"),
        "{status} {kind} {csv}"
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].starts_with("site,name,category,floor_area_m2,medium,unit,value,complete"),
        "{csv}"
    );
    assert!(
        rows[1].starts_with("rathaus,Rathaus,verwaltung,500,electricity,kWh,35040,true,28108.8,true,"),
        "{csv}"
    );
    assert!(
        rows[0].ends_with(",cost_note,co2_kg,co2_g_per_unit,co2_source,co2_note,co2_total_kg"),
        "{csv}"
    );
    assert_eq!(rows.len(), 1 + 5 + 4, "{csv}");
    assert!(
        rows[6].starts_with("*,Gemeinde,,,electricity,kWh,52560,true,"),
        "{csv}"
    );
    assert!(
        rows[1].contains(&format!(
            ",{},560,GEG 2020 Anlage 9,,",
            4.0 * h25 * 560.0 / 1000.0
        )),
        "{csv}"
    );
    assert!(
        rows[3].starts_with("rathaus,Rathaus,verwaltung,500,water,m³,2190,true,"),
        "{csv}"
    );

    // The printable page: German, no script.
    let (status, kind, html) = text(
        &format!("{api}/api/v1/sites/rathaus/report?year=2025&format=html"),
        "tok-fm",
        "*/*",
    )
    .await?;
    anyhow::ensure!(status == 200 && kind.starts_with("text/html"), "{status} {kind}");
    for want in [
        "<h1>Energiebericht 2025</h1>",
        "Rathaus",
        "35.040 kWh",
        "@media print",
        "über dem Vergleichswert",
        "CO₂ gesamt 41,6 t *",
        "Strom 560 g/kWh (GEG 2020 Anlage 9)",
    ] {
        assert!(html.contains(want), "{want} missing in {html}");
    }
    assert!(!html.contains("<script"), "{html}");

    // A resident gets their own household only; another site answers 404 as if unknown.
    let (status, body) = get(&format!("{api}/api/v1/report?year=2025"), Some("tok-res")).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    assert_eq!(body["buildings"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["buildings"][0]["id"], "hh-1", "{body}");
    assert!(
        body["buildings"][0]["media"][0]["value"].is_null(),
        "no readings: unknown, not 0: {body}"
    );
    let (status, _) = get(
        &format!("{api}/api/v1/sites/rathaus/report?year=2025"),
        Some("tok-res"),
    )
    .await?;
    assert_eq!(status, 404);
    let (status, body) = get(&format!("{api}/api/v1/report?year=1900"), Some("tok-fm")).await?;
    assert_eq!(status, 400, "{body}");

    // /cost?medium=: June 2025 of gas (720 m³ = 7,524 kWh at 10 ct) and water (180 m³ at 2 €).
    let month =
        |m: &str| format!("{api}/api/v1/sites/rathaus/cost?medium={m}&period=month&count=1&until=2025-06-15");
    let (status, body) = get(&month("gas"), Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    assert_eq!(
        (&body["medium"], &body["unit"]),
        (&"gas".into(), &"Wh".into()),
        "{body}"
    );
    let june = &body["periods"][0];
    near(&june["import_wh"], 720.0 * 10.45 * 1000.0, "June gas Wh")?;
    assert_eq!(june["energy_net_cents"].as_i64(), Some(75_240), "{june}");
    assert_eq!(june["tariffs"][0]["id"], "erdgas", "{june}");
    let (status, body) = get(&month("water"), Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    assert_eq!(body["unit"], "l", "{body}");
    let june = &body["periods"][0];
    near(&june["import_wh"], 180_000.0, "June water litres")?;
    assert_eq!(june["net_cents"].as_i64(), Some(36_000), "{june}");
    assert_eq!(june["gross_cents"].as_i64(), Some(38_520), "{june}");
    // No heat tariff: 404 saying so; a gas meter's cost as electricity: 400.
    let (status, body) = get(
        &format!("{api}/api/v1/sites/schule/cost?medium=heat"),
        Some("tok-fm"),
    )
    .await?;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("no heat tariff"), "{body}");
    let (status, body) = get(&format!("{api}/api/v1/devices/rathaus-gas/cost"), Some("tok-fm")).await?;
    assert_eq!(status, 400, "{body}");
    Ok(())
}

/// Relative difference of two JSON documents' numbers at most 1e-9, everything else equal; the first
/// difference's path otherwise.
fn same(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (x, y))| same(x, y, &format!("{path}[{i}]"))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => x
            .iter()
            .try_for_each(|(k, v)| same(v, y.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}"))),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

/// 5-minute counter lines of one device over `[from, to)` drawing `w(t)` watts, except where `skip(t)`;
/// `reset` at a time sets the counter back to 0 there (a meter swap).
fn irregular(
    (device, site): (&str, &str),
    (from, to): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    w: impl Fn(chrono::DateTime<Utc>) -> f64,
    skip: impl Fn(chrono::DateTime<Utc>) -> bool,
    reset: Option<chrono::DateTime<Utc>>,
) -> Vec<String> {
    let (mut t, mut v, mut out) = (from, 5_000.0, Vec::new());
    while t < to {
        if reset.is_some_and(|r| r <= t && t < r + TimeDelta::minutes(5)) {
            v = 0.0;
        }
        if !skip(t) {
            out.push(format!(
                "readings,device={device},site={site} energy_import={v:.3} {}",
                t.timestamp_millis()
            ));
        }
        v += w(t) / 12.0;
        t += TimeDelta::minutes(5);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_from_the_rollups_equals_the_readings_path() -> anyhow::Result<()> {
    // A building with two main meters over local 2025 (and the edges of 2024): the first with a 2-hour gap
    // in the usage hours, a meter swap (reset) one evening, a day without readings and both DST changes;
    // the second installed in May. The rollups answer most stretches, the readings path the rest: the
    // report must be the same with the rollups as without them (an empty watermark).
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let mut inv = Inventory::builder()
        .building(
            "werk",
            [
                meter("werk-a", Quantity::EnergyImport, "main_meter"),
                meter("werk-b", Quantity::EnergyImport, "main_meter"),
            ],
        )
        .build();
    inv.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    cfg.inventory = inv;
    cfg.api.tariff.price_per_kwh = 0.3;
    cfg.retention.raw = Duration::ZERO;
    cfg.retention.rollups = Duration::ZERO;
    // The readings path (the comparison) of a debug build reads a year of 5-minute readings slowly.
    cfg.api.request_timeout = Duration::from_secs(110);
    cfg.api.query_timeout = Duration::from_secs(100);
    let cfg_path = write(&stack, &cfg)?;
    let utc = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().expect("time");
    let span = (utc(2023, 12, 30, 0), utc(2026, 1, 2, 0));
    // A daily swing around 3 kW, so the hours outside use are not a plain share.
    let swing = |t: chrono::DateTime<Utc>| {
        3_000.0 + 2_000.0 * (f64::from(t.hour()) / 24.0 * std::f64::consts::TAU).sin()
    };
    let gap = (utc(2025, 3, 12, 9), utc(2025, 3, 12, 11));
    let day_off = (utc(2025, 9, 19, 22), utc(2025, 9, 20, 22));
    let mut all = irregular(
        ("werk-a", "werk"),
        span,
        swing,
        |t| (gap.0 <= t && t < gap.1) || (day_off.0 <= t && t < day_off.1),
        Some(utc(2025, 6, 3, 19)),
    );
    all.extend(irregular(
        ("werk-b", "werk"),
        (utc(2025, 5, 15, 8), span.1),
        |_| 500.0,
        |_| false,
        None,
    ));
    for chunk in all.chunks(20_000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args([
            "rollup",
            "--since",
            "2023-12-30",
            "--until",
            "2026-01-02",
            "--config",
        ])
        .arg(&cfg_path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "rollup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zw = Zaehlwerk::start("api", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| zw.log_tail())?;
    let report = || async {
        let (status, _, body) = text(&format!("{api}/api/v1/report?year=2025"), "tok-fm", "*/*").await?;
        anyhow::ensure!(status == 200, "{status} {body}\n{}", zw.log_tail());
        Ok::<Value, anyhow::Error>(serde_json::from_str(&body)?)
    };
    // How many stretches the report's last request took from the rollups and from the readings (its log).
    let tally = || -> anyhow::Result<(u64, u64)> {
        let log = zw.log_tail();
        let line = log
            .lines()
            .rfind(|l| l.contains("Energy report measured"))
            .context("no report log line")?;
        let n = |k: &str| -> anyhow::Result<u64> {
            let v = line.split(k).nth(1).context("field")?;
            Ok(v.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()?)
        };
        Ok((n("from_rollups=")?, n("from_readings=")?))
    };
    let rolled = report().await?;
    let (from_rollups, from_readings) = tally()?;
    // Two meters, about 1,250 stretches each (2025 split at the usage hours, the tariff's days, 2024): the
    // rollups answer the most; the readings the days around the gap, the reset and the day without
    // readings, and the second meter's months before its first reading.
    assert!(
        from_rollups > 1_500 && from_readings < from_rollups,
        "rollups {from_rollups}, readings {from_readings}"
    );
    // The usage-hour edges came from the roller's edge rows (two meters, two times a day, both years).
    let q = "SELECT count(before_wh) FROM rollups.rollup_edge WHERE quantity = 'energy_import'";
    let n = zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), q).await?;
    let n = n["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0);
    assert!(n > 2 * 2 * 365, "{n} edge rows");
    let el = medium(&rolled["buildings"][0], "electricity")?;
    // The gap and the day without readings leave the year incomplete, yet measured; 2024 is complete.
    assert_eq!(el["complete"], false, "{el}");
    assert!(el["value"].as_f64().is_some_and(|v| v > 24_000.0), "{el}");
    assert!(
        el["outside_usage_share"].as_f64().is_some_and(|s| s > 0.5),
        "{el}"
    );
    assert!(el["cost"]["gross_cents"].as_i64().is_some(), "{el}");
    // The watermark overwritten with an empty one: the rollups cover nothing any more.
    let empty: Vec<String> = ["werk-a", "werk-b"]
        .map(|d| {
            format!("rollup_state,device={d},quantity=energy_import,site=werk from_ms=0i,through_ms=0i 0")
        })
        .to_vec();
    let db = (stack.influx_db(), zw_model::counter::rollup::RETENTION_POLICY);
    zw_tests::influx_write_rp(&stack.influx_url(), db, "ms", &empty.join("\n")).await?;
    let raw = report().await?;
    assert_eq!(
        tally()?.0,
        0,
        "without a watermark nothing comes from the rollups"
    );
    same(&rolled, &raw, "report").map_err(|e| anyhow::anyhow!("rollups vs readings: {e}"))?;
    Ok(())
}
