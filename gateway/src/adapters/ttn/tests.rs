use super::*;

const UPLINK: &str = r#"{"end_device_ids":{"device_id":"lse01-garden-1","application_ids":{"application_id":"soil-app"},"dev_eui":"A84041000181AAAA"},
 "received_at":"2024-05-01T10:00:01.123456789Z",
 "uplink_message":{"f_port":2,"f_cnt":42,"frm_payload":"zikA8QelCZtuKJA=",
  "decoded_payload":{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"},
  "settings":{"frequency":"868100000"},"received_at":"2024-05-01T10:00:00.999999999Z","consumed_airtime":"0.061696s"}}"#;

/// The official DL-TRS21 codec example: `02 01 92 00 03 00 75 80 a1 0c 25`.
const TRS21_FRAME: [u8; 11] = [0x02, 0x01, 0x92, 0x00, 0x03, 0x00, 0x75, 0x80, 0xa1, 0x0c, 0x25];

fn lse01_expected() -> Values {
    Values::from([
        (Quantity::BatteryVoltage, 3.625),
        (Quantity::Temperature, 24.1),
        (Quantity::SoilConductivity, 28200.0),
        (Quantity::SoilTemperature, 24.59),
        (Quantity::SoilMoisture, 19.57),
    ])
}

fn decoded(m: Result<Message, AdapterError>) -> (Option<DateTime<Utc>>, Values) {
    match m {
        Ok(Message::Reading(d)) => (d.ts, d.values),
        other => panic!("expected a reading, got {other:?}"),
    }
}

fn close(a: &Values, b: &Values) {
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (q, v) in b {
        assert!((a[q] - v).abs() < 1e-9, "{q}: {} != {v}", a[q]);
    }
}

#[test]
fn lse01_decoded_payload_with_mixed_types() {
    let (ts, v) = decoded(decode_lse01(UPLINK.as_bytes()));
    assert_eq!(v, lse01_expected());
    assert_eq!(
        ts.map(|t| t.to_rfc3339()),
        Some("2024-05-01T10:00:00.999999999+00:00".into())
    );
}

#[test]
fn lse01_raw_frame_matches_the_official_fixture() {
    let without = UPLINK.replace(
        r#""decoded_payload":{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"},"#,
        "",
    );
    close(&decoded(decode_lse01(without.as_bytes())).1, &lse01_expected());
}

#[test]
fn lse01_newer_decoder_names_and_unit_strings() {
    let p = r#"{"uplink_message":{"decoded_payload":{"BatV":"3.6 V","water_SOIL":"21.00"}}}"#;
    let (ts, v) = decoded(decode_lse01(p.as_bytes()));
    assert_eq!(
        v,
        Values::from([(Quantity::BatteryVoltage, 3.6), (Quantity::SoilMoisture, 21.0)])
    );
    assert_eq!(ts, None);
}

#[test]
fn trs21_frame_and_formatter_agree() {
    let want = Values::from([
        (Quantity::SoilWaterTension, 11.7),
        (Quantity::SoilTemperature, 16.1),
        (Quantity::BatteryVoltage, 3.109),
    ]);
    close(&trs21_frame(&TRS21_FRAME).expect("decodes"), &want);
    let b64 = base64::engine::general_purpose::STANDARD.encode(TRS21_FRAME);
    let raw = format!(
        r#"{{"received_at":"2024-05-01T10:00:00Z","uplink_message":{{"f_port":1,"frm_payload":"{b64}"}}}}"#
    );
    close(&decoded(Model::DlTrs21.decode(raw.as_bytes())).1, &want);
    let formatted = r#"{"uplink_message":{"f_port":1,"decoded_payload":{"battery_voltage":{"displayName":"Battery voltage","unit":"V","value":3.109},"device_id":402,"protocol_version":2,"soil_temperature":{"displayName":"Soil temperature","unit":"°C","value":16.1},"water_potential":{"displayName":"Water potential","unit":"kPa","value":-11.7}}}}"#;
    close(&decoded(Model::DlTrs21.decode(formatted.as_bytes())).1, &want);
    // Battery only (flags 0x0002), as in the codec's second example.
    let battery = trs21_frame(&[0x02, 0x01, 0x92, 0x00, 0x02, 0x0c, 0x25]).expect("decodes");
    assert_eq!(battery, Values::from([(Quantity::BatteryVoltage, 3.109)]));
}

