//! The streaming half: [`CounterTracker`] turns counter readings, in time order, into [`Interval`]s.
//!
//! State is one baseline (the last trusted reading) and at most one pending *dip* (a lower reading that is
//! either a glitch, e.g. "unavailable" recorded as 0, or a real reset). The reading after a dip decides:
//! back at or above the baseline → glitch, the consumption since the baseline counts and the dip is
//! discarded; still below → reset confirmed, the time from the baseline to the dip is unknown and counting
//! continues from the dip. Either way no energy is invented.

use chrono::{DateTime, TimeDelta, Utc};

use super::CounterConfig;

/// Why an interval has the consumption it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntervalKind {
    /// Two readings at most `max_gap` apart; `wh` is spread linearly over the interval.
    Measured,
    /// Readings further apart than `max_gap`: `wh` is known only for the interval as a whole.
    Gap,
    /// The counter wrapped at its configured modulus; `wh` includes the wrap.
    Rollover,
    /// A glitch (a lower reading) came back to the baseline; `wh` is the growth across the glitch.
    Recovered,
    /// The counter was reset (reboot, meter swap to a lower reading): consumption unknown.
    Reset,
    /// The counter grew faster than `max_power_w` allows (meter swap, bad value): consumption unknown.
    Jump,
}

/// Consumption between two instants, or the statement that it is unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Start (the earlier reading).
    pub from: DateTime<Utc>,
    /// End (the later reading).
    pub to: DateTime<Utc>,
    /// Consumed energy in Wh, never negative; `None` when it cannot be known.
    pub wh: Option<f64>,
    /// Why.
    pub kind: IntervalKind,
}

/// What one observed reading did to the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Note {
    /// First reading: the baseline; nothing to attribute yet.
    Baseline,
    /// Normal growth (or none), counted.
    Counted,
    /// A small decrease within the jitter tolerance: counted as 0, the higher baseline kept.
    Jitter,
    /// Growth across a gap longer than `max_gap`.
    Gap,
    /// A wrap at the configured modulus.
    Rollover,
    /// A decrease beyond jitter: held until the next reading tells glitch from reset.
    Dip,
    /// The reading after a dip came back: the dip was a glitch.
    Recovered,
    /// The reading after a dip stayed low: a reset, the time up to the dip is unknown.
    Reset,
    /// Implausibly fast growth: unknown, counting restarts from this reading.
    Jump,
    /// Same timestamp as the previous reading: ignored (the first one wins).
    Duplicate,
    /// Older than the previous reading: ignored.
    OutOfOrder,
    /// NaN, infinite or negative: ignored.
    Invalid,
}

/// The outcome of [`CounterTracker::observe`]: a note and zero, one or two intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// What happened.
    pub note: Note,
    intervals: [Option<Interval>; 2],
}

impl Step {
    fn new(note: Note) -> Self {
        Self {
            note,
            intervals: [None, None],
        }
    }

    fn with(note: Note, interval: Interval) -> Self {
        Self {
            note,
            intervals: [Some(interval), None],
        }
    }

    /// The intervals this reading closed, oldest first.
    pub fn intervals(&self) -> impl Iterator<Item = Interval> + '_ {
        self.intervals.iter().flatten().copied()
    }
}

/// Turns one counter's readings, in time order, into intervals of consumption.
#[derive(Debug, Clone)]
pub struct CounterTracker {
    cfg: CounterConfig,
    /// The trusted baseline: (time, value).
    base: Option<(DateTime<Utc>, f64)>,
    /// A lower reading awaiting confirmation.
    dip: Option<(DateTime<Utc>, f64)>,
    /// Time of the latest accepted reading (baseline or dip), for ordering.
    latest: Option<DateTime<Utc>>,
}

impl CounterTracker {
    /// A tracker with no readings yet.
    pub fn new(cfg: CounterConfig) -> Self {
        Self {
            cfg,
            base: None,
            dip: None,
            latest: None,
        }
    }

