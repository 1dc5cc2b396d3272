//! Loading: every shipped config parses, defaults render, every error is listed, overrides apply.

use std::io::Write as _;
use std::path::Path;

use toml::Table;

use super::*;

fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, Errors> {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    load(
        Some(f.path()),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn every_shipped_config_parses() {
    // The workspace root: this crate lives in `config/`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The demo's bus accounts read their passwords from files demo.sh writes under its state folder.
    let state = tempfile::tempdir().expect("temp dir");
    let accounts = state.path().join("mosquitto/accounts");
    std::fs::create_dir_all(&accounts).expect("accounts dir");
    for service in ["gateway", "ingest", "analytics", "api", "weather", "sim"] {
        std::fs::write(accounts.join(format!("zw-{service}.pw")), "secret\n").expect("password file");
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("deploy")).expect("deploy dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            // The demo template has port and token placeholders; fill them like demo.sh does.
            let text = std::fs::read_to_string(&path)
                .expect("read")
                .replace("@STATE_DIR@", &state.path().display().to_string())
                .replace("@ROOT@", &root.display().to_string())
                .replace("@MQTT_PORT@", "1883")
                .replace("@INFLUX_PORT@", "8086")
                .replace("@API_PORT@", "8080")
                .replace("@MODBUS_PORT@", "5020")
                .replace("@FM_TOKEN_SHA256@", &"a".repeat(64))
                .replace("@RESIDENT_TOKEN_SHA256@", &"b".repeat(64))
                .replace("@PARKS_TOKEN_SHA256@", &"c".repeat(64))
                .replace("@ADMIN_TOKEN_SHA256@", &"d".repeat(64))
                .replace("@BUSINESS_TOKEN_SHA256@", &"e".repeat(64));
            let cfg = load_text(&text, &[]).unwrap_or_else(|e| panic!("{}: {e:#?}", path.display()));
            // What a test builds from the types reaches the binary as `to_toml`: it must read back the same.
            let text = cfg.to_toml().expect("renders");
            let back = load_str(&text, std::iter::empty())
                .unwrap_or_else(|e| panic!("{} rendered: {e:#?}", path.display()));
            assert_eq!(back.to_toml().expect("renders"), text, "{}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "expected the demo and example configs, found {checked}"
    );
}

#[test]
fn defaults_are_valid_and_render() {
    let cfg = load(None, std::iter::empty()).expect("defaults are valid");
    assert_eq!(cfg.bus.port, 1883);
    let text = default_toml();
    let back: Table = text.parse().expect("default config is TOML");
    assert!(back.contains_key("influx"));
}

#[test]
fn all_errors_are_listed_at_once() {
    let text = r#"
        colour = "green"
        [bus]
        port = "high"
        [influx]
        url = "ftp://db"
        [ingest]
        batch_size = 0
        flavour = 1
        [store]
        url = "mysql://db/zw"
        [[sites]]
        id = "Bad Id"
        kind = "building"
        [[sites]]
        id = "ok"
        kind = "castle"
        [[sites]]
        id = "good"
        kind = "building"
        devices = [{ id = "m", source = { type = "modbus", endpoint = "x:1", profile = "nope" } }]
    "#;
    let errors = load_text(text, &[]).expect_err("invalid");
    let expected = [
        "colour: unknown section",
        "bus.port: invalid type",
        "influx.url: scheme \"ftp\"",
        "ingest.flavour: unknown field `flavour`",
        "ingest.batch_size: must be 1..=100000",
        "store.url: \"mysql://db/zw\" must start with sqlite://",
        "sites[0]:",
        "sites[1]: unknown variant `castle`",
        "sites[0].devices[0].source.profile: unknown profile \"nope\"",
    ];
    for e in expected {
        assert!(
            errors.iter().any(|x| x.starts_with(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
}

#[test]
fn environment_overrides_keys() {
    let env = [
        ("ZW__BUS__PORT", "1884"),
        ("ZW__INFLUX__URL", "http://db:8086"),
        ("OTHER", "x"),
    ];
    let cfg = load_text("[bus]\nport = 1\n", &env).expect("valid");
    assert_eq!(cfg.bus.port, 1884);
    assert_eq!(cfg.influx.url, "http://db:8086");
    let errors = load_text("", &[("ZW__BUS__PORT", "many")]).expect_err("invalid");
    assert!(errors[0].starts_with("bus.port: invalid type"), "{errors:?}");
}

#[test]
fn runtime_workers_default_per_service_and_are_bounded() {
    let cfg = load_text("", &[]).expect("defaults");
    assert_eq!(cfg.runtime.worker_threads, 0);
    assert_eq!(cfg.runtime.workers(true), 1, "ingest alone gets one worker");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert_eq!(cfg.runtime.workers(false), cores);

    let cfg = load_text("[runtime]\nworker_threads = 3\n", &[]).expect("set");
    assert_eq!((cfg.runtime.workers(true), cfg.runtime.workers(false)), (3, 3));

    let errors = load_text("", &[("ZW__RUNTIME__WORKER_THREADS", "100000")]).expect_err("too many");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("runtime.worker_threads: 100000")),
        "{errors:?}"
    );
    let errors = load_text("[runtime]\nworker_threads = -1\n", &[]).expect_err("negative");
    assert!(errors.iter().any(|e| e.contains("runtime")), "{errors:?}");
}

#[test]
fn tariffs_read_their_price_csv_and_name_every_problem() {
    use zw_model::tariff::{Dynamic, Tariff};
    let mut good = tempfile::NamedTempFile::new().expect("temp file");
    good.write_all(b"start,price_ct_per_kwh\n2026-11-02T00:00:00Z,10.5\n2026-11-02T01:00:00Z,-1\n")
        .expect("write");
    let mut bad = tempfile::NamedTempFile::new().expect("temp file");
    bad.write_all(b"start,price_ct_per_kwh\n2026-11-02T00:00:00Z,x\n")
        .expect("write");
    let mut cfg = Config::default();
    cfg.inventory.sites = vec![zw_model::Site {
        id: zw_model::Id::new("haus").expect("id"),
        name: String::new(),
        kind: zw_model::SiteKind::Household,
        category: None,
        floor_area_m2: None,
        devices: Vec::new(),
    }];
    let tariff = |path: &Path, from: &str| Tariff {
        medium: Default::default(),
        ct_per_m3: 0.0,
        id: zw_model::Id::new("dyn").expect("id"),
        name: String::new(),
        valid_from: from.parse().expect("date"),
        valid_to: None,
        sites: vec![zw_model::Id::new("haus").expect("id")],
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: 0.0,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
        dynamic: Some(Dynamic {
            csv: Some(path.to_path_buf()),
            series: None,
            markup_ct_per_kwh: 18.0,
            prices: None,
        }),
    };
    cfg.inventory.tariffs = vec![tariff(good.path(), "2026-01-01")];
    let loaded = load_text(&cfg.to_toml().expect("toml"), &[]).expect("valid");
    let prices = loaded.inventory.tariffs[0]
        .dynamic
        .as_ref()
        .and_then(|d| d.prices.clone());
    assert_eq!(
        prices
            .expect("read")
            .at("2026-11-02T01:30:00Z".parse().expect("time")),
        Some(-1000)
    );
    cfg.inventory.tariffs.push(tariff(bad.path(), "2026-01-01"));
    let errors = load_text(&cfg.to_toml().expect("toml"), &[]).expect_err("invalid");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("tariffs[1].dynamic.csv:") && e.contains("line 2")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("tariffs[1]: overlaps tariffs[0]")),
        "{errors:?}"
    );
}

#[test]
fn check_config_names_settings_of_missing_sites_and_devices_and_class_typos() {
    use zw_model::inventory::{Device, DeviceSource, Site};
    use zw_model::{Id, SiteKind};
    let id = |s: &str| Id::new(s).expect("id");
    let mut cfg = Config::default();
    cfg.inventory.sites.push(Site {
        id: id("rathaus"),
        name: String::new(),
        kind: SiteKind::Building,
        category: None,
        floor_area_m2: None,
        devices: vec![Device {
            id: id("plug-1"),
            name: String::new(),
            class: "plugs".into(),
            source: DeviceSource::Tasmota {
                topic: "plug-1".into(),
                sml_section: None,
                sml: Vec::new(),
            },
        }],
    });
    cfg.analytics.left_on.exclude = vec!["plug-2".into()];
    cfg.analytics
        .calendar
        .sites
        .insert("rathaus-alt".into(), Default::default());
    let text = cfg.to_toml().expect("renders");
    let errors = load_text(&text, &[]).expect_err("three problems");
    for want in [
        "sites[0].devices[0].class: unknown device class \"plugs\"; allowed: main_meter, sub_meter, plug,",
        "analytics.left_on.exclude[0]: no device \"plug-2\" in the inventory",
        "analytics.calendar.sites.rathaus-alt: no site \"rathaus-alt\" in the inventory",
    ] {
        assert!(errors.iter().any(|e| e.starts_with(want)), "{want}: {errors:#?}");
    }
}
