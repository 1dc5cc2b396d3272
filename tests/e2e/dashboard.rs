//! The dashboard in headless Chromium against a running system (mosquitto, influxd, `zaehlwerk sim` and
//! `zaehlwerk all`): every view of every role loads, shows live values and its charts, passes axe-core
//! without a serious or critical violation, and is written as a screenshot to `target/e2e-artifacts/dashboard/`.
//! The resident sees only their household; acknowledging an alert with a comment goes through analytics and
//! back and the comment is kept in the alert book; the building shows cost and forecast. With `[store]` (a
//! SQLite file in the stack's folder). The town hall's tariff has a demand charge: its building view shows
//! the peak watch (the billing year's peak as the API has it, its cost, the top quarter hours), a building
//! without one hides it, and a `peak` alert is listed with its label and explanation. The parks view is
//! tested in `dashboard_parks.rs`.
//!
//! The town: the simulator's town hall meter, a household with a plug, a household without devices, a park
//! with a soil sensor (the resident must not see it), and 99 more buildings without devices, so the overview
//! has 100.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use zw_model::inventory::fixtures;
use zw_model::{Inventory, Role, Site, SiteKind};
use zw_sim::MeterConfig;
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::browser::{DESKTOP, artifacts, attr_values, check_view, dump_dom, enc, screenshot};
use crate::support::config::{plug, serving, soil_sensor, user, write};
use crate::support::history::{a_year_and_a_month_ago, counter_lines, write as write_history};
use crate::support::{Zaehlwerk, eventually, get};

/// Virtual time the page gets before its DOM is read.
const BUDGET: u32 = 8000;

struct Town {
    stack: Stack,
    sim: Zaehlwerk,
    all: Zaehlwerk,
    api: String,
}

fn alert(id: &str, kind: &str, site: &str, device: &str, severity: &str) -> serde_json::Value {
    serde_json::json!({
        "v": 1, "id": id, "kind": kind, "category": "energy", "site": site,
        "subject": { "device": device }, "state": "open", "severity": severity,
        "opened_at": "2026-11-21T02:10:00Z", "updated_at": "2026-11-21T02:40:00Z",
        "explanation": { "observed": 3200.0, "expected": 1100.0, "threshold": 2000.0, "unit": "W",
            "baseline": "usual for Tuesday 02:00", "since": "2026-11-21T02:00:00Z",
            "text": "3.2 kW above the usual 1.1 kW for 45 min" }
    })
}

/// A `peak` alert as analytics raises it (site-wide, in kW). It is published on `schule-01` (a school with
/// a demand charge but no meters, so the peak watch never raises or clears one there) after analytics has
/// restored the bus's alerts at start (it would resolve a restored warning whose quarter hour is over).
fn peak_alert(site: &str) -> serde_json::Value {
    serde_json::json!({
        "v": 1, "id": format!("peak.{site}"), "kind": "peak", "category": "energy", "site": site,
        "subject": {}, "state": "open", "severity": "warning",
        "opened_at": "2026-11-23T06:05:00Z", "updated_at": "2026-11-23T06:08:00Z",
        "explanation": { "observed": 212.4, "expected": 198.0, "threshold": 207.9, "unit": "kW",
            "baseline": "2026 peak so far (15-minute average of 2026-01-12 07:00)", "since": "2026-11-23T06:05:00Z",
            "text": "quarter hour 07:00–07:15 heading for 212.4 kW; 7 min left; drawing most now: Heizung 96 kW" }
    })
}

