//! Combining a tree's sensors (depths) into one dryness, one forecast and one trend.
//!
//! Each trusted sensor with a trend becomes a dryness curve `g(τ)` over the next days (its fitted slope from
//! its current value; a sensor without a trend stays flat). The tree's curve is the worst (max) or the mean
//! of them ([`Combine`]); days until critical is where that curve first reaches 1, found on an hourly grid
//! and interpolated. For `worst` this equals the earliest sensor forecast.

use crate::config::Combine;
use crate::trees::scale::Scale;
use crate::trees::sensor::View;

/// A trusted sensor's view with its scale.
#[derive(Debug, Clone, Copy)]
pub struct Input {
    /// How its values map to dryness.
    pub scale: Scale,
    /// Current value in its unit.
    pub value: f64,
    /// Trend in fit space per day.
    pub slope: Option<f64>,
}

impl Input {
    /// From a trusted view.
    pub fn of(scale: Scale, v: &View) -> Option<Input> {
        Some(Input {
            scale,
            value: v.value?,
            slope: v.slope,
        })
    }

    fn dryness_at(&self, days: f64) -> f64 {
        let y = self.scale.fit_space(self.value) + self.slope.unwrap_or(0.0) * days;
        self.scale.dryness(self.scale.from_fit_space(y))
    }
}

/// The tree's combined view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combined {
    /// Dryness now.
    pub dryness: f64,
    /// Change of dryness over the next day.
    pub trend_per_day: Option<f64>,
    /// Days until critical (0 when critical), within the horizon.
    pub days: Option<f64>,
}

fn curve(inputs: &[Input], how: Combine, days: f64) -> f64 {
    let it = inputs.iter().map(|i| i.dryness_at(days));
    match how {
        Combine::Worst => it.fold(f64::MIN, f64::max),
        Combine::Mean => it.sum::<f64>() / inputs.len() as f64,
    }
}

/// Combines the trusted inputs; `None` when there are none.
pub fn combine(inputs: &[Input], how: Combine, horizon: f64) -> Option<Combined> {
    if inputs.is_empty() {
        return None;
    }
    let dryness = curve(inputs, how, 0.0);
    let trending = inputs.iter().any(|i| i.slope.is_some());
    let trend_per_day = trending.then(|| curve(inputs, how, 1.0) - dryness);
    let days = if dryness >= 1.0 {
        Some(0.0)
    } else if trending {
        first_crossing(inputs, how, dryness, horizon)
    } else {
        None
    };
    Some(Combined {
        dryness,
        trend_per_day,
        days,
    })
}

fn first_crossing(inputs: &[Input], how: Combine, at0: f64, horizon: f64) -> Option<f64> {
    const STEP: f64 = 1.0 / 24.0;
    let (mut t, mut prev) = (0.0, at0);
    while t < horizon {
        let next_t = (t + STEP).min(horizon);
        let g = curve(inputs, how, next_t);
        if g >= 1.0 {
            let frac = if g > prev { (1.0 - prev) / (g - prev) } else { 1.0 };
            return Some(t + frac * (next_t - t));
        }
        (t, prev) = (next_t, g);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TreesConfig;

    fn tension(v: f64, slope: Option<f64>) -> Input {
        Input {
            scale: Scale::tension(&TreesConfig::default()),
            value: v,
            slope,
        }
    }

    #[test]
    fn worst_and_mean_table() {
        // ln(81/40.5) = ln 2: a slope of ln(2)/2 per day doubles tension in 2 days.
        let half = std::f64::consts::LN_2 / 2.0;
        let cases: Vec<(Vec<Input>, Combine, Option<f64>)> = vec![
            (vec![tension(40.5, Some(half))], Combine::Worst, Some(2.0)),
            (
                vec![tension(40.5, Some(half)), tension(10.0, None)],
                Combine::Worst,
                Some(2.0),
            ),
            (
                vec![tension(90.0, None), tension(10.0, None)],
                Combine::Worst,
                Some(0.0),
            ),
            (
                vec![tension(90.0, None), tension(10.0, None)],
                Combine::Mean,
                None,
            ),
            (vec![tension(40.5, Some(-0.1))], Combine::Worst, None),
        ];
        for (inputs, how, want) in cases {
            let got = combine(&inputs, how, 10.0).expect("inputs").days;
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 0.01, "{inputs:?} {how:?}: {g}"),
                (g, w) => assert_eq!(g, w, "{inputs:?} {how:?}"),
            }
        }
        assert_eq!(combine(&[], Combine::Worst, 10.0), None);
    }
}
