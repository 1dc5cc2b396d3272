//! Heating degree days (Gradtagzahlen, VDI 3807 / VDI 4710): how much heating the weather asked for.
//!
//! For every day whose mean outdoor temperature `t` lies below the heating limit `base` (Heizgrenze,
//! 15 °C in VDI 3807), the day counts `inside − t` kelvin-days, `inside` being the room temperature
//! (20 °C): the Gradtagzahl G20/15. With `inside == base` the same sum is the Heizgradtage G15.
//! A day at or above the limit counts nothing.
//!
//! Weather correction: a heating consumption `E` measured in a period with `G` degree days scales to a
//! period with `G'` as `E · G' / G` ([`scale`]); the share of a load that heats (the rest does not follow
//! the weather) is scaled alone ([`weather_scaled`]), the share learned from daily energy against daily
//! degree days ([`HeatingFit`]). All pure functions; a day without a temperature is
//! left out by the caller (missing, not 0 °C).

/// Heating limit (Heizgrenze) of VDI 3807, °C.
pub const BASE_C: f64 = 15.0;
/// Room temperature of VDI 3807's Gradtagzahl G20/15, °C.
pub const INSIDE_C: f64 = 20.0;

/// Degree days (K·d) of `daily_mean_temps` (°C, one per day): Σ (`inside` − t) over the days with
/// t < `base`. Non-finite temperatures are skipped.
pub fn heating_degree_days(daily_mean_temps: &[f64], base: f64, inside: f64) -> f64 {
    daily_mean_temps
        .iter()
        .filter(|t| t.is_finite() && **t < base)
        .map(|t| inside - t)
        .sum()
}

/// Factor `to / from` that turns a heating consumption of a period with `from` degree days into one with
/// `to`; `None` when `from` is not positive (no heating day to scale from).
pub fn scale(from: f64, to: f64) -> Option<f64> {
    (from > 0.0 && from.is_finite() && to.is_finite()).then(|| to.max(0.0) / from)
}

/// `wh` with its heating share (`0..=1`) scaled by the degree days `to / from`; the rest unchanged.
/// Without a usable `from` (see [`scale`]) the energy is returned as it is.
pub fn weather_scaled(wh: f64, heating_share: f64, from: f64, to: f64) -> f64 {
    let share = heating_share.clamp(0.0, 1.0);
    match scale(from, to) {
        Some(f) => wh * (1.0 - share) + wh * share * f,
        None => wh,
    }
}

/// How a load follows the weather: daily energy `≈ base_wh + wh_per_kd · degree days` (least squares over
/// days with a known temperature), from which the heating share of a period follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatingFit {
    /// Energy of a day without heating, Wh.
    pub base_wh: f64,
    /// Energy per kelvin-day, Wh (never negative: a load that falls with the cold has no heating share).
    pub wh_per_kd: f64,
}

impl HeatingFit {
    /// Fits `(daily energy Wh, daily degree days)` pairs; `None` with fewer than 7 days or without spread in
    /// the degree days (all warm, or all alike: nothing to learn the slope from).
    pub fn of(days: &[(f64, f64)]) -> Option<Self> {
        let n = days.len();
        if n < 7 {
            return None;
        }
        let (mx, my) = days.iter().fold((0.0, 0.0), |a, d| (a.0 + d.1, a.1 + d.0));
        let (mx, my) = (mx / n as f64, my / n as f64);
        let sxx: f64 = days.iter().map(|d| (d.1 - mx).powi(2)).sum();
        if sxx <= 1e-9 * n as f64 {
            return None;
        }
        let sxy: f64 = days.iter().map(|d| (d.1 - mx) * (d.0 - my)).sum();
        let k = (sxy / sxx).max(0.0);
        Some(Self {
            base_wh: my - k * mx,
            wh_per_kd: k,
        })
    }

    /// Share of the energy of a period with `mean_kd` degree days per day that is heating (`0..=1`).
    pub fn heating_share(&self, mean_kd: f64) -> f64 {
        let heat = self.wh_per_kd * mean_kd.max(0.0);
        let total = self.base_wh.max(0.0) + heat;
        if total > 0.0 {
            (heat / total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heating_load_is_fitted_and_its_share_follows_the_cold() {
        // 100 kWh a day plus 5 kWh per kelvin-day.
        let days: Vec<(f64, f64)> = (0..14)
            .map(|d| {
                let kd = f64::from(d);
                (100_000.0 + 5_000.0 * kd, kd)
            })
            .collect();
        let f = HeatingFit::of(&days).expect("a fit");
        assert!(
            (f.base_wh - 100_000.0).abs() < 1e-6 && (f.wh_per_kd - 5_000.0).abs() < 1e-6,
            "{f:?}"
        );
        // 10 K·d a day: 50 of 150 kWh heat.
        assert!((f.heating_share(10.0) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(f.heating_share(0.0), 0.0);
        // A colder rest of the month (15 instead of 10 K·d a day) scales only that third.
        let rest = weather_scaled(150_000.0, f.heating_share(10.0), 10.0, 15.0);
        assert!((rest - 175_000.0).abs() < 1e-6, "{rest}");
        // All days alike, or too few: nothing to learn.
        assert_eq!(HeatingFit::of(&[(1.0, 3.0); 10]), None);
        assert_eq!(HeatingFit::of(&days[..6]), None);
    }

    #[test]
    fn counts_only_days_below_the_limit_against_the_room_temperature() {
        // 10 °C → 10 K·d, 14.9 → 5.1, 15 and 18 → nothing, −5 → 25.
        let g = heating_degree_days(&[10.0, 14.9, 15.0, 18.0, -5.0], BASE_C, INSIDE_C);
        assert!((g - 40.1).abs() < 1e-9, "{g}");
        // Heizgradtage G15: against the limit itself.
        let g15 = heating_degree_days(&[10.0, 14.9, 15.0, 18.0, -5.0], 15.0, 15.0);
        assert!((g15 - 25.1).abs() < 1e-9, "{g15}");
    }

    #[test]
    fn an_empty_or_warm_period_has_none_and_nan_is_skipped() {
        assert_eq!(heating_degree_days(&[], BASE_C, INSIDE_C), 0.0);
        assert_eq!(heating_degree_days(&[16.0, 25.0], BASE_C, INSIDE_C), 0.0);
        assert_eq!(heating_degree_days(&[f64::NAN, 10.0], BASE_C, INSIDE_C), 10.0);
    }

    #[test]
    fn scaling_touches_only_the_heating_share() {
        assert_eq!(scale(100.0, 150.0), Some(1.5));
        assert_eq!(scale(0.0, 150.0), None);
        // 1000 Wh, 60 % heating, 50 % colder: 400 + 600 · 1.5.
        assert!((weather_scaled(1000.0, 0.6, 100.0, 150.0) - 1300.0).abs() < 1e-9);
        assert_eq!(weather_scaled(1000.0, 0.6, 0.0, 150.0), 1000.0);
        assert_eq!(weather_scaled(1000.0, 0.0, 100.0, 300.0), 1000.0);
    }
}
