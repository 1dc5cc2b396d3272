//! The resident's view in headless Chromium on a phone against a running system (mosquitto, influxd,
//! `zaehlwerk sim` and `zaehlwerk all`): only their household, live power in large numbers, today by hour, the
//! month by day, this month against last month and the same month last year (not "–": the plug's past of
//! 13 months is written to InfluxDB so that it meets its live counter), the year's bill against the
//! household's Abschlag with the forecast's band, how often the plug's values come, their own alert and no
//! one else's, and the English switch. axe-core finds no serious or critical violation; the screenshot goes
//! to `target/e2e-artifacts/dashboard/resident-home.png`.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, TimeDelta, Utc};
use rumqttc::QoS;
use zw_model::inventory::{AdvancePayment, fixtures};
use zw_model::{Id, Inventory, Role};
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::browser::{PHONE, artifacts, attr_values, axe_violations, dump_dom, enc, screenshot};
use crate::support::config::{plug, serving, user, write};
use crate::support::history::{a_year_and_a_month_ago, counter_lines};
use crate::support::{Zaehlwerk, eventually, get};

/// Virtual time the page gets before its DOM is read.
const BUDGET: u32 = 10000;

/// The household's Abschlag: 12 payments of this, gross (its tariff has a Grundpreis of 10 € a month).
const ADVANCE: f64 = 12.0;

fn left_on(site: &str) -> serde_json::Value {
    let id = format!("left_on.{site}.{site}-plug");
    serde_json::json!({
        "v": 1, "id": id, "kind": "left_on", "category": "energy", "site": site,
        "subject": { "device": format!("{site}-plug") }, "state": "open", "severity": "warning",
        "opened_at": "2026-11-21T02:10:00Z", "updated_at": "2026-11-21T02:40:00Z",
        "explanation": { "observed": 60.0, "expected": 0.0, "threshold": 5.0, "unit": "W",
            "baseline": "never used at 02:00", "since": "2026-11-21T02:00:00Z",
            "text": "60 W at 02:00, outside its usual use" }
    })
}

/// The text of the first element carrying `attr="value"` (up to its first child tag).
fn text_at<'a>(dom: &'a str, attr: &str, value: &str) -> &'a str {
    dom.split(&format!("{attr}=\"{value}\">"))
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or("")
}

