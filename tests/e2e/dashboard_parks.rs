//! The parks department's view in headless Chromium against a running system (mosquitto, influxd,
//! `zaehlwerk sim` and `zaehlwerk all`, with `[store]` in a SQLite file): the map shows every tree, the
//! watering list is a nearest-neighbour route from the configured depot with the litres to give each tree
//! (the API's figure) and its 3-day outlook (critical now, in N days, rain expected), the filters (state,
//! species, age, park, district) narrow the map and the route, the tree's soil chart marks the forecast
//! rain and, as day bars, the rain that fell as the weather feed published it on the bus (kept by analytics
//! in InfluxDB, a day without a value left out, a dry day 0 mm), a watering recorded in the page is in the tree's watering log and in the season panel's litres of
//! its district; the outlook's heading gives the forecast's published error; last year's season panel names
//! the tree whose sensor's readings (written to InfluxDB) were critical for six days running, and that
//! sensor's uptime; and the view passes axe-core without a serious or critical violation. Screenshots go to
//! `target/e2e-artifacts/dashboard/` (`parks-trees.png`, `parks-watering.png`, `parks-soil-rain.png`).
//!
//! The town: a park with a soil sensor and five trees whose statuses the test publishes, and a household
//! (whose resident must not log a watering).

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use zw_api::routes::dashboard::Depot;
use zw_model::inventory::fixtures;
use zw_model::tree::{
    AgeClass, Forecast, ForecastMethod, SoilState, TREE_SCHEMA_VERSION, TreeStatus, Urgency,
};
use zw_model::{Id, Inventory, Role, Tree};
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::browser::{DESKTOP, artifacts, attr_values, check_view, dump_dom, enc, screenshot};
use crate::support::config::{plug, serving, soil_sensor, user, write};
use crate::support::{Zaehlwerk, eventually, get};

/// Virtual time the page gets before its DOM is read.
const BUDGET: u32 = 8000;

/// Trees: id, species, lat, state (`None`: left to analytics, `unknown`), years since planting (the map's age
/// filter: young up to 4, middle 5 to 10, old over 10), district (none: its park's). The depot is at 51.000,
/// 6.000.
type TreeRow = (
    &'static str,
    &'static str,
    f64,
    Option<SoilState>,
    u16,
    Option<&'static str>,
);
const TREES: &[TreeRow] = &[
    (
        "baum-far",
        "Tilia cordata",
        51.010,
        Some(SoilState::Critical),
        20,
        Some("Nord"),
    ),
    (
        "baum-near",
        "Acer platanoides",
        51.001,
        Some(SoilState::Moderate),
        4,
        Some("Mitte"),
    ),
    (
        "baum-mid",
        "Tilia cordata",
        51.005,
        Some(SoilState::Critical),
        2,
        Some("Mitte"),
    ),
    (
        "baum-wet",
        "Quercus robur",
        51.0015,
        Some(SoilState::Good),
        8,
        Some("Nord"),
    ),
    ("baum-new", "Acer platanoides", 51.003, None, 3, None),
];

/// Rain the weather feed forecasts for the moderate tree over the next three days, mm, and the days until
/// it turns critical.
const RAIN_MM: f64 = 8.0;
const NEAR_DAYS: f64 = 1.5;

/// Rain that fell in the park's weather area (`town`), as the feed publishes it: (days ago, mm) of whole UTC
/// days, which are the same local (Berlin) days. Days not listed were not reported (no bar).
const RAIN_FELL: &[(i64, f64)] = &[(8, 0.0), (5, 12.5), (3, 4.0)];

/// The weather message with [`RAIN_FELL`] as observed rain, issued now.
fn rain_fell() -> zw_model::weather::Weather {
    let today = chrono::Utc::now().date_naive();
    let midnight = |ago: i64| {
        (today - chrono::TimeDelta::days(ago))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
    };
    zw_model::weather::Weather {
        v: zw_model::weather::WEATHER_SCHEMA_VERSION,
        area: Id::new("town").expect("id"),
        issued: chrono::Utc::now(),
        source: Some("e2e rain gauge".into()),
        observed: Vec::new(),
        forecast: Vec::new(),
        rain_forecast: Vec::new(),
        rain_observed: RAIN_FELL
            .iter()
            .map(|&(ago, mm)| zw_model::weather::Et0 {
                from: midnight(ago),
                to: midnight(ago - 1),
                mm,
            })
            .collect(),
        temperature: None,
    }
}

