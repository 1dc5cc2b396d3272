use chrono::{NaiveDate, NaiveTime, Weekday};

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

#[track_caller]
fn near(got: Option<f64>, want: f64) {
    let Some(got) = got else {
        panic!("missing, expected {want}");
    };
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{got} != {want}"
    );
}

fn measured(value: f64) -> Measured {
    Measured {
        value: Some(value),
        complete: true,
    }
}

fn climate(g: Option<f64>, prev: Option<f64>) -> Climate {
    Climate {
        degree_days: g,
        previous_degree_days: prev,
        reference_degree_days: 3883.0,
        heating_share: 1.0,
    }
}

fn input(medium: Medium, year: f64, previous: f64, outside: Option<f64>) -> MediumInput {
    MediumInput {
        medium,
        year: measured(year),
        previous_year: measured(previous),
        outside_usage: outside,
        cost: None,
        cost_note: None,
        gas_kwh: None,
        emission_factor: None,
    }
}

fn school(media: Vec<MediumInput>) -> BuildingInput {
    BuildingInput {
        id: "grundschule".into(),
        name: "Grundschule".into(),
        category: Some(BuildingCategory::Schule),
        floor_area_m2: Some(2000.0),
        media,
    }
}

#[test]
fn electricity_per_m2_against_the_comparison_value_and_the_change_against_last_year() {
    // 20,000 kWh on 2,000 m²: 10 kWh/m² against the school's 9: 11.1 % above; 25 % more than 16,000.
    let b = school(vec![input(
        Medium::Electricity,
        20_000.0,
        16_000.0,
        Some(8_000.0),
    )]);
    let r = building(&b, &climate(None, None), &ComparisonValues::builtin());
    let e = &r.media[0];
    assert_eq!(e.per_m2, Some(10.0));
    assert_eq!(e.compared_per_m2, Some(10.0));
    assert_eq!(e.comparison_per_m2, Some(9.0));
    near(e.above_comparison, 10.0 / 9.0 - 1.0);
    assert_eq!(e.change_ratio, Some(0.25));
    assert_eq!(e.outside_usage_share, Some(0.4));
    assert_eq!(e.normalised_value, None, "electricity is not weather-corrected");
}

#[test]
fn heat_is_weather_corrected_to_the_reference_degree_days() {
    // A mild year (3,106.4 K·d = 0.8 of 3,883): 240,000 kWh normalise to 300,000 = 150 kWh/m², against 140.
    // The year before had the reference weather: 310,000 kWh stay 310,000; normalised change 300/310 − 1.
    let b = school(vec![input(Medium::Heat, 240_000.0, 310_000.0, None)]);
    let c = climate(Some(3883.0 * 0.8), Some(3883.0));
    let h = &building(&b, &c, &ComparisonValues::builtin()).media[0];
    near(h.normalised_value, 300_000.0);
    near(h.previous_normalised_value, 310_000.0);
    near(h.compared_per_m2, 150.0);
    assert_eq!(h.per_m2, Some(120.0), "per_m2 is the measured value");
    near(h.above_comparison, 150.0 / 140.0 - 1.0);
    near(h.normalised_change_ratio, 300.0 / 310.0 - 1.0);
    near(h.change_ratio, 240.0 / 310.0 - 1.0);
    // Only the heating share follows the weather: half of it → 120,000 + 150,000.
    let half = Climate {
        heating_share: 0.5,
        ..c
    };
    let h = &building(&b, &half, &ComparisonValues::builtin()).media[0];
    near(h.normalised_value, 270_000.0);
}

#[test]
fn nothing_is_compared_or_corrected_without_the_data() {
    // No degree days: heat is not normalised and so not compared; an incomplete year is not compared and
    // has no change; no category: no comparison value.
    let mut b = school(vec![
        input(Medium::Heat, 240_000.0, 310_000.0, None),
        MediumInput {
            year: Measured {
                value: Some(5_000.0),
                complete: false,
            },
            ..input(Medium::Electricity, 0.0, 16_000.0, None)
        },
    ]);
    let r = building(&b, &climate(None, Some(3883.0)), &ComparisonValues::builtin());
    assert_eq!(r.media[0].normalised_value, None);
    assert_eq!(r.media[0].compared_per_m2, None);
    assert_eq!(r.media[0].above_comparison, None);
    assert_eq!(r.media[1].per_m2, Some(2.5));
    assert_eq!(
        r.media[1].compared_per_m2, None,
        "an incomplete year is not compared"
    );
    assert_eq!(r.media[1].change_ratio, None);
    b.category = None;
    let r = building(&b, &climate(Some(3000.0), None), &ComparisonValues::builtin());
    assert_eq!(r.media[0].comparison_per_m2, None);
    assert_eq!(r.media[0].above_comparison, None);
    // A category without a built-in value has none until configured.
    b.category = Some(BuildingCategory::Kita);
    let r = building(&b, &climate(Some(3883.0), None), &ComparisonValues::builtin());
    assert_eq!(r.media[0].comparison_per_m2, None);
    let kita = ComparisonValue {
        heat_kwh_m2: Some(100.0),
        electricity_kwh_m2: None,
        source: "test".into(),
    };
    let values = ComparisonValues::builtin().with(&[(BuildingCategory::Kita, kita)].into());
    let r = building(&b, &climate(Some(3883.0), None), &values);
    near(r.media[0].above_comparison, 0.2); // 120 against 100
}

