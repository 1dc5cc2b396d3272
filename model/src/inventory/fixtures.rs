//! Named inventory fixtures shared by every crate's tests and the end-to-end suite: the town hall with its
//! Modbus main meter, households with a plug, the park with a soil sensor, a building full of Modbus meters,
//! and [`town`]: the first three together with one user per role.
//!
//! Behind the `fixtures` feature, like [`super::builder`]. Each fixture takes what differs between tests
//! (where the meter answers, which topic a device publishes on) and fixes the ids the tests assert on.

use std::time::Duration;

use super::{Device, Inventory, Role, Site, SiteKind};

/// Where [`town`]'s main meter answers; nothing listens there in unit tests.
pub const TOWN_HALL_METER: &str = "127.0.0.1:5020";

/// The town hall `rathaus`: a building whose main meter `rathaus-main` (SDM630, unit 1) at `endpoint` is
/// polled every `poll`.
pub fn town_hall(endpoint: &str, poll: Duration) -> Site {
    Site::new(
        "rathaus",
        SiteKind::Building,
        [Device::modbus("rathaus-main", endpoint, 1, "sdm630").every(poll)],
    )
}

/// Household `id` with one Tasmota plug, `<id>-plug`, publishing on `tele/<topic>/…`.
pub fn household_with_plug(id: &str, topic: &str) -> Site {
    Site::new(
        id,
        SiteKind::Household,
        [Device::tasmota(&format!("{id}-plug"), topic)],
    )
}

/// The park `park` with one LSE01 soil sensor, `soil-1`, whose uplinks arrive on `topic`.
pub fn park_with_soil_sensor(topic: &str) -> Site {
    Site::new("park", SiteKind::Park, [Device::ttn("soil-1", topic, "lse01")])
}

/// A building `id` whose Modbus meters are `(device id, endpoint, unit id, profile)`, each polled every
/// `interval`: the shape of the gateway's and the end-to-end suite's Modbus tests.
pub fn building_with_meters<E: AsRef<str>>(
    id: &str,
    meters: &[(&str, E, u8, &str)],
    interval: Duration,
) -> Site {
    let devices = meters.iter().map(|(device, endpoint, unit, profile)| {
        Device::modbus(device, endpoint.as_ref(), *unit, profile).every(interval)
    });
    Site::new(id, SiteKind::Building, devices)
}

/// A small town: the [`town_hall`] (meter at [`TOWN_HALL_METER`], polled every 2 s), households `hh-1` and
/// `hh-2` with a plug each (topics `plug1`, `plug2`), the [`park_with_soil_sensor`] (no trees), and one user
/// per role whose token is the user's name, in this order: `anna` (resident of `hh-1`), `fm` (facility
/// manager, every building), `parks` (every park), `root` (admin).
pub fn town() -> Inventory {
    Inventory::builder()
        .site(town_hall(TOWN_HALL_METER, Duration::from_secs(2)))
        .site(household_with_plug("hh-1", "plug1"))
        .site(household_with_plug("hh-2", "plug2"))
        .site(park_with_soil_sensor("v3/soil@ttn/devices/soil-1/up"))
        .user("anna", Role::Resident, &["hh-1"], "anna")
        .user("fm", Role::FacilityManager, &["*"], "fm")
        .user("parks", Role::Parks, &["*"], "parks")
        .user("root", Role::Admin, &["*"], "root")
        .build()
}

/// Asserts that `errors` (from `Inventory::validate` or a config check) holds an error starting with each of
/// `expected`, and no others: every problem is reported, each with its path.
#[track_caller]
pub fn assert_reported(errors: &[String], expected: &[&str]) {
    for e in expected {
        assert!(
            errors.iter().any(|x| x.starts_with(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}