/// [`RAIN_FELL`] as the soil chart's `data-rain-fell` gives it: `day:mm`, oldest first.
fn rain_fell_attr() -> String {
    let today = chrono::Utc::now().date_naive();
    RAIN_FELL
        .iter()
        .map(|&(ago, mm)| format!("{}:{mm}", today - chrono::TimeDelta::days(ago)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tree with a sensor (the park's `soil-1`, an LSE01 measuring VWC) whose last-year readings the test
/// writes: critical (15 % on the default loam, critical at 21 %) on 1 to 6 June, hourly from 02:30 to 23:30
/// local time (22 readings a day); the sensor's interval is configured as an hour.
const SENSOR_TREE: &str = "baum-far";
const SENSOR: &str = "soil-1";
const CRITICAL_DAYS: u32 = 6;
const READINGS_PER_DAY: u32 = 22;

/// The year a tree `age` years old was planted.
fn planted(age: u16) -> u16 {
    u16::try_from(chrono::Datelike::year(&chrono::Utc::now())).expect("a year after 0") - age
}

struct Town {
    stack: Stack,
    sim: Zaehlwerk,
    all: Zaehlwerk,
    api: String,
}

fn tree_status(id: &str, species: &str, lat: f64, state: SoilState, score: f64, age: u16) -> TreeStatus {
    TreeStatus {
        v: TREE_SCHEMA_VERSION,
        tree: Id::new(id).expect("tree id"),
        site: Id::new("park").expect("site id"),
        species: species.into(),
        planted: planted(age),
        lat,
        lon: 6.0,
        state,
        dryness: Some(score),
        combine: "worst".into(),
        tension_kpa: Some(100.0 * score),
        moisture_pct: None,
        // Critical trees are drying, the others have no trend yet; the moderate one turns critical in
        // NEAR_DAYS by the ET0 forecast, with rain forecast.
        trend_per_day: (state == SoilState::Critical).then_some(0.08),
        days_until_critical: match state {
            SoilState::Critical => Some(0.0),
            SoilState::Moderate => Some(NEAR_DAYS),
            _ => None,
        },
        forecast: (state == SoilState::Moderate).then(|| Forecast {
            method: ForecastMethod::Et0,
            area: None,
            issued: None,
            et0_3d_mm: Some(9.0),
            rain_3d_mm: Some(RAIN_MM),
            rain_hold: None,
            note: "ET0 forecast".into(),
        }),
        urgency: Urgency {
            score,
            rank: 1,
            age_years: 4,
            age_class: AgeClass::Baby,
            age_weight: 1.5,
            forecast_term: 0.0,
            vegetation_period: true,
        },
        young: true,
        sensor_fault: None,
        sensors: Vec::new(),
        inherited_from: Vec::new(),
        ts: chrono::Utc::now(),
    }
}

impl Town {
    async fn start() -> anyhow::Result<Self> {
        let stack = Stack::builder().mosquitto().influxd().start().await?;
        let api_port = free_port();
        let mut cfg = serving(&stack, api_port);
        cfg.sim.update_interval = Duration::from_secs(3600);
        cfg.sim.plugs = vec![plug("plug-e2e", Duration::from_millis(300))];
        cfg.sim.soil_sensors = vec![soil_sensor("lse01-e2e", Duration::from_millis(500))];
        cfg.api.dashboard.depot = Some(Depot { lat: 51.0, lon: 6.0 });
        cfg.api
            .season
            .sensor_interval_by_device
            .insert(SENSOR.into(), Duration::from_secs(3600));
        // The watering log.
        cfg.store.url = Some(format!(
            "sqlite://{}",
            stack.state_dir().join("store.db").display()
        ));
        // Analytics evaluates the trees at start and then on multiples of this interval since the epoch (by
        // default every quarter hour): a long one keeps the statuses this test publishes standing.
        cfg.analytics.trees.interval = Duration::from_secs(1000 * 86_400);
        // The park's weather area: the feed's observed rain of `town` is the rain that fell at its trees.
        cfg.analytics.trees.weather.default_area = Some("town".into());
        let mut inv = Inventory::builder()
            .site(fixtures::household_with_plug("hh-1", "plug-e2e"))
            .site(fixtures::park_with_soil_sensor(
                "v3/soil-app@ttn/devices/lse01-e2e/up",
            ));
        for (id, species, lat, _, age, district) in TREES {
            inv = inv.tree(Tree {
                id: Id::new(*id)?,
                site: Id::new("park")?,
                species: (*species).into(),
                planted: planted(*age),
                lat: *lat,
                lon: 6.0,
                sensors: if *id == SENSOR_TREE {
                    vec![Id::new(SENSOR)?]
                } else {
                    Vec::new()
                },
                district: district.map(str::to_owned),
            });
        }
        cfg.inventory = inv.build();
        cfg.inventory.users = vec![
            user("res1", Role::Resident, &["hh-1"], "tok-res1"),
            user("parks", Role::Parks, &["park"], "tok-parks"),
        ];
        let path = write(&stack, &cfg)?;
        // Last year's critical June days of the sensor tree (UTC 00:30 to 21:30 is local 02:30 to 23:30).
        let last = chrono::Datelike::year(&chrono::Utc::now()) - 1;
        let mut lines = Vec::new();
        for day in 1..=CRITICAL_DAYS {
            for hour in 0..READINGS_PER_DAY {
                let at = format!("{last}-06-{day:02}T{hour:02}:30:00Z");
                let ms = chrono::DateTime::parse_from_rfc3339(&at)?.timestamp_millis();
                lines.push(format!(
                    "readings,site=park,device={SENSOR} soil_moisture=15 {ms}"
                ));
            }
        }
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &lines.join("\n")).await?;
        let mut obs = zw_tests::mqtt::subscribe(
            stack.mqtt_host(),
            stack.mqtt_port(),
            "e2e-dashboard-parks",
            &["zw/v1/trees/+"],
            QoS::AtLeastOnce,
        )
        .await?;
        // The weather feed's observed rain, retained as a feed publishes it, before analytics starts: it
        // arrives with analytics' subscription and is kept before the tree statuses below are published.
        obs.client
            .publish(
                "zw/v1/weather/town",
                QoS::AtLeastOnce,
                true,
                rain_fell().to_json(),
            )
            .await?;
        let sim = Zaehlwerk::start("sim", &path, stack.state_dir())?;
        let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
        let api = format!("http://127.0.0.1:{api_port}");
        eventually(WAIT, "/readyz", || async {
            (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
        })
        .await
        .with_context(|| all.log_tail())?;

        // Analytics publishes every tree's status at start (all unknown: no sensors); the next evaluation is
        // far away (see the interval above), so the statuses published after it stand for the test.
        let mut trees = std::collections::BTreeSet::new();
        while trees.len() < TREES.len() {
            let (topic, payload) = tokio::time::timeout(WAIT, obs.messages.recv())
                .await
                .context("analytics published no tree status")?
                .context("observer closed")?;
            if let Some(t) = topic.strip_prefix("zw/v1/trees/").filter(|_| !payload.is_empty()) {
                trees.insert(t.to_string());
            }
        }
        for (i, (id, species, lat, state, age, _)) in TREES.iter().enumerate() {
            if let Some(s) = state {
                let st = tree_status(id, species, *lat, *s, 1.0 - i as f64 * 0.1, *age);
                obs.client
                    .publish(format!("zw/v1/trees/{id}"), QoS::AtLeastOnce, true, st.to_json())
                    .await?;
            }
        }
        eventually(WAIT, "the tree statuses in the API", || async {
            let (_, w) = get(&format!("{api}/api/v1/trees/watering"), Some("tok-parks"))
                .await
                .ok()?;
            let n = w.as_array()?.iter().filter(|t| t["state"] != "unknown").count();
            (n == 4).then_some(())
        })
        .await?;
        Ok(Self { stack, sim, all, api })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.all.stop(Duration::from_secs(15)).await?;
        self.sim.stop(Duration::from_secs(15)).await?;
        drop(self.stack);
        Ok(())
    }

    /// The page with `query` (e.g. `axe=1`) and `fragment` (token and view).
    fn url(&self, query: &str, fragment: &str) -> String {
        format!("{}/?{query}#{fragment}", self.api)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parks_view_maps_routes_filters_and_records_a_watering() -> anyhow::Result<()> {
    let town = Town::start().await?;

    // Parks: the map with every tree, the watering list as a nearest-neighbour route from the depot.
    let dom = check_view(
        &town.url("axe=1", "token=tok-parks&view=trees"),
        "trees",
        DESKTOP,
        "parks-trees",
    )
    .await?;
    assert!(
        dom.contains("data-markers=\"5\""),
        "not every tree on the map:\n{dom}"
    );
    assert!(
        dom.contains("leaflet-interactive"),
        "Leaflet drew no circles:\n{dom}"
    );
    let route: Vec<&str> = attr_values(&dom, "data-tree");
    assert_eq!(route, ["baum-near", "baum-mid", "baum-far"], "watering route");
    assert!(dom.contains("Reihenfolge als Route ab Depot"), "{dom}");
    assert!(
        dom.contains("data-maintenance=\"\"") && dom.contains("Sensorwartung"),
        "no maintenance list:\n{dom}"
    );
    assert!(
        dom.contains("data-chart=\"soil-history\"") && dom.contains("data-water=\"baum-near\""),
        "no soil history or record button:\n{dom}"
    );
    assert!(dom.contains("5 von 5 Bäumen gezeigt"), "{dom}");
    let trend = |tree: &str| {
        dom.split(&format!("data-trend=\"{tree}\">"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(trend("baum-mid"), "↑ trocknet aus", "{dom}");
    assert_eq!(trend("baum-near"), "–", "a missing trend is missing");
    // The litres to give each tree on the route are the API's, with where they come from; the outlook names
    // the days until critical and the rain expected.
    let (code, list) = get(&format!("{}/api/v1/trees/watering", town.api), Some("tok-parks")).await?;
    assert_eq!(code, 200, "{list}");
    for tree in ["baum-near", "baum-mid", "baum-far"] {
        let api = list
            .as_array()
            .and_then(|l| l.iter().find(|t| t["tree"] == tree))
            .with_context(|| format!("{tree} not in the API's list"))?;
        let litres = api["litres_now"]["litres"].as_f64().context("litres_now")?;
        assert!(
            litres > 0.0 && api["litres_now"]["basis"] == "soil_deficit",
            "{api}"
        );
        assert_eq!(
            text_at(&dom, "data-litres", tree),
            format!("{litres:.0} L"),
            "{tree}: the list's litres"
        );
    }
    assert_eq!(text_at(&dom, "data-outlook", "baum-mid"), "jetzt kritisch");
    assert_eq!(
        text_at(&dom, "data-outlook", "baum-near"),
        format!("kritisch in {NEAR_DAYS:.1} Tagen · Regen erwartet: {RAIN_MM:.1} mm").replace('.', ","),
        "{dom}"
    );
    // The outlook's heading gives the forecast's published error (api.dashboard.forecast_error's default).
    assert!(
        dom.contains(
            "Ausblick (3 Tage) (Fehler ±0,3 d simuliert (30 Testläufe), ±0,9 d externe Daten (BENCHMARKS.md))"
        ),
        "no forecast error next to the outlook:\n{dom}"
    );
    // The season panel: every district of the park's trees (a tree without one under its park).
    assert!(dom.contains("data-season-panel=\"\""), "no season panel:\n{dom}");
    assert_eq!(
        attr_values(&dom, "data-district"),
        ["Mitte", "Nord", "park"],
        "{dom}"
    );

    // The filters: age from the planting year narrows the map and the route; age and park combine.
    for (steps, markers, expected) in [
        (vec!["fill:#f-age=young"], 3, vec!["baum-near", "baum-mid"]),
        (vec!["fill:#f-age=old", "fill:#f-park=park"], 1, vec!["baum-far"]),
        (vec!["fill:#f-age=middle"], 1, vec![]),
        (
            vec!["fill:#f-species=Tilia cordata", "fill:#f-state=critical"],
            2,
            vec!["baum-mid", "baum-far"],
        ),
        // The district narrows the map, the route and with it the CSV and GPX exports.
        (vec!["fill:#f-district=Mitte"], 2, vec!["baum-near", "baum-mid"]),
        (
            vec!["fill:#f-district=Nord", "fill:#f-state=critical"],
            1,
            vec!["baum-far"],
        ),
        (vec!["fill:#f-district=park"], 1, vec![]),
    ] {
        let q = steps
            .iter()
            .map(|s| format!("step={}", enc(s)))
            .collect::<Vec<_>>()
            .join("&");
        let dom = dump_dom(&town.url(&q, "token=tok-parks&view=trees"), BUDGET, DESKTOP).await?;
        assert!(
            dom.contains(&format!("data-markers=\"{markers}\""))
                && dom.contains(&format!("{markers} von 5 Bäumen gezeigt")),
            "{steps:?}: not {markers} trees on the map:\n{dom}"
        );
        assert_eq!(
            attr_values(&dom, "data-tree"),
            expected,
            "{steps:?}: watering route"
        );
    }

    // Recording a watering from the list: the form opens for the tree, 80 L by "Trupp 2" are saved, the
    // log lists them and the API has them.
    let steps = [
        "click:[data-water=\"baum-near\"]",
        "fill:#w-litres=80",
        "fill:#w-by=Trupp 2",
        "click:form[data-watering-form] button[type=submit]",
    ]
    .map(|s| format!("step={}", enc(s)))
    .join("&");
    let dom = dump_dom(
        &town.url(&steps, "token=tok-parks&view=trees"),
        BUDGET * 2,
        DESKTOP,
    )
    .await?;
    assert!(
        dom.contains("Gießung gespeichert: baum-near, 80 L"),
        "the watering was not saved:\n{dom}"
    );
    assert!(
        dom.contains("data-waterings=\"1\"") && dom.contains("Trupp 2"),
        "the watering is not in the log or the chart:\n{dom}"
    );
    let (code, log) = get(
        &format!("{}/api/v1/trees/baum-near/waterings", town.api),
        Some("tok-parks"),
    )
    .await?;
    assert_eq!(code, 200, "{log}");
    assert_eq!(log["litres"], 80.0, "{log}");
    assert_eq!(log["waterings"][0]["by"], "Trupp 2", "{log}");
    assert_eq!(log["waterings"][0]["recorded_by"], "parks", "{log}");
    screenshot(
        &town.url(&steps, "token=tok-parks&view=trees"),
        BUDGET * 2,
        DESKTOP,
        &artifacts("dashboard")?.join("parks-watering.png"),
    )
    .await?;
    // The tree's soil chart marks the rain forecast over the next three days, and the panel gives the litres
    // and the outlook of the tree it shows.
    assert!(
        dom.contains(&format!("data-rain=\"{RAIN_MM}\"")),
        "the forecast rain is not in the soil chart:\n{dom}"
    );
    // Beside it, the rain that fell as the feed published it on the bus: one bar per reported day (the dry
    // day at 0 mm, the days not reported without one), also in the chart's text alternative.
    let (code, fell) = get(
        &format!("{}/api/v1/trees/baum-near/rain", town.api),
        Some("tok-parks"),
    )
    .await?;
    assert_eq!(code, 200, "{fell}");
    assert_eq!(fell["area"], "town", "{fell}");
    let mm: Vec<f64> = fell["days"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["mm"].as_f64())
        .collect();
    assert_eq!(mm, [0.0, 12.5, 4.0], "{fell}");
    assert!(
        dom.contains(&format!("data-rain-fell=\"{}\"", rain_fell_attr())),
        "the rain that fell is not in the soil chart:\n{dom}"
    );
    assert!(
        dom.contains("12,5 mm (gemessen)") && dom.contains("0,0 mm (gemessen)"),
        "the rain that fell is not in the chart's text alternative:\n{dom}"
    );
    // The view with the tree's chart open passes axe-core too.
    let open = format!("axe=1&step={}", enc("click:[data-water=\"baum-near\"]"));
    check_view(
        &town.url(&open, "token=tok-parks&view=trees"),
        "trees",
        DESKTOP,
        "parks-soil-rain",
    )
    .await?;
    assert!(
        text_at(&dom, "data-advice-outlook", "baum-near").starts_with("kritisch in"),
        "no outlook in the tree's panel:\n{dom}"
    );

    // A watering recorded in the page for last year's season (last June) shows in last year's season panel:
    // the litres of the tree's district, the tree no longer unwatered.
    let last = chrono::Datelike::year(&chrono::Utc::now()) - 1;
    let steps = [
        format!("fill:#s-year={last}"),
        "click:[data-water=\"baum-mid\"]".to_owned(),
        "fill:#w-litres=120".to_owned(),
        format!("fill:#w-at={last}-06-15T10:00"),
        "click:form[data-watering-form] button[type=submit]".to_owned(),
    ]
    .map(|s| format!("step={}", enc(&s)))
    .join("&");
    let dom = dump_dom(
        &town.url(&steps, "token=tok-parks&view=trees"),
        BUDGET * 2,
        DESKTOP,
    )
    .await?;
    assert!(
        dom.contains("Gießung gespeichert: baum-mid, 120 L")
            && dom.contains(&format!("data-season-panel=\"\" data-year=\"{last}\"")),
        "the watering was not saved, or the season is not last year's:\n{dom}"
    );
    let (code, season) = get(
        &format!("{}/api/v1/trees/season?year={last}", town.api),
        Some("tok-parks"),
    )
    .await?;
    assert_eq!(code, 200, "{season}");
    let mitte = season["districts"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["district"] == "Mitte"))
        .context("no Mitte in the season report")?;
    assert_eq!(mitte["litres"], 120.0, "{season}");
    assert_eq!(text_at(&dom, "data-district-litres", "Mitte"), "120 L", "{dom}");
    assert!(
        dom.contains("data-season-tree=\"baum-near\"") && dom.contains("data-season-tree=\"baum-mid\""),
        "the trees below the guideline are not listed:\n{dom}"
    );
    // The tree whose sensor read critical six days running stayed critical for more than 3 days; the
    // sensor's uptime is its readings against one an hour over the season (245 days).
    assert_eq!(
        season["trees_stayed_critical"],
        serde_json::json!([SENSOR_TREE]),
        "{season}"
    );
    let far = season["trees"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tree"] == SENSOR_TREE))
        .context("no sensor tree in the season report")?;
    assert_eq!(far["longest_critical"]["days"], CRITICAL_DAYS, "{far}");
    let received = CRITICAL_DAYS * READINGS_PER_DAY;
    assert_eq!(far["sensors"][0]["received"], received, "{far}");
    assert_eq!(far["sensors"][0]["expected"], 245 * 24, "{far}");
    assert!(
        text_at(&dom, "data-season-critical", SENSOR_TREE).starts_with(&format!(
            "{SENSOR_TREE} (Nord): {CRITICAL_DAYS} Tage am Stück kritisch"
        )),
        "the tree critical for more than 3 days is not in the panel:\n{dom}"
    );
    let uptime = f64::from(received) / (245.0 * 24.0) * 100.0;
    assert_eq!(
        text_at(&dom, "data-uptime", SENSOR),
        format!("{uptime:.1} %").replace('.', ","),
        "{dom}"
    );
    // A window tall enough to show the season panel below the list and the form.
    screenshot(
        &town.url(&steps, "token=tok-parks&view=trees"),
        BUDGET * 2,
        (DESKTOP.0, 3000),
        &artifacts("dashboard")?.join("parks-season.png"),
    )
    .await?;

    // A resident cannot log a watering: the tree is not theirs (404, as an unknown one).
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/trees/baum-near/waterings", town.api))
        .bearer_auth("tok-res1")
        .json(&serde_json::json!({ "litres": 80 }))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 404);
    town.stop().await
}

/// The text of the first element carrying `attr="value"` (up to its first child tag).
fn text_at<'a>(dom: &'a str, attr: &str, value: &str) -> &'a str {
    dom.split(&format!("{attr}=\"{value}\""))
        .nth(1)
        .and_then(|r| r.split_once('>'))
        .and_then(|(_, r)| r.split('<').next())
        .unwrap_or("")
}