impl Town {
    async fn start() -> anyhow::Result<Self> {
        let stack = Stack::builder().mosquitto().influxd().start().await?;
        let (api_port, modbus) = (free_port(), free_port());
        let mut cfg = serving(&stack, api_port);
        cfg.sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
        cfg.sim.update_interval = Duration::from_secs(3600);
        cfg.sim.meters = vec![MeterConfig::sdm630(1)];
        // Three hours of the meter's past in InfluxDB, so the building's forecast has whole hours to learn from.
        cfg.sim.history = Duration::from_secs(3 * 3600);
        cfg.sim.plugs = vec![plug("plug-e2e", Duration::from_millis(300))];
        cfg.sim.soil_sensors = vec![soil_sensor("lse01-e2e", Duration::from_millis(500))];
        // The alert book and the watering log.
        cfg.store.url = Some(format!(
            "sqlite://{}",
            stack.state_dir().join("store.db").display()
        ));
        // 13 months of the town hall's past are written below, after the simulator's: no rollups before.
        cfg.ingest.rollup.enabled = false;
        // The town hall also has a heat and a water meter (wireless M-Bus, not simulated: their past only).
        let mut hall = fixtures::town_hall(&format!("127.0.0.1:{modbus}"), Duration::from_millis(500));
        hall.devices.extend([
            zw_model::Device::wmbus("rathaus-heat", "KAM", "12345678", None).class("heat_meter"),
            zw_model::Device::wmbus("rathaus-water", "EFE", "87654321", None).class("water_meter"),
        ]);
        let mut inv = Inventory::builder()
            .site(hall)
            .site(fixtures::household_with_plug("hh-1", "plug-e2e"))
            .household("hh-2", [])
            .site(fixtures::park_with_soil_sensor(
                "v3/soil-app@ttn/devices/lse01-e2e/up",
            ));
        for n in 1..100 {
            inv = inv.site(Site::new(&format!("schule-{n:02}"), SiteKind::Building, []));
        }
        cfg.inventory = inv.build();
        // The town hall and the first school are billed for their peak (Leistungspreis); the other buildings
        // have no tariff.
        cfg.inventory.tariffs = vec![serde_json::from_value(serde_json::json!({
            "id": "rlm", "name": "RLM", "valid_from": "2020-01-01", "sites": ["rathaus", "schule-01"],
            "vat_percent": 19.0, "energy_ct_per_kwh": 25.0, "demand_eur_per_kw_year": 120.0
        }))?];
        cfg.inventory.users = vec![
            user("fm", Role::FacilityManager, &["*"], "tok-fm"),
            user("res1", Role::Resident, &["hh-1"], "tok-res1"),
            user("res2", Role::Resident, &["hh-2"], "tok-res2"),
        ];
        let path = write(&stack, &cfg)?;

        // Alerts are published (retained) before analytics starts, so it restores them and can acknowledge.
        let mut obs = zw_tests::mqtt::subscribe(
            stack.mqtt_host(),
            stack.mqtt_port(),
            "e2e-dashboard",
            &["zw/v1/alerts/+"],
            QoS::AtLeastOnce,
        )
        .await?;
        for (id, kind, site, device, sev) in [
            (
                "high_consumption.rathaus.rathaus-main",
                "high_consumption",
                "rathaus",
                "rathaus-main",
                "critical",
            ),
            (
                "left_on.hh-1.hh-1-plug",
                "left_on",
                "hh-1",
                "hh-1-plug",
                "warning",
            ),
            (
                "left_on.hh-2.hh-2-plug",
                "left_on",
                "hh-2",
                "hh-2-plug",
                "warning",
            ),
        ] {
            let a = alert(id, kind, site, device, sev).to_string();
            obs.client
                .publish(format!("zw/v1/alerts/{id}"), QoS::AtLeastOnce, true, a)
                .await?;
        }
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < 3 {
            let (topic, _) = tokio::time::timeout(WAIT, obs.messages.recv())
                .await?
                .context("observer closed")?;
            seen.insert(topic);
        }

        let sim = Zaehlwerk::start("sim", &path, stack.state_dir())?;
        let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
        let api = format!("http://127.0.0.1:{api_port}");
        eventually(WAIT, "/readyz", || async {
            (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
        })
        .await
        .with_context(|| all.log_tail())?;

        obs.client
            .publish(
                "zw/v1/alerts/peak.schule-01",
                QoS::AtLeastOnce,
                true,
                peak_alert("schule-01").to_string(),
            )
            .await?;
        eventually(WAIT, "the peak alert in the API", || async {
            let (_, a) = get(&format!("{api}/api/v1/alerts"), Some("tok-fm")).await.ok()?;
            a.as_array()?
                .iter()
                .any(|a| a["id"] == "peak.schule-01")
                .then_some(())
        })
        .await?;
        // Live values and some history of the meter and the plug, so the charts have something to draw.
        for (dev, token) in [("rathaus-main", "tok-fm"), ("hh-1-plug", "tok-res1")] {
            eventually(WAIT, "power history", || async {
                let (_, h) = get(
                    &format!("{api}/api/v1/devices/{dev}/history?quantity=active_power&window=1m"),
                    Some(token),
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
        }
        history(&stack).await?;
        Ok(Self { stack, sim, all, api })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.all.stop(Duration::from_secs(15)).await?;
        self.sim.stop(Duration::from_secs(15)).await?;
        drop(self.stack);
        Ok(())
    }

    /// The page for `token` with `view` (and `query`, e.g. `axe=1`).
    fn url(&self, query: &str, fragment: &str) -> String {
        format!("{}/?{query}#{fragment}", self.api)
    }
}

/// 13 months of the town hall's past: its main meter's up to a second before the simulator's first reading
/// (ending just below it, so the counter runs on), its heat (Wh) and water (m³) meters' up to now.
async fn history(stack: &Stack) -> anyhow::Result<()> {
    let q = "SELECT first(energy_import) FROM readings WHERE device = 'rathaus-main'";
    let r = zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), q).await?;
    let row = &r["results"][0]["series"][0]["values"][0];
    let first_ts = chrono::DateTime::parse_from_rfc3339(row[0].as_str().context("no first reading")?)?
        .with_timezone(&chrono::Utc);
    let first_wh = row[1].as_f64().context("no first value")?;
    let from = a_year_and_a_month_ago(first_ts);
    let days = (first_ts - from).num_days().max(1) as f64;
    let mut lines = counter_lines(
        ("rathaus", "rathaus-main", "energy_import"),
        (from, first_ts - chrono::TimeDelta::seconds(1)),
        first_wh - 1.0,
        0.8 * first_wh / days,
    );
    let now = chrono::Utc::now();
    lines.extend(counter_lines(
        ("rathaus", "rathaus-heat", "heat_energy"),
        (from, now),
        9.0e8,
        600_000.0,
    ));
    lines.extend(counter_lines(
        ("rathaus", "rathaus-water", "volume"),
        (from, now),
        20_000.0,
        4.0,
    ));
    write_history(stack, &lines).await?;
    crate::support::history::empty_rollups(stack).await
}

/// The text of the first element carrying `attr="value"` (up to its first child tag).
fn text_at<'a>(dom: &'a str, attr: &str, value: &str) -> &'a str {
    dom.split(&format!("{attr}=\"{value}\">"))
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or("")
}

