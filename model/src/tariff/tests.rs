//! Tariff validation, prices and bills to the cent.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use proptest::prelude::*;

use super::*;

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .earliest()
        .expect("local time")
        .with_timezone(&Utc)
}

fn tariff(from: NaiveDate, to: Option<NaiveDate>, ct: f64) -> Tariff {
    Tariff {
        medium: Default::default(),
        ct_per_m3: 0.0,
        id: id("grund"),
        name: String::new(),
        valid_from: from,
        valid_to: to,
        sites: vec![id("haus")],
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: ct,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
        dynamic: None,
    }
}

/// HT 06:00–22:00 Monday to Friday at 40 ct, NT otherwise at 20 ct.
fn tou(from: NaiveDate) -> Tariff {
    Tariff {
        windows: vec![Window {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            from: "06:00".into(),
            to: "22:00".into(),
            ct_per_kwh: 40.0,
            holidays: None,
        }],
        ..tariff(from, None, 20.0)
    }
}

/// Hourly intervals of `wh` each from local midnight of `first` to local midnight after `last`.
fn hourly(first: NaiveDate, last: NaiveDate, wh: f64) -> Vec<Interval> {
    let edges = crate::counter::local_day_edges(&Berlin, first, last);
    let mut out = Vec::new();
    let mut t = edges[0];
    while t < edges[edges.len() - 1] {
        out.push(Interval {
            start: t,
            import_wh: Some(wh),
            export_wh: None,
        });
        t += TimeDelta::hours(1);
    }
    out
}

