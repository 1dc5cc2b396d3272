//! Cost and CO₂ per medium in the dashboard (issues 19 and 21), in headless Chromium against a running
//! system (mosquitto, influxd, `zaehlwerk all`), with the meters' past written straight to InfluxDB and
//! rolled up (`zaehlwerk rollup`) before the start.
//!
//! The town hall has an electricity, a gas and a water meter; electricity and gas have tariffs (gas priced on
//! its kWh after the DVGW conversion) and emission factors, water has neither. Its building view shows, per
//! medium, this month and last month in the medium's unit (gas in m³ with its kWh), the gross cost as the
//! API's `/cost?medium=` has it to the cent, and the running year's CO₂ as the API's Energiebericht of the
//! year has it; water's cost and CO₂ are "–" with the reason (no tariff, no emission factor), never 0. The
//! view passes axe-core without a serious or critical violation; its screenshot is
//! `target/e2e-artifacts/dashboard/building-media.png`. A household with a gas meter sees its gas month and
//! cost next to electricity, the cost the API's.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use serde_json::{Value, json};
use zw_model::counter::gas::GasConversion;
use zw_model::inventory::JsonField;
use zw_model::report::EmissionFactor;
use zw_model::{Device, Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::support::browser::{DESKTOP, PHONE, check_view};
use crate::support::config::{serving, user, write};
use crate::support::history::{counter_lines, write as write_history};
use crate::support::{Zaehlwerk, eventually, get};

fn meter(device: &str, q: Quantity, class: &str) -> Device {
    Device::json(device, &format!("meters/{device}"), [JsonField::new("/e", q)]).class(class)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// `v` as Intl's de-DE formats it with `digits` decimals: `.` between thousands, `,` before the decimals.
fn de(v: f64, digits: usize) -> String {
    let s = format!("{:.*}", digits, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// Cents as the page's German euros ("1.234,56 €").
fn euros(cents: i64) -> String {
    format!("{} €", de(cents as f64 / 100.0, 2))
}

/// CO₂ kg as the page shows it: "850 kg" below a tonne, else "12,35 t".
fn co2(kg: f64) -> String {
    if kg < 1000.0 {
        format!("{} kg", de(kg, 0))
    } else {
        format!("{} t", de(kg / 1000.0, 2))
    }
}

/// m³ as the page shows them (2 decimals below 10, 1 below 100, else none).
fn m3(v: f64) -> String {
    let digits = if v.abs() < 10.0 {
        2
    } else if v.abs() < 100.0 {
        1
    } else {
        0
    };
    format!("{} m³", de(v, digits))
}

/// The cell `data-media="<key>"`: its attributes after the key and its text up to the first child tag, with
/// `&nbsp;` as a space.
fn cell(dom: &str, key: &str) -> anyhow::Result<(String, String)> {
    let rest = dom
        .split(&format!("data-media=\"{key}\""))
        .nth(1)
        .with_context(|| format!("no cell {key}"))?;
    let (attrs, after) = rest.split_once('>').context("an open tag")?;
    let text = after.split('<').next().unwrap_or("");
    let clean = |s: &str| s.replace("&nbsp;", " ").replace('\u{a0}', " ");
    Ok((clean(attrs), clean(text)))
}

/// The value of `attr="…"` in a cell's attributes.
fn attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    attrs.split(&format!("{name}=\"")).nth(1)?.split('"').next()
}

/// The entry of medium `m` in a report building's `media`.
fn medium_of<'a>(media: &'a [Value], m: &str) -> anyhow::Result<&'a Value> {
    media
        .iter()
        .find(|x| x["medium"] == m)
        .with_context(|| format!("{m} in {media:?}"))
}

/// The gross cents of this month and last month of `medium` at `site` from `/cost?medium=`.
async fn api_cost(api: &str, token: &str, site: &str, medium: &str) -> anyhow::Result<[i64; 2]> {
    let (code, c) = get(
        &format!("{api}/api/v1/sites/{site}/cost?period=month&count=2&medium={medium}"),
        Some(token),
    )
    .await?;
    anyhow::ensure!(code == 200, "cost of {medium}: {code} {c}");
    let gross = |i: usize| {
        c["periods"][i]["gross_cents"]
            .as_i64()
            .with_context(|| format!("{c}"))
    };
    Ok([gross(1)?, gross(0)?])
}

/// The shown cost is one of the API's figures (before or after the page: an interval may close in between).
fn same_cost(dom: &str, key: &str, api: &[i64]) -> anyhow::Result<()> {
    let (attrs, text) = cell(dom, key)?;
    let cents: i64 = attr(&attrs, "data-gross-cents")
        .with_context(|| format!("{key} has no cost: {text:?} {attrs}"))?
        .parse()?;
    anyhow::ensure!(api.contains(&cents), "{key}: {cents} cents, the API has {api:?}");
    let want = euros(cents);
    anyhow::ensure!(
        text == want || text == format!("{want} *"),
        "{key}: {text:?}, not {want:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_building_shows_cost_and_co2_per_medium_and_a_household_its_gas() -> anyhow::Result<()> {
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
        .household(
            "hh-gas",
            [
                meter("hh-gas-main", Quantity::EnergyImport, "main_meter"),
                meter("hh-gas-meter", Quantity::GasVolume, "gas_meter"),
            ],
        )
        .build();
    inv.users = vec![
        user("fm", Role::FacilityManager, &["*"], "tok-fm"),
        user("res", Role::Resident, &["hh-gas"], "tok-res"),
    ];
    // Gas: 11.2 kWh/m³ × Z 0.96; electricity 30 ct/kWh and 10 €/month, gas 11 ct/kWh and 12 €/month, 19 % VAT.
    inv.gas_conversions = ["rathaus", "hh-gas"]
        .map(|site| GasConversion {
            site: site.into(),
            valid_from: day(2020, 1, 1),
            calorific_value_kwh_per_m3: 11.2,
            z_factor: 0.96,
        })
        .to_vec();
    let tariff = |id: &str, medium: &str, ct: f64, base: f64| {
        serde_json::from_value(json!({
            "id": id, "name": id, "valid_from": "2020-01-01", "sites": ["rathaus", "hh-gas"], "medium": medium,
            "vat_percent": 19.0, "energy_ct_per_kwh": ct, "base_eur_per_month": base
        }))
    };
    inv.tariffs = vec![
        tariff("strom", "electricity", 30.0, 10.0)?,
        tariff("erdgas", "gas", 11.0, 12.0)?,
    ];
    cfg.inventory = inv;
    let factor = |g: f64| EmissionFactor {
        valid_from: day(2020, 11, 1),
        g_per_kwh: Some(g),
        g_per_m3: None,
        source: "GEG 2020 Anlage 9".into(),
    };
    cfg.api.report.emission_factors.electricity = vec![factor(560.0)];
    cfg.api.report.emission_factors.gas = vec![factor(240.0)];
    let path = write(&stack, &cfg)?;

    // The past from before last month and 1 January (whichever is earlier) up to now, then rolled up.
    let now = Utc::now();
    let today = now.date_naive();
    let last_month = today
        .with_day(1)
        .and_then(|d| d.checked_sub_months(chrono::Months::new(1)))
        .context("last month")?;
    let start = last_month.min(day(today.year(), 1, 1)) - TimeDelta::days(2);
    let from = start.and_hms_opt(0, 0, 0).context("midnight")?.and_utc();
    let mut lines = Vec::new();
    for (site, device, field, per_day) in [
        ("rathaus", "rathaus-main", "energy_import", 200_000.0),
        ("rathaus", "rathaus-gas", "gas_volume", 30.0),
        ("rathaus", "rathaus-water", "volume", 2.0),
        ("hh-gas", "hh-gas-main", "energy_import", 8_000.0),
        ("hh-gas", "hh-gas-meter", "gas_volume", 4.0),
    ] {
        lines.extend(counter_lines(
            (site, device, field),
            (from, now),
            per_day * 500.0,
            per_day,
        ));
    }
    write_history(&stack, &lines).await?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["rollup", "--since", &start.to_string(), "--config"])
        .arg(&path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "rollup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // The API's figures: cost per medium this month and last, the running year's CO₂ per medium.
    let before_el = api_cost(&api, "tok-fm", "rathaus", "electricity").await?;
    let before_gas = api_cost(&api, "tok-fm", "rathaus", "gas").await?;
    let (code, none) = get(
        &format!("{api}/api/v1/sites/rathaus/cost?period=month&count=2&medium=water"),
        Some("tok-fm"),
    )
    .await?;
    assert_eq!(code, 404, "water has no tariff: {none}");
    let year = today.year();
    // The month bars ask for their energy unpriced (`cost=false`): the same energy, no cost.
    let months = |c: &str| format!("{api}/api/v1/sites/rathaus/energy?period=month&count=2{c}");
    let (_, priced) = get(&months(""), Some("tok-fm")).await?;
    let (code, bare) = get(&months("&cost=false"), Some("tok-fm")).await?;
    assert_eq!(code, 200, "{bare}");
    assert_eq!(
        bare["periods"]
            .as_array()
            .map(|p| p.iter().map(|x| x["wh"].clone()).collect::<Vec<_>>()),
        priced["periods"]
            .as_array()
            .map(|p| p.iter().map(|x| x["wh"].clone()).collect::<Vec<_>>())
    );
    assert!(priced["periods"][0]["cost"].is_number(), "{priced}");
    assert!(
        bare["periods"]
            .as_array()
            .is_some_and(|p| p.iter().all(|x| x["cost"].is_null())),
        "{bare}"
    );
    let asked = std::time::Instant::now();
    // The report reads a year of four meters: more than `get`'s 5 s on a loaded machine.
    let resp = reqwest::Client::new()
        .get(format!("{api}/api/v1/sites/rathaus/report?year={year}"))
        .bearer_auth("tok-fm")
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let code = resp.status().as_u16();
    let report: Value = resp.json().await?;
    anyhow::ensure!(code == 200, "report: {code} {report}\n{}", all.log_tail());
    println!(
        "the running year's report of the town hall answered in {:?}",
        asked.elapsed()
    );
    let media = report["buildings"][0]["media"]
        .as_array()
        .context("media")?
        .clone();
    let of = |m: &str| medium_of(&media, m);
    let (gas_energy, water_energy) = {
        let e = |m: &str| {
            let url = format!("{api}/api/v1/sites/rathaus/energy?period=month&count=1&medium={m}");
            async move { get(&url, Some("tok-fm")).await }
        };
        (e("gas").await?.1, e("water").await?.1)
    };

    // The building view.
    let dom = check_view(
        &format!("{api}/?axe=1#token=tok-fm&view=building&site=rathaus"),
        "building",
        DESKTOP,
        "building-media",
    )
    .await?;
    assert!(
        dom.contains("data-media-table=\"co2\"") && dom.contains("Kosten und CO₂ je Medium"),
        "no media table:\n{dom}"
    );
    // The building's figures are filled, not left at "…" (a failed read would say "–" and why).
    for kpi in ["today", "month", "last-month"] {
        let v = dom
            .split(&format!("data-kpi=\"{kpi}\">"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or("");
        assert!(
            v.ends_with('€') || v.ends_with("kWh"),
            "the building's {kpi}: {v:?} (energy error: {:?})",
            dom.split("data-energy-error=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
        );
    }
    let after_el = api_cost(&api, "tok-fm", "rathaus", "electricity").await?;
    let after_gas = api_cost(&api, "tok-fm", "rathaus", "gas").await?;
    // Each medium's month in its unit: electricity kWh, gas m³ with its kWh, water m³ (as the API has them).
    for period in ["month", "last-month"] {
        let (_, el) = cell(&dom, &format!("electricity:{period}"))?;
        assert!(
            el.ends_with("kWh") || el.ends_with("kWh *"),
            "electricity {period}: {el:?}"
        );
        let total = if period == "month" {
            "total"
        } else {
            "previous_total"
        };
        let (_, gas) = cell(&dom, &format!("gas:{period}"))?;
        let want = m3(gas_energy[total]["m3"].as_f64().context("gas m³")?);
        assert!(
            gas.starts_with(&format!("{want} · ")) && gas.contains("kWh"),
            "gas {period}: {gas:?}, the API has {want}"
        );
        let (_, water) = cell(&dom, &format!("water:{period}"))?;
        let want = m3(water_energy[total]["m3"].as_f64().context("water m³")?);
        assert!(
            water == want || water == format!("{want} *"),
            "water {period}: {water:?}, the API has {want}"
        );
    }
    // The cost to the cent, this month and last, as `/cost?medium=` has it.
    same_cost(&dom, "electricity:cost", &[before_el[0], after_el[0]])?;
    same_cost(&dom, "electricity:last-cost", &[before_el[1], after_el[1]])?;
    same_cost(&dom, "gas:cost", &[before_gas[0], after_gas[0]])?;
    same_cost(&dom, "gas:last-cost", &[before_gas[1], after_gas[1]])?;
    // Water has no tariff: "–" with the reason, not 0.
    for key in ["water:cost", "water:last-cost"] {
        let (attrs, text) = cell(&dom, key)?;
        assert_eq!(text, "–", "{key}");
        assert_eq!(
            attr(&attrs, "title"),
            Some("kein Tarif für Wasser hinterlegt"),
            "{key}: {attrs}"
        );
    }
    // CO₂ of the year so far as the Energiebericht of the running year has it; water without a factor.
    for m in ["electricity", "gas"] {
        let kg = of(m)?["co2_kg"]
            .as_f64()
            .with_context(|| format!("{m} CO₂ in {report}"))?;
        let (attrs, text) = cell(&dom, &format!("{m}:co2"))?;
        let shown: f64 = attr(&attrs, "data-co2-kg").context("no CO₂ kg")?.parse()?;
        assert!(
            (shown - kg).abs() < 1e-9 * kg.max(1.0),
            "{m} CO₂ {shown}, the API {kg}"
        );
        let want = co2(kg);
        assert!(
            text == want || text == format!("{want} *"),
            "{m} CO₂: {text:?}, not {want:?}"
        );
        assert!(
            attrs.contains("GEG 2020 Anlage 9"),
            "{m}: the factor's source: {attrs}"
        );
    }
    assert!(of("water")?["co2_kg"].is_null(), "{report}");
    let (attrs, text) = cell(&dom, "water:co2")?;
    assert_eq!(text, "–");
    assert_eq!(
        attr(&attrs, "title"),
        Some("kein CO₂-Faktor für Wasser hinterlegt"),
        "{attrs}"
    );

    // The household with a gas meter: its gas month and cost next to electricity.
    let home_gas = api_cost(&api, "tok-res", "hh-gas", "gas").await?;
    let dom = check_view(
        &format!("{api}/?axe=1#token=tok-res&view=home&site=hh-gas"),
        "home",
        PHONE,
        "home-media",
    )
    .await?;
    assert!(
        dom.contains("data-media-table=\"forecast\""),
        "no media table:\n{dom}"
    );
    let (_, gas) = cell(&dom, "gas:month")?;
    assert!(
        gas.contains("m³ · ") && gas.contains("kWh"),
        "household gas month: {gas:?}"
    );
    let again = api_cost(&api, "tok-res", "hh-gas", "gas").await?;
    same_cost(&dom, "gas:cost", &[home_gas[0], again[0]])?;
    same_cost(&dom, "gas:last-cost", &[home_gas[1], again[1]])?;
    // The year's projected cost: the forecast's where the API projects gas, else "–" with a reason.
    let (attrs, text) = cell(&dom, "gas:forecast")?;
    assert!(
        text.ends_with('€') || (text == "–" && attr(&attrs, "title").is_some()),
        "household gas year: {text:?} {attrs}"
    );
    assert!(
        !dom.contains("data-media=\"electricity:"),
        "electricity is shown above, not twice"
    );

    all.stop(Duration::from_secs(15)).await?;
    Ok(())
}

#[test]
fn german_numbers_are_formatted_as_the_page_formats_them() {
    assert_eq!(de(1234.5, 2), "1.234,50");
    assert_eq!(de(999.0, 0), "999");
    assert_eq!(de(1_234_567.0, 0), "1.234.567");
    assert_eq!(euros(123_456), "1.234,56 €");
    assert_eq!(co2(850.4), "850 kg");
    assert_eq!(co2(12_345.0), "12,35 t");
    assert_eq!(m3(123.4), "123 m³");
}
