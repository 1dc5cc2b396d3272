//! The learned normal of one subject (a device or a site total): per hour of the week, the median, the
//! median absolute deviation (MAD) and a high quantile of the window means seen in that hour over the last
//! weeks.
//!
//! The same statistics per hour of the day, pooled over weekdays and over weekends, catch loads that run on
//! some days only. Median and MAD are robust: one odd week (a holiday, a broken heater that is being alerted on) moves them
//! little, unlike mean and standard deviation. Each hour keeps a ring of the last `history_weeks × windows
//! per hour` samples; statistics are recomputed when a sample arrives (once per window, not per reading),
//! so checking a reading against the normal is a lookup.

use statrs::statistics::{Data, OrderStatistics};

use crate::config::NormalConfig;

/// Hours in a week.
pub const HOURS: usize = 168;

/// MAD → standard deviation for normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    len: u16,
    pos: u16,
    median: f32,
    mad: f32,
    high: f32,
}

/// What a value is compared with: the usual value, the alert threshold and the clear level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// The median of the hour.
    pub expected: f64,
    /// Above this the condition holds.
    pub threshold: f64,
    /// Below this the condition may clear.
    pub clear: f64,
    /// Samples behind the median.
    pub samples: usize,
}

/// Which learned hour a baseline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// An hour of the week (0 = Monday 00:00).
    Week(usize),
    /// An hour of the day on weekdays (Monday–Friday).
    Weekdays(usize),
    /// An hour of the day on weekends.
    Weekends(usize),
}

impl Slot {
    /// "Tuesday 02:00", "weekdays 08:00", "weekends 14:00".
    pub fn name(self) -> String {
        match self {
            Slot::Week(h) => crate::calendar::hour_of_week_name(h),
            Slot::Weekdays(h) => format!("weekdays {h:02}:00"),
            Slot::Weekends(h) => format!("weekends {h:02}:00"),
        }
    }
}

/// Fixed-size rings of samples with their statistics, one per bucket.
#[derive(Debug, Clone)]
struct Rings {
    n: usize,
    cap: usize,
    buckets: Vec<Bucket>,
    samples: Vec<f32>,
}

impl Rings {
    fn new(n: usize, cap: usize) -> Self {
        Self {
            n,
            cap: cap.clamp(1, 512),
            buckets: Vec::new(),
            samples: Vec::new(),
        }
    }

    fn push(&mut self, i: usize, value: f64, q_high: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![Bucket::default(); self.n];
            self.samples = vec![0.0; self.n * self.cap];
        }
        let cap = self.cap;
        let b = &mut self.buckets[i];
        let ring = &mut self.samples[i * cap..(i + 1) * cap];
        ring[usize::from(b.pos)] = value as f32;
        b.pos = ((usize::from(b.pos) + 1) % cap) as u16;
        b.len = (usize::from(b.len) + 1).min(cap) as u16;
        let mut scratch = [0.0f64; 512];
        let n = usize::from(b.len);
        for (s, v) in scratch.iter_mut().zip(&ring[..n]) {
            *s = f64::from(*v);
        }
        b.high = quantile(&mut scratch[..n], q_high) as f32;
        let (median, mad) = median_mad(&mut scratch[..n]);
        b.median = median as f32;
        b.mad = mad as f32;
    }

    fn baseline(
        &self,
        i: usize,
        min_samples: usize,
        cfg: &NormalConfig,
        hysteresis: f64,
    ) -> Option<Baseline> {
        let b = self.buckets.get(i)?;
        let n = usize::from(b.len);
        if n < min_samples.max(1) {
            return None;
        }
        let (median, mad, high) = (f64::from(b.median), f64::from(b.mad), f64::from(b.high));
        let margin = (cfg.k_mad * MAD_TO_SIGMA * mad)
            .max(cfg.floor(median))
            .max(high + cfg.high_margin * high.abs() - median);
        let threshold = median + margin;
        Some(Baseline {
            expected: median,
            threshold,
            clear: threshold - hysteresis * margin,
            samples: n,
        })
    }
}

