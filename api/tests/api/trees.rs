//! The parks department's tree routes against a real SQLite store in a temporary folder: the season report
//! (`/api/v1/trees/season`) sums the logged litres and waterings per tree and district against 100 L per
//! tree and week, only for the parks department and the admin, for a year it can have; the watering list
//! advises the litres to give now from the soil deficit less what was logged since the latest reading, and
//! names the outlook. With a real influxd holding a sensor's readings, the season report names the tree that
//! stayed critical for more than 3 days with its longest spell, the litres saved and the sensor's uptime.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Datelike, TimeZone, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use zw_api::{AppState, app};
use zw_model::inventory::fixtures::town;
use zw_model::tree::{AgeClass, SoilState, TREE_SCHEMA_VERSION, TreeStatus, Urgency};
use zw_model::{Id, Tree};

use crate::common::state;

/// Trees of the town's park: id, district.
const TREES: &[(&str, Option<&str>)] = &[
    ("linde-1", Some("Mitte")),
    ("linde-2", Some("Mitte")),
    ("eiche-1", Some("Nord")),
    ("ahorn-1", None),
];

/// The town with [`TREES`] in its park, in the state and in a store; the folder lives as long as the state.
async fn parks_state() -> (AppState, tempfile::TempDir) {
    parks_state_with(&[]).await
}

/// [`parks_state`] with the soil sensors `(tree, device)` at their trees.
async fn parks_state_with(sensors: &[(&str, &str)]) -> (AppState, tempfile::TempDir) {
    let mut inv = town();
    for (id, district) in TREES {
        let at: Vec<&str> = sensors.iter().filter(|(t, _)| t == id).map(|(_, d)| *d).collect();
        let mut t = Tree::new(id, "park", &at);
        t.district = district.map(str::to_owned);
        // The lindens are one species (a sensorless one inherits from one with a sensor), the others not.
        match *id {
            "eiche-1" => t.species = "Quercus robur".into(),
            "ahorn-1" => t.species = "Acer platanoides".into(),
            _ => {}
        }
        inv.trees.push(t);
    }
    assert_eq!(inv.validate(), Vec::<String>::new());
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/s.db", dir.path().display());
    let store = zw_store::Store::connect(&url).await.expect("store");
    store
        .import_inventory(zw_store::Stamp::new("import", Utc::now()), &inv)
        .await
        .expect("import");
    let mut s = state().with_inventory(Arc::new(inv));
    s.store = Some(store);
    (s, dir)
}

