//! One test per `check-config` message of the analytics settings: each built from the types, changed in one
//! place, and expected to fail with its path and a message that says what to do; and all of them at once.

use std::collections::BTreeMap;

use zw_model::Inventory;
use zw_model::inventory::{Device, Tree};

use super::*;

/// A park with one tree and its LSE01 sensor, a building with a plug and a household.
fn inventory() -> Inventory {
    Inventory::builder()
        .park(
            "stadtpark",
            [Device::ttn("lse01-1", "v3/app@ttn/devices/lse01-1/up", "lse01").class("soil_sensor")],
        )
        .tree(Tree::new("baum-1", "stadtpark", &["lse01-1"]))
        .building("rathaus", [Device::tasmota("plug-1", "plug-1").class("plug")])
        .household("hh-1", [Device::tasmota("fridge-1", "fridge-1").class("plug")])
        .build()
}

fn hours(from: u32, to: u32, days: &[Day]) -> UsageHours {
    UsageHours {
        days: days.to_vec(),
        from: ClockTime::hm(from, 0),
        to: ClockTime::hm(to, 0),
    }
}

fn date(s: &str) -> Date {
    Date(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date"))
}

type Change = fn(&mut Config);

/// (what is wrong, the change, the start of the message, a fragment of it)
fn cases() -> Vec<(&'static str, Change, &'static str, &'static str)> {
    vec![
        (
            "a typo in a limit's class",
            |c| _ = c.limits.insert("plugs".into(), Watts(2000.0)),
            "analytics.limits.plugs: unknown device class \"plugs\"",
            "allowed: main_meter, sub_meter, plug,",
        ),
        (
            "a typo in the left-on classes",
            |c| c.left_on.classes = vec!["plugs".into()],
            "analytics.left_on.classes[0]: unknown device class \"plugs\"",
            "allowed:",
        ),
        (
            "a typo in the site classes",
            |c| c.power.site_classes = vec!["mainmeter".into()],
            "analytics.power.site_classes[0]: unknown device class",
            "main_meter",
        ),
        (
            "a typo in the heating classes",
            |c| c.common_cause.weather_classes = vec!["heaters".into()],
            "analytics.common_cause.weather_classes[0]: unknown device class",
            "heater",
        ),
        (
            "an implausible cold threshold",
            |c| c.common_cause.cold_below_c = 80.0,
            "analytics.common_cause.cold_below_c: must be",
            "between -50 and 40",
        ),
        (
            "a site kind that does not exist for learned use",
            |c| c.left_on.learned_use_kinds = vec!["households".into()],
            "analytics.left_on.learned_use_kinds[0]: must be",
            "household",
        ),
        (
            "an unknown federal state",
            |c| c.calendar.state = Some("NRW".into()),
            "analytics.calendar.state: unknown federal state \"NRW\"",
            "NW",
        ),
        (
            "school holidays of an unknown state",
            |c| _ = c.calendar.school_holidays.insert("XX".into(), Vec::new()),
            "analytics.calendar.school_holidays.XX: unknown federal state",
            "allowed",
        ),
        (
            "school holidays ending before they start",
            |c| {
                let r = DateRange {
                    from: date("2026-09-01"),
                    to: date("2026-07-20"),
                };
                c.calendar.school_holidays.insert("NW".into(), vec![r]);
            },
            "analytics.calendar.school_holidays.NW[0].to: must not be before from",
            "",
        ),
        (
            "school holidays of a whole decade",
            |c| {
                let r = DateRange {
                    from: date("2020-01-01"),
                    to: date("2030-01-01"),
                };
                c.calendar.school_holidays.insert("BY".into(), vec![r]);
            },
            "analytics.calendar.school_holidays.BY[0]: at most a year long",
            "one entry per holiday",
        ),
        (
            "class usage hours ending before they start",
            |c| {
                let h = hours(18, 6, &[Day(chrono::Weekday::Mon)]);
                c.calendar.class_usage.insert("heater".into(), h);
            },
            "analytics.calendar.class_usage.heater.from: must be earlier than to",
            "",
        ),
        (
            "usage hours without a day",
            |c| _ = c.calendar.class_usage.insert("plug".into(), hours(6, 18, &[])),
            "analytics.calendar.class_usage.plug.days: must name at least one day",
            "left_on.exclude",
        ),
        (
            "usage hours of an unknown class",
            |c| {
                let h = hours(6, 18, &[Day(chrono::Weekday::Mon)]);
                c.calendar.class_usage.insert("plugs".into(), h);
            },
            "analytics.calendar.class_usage.plugs: unknown device class",
            "allowed",
        ),
        (
            "a site's unknown state and bad class hours",
            |c| {
                let site = SiteCalendar {
                    state: Some("Bayern".into()),
                    classes: BTreeMap::from([("plug".into(), hours(9, 9, &[Day(chrono::Weekday::Mon)]))]),
                    ..Default::default()
                };
                c.calendar.sites.insert("rathaus".into(), site);
            },
            "analytics.calendar.sites.rathaus.state: unknown federal state \"Bayern\"",
            "BY",
        ),
        (
            "a sensor's battery model that is not in the table",
            |c| {
                _ = c
                    .trees
                    .faults
                    .sensor_battery
                    .insert("lse01-1".into(), "lse02".into())
            },
            "analytics.trees.faults.sensor_battery.lse01-1: unknown battery model \"lse02\"",
            "known: dl-trs21, lse01 (add it to battery_low_v_by_model)",
        ),
        (
            "soil of a tree that does not exist",
            |c| _ = c.trees.tree_soil.insert("baum-2".into(), "sand".into()),
            "analytics.trees.tree_soil.baum-2: no tree \"baum-2\" in the inventory",
            "[[trees]]",
        ),
        (
            "the depth of a sensor that does not exist",
            |c| _ = c.trees.sensor_depth_cm.insert("lse01-9".into(), 30),
            "analytics.trees.sensor_depth_cm.lse01-9: no soil sensor \"lse01-9\" in the inventory",
            "a tree's sensors",
        ),
        (
            "the depths of a probe that does not exist",
            |c| _ = c.trees.sensor_depths_cm.insert("probe-9".into(), vec![10, 30]),
            "analytics.trees.sensor_depths_cm.probe-9: no soil sensor \"probe-9\" in the inventory",
            "a tree's sensors",
        ),
        (
            "a probe's depths not from the top",
            |c| _ = c.trees.sensor_depths_cm.insert("lse01-1".into(), vec![30, 10]),
            "analytics.trees.sensor_depths_cm.lse01-1: must be 2 to 4 depths",
            "each deeper than the one before",
        ),
        (
            "the depth of a device that is no tree's sensor",
            |c| _ = c.trees.sensor_depth_cm.insert("plug-1".into(), 30),
            "analytics.trees.sensor_depth_cm.plug-1: no soil sensor",
            "",
        ),
        (
            "the battery model of a sensor that does not exist",
            |c| {
                _ = c
                    .trees
                    .faults
                    .sensor_battery
                    .insert("lse01-9".into(), "lse01".into())
            },
            "analytics.trees.faults.sensor_battery.lse01-9: no soil sensor",
            "",
        ),
        (
            "the weather area of a site that does not exist",
            |c| _ = c.trees.weather.site_area.insert("nowhere".into(), "town".into()),
            "analytics.trees.weather.site_area.nowhere: no site \"nowhere\"",
            "",
        ),
        (
            "the calendar of a site that does not exist",
            |c| {
                _ = c
                    .calendar
                    .sites
                    .insert("rathaus-alt".into(), SiteCalendar::default())
            },
            "analytics.calendar.sites.rathaus-alt: no site \"rathaus-alt\" in the inventory",
            "",
        ),
        (
            "excluding a device that does not exist",
            |c| c.left_on.exclude = vec!["fridge-2".into()],
            "analytics.left_on.exclude[0]: no device \"fridge-2\" in the inventory",
            "",
        ),
    ]
}

fn check(cfg: &Config, inv: &Inventory) -> Vec<String> {
    let mut e = cfg.validate();
    e.extend(validate_inventory(cfg, inv));
    e
}

#[test]
fn each_check_config_message() {
    let inv = inventory();
    assert_eq!(inv.validate(), Vec::<String>::new());
    assert_eq!(check(&Config::default(), &inv), Vec::<String>::new());
    for (what, change, start, fragment) in cases() {
        let mut cfg = Config::default();
        change(&mut cfg);
        let errors = check(&cfg, &inv);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(start) && e.contains(fragment)),
            "{what}: {errors:#?}"
        );
    }
}

