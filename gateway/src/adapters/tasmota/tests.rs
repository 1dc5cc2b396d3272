use super::*;

fn values(m: Result<Message, AdapterError>) -> Values {
    match m {
        Ok(Message::Reading(d)) => {
            assert_eq!(d.ts, None);
            d.values
        }
        other => panic!("expected a reading, got {other:?}"),
    }
}

fn assert_values(got: &Values, want: &[(Quantity, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (q, v) in want {
        assert!((got[q] - v).abs() < 1e-9, "{q}: {} != {v}", got[q]);
    }
}

#[test]
fn single_phase_plug() {
    let p = br#"{"Time":"2021-12-08T20:22:23","ENERGY":{"TotalStartTime":"2021-07-09T16:56:28","Total":91.117,"Yesterday":0.386,"Today":1.274,"Period":1,"Power":87,"ApparentPower":151,"ReactivePower":124,"Factor":0.58,"Voltage":229,"Current":0.662}}"#;
    assert_values(
        &values(decode_sensor(p)),
        &[
            (Quantity::EnergyImport, 91_117.0),
            (Quantity::ActivePower, 87.0),
            (Quantity::ApparentPower, 151.0),
            (Quantity::ReactivePower, 124.0),
            (Quantity::PowerFactor, 0.58),
            (Quantity::VoltageL1, 229.0),
            (Quantity::CurrentL1, 0.662),
        ],
    );
}

#[test]
fn three_phase_arrays() {
    let p = br#"{"ENERGY":{"Total":1.5,"Power":[100,0,12],"Voltage":[230,231,229],"Current":[0.5,0,0.1],"Factor":[0.9,0.8,0.7]}}"#;
    let v = values(decode_sensor(p));
    assert_eq!(v[&Quantity::ActivePower], 112.0);
    assert_eq!(v[&Quantity::ActivePowerL3], 12.0);
    assert_eq!(v[&Quantity::VoltageL2], 231.0);
    assert_eq!(v[&Quantity::EnergyImport], 1500.0);
    assert!(
        !v.contains_key(&Quantity::PowerFactor),
        "per-phase PF has no total"
    );
}

#[test]
fn sml_meter_fields_by_obis() {
    let fields = [
        SmlField {
            key: "Total_in".into(),
            obis: "1-0:1.8.0".into(),
            unit: None,
        },
        SmlField {
            key: "Total_out".into(),
            obis: "2.8.0".into(),
            unit: Some("Wh".into()),
        },
        SmlField {
            key: "Power_curr".into(),
            obis: "16.7.0".into(),
            unit: Some("W".into()),
        },
    ];
    let d = Decoder::sml("SML", &fields).expect("valid mapping");
    let p =
        br#"{"Time":"2024-05-01T12:00:00","SML":{"Total_in":8251.2236,"Total_out":1200,"Power_curr":-523}}"#;
    assert_values(
        &values(d.decode(Part::Sensor, p)),
        &[
            (Quantity::EnergyImport, 8_251_223.6),
            (Quantity::EnergyExport, 1200.0),
            // Feed-in stays negative: 16.7.0 is signed.
            (Quantity::ActivePower, -523.0),
        ],
    );
    assert_eq!(
        d.decode(Part::Sensor, br#"{"SML":{"Total_in":"1"}}"#)
            .map_err(|e| e.reason()),
        Err("bad_field")
    );
    assert_eq!(
        d.decode(Part::Sensor, br#"{"ENERGY":{"Total":1}}"#)
            .map_err(|e| e.reason()),
        Err("no_values")
    );
    assert!(
        Decoder::sml(
            "SML",
            &[SmlField {
                key: "x".into(),
                obis: "1.8.0".into(),
                unit: Some("W".into())
            }]
        )
        .is_err()
    );
}

#[test]
fn status10_and_status8_replies_wrap_the_sensor_object() {
    let p = br#"{"StatusSNS":{"Time":"2021-12-08T20:22:23","ENERGY":{"TotalStartTime":"2021-07-09T16:56:28","Total":91.117,"Yesterday":0.386,"Today":1.274,"Power":87,"ApparentPower":151,"ReactivePower":124,"Factor":0.58,"Voltage":229,"Current":0.662}}}"#;
    let d = Decoder::energy();
    assert_eq!(
        values(d.decode(Part::Status, p)),
        values(d.decode(Part::Sensor, &p[13..p.len() - 1]))
    );
    let sml = Decoder::sml(
        "SML",
        &[SmlField {
            key: "Total_in".into(),
            obis: "1.8.0".into(),
            unit: None,
        }],
    )
    .expect("valid mapping");
    let p = br#"{"StatusSNS":{"Time":"2024-05-01T12:00:00","SML":{"Total_in":8251.2236}}}"#;
    assert_values(
        &values(sml.decode(Part::Status, p)),
        &[(Quantity::EnergyImport, 8_251_223.6)],
    );
    for (p, reason) in [
        (&br#"{"Status":{"Topic":"plug1"}}"#[..], "no_values"),
        (br#"{"StatusSNS":5}"#, "bad_field"),
        (br#"{"StatusSNS":{"ENERGY":{"Total":1}}"#, "malformed_json"),
    ] {
        assert_eq!(d.decode(Part::Status, p).map_err(|e| e.reason()), Err(reason));
    }
    assert_eq!(Part::from_topic("stat", "STATUS10"), Some(Part::Status));
    assert_eq!(Part::from_topic("stat", "STATUS8"), Some(Part::Status));
    assert_eq!(Part::from_topic("tele", "STATUS10"), None);
    assert_eq!(Part::from_topic("stat", "SENSOR"), None);
}

#[test]
fn state_and_lwt() {
    let d = Decoder::energy();
    let state = br#"{"Time":"2024-05-01T12:00:00","Uptime":"0T00:05:00","UptimeSec":300,"POWER":"ON","Wifi":{"RSSI":44,"Signal":-78}}"#;
    assert_eq!(d.decode(Part::State, state), Ok(Message::Alive));
    assert_eq!(d.decode(Part::Lwt, b"Online"), Ok(Message::Availability(true)));
    assert_eq!(d.decode(Part::Lwt, b"Offline"), Ok(Message::Availability(false)));
    assert_eq!(
        d.decode(Part::Lwt, b"offline").map_err(|e| e.reason()),
        Err("bad_field")
    );
    assert_eq!(
        d.decode(Part::State, b"{").map_err(|e| e.reason()),
        Err("malformed_json")
    );
}

#[test]
fn bad_input_is_rejected_with_a_reason() {
    let cases: [(&[u8], &str); 8] = [
        (b"{", "malformed_json"),
        (b"", "malformed_json"),
        (br#"{"ENERGY":{"Power":"87"}}"#, "bad_field"),
        (br#"{"ENERGY":{"Power":[1,2,3,4]}}"#, "bad_field"),
        (br#"{"ENERGY":{"Power":[]}}"#, "bad_field"),
        (br#"{"ENERGY":{}}"#, "no_values"),
        (br#"{"Time":"x"}"#, "no_values"),
        (br#"{"ENERGY":7}"#, "bad_field"),
    ];
    for (p, reason) in cases {
        let e = decode_sensor(p).expect_err(&String::from_utf8_lossy(p));
        assert_eq!(e.reason(), reason, "{}: {e}", String::from_utf8_lossy(p));
    }
    // 1e308 kWh overflows to infinity in Wh.
    assert_eq!(
        decode_sensor(br#"{"ENERGY":{"Total":1e308}}"#).map_err(|e| e.reason()),
        Err("not_finite")
    );
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = decode_sensor(&bytes);
        let d = Decoder::energy();
        let _ = d.decode(Part::State, &bytes);
        let _ = d.decode(Part::Lwt, &bytes);
    }

    #[test]
    fn any_finite_total_decodes_to_wh(total in 0.0f64..1e9, power in -1e6f64..1e6) {
        let p = format!(r#"{{"ENERGY":{{"Total":{total},"Power":{power}}}}}"#);
        let v = values(decode_sensor(p.as_bytes()));
        proptest::prop_assert!((v[&Quantity::EnergyImport] - total * 1000.0).abs() <= total * 1e-9 + 1e-9);
        proptest::prop_assert!((v[&Quantity::ActivePower] - power).abs() <= power.abs() * 1e-15);
    }
}