/// The learned normal: per hour of the week, and per hour of the day on weekdays and on weekends.
#[derive(Debug, Clone)]
pub struct Normal {
    q_high: f64,
    week: Rings,
    day: Rings,
}

impl Normal {
    /// An empty normal keeping `cap` samples per hour of the week (and five times that per hour of the day,
    /// the same span on weekdays).
    /// Storage is allocated on the first sample.
    pub fn new(cap: usize, q_high: f64) -> Self {
        Self {
            q_high,
            week: Rings::new(HOURS, cap),
            day: Rings::new(48, 5 * cap),
        }
    }

    /// Adds a window mean observed in hour-of-week `how`.
    pub fn push(&mut self, how: usize, value: f64) {
        if how >= HOURS || !value.is_finite() {
            return;
        }
        self.week.push(how, value, self.q_high);
        self.day.push(day_bucket(how), value, self.q_high);
    }

    /// Learns a window mean unless it is an outlier for its own hour of the week (above that hour's
    /// threshold, once the hour has `min_samples`): the neighbours and pooled hours widen what may *alert*,
    /// but an anomaly that stayed below them (a heater stuck right after its morning boost) must not
    /// become the normal of its hour. Returns whether it was learned.
    pub fn learn(&mut self, how: usize, value: f64, min_samples: usize, cfg: &NormalConfig) -> bool {
        let outlier = self
            .week
            .baseline(how, min_samples, cfg, 0.0)
            .is_some_and(|b| value > b.threshold);
        if !outlier {
            self.push(how, value);
        }
        !outlier
    }

    /// Samples held for hour-of-week `how`.
    pub fn samples(&self, how: usize) -> usize {
        self.week.buckets.get(how).map_or(0, |b| usize::from(b.len))
    }

    /// The baseline at hour-of-week `how`: the highest threshold among that hour of the week, the hours
    /// next to it, and the same three hours of the day on the same kind of day (weekday, weekend), each
    /// once it has `min_samples` samples (hours of the day: as many days' worth, so they start together). The neighbours tolerate schedules that shift by less than an hour
    /// (a heating boost at 05:30 one day, 06:10 the next); the hour of the day pools all weekdays, so a load
    /// that runs on some mornings (a fan heater on cold days) is usual on every weekday morning.
    pub fn baseline(
        &self,
        how: usize,
        min_samples: usize,
        cfg: &NormalConfig,
        hysteresis: f64,
    ) -> Option<(Slot, Baseline)> {
        // Neighbours only ever raise the threshold of an hour that has its own history.
        self.week.baseline(how, min_samples, cfg, hysteresis)?;
        let near = [how, (how + HOURS - 1) % HOURS, (how + 1) % HOURS];
        let week = near
            .into_iter()
            .map(|h| (Slot::Week(h), self.week.baseline(h, min_samples, cfg, hysteresis)));
        let day = near.into_iter().map(|h| {
            let i = day_bucket(h);
            let slot = if i < 24 {
                Slot::Weekdays(i)
            } else {
                Slot::Weekends(i - 24)
            };
            (
                slot,
                self.day
                    .baseline(i, min_samples * if i < 24 { 5 } else { 2 }, cfg, hysteresis),
            )
        });
        // The hour of the week itself first, so it wins ties.
        week.chain(day)
            .filter_map(|(s, b)| Some((s, b?)))
            .fold(None, |best: Option<(Slot, Baseline)>, x| match best {
                Some(b) if b.1.threshold >= x.1.threshold => Some(b),
                _ => Some(x),
            })
    }

    /// The high quantile (`normal.q_high`) of exactly hour-of-week `how`'s window means, once it has at
    /// least `min_samples` samples: what the hour has usually reached.
    pub fn usual_high(&self, how: usize, min_samples: usize) -> Option<f64> {
        let b = self.week.buckets.get(how)?;
        (usize::from(b.len) >= min_samples.max(1)).then_some(f64::from(b.high))
    }

