//! The energy report's media and CO₂ against a real InfluxDB (issue 19), on the town of `report.rs`
//! ([`town`]): gas priced on its kWh after the DVGW conversion, water per m³, heat without a tariff (null
//! with the reason); CO₂ per medium, building and town (heat and water: unknown, with the reason) in JSON,
//! CSV and the printable page; `/cost?medium=gas|water` per month.

use serde_json::Value;

use crate::report::{H25, Town, medium, near, text, town};
use crate::support::get;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_water_heat_and_co2_in_the_report() -> anyhow::Result<()> {
    let Town { zw, api, _stack } = town().await?;
    let h25 = H25;
    let (status, _, body) = text(&format!("{api}/api/v1/report?year=2025"), "tok-fm", "*/*").await?;
    anyhow::ensure!(status == 200, "{status} {body}\n{}", zw.log_tail());
    let r: Value = serde_json::from_str(&body)?;
    let hall = medium(&r["buildings"][0], "electricity")?;
    let heat = medium(&r["buildings"][1], "heat")?;
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

    // CSV: the CO₂ columns, the water row in m³.
    let (status, kind, csv) = text(
        &format!("{api}/api/v1/report?year=2025&format=csv"),
        "tok-fm",
        "*/*",
    )
    .await?;
    anyhow::ensure!(
        status == 200 && kind.starts_with("text/csv"),
        "{status} {kind} {csv}"
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[0].ends_with(",cost_note,co2_kg,co2_g_per_unit,co2_source,co2_note,co2_total_kg"),
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

    // The printable page: the building's CO₂ (incomplete: water's is unknown) and the factors' source.
    let (status, kind, html) = text(
        &format!("{api}/api/v1/sites/rathaus/report?year=2025&format=html"),
        "tok-fm",
        "*/*",
    )
    .await?;
    anyhow::ensure!(status == 200 && kind.starts_with("text/html"), "{status} {kind}");
    for want in ["CO₂ gesamt 41,6 t *", "Strom 560 g/kWh (GEG 2020 Anlage 9)"] {
        assert!(html.contains(want), "{want} missing in {html}");
    }

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
