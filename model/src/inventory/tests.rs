use super::*;

use super::fixtures::{assert_reported, town};

fn parse(toml_text: &str) -> Inventory {
    toml::from_str(toml_text).expect("inventory parses")
}

/// A household `hh` with the devices of a TOML array `devices = [...]`: the source syntax under test.
fn household(devices_toml: &str) -> Inventory {
    #[derive(Deserialize)]
    struct Devices {
        devices: Vec<Device>,
    }
    let devices: Devices = toml::from_str(devices_toml).expect("devices parse");
    Inventory::builder().household("hh", devices.devices).build()
}

/// [`town`] with the lime `t1` at the soil sensor.
fn good() -> Inventory {
    let mut inv = town();
    inv.trees.push(Tree::new("t1", "park", &["soil-1"]));
    inv
}

#[test]
fn a_built_inventory_survives_toml() {
    let inv = good();
    let text = toml::to_string(&inv).expect("renders");
    assert_eq!(parse(&text), inv);
}

#[test]
fn good_inventory_has_no_errors() {
    let inv = good();
    assert_eq!(inv.validate(), Vec::<String>::new());
    let (site, dev) = inv.device("rathaus-main").expect("device exists");
    assert_eq!(site.id.as_str(), "rathaus");
    assert!(matches!(dev.source, DeviceSource::Modbus { interval, .. } if interval.as_secs() == 2));
}

