//! Small typed config values: power with a unit (`"2kW"`), local clock times (`"07:00"`), weekdays, dates in
//! the year (`"03-01"`), calendar dates (`2026-07-20`). Each parses strictly and renders back to the same text.

use std::fmt;

use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A power in watts, written `"2kW"`, `"500W"`, `"1.5 kW"`, `"3MW"` or as a bare number of watts.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Watts(pub f64);

impl Watts {
    /// Parses a power with its unit.
    pub fn parse(s: &str) -> Result<Watts, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid power {s:?}: expected e.g. \"2kW\" or \"500W\""))?;
        let scale = match unit.trim() {
            "W" | "" => 1.0,
            "kW" => 1e3,
            "MW" => 1e6,
            _ => return Err(format!("invalid power {s:?}: unit must be W, kW or MW")),
        };
        Ok(Watts(n * scale))
    }
}

impl Serialize for Watts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}W", self.0))
    }
}

impl<'de> Deserialize<'de> for Watts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Watts(n)),
            Raw::Text(s) => Watts::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// A local wall-clock time `"HH:MM"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    /// `HH:MM`.
    pub fn hm(h: u32, m: u32) -> ClockTime {
        ClockTime(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        use chrono::Timelike;
        self.0.hour() * 60 + self.0.minute()
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.format("%H:%M").to_string())
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NaiveTime::parse_from_str(&s, "%H:%M")
            .map(ClockTime)
            .map_err(|_| serde::de::Error::custom(format!("invalid time {s:?}: expected \"HH:MM\"")))
    }
}

/// A day of the week, written `"mon"` … `"sun"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub Weekday);

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = DAYS.iter().find(|(_, d)| *d == self.0).map_or("mon", |(n, _)| n);
        s.serialize_str(name)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DAYS.iter()
            .find(|(n, _)| *n == s)
            .map(|(_, d)| Day(*d))
            .ok_or_else(|| serde::de::Error::custom(format!("invalid day {s:?}: expected mon … sun")))
    }
}

/// A day of the year `"MM-DD"` (e.g. the start of the vegetation period, `"03-01"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    /// Month, 1–12.
    pub month: u32,
    /// Day, 1–31.
    pub day: u32,
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

impl Serialize for MonthDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MonthDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("invalid date {s:?}: expected \"MM-DD\""));
        let (m, dd) = s.split_once('-').ok_or_else(bad)?;
        let (month, day) = (m.parse().map_err(|_| bad())?, dd.parse().map_err(|_| bad())?);
        if chrono::NaiveDate::from_ymd_opt(2024, month, day).is_none() {
            return Err(bad());
        }
        Ok(MonthDay { month, day })
    }
}

/// A calendar date, written as a TOML date (`2026-07-20`) or a string (`"2026-07-20"`); rendered as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub chrono::NaiveDate);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.format("%Y-%m-%d").to_string())
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Date;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date like 2026-07-20")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Date, E> {
                chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .map(Date)
                    .map_err(|_| E::custom(format!("invalid date {s:?}: expected 2026-07-20")))
            }

            // The TOML reader hands a TOML date over as a one-entry map.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
                match map.next_entry::<String, String>()? {
                    Some((_, v)) => self.visit_str(&v),
                    None => Err(serde::de::Error::custom("expected a date like 2026-07-20")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_parse_with_units() {
        let cases = [
            ("2kW", 2000.0),
            ("500W", 500.0),
            ("1.5 kW", 1500.0),
            ("3MW", 3e6),
            ("7", 7.0),
        ];
        for (s, w) in cases {
            assert_eq!(Watts::parse(s), Ok(Watts(w)), "{s}");
        }
        for bad in ["", "kW", "2 kWh", "-1W", "2GW"] {
            assert!(Watts::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_round_trip_through_toml() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct T {
            p: Watts,
            t: ClockTime,
            d: Day,
            md: MonthDay,
            date: Date,
        }
        let text = "p = 2000\nt = \"07:30\"\nd = \"sat\"\nmd = \"11-01\"\ndate = 2026-07-20";
        let t: T = toml::from_str(text).expect("parses");
        assert_eq!(
            t.date.0,
            chrono::NaiveDate::from_ymd_opt(2026, 7, 20).expect("date")
        );
        assert_eq!(t.t.minutes(), 450);
        let back: T = toml::from_str(&toml::to_string(&t).expect("renders")).expect("re-parses");
        assert_eq!(back, t);
        for bad in [
            "p = 1\nt = \"25:00\"\nd = \"sat\"\nmd = \"11-01\"\ndate = 2026-07-20",
            "p = 1\nt = \"07:00\"\nd = \"sat\"\nmd = \"02-30\"\ndate = 2026-07-20",
            "p = 1\nt = \"07:00\"\nd = \"sat\"\nmd = \"02-28\"\ndate = \"2026-02-30\"",
        ] {
            assert!(toml::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}
