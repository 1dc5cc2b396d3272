//! `validate_inventory` (what `zaehlwerk check-config` runs for the gateway): unknown profiles, broken user
//! profile directories, clashing unit ids and serial settings are all reported, each with its path.

use std::time::Duration;

use zw_model::Inventory;
use zw_model::inventory::fixtures::{assert_reported, building_with_meters};

fn inventory(devices: &[(&str, &str, u8, &str)]) -> Inventory {
    let site = building_with_meters("s", devices, Duration::from_secs(5));
    Inventory::builder().site(site).build()
}

#[test]
fn every_gateway_problem_is_listed_with_its_path() {
    let inv = inventory(&[
        ("a", "127.0.0.1:502", 1, "sdm630"),
        ("b", "tcp://127.0.0.1:502", 1, "sdm120"),
        ("c", "rtu:///dev/ttyUSB0?baud=9600", 1, "janitza-b23"),
        ("d", "rtu:///dev/ttyUSB0?baud=2400", 2, "sdm120"),
        ("e", "rtutcp://10.0.0.1:4001", 1, "abb-b23"),
    ]);
    assert!(inv.validate().is_empty(), "{:?}", inv.validate());
    let errors = zw_gateway::validate_inventory(&zw_gateway::Config::default(), &inv);
    let expected = [
        "sites[0].devices[1].source.unit_id: unit 1 on tcp://127.0.0.1:502 is already polled by sites[0].devices[0].source",
        "sites[0].devices[3].source.endpoint: rtu:///dev/ttyUSB0?baud=2400",
        "sites[0].devices[4].source.profile: unknown profile \"abb-b23\"",
    ];
    assert_reported(&errors, &expected);
}

#[test]
fn user_profiles_are_known_to_the_check_and_broken_ones_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = "name = \"my-meter\"\nmax_registers = 10\n[defaults]\nfunction = 3\ntype = \"u32\"\norder = \"CDAB\"\n\
               [[values]]\nquantity = \"energy_import\"\nregister = 40001\nunit = \"Wh\"\n";
    std::fs::write(dir.path().join("my-meter.toml"), own).expect("write");
    let cfg = zw_gateway::Config {
        profile_dirs: vec![dir.path().to_path_buf()],
        ..zw_gateway::Config::default()
    };
    let inv = inventory(&[("a", "127.0.0.1:502", 1, "my-meter")]);
    assert_eq!(zw_gateway::validate_inventory(&cfg, &inv), Vec::<String>::new());
    std::fs::write(dir.path().join("bad.toml"), "name = \"x\"\nmax_registers = 300\n").expect("write");
    let errors = zw_gateway::validate_inventory(&cfg, &inv);
    assert!(errors.len() == 1 && errors[0].contains("bad.toml"), "{errors:?}");
}
