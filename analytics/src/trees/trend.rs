//! The drying trend: a Theil–Sen line through a sensor's hourly means, and the forecast it gives.
//!
//! Theil–Sen takes the median of the slopes between pairs of points, so a handful of bad points (a noisy
//! hour, the tail of a shower) cannot tilt it, unlike least squares. Only pairs a whole number of days
//! apart (± [`PAIR_TOLERANCE_DAYS`]) vote: soil dries by day and rests at night, and a pair from morning
//! to evening would count a whole day's drying in half a day. Whole-day pairs cancel the diurnal rhythm.
//! The forecast anchors at the current value and extrapolates the slope: the level is known, only the
//! rate is estimated.

use statrs::statistics::{Data, OrderStatistics};

/// How far from a whole number of days a pair may be and still vote.
pub const PAIR_TOLERANCE_DAYS: f64 = 1.5 / 24.0;

/// The median slope of the pairs of `(x, y)` points (x in days) a whole number of days apart, or `None`
/// with fewer than two such pairs. `scratch` is reused between calls.
pub fn theil_sen(points: &[(f64, f64)], scratch: &mut Vec<f64>) -> Option<f64> {
    scratch.clear();
    for (i, &(xi, yi)) in points.iter().enumerate() {
        for &(xj, yj) in &points[i + 1..] {
            let dx = xj - xi;
            if dx.abs() >= 1.0 - PAIR_TOLERANCE_DAYS && (dx - dx.round()).abs() <= PAIR_TOLERANCE_DAYS {
                scratch.push((yj - yi) / dx);
            }
        }
    }
    if scratch.len() < 2 {
        return None;
    }
    Some(Data::new(scratch.as_mut_slice()).median())
}

/// How a day's drying spreads over its hours (UTC hour of day → share, summing to 1). Soil dries by day
/// and rests at night; a forecast that knows this puts the crossing at the right time of day.
pub type Rhythm = [f64; 24];

/// The uniform rhythm (no knowledge of the day's course).
pub const UNIFORM: Rhythm = [1.0 / 24.0; 24];

/// Days from now until `gap` (fit units, positive in the drying direction) is dried away at `rate` per
/// day spread by `rhythm`, starting at UTC hour-of-day `hour`. `None` if not within `horizon` days.
pub fn days_with_rhythm(gap: f64, rate: f64, rhythm: &Rhythm, hour: usize, horizon: f64) -> Option<f64> {
    if gap > 0.0 && rate <= 0.0 {
        return None;
    }
    days_with_steps(gap, (0..).map(|k| rate * rhythm[(hour + k) % 24]), horizon)
}

/// Days from the start of the current hour until `gap` (fit units, positive in the drying direction) is
/// dried away by `steps`, the drying of each hour from now on (same direction). `None` if not within
/// `horizon` days or not drying.
pub fn days_with_steps(gap: f64, steps: impl Iterator<Item = f64>, horizon: f64) -> Option<f64> {
    if gap <= 0.0 {
        return Some(0.0);
    }
    let mut left = gap;
    for (k, w) in steps.take((horizon * 24.0).ceil() as usize).enumerate() {
        if w > 0.0 && w >= left {
            return Some((k as f64 + left / w) / 24.0).filter(|d| *d <= horizon);
        }
        left -= w.max(0.0);
    }
    None
}