fn days(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

#[test]
fn a_flat_month_with_base_charge_and_vat_to_the_cent() {
    // 300 kWh at 31.234 ct = 93.702 €, Grundpreis 12.50 € for the whole month, 19 % VAT.
    let t = Tariff {
        base_eur_per_month: 12.5,
        ..tariff(date(2026, 1, 1), None, 31.234)
    };
    let tariffs = [t];
    let s = Schedule::for_site(&tariffs, &id("haus"), Berlin);
    let ivs = hourly(date(2026, 11, 1), date(2026, 11, 30), 300_000.0 / 720.0);
    let b = s.bill(&ivs, &days(date(2026, 11, 1), date(2026, 11, 30)));
    assert_eq!(b.energy_net_cents, 9370);
    assert_eq!(b.base_net_cents, 1250);
    assert_eq!(b.net_cents, 10620);
    assert_eq!(b.vat_cents, 2018); // 106.20 × 0.19 = 20.178
    assert_eq!(b.gross_cents, 12638);
    assert!(b.priced);
    assert_eq!(b.lines.len(), 1);
}

#[test]
fn time_of_use_follows_the_local_clock_across_the_autumn_change() {
    // Sunday 25 October 2026 has 25 hours, all NT; Monday 26th has 16 HT and 8 NT hours.
    let tariffs = [tou(date(2026, 1, 1))];
    let s = Schedule::for_site(&tariffs, &id("haus"), Berlin);
    let ivs = hourly(date(2026, 10, 25), date(2026, 10, 26), 1000.0);
    assert_eq!(ivs.len(), 49);
    let b = s.bill(&ivs, &[]);
    // 25 kWh × 20 ct + 16 kWh × 40 ct + 8 kWh × 20 ct = 500 + 640 + 160 ct.
    assert_eq!(b.energy_net_cents, 1300);
    // In UTC the HT window moved: Monday 06:00 local is 05:00 UTC after the change.
    assert_eq!(s.price(&tariffs[0], local(2026, 10, 26, 6)), Some(40_000));
    assert_eq!(s.price(&tariffs[0], local(2026, 10, 26, 5)), Some(20_000));
}

#[test]
fn a_window_past_midnight_belongs_to_its_start_day() {
    let mut t = tariff(date(2026, 1, 1), None, 30.0);
    t.windows = vec![Window {
        days: vec![Day::Fri],
        from: "22:00".into(),
        to: "06:00".into(),
        ct_per_kwh: 10.0,
        holidays: None,
    }];
    let s = Schedule::only(&t, Berlin);
    // Friday 2026-11-06 23:00 and Saturday 03:00 are in it, Saturday 23:00 is not.
    assert_eq!(s.price(&t, local(2026, 11, 6, 23)), Some(10_000));
    assert_eq!(s.price(&t, local(2026, 11, 7, 3)), Some(10_000));
    assert_eq!(s.price(&t, local(2026, 11, 7, 23)), Some(30_000));
}

#[test]
fn a_price_change_mid_month_gives_two_lines_and_leaves_the_past_alone() {
    let tariffs = [
        Tariff {
            base_eur_per_month: 15.0,
            ..tariff(date(2026, 1, 1), Some(date(2026, 11, 16)), 30.0)
        },
        Tariff {
            base_eur_per_month: 15.0,
            ..tariff(date(2026, 11, 16), None, 36.0)
        },
    ];
    let s = Schedule::for_site(&tariffs, &id("haus"), Berlin);
    let ivs = hourly(date(2026, 11, 1), date(2026, 11, 30), 1000.0);
    let b = s.bill(&ivs, &days(date(2026, 11, 1), date(2026, 11, 30)));
    assert_eq!(b.lines.len(), 2);
    // 15 days × 24 kWh × 30 ct, 15 × 24 × 36 ct; base 7.50 € each.
    assert_eq!(b.lines[0].energy_net_cents, 10_800);
    assert_eq!(b.lines[1].energy_net_cents, 12_960);
    assert_eq!(b.lines[0].base_net_cents, 750);
    assert_eq!(b.lines[1].base_net_cents, 750);
    // The first half alone costs the same as before the change was configured.
    let before = [tariff(date(2026, 1, 1), None, 30.0)];
    let first_half = hourly(date(2026, 11, 1), date(2026, 11, 15), 1000.0);
    let old = Schedule::for_site(&before, &id("haus"), Berlin).bill(&first_half, &[]);
    assert_eq!(old.energy_net_cents, b.lines[0].energy_net_cents);
}

#[test]
fn feed_in_is_credited_without_vat_and_uncovered_dates_are_not_priced() {
    let t = Tariff {
        feed_in_ct_per_kwh: 7.94,
        ..tariff(date(2026, 11, 2), None, 30.0)
    };
    let tariffs = [t];
    let s = Schedule::for_site(&tariffs, &id("haus"), Berlin);
    let mut ivs = hourly(date(2026, 11, 1), date(2026, 11, 2), 1000.0);
    for iv in &mut ivs {
        iv.export_wh = Some(500.0);
    }
    let b = s.bill(&ivs, &[]);
    assert!(!b.priced, "1 November has no tariff");
    assert_eq!(b.energy_net_cents, 720);
    assert_eq!(b.feed_in_cents, 95); // 12 kWh × 7.94 ct = 95.28 ct
}

#[test]
fn dynamic_prices_per_quarter_hour_with_markup() {
    let csv = "start,price_ct_per_kwh\n\
               2026-11-02T00:00:00+01:00,10.5\n\
               2026-11-02T00:15:00+01:00,-2\n\
               2026-11-02T00:30:00+01:00,8.125\n";
    let prices = PriceSeries::from_csv(csv).expect("valid csv");
    assert_eq!(prices.step(), TimeDelta::minutes(15));
    let mut t = tariff(date(2026, 1, 1), None, 30.0);
    t.dynamic = Some(Dynamic {
        csv: Some("prices.csv".into()),
        series: None,
        markup_ct_per_kwh: 20.0,
        prices: Some(LivePrices::new(prices)),
    });
    let s = Schedule::only(&t, Berlin);
    assert_eq!(s.step(), TimeDelta::minutes(15));
    let q = |m: i64| Interval {
        start: local(2026, 11, 2, 0) + TimeDelta::minutes(m),
        import_wh: Some(1000.0),
        export_wh: None,
    };
    let b = s.bill(&[q(0), q(15), q(30)], &[]);
    // 30.5 + 18 + 28.125 ct.
    assert_eq!(b.energy_net_cents, 77);
    assert!(b.priced);
    // After the series: no price, not priced.
    assert!(!s.bill(&[q(45)], &[]).priced);
}

#[test]
fn a_bad_price_csv_names_every_bad_line() {
    let csv = "start,price_ct_per_kwh\nyesterday,3\n2026-11-02T00:00:00Z,abc\n2026-11-02T00:00:00Z,1\n";
    let e = PriceSeries::from_csv(csv).expect_err("invalid");
    assert!(e.iter().any(|e| e.starts_with("line 2:")), "{e:?}");
    assert!(e.iter().any(|e| e.starts_with("line 3:")), "{e:?}");
}

#[test]
fn validation_lists_every_problem() {
    let mut bad = tariff(date(2026, 1, 1), Some(date(2025, 1, 1)), -1.0);
    bad.vat_percent = 120.0;
    bad.currency = "euro".into();
    bad.sites.push(id("nowhere"));
    bad.windows.push(Window {
        days: Vec::new(),
        from: "25:00".into(),
        to: "06:00".into(),
        ct_per_kwh: 0.0001,
        holidays: None,
    });
    let first = tariff(date(2026, 6, 1), None, 30.0);
    let overlapping = tariff(date(2026, 7, 1), None, 30.0);
    let budgets = [Budget {
        site: id("haus"),
        year: 2026,
        medium: Default::default(),
        kwh: None,
        m3: None,
        gross: None,
    }];
    let site = crate::Site {
        id: id("haus"),
        name: String::new(),
        kind: crate::SiteKind::Household,
        category: None,
        floor_area_m2: None,
        devices: Vec::new(),
    };
    let e = validate(&[bad, first, overlapping], &budgets, &[site]);
    for want in [
        "tariffs[0].energy_ct_per_kwh",
        "tariffs[0].vat_percent",
        "tariffs[0].valid_to",
        "tariffs[0].currency",
        "tariffs[0].sites[1]: unknown site",
        "tariffs[0].windows[0].from",
        "tariffs[0].windows[0].ct_per_kwh",
        "tariffs[2]: overlaps tariffs[1]",
        "budgets[0]: needs kwh or gross",
    ] {
        assert!(e.iter().any(|e| e.starts_with(want)), "{want} missing in {e:?}");
    }
}

#[test]
fn each_medium_has_its_own_tariffs_and_the_unit_of_its_price() {
    use crate::report::Medium;
    let electricity = tariff(date(2026, 1, 1), None, 30.0);
    // Gas at 8.5 ct/kWh over the same dates does not overlap electricity; a second gas tariff does.
    let gas = Tariff {
        medium: Medium::Gas,
        ..tariff(date(2026, 1, 1), None, 8.5)
    };
    let gas_again = Tariff {
        medium: Medium::Gas,
        ..tariff(date(2026, 6, 1), None, 9.0)
    };
    // Water per m³: no kWh price, feed-in or demand charge.
    let mut water = Tariff {
        medium: Medium::Water,
        ct_per_m3: 212.5,
        ..tariff(date(2026, 1, 1), None, 0.0)
    };
    let mut bad_water = water.clone();
    bad_water.energy_ct_per_kwh = 1.0;
    bad_water.feed_in_ct_per_kwh = 1.0;
    bad_water.demand_eur_per_kw_year = 10.0;
    bad_water.valid_from = date(2027, 1, 1);
    let mut bad_heat = Tariff {
        medium: Medium::Heat,
        ct_per_m3: 1.0,
        ..tariff(date(2026, 1, 1), None, 12.0)
    };
    bad_heat.sites = vec![id("haus")];
    let site = crate::Site {
        id: id("haus"),
        name: String::new(),
        kind: crate::SiteKind::Household,
        category: None,
        floor_area_m2: None,
        devices: Vec::new(),
    };
    let all = [electricity.clone(), gas.clone(), water.clone()];
    assert!(validate(&all, &[], std::slice::from_ref(&site)).is_empty());
    let e = validate(
        &[
            electricity,
            gas.clone(),
            water.clone(),
            gas_again,
            bad_water,
            bad_heat,
        ],
        &[],
        &[site],
    );
    for want in [
        "tariffs[3]: overlaps tariffs[1] (\"grund\") for site \"haus\" and gas",
        "tariffs[4].energy_ct_per_kwh: not for a water tariff",
        "tariffs[4].feed_in_ct_per_kwh: not for a water tariff",
        "tariffs[4].demand_eur_per_kw_year: not for a water tariff",
        "tariffs[4]: overlaps tariffs[2]",
        "tariffs[5].ct_per_m3: not for a heat tariff",
    ] {
        assert!(e.iter().any(|e| e.starts_with(want)), "{want} missing in {e:?}");
    }
    assert_eq!(e.len(), 6, "{e:?}");
    // A schedule holds one medium's versions: electricity does not see gas, gas not electricity.
    let gas_only = Schedule::for_medium(&all, &id("haus"), Medium::Gas, Berlin);
    assert_eq!(gas_only.tariffs().len(), 1);
    assert_eq!(gas_only.tariffs()[0].medium, Medium::Gas);
    assert_eq!(
        Schedule::for_site(&all, &id("haus"), Berlin).tariffs()[0].medium,
        Medium::Electricity
    );
    // 1000 kWh of gas at 8.5 ct = 85.00 € net; 12.345 m³ (12,345 l) of water at 2.125 €/m³ = 26.23 €.
    let b = gas_only.bill(
        &hourly(date(2026, 3, 2), date(2026, 3, 2), 1000.0 * 1000.0 / 24.0),
        &[],
    );
    assert_eq!(b.energy_net_cents, 8500);
    water.vat_percent = 7.0;
    let tariffs = [water];
    let w = Schedule::for_medium(&tariffs, &id("haus"), Medium::Water, Berlin);
    let iv = Interval {
        start: local(2026, 3, 2, 0),
        import_wh: Some(12_345.0),
        export_wh: None,
    };
    let b = w.bill(&[iv], &[]);
    assert_eq!((b.net_cents, b.vat_cents, b.gross_cents), (2623, 184, 2807));
}

proptest! {
    /// However a month's energy is split into intervals, the flat cost is the same to the cent: integer
    /// arithmetic does not drift with the number of intervals.
    #[test]
    fn splitting_never_changes_a_flat_cost(
        wh in proptest::collection::vec(0u32..5_000_000, 1..200),
        ct in 0u32..100_000,
    ) {
        let t = tariff(date(2026, 1, 1), None, f64::from(ct) / 1000.0);
        let s = Schedule::only(&t, Berlin);
        let start = local(2026, 11, 2, 0);
        let ivs: Vec<Interval> = wh.iter().enumerate().map(|(i, w)| Interval {
            start: start + TimeDelta::minutes(15 * i as i64),
            import_wh: Some(f64::from(*w) / 1000.0),
            export_wh: None,
        }).collect();
        let total: u64 = wh.iter().map(|w| u64::from(*w)).sum();
        let one = Interval { start, import_wh: Some(total as f64 / 1000.0), export_wh: None };
        let split = s.bill(&ivs, &[]);
        let whole = s.bill(&[one], &[]);
        prop_assert_eq!(split.energy_net_cents, whole.energy_net_cents);
        // mWh × mct/kWh = nano-cent, exactly.
        let exact = i128::from(total) * i128::from(ct);
        prop_assert_eq!(i128::from(split.energy_net_cents), (exact + 500_000_000) / 1_000_000_000);
    }

    /// VAT is the rounded rate on the net, and gross is net plus VAT.
    #[test]
    fn gross_is_net_plus_vat(kwh in 0u32..100_000, ct in 0u32..60_000, vat in 0u32..1000) {
        let mut t = tariff(date(2026, 1, 1), None, f64::from(ct) / 1000.0);
        t.vat_percent = f64::from(vat) / 10.0;
        let s = Schedule::only(&t, Berlin);
        let b = s.bill(&[Interval { start: local(2026, 11, 2, 0), import_wh: Some(f64::from(kwh) * 1000.0), export_wh: None }], &[]);
        prop_assert_eq!(b.gross_cents, b.net_cents + b.vat_cents);
        let exact = f64::from(b.net_cents as i32) * f64::from(vat) / 1000.0;
        prop_assert!((b.vat_cents as f64 - exact).abs() <= 0.5 + 1e-9);
    }
}

#[test]
fn toml_dates_and_integers_are_read() {
    let t: Tariff = toml::from_str(
        "id = \"t\"\nvalid_from = 2026-01-01\nvalid_to = \"2026-07-01\"\nvat_percent = 19\nenergy_ct_per_kwh = 30\n",
    )
    .expect("a tariff");
    assert_eq!(t.valid_from, date(2026, 1, 1));
    assert_eq!(t.valid_to, Some(date(2026, 7, 1)));
    assert_eq!(t.energy_ct_per_kwh, 30.0);
}

/// HT 06:00–22:00 Monday to Friday at 40 ct, but Sundays and the public holidays of `holidays` all day at
/// 15 ct (listed second: on a holiday it still goes first), NT otherwise at 20 ct.
fn tou_with_holidays(holidays: &str) -> Tariff {
    let mut t = tou(date(2026, 1, 1));
    t.windows.push(Window {
        days: vec![Day::Sun],
        from: "00:00".into(),
        to: "24:00".into(),
        ct_per_kwh: 15.0,
        holidays: crate::holidays::Calendar::parse(holidays),
    });
    t
}

#[test]
fn a_holiday_window_applies_on_nationwide_and_state_holidays_as_on_sundays() {
    let de = tou_with_holidays("DE");
    let s = Schedule::only(&de, Berlin);
    // Karfreitag 2026-04-03 and Pfingstmontag 2026-05-25 (Easter 2026-04-05), Tag der Einheit 2026-10-03
    // (a Saturday: 15 ct, not the Saturday's NT).
    for (m, d) in [(4, 3), (4, 6), (5, 14), (5, 25), (10, 3), (12, 25)] {
        assert_eq!(s.price(&de, local(2026, m, d, 12)), Some(15_000), "2026-{m}-{d}");
    }
    assert_eq!(
        s.price(&de, local(2026, 4, 5, 12)),
        Some(15_000),
        "Easter Sunday is a Sunday"
    );
    assert_eq!(
        s.price(&de, local(2026, 4, 7, 12)),
        Some(40_000),
        "the Tuesday after Easter is not"
    );
    // Fronleichnam 2026-06-04 is not nationwide; in NW it is, in NI it is not.
    assert_eq!(s.price(&de, local(2026, 6, 4, 12)), Some(40_000));
    let nw = tou_with_holidays("NW");
    assert_eq!(
        Schedule::only(&nw, Berlin).price(&nw, local(2026, 6, 4, 12)),
        Some(15_000)
    );
    let ni = tou_with_holidays("NI");
    assert_eq!(
        Schedule::only(&ni, Berlin).price(&ni, local(2026, 6, 4, 12)),
        Some(40_000)
    );
    // Without holidays the window is Sunday's only: Karfreitag is a Friday's HT.
    let plain = tou_with_holidays("none");
    assert_eq!(plain.windows[1].holidays, None);
    assert_eq!(
        Schedule::only(&plain, Berlin).price(&plain, local(2026, 4, 3, 12)),
        Some(40_000)
    );
    // In TOML: `holidays = "BY"`; an unknown code is an error naming the choices.
    let w: Window = toml::from_str("from = \"00:00\"\nto = \"24:00\"\nct_per_kwh = 1.0\nholidays = \"BY\"")
        .expect("window");
    assert_eq!(w.holidays, crate::holidays::Calendar::parse("by"));
    let e = toml::from_str::<Window>("from = \"00:00\"\nto = \"24:00\"\nct_per_kwh = 1.0\nholidays = \"XY\"")
        .expect_err("unknown");
    assert!(e.to_string().contains("not a holiday calendar"), "{e}");
}

#[test]
fn a_dynamic_tariff_needs_a_csv_or_a_series_and_bus_prices_apply_to_every_clone() {
    let mut t = tariff(date(2026, 1, 1), None, 0.0);
    t.dynamic = Some(Dynamic {
        csv: None,
        series: None,
        markup_ct_per_kwh: 10.0,
        prices: None,
    });
    assert!(t.validate("tariffs[0]").contains(
        &"tariffs[0].dynamic: needs a csv file or a series received on the bus (or both)".to_owned()
    ));
    let live = LivePrices::new(PriceSeries::default());
    if let Some(d) = t.dynamic.as_mut() {
        d.series = Some(id("epex-de-lu"));
        d.prices = Some(live.clone());
    }
    assert!(t.validate("tariffs[0]").is_empty());
    let copy = t.clone();
    let at = local(2026, 12, 8, 0);
    assert_eq!(
        Schedule::only(&copy, Berlin).price(&copy, at),
        None,
        "no price yet"
    );
    assert_eq!(live.merge(&[(at, 12_345)], TimeDelta::hours(1)), Ok(1));
    assert_eq!(Schedule::only(&copy, Berlin).price(&copy, at), Some(22_345));
}