#[test]
fn visibility_follows_scope_and_role() {
    let inv = good();
    let (anna, fm) = (&inv.users[0], &inv.users[1]);
    let sees = |u: &User| {
        inv.sites
            .iter()
            .filter(|s| u.sees(s))
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(sees(anna), ["hh-1"]);
    // "*" for a facility manager means every building, never a household.
    assert_eq!(sees(fm), ["rathaus"]);
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let mut bad = good();
    bad.sites[1].devices[0].id = Id::new("rathaus-main").expect("id");
    bad.trees[0].sensors = vec![Id::new("nope").expect("id")];
    bad.users[0].scope = vec!["rathaus".into()];
    if let DeviceSource::Modbus { endpoint, .. } = &mut bad.sites[0].devices[0].source {
        *endpoint = "localhost".into();
    }
    bad.trees[0].lat = 151.2;
    bad.users[1].token_sha256 = "XYZ".into();
    let errors = bad.validate();
    let expected = [
        "sites[1].devices[0].id: duplicate device id",
        "sites[0].devices[0].source.endpoint: expected host:port",
        "trees[0].sensors[0]: no device \"nope\"",
        "trees[0]: coordinates",
        "users[0].scope[0]: role Resident may not see Building site",
        "users[1].token_sha256: must be 64",
    ];
    assert_reported(&errors, &expected);
}

#[test]
fn unknown_fields_are_rejected() {
    let err = toml::from_str::<Inventory>("[[sites]]\nid = \"a\"\nkind = \"park\"\ncolour = \"green\"\n")
        .expect_err("unknown field");
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn token_hash_is_sha256_hex() {
    assert_eq!(
        token_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(parse_duration("250ms"), Ok(std::time::Duration::from_millis(250)));
    assert_eq!(parse_duration("2m"), Ok(std::time::Duration::from_secs(120)));
    assert!(parse_duration("5").is_err());
    assert!(parse_duration("five s").is_err());
}

#[test]
fn mqtt_sources_parse_and_validate() {
    let inv = household(
        r#"
devices = [
  { id = "em", source = { type = "shelly", prefix = "shellypro3em-aabbccddeeff" } },
  { id = "sml", source = { type = "tasmota", topic = "sml1", sml_section = "SML", sml = [
      { key = "Total_in", obis = "1-0:1.8.0*255" }, { key = "Power_curr", obis = "16.7.0", unit = "W" } ] } },
  { id = "gen", source = { type = "json", topic = "sensors/kwh1", timestamp = "/ts", fields = [
      { pointer = "/sensor/kwh", quantity = "energy_import", scale = 1000 } ] } },
  { id = "trs", source = { type = "ttn", topic = "v3/soil@ttn/devices/trs/up", model = "dl-trs21" } },
]
"#,
    );
    assert_eq!(inv.validate(), Vec::<String>::new());
    let kinds: Vec<_> = inv.devices().map(|(_, d)| d.source.kind()).collect();
    assert_eq!(kinds, ["shelly", "tasmota", "json", "ttn"]);

    let bad = household(
        r#"
devices = [
  { id = "a", source = { type = "shelly", prefix = "$bad#" } },
  { id = "b", source = { type = "tasmota", topic = "t", sml = [{ key = "x", obis = "1.8.0", unit = "W" }] } },
  { id = "c", source = { type = "json", topic = "x/#", fields = [] } },
  { id = "d", source = { type = "ttn", topic = "v3/a@ttn/devices/d/up", model = "dl-xyz" } },
]
"#,
    );
    let errors = bad.validate();
    assert_reported(
        &errors,
        &[
            "sites[0].devices[0].source.prefix:",
            "sites[0].devices[1].source: sml_section and sml",
            "sites[0].devices[1].source.sml[0]: unit \"W\"",
            "sites[0].devices[2].source.topic:",
            "sites[0].devices[2].source.fields: map at least one",
            "sites[0].devices[3].source.model: unknown model \"dl-xyz\" (known: lse01, dl-trs21)",
        ],
    );
}

#[test]
fn shelly_channels_and_json_patterns_validate() {
    let good = household(
        r#"
devices = [
  { id = "pm-0", source = { type = "shelly", prefix = "pro2pm" } },
  { id = "pm-1", source = { type = "shelly", prefix = "pro2pm", channel = 1 } },
  { id = "kitchen", source = { type = "json", topic = "sensors/+/state", fields = [{ pointer = "/w", quantity = "active_power" }] } },
  { id = "hall", source = { type = "json", topic = "sensors/+/state", topic_key = "h1", fields = [{ pointer = "/w", quantity = "active_power" }] } },
]
"#,
    );
    assert_eq!(good.validate(), Vec::<String>::new());
    let bad = household(
        r#"
devices = [
  { id = "pm-0", source = { type = "shelly", prefix = "pro2pm", channel = 1 } },
  { id = "pm-1", source = { type = "shelly", prefix = "pro2pm", channel = 1 } },
  { id = "a", source = { type = "json", topic = "s/+/x", topic_key = "k", fields = [{ pointer = "/w", quantity = "active_power" }] } },
  { id = "b", source = { type = "json", topic = "s/+/x", topic_key = "k", fields = [{ pointer = "/w", quantity = "active_power" }] } },
  { id = "c", source = { type = "json", topic = "exact/t", topic_key = "k", fields = [{ pointer = "/w", quantity = "active_power" }] } },
  { id = "d", source = { type = "json", topic = "s/+/y/+", fields = [{ pointer = "/w", quantity = "active_power" }] } },
  { id = "e", source = { type = "json", topic = "s/a+/#", fields = [{ pointer = "/w", quantity = "active_power" }] } },
]
"#,
    );
    let errors = bad.validate();
    assert_reported(
        &errors,
        &[
            "sites[0].devices[1].source: topic \"shelly:pro2pm:1\" is already read by sites[0].devices[0].source",
            "sites[0].devices[3].source: topic \"s/+/x|k\" is already read by sites[0].devices[2].source",
            "sites[0].devices[4].source.topic_key: only for a pattern topic",
            "sites[0].devices[5].source.topic_key: \"d\" has 1 level(s), the pattern \"s/+/y/+\" 2",
            "sites[0].devices[6].source.topic: \"s/a+/#\" must be a topic, or a pattern",
        ],
    );
}

#[test]
fn move_in_and_token_expiry_parse_as_dates_or_instants_and_survive_toml() {
    let mut inv = good();
    let text = format!(
        "{}\nsince = \"2026-03-01\"\ntoken_expires = \"2026-06-30T12:00:00+02:00\"\n\
         tokens = [{{ sha256 = \"{}\", expires = \"2027-01-01\" }}]\n",
        toml::to_string(&inv).expect("renders"),
        token_hash("next")
    );
    // The keys land on the last [[users]] table.
    let parsed = parse(&text);
    let u = parsed.users.last().expect("a user");
    assert_eq!(
        u.since,
        Some(parse_instant("2026-03-01T00:00:00Z").expect("test value"))
    );
    assert_eq!(
        u.token_expires,
        Some(parse_instant("2026-06-30T10:00:00Z").expect("test value"))
    );
    assert_eq!(u.tokens[0].sha256, token_hash("next"));
    assert_eq!(parsed.validate(), Vec::<String>::new());
    assert_eq!(parse(&toml::to_string(&parsed).expect("renders")), parsed);
    let t = parse_instant("2026-03-01T00:00:00Z").expect("test value");
    assert_eq!(u.clamp_start(t - chrono::TimeDelta::days(1)), t);
    assert_eq!(u.token_hashes().count(), 2);
    assert!(parse_instant("March 1st").is_err());

    // A rotated token may not be another user's, nor malformed.
    let other = inv.users[0].token_sha256.clone();
    let last = inv.users.len() - 1;
    inv.users[last].tokens = vec![
        UserToken {
            sha256: other,
            expires: None,
        },
        UserToken {
            sha256: "xyz".into(),
            expires: None,
        },
    ];
    let errors = inv.validate();
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with("tokens[0].sha256: the same token is used twice")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with("tokens[1].sha256: must be 64 lower-case hex digits")),
        "{errors:?}"
    );
}

#[test]
fn a_device_class_typo_fails_naming_the_allowed_classes() {
    let mut inv = Inventory::builder()
        .building(
            "b",
            [
                Device::tasmota("p1", "p1").class("plug"),
                Device::tasmota("p2", "p2"),
            ],
        )
        .build();
    assert_eq!(inv.validate(), Vec::<String>::new(), "a known class, or none");
    inv.sites[0].devices[0].class = "plugs".into();
    let errors = inv.validate();
    assert_eq!(
        errors,
        [format!(
            "sites[0].devices[0].class: unknown device class \"plugs\"; allowed: {}",
            DEVICE_CLASSES.join(", ")
        )]
    );
    assert!(errors[0].contains("plug, heater"), "{errors:?}");
}
