use super::*;

fn router(full_topic: &str) -> Router {
    let inv: Inventory = toml::from_str(
        r#"
[[sites]]
id = "s"
kind = "building"
devices = [
  { id = "plug", source = { type = "tasmota", topic = "plug1" } },
  { id = "em", source = { type = "shelly", prefix = "shellies/pro3em-1" } },
  { id = "soil", source = { type = "ttn", topic = "v3/app@ttn/devices/trs/up", model = "dl-trs21" } },
  { id = "gen", source = { type = "json", topic = "x/y", fields = [{ pointer = "/w", quantity = "active_power" }] } },
]
"#,
    )
    .expect("inventory");
    let cfg = Config {
        tasmota_full_topic: full_topic.into(),
        ..Config::default()
    };
    Router::new(&cfg, &inv, Utc::now())
}

#[test]
fn topics_route_by_pattern_and_unknown_ones_are_named() {
    let r = router("tasmota/%topic%/%prefix%/");
    let mut filters: Vec<_> = r.keys().cloned().collect();
    filters.sort();
    assert_eq!(
        filters,
        [
            "shellies/pro3em-1/events/rpc",
            "shellies/pro3em-1/online",
            "shellies/pro3em-1/status/+",
            "tasmota/+/stat/STATUS10",
            "tasmota/+/stat/STATUS8",
            "tasmota/+/tele/+",
            "v3/app@ttn/devices/trs/up",
            "x/y"
        ]
    );
    let cases = [
        (
            "tasmota/plug1/tele/SENSOR",
            Route::Device(0, Part::Tasmota(tasmota::Part::Sensor)),
        ),
        (
            "tasmota/plug1/tele/LWT",
            Route::Device(0, Part::Tasmota(tasmota::Part::Lwt)),
        ),
        ("tasmota/plug1/tele/INFO1", Route::Ignored),
        ("tasmota/plug1/stat/POWER", Route::Ignored),
        (
            "tasmota/plug1/stat/STATUS10",
            Route::Device(0, Part::Tasmota(tasmota::Part::Status)),
        ),
        ("tasmota/plug1/tele/STATUS10", Route::Ignored),
        ("tasmota/other/tele/SENSOR", Route::Unknown("tasmota")),
        (
            "shellies/pro3em-1/status/emdata:0",
            Route::Device(1, Part::Shelly(shelly::Part::Status(shelly::Component::EmData))),
        ),
        (
            "shellies/pro3em-1/online",
            Route::Device(1, Part::Shelly(shelly::Part::Online)),
        ),
        ("shellies/pro3em-2/online", Route::Unknown("unknown")),
        ("v3/app@ttn/devices/trs/up", Route::Device(2, Part::Only)),
        ("x/y", Route::Device(3, Part::Only)),
        ("tele/plug1/SENSOR", Route::Unknown("unknown")),
    ];
    for (topic, want) in cases {
        assert_eq!(r.route(topic), want, "{topic}");
    }
    assert_eq!(r.devices[2].adapter, "ttn");
    let stale: Vec<_> = r.devices.iter().map(|d| d.stale_after.num_minutes()).collect();
    assert_eq!(
        stale,
        [15, 3, 30, 15],
        "3 × expected interval, capped at mqtt_stale_after"
    );
}