/// The whole opening tag and the text of the first element carrying `attr="value"`.
fn element<'a>(dom: &'a str, attr: &str, value: &str) -> Option<(&'a str, &'a str)> {
    let at = dom.find(&format!("{attr}=\"{value}\""))?;
    let open = dom[..at].rfind('<')?;
    let (tag, body) = dom[open..].split_once('>')?;
    Some((tag, body.split('<').next().unwrap_or("")))
}

/// The overview's "today against normal" column: every building has a cell; the town hall (the only one
/// with history) shows the API's ratio of `/api/v1/normal` (flagged ⚠ when outside the normal's band), the
/// 99 buildings without meters "–" with the API's reason.
async fn overview_against_normal(town: &Town, dom: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (code, all) = get(&format!("{}/api/v1/normal", town.api), Some("tok-fm")).await?;
    anyhow::ensure!(code == 200, "/api/v1/normal: {code} {all}");
    println!(
        "today against normal of 100 buildings in one request: {:?}",
        started.elapsed()
    );
    let sites = all["sites"].as_array().context("no sites")?;
    assert_eq!(sites.len(), 100, "{all}");
    assert_eq!(attr_values(dom, "data-normal").len(), 100, "a cell per building");
    let hall = sites
        .iter()
        .find(|x| x["site"] == "rathaus")
        .context("no town hall")?;
    let (attrs, text) = element(dom, "data-normal", "rathaus").context("no town hall cell")?;
    match hall["today"]["ratio"].as_f64() {
        Some(ratio) => {
            let shown: f64 = attrs
                .split("data-ratio=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .context("no ratio on the cell")?
                .parse()?;
            // The page and this request may fall either side of an hour: then the ratio moved a little.
            assert!((shown - ratio).abs() < 0.25, "page {shown}, API {ratio} ({hall})");
            assert!(text.ends_with('%'), "today against normal: {text:?}");
            let outside = attrs.contains("data-outside=\"1\"");
            assert_eq!(outside, attrs.contains("warn"), "flag and class agree: {attrs}");
            if outside {
                assert!(
                    dom.contains("außerhalb des Normalbereichs"),
                    "no text for the flag"
                );
            }
        }
        None => assert_eq!(text, "–", "no ratio yet: {hall}"),
    }
    let school = sites
        .iter()
        .find(|x| x["site"] == "schule-02")
        .context("no school")?;
    assert!(school["today"].is_null(), "{school}");
    assert!(
        school["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no energy measured")),
        "{school}"
    );
    let (attrs, text) = element(dom, "data-normal", "schule-02").context("no school cell")?;
    assert_eq!(text, "–");
    assert!(
        attrs.contains("no energy measured"),
        "the reason as its title: {attrs}"
    );
    Ok(())
}