fn first_number(s: &str) -> Option<&str> {
    s.split(['>', '<'])
        .find(|t| t.trim().ends_with(" W") || t.trim().ends_with(" kW"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_sees_their_household_its_history_and_the_bill_against_the_advance() -> anyhow::Result<()>
{
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    cfg.sim.modbus_listen = ([127, 0, 0, 1], free_port()).into();
    cfg.sim.plugs = vec![plug("plug-res", Duration::from_millis(300))];
    // The past is written below, after the plug's first live counter: no rollups over it before.
    cfg.ingest.rollup.enabled = false;
    let mut inv = Inventory::builder()
        .site(fixtures::household_with_plug("hh-1", "plug-res"))
        .household("hh-2", [])
        .build();
    let year = Utc::now().year();
    inv.advance_payments = vec![AdvancePayment {
        site: Id::new("hh-1")?,
        year,
        gross_per_month: ADVANCE,
        months: 12,
    }];
    inv.tariffs = vec![serde_json::from_value(serde_json::json!({
        "id": "grundversorgung", "name": "Grundversorgung", "valid_from": "2020-01-01", "sites": ["hh-1"],
        "vat_percent": 19.0, "energy_ct_per_kwh": 27.0, "base_eur_per_month": 8.4
    }))?];
    inv.users = vec![
        user("res1", Role::Resident, &["hh-1"], "tok-res1"),
        user("res2", Role::Resident, &["hh-2"], "tok-res2"),
    ];
    cfg.inventory = inv;
    let path = write(&stack, &cfg)?;

    // Each household's left-on alert, retained before analytics starts (it restores them).
    let mut obs = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-resident",
        &["zw/v1/alerts/+"],
        QoS::AtLeastOnce,
    )
    .await?;
    for site in ["hh-1", "hh-2"] {
        let a = left_on(site);
        let topic = format!("zw/v1/alerts/{}", a["id"].as_str().unwrap_or(""));
        obs.client
            .publish(topic, QoS::AtLeastOnce, true, a.to_string())
            .await?;
    }
    for _ in 0..2 {
        tokio::time::timeout(WAIT, obs.messages.recv())
            .await?
            .context("observer closed")?;
    }

    let sim = Zaehlwerk::start("sim", &path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;
    // The plug's first counter reading; its past ends a second before it, at a little less.
    let (first_ts, first_wh) = eventually(WAIT, "the plug's live counter", || async {
        let (_, l) = get(&format!("{api}/api/v1/devices/hh-1-plug/live"), Some("tok-res1"))
            .await
            .ok()?;
        let v = &l["values"]["energy_import"];
        let ts = chrono::DateTime::parse_from_rfc3339(v["ts"].as_str()?).ok()?;
        Some((ts.with_timezone(&Utc), v["value"].as_f64()?))
    })
    .await
    .with_context(|| all.log_tail())?;
    let from = a_year_and_a_month_ago(first_ts);
    let days = (first_ts - from).num_days().max(1) as f64;
    let end = first_ts - TimeDelta::seconds(1);
    let lines = counter_lines(
        ("hh-1", "hh-1-plug", "energy_import"),
        (from, end),
        first_wh - 1.0,
        0.8 * first_wh / days,
    );
    crate::support::history::write(&stack, &lines).await?;
    crate::support::history::empty_rollups(&stack).await?;
    eventually(WAIT, "the plug's history", || async {
        let (_, h) = get(
            &format!("{api}/api/v1/devices/hh-1-plug/history?quantity=active_power&window=1m"),
            Some("tok-res1"),
        )
        .await
        .ok()?;
        h["points"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
            .then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // The plug live for ten readings after its past (the page measures its cadence from the last ten).
    let since = enc(&first_ts.to_rfc3339());
    eventually(WAIT, "ten live counter readings", || async {
        let (_, h) = get(
            &format!("{api}/api/v1/devices/hh-1-plug/history?quantity=energy_import&window=1s&agg=last&from={since}"),
            Some("tok-res1"),
        )
        .await
        .ok()?;
        (h["points"].as_array()?.len() >= 11).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // On a phone: only their household, live power in large numbers, charts, German.
    let url = |query: &str, fragment: &str| format!("{api}/?{query}#{fragment}");
    let dom = dump_dom(&url("axe=1", "token=tok-res1&view=home"), BUDGET, PHONE).await?;
    assert!(
        dom.contains("data-ready=\"home\""),
        "home did not finish loading: {:?}\n{dom}",
        attr_values(&dom, "data-error")
    );
    let bad: Vec<_> = axe_violations(&dom)?
        .into_iter()
        .filter(|(_, impact)| impact == "serious" || impact == "critical")
        .collect();
    assert!(bad.is_empty(), "home: accessibility violations {bad:?}");
    screenshot(
        &url("shot=1", "token=tok-res1&view=home"),
        BUDGET,
        PHONE,
        &artifacts("dashboard")?.join("resident-home.png"),
    )
    .await?;
    let big = dom.split("class=\"big\"").nth(1).and_then(first_number);
    assert!(big.is_some(), "no live power:\n{dom}");
    for chart in ["today-hours", "month-days", "month-compare"] {
        assert!(
            dom.contains(&format!("data-chart=\"{chart}\"")),
            "no {chart}:\n{dom}"
        );
    }
    assert!(dom.contains("Sie verbrauchen gerade"), "{dom}");
    // What the sub-metered plug used this month, ranked, with its share of the household.
    assert!(dom.contains("data-top=\"hh-1\""), "no ranked devices:\n{dom}");
    assert_eq!(attr_values(&dom, "data-consumer"), ["hh-1-plug"]);
    let plug_month = text_at(&dom, "data-device-month", "hh-1-plug");
    assert!(
        plug_month.starts_with("Dieser Monat: ")
            && plug_month.contains("kWh")
            && plug_month.contains("Anteil"),
        "the plug's month: {plug_month:?} ({:?})\n{}",
        attr_values(&dom, "data-error"),
        all.log_tail()
    );
    // This month, last month, the same month last year and the projection as numbers, all known.
    for kpi in ["month", "projection", "last-month", "last-year"] {
        let v = text_at(&dom, "data-kpi", kpi);
        assert!(v.ends_with("kWh"), "{kpi}: {v:?}\n{dom}");
    }
    // The year's bill with the tariff, from the forecast, with its band, and set against the Abschlag.
    let bill = text_at(&dom, "data-kpi", "year-bill");
    assert!(bill.contains('€'), "the year's bill: {bill:?}\n{dom}");
    let advance = text_at(&dom, "data-bill-advance", "");
    assert!(
        advance.starts_with(&format!("Abschläge {year}: 12 × 12,00")) && advance.contains("144,00"),
        "the advance payments: {advance:?}"
    );
    let result = text_at(&dom, "data-bill-result", "");
    let side = attr_values(&dom, "data-bill");
    assert!(
        (side.contains(&"back") && result.starts_with("Sie bekommen voraussichtlich etwa"))
            || (side.contains(&"extra") && result.starts_with("Sie zahlen voraussichtlich etwa")),
        "the settlement: {side:?} {result:?}"
    );
    // The page's difference is the API's forecast less the 144 € (the forecast moves a little in between).
    let (_, fc) = get(&format!("{api}/api/v1/sites/hh-1/forecast"), Some("tok-res1")).await?;
    let gross = fc["year"]["gross_cents"].as_f64().context("no year forecast")? / 100.0;
    let diff: f64 = attr_values(&dom, "data-bill-diff")
        .first()
        .context("no difference")?
        .parse()?;
    assert!(
        (diff - (gross - 12.0 * ADVANCE)).abs() < 0.05 * gross.max(1.0),
        "difference {diff} against the API's {gross} − 144"
    );
    assert!(
        text_at(&dom, "data-bill-band", "").starts_with("Spanne der Prognose: "),
        "{dom}"
    );
    // How often the plug's values come (it sends every 300 ms: about every second at 1 s windows).
    let res = dom
        .split("data-resolution-of=\"hh-1-plug\"")
        .nth(1)
        .and_then(|r| r.split("</li>").next())
        .unwrap_or("");
    assert!(res.contains("Messwerte etwa alle 1 s"), "resolution: {res:?}");
    assert_eq!(attr_values(&dom, "data-nav"), ["home"], "a resident has one view");
    assert!(
        !dom.contains("hh-2"),
        "a resident's dashboard mentions hh-2:\n{dom}"
    );
    assert!(
        dom.contains("data-alert=\"left_on.hh-1.hh-1-plug\""),
        "own alert missing:\n{dom}"
    );
    // The other resident has no Abschlag configured: said so, no settlement.
    let other = dump_dom(&url("", "token=tok-res2&view=home"), BUDGET, PHONE).await?;
    assert!(other.contains("data-ready=\"home\""), "{other}");
    assert!(
        other.contains("data-bill=\"no-advance\"") && other.contains("Kein Abschlag hinterlegt"),
        "{other}"
    );
    assert!(!other.contains("hh-1"), "{other}");
    // The English switch.
    let dom = dump_dom(&url("click=%23lang", "token=tok-res1&view=home"), BUDGET, PHONE).await?;
    assert!(
        dom.contains("<html lang=\"en\"") && dom.contains("You are using right now"),
        "{dom}"
    );
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}
