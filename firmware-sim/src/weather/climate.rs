//! The simulated weather itself: how strongly it makes water evaporate, relative to an average day, hour
//! by hour, and how cold it is. The scenario's trees dry by it ([`crate::scenario`]) and the ET0 feed
//! reports it ([`super::feed`]); the buildings' heaters run by its cold ([`cold`]), which the outdoor
//! temperature ([`outdoor_c`]) and its daily forecast ([`daily_forecast_c`]) report. Pure functions of the
//! town's seed and the time.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::curves::{mix, secs, smooth, unit};

/// Reference ET0 of an average day of the simulated weather, mm.
pub const REFERENCE_MM_PER_DAY: f64 = 3.0;

/// The weather's evaporative demand at `t` relative to an average day (before season and hour of day).
pub(crate) fn evaporative_demand(town: u64, t: DateTime<Utc>) -> f64 {
    1.0 + 0.3 * smooth(mix(town, 2), secs(t), 2.5 * 86_400.0)
}

/// Share of a day's evaporation in local hour `h`: mostly between 06 and 20 h.
pub(crate) fn diurnal(h: u32) -> f64 {
    let x = (f64::from(h) + 0.5 - 6.0) / 14.0;
    let day = if (0.0..=1.0).contains(&x) {
        (std::f64::consts::PI * x).sin()
    } else {
        0.0
    };
    (0.02 + day) / (24.0 * 0.02 + 14.0 * 2.0 / std::f64::consts::PI)
}

/// The town seed of scenario seed `seed`, as its buildings and trees draw their weather from.
pub fn town(seed: u64) -> u64 {
    mix(seed, 1)
}

/// The cold the town's buildings heat against at `s` (seconds since the epoch), relative to an average
/// day: `1 ± 0.15`, weather systems of about three days. A building's heater duty and base load follow it.
pub fn cold(town: u64, s: f64) -> f64 {
    1.0 + 0.15 * smooth(mix(town, 1), s, 3.0 * 86_400.0)
}

/// The climatological normal of the simulated daily mean outdoor temperature, °C (an April in Germany;
/// the simulated weather has no season).
pub const NORMAL_C: f64 = 8.0;
/// Kelvin colder per unit of [`cold`] above 1: daily means from about 2 to 14 °C, below the heating limit
/// (15 °C), so the heaters' energy is about linear in the degree days.
const KELVIN_PER_COLD: f64 = 40.0;

/// Outdoor air temperature at `t`, °C: [`NORMAL_C`] lowered by the cold, with a ±3 K day swing (lowest
/// about 05:00 UTC, highest about 14:00 UTC).
pub fn outdoor_c(town: u64, t: DateTime<Utc>) -> f64 {
    let s = secs(t);
    let hour = (s / 3600.0).rem_euclid(24.0);
    let swing = -3.0 * (std::f64::consts::PI * (hour - 5.0) / 12.0).cos();
    NORMAL_C - KELVIN_PER_COLD * (cold(town, s) - 1.0) + swing
}

/// The daily mean outdoor temperature of UTC day `day`, °C (24 hourly values).
pub fn daily_mean_c(town: u64, day: NaiveDate) -> f64 {
    let start = day.and_hms_opt(0, 30, 0).unwrap_or_default().and_utc();
    (0..24)
        .map(|h| outdoor_c(town, start + TimeDelta::hours(h)))
        .sum::<f64>()
        / 24.0
}

/// Error sd of a daily mean temperature forecast a day ahead, K, and its growth per further day: about
/// what verification of NWP 2-m temperature reports (1–1.5 K at day 1, 2.5–3 K at day 5).
const FORECAST_SD0_K: f64 = 0.8;
const FORECAST_SD_PER_DAY_K: f64 = 0.45;
/// Days ahead a temperature forecast covers (beyond: the climatological normal).
pub const FORECAST_DAYS: i64 = 7;

/// The daily mean temperature of UTC day `day` forecast on day `issued` (the forecast of the 00 UTC run,
/// known that morning), °C; `None` when `day` is not 0..[`FORECAST_DAYS`] days after `issued`. The error
/// is unbiased, its sd grows with the lead, and each issue draws its own.
pub fn daily_forecast_c(town: u64, issued: NaiveDate, day: NaiveDate) -> Option<f64> {
    let lead = (day - issued).num_days();
    if !(0..FORECAST_DAYS).contains(&lead) {
        return None;
    }
    let seed = mix(town, 0x7E3F_0000 + issued.to_epoch_days() as u64);
    let z = (unit(seed, 3 * lead as u64) + unit(seed, 3 * lead as u64 + 1) + unit(seed, 3 * lead as u64 + 2)
        - 1.5)
        * 2.0;
    let sd = FORECAST_SD0_K + FORECAST_SD_PER_DAY_K * lead as f64;
    Some(daily_mean_c(town, day) + sd * z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temperature_follows_the_cold_and_its_forecast_errs_more_with_lead() {
        let town = mix(7, 1);
        let days: Vec<NaiveDate> = (0..200)
            .map(|d| NaiveDate::from_ymd_opt(2026, 4, 6).expect("date") + TimeDelta::days(d))
            .collect();
        let means: Vec<f64> = days.iter().map(|d| daily_mean_c(town, *d)).collect();
        assert!(means.iter().all(|t| (1.0..15.0).contains(t)), "{means:?}");
        let avg = means.iter().sum::<f64>() / means.len() as f64;
        assert!((avg - NORMAL_C).abs() < 1.5, "{avg}");
        let err = |lead: i64| {
            let e: Vec<f64> = days
                .iter()
                .filter_map(|d| {
                    Some(daily_forecast_c(town, *d - TimeDelta::days(lead), *d)? - daily_mean_c(town, *d))
                })
                .collect();
            (e.iter().map(|x| x * x).sum::<f64>() / e.len() as f64).sqrt()
        };
        assert!(
            err(0) < err(3) && err(3) < err(6),
            "{} {} {}",
            err(0),
            err(3),
            err(6)
        );
        assert!((0.5..1.2).contains(&err(0)), "{}", err(0));
        assert_eq!(daily_forecast_c(town, days[0], days[7]), None);
    }
}