    /// Feeds one reading (time, counter value in Wh).
    pub fn observe(&mut self, ts: DateTime<Utc>, value: f64) -> Step {
        if !value.is_finite() || value < 0.0 {
            return Step::new(Note::Invalid);
        }
        match self.latest {
            Some(t) if ts < t => return Step::new(Note::OutOfOrder),
            Some(t) if ts == t => return Step::new(Note::Duplicate),
            _ => self.latest = Some(ts),
        }
        let Some((t0, v0)) = self.base else {
            self.base = Some((ts, value));
            return Step::new(Note::Baseline);
        };
        let Some((t1, v1)) = self.dip.take() else {
            return self.step(ts, value);
        };
        if value >= v0 - self.tolerance(v0) {
            let mut s = self.step(ts, value);
            if s.note == Note::Counted || s.note == Note::Jitter {
                s.note = Note::Recovered;
                if let Some(i) = s.intervals[0].as_mut() {
                    i.kind = IntervalKind::Recovered;
                }
            }
            return s;
        }
        // Reset confirmed: nothing is known between the baseline and the dip; count on from the dip.
        let reset = Interval {
            from: t0,
            to: t1,
            wh: None,
            kind: IntervalKind::Reset,
        };
        self.base = Some((t1, v1));
        let next = self.step(ts, value);
        Step {
            note: Note::Reset,
            intervals: [Some(reset), next.intervals[0]],
        }
    }

    /// Closes a pending dip at the end of the data: the time up to it is unknown. Returns that interval.
    pub fn finish(&mut self) -> Option<Interval> {
        let (t1, v1) = self.dip.take()?;
        let (t0, _) = self.base.replace((t1, v1))?;
        Some(Interval {
            from: t0,
            to: t1,
            wh: None,
            kind: IntervalKind::Reset,
        })
    }

    /// Decreases up to this size are jitter.
    fn tolerance(&self, v: f64) -> f64 {
        self.cfg.jitter_wh.max(v * 1e-6)
    }

    /// Most energy a device may plausibly use in `dt`, plus the jitter tolerance.
    fn plausible(&self, dt: TimeDelta, v: f64) -> f64 {
        let hours = dt.num_milliseconds() as f64 / 3.6e6;
        self.cfg.max_power_w * hours + self.tolerance(v)
    }

    /// A reading against the baseline, with no dip pending.
    fn step(&mut self, ts: DateTime<Utc>, v: f64) -> Step {
        let Some((t0, v0)) = self.base else {
            self.base = Some((ts, v));
            return Step::new(Note::Baseline);
        };
        let dt = ts - t0;
        let gap = dt > self.cfg.max_gap;
        let known = |wh: f64, kind: IntervalKind| Interval {
            from: t0,
            to: ts,
            wh: Some(wh),
            kind: if gap { IntervalKind::Gap } else { kind },
        };
        let d = v - v0;
        if d >= 0.0 {
            if d > self.plausible(dt, v) {
                self.base = Some((ts, v));
                let i = Interval {
                    from: t0,
                    to: ts,
                    wh: None,
                    kind: IntervalKind::Jump,
                };
                return Step::with(Note::Jump, i);
            }
            self.base = Some((ts, v));
            let note = if gap { Note::Gap } else { Note::Counted };
            return Step::with(note, known(d, IntervalKind::Measured));
        }
        if -d <= self.tolerance(v0) {
            // Keep the higher value: jitter must not be counted twice on the way back up.
            self.base = Some((ts, v0));
            return Step::with(Note::Jitter, known(0.0, IntervalKind::Measured));
        }
        if let Some(m) = self.cfg.rollover_wh {
            let wrapped = m - v0 + v;
            if v0 <= m && wrapped >= 0.0 && wrapped <= self.plausible(dt, v) {
                self.base = Some((ts, v));
                return Step::with(Note::Rollover, known(wrapped, IntervalKind::Rollover));
            }
        }
        self.dip = Some((ts, v));
        Step::new(Note::Dip)
    }
}
