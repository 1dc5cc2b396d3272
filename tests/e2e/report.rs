//! The municipal energy report against a real InfluxDB (issue 19): the town every report test runs
//! against ([`town`]) and its electricity and heat figures, the candidates, CSV, the printable page and a
//! resident's scope. Gas, water and CO₂: `report_media.rs`; the PDF: `report_pdf.rs`; rollups against the
//! readings path: `report_rollups.rs`.
//!
//! Two buildings with two years (local 2024 and 2025) of 15-minute counter readings written straight to
//! InfluxDB and rolled up with `zaehlwerk rollup`: the town hall (Verwaltung, 500 m²) draws a steady 4 kW
//! in 2025 and 3.2 kW in 2024; the school (Schule, 2,000 m²) draws 2 kW of electricity and 40 kW of heat
//! (a heat meter) in both years; the town hall also burns 1 m³ of gas per hour (priced per kWh after the
//! DVGW conversion) and draws 0.25 m³ of water per hour (priced per m³). A temperature CSV covers both
//! years; emission factors are set for electricity and gas only. The report of 2025 must give every figure
//! exactly: consumption, the change against 2024, kWh/m² against the comparison values, the heat
//! weather-corrected with the degree days of the CSV, the night-and-weekend share of a steady load (the
//! hours outside Monday to Friday 07:00–18:00), the flat-tariff cost, the candidates; as JSON, CSV and the
//! printable page. A resident sees only their household.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate, TimeDelta, TimeZone as _, Utc, Weekday};
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

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub(crate) fn meter(device: &str, q: Quantity, class: &str) -> Device {
    Device::json(device, &format!("meters/{device}"), [JsonField::new("/e", q)]).class(class)
}

/// The daily mean temperature of the test's CSV: a saw from −5 to 24 °C.
pub(crate) fn temp(d: NaiveDate) -> f64 {
    f64::from(d.ordinal() % 30) - 5.0
}

/// G20/15 of the local days `from..to` by hand.
pub(crate) fn degree_days(from: NaiveDate, to: NaiveDate) -> f64 {
    from.iter_days()
        .take_while(|d| *d < to)
        .map(temp)
        .filter(|t| *t < 15.0)
        .map(|t| 20.0 - t)
        .sum()
}

/// Counter lines every 15 minutes over local 2024 and 2025, `wh_2024` / `wh_2025` per quarter-hour.
pub(crate) fn lines(device: &str, site: &str, field: &str, (wh_2024, wh_2025): (f64, f64)) -> Vec<String> {
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

pub(crate) async fn text(url: &str, token: &str, accept: &str) -> anyhow::Result<(u16, String, String)> {
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

pub(crate) fn near(v: &Value, want: f64, what: &str) -> anyhow::Result<()> {
    let got = v.as_f64().with_context(|| format!("{what} is missing"))?;
    anyhow::ensure!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got}, not {want}"
    );
    Ok(())
}

pub(crate) fn medium<'a>(b: &'a Value, m: &str) -> anyhow::Result<&'a Value> {
    b["media"]
        .as_array()
        .context("media")?
        .iter()
        .find(|x| x["medium"] == m)
        .with_context(|| format!("{m} in {b}"))
}

/// The town of this file's doc, running: Zählwerk (`all`) with its stack, and the API's base URL.
pub(crate) struct Town {
    /// Stopped before the stack (fields drop in order).
    pub zw: Zaehlwerk,
    /// Kept running until the test ends: bind it (`let Town { zw, api, _stack } = …`); a `..` pattern
    /// drops it, and the stack with it, at once.
    pub _stack: Stack,
    /// `http://127.0.0.1:<port>`.
    pub api: String,
}

/// Local 2025 and 2024 have 8,760 and 8,784 hours (the DST changes cancel out).
pub(crate) const H25: f64 = 8760.0;

/// The town: its inventory, tariffs, emission factors and temperature CSV, two years of readings rolled up,
/// and Zählwerk answering.
pub(crate) async fn town() -> anyhow::Result<Town> {
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
    Ok(Town {
        zw,
        _stack: stack,
        api,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_energy_report_of_a_year_is_exact() -> anyhow::Result<()> {
    let Town { zw, api, _stack } = town().await?;
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
    assert_eq!(rows.len(), 1 + 5 + 4, "{csv}");
    assert!(
        rows[6].starts_with("*,Gemeinde,,,electricity,kWh,52560,true,"),
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

    Ok(())
}