    /// The baseline of exactly hour-of-week `how`, once it has at least `min_samples` samples.
    pub fn hour(
        &self,
        how: usize,
        min_samples: usize,
        cfg: &NormalConfig,
        hysteresis: f64,
    ) -> Option<Baseline> {
        self.week.baseline(how, min_samples, cfg, hysteresis)
    }
}

/// Weekday hours are buckets 0–23, weekend hours 24–47.
fn day_bucket(how: usize) -> usize {
    if how / 24 >= 5 { 24 + how % 24 } else { how % 24 }
}

/// Median and MAD of `xs` (reordered in place). Both 0 for an empty slice.
pub fn median_mad(xs: &mut [f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let median = Data::new(&mut *xs).median();
    for x in xs.iter_mut() {
        *x = (*x - median).abs();
    }
    let mad = Data::new(&mut *xs).median();
    (median, mad)
}

/// The R-8 quantile `q` of `xs` (reordered in place); NaN for an empty slice.
pub fn quantile(xs: &mut [f64], q: f64) -> f64 {
    Data::new(xs).quantile(q)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn median_and_mad_table() {
        let cases: [(&[f64], f64, f64); 4] = [
            (&[1.0], 1.0, 0.0),
            (&[1.0, 2.0, 3.0, 4.0, 100.0], 3.0, 1.0),
            (&[5.0, 5.0, 5.0, 5.0], 5.0, 0.0),
            (&[1.0, 3.0], 2.0, 1.0),
        ];
        for (xs, m, d) in cases {
            assert_eq!(median_mad(&mut xs.to_vec()), (m, d), "{xs:?}");
        }
    }

    #[test]
    fn baseline_needs_samples_and_respects_margins() {
        let cfg = NormalConfig::default();
        let mut n = Normal::new(8, 0.9);
        assert_eq!(n.hour(26, 1, &cfg, 0.3), None);
        for v in [1000.0, 1010.0, 990.0, 1005.0] {
            n.push(26, v);
        }
        assert_eq!(n.hour(26, 5, &cfg, 0.3), None);
        let b = n.hour(26, 4, &cfg, 0.3).expect("enough samples");
        // MAD is tiny, so the relative margin (50 % of ~1 kW) wins.
        assert!((b.expected - 1002.5).abs() < 1.0, "{b:?}");
        assert!((b.threshold - 1.5 * b.expected).abs() < 1.0, "{b:?}");
        assert!(b.clear < b.threshold && b.clear > b.expected);
        assert_eq!(n.samples(27), 0);
    }

    #[test]
    fn neighbouring_hours_tolerate_shifted_schedules() {
        let cfg = NormalConfig::default();
        let mut n = Normal::new(4, 0.9);
        for _ in 0..4 {
            n.push(5, 500.0);
            n.push(6, 2000.0);
        }
        let (h, b) = n.baseline(5, 4, &cfg, 0.3).expect("baseline");
        assert_eq!((h, b.expected), (Slot::Week(6), 2000.0));
        assert_eq!(n.baseline(8, 4, &cfg, 0.3), None);
        // Tuesday 05:00 has no history of its own: neighbours only ever raise the threshold of an hour that
        // has, so there is no baseline (and no alert) until it has learned its own normal.
        assert_eq!(n.baseline(24 + 5, 4, &cfg, 0.3), None);
    }

    #[test]
    fn ring_forgets_the_oldest() {
        let mut n = Normal::new(3, 0.9);
        for v in [100.0, 100.0, 100.0, 5.0, 5.0] {
            n.push(0, v);
        }
        let b = n.hour(0, 3, &NormalConfig::default(), 0.0).expect("baseline");
        assert_eq!(b.expected, 5.0);
    }

    proptest! {
        /// A single outlier among many equal values never moves the median.
        #[test]
        fn median_ignores_one_outlier(v in 0.0f64..1e6, outlier in -1e9f64..1e9, n in 3usize..40) {
            let mut xs = vec![v; n];
            xs.push(outlier);
            let (m, mad) = median_mad(&mut xs);
            prop_assert_eq!(m, v);
            prop_assert_eq!(mad, 0.0);
        }
    }
}