#[test]
fn bad_uplinks_are_rejected() {
    let cases: [(Model, &str, &str); 9] = [
        (Model::Lse01, "[]", "bad_field"),
        (Model::Lse01, "{}", "no_values"),
        (
            Model::Lse01,
            r#"{"uplink_message":{"decoded_payload":{"water_SOIL":"wet"}}}"#,
            "bad_field",
        ),
        (
            Model::Lse01,
            r#"{"uplink_message":{"decoded_payload":{"water_SOIL":"NaN"}}}"#,
            "not_finite",
        ),
        (
            Model::Lse01,
            r#"{"uplink_message":{"f_port":3,"frm_payload":"zikA8QelCZtuKJA="}}"#,
            "bad_frame",
        ),
        (
            Model::Lse01,
            r#"{"uplink_message":{"f_port":2,"frm_payload":"AAAA"}}"#,
            "bad_frame",
        ),
        (
            Model::Lse01,
            r#"{"received_at":"yesterday","uplink_message":{"decoded_payload":{"Bat":3.6}}}"#,
            "bad_field",
        ),
        (
            Model::DlTrs21,
            r#"{"uplink_message":{"decoded_payload":{"water_potential":{"value":5}}}}"#,
            "bad_field",
        ),
        (
            Model::DlTrs21,
            r#"{"uplink_message":{"f_port":1,"frm_payload":"AgGSAAMAdQ=="}}"#,
            "bad_frame",
        ),
    ];
    for (model, p, reason) in cases {
        assert_eq!(model.decode(p.as_bytes()).expect_err(p).reason(), reason, "{p}");
    }
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = Model::Lse01.decode(&bytes);
        let _ = Model::DlTrs21.decode(&bytes);
        let _ = trs21_frame(&bytes);
        let _ = lse01_frame(&bytes);
    }

    #[test]
    fn trs21_frames_round_trip(potential in 0u16..=u16::MAX, temp in 0u16..=u16::MAX, bat in 0u16..=u16::MAX) {
        let mut b = vec![2, 0, 7, 0, 3];
        for w in [potential, temp, bat] { b.extend(w.to_be_bytes()); }
        let v = trs21_frame(&b).expect("decodes");
        proptest::prop_assert!(v[&Quantity::SoilWaterTension] >= 0.0);
        proptest::prop_assert_eq!(v[&Quantity::SoilWaterTension], f64::from(potential) / 10.0);
    }
}

proptest::proptest! {
    /// Where the fast path reads a `received_at`, chrono's RFC 3339 parser reads the same time; where
    /// chrono reads one of the stack's `…Z` form, so does the fast path (so it falls back only for other
    /// forms). Digits out of range (month 13, hour 24, second 60, 31 February) included.
    #[test]
    fn timestamps_read_like_chrono(
        y in 0u32..10000, mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..61, s in 0u32..62,
        frac in "(\\.[0-9]{1,10})?",
        end in proptest::prop_oneof![
            proptest::strategy::Just("Z"),
            proptest::strategy::Just("z"),
            proptest::strategy::Just("+00:00"),
            proptest::strategy::Just("+01:30")
        ],
    ) {
        let t = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{end}");
        let chrono = DateTime::parse_from_rfc3339(&t).ok().map(|t| t.with_timezone(&Utc));
        match super::utc_timestamp(t.as_bytes()) {
            Some(fast) => proptest::prop_assert_eq!(Some(fast), chrono, "{}", t),
            None => proptest::prop_assert!(
                chrono.is_none() || end != "Z" || s == 60 || frac.len() > 10,
                "{} falls back though chrono reads it", t
            ),
        }
    }
}
