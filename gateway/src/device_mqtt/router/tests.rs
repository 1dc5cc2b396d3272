use zw_model::Quantity;
use zw_model::inventory::{Device, JsonField};

use super::*;

fn router(full_topic: &str) -> Router {
    let inv = Inventory::builder()
        .building(
            "s",
            [
                Device::tasmota("plug", "plug1"),
                Device::shelly("em", "shellies/pro3em-1"),
                Device::ttn("soil", "v3/app@ttn/devices/trs/up", "dl-trs21"),
                Device::json("gen", "x/y", [JsonField::new("/w", Quantity::ActivePower)]),
            ],
        )
        .build();
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

#[test]
fn shelly_channels_and_json_patterns_route_to_their_devices() {
    let watts = || [JsonField::new("/w", Quantity::ActivePower)];
    let inv = Inventory::builder()
        .building(
            "s",
            [
                Device::shelly("pm-0", "pro2pm").channel(0),
                Device::shelly("pm-1", "pro2pm").channel(1),
                Device::json("kitchen", "sensors/+/state", watts()),
                Device::json(
                    "hall-meter",
                    "sensors/+/state",
                    [JsonField::new("/kwh", Quantity::EnergyImport).scale(1000.0)],
                )
                .topic_key("hall"),
                Device::json("b1", "site/+/dev/+", watts()).topic_key("a/b"),
            ],
        )
        .build();
    assert_eq!(inv.validate(), Vec::<String>::new());
    let r = Router::new(&Config::default(), &inv, Utc::now());
    let mut filters: Vec<_> = r.keys().cloned().collect();
    filters.sort();
    assert_eq!(
        filters,
        [
            "pro2pm/events/rpc",
            "pro2pm/online",
            "pro2pm/status/+",
            "sensors/+/state",
            "site/+/dev/+"
        ],
        "one subscription per prefix and per pattern"
    );
    let status = |c| Part::Shelly(shelly::Part::Status(c));
    let cases = [
        (
            "pro2pm/status/switch:0",
            Route::Device(0, status(shelly::Component::Switch(0))),
        ),
        (
            "pro2pm/status/switch:1",
            Route::Device(1, status(shelly::Component::Switch(1))),
        ),
        // No device reads channel 2: a sign of life for the first.
        (
            "pro2pm/status/switch:2",
            Route::Device(0, status(shelly::Component::Switch(2))),
        ),
        (
            "pro2pm/status/sys",
            Route::Group(0, status(shelly::Component::Other)),
        ),
        (
            "pro2pm/online",
            Route::Group(0, Part::Shelly(shelly::Part::Online)),
        ),
        (
            "pro2pm/events/rpc",
            Route::Group(0, Part::Shelly(shelly::Part::Rpc)),
        ),
        ("sensors/kitchen/state", Route::Device(2, Part::Only)),
        ("sensors/hall/state", Route::Device(3, Part::Only)),
        ("sensors/hall-meter/state", Route::Unknown("json")),
        ("sensors/kitchen/state/x", Route::Unknown("unknown")),
        ("site/a/dev/b", Route::Device(4, Part::Only)),
        ("site/a/dev/c", Route::Unknown("json")),
    ];
    for (topic, want) in cases {
        assert_eq!(r.route(topic), want, "{topic}");
    }
    assert_eq!(r.group(0), [0, 1]);
}

#[test]
fn each_shelly_channel_reads_its_own_switch() {
    let inv = Inventory::builder()
        .building(
            "s",
            [
                Device::shelly("pm-0", "pro2pm"),
                Device::shelly("pm-1", "pro2pm").channel(1),
            ],
        )
        .build();
    let mut r = Router::new(&Config::default(), &inv, Utc::now());
    let delta = br#"{"src":"pro2pm","method":"NotifyStatus","params":{"ts":1.8e9,"switch:1":{"id":1,"apower":42.5}}}"#;
    let Route::Group(g, part) = r.route("pro2pm/events/rpc") else {
        panic!("group route")
    };
    let got: Vec<_> = r
        .group(g)
        .to_vec()
        .into_iter()
        .map(|i| r.devices[i].decode(part, delta))
        .collect();
    assert_eq!(got[0], Ok(Message::Alive), "channel 0 has nothing in this delta");
    let Ok(Message::Reading(d)) = &got[1] else {
        panic!("channel 1 reads its switch: {got:?}")
    };
    assert_eq!(d.values.get(&zw_model::Quantity::ActivePower), Some(&42.5));
}

#[test]
fn a_rebuilt_router_keeps_unchanged_devices_and_names_the_filter_changes() {
    let before = Inventory::builder()
        .building(
            "s",
            [
                Device::tasmota("plug", "plug1"),
                Device::shelly("em", "shellies/pro3em-1"),
                Device::ttn("soil", "v3/app@ttn/devices/trs/up", "dl-trs21"),
            ],
        )
        .build();
    // `em` stays, `plug` moves to another topic, `soil` goes, a second Shelly arrives.
    let after = Inventory::builder()
        .building(
            "s",
            [
                Device::tasmota("plug", "plug2"),
                Device::shelly("em", "shellies/pro3em-1"),
                Device::shelly("em2", "shellies/pro3em-2"),
            ],
        )
        .build();
    let cfg = Config::default();
    let t0 = Utc::now();
    let mut old = Router::new(&cfg, &before, t0);
    for e in &mut old.devices {
        e.liveness.on_values(t0);
    }
    let mut new = Router::new(&cfg, &after, t0 + TimeDelta::seconds(1));
    let (add, remove) = new.filter_changes(&old);
    assert_eq!(
        add,
        [
            "shellies/pro3em-2/online",
            "shellies/pro3em-2/status/+",
            "shellies/pro3em-2/events/rpc"
        ]
    );
    assert_eq!(remove, ["v3/app@ttn/devices/trs/up"]);
    new.carry_over(old, &before, &after);
    let seen: Vec<_> = new
        .devices
        .iter()
        .map(|e| (e.device.as_str(), e.liveness.last_seen().is_some()))
        .collect();
    assert_eq!(seen, [("plug", false), ("em", true), ("em2", false)]);
    assert!(matches!(
        new.route("v3/app@ttn/devices/trs/up"),
        Route::Unknown(_)
    ));
    assert!(matches!(
        new.route("shellies/pro3em-2/online"),
        Route::Device(2, _)
    ));
}
