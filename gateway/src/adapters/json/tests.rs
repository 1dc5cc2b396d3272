use zw_model::Quantity;

use super::*;

fn mapping() -> Mapping {
    let f = |pointer: &str, quantity, scale, numeric_strings| JsonField {
        pointer: pointer.into(),
        quantity,
        scale,
        offset: 0.0,
        numeric_strings,
    };
    Mapping::new(
        &[
            f("/sensor/kwh", Quantity::EnergyImport, 1000.0, false),
            f("/sensor/w", Quantity::ActivePower, 1.0, false),
            f("/env/t", Quantity::Temperature, 1.0, true),
        ],
        Some("/ts"),
    )
}

#[test]
fn pointers_units_and_timestamps() {
    let p = br#"{"ts":1714557600,"sensor":{"kwh":12.5,"w":-300},"env":{"t":"21.5"}}"#;
    let Ok(Message::Reading(d)) = mapping().decode(p) else {
        panic!("decodes")
    };
    assert_eq!(
        d.values,
        Values::from([
            (Quantity::EnergyImport, 12_500.0),
            (Quantity::ActivePower, -300.0),
            (Quantity::Temperature, 21.5)
        ])
    );
    assert_eq!(d.ts.map(|t| t.timestamp()), Some(1_714_557_600));
    for (ts, want) in [
        ("1714557600123", 1_714_557_600_123),
        (r#""2024-05-01T10:00:00.5Z""#, 1_714_557_600_500),
    ] {
        let p = format!(r#"{{"ts":{ts},"sensor":{{"w":1}}}}"#);
        let Ok(Message::Reading(d)) = mapping().decode(p.as_bytes()) else {
            panic!("decodes")
        };
        assert_eq!(d.ts.map(|t| t.timestamp_millis()), Some(want));
    }
}

#[test]
fn missing_is_absent_and_bad_input_has_a_reason() {
    let Ok(Message::Reading(d)) = mapping().decode(br#"{"sensor":{"w":5,"kwh":null}}"#) else {
        panic!("decodes")
    };
    assert_eq!(d.values, Values::from([(Quantity::ActivePower, 5.0)]));
    let cases: [(&[u8], &str); 5] = [
        (b"nope", "malformed_json"),
        (br#"{"sensor":{"w":"5"}}"#, "bad_field"),
        (br#"{"sensor":{}}"#, "no_values"),
        (br#"{"ts":"yesterday","sensor":{"w":1}}"#, "bad_field"),
        (br#"{"env":{"t":"inf"}}"#, "not_finite"),
    ];
    for (p, reason) in cases {
        assert_eq!(
            mapping().decode(p).map_err(|e| e.reason()),
            Err(reason),
            "{}",
            String::from_utf8_lossy(p)
        );
    }
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = mapping().decode(&bytes);
    }

    #[test]
    fn scale_is_applied(kwh in 0.0f64..1e9) {
        let p = format!(r#"{{"sensor":{{"kwh":{kwh}}}}}"#);
        let Ok(Message::Reading(d)) = mapping().decode(p.as_bytes()) else { panic!("decodes") };
        // serde_json's default float parsing may be off by one ulp.
        proptest::prop_assert!((d.values[&Quantity::EnergyImport] - kwh * 1000.0).abs() <= kwh * 1e-12);
    }
}

/// A multi-depth soil probe through generic JSON (issue 22): its depths, from the top, map to
/// `soil_moisture`, `soil_moisture_2`, `soil_moisture_3` (their depths in cm are configured in
/// `analytics.trees.sensor_depths_cm`); a depth the probe did not send stays absent.
#[test]
fn a_multi_depth_probe_maps_each_depth_to_its_quantity() {
    let f = |pointer: &str, quantity| JsonField {
        pointer: pointer.into(),
        quantity,
        scale: 1.0,
        offset: 0.0,
        numeric_strings: false,
    };
    let probe = Mapping::new(
        &[
            f("/depths/0/vwc", Quantity::SoilMoisture),
            f("/depths/1/vwc", Quantity::SoilMoisture2),
            f("/depths/2/vwc", Quantity::SoilMoisture3),
            f("/battery", Quantity::BatteryVoltage),
        ],
        None,
    );
    let p = br#"{"battery":3.6,"depths":[{"cm":10,"vwc":24.1},{"cm":30,"vwc":26.5},{"cm":60,"vwc":29.0}]}"#;
    let Ok(Message::Reading(d)) = probe.decode(p) else {
        panic!("decodes")
    };
    assert_eq!(
        d.values,
        Values::from([
            (Quantity::SoilMoisture, 24.1),
            (Quantity::BatteryVoltage, 3.6),
            (Quantity::SoilMoisture2, 26.5),
            (Quantity::SoilMoisture3, 29.0),
        ])
    );
    let Ok(Message::Reading(d)) = probe.decode(br#"{"depths":[{"vwc":24.1},{"vwc":26.5}]}"#) else {
        panic!("decodes")
    };
    assert_eq!(d.values.get(&Quantity::SoilMoisture3), None);
    assert_eq!(d.values.len(), 2);
}