#[test]
fn town_totals_and_candidates() {
    let hall = BuildingInput {
        id: "rathaus".into(),
        name: "Rathaus".into(),
        category: Some(BuildingCategory::Verwaltung),
        floor_area_m2: Some(1000.0),
        // 45.6 kWh/m² against 38: 20 % above; 10 % outside usage hours.
        media: vec![input(Medium::Electricity, 45_600.0, 40_000.0, Some(4_560.0))],
    };
    let school = school(vec![
        // 10 kWh/m² against 9: 11.1 % above; 40 % outside usage hours.
        input(Medium::Electricity, 20_000.0, 16_000.0, Some(8_000.0)),
        input(Medium::Water, 900.0, 1000.0, None),
    ]);
    let r = report(
        2025,
        &[hall, school],
        climate(None, None),
        &ComparisonValues::builtin(),
        5,
    );
    let el = r
        .town
        .iter()
        .find(|m| m.medium == Medium::Electricity)
        .expect("electricity");
    assert_eq!(el.value, Some(65_600.0));
    assert!(el.complete);
    assert_eq!(el.previous_value, Some(56_000.0));
    near(el.per_m2, 65_600.0 / 3000.0);
    near(el.outside_usage_share, 12_560.0 / 65_600.0);
    let water = r.town.iter().find(|m| m.medium == Medium::Water).expect("water");
    assert_eq!(
        (water.value, water.per_m2),
        (Some(900.0), None),
        "m³ have no per-m² figure"
    );
    assert_eq!(r.town.len(), 2, "only the media measured");
    let order: Vec<(CandidateKind, &str)> = r.candidates.iter().map(|c| (c.kind, c.site.as_str())).collect();
    assert_eq!(
        order,
        [
            (CandidateKind::AboveComparison, "rathaus"),
            (CandidateKind::AboveComparison, "grundschule"),
            (CandidateKind::OutsideUsage, "grundschule"),
            (CandidateKind::OutsideUsage, "rathaus"),
        ]
    );
    assert!((r.candidates[0].ratio - 0.2).abs() < 1e-12);
    let r = report(2025, &[], climate(None, None), &ComparisonValues::builtin(), 1);
    assert!(r.town.is_empty() && r.candidates.is_empty());
}

#[test]
fn degree_days_need_every_day_of_the_span() {
    let t = Temperatures::parse("# synthetic\ndate,temp_c\n2025-01-01,5\n2025-01-02,16\n2025-01-03,-2.5\n")
        .expect("parses");
    // 15 + 0 + 22.5 (G20/15).
    assert_eq!(t.degree_days(date(2025, 1, 1), date(2025, 1, 4)), Ok(37.5));
    assert_eq!(
        t.degree_days(date(2025, 1, 1), date(2025, 1, 5)),
        Err(MissingDays { missing: 1, days: 4 })
    );
}

#[test]
fn the_dwd_daily_layout_is_read_and_its_missing_values_stay_missing() {
    let text = "STATIONS_ID;MESS_DATUM;QN_3;  FX;  FM;QN_4; RSK;RSKF; SDK;SHK_TAG;  NM; VPM;  PM; TMK; UPM; TXK; TNK; TGK;eor\n\
                3987;20250101;   10;  10.5;   3.7;    3;   0.0;   0;  6.000;   0;   5.2;   6.7;  1010.14;   3.0;  88.38;   6.4;   0.2;  -2.1;eor\n\
                3987;20250102;   10;  10.5;   3.7;    3;   0.0;   0;  6.000;   0;   5.2;   6.7;  1010.14;-999;  88.38;   6.4;   0.2;  -2.1;eor\n";
    let t = Temperatures::parse(text).expect("parses");
    assert_eq!(t.len(), 1);
    assert_eq!(t.degree_days(date(2025, 1, 1), date(2025, 1, 2)), Ok(17.0));
    assert!(t.degree_days(date(2025, 1, 1), date(2025, 1, 3)).is_err());
}

