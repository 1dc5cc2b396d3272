//! The export's pure parts: months, dialects and the rendered file.

use chrono::NaiveDate;
use zw_model::report::Medium;

use super::*;

fn d(y: i32, m: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, 1).expect("date")
}

#[test]
fn months_are_written_yyyy_mm_and_anything_else_is_a_clear_400() {
    assert_eq!(parse_month("from", "2026-01").expect("month"), d(2026, 1));
    assert_eq!(parse_month("to", "1999-12").expect("month"), d(1999, 12));
    for bad in [
        "2026-1",
        "2026-13",
        "2026-00",
        "26-01",
        "2026-01-01",
        "2026/01",
        "",
        "abcd-ef",
        "+202-01",
    ] {
        let e = parse_month("from", bad).expect_err(bad);
        assert!(
            matches!(&e, ApiError::BadRequest(t) if t.contains("`from`") && t.contains("YYYY-MM")),
            "{bad}: {e}"
        );
    }
    // A year the database cannot store.
    assert!(matches!(
        parse_month("to", "9999-01"),
        Err(ApiError::BadRequest(_))
    ));
}

#[test]
fn the_range_is_ordered_not_in_the_future_and_bounded() {
    let now = d(2026, 12);
    assert_eq!(
        months(d(2026, 11), d(2026, 12), now).expect("range"),
        vec![d(2026, 11), d(2026, 12), d(2027, 1)]
    );
    assert_eq!(months(d(2026, 12), d(2026, 12), now).expect("one").len(), 2);
    // 24 months is the most.
    assert_eq!(months(d(2025, 1), d(2026, 12), now).expect("24").len(), 25);
    let too_long = months(d(2024, 12), d(2026, 12), now).expect_err("25 months");
    assert!(
        matches!(&too_long, ApiError::BadRequest(t) if t.contains("24 months")),
        "{too_long}"
    );
    let reversed = months(d(2026, 5), d(2026, 4), now).expect_err("reversed");
    assert!(
        matches!(&reversed, ApiError::BadRequest(t) if t.contains("after `to`")),
        "{reversed}"
    );
    let future = months(d(2026, 5), d(2027, 1), now).expect_err("future");
    assert!(
        matches!(&future, ApiError::BadRequest(t) if t.contains("2026-12")),
        "{future}"
    );
}

#[test]
fn a_decimal_comma_needs_the_semicolon() {
    assert_eq!(
        Dialect::of(None, None).expect("default"),
        Dialect {
            sep: ',',
            decimal: '.'
        }
    );
    assert_eq!(
        Dialect::of(Some(Separator::Semicolon), Some(Decimal::Comma)).expect("german"),
        Dialect {
            sep: ';',
            decimal: ','
        }
    );
    assert_eq!(
        Dialect::of(Some(Separator::Semicolon), None).expect("semicolon, point"),
        Dialect {
            sep: ';',
            decimal: '.'
        }
    );
    assert!(matches!(
        Dialect::of(Some(Separator::Comma), Some(Decimal::Comma)),
        Err(ApiError::BadRequest(t)) if t.contains("sep=semicolon")
    ));
}

#[test]
fn fields_are_quoted_as_rfc_4180_says() {
    let d = Dialect {
        sep: ',',
        decimal: '.',
    };
    assert_eq!(
        d.line(&["a", "b,c", "say \"hi\"", "x\ny"]),
        "a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\r\n"
    );
    let de = Dialect {
        sep: ';',
        decimal: ',',
    };
    // A comma is no separator here: no quotes needed.
    assert_eq!(de.line(&["1,5", "a;b"]), "1,5;\"a;b\"\r\n");
    assert_eq!(de.number(Some(1234.5), 2), "1234,50");
    assert_eq!(d.number(Some(-0.125), 3), "-0.125");
    assert_eq!(d.number(None, 2), "");
    assert_eq!(d.number(Some(f64::NAN), 2), "");
}

fn rows() -> Vec<MonthRow> {
    vec![
        MonthRow {
            month: d(2026, 10),
            amounts: vec![Some(812.3456), Some(31.5), Some(321.0)],
            cost: Some((Some(24_468), Some(4_649), Some(29_117))),
            tariffs: vec!["gewerbe-2026".into()],
            complete: true,
        },
        MonthRow {
            month: d(2026, 11),
            amounts: vec![None, Some(12.0), None],
            cost: Some((None, None, None)),
            tariffs: vec!["gewerbe-2026".into(), "gewerbe-2026b".into()],
            complete: false,
        },
    ]
}

#[test]
fn the_file_has_a_bom_a_header_one_line_per_month_and_empty_fields_for_missing_figures() {
    let media = [Medium::Electricity, Medium::Gas];
    let csv = render(
        &media,
        "EUR",
        &rows(),
        Dialect {
            sep: ',',
            decimal: '.',
        },
    );
    let body = csv.strip_prefix('\u{feff}').expect("a UTF-8 BOM first");
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "month,electricity_kwh,gas_m3,gas_kwh,net,vat,gross,currency,tariff,complete",
            "2026-10,812.346,31.500,321.000,244.68,46.49,291.17,EUR,gewerbe-2026,true",
            "2026-11,,12.000,,,,,EUR,gewerbe-2026+gewerbe-2026b,false",
            "",
        ]
    );
    let de = render(
        &media,
        "EUR",
        &rows(),
        Dialect {
            sep: ';',
            decimal: ',',
        },
    );
    assert!(
        de.contains("\r\n2026-10;812,346;31,500;321,000;244,68;46,49;291,17;EUR;gewerbe-2026;true\r\n"),
        "{de}"
    );
}

#[test]
fn a_site_without_electricity_has_no_cost_columns_filled() {
    let rows = vec![MonthRow {
        month: d(2026, 1),
        amounts: vec![Some(3.25)],
        cost: None,
        tariffs: Vec::new(),
        complete: true,
    }];
    let csv = render(
        &[Medium::Water],
        "EUR",
        &rows,
        Dialect {
            sep: ',',
            decimal: '.',
        },
    );
    assert!(
        csv.ends_with("month,water_m3,net,vat,gross,currency,tariff,complete\r\n2026-01,3.250,,,,,,true\r\n"),
        "{csv}"
    );
}
