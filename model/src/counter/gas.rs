//! Gas volume to energy (DVGW worksheet G 685): **E [kWh] = V [m³] × Z × Hₛ,eff [kWh/m³]**, with the
//! Zustandszahl Z and the Abrechnungsbrennwert Hₛ the network operator publishes per site (Brennwertbezirk)
//! and period. Pure: the volumes per period come from the counter logic ([`super::consumption`] over a
//! `gas_volume` counter, m³ in the bucket's `wh` field: the logic is unit-agnostic), the conversions from the
//! inventory (`[[gas_conversions]]`, [`crate::Inventory::gas_conversions`]).
//!
//! * A conversion is valid from its `valid_from` (local midnight, Europe/Berlin) until the next one of the
//!   same site. A period that straddles a change is split by time (consumption spreads linearly between
//!   readings, as in the counter logic).
//! * Where no conversion is valid, the energy is unknown (`None`), never 0 and never a guessed default.
//! * Hₛ is fixed for the billing period only afterwards: kWh of the running period are provisional.

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

use super::Bucket;

/// One `[[gas_conversions]]` entry: the calorific value and Z factor of a site from a date on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GasConversion {
    /// The site (its gas meters) this applies to.
    pub site: String,
    /// First day it applies (local midnight, Europe/Berlin), written `"2026-01-01"`.
    pub valid_from: NaiveDate,
    /// Abrechnungsbrennwert Hₛ,eff, kWh/m³ (H-gas ≈ 10–12, L-gas ≈ 8.5–10).
    pub calorific_value_kwh_per_m3: f64,
    /// Zustandszahl Z (norm volume / operating volume), ≈ 0.9–1.0.
    pub z_factor: f64,
}

impl GasConversion {
    /// kWh per m³ at operating conditions: Z × Hₛ.
    pub fn kwh_per_m3(&self) -> f64 {
        self.z_factor * self.calorific_value_kwh_per_m3
    }

    fn from(&self) -> DateTime<Utc> {
        let midnight = self.valid_from.and_hms_opt(0, 0, 0).unwrap_or_default();
        chrono_tz::Europe::Berlin
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    }
}

/// Reports every invalid conversion, prefixed with `gas_conversions[i]`: a site not in `sites`, a
/// calorific value outside 6–14 kWh/m³, a Z factor outside 0.5–1.2, and two entries for the same site and
/// day.
pub fn validate(list: &[GasConversion], sites: &[crate::Site]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, c) in list.iter().enumerate() {
        let p = format!("gas_conversions[{i}]");
        if !sites.iter().any(|s| s.id.as_str() == c.site) {
            errors.push(format!("{p}.site: no site {:?}", c.site));
        }
        if !(6.0..=14.0).contains(&c.calorific_value_kwh_per_m3) {
            errors.push(format!(
                "{p}.calorific_value_kwh_per_m3: {} is not a natural gas calorific value (6..=14 kWh/m³)",
                c.calorific_value_kwh_per_m3
            ));
        }
        if !(0.5..=1.2).contains(&c.z_factor) {
            errors.push(format!("{p}.z_factor: {} is not 0.5..=1.2", c.z_factor));
        }
        if !seen.insert((c.site.as_str(), c.valid_from)) {
            errors.push(format!(
                "{p}: site {:?} already has a conversion valid from {}",
                c.site, c.valid_from
            ));
        }
    }
    errors
}

/// A period's gas: volume and energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GasPeriod {
    /// Volume, m³ (`None`: unknown).
    pub m3: Option<f64>,
    /// Energy, Wh (`None`: volume unknown, or no conversion valid for some of the period).
    pub wh: Option<f64>,
    /// As the volume bucket's.
    pub complete: bool,
}

/// Converts volume buckets of a gas meter at `site` to energy with the site's conversions.
pub fn energy(site: &str, volumes: &[Bucket], conversions: &[GasConversion]) -> Vec<GasPeriod> {
    let mut mine: Vec<(DateTime<Utc>, f64)> = conversions
        .iter()
        .filter(|c| c.site == site)
        .map(|c| (c.from(), c.kwh_per_m3()))
        .collect();
    mine.sort_by_key(|(from, _)| *from);
    volumes
        .iter()
        .map(|b| GasPeriod {
            m3: b.wh,
            wh: b
                .wh
                .and_then(|m3| kwh_over(&mine, b.start, b.end).map(|k| m3 * k * 1000.0)),
            complete: b.complete,
        })
        .collect()
}

