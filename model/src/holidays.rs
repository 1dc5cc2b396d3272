//! German public holidays, computed: the nationwide set and each federal state's, fixed dates and those that
//! follow Easter (Karfreitag, Ostermontag, Christi Himmelfahrt, Pfingstmontag, Fronleichnam …).
//!
//! [`holidays`] lists the statutory holidays (gesetzliche Feiertage) that apply in the whole of a state;
//! [`nationwide`] the nine that apply in every state (Neujahr, Karfreitag, Ostermontag, Tag der Arbeit,
//! Christi Himmelfahrt, Pfingstmontag, Tag der Deutschen Einheit, both Weihnachtstage). A [`Calendar`] is
//! one of the two, as a tariff names it (`holidays = "DE"` or a state code such as `"NW"`; all 16 states).
//! Holidays of single communes (Mariä Himmelfahrt in Bavaria's Catholic communes, the Augsburger
//! Friedensfest, Fronleichnam in parts of Saxony and Thuringia) are not included: analytics takes them per
//! site as `analytics.calendar.extra_days_off`. Dates before a holiday was introduced follow the current law
//! (the Reformationstag in HB, HH, NI, SH since 2018, the Frauentag in BE since 2019 and MV since 2023, the
//! Weltkindertag in TH since 2019 are given only from then on).

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A German federal state (Bundesland), by its ISO 3166-2 code without `DE-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum State {
    /// Baden-Württemberg.
    BW,
    /// Bayern.
    BY,
    /// Berlin.
    BE,
    /// Brandenburg.
    BB,
    /// Bremen.
    HB,
    /// Hamburg.
    HH,
    /// Hessen.
    HE,
    /// Mecklenburg-Vorpommern.
    MV,
    /// Niedersachsen.
    NI,
    /// Nordrhein-Westfalen.
    NW,
    /// Rheinland-Pfalz.
    RP,
    /// Saarland.
    SL,
    /// Sachsen.
    SN,
    /// Sachsen-Anhalt.
    ST,
    /// Schleswig-Holstein.
    SH,
    /// Thüringen.
    TH,
}

impl State {
    /// Every state, in the order of their codes above.
    pub const ALL: [State; 16] = [
        State::BW,
        State::BY,
        State::BE,
        State::BB,
        State::HB,
        State::HH,
        State::HE,
        State::MV,
        State::NI,
        State::NW,
        State::RP,
        State::SL,
        State::SN,
        State::ST,
        State::SH,
        State::TH,
    ];

    /// The state of code `s` (`"BY"`, case-insensitive).
    pub fn parse(s: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|st| format!("{st:?}").eq_ignore_ascii_case(s.trim()))
    }
}

/// Easter Sunday of `year` (Gregorian; the anonymous "Meeus/Jones/Butcher" algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let (b, c) = (year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// The public holidays of `state` in `year`, sorted, each with its German name.
pub fn holidays(state: State, year: i32) -> Vec<(NaiveDate, &'static str)> {
    use State::*;
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).unwrap_or_default();
    let e = easter(year);
    let after = |days: i64| e + Duration::days(days);
    let mut out = nationwide(year);
    let mut add = |on: bool, day: NaiveDate, name: &'static str| {
        if on {
            out.push((day, name));
        }
    };
    add(matches!(state, BW | BY | ST), fixed(1, 6), "Heilige Drei Könige");
    add(
        (state == BE && year >= 2019) || (state == MV && year >= 2023),
        fixed(3, 8),
        "Internationaler Frauentag",
    );
    add(state == BB, e, "Ostersonntag");
    add(
        state == BE && (year == 2020 || year == 2025),
        fixed(5, 8),
        "Tag der Befreiung",
    );
    add(state == BB, after(49), "Pfingstsonntag");
    add(
        matches!(state, BW | BY | HE | NW | RP | SL),
        after(60),
        "Fronleichnam",
    );
    add(state == SL, fixed(8, 15), "Mariä Himmelfahrt");
    add(state == TH && year >= 2019, fixed(9, 20), "Weltkindertag");
    let reformation =
        matches!(state, BB | MV | SN | ST | TH) || (matches!(state, HB | HH | NI | SH) && year >= 2018);
    // 2017 is in the nationwide set already.
    add(reformation && year != 2017, fixed(10, 31), "Reformationstag");
    add(
        matches!(state, BW | BY | NW | RP | SL),
        fixed(11, 1),
        "Allerheiligen",
    );
    // Buß- und Bettag: the Wednesday before 23 November.
    let mut bettag = fixed(11, 22);
    while bettag.weekday() != Weekday::Wed {
        bettag -= Duration::days(1);
    }
    add(state == SN, bettag, "Buß- und Bettag");
    out.sort();
    out
}

/// Whether `date` is a public holiday in `state`.
pub fn is_holiday(state: State, date: NaiveDate) -> bool {
    holidays(state, date.year()).iter().any(|(d, _)| *d == date)
}

/// The nationwide public holidays of `year` (the set every state keeps), sorted, with their German names.
pub fn nationwide(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).unwrap_or_default();
    let e = easter(year);
    let after = |days: i64| e + Duration::days(days);
    let mut out = vec![
        (fixed(1, 1), "Neujahr"),
        (after(-2), "Karfreitag"),
        (after(1), "Ostermontag"),
        (fixed(5, 1), "Tag der Arbeit"),
        (after(39), "Christi Himmelfahrt"),
        (after(50), "Pfingstmontag"),
        (fixed(10, 3), "Tag der Deutschen Einheit"),
        (fixed(12, 25), "1. Weihnachtstag"),
        (fixed(12, 26), "2. Weihnachtstag"),
    ];
    if year == 2017 {
        // 500 years of the Reformation: a holiday in every state once.
        out.push((fixed(10, 31), "Reformationstag"));
    }
    out.sort();
    out
}

/// Which public holidays count: the nationwide set (`"DE"`, the default) or a state's (`"NW"`, `"BY"` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Calendar {
    /// The nationwide holidays, [`nationwide`].
    #[default]
    Nationwide,
    /// A state's holidays, [`holidays`].
    State(State),
}

impl Calendar {
    /// The calendar of `code`: `DE` (nationwide) or a state code, case-insensitive.
    pub fn parse(code: &str) -> Option<Self> {
        if code.trim().eq_ignore_ascii_case("DE") {
            return Some(Self::Nationwide);
        }
        State::parse(code).map(Self::State)
    }

    /// Whether `date` is a public holiday in this calendar.
    pub fn is_holiday(self, date: NaiveDate) -> bool {
        match self {
            Self::Nationwide => nationwide(date.year()).iter().any(|(d, _)| *d == date),
            Self::State(s) => is_holiday(s, date),
        }
    }
}

impl std::fmt::Display for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nationwide => f.write_str("DE"),
            Self::State(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for Calendar {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Calendar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{code:?} is not a holiday calendar: \"DE\" (nationwide) or a state code (BW, BY, BE, BB, HB, HH, HE, MV, NI, NW, RP, SL, SN, ST, SH, TH)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(list: &[(i32, u32, u32)]) -> Vec<NaiveDate> {
        list.iter()
            .map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).expect("date"))
            .collect()
    }

    fn computed(state: State, years: std::ops::RangeInclusive<i32>) -> Vec<NaiveDate> {
        years
            .flat_map(|y| holidays(state, y).into_iter().map(|(d, _)| d))
            .collect()
    }

    #[test]
    fn easter_sundays_match_the_published_dates() {
        for (y, m, d) in [
            (2000, 4, 23),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ] {
            assert_eq!(easter(y), NaiveDate::from_ymd_opt(y, m, d).expect("date"), "{y}");
        }
    }

    /// The published calendars (e.g. the states' interior ministries), written out, not computed.
    #[test]
    fn bavaria_2025_to_2027() {
        #[rustfmt::skip]
        let want = dates(&[
            (2025, 1, 1), (2025, 1, 6), (2025, 4, 18), (2025, 4, 21), (2025, 5, 1), (2025, 5, 29),
            (2025, 6, 9), (2025, 6, 19), (2025, 10, 3), (2025, 11, 1), (2025, 12, 25), (2025, 12, 26),
            (2026, 1, 1), (2026, 1, 6), (2026, 4, 3), (2026, 4, 6), (2026, 5, 1), (2026, 5, 14),
            (2026, 5, 25), (2026, 6, 4), (2026, 10, 3), (2026, 11, 1), (2026, 12, 25), (2026, 12, 26),
            (2027, 1, 1), (2027, 1, 6), (2027, 3, 26), (2027, 3, 29), (2027, 5, 1), (2027, 5, 6),
            (2027, 5, 17), (2027, 5, 27), (2027, 10, 3), (2027, 11, 1), (2027, 12, 25), (2027, 12, 26),
        ]);
        assert_eq!(computed(State::BY, 2025..=2027), want);
    }

    #[test]
    fn berlin_2025_to_2027() {
        #[rustfmt::skip]
        let want = dates(&[
            (2025, 1, 1), (2025, 3, 8), (2025, 4, 18), (2025, 4, 21), (2025, 5, 1), (2025, 5, 8),
            (2025, 5, 29), (2025, 6, 9), (2025, 10, 3), (2025, 12, 25), (2025, 12, 26),
            (2026, 1, 1), (2026, 3, 8), (2026, 4, 3), (2026, 4, 6), (2026, 5, 1), (2026, 5, 14),
            (2026, 5, 25), (2026, 10, 3), (2026, 12, 25), (2026, 12, 26),
            (2027, 1, 1), (2027, 3, 8), (2027, 3, 26), (2027, 3, 29), (2027, 5, 1), (2027, 5, 6),
            (2027, 5, 17), (2027, 10, 3), (2027, 12, 25), (2027, 12, 26),
        ]);
        assert_eq!(computed(State::BE, 2025..=2027), want);
    }

    #[test]
    fn north_rhine_westphalia_2025_to_2027() {
        #[rustfmt::skip]
        let want = dates(&[
            (2025, 1, 1), (2025, 4, 18), (2025, 4, 21), (2025, 5, 1), (2025, 5, 29), (2025, 6, 9),
            (2025, 6, 19), (2025, 10, 3), (2025, 11, 1), (2025, 12, 25), (2025, 12, 26),
            (2026, 1, 1), (2026, 4, 3), (2026, 4, 6), (2026, 5, 1), (2026, 5, 14), (2026, 5, 25),
            (2026, 6, 4), (2026, 10, 3), (2026, 11, 1), (2026, 12, 25), (2026, 12, 26),
            (2027, 1, 1), (2027, 3, 26), (2027, 3, 29), (2027, 5, 1), (2027, 5, 6), (2027, 5, 17),
            (2027, 5, 27), (2027, 10, 3), (2027, 11, 1), (2027, 12, 25), (2027, 12, 26),
        ]);
        assert_eq!(computed(State::NW, 2025..=2027), want);
    }

    #[test]
    fn state_specific_days() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        // (state, date, holiday there)
        let cases = [
            (State::SN, d(2025, 11, 19), true), // Buß- und Bettag
            (State::SN, d(2026, 11, 18), true),
            (State::BY, d(2025, 11, 19), false),
            (State::TH, d(2026, 9, 20), true),  // Weltkindertag
            (State::HH, d(2026, 10, 31), true), // Reformationstag since 2018
            (State::HH, d(2016, 10, 31), false),
            (State::NW, d(2017, 10, 31), true), // 500 years of the Reformation: everywhere once
            (State::BB, d(2026, 4, 5), true),   // Ostersonntag
            (State::SL, d(2026, 8, 15), true),  // Mariä Himmelfahrt
            (State::BY, d(2026, 8, 15), false), // only in Catholic communes: not state-wide
            (State::MV, d(2026, 3, 8), true),
            (State::MV, d(2022, 3, 8), false),
            (State::BE, d(2026, 5, 8), false), // Tag der Befreiung only in 2020 and 2025
        ];
        for (state, date, want) in cases {
            assert_eq!(is_holiday(state, date), want, "{state:?} {date}");
        }
        assert_eq!(State::parse("nw"), Some(State::NW));
        assert_eq!(State::parse("XX"), None);
    }

    #[test]
    fn the_nationwide_set_is_in_every_state_and_follows_easter() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        #[rustfmt::skip]
        let want = dates(&[
            (2026, 1, 1), (2026, 4, 3), (2026, 4, 6), (2026, 5, 1), (2026, 5, 14), (2026, 5, 25),
            (2026, 10, 3), (2026, 12, 25), (2026, 12, 26),
        ]);
        assert_eq!(
            nationwide(2026).into_iter().map(|(d, _)| d).collect::<Vec<_>>(),
            want
        );
        // Karfreitag, Ostermontag, Christi Himmelfahrt, Pfingstmontag of 2024, 2025 and 2027.
        for (easter_sunday, days) in [
            (d(2024, 3, 31), 2024),
            (d(2025, 4, 20), 2025),
            (d(2027, 3, 28), 2027),
        ] {
            let set: Vec<NaiveDate> = nationwide(days).into_iter().map(|(d, _)| d).collect();
            for offset in [-2, 1, 39, 50] {
                assert!(
                    set.contains(&(easter_sunday + Duration::days(offset))),
                    "{easter_sunday} {offset}"
                );
            }
        }
        assert!(Calendar::Nationwide.is_holiday(d(2024, 5, 20))); // Pfingstmontag 2024
        assert!(!Calendar::Nationwide.is_holiday(d(2026, 6, 4))); // Fronleichnam: not nationwide
        for state in State::ALL {
            for (day, name) in nationwide(2026) {
                assert!(is_holiday(state, day), "{state:?} lacks {name}");
            }
        }
    }

    #[test]
    fn calendars_by_code() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).expect("date");
        assert_eq!(Calendar::parse("de"), Some(Calendar::Nationwide));
        assert_eq!(Calendar::parse("NW"), Some(Calendar::State(State::NW)));
        assert_eq!(Calendar::parse("XX"), None);
        // Fronleichnam 2026 in NW, BW, BY, HE; not in NI.
        for (code, want) in [
            ("NW", true),
            ("BW", true),
            ("BY", true),
            ("HE", true),
            ("NI", false),
        ] {
            let c = Calendar::parse(code).expect("code");
            assert_eq!(c.is_holiday(d(2026, 6, 4)), want, "{code}");
        }
        // Reformationstag 2026 in NI, not in NW; Allerheiligen in NW, not in NI.
        assert!(Calendar::parse("NI").expect("NI").is_holiday(d(2026, 10, 31)));
        assert!(!Calendar::parse("NW").expect("NW").is_holiday(d(2026, 10, 31)));
        assert!(Calendar::parse("NW").expect("NW").is_holiday(d(2026, 11, 1)));
        assert!(!Calendar::parse("NI").expect("NI").is_holiday(d(2026, 11, 1)));
        let c: Calendar = serde_json::from_str("\"BY\"").expect("BY");
        assert_eq!((c, c.to_string()), (Calendar::State(State::BY), "BY".to_owned()));
        let e = serde_json::from_str::<Calendar>("\"Bayern\"").expect_err("not a code");
        assert!(e.to_string().contains("not a holiday calendar"), "{e}");
    }
}
