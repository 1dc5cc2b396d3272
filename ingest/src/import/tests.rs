//! Table-driven tests of the backfill parsers.

use chrono::TimeZone as _;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .expect("date")
}

#[test]
fn csv_header_finds_columns_in_any_order_and_names_missing_ones() {
    let h = CsvHeader::parse("value,quantity,device,site,ts,comment").expect("header");
    let r = h
        .row(
            "8251223.6,energy_import,rathaus-main,rathaus,2024-05-01T12:00:00+02:00,x",
            now(),
        )
        .expect("row");
    assert_eq!(
        r.ts,
        Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).single().expect("date")
    );
    assert_eq!(r.values[&Quantity::EnergyImport], 8_251_223.6);
    let err = CsvHeader::parse("ts,site,value").expect_err("missing");
    assert!(err.contains("device, quantity"), "{err}");
}

#[test]
fn csv_rows_are_rejected_with_reasons() {
    let h = CsvHeader::parse("ts,site,device,quantity,value").expect("header");
    let cases = [
        ("1714557600000,rathaus,main,active_power,12.5", None),
        ("\"2024-05-01T10:00:00Z\",\"rathaus\",main,active_power,1", None),
        ("yesterday,rathaus,main,active_power,1", Some("timestamp")),
        ("2024-05-01T10:00:00Z,Rathaus,main,active_power,1", Some("site")),
        ("2024-05-01T10:00:00Z,rathaus,,active_power,1", Some("device")),
        ("2024-05-01T10:00:00Z,rathaus,main,watts,1", Some("quantity")),
        (
            "2024-05-01T10:00:00Z,rathaus,main,active_power,abc",
            Some("value"),
        ),
        (
            "2024-05-01T10:00:00Z,rathaus,main,active_power,NaN",
            Some("not_finite"),
        ),
        (
            "2030-05-01T10:00:00Z,rathaus,main,active_power,1",
            Some("timestamp"),
        ),
    ];
    for (row, want) in cases {
        assert_eq!(h.row(row, now()).err().map(|r| r.reason), want, "{row}");
    }
}

#[test]
fn line_protocol_lines_become_readings() {
    let r = lp_line(
        "readings,site=rathaus,device=main active_power=-5.5,energy_import=12i 1714557600000000000",
        Precision::Ns,
        now(),
    )
    .expect("valid")
    .expect("a reading");
    assert_eq!(r.ts.timestamp_millis(), 1_714_557_600_000);
    assert_eq!(r.values[&Quantity::EnergyImport], 12.0);
    let s = lp_line(
        "readings,site=a,device=b voltage_l1=230 1714557600",
        Precision::S,
        now(),
    )
    .expect("valid")
    .expect("reading");
    assert_eq!(s.ts.timestamp_millis(), 1_714_557_600_000);
    assert_eq!(lp_line("# comment", Precision::Ns, now()), Ok(None));
    assert_eq!(lp_line("  ", Precision::Ns, now()), Ok(None));
}

#[test]
fn line_protocol_rejections_name_their_reason() {
    let cases = [
        ("readings,site=a,device=b active_power=", "syntax"),
        ("energy,site=a,device=b active_power=1 1", "measurement"),
        ("readings,site=a,device=b,x=y active_power=1 1", "tags"),
        ("readings,site=a active_power=1 1", "tags"),
        ("readings,site=a,device=B active_power=1 1", "device"),
        ("readings,site=a,device=b watts=1 1", "quantity"),
        ("readings,site=a,device=b active_power=\"x\" 1", "value"),
        ("readings,site=a,device=b active_power=1", "timestamp"),
    ];
    for (line, want) in cases {
        let got = lp_line(line, Precision::Ms, now()).expect_err(line);
        assert_eq!(got.reason, want, "{line}: {}", got.message);
    }
}