async fn call(
    s: &AppState,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let resp = app(s.clone())
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn water(s: &AppState, tree: &str, litres: f64, at: Option<chrono::DateTime<Utc>>) {
    let mut body = json!({ "litres": litres, "by": "Trupp 1" });
    if let Some(at) = at {
        body["at"] = json!(at);
    }
    let path = format!("/api/v1/trees/{tree}/waterings");
    let (st, r) = call(s, Method::POST, &path, "parks", Some(body)).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
}

#[tokio::test]
async fn the_season_report_sums_litres_per_tree_and_district_for_parks_and_admin_only() {
    let (s, _dir) = parks_state().await;
    // Last year's season (1 March to 1 November, 35 weeks) is over whatever the date: every figure is fixed.
    let year = Utc::now().year() - 1;
    let june = |day: u32| {
        Utc.with_ymd_and_hms(year, 6, day, 10, 0, 0)
            .single()
            .expect("a June day")
    };
    water(&s, "linde-1", 100.0, Some(june(1))).await;
    water(&s, "linde-1", 150.0, Some(june(8))).await;
    water(&s, "eiche-1", 60.0, Some(june(3))).await;
    // Before the season: not counted.
    let january = Utc
        .with_ymd_and_hms(year, 1, 15, 10, 0, 0)
        .single()
        .expect("January");
    water(&s, "linde-2", 90.0, Some(january)).await;

    let path = format!("/api/v1/trees/season?year={year}");
    for token in ["parks", "root"] {
        let (st, r) = call(&s, Method::GET, &path, token, None).await;
        assert_eq!(st, StatusCode::OK, "{token}: {r}");
        assert_eq!(r["weeks"], 35.0, "{r}");
        let trees: Vec<(&str, &str, u64, f64, f64)> = r["trees"]
            .as_array()
            .expect("trees")
            .iter()
            .map(|t| {
                (
                    t["tree"].as_str().unwrap_or(""),
                    t["district"].as_str().unwrap_or(""),
                    t["waterings"].as_u64().unwrap_or(99),
                    t["litres"].as_f64().unwrap_or(-1.0),
                    t["guideline_litres"].as_f64().unwrap_or(-1.0),
                )
            })
            .collect();
        assert_eq!(
            trees,
            [
                ("ahorn-1", "park", 0, 0.0, 3500.0),
                ("eiche-1", "Nord", 1, 60.0, 3500.0),
                ("linde-1", "Mitte", 2, 250.0, 3500.0),
                ("linde-2", "Mitte", 0, 0.0, 3500.0),
            ]
        );
        let districts: Vec<(&str, u64, u64, f64, f64)> = r["districts"]
            .as_array()
            .expect("districts")
            .iter()
            .map(|d| {
                (
                    d["district"].as_str().unwrap_or(""),
                    d["trees"].as_u64().unwrap_or(99),
                    d["trees_unwatered"].as_u64().unwrap_or(99),
                    d["litres"].as_f64().unwrap_or(-1.0),
                    d["guideline_litres"].as_f64().unwrap_or(-1.0),
                )
            })
            .collect();
        assert_eq!(
            districts,
            [
                ("Mitte", 2, 1, 250.0, 7000.0),
                ("Nord", 1, 0, 60.0, 3500.0),
                ("park", 1, 1, 0.0, 3500.0)
            ]
        );
    }
    // Roles that see no trees: 403, naming who may.
    for token in ["anna", "fm"] {
        let (st, r) = call(&s, Method::GET, &path, token, None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{token}: {r}");
        assert!(r["detail"].as_str().is_some_and(|d| d.contains("parks")), "{r}");
    }
    // A year it cannot have, or not a year: 400.
    let next = Utc::now().year() + 1;
    for bad in [
        "1999".to_owned(),
        next.to_string(),
        "abc".to_owned(),
        "99999999999".to_owned(),
    ] {
        let (st, r) = call(
            &s,
            Method::GET,
            &format!("/api/v1/trees/season?year={bad}"),
            "parks",
            None,
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {r}");
    }
    // Without a year: this year's season, so far.
    let (st, r) = call(&s, Method::GET, "/api/v1/trees/season", "parks", None).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["trees"].as_array().map(Vec::len), Some(TREES.len()));
}

/// Last year's June `day` at local (Berlin) `hour`.
fn june_local(year: i32, day: u32, hour: u32) -> chrono::DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .with_ymd_and_hms(year, 6, day, hour, 30, 0)
        .single()
        .expect("a June hour")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn the_season_report_names_trees_critical_for_more_than_3_days_litres_saved_and_uptime() {
    let stack = zw_tests::Stack::builder()
        .influxd()
        .start()
        .await
        .expect("influxd");
    let (mut s, _dir) = parks_state_with(&[("linde-1", "soil-1")]).await;
    s.influx = zw_influx::Client::new(zw_influx::Config {
        url: stack.influx_url(),
        database: stack.influx_db().into(),
        ..Default::default()
    })
    .expect("client");
    let mut cfg = (*s.config).clone();
    // soil-1 reports hourly; expected readings come from this.
    cfg.season
        .sensor_interval_by_device
        .insert("soil-1".into(), std::time::Duration::from_secs(3600));
    s.config = Arc::new(cfg);
    let year = Utc::now().year() - 1;
    // soil-1 (VWC, the default loam: critical at 21 % and below), hourly from 1 to 20 June: wet 1–2 June,
    // critical 3–8 June (six days; only 12 readings on the 5th), no reading on the 9th (unknown: the
    // spell ends), critical 10–11, wet 12–20.
    let mut lines = Vec::new();
    for day in (1..=20).filter(|d| *d != 9) {
        let vwc = if (3..=8).contains(&day) || (10..=11).contains(&day) {
            19.0
        } else {
            26.0
        };
        for hour in (0..24).filter(|h| day != 5 || *h < 12) {
            lines.push(format!(
                "readings,site=park,device=soil-1 soil_moisture={vwc} {}",
                june_local(year, day, hour).timestamp_millis()
            ));
        }
    }
    zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &lines.join("\n"))
        .await
        .expect("write");
    // 40 L in the wet week of 14 to 20 June (the season's 15th week, 1 March counted as day 0).
    water(&s, "linde-1", 40.0, Some(june_local(year, 15, 9))).await;

    let (st, r) = call(
        &s,
        Method::GET,
        &format!("/api/v1/trees/season?year={year}"),
        "parks",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(
        (r["days"].as_u64(), r["critical_spell_days"].as_u64()),
        (Some(245), Some(3)),
        "{r}"
    );
    // linde-2 has no sensor and inherits linde-1's days (same species, soil, age class, place): counted as
    // such, not as a tree without a sensor.
    assert_eq!(r["trees_stayed_critical"], json!(["linde-1", "linde-2"]), "{r}");
    let linde2 = r["trees"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tree"] == "linde-2"))
        .expect("linde-2");
    assert_eq!(linde2["inherited_from"], json!(["linde-1"]), "{linde2}");
    assert_eq!(
        (
            &linde2["critical_days"],
            &linde2["known_days"],
            &linde2["sensors"]
        ),
        (&json!(8), &json!(19), &json!([])),
        "{linde2}"
    );
    let linde = r["trees"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tree"] == "linde-1"))
        .expect("linde-1");
    assert_eq!(linde["critical_days"], 8, "{linde}");
    assert_eq!(linde["known_days"], 19, "{linde}");
    let june = |d: u32| format!("{year}-06-{d:02}");
    assert_eq!(
        linde["longest_critical"],
        json!({ "first_day": june(3), "last_day": june(8), "days": 6 }),
        "{linde}"
    );
    assert_eq!(linde["stayed_critical"], true);
    // Weeks from 1 March: 31 May–6 June and 7–13 June critical, 14–20 June not critical, the other 32
    // without enough readings; saved: 100 L planned less 40 L given in the not-critical week.
    assert_eq!(
        [
            &linde["weeks_critical"],
            &linde["weeks_not_critical"],
            &linde["weeks_unknown"]
        ],
        [&json!(2), &json!(1), &json!(32)],
        "{linde}"
    );
    assert_eq!(linde["litres_saved"], 60.0, "{linde}");
    // Uptime: 19 × 24 − 12 = 444 readings of 245 × 24 = 5880 expected hourly.
    assert_eq!(
        linde["sensors"],
        json!([{ "device": "soil-1", "depth": 1, "interval_s": 3600, "expected": 5880, "received": 444,
            "uptime": 0.076, "days_with_readings": 19 }]),
        "{linde}"
    );
    let mitte = r["districts"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["district"] == "Mitte"))
        .expect("Mitte");
    assert_eq!(
        (&mitte["litres_saved"], &mitte["trees_stayed_critical"]),
        (&json!(160.0), &json!(2))
    );
    // A tree without a sensor and without a reference tree: nothing known, nothing saved, no uptime.
    let eiche = r["trees"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tree"] == "eiche-1"))
        .expect("eiche-1");
    assert_eq!(
        (
            &eiche["known_days"],
            &eiche["litres_saved"],
            &eiche["weeks_unknown"]
        ),
        (&json!(0), &json!(0.0), &json!(35))
    );
    assert_eq!(eiche["sensors"], json!([]));
    assert!(eiche.get("inherited_from").is_none(), "{eiche}");

    // The store unreachable: 503 naming the soil readings, never a report with soil taken as good.
    stack.stop_influxd().await;
    let (st, r) = call(
        &s,
        Method::GET,
        &format!("/api/v1/trees/season?year={year}"),
        "parks",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{r}");
    assert!(r["detail"].as_str().is_some_and(|d| d.contains("soil")), "{r}");
}

fn status(
    tree: &str,
    state: SoilState,
    dryness: f64,
    days: Option<f64>,
    read_at: chrono::DateTime<Utc>,
) -> TreeStatus {
    TreeStatus {
        v: TREE_SCHEMA_VERSION,
        tree: Id::new(tree).expect("id"),
        site: Id::new("park").expect("id"),
        species: "Tilia cordata".into(),
        planted: 2023,
        lat: 51.0,
        lon: 6.0,
        state,
        dryness: Some(dryness),
        combine: "worst".into(),
        tension_kpa: Some(81.0 * dryness),
        moisture_pct: None,
        trend_per_day: None,
        days_until_critical: days,
        forecast: None,
        urgency: Urgency {
            score: dryness,
            rank: 1,
            age_years: 3,
            age_class: AgeClass::Baby,
            age_weight: 1.5,
            forecast_term: 0.0,
            vegetation_period: true,
        },
        young: true,
        sensor_fault: None,
        sensors: Vec::new(),
        inherited_from: Vec::new(),
        ts: read_at,
    }
}

#[tokio::test]
async fn the_watering_list_advises_litres_from_the_deficit_less_what_was_given_since_the_reading() {
    let (s, _dir) = parks_state().await;
    let hour_ago = Utc::now() - chrono::TimeDelta::hours(1);
    {
        let mut trees = s.views.trees.write().expect("lock");
        for st in [
            status("linde-1", SoilState::Critical, 1.0, Some(0.0), hour_ago),
            status("linde-2", SoilState::Moderate, 0.7, Some(1.6), hour_ago),
            status("eiche-1", SoilState::Good, 0.2, None, hour_ago),
        ] {
            trees.insert(st.tree.to_string(), st);
        }
    }
    let advice = |list: &Value, tree: &str| {
        let t = list
            .as_array()
            .and_then(|l| l.iter().find(|t| t["tree"] == tree))
            .cloned()
            .unwrap_or(Value::Null);
        (
            t["litres_now"]["litres"].as_f64(),
            t["litres_now"]["basis"].as_str().map(str::to_owned),
            t["outlook"]["kind"].as_str().map(str::to_owned),
            t["district"].clone(),
        )
    };
    let (st, list) = call(&s, Method::GET, "/api/v1/trees/watering", "parks", None).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    // Critical at dryness 1: half of 84 mm over a 4 m² pit, 168 L, rounded up.
    assert_eq!(
        advice(&list, "linde-1"),
        (
            Some(170.0),
            Some("soil_deficit".into()),
            Some("critical_now".into()),
            json!("Mitte")
        )
    );
    assert_eq!(
        advice(&list, "linde-2"),
        (
            Some(120.0),
            Some("soil_deficit".into()),
            Some("critical_in".into()),
            json!("Mitte")
        )
    );
    assert_eq!(
        advice(&list, "eiche-1"),
        (
            Some(0.0),
            Some("not_needed".into()),
            Some("not_within".into()),
            json!("Nord")
        )
    );
    // No status: the guideline, 100 L a week; the outlook unknown; no district: null.
    assert_eq!(
        advice(&list, "ahorn-1"),
        (
            Some(100.0),
            Some("guideline".into()),
            Some("unknown".into()),
            Value::Null
        )
    );
    // 80 L given after the latest reading count against the deficit until the next reading shows them; a
    // watering of the sensorless tree counts against its week's guideline.
    water(&s, "linde-1", 80.0, None).await;
    water(&s, "ahorn-1", 30.0, None).await;
    let (_, list) = call(&s, Method::GET, "/api/v1/trees/watering", "parks", None).await;
    assert_eq!(advice(&list, "linde-1").0, Some(90.0), "{list}");
    assert_eq!(advice(&list, "ahorn-1").0, Some(70.0), "{list}");
    // The map's GeoJSON carries the same advice.
    let (st, fc) = call(&s, Method::GET, "/api/v1/trees", "parks", None).await;
    assert_eq!(st, StatusCode::OK);
    let props: Vec<Value> = fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"].clone())
        .collect();
    assert_eq!(advice(&Value::Array(props), "linde-1").0, Some(90.0));
}