/// The building view's month-end forecast error, backtested on the town hall's own 12 whole months of
/// written history (`/forecast/accuracy`); a school without meters has "not enough history"; a resident
/// does not see the town hall's.
async fn month_end_accuracy(town: &Town, dom: &str) -> anyhow::Result<()> {
    let url = |site: &str| format!("{}/api/v1/sites/{site}/forecast/accuracy", town.api);
    let started = std::time::Instant::now();
    let (code, a) = get(&url("rathaus"), Some("tok-fm")).await?;
    let cached = started.elapsed();
    anyhow::ensure!(code == 200, "accuracy: {code} {a}");
    assert_eq!(a["months"], 12, "twelve whole months written: {a}");
    assert_eq!(a["enough"], true, "{a}");
    let days = a["days"].as_array().context("no days")?;
    assert_eq!(
        days.iter().map(|d| d["day"].as_u64()).collect::<Vec<_>>(),
        [Some(1), Some(10), Some(20)]
    );
    for d in days {
        let mape = d["mape_pct"]
            .as_f64()
            .with_context(|| format!("no error stated: {d}"))?;
        // The written days vary 0.7–1.3 of their mean: a month-end misses by a few percent, never by half.
        assert!(mape > 0.0 && mape < 25.0, "{d}");
        assert_eq!(d["months"], 12, "{d}");
    }
    assert_eq!(a["cases"].as_array().map_or(0, Vec::len), 36, "{a}");
    println!(
        "town hall month-end error (MAPE) on day 1/10/20: {} / {} / {} %, over {} months; answered in {cached:?} (cached after the page)",
        days[0]["mape_pct"], days[1]["mape_pct"], days[2]["mape_pct"], a["months"]
    );
    // The page shows the same figures (German, one decimal) next to the month-end projection.
    let (attrs, text) = element(dom, "data-accuracy", "rathaus").context("no accuracy line")?;
    assert!(attrs.contains("data-months=\"12\""), "{attrs}");
    let day10 = days[1]["mape_pct"].as_f64().unwrap_or_default();
    let german = format!("± {} % am 10.", format!("{day10:.1}").replace('.', ","));
    assert!(text.contains(&german), "{text:?} does not say {german:?}");
    assert!(text.contains("an den letzten 12 vollen Monaten"), "{text:?}");
    let after = dom.find("data-forecast-month").unwrap_or(usize::MAX);
    assert!(
        dom.find("data-accuracy").is_some_and(|i| i > after),
        "the accuracy line follows the month-end projection"
    );
    // A building without history; the resident does not see the town hall's.
    let (code, s) = get(&url("schule-02"), Some("tok-fm")).await?;
    anyhow::ensure!(code == 200, "school: {code} {s}");
    assert_eq!(
        (s["months"].as_u64(), s["enough"].as_bool()),
        (Some(0), Some(false)),
        "{s}"
    );
    assert!(
        s["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("not enough history")),
        "{s}"
    );
    assert!(
        s["days"]
            .as_array()
            .is_some_and(|d| d.iter().all(|d| d["mape_pct"].is_null())),
        "{s}"
    );
    let (code, _) = get(&url("rathaus"), Some("tok-res1")).await?;
    assert_eq!(code, 404, "a resident asking for the town hall's accuracy");
    Ok(())
}

/// The town hall's billing-year peak (kW) and how many top quarter hours it has (at most 10) from the API;
/// `None` while no quarter hour is known.
async fn api_peak(town: &Town) -> anyhow::Result<Option<(f64, usize)>> {
    let (code, r) = get(&format!("{}/api/v1/sites/rathaus/peak", town.api), Some("tok-fm")).await?;
    anyhow::ensure!(code == 200, "peak: {code} {r}");
    anyhow::ensure!(r["demand_eur_per_kw_year"] == 120.0, "{r}");
    let top = r["top"].as_array().map_or(0, Vec::len).min(10);
    Ok(r["peak"]["kw"].as_f64().map(|kw| (kw, top)))
}

/// A German "1.234,5 kW" as kW.
fn german_kw(s: &str) -> Option<f64> {
    s.strip_suffix(" kW")?
        .replace('.', "")
        .replace(',', ".")
        .parse()
        .ok()
}

fn first_number(s: &str) -> Option<&str> {
    s.split(['>', '<'])
        .find(|t| t.trim().ends_with(" W") || t.trim().ends_with(" kW"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_loads_is_accessible_and_acts_end_to_end() -> anyhow::Result<()> {
    let town = Town::start().await?;

    // Facility manager, overview: 100 buildings, the one with a critical alert first, live power in place.
    let dom = check_view(
        &town.url("axe=1", "token=tok-fm&view=overview"),
        "overview",
        DESKTOP,
        "fm-overview",
    )
    .await?;
    let rows: Vec<&str> = attr_values(&dom, "data-site");
    assert_eq!(rows.len(), 100, "{rows:?}");
    assert_eq!(
        rows[0], "rathaus",
        "the building with a critical alert is not first: {rows:?}"
    );
    let power = dom
        .split("data-site-power=\"rathaus\">")
        .nth(1)
        .and_then(first_number);
    assert!(power.is_some(), "no live power for the town hall:\n{dom}");
    let paint: u64 = attr_values(&dom, "data-first-paint-ms")
        .first()
        .context("no first paint measured")?
        .parse()?;
    println!("overview of 100 buildings: first meaningful paint after {paint} ms");
    assert!(paint < 1000, "first paint of the overview took {paint} ms");
    overview_against_normal(&town, &dom).await?;

    // One building: load profile, daily and monthly bars, carpet plot, meters, top consumers, alerts, and
    // (its tariff has a demand charge) the peak watch. The peak is the API's before or after the page (a
    // quarter hour may end in between).
    let before = eventually(WAIT, "the town hall's peak", || async {
        api_peak(&town).await.ok().flatten()
    })
    .await
    .with_context(|| town.all.log_tail())?;
    let dom = check_view(
        &town.url("axe=1", "token=tok-fm&view=building&site=rathaus"),
        "building",
        DESKTOP,
        "fm-building",
    )
    .await?;
    for chart in ["load-profile", "daily", "monthly", "carpet"] {
        assert!(
            dom.contains(&format!("data-chart=\"{chart}\"")),
            "no {chart} chart:\n{dom}"
        );
    }
    let points: Vec<u32> = attr_values(&dom, "data-points")
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert!(
        points.first().is_some_and(|p| *p > 0),
        "the load profile has no points: {points:?}"
    );
    assert!(dom.contains("class=\"uplot"), "uPlot did not draw:\n{dom}");
    assert!(dom.contains("data-cells=\""), "no carpet cells:\n{dom}");
    assert!(dom.contains("data-device=\"rathaus-main\""), "{dom}");
    let after = api_peak(&town).await?.context("the peak went away")?;
    assert!(
        dom.contains("data-peak-panel=\"shown\"") && dom.contains("Leistungsspitze und Leistungspreis"),
        "no peak panel for a building with a demand charge:\n{dom}"
    );
    let peak = text_at(&dom, "data-peak", "kw");
    let shown = german_kw(peak).with_context(|| format!("the panel's peak {peak:?}"))?;
    assert!(
        [before.0, after.0]
            .iter()
            .any(|kw| (kw - shown).abs() <= 0.05 + 1e-9),
        "the panel's peak {peak:?} is not the API's ({before:?}, {after:?})"
    );
    assert!(
        text_at(&dom, "data-peak", "cost").contains('€'),
        "no demand charge:\n{dom}"
    );
    let top: usize = attr_values(&dom, "data-peak-top")
        .first()
        .context("no top quarter hours")?
        .parse()?;
    assert!(
        top > 0 && (top == before.1 || top == after.1),
        "top {top} quarter hours, the API has {before:?} / {after:?}"
    );
    assert_eq!(attr_values(&dom, "data-peak-quarter").len(), top);
    // A building without a demand charge has no peak watch.
    let other = dump_dom(
        &town.url("", "token=tok-fm&view=building&site=schule-02"),
        BUDGET,
        DESKTOP,
    )
    .await?;
    assert!(other.contains("data-ready=\"building\""), "{other}");
    assert!(
        other.contains("data-peak-panel=\"none\" hidden=\"\"") && !other.contains("data-peak=\"kw\""),
        "a building without a demand charge shows a peak panel:\n{other}"
    );
    // Yesterday, last week and last month next to today and this month, each loaded (a value or "–").
    for kpi in [
        "today",
        "month",
        "yesterday",
        "last-week",
        "last-month",
        "last-year",
    ] {
        let v = dom
            .split(&format!("data-kpi=\"{kpi}\">"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or("…");
        assert!(v != "…" && !v.is_empty(), "building {kpi}: {v:?}");
    }
    assert!(dom.contains("Nachtgrundlast"), "no carpet summary:\n{dom}");
    // Cost this month (with its tariff) and the month-end and year-end forecast with the band.
    assert!(dom.contains("data-cost=\"rathaus\""), "no cost section:\n{dom}");
    let cost = dom
        .split("data-cost-month=\"\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or("");
    assert!(
        cost.contains('€') && cost.contains("kWh"),
        "cost this month: {cost:?}"
    );
    for horizon in ["month", "year"] {
        let f = dom
            .split(&format!("data-forecast-{horizon}=\"\">"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or("");
        assert!(
            f.contains("kWh") && f.contains("Spanne"),
            "{horizon}-end forecast: {f:?}"
        );
    }

    // Last month and the same month last year are known (the written past), not "–".
    for kpi in ["last-month", "last-year"] {
        let v = text_at(&dom, "data-kpi", kpi);
        assert!(v.contains("kWh") && v != "–", "building {kpi}: {v:?}");
    }
    // Today against the learned normal of this weekday up to this hour, and the forecast's backtest on the
    // building's own last seven days, as the API has them.
    let (_, normal) = get(
        &format!("{}/api/v1/sites/rathaus/normal", town.api),
        Some("tok-fm"),
    )
    .await?;
    assert!(
        text_at(&dom, "data-normal-label", "").starts_with("Strom heute gegen einen normalen "),
        "{dom}"
    );
    let n = text_at(&dom, "data-kpi", "normal");
    assert!(
        n.ends_with('%') || normal["today"]["ratio"].is_null(),
        "today against normal: {n:?} ({normal})"
    );
    let backtest = text_at(&dom, "data-backtest", "");
    let scored = normal["backtest"]["days"].as_array().map_or(0, Vec::len);
    assert!(scored >= 6, "backtested days: {normal}");
    assert!(
        backtest.starts_with("± ") && backtest.contains(&format!("an den letzten {scored} Tagen")),
        "backtest: {backtest:?} ({normal})"
    );
    month_end_accuracy(&town, &dom).await?;
    // The medium picker: heat in kWh without cost, water in m³, in the building and the overview.
    let heat = dump_dom(
        &town.url("", "token=tok-fm&view=building&site=rathaus&medium=heat"),
        BUDGET,
        DESKTOP,
    )
    .await?;
    assert!(heat.contains("data-kpi-medium=\"heat\""), "{heat}");
    for kpi in ["month", "last-month", "last-year"] {
        let v = text_at(&heat, "data-kpi", kpi);
        assert!(v.ends_with("kWh") && !v.contains('€'), "heat {kpi}: {v:?}");
    }
    assert!(heat.contains("Monate gegen Vorjahr · Wärme (kWh)"), "{heat}");
    let water = dump_dom(
        &town.url("", "token=tok-fm&view=building&site=rathaus&medium=water"),
        BUDGET,
        DESKTOP,
    )
    .await?;
    for kpi in ["month", "last-month", "last-year"] {
        let v = text_at(&water, "data-kpi", kpi);
        assert!(v.ends_with("m³"), "water {kpi}: {v:?}");
    }
    screenshot(
        &town.url("", "token=tok-fm&view=building&site=rathaus&medium=water"),
        BUDGET,
        DESKTOP,
        &artifacts("dashboard")?.join("fm-building-water.png"),
    )
    .await?;
    let over = dump_dom(
        &town.url("", "token=tok-fm&view=overview&medium=water"),
        BUDGET,
        DESKTOP,
    )
    .await?;
    let cell = text_at(&over, "data-energy", "rathaus:last-month");
    assert!(cell.ends_with("m³"), "overview, water last month: {cell:?}");
    assert_eq!(text_at(&over, "data-energy", "schule-02:month"), "–");

    // Alerts: acknowledging in the page goes to analytics and comes back as acknowledged by fm.
    let id = "high_consumption.rathaus.rathaus-main";
    let dom = check_view(
        &town.url("axe=1", "token=tok-fm&view=alerts"),
        "alerts",
        DESKTOP,
        "fm-alerts",
    )
    .await?;
    assert!(dom.contains("Hoher Verbrauch: rathaus-main"), "{dom}");
    // The peak warning with its label, explanation and figures in kW, like every other alert.
    assert!(
        dom.contains("Neue Leistungsspitze droht: schule-01")
            && dom.contains("heading for 212.4 kW; 7 min left")
            && dom.contains("212,4 kW (Schwelle 207,9 kW)"),
        "the peak alert is not listed with its label and explanation:\n{dom}"
    );
    let comment = "Lüftung läuft nachts, Hausmeister informiert";
    let steps = format!(
        "step={}&step={}",
        enc(&format!("fill:[data-ack-comment=\"{id}\"]={comment}")),
        enc(&format!("click:[data-ack=\"{id}\"]"))
    );
    let dom = dump_dom(&town.url(&steps, "token=tok-fm&view=alerts"), BUDGET * 2, DESKTOP).await?;
    assert!(
        dom.contains(&format!("data-alert=\"{id}\" data-state=\"acknowledged\""))
            && dom.contains("bestätigt von fm"),
        "the acknowledgement did not come back:\n{dom}"
    );
    assert!(dom.contains(comment), "the comment is not shown:\n{dom}");
    let (_, alerts) = get(&format!("{}/api/v1/alerts", town.api), Some("tok-fm")).await?;
    let acked = alerts
        .as_array()
        .context("alerts")?
        .iter()
        .find(|a| a["id"] == id)
        .context("alert")?;
    assert_eq!(acked["acknowledged_by"], "fm", "{acked}");
    assert_eq!(acked["comments"][0]["body"], comment, "{acked}");
    assert_eq!(acked["comments"][0]["author"], "fm", "{acked}");

    // The building in English.
    screenshot(
        &town.url("lang=en", "token=tok-fm&view=building&site=rathaus"),
        BUDGET,
        DESKTOP,
        &artifacts("dashboard")?.join("fm-building-en.png"),
    )
    .await?;

    town.stop().await
}
