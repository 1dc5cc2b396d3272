//! `send_hours` of a wireless M-Bus meter: the local hours in which it is expected to send (many battery
//! meters send only in working hours, or only on some hours of the day to save power). The gateway's
//! freshness alarm for the meter fires only inside them; outside them silence is expected.
//!
//! Written `"6-22"`: from 06:00 up to 22:00 local time; `"22-6"` wraps over midnight; `"0-24"` is always.

use chrono::{NaiveDateTime, TimeDelta, Timelike as _};
use serde::{Deserialize, Serialize};

/// Local hours `[from, to)`; wraps over midnight when `from > to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SendHours {
    from: u8,
    to: u8,
}

impl SendHours {
    /// Parses `"H-H"`: a start hour 0–23 and an end hour 1–24, different.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not send hours like \"6-22\" (start 0-23, end 1-24, different)");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let from: u8 = a.trim().parse().map_err(|_| bad())?;
        let to: u8 = b.trim().parse().map_err(|_| bad())?;
        if from > 23 || !(1..=24).contains(&to) || from == to {
            return Err(bad());
        }
        Ok(Self { from, to })
    }

    /// If `local` lies inside the hours: the local start of the window it lies in.
    pub fn window_start(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let h = u8::try_from(local.hour()).unwrap_or(0);
        let midnight = local.date().and_hms_opt(0, 0, 0)?;
        let at = |day: NaiveDateTime, hour: u8| day + TimeDelta::hours(i64::from(hour));
        if self.from < self.to {
            (self.from <= h && h < self.to).then(|| at(midnight, self.from))
        } else if h >= self.from {
            Some(at(midnight, self.from))
        } else if h < self.to {
            Some(at(midnight - TimeDelta::days(1), self.from))
        } else {
            None
        }
    }
}

impl TryFrom<String> for SendHours {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<SendHours> for String {
    fn from(h: SendHours) -> String {
        format!("{}-{}", h.from, h.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    #[test]
    fn windows_plain_wrapping_and_whole_day() {
        let day = SendHours::parse("6-22").expect("parses");
        assert_eq!(day.window_start(local("2026-12-07 05:59")), None);
        assert_eq!(
            day.window_start(local("2026-12-07 06:00")),
            Some(local("2026-12-07 06:00"))
        );
        assert_eq!(
            day.window_start(local("2026-12-07 21:59")),
            Some(local("2026-12-07 06:00"))
        );
        assert_eq!(day.window_start(local("2026-12-07 22:00")), None);
        let night = SendHours::parse("22-6").expect("parses");
        assert_eq!(
            night.window_start(local("2026-12-07 23:10")),
            Some(local("2026-12-07 22:00"))
        );
        assert_eq!(
            night.window_start(local("2026-12-08 05:10")),
            Some(local("2026-12-07 22:00"))
        );
        assert_eq!(night.window_start(local("2026-12-08 12:00")), None);
        let always = SendHours::parse("0-24").expect("parses");
        assert_eq!(
            always.window_start(local("2026-12-07 23:59")),
            Some(local("2026-12-07 00:00"))
        );
        assert_eq!(String::from(night), "22-6");
    }

    #[test]
    fn bad_hours_are_refused() {
        for s in ["", "6", "6-6", "24-3", "3-25", "a-b", "6-22-23", "-1-4"] {
            assert!(SendHours::parse(s).is_err(), "{s:?}");
        }
        let e: Result<SendHours, _> = serde_json::from_str("\"7-7\"");
        assert!(e.is_err());
    }
}