#[test]
fn every_error_is_listed_at_once() {
    let mut cfg = Config::default();
    let cases = cases();
    for (_, change, _, _) in &cases {
        change(&mut cfg);
    }
    let errors = check(&cfg, &inventory());
    for (what, _, start, _) in &cases {
        assert!(errors.iter().any(|e| e.starts_with(start)), "{what}: {errors:#?}");
    }
}

#[test]
fn an_inventory_kept_in_the_store_is_not_checked_against() {
    let mut cfg = Config::default();
    cfg.trees.tree_soil.insert("baum-2".into(), "sand".into());
    assert_eq!(
        validate_inventory(&cfg, &Inventory::default()),
        Vec::<String>::new()
    );
}

#[test]
fn one_soil_profile_or_battery_model_given_keeps_the_built_in_ones() {
    // What a user writes; the built-in table stays, the user's entries are added or override by name.
    let text = r#"
        [trees]
        default_soil = "loam"
        [trees.soil_profiles.peat]
        field_capacity_pct = 50.0
        wilting_point_pct = 25.0
        [trees.soil_profiles.sand]
        field_capacity_pct = 12.0
        wilting_point_pct = 5.0
        [trees.faults]
        battery_low_v_by_model = { "teros-12" = 3.0 }
        sensor_battery = { soil-json-1 = "lse01" }
    "#;
    let cfg: Config = toml::from_str(text).expect("parses");
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let p = &cfg.trees.soil_profiles;
    let names: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "clay",
            "clay_loam",
            "loam",
            "loamy_sand",
            "peat",
            "sand",
            "sandy_loam",
            "silt_loam"
        ]
    );
    assert_eq!(
        (p["sand"].field_capacity_pct, p["loam"].field_capacity_pct),
        (12.0, 28.0)
    );
    let f = &cfg.trees.faults;
    assert_eq!(
        (
            f.battery_low_v_for(Some("teros-12")),
            f.battery_low_v_for(Some("dl-trs21"))
        ),
        (3.0, 2.4)
    );
    // The sensor's own model decides, whatever source reads it: a generic JSON source has no model.
    assert_eq!(f.battery_low_v_of("soil-json-1", None), 3.3);
    assert_eq!(f.battery_low_v_of("trs-json-2", None), f.battery_low_v);
    let mut g = f.clone();
    g.sensor_battery.insert("trs-json-2".into(), "dl-trs21".into());
    assert_eq!(g.battery_low_v_of("trs-json-2", None), 2.4);
    assert_eq!(
        g.battery_low_v_of("trs-json-2", Some("lse01")),
        2.4,
        "configured beats the source"
    );
    // And the whole config still round-trips.
    let back: Config = toml::from_str(&toml::to_string(&cfg).expect("renders")).expect("re-parses");
    assert_eq!(back, cfg);
}