#[test]
fn bad_temperature_lines_are_reported_with_their_line() {
    let e = Temperatures::parse("date,temp_c\n2025-01-01,x\n").expect_err("rejected");
    assert!(matches!(e, TemperatureError::Line { line: 2, .. }), "{e}");
    let e = Temperatures::parse("2025-01-01,1\n2025-01-01,2\n").expect_err("rejected");
    assert!(matches!(e, TemperatureError::Duplicate { line: 2, .. }), "{e}");
    let e = Temperatures::parse("STATIONS_ID;MESS_DATUM;TXK\n").expect_err("rejected");
    assert_eq!(e, TemperatureError::Column("TMK"));
}

#[test]
fn usage_hours_split_days_into_stretches_inside_and_outside() {
    let tz = chrono_tz::Europe::Berlin;
    let u = UsageHours::default();
    // Friday 2025-03-28 to Monday 2025-03-31 (DST starts on Sunday the 30th).
    let (edges, inside) = u.split(&tz, date(2025, 3, 28), date(2025, 3, 31));
    assert_eq!(inside, [false, true, false, false, false]);
    assert_eq!(edges.len(), 6);
    assert_eq!(edges[1].to_rfc3339(), "2025-03-28T06:00:00+00:00");
    assert_eq!(edges[2].to_rfc3339(), "2025-03-28T17:00:00+00:00");
    assert_eq!(
        edges[5].to_rfc3339(),
        "2025-03-30T22:00:00+00:00",
        "Monday midnight in summer time"
    );
    let weekend = UsageHours {
        days: vec![Weekday::Sat],
        from: NaiveTime::MIN,
        to: NaiveTime::from_hms_opt(12, 0, 0).expect("a valid time"),
    };
    let (edges, inside) = weekend.split(&tz, date(2025, 3, 29), date(2025, 3, 30));
    assert_eq!((edges.len(), inside), (3, vec![true, false]));
    assert_eq!(u.validate("u"), Vec::<String>::new());
    let bad = UsageHours { to: u.from, ..u };
    assert_eq!(bad.validate("u").len(), 1);
}

#[test]
fn categories_round_trip_by_name() {
    for c in BuildingCategory::ALL {
        assert_eq!(BuildingCategory::parse(c.name()), Some(c));
    }
    assert_eq!(BuildingCategory::parse("castle"), None);
}

#[test]
fn co2_per_medium_building_and_town_from_the_configured_factors_only() {
    let factor = |g: f64| EmissionFactor {
        valid_from: date(2020, 11, 1),
        g_per_kwh: Some(g),
        g_per_m3: None,
        source: "GEG 2020 Anlage 9".into(),
    };
    // 20,000 kWh of electricity at 560 g = 11,200 kg; 1,000 m³ of gas = 10,300 kWh at 240 g = 2,472 kg;
    // water without a factor: unknown, and the building's total a lower bound.
    let electricity = MediumInput {
        emission_factor: Some(factor(560.0)),
        ..input(Medium::Electricity, 20_000.0, 16_000.0, None)
    };
    let gas = MediumInput {
        gas_kwh: Some(10_300.0),
        emission_factor: Some(factor(240.0)),
        ..input(Medium::Gas, 1_000.0, 900.0, None)
    };
    let water = input(Medium::Water, 300.0, 280.0, None);
    let b = school(vec![electricity.clone(), gas.clone(), water]);
    let r = building(&b, &climate(None, None), &ComparisonValues::builtin());
    near(r.media[0].co2_kg, 11_200.0);
    assert_eq!(r.media[0].co2_source.as_deref(), Some("GEG 2020 Anlage 9"));
    assert_eq!(r.media[0].co2_g_per_unit, Some(560.0));
    near(r.media[1].co2_kg, 2_472.0);
    assert_eq!(r.media[2].co2_kg, None);
    assert!(
        r.media[2]
            .co2_note
            .as_deref()
            .is_some_and(|n| n.contains("no emission factor for water")),
        "{:?}",
        r.media[2].co2_note
    );
    near(r.co2_kg, 13_672.0);
    assert!(!r.co2_complete, "water's CO₂ is unknown");
    // Gas without its kWh (no conversion): unknown, saying why.
    let no_kwh = MediumInput { gas_kwh: None, ..gas };
    let r2 = building(
        &school(vec![no_kwh]),
        &climate(None, None),
        &ComparisonValues::builtin(),
    );
    assert_eq!(r2.co2_kg, None);
    assert!(
        r2.media[0]
            .co2_note
            .as_deref()
            .is_some_and(|n| n.contains("gas_conversions"))
    );
    // The town sums the buildings.
    let other = BuildingInput {
        id: "rathaus".into(),
        ..school(vec![electricity])
    };
    let t = report(
        2025,
        &[b, other],
        climate(None, None),
        &ComparisonValues::builtin(),
        3,
    );
    near(t.town_co2_kg, 13_672.0 + 11_200.0);
    assert!(!t.town_co2_complete);
    let town_el = t
        .town
        .iter()
        .find(|m| m.medium == Medium::Electricity)
        .expect("electricity");
    near(town_el.co2_kg, 22_400.0);
}
