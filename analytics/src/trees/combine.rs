//! Combining a tree's sensors (depths) into one dryness, one forecast and one trend.
//!
//! `mean` weighs each depth by the share of the tree's roots in its layer ([`zw_model::tree::root`]);
//! depths with too few roots were left out before (`trees.min_root_share`, in [`crate::trees::status`]).
//!
//! Each trusted sensor with a forecast becomes a dryness curve `g(τ)` over the next days: from its current
//! value, its forecast drying hour by hour (the ET0 forecast times its drying per mm, or its trend spread by
//! its day rhythm; see [`crate::trees::sensor`]); a sensor without a forecast stays flat. The tree's curve is the worst (max) or the mean
//! of them ([`Combine`]); days until critical is where that curve first reaches 1, found on an hourly grid
//! and interpolated. For `worst` this equals the earliest sensor forecast.

use crate::config::Combine;
use crate::trees::scale::Scale;
use crate::trees::sensor::View;

/// A trusted sensor's view with its scale.
#[derive(Debug, Clone)]
pub struct Input {
    /// How its values map to dryness.
    pub scale: Scale,
    /// Current value in its unit.
    pub value: f64,
    /// Forecast change per hour in fit space from now on, if any.
    pub steps: Option<Vec<f64>>,
    /// Its weight in the `mean`: the share of the tree's roots in its layer (1 without depths).
    pub weight: f64,
}

impl Input {
    /// From a trusted view.
    pub fn of(scale: Scale, v: &View) -> Option<Input> {
        Some(Input {
            scale,
            value: v.value?,
            steps: v.steps.clone(),
            weight: 1.0,
        })
    }

    /// Dryness after a change of `change` in fit space.
    fn dryness_at(&self, change: f64) -> f64 {
        let y = self.scale.fit_space(self.value) + change;
        self.scale.dryness(self.scale.from_fit_space(y))
    }

    /// The forecast change over the first `hours` hours.
    fn change(&self, hours: usize) -> f64 {
        self.steps.as_ref().map_or(0.0, |s| s.iter().take(hours).sum())
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

/// The combined dryness when input `i` has changed by `drying(i)` in fit space.
fn curve(inputs: &[Input], how: Combine, drying: impl Fn(usize) -> f64) -> f64 {
    let it = inputs.iter().enumerate().map(|(i, x)| x.dryness_at(drying(i)));
    match how {
        Combine::Worst => it.fold(f64::MIN, f64::max),
        Combine::Mean => {
            let total: f64 = inputs.iter().map(|x| x.weight).sum();
            if total > 0.0 {
                it.zip(inputs).map(|(d, x)| d * x.weight).sum::<f64>() / total
            } else {
                it.sum::<f64>() / inputs.len() as f64
            }
        }
    }
}

/// Combines the trusted inputs; `None` when there are none.
pub fn combine(inputs: &[Input], how: Combine, horizon: f64) -> Option<Combined> {
    if inputs.is_empty() {
        return None;
    }
    let dryness = curve(inputs, how, |_| 0.0);
    let trending = inputs.iter().any(|i| i.steps.is_some());
    let trend_per_day = trending.then(|| curve(inputs, how, |i| inputs[i].change(24)) - dryness);
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

/// Steps hour by hour, each input changing by its forecast for the hour, until the curve reaches 1.
fn first_crossing(inputs: &[Input], how: Combine, at0: f64, horizon: f64) -> Option<f64> {
    let mut drying = vec![0.0; inputs.len()];
    let mut prev = at0;
    for k in 0..(horizon * 24.0).ceil() as usize {
        for (d, x) in drying.iter_mut().zip(inputs) {
            *d += x.steps.as_ref().and_then(|s| s.get(k)).copied().unwrap_or(0.0);
        }
        let g = curve(inputs, how, |i| drying[i]);
        if g >= 1.0 {
            let frac = if g > prev { (1.0 - prev) / (g - prev) } else { 1.0 };
            return Some((k as f64 + frac) / 24.0).filter(|d| *d <= horizon);
        }
        prev = g;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TreesConfig;

    /// A tension input drying evenly at `slope` per day (fit space) over ten days.
    fn tension(v: f64, slope: Option<f64>) -> Input {
        Input {
            scale: crate::trees::scale::tension(&TreesConfig::default()),
            value: v,
            steps: slope.map(|s| vec![s / 24.0; 240]),
            weight: 1.0,
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

    #[test]
    fn the_mean_weighs_depths_by_their_roots() {
        // Dryness 0.5 at 33 kPa (the top, 80 % of the roots) and 0.5/33 at 1 kPa (below, 20 %).
        let mut top = tension(33.0, None);
        let mut deep = tension(1.0, None);
        (top.weight, deep.weight) = (0.8, 0.2);
        let c = combine(&[top, deep], Combine::Mean, 10.0).expect("inputs");
        assert!((c.dryness - (0.4 + 0.2 * 0.5 / 33.0)).abs() < 1e-9, "{c:?}");
    }
}
