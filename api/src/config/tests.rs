use super::*;

#[test]
fn defaults_are_valid_and_ranges_depend_on_the_role() {
    let cfg = Config::default();
    assert_eq!(cfg.validate(), Vec::<String>::new());
    assert_eq!(
        cfg.max_history_range.for_role(Role::Resident),
        TimeDelta::days(31)
    );
    assert_eq!(cfg.max_history_range.for_role(Role::Admin), TimeDelta::days(366));
    assert_eq!(
        cfg.max_energy_range.for_role(Role::Resident),
        TimeDelta::days(732)
    );
    assert_eq!(cfg.max_energy_range.for_role(Role::Parks), TimeDelta::days(3660));
}

#[test]
fn every_invalid_limit_is_listed_with_its_path() {
    let text = r#"
        query_timeout = "10ms"
        request_timeout = "0s"
        header_read_timeout = "0s"
        max_streams_per_user = 0
        auth_failure_burst = 0
        auth_failures_per_minute = -1.0
        [max_history_range]
        resident = "1h"
        facility_manager = "366d"
        parks = "36526d"
        admin = "366d"
        [max_energy_range]
        resident = "31d"
        facility_manager = "3660d"
        parks = "3660d"
        admin = "3660d"
    "#;
    let cfg: Config = toml::from_str(text).expect("parses");
    let errors = cfg.validate();
    let want = [
        "api.query_timeout:",
        "api.request_timeout:",
        "api.header_read_timeout:",
        "api.max_streams_per_user:",
        "api.auth_failure_burst:",
        "api.auth_failures_per_minute:",
        "api.max_history_range.resident: 1h must be between 1d and 36525d",
        "api.max_history_range.parks:",
        "api.max_energy_range.resident: 31d must be between 184d and 36525d",
    ];
    for w in want {
        assert!(
            errors.iter().any(|e| e.starts_with(w)),
            "{w} missing in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), want.len(), "{errors:#?}");
    let slow_query = Config {
        query_timeout: Duration::from_secs(30),
        ..Config::default()
    };
    assert_eq!(
        slow_query.validate(),
        ["api.query_timeout: 30s must be less than api.request_timeout (30s)"]
    );
}

/// Every setting appears in `deploy/zaehlwerk.example.toml`, and that section is valid.
#[test]
fn the_example_config_shows_every_setting() {
    fn keys(v: &toml::Value, path: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = v {
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.push(p.clone());
                keys(v, &p, out);
            }
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/zaehlwerk.example.toml");
    let text = std::fs::read_to_string(path).expect("example config");
    let file: toml::Value = toml::from_str(&text).expect("example parses");
    let example = file.get("api").cloned().expect("[api] section");
    let cfg: Config = example.clone().try_into().expect("[api] is a valid Config");
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let (mut want, mut have) = (Vec::new(), Vec::new());
    keys(
        &toml::Value::try_from(Config::default()).expect("renders"),
        "",
        &mut want,
    );
    keys(&example, "", &mut have);
    let missing: Vec<&String> = want.iter().filter(|k| !have.contains(k)).collect();
    assert!(missing.is_empty(), "not in the example: {missing:#?}");
}