/// The time-weighted kWh/m³ over `start..end`; `None` if some of it has no conversion.
fn kwh_over(list: &[(DateTime<Utc>, f64)], start: DateTime<Utc>, end: DateTime<Utc>) -> Option<f64> {
    let total = (end - start).num_milliseconds();
    if total <= 0 {
        return list
            .iter()
            .rev()
            .find(|(from, _)| *from <= start)
            .map(|(_, k)| *k);
    }
    let mut weighted = 0.0;
    let mut covered = 0i64;
    for (i, (from, k)) in list.iter().enumerate() {
        let until = list.get(i + 1).map_or(end, |(next, _)| (*next).min(end));
        let a = (*from).max(start);
        if until > a {
            let ms = (until - a).num_milliseconds();
            weighted += k * ms as f64;
            covered += ms;
        }
    }
    (covered == total).then(|| weighted / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(site: &str, from: (i32, u32, u32), hs: f64, z: f64) -> GasConversion {
        GasConversion {
            site: site.into(),
            valid_from: NaiveDate::from_ymd_opt(from.0, from.1, from.2).expect("date"),
            calorific_value_kwh_per_m3: hs,
            z_factor: z,
        }
    }

    fn bucket(start: &str, end: &str, m3: Option<f64>) -> Bucket {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).expect("ts").with_timezone(&Utc);
        Bucket {
            start: t(start),
            end: t(end),
            wh: m3,
            complete: true,
            coverage: 1.0,
        }
    }

    #[test]
    fn the_worked_example_and_a_change_inside_a_period() {
        // ioBroker.sourceanalytix #6: 1500 m³ × 9.8 kWh/m³ × 0.9683 = 14 234 kWh.
        let list = [conv("rathaus", (2026, 1, 1), 9.8, 0.9683)];
        let jan = bucket("2025-12-31T23:00:00Z", "2026-01-31T23:00:00Z", Some(1500.0));
        let got = energy("rathaus", &[jan], &list);
        assert!(
            (got[0].wh.expect("wh") / 1000.0 - 14_234.01).abs() < 0.01,
            "{got:?}"
        );
        assert_eq!(got[0].m3, Some(1500.0));
        // A new calorific value from 16 Feb (local midnight): February is split by time.
        let list = [
            conv("rathaus", (2026, 1, 1), 10.0, 1.0),
            conv("rathaus", (2026, 2, 16), 11.0, 1.0),
            conv("schule", (2026, 1, 1), 8.0, 0.9),
        ];
        let feb = bucket("2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z", Some(280.0));
        let got = energy("rathaus", &[feb], &list);
        // 15 days at 10, 13 days at 11: (15·10 + 13·11) / 28 kWh/m³.
        let want = 280.0 * (15.0 * 10.0 + 13.0 * 11.0) / 28.0 * 1000.0;
        assert!((got[0].wh.expect("wh") - want).abs() < 1e-6, "{got:?} vs {want}");
    }

    #[test]
    fn missing_stays_missing() {
        let list = [conv("rathaus", (2026, 2, 1), 10.0, 1.0)];
        let before = bucket("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", Some(5.0));
        let straddling = bucket("2026-01-31T00:00:00Z", "2026-02-02T00:00:00Z", Some(5.0));
        let unknown = bucket("2026-02-05T00:00:00Z", "2026-02-06T00:00:00Z", None);
        let got = energy("rathaus", &[before, straddling, unknown], &list);
        assert_eq!(got.iter().map(|p| p.wh).collect::<Vec<_>>(), [None, None, None]);
        assert_eq!(
            energy("kita", &[before], &list)[0].wh,
            None,
            "another site's values never apply"
        );
    }

    #[test]
    fn every_bad_conversion_is_reported() {
        let sites = [crate::Site {
            id: crate::Id::new("a").expect("id"),
            name: String::new(),
            kind: crate::SiteKind::Building,
            category: None,
            floor_area_m2: None,
            devices: Vec::new(),
        }];
        let list = [
            conv("a", (2026, 1, 1), 10.0, 0.95),
            conv("a", (2026, 1, 1), 40.0, 1.9),
            conv("nowhere", (2026, 1, 1), 10.0, 0.95),
        ];
        let errors = validate(&list, &sites);
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[3].starts_with("gas_conversions[2].site: no site"),
            "{errors:#?}"
        );
        assert!(validate(&list[..1], &sites).is_empty());
        let parsed: GasConversion = toml::from_str(
            "site = \"a\"\nvalid_from = \"2026-01-01\"\ncalorific_value_kwh_per_m3 = 11.2\nz_factor = 0.9674",
        )
        .expect("parses");
        assert_eq!(parsed.kwh_per_m3(), 0.9674 * 11.2);
    }
}
