//! The business view (issue 24) in headless Chromium against a running system (mosquitto, influxd,
//! `zaehlwerk sim` and `zaehlwerk all`): a bakery with two sites sees both and nothing else (not the town
//! hall, the household or the other business), its forecast starts from the G25 standard profile (three
//! hours of history), the accountant's export downloads from the page and, read over HTTP, is the CSV the
//! API documents (BOM, `;`, decimal comma, one row per month). No error reaches the page; the view passes
//! axe-core without a serious or critical violation. Screenshots go to `target/e2e-artifacts/dashboard-business/`.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, Months};
use zw_model::inventory::fixtures;
use zw_model::{Device, Inventory, Role, Site, SiteKind};
use zw_sim::MeterConfig;
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::browser::{DESKTOP, PHONE, artifacts, attr_values, dump_dom, screenshot, text_of};
use crate::support::config::{plug, serving, user, write};
use crate::support::{Zaehlwerk, eventually, get};

/// Virtual time the page gets before its DOM is read.
const BUDGET: u32 = 10000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_sees_its_two_sites_its_forecast_and_downloads_its_export() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (api_port, modbus) = (free_port(), free_port());
    let mut cfg = serving(&stack, api_port);
    cfg.sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
    cfg.sim.update_interval = Duration::from_secs(3600);
    cfg.sim.meters = vec![MeterConfig::sdm630(1)];
    // Three hours of the meter's past: whole hours to forecast from, far fewer than 14 days (G25).
    cfg.sim.history = Duration::from_secs(3 * 3600);
    cfg.sim.plugs = vec![plug("ofen", Duration::from_millis(300))];
    let meter = Device::modbus("backstube-main", &format!("127.0.0.1:{modbus}"), 1, "sdm630")
        .every(Duration::from_millis(500));
    let mut inv = Inventory::builder()
        .site(Site::new("backstube", SiteKind::Business, [meter]))
        .site(Site::new(
            "laden",
            SiteKind::Business,
            [Device::tasmota("laden-ofen", "ofen")],
        ))
        .site(Site::new("metzgerei", SiteKind::Business, []))
        .site(fixtures::household_with_plug("hh-1", "plug-hh"))
        .site(Site::new("rathaus", SiteKind::Building, []))
        .build();
    inv.tariffs = vec![serde_json::from_value(serde_json::json!({
        "id": "gewerbe", "name": "Gewerbestrom", "valid_from": "2020-01-01", "sites": ["backstube", "laden"],
        "vat_percent": 19.0, "energy_ct_per_kwh": 28.0, "base_eur_per_month": 15.0
    }))?];
    let year = chrono::Utc::now().year();
    inv.budgets = vec![serde_json::from_value(serde_json::json!({
        "site": "backstube", "year": year, "gross": 9000.0
    }))?];
    inv.users = vec![
        user("baecker", Role::Business, &["backstube", "laden"], "tok-bakery"),
        user("metzger", Role::Business, &["metzgerei"], "tok-butcher"),
        user("res1", Role::Resident, &["hh-1"], "tok-res1"),
    ];
    cfg.inventory = inv;
    let path = write(&stack, &cfg)?;
    let sim = Zaehlwerk::start("sim", &path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    let (status, sites) = get(&format!("{api}/api/v1/sites"), Some("tok-bakery")).await?;
    assert_eq!(status, 200, "{sites}");
    let ids: Vec<&str> = sites
        .as_array()
        .context("sites")?
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["backstube", "laden"]);
    for other in ["metzgerei", "hh-1", "rathaus"] {
        let (status, _) = get(&format!("{api}/api/v1/sites/{other}/cost"), Some("tok-bakery")).await?;
        assert_eq!(status, 404, "{other}");
    }

    // The forecast, once the meter's history is in: the G25 standard profile with the year's budget.
    let fc = eventually(WAIT, "the bakery's forecast", || async {
        let (status, fc) = get(
            &format!("{api}/api/v1/sites/backstube/forecast"),
            Some("tok-bakery"),
        )
        .await
        .ok()?;
        (status == 200).then_some(fc)
    })
    .await
    .with_context(|| all.log_tail())?;
    assert_eq!(fc["method"]["kind"], "standard_profile", "{fc}");
    assert_eq!(fc["method"]["profile"], "g25", "{fc}");
    assert_eq!(fc["budget"]["gross"], 9000.0, "{fc}");

    // The export over HTTP: last month and this one, as a German Excel opens it.
    let this = chrono::Utc::now().date_naive().with_day(1).context("first")?;
    let last = this.checked_sub_months(Months::new(1)).context("last month")?;
    let url = format!(
        "{api}/api/v1/sites/backstube/export.csv?from={}&to={}&sep=semicolon&decimal=comma",
        last.format("%Y-%m"),
        this.format("%Y-%m")
    );
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth("tok-bakery")
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp.headers()["content-type"].to_str()?.to_owned();
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let disposition = resp.headers()["content-disposition"].to_str()?.to_owned();
    assert!(disposition.contains("attachment"), "{disposition}");
    let bytes = resp.bytes().await?;
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "a UTF-8 BOM first");
    let text = std::str::from_utf8(&bytes[3..])?;
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "month;electricity_kwh;net;vat;gross;currency;tariff;complete"
    );
    assert_eq!(lines.len(), 3, "{text}");
    let now: Vec<&str> = lines[2].split(';').collect();
    assert_eq!(now[0], this.format("%Y-%m").to_string(), "{text}");
    assert!(now[1].contains(','), "kWh with a decimal comma: {text}");
    assert!(now[4].contains(','), "gross with a decimal comma: {text}");
    assert_eq!((now[5], now[6]), ("EUR", "gewerbe"), "{text}");
    // Another business's site is 404 like an unknown one.
    let (status, _) = get(
        &format!("{api}/api/v1/sites/metzgerei/export.csv"),
        Some("tok-bakery"),
    )
    .await?;
    assert_eq!(status, 404);

    // The page: both sites, nothing else; the export button downloads the file.
    let page = format!("{api}/?axe=1&click=%23export-csv#token=tok-bakery&view=business&site=backstube");
    let dom = dump_dom(&page, BUDGET, PHONE).await?;
    assert!(
        dom.contains("data-ready=\"business\""),
        "the business view did not load: {:?}\n{dom}",
        attr_values(&dom, "data-error")
    );
    assert!(attr_values(&dom, "data-error").is_empty(), "{dom}");
    assert!(attr_values(&dom, "data-load-error").is_empty(), "{dom}");
    assert_eq!(attr_values(&dom, "data-business-site"), ["backstube", "laden"]);
    for other in ["metzgerei", "hh-1", "rathaus"] {
        assert!(!dom.contains(other), "the bakery sees {other}");
    }
    assert_eq!(attr_values(&dom, "data-forecast-method"), ["g25"], "{dom}");
    assert_eq!(attr_values(&dom, "data-budget"), ["9000"], "{dom}");
    let status = text_of(&dom, "export-status").context("no export status")?;
    assert!(
        status.contains("backstube_"),
        "the export did not download: {status}"
    );
    assert!(
        attr_values(&dom, "data-header")
            .contains(&"month;electricity_kwh;net;vat;gross;currency;tariff;complete"),
        "{dom}"
    );
    assert_eq!(attr_values(&dom, "data-bom"), ["true"], "{dom}");
    let axe = text_of(&dom, "axe-result").context("no axe result")?;
    let axe: serde_json::Value = serde_json::from_str(&axe.replace("&quot;", "\""))?;
    let bad: Vec<_> = axe
        .as_array()
        .context("violations")?
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .collect();
    assert!(bad.is_empty(), "business view: accessibility violations {bad:?}");
    let dir = artifacts("dashboard-business")?;
    for (name, window) in [("phone.png", PHONE), ("desktop.png", DESKTOP)] {
        screenshot(
            &format!("{api}/#token=tok-bakery&view=business&site=backstube"),
            BUDGET,
            window,
            &dir.join(name),
        )
        .await?;
    }
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}