/// Days until the value in fit space goes from `now` to `critical`, moving at `slope` per day, where
/// `sign` is +1 if drying raises the value and −1 if it lowers it. `Some(0)` when already critical,
/// `None` when not drying or further away than `horizon` days.
pub fn days_until(now: f64, critical: f64, slope: f64, sign: f64, horizon: f64) -> Option<f64> {
    let gap = sign * (critical - now);
    if gap <= 0.0 {
        return Some(0.0);
    }
    let rate = sign * slope;
    if rate <= 0.0 {
        return None;
    }
    let days = gap / rate;
    (days <= horizon).then_some(days)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn whole_day_pairs_cancel_the_diurnal_rhythm() {
        // Drying only from 06 to 18 h: 0.6 per day, in steps.
        let pts: Vec<(f64, f64)> = (0..96)
            .map(|h| {
                let (d, hh) = (f64::from(h / 24), f64::from(h % 24));
                (f64::from(h) / 24.0, 0.6 * d + 0.05 * (hh - 6.0).clamp(0.0, 12.0))
            })
            .collect();
        let s = theil_sen(&pts, &mut Vec::new()).expect("slope");
        assert!((s - 0.6).abs() < 1e-9, "{s}");
    }

    #[test]
    fn recovers_a_line_despite_outliers() {
        let mut pts: Vec<(f64, f64)> = (0..96)
            .map(|h| (f64::from(h) / 24.0, 3.0 + 0.4 * f64::from(h) / 24.0))
            .collect();
        pts[10].1 = 40.0;
        pts[50].1 = -20.0;
        pts[70].1 = 9.0;
        let s = theil_sen(&pts, &mut Vec::new()).expect("slope");
        assert!((s - 0.4).abs() < 1e-9, "{s}");
        assert_eq!(theil_sen(&pts[..3], &mut Vec::new()), None);
    }

    #[test]
    fn rhythm_puts_the_crossing_in_daytime() {
        let mut day = [0.0; 24];
        for w in &mut day[6..18] {
            *w = 1.0 / 12.0;
        }
        // Half a day of drying left at midnight: uniform says 12 h, the rhythm says noon.
        assert_eq!(
            days_with_rhythm(0.5, 1.0, &UNIFORM, 0, 10.0).map(|d| (d * 24.0).round()),
            Some(12.0)
        );
        assert_eq!(
            days_with_rhythm(0.5, 1.0, &day, 0, 10.0).map(|d| (d * 24.0).round()),
            Some(12.0)
        );
        assert_eq!(
            days_with_rhythm(0.25, 1.0, &day, 0, 10.0).map(|d| (d * 24.0).round()),
            Some(9.0)
        );
        assert_eq!(
            days_with_rhythm(0.25, 1.0, &day, 20, 10.0).map(|d| (d * 24.0).round()),
            Some(13.0)
        );
        assert_eq!(days_with_rhythm(5.0, 0.1, &day, 0, 10.0), None);
    }

    #[test]
    fn days_until_table() {
        let cases = [
            (3.0, 4.0, 0.5, 1.0, Some(2.0)),
            (4.5, 4.0, 0.5, 1.0, Some(0.0)),
            (3.0, 4.0, -0.1, 1.0, None),
            (3.0, 4.0, 0.01, 1.0, None),
            (25.0, 21.0, -1.0, -1.0, Some(4.0)),
        ];
        for (now, crit, slope, sign, want) in cases {
            assert_eq!(
                days_until(now, crit, slope, sign, 10.0),
                want,
                "{now} {crit} {slope}"
            );
        }
    }

    proptest! {
        #[test]
        fn even_steps_take_gap_over_rate(gap in 0.01f64..5.0, rate in 0.05f64..3.0, skip in 0usize..24) {
            // The same drying every hour: the crossing is at gap / rate days, wherever the day starts.
            let days = days_with_steps(gap, std::iter::repeat(rate / 24.0), 10.0);
            let want = gap / rate;
            if want <= 10.0 - 1e-9 {
                prop_assert!(days.is_some_and(|d| (d - want).abs() < 1e-9), "{:?} vs {}", days, want);
            } else if want > 10.0 + 1e-9 {
                prop_assert_eq!(days, None);
            }
            // A rhythm only moves the crossing within the day it falls in.
            let mut day = [0.0; 24];
            day[6..18].iter_mut().for_each(|w| *w = 1.0 / 12.0);
            if let (Some(a), Some(b)) = (days, days_with_rhythm(gap, rate, &day, skip, 10.0)) {
                prop_assert!((a - b).abs() <= 1.0, "{} vs {}", a, b);
            }
        }

        #[test]
        fn slope_of_a_noisy_line_is_close(slope in -2.0f64..2.0, noise in proptest::collection::vec(-0.05f64..0.05, 72)) {
            let pts: Vec<(f64, f64)> = noise.iter().enumerate().map(|(h, n)| {
                let x = h as f64 / 24.0;
                (x, 1.0 + slope * x + n)
            }).collect();
            let s = theil_sen(&pts, &mut Vec::new()).expect("slope");
            prop_assert!((s - slope).abs() < 0.2, "{} vs {}", s, slope);
        }
    }
}
