//! The one state machine every detector uses: a condition must hold for a while before it counts, and must
//! stay below a lower clear level for a while before it ends. That is what keeps alerts from flapping.
//!
//! ```text
//!            above                held ≥ hold                 below clear level
//!   Idle ───────────► Pending ───────────────► Active ◄──────────────────────► Clearing
//!    ▲  ◄─────────────    │ not above          (Opened)     not below clear      │ held ≥ clear_hold
//!    └────────────────────┴──────────────────────────────────────────────────────┘ (Closed)
//! ```
//!
//! "Above" and "below the clear level" are decided by the caller, so the gap between the two levels (the
//! hysteresis) belongs to each detector. Times are milliseconds since the epoch, injected.

/// Where a condition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Nothing to see.
    #[default]
    Idle,
    /// Above since `since`, not yet for long enough.
    Pending {
        /// When it first went above.
        since: i64,
    },
    /// Holds; an alert is open.
    Active {
        /// When it first went above (the alert's "since").
        since: i64,
    },
    /// Holds, but has been below the clear level since `below`.
    Clearing {
        /// When it first went above.
        since: i64,
        /// When it went below the clear level.
        below: i64,
    },
}

/// What one update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed that an alert would show.
    None,
    /// The condition has held long enough: open an alert, since `since`.
    Opened {
        /// When it first went above.
        since: i64,
    },
    /// The condition ended.
    Closed,
}

/// A hold-and-hysteresis condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Condition {
    /// Current phase.
    pub phase: Phase,
}

impl Condition {
    /// Feeds one observation at `t`: `above` the threshold, or `below_clear` (under the clear level; implies
    /// not above). `hold` and `clear_hold` are in milliseconds.
    pub fn update(
        &mut self,
        t: i64,
        above: bool,
        below_clear: bool,
        hold: i64,
        clear_hold: i64,
    ) -> Transition {
        let (phase, transition) = match self.phase {
            Phase::Idle if above => Self::pending(t, t, hold),
            Phase::Idle => (Phase::Idle, Transition::None),
            Phase::Pending { since } if above => Self::pending(since, t, hold),
            Phase::Pending { .. } => (Phase::Idle, Transition::None),
            Phase::Active { since } if below_clear => Self::clearing(since, t, t, clear_hold),
            Phase::Active { since } => (Phase::Active { since }, Transition::None),
            Phase::Clearing { since, below } if below_clear => Self::clearing(since, below, t, clear_hold),
            Phase::Clearing { since, .. } => (Phase::Active { since }, Transition::None),
        };
        self.phase = phase;
        transition
    }

    fn pending(since: i64, t: i64, hold: i64) -> (Phase, Transition) {
        if t - since >= hold {
            (Phase::Active { since }, Transition::Opened { since })
        } else {
            (Phase::Pending { since }, Transition::None)
        }
    }

    fn clearing(since: i64, below: i64, t: i64, clear_hold: i64) -> (Phase, Transition) {
        if t - below >= clear_hold {
            (Phase::Idle, Transition::Closed)
        } else {
            (Phase::Clearing { since, below }, Transition::None)
        }
    }

    /// Ends the condition at once (no data, out of season); `Closed` if an alert was open.
    pub fn reset(&mut self) -> Transition {
        let was_active = self.is_active();
        self.phase = Phase::Idle;
        if was_active {
            Transition::Closed
        } else {
            Transition::None
        }
    }

    /// Marks the condition active since `since` (an alert restored after a restart), so it ends through
    /// the normal clear path instead of opening again.
    pub fn restore(&mut self, since: i64) {
        self.phase = Phase::Active { since };
    }

    /// Whether an alert is open for this condition.
    pub fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. } | Phase::Clearing { .. })
    }

    /// Whether the condition is above or active (pending counts).
    pub fn is_engaged(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// Since when the condition holds (pending or active).
    pub fn since(&self) -> Option<i64> {
        match self.phase {
            Phase::Idle => None,
            Phase::Pending { since } | Phase::Active { since } | Phase::Clearing { since, .. } => Some(since),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOLD: i64 = 10;
    const CLEAR: i64 = 5;

    /// Feeds `(above, below_clear)` once per time unit and records transitions.
    fn run(inputs: &[(bool, bool)]) -> Vec<(i64, Transition)> {
        let mut c = Condition::default();
        inputs
            .iter()
            .enumerate()
            .map(|(t, &(a, b))| (t as i64, c.update(t as i64, a, b, HOLD, CLEAR)))
            .filter(|(_, tr)| *tr != Transition::None)
            .collect()
    }

    #[test]
    fn table_of_histories() {
        let above = (true, false);
        let between = (false, false);
        let below = (false, true);
        let rep = |x: (bool, bool), n: usize| vec![x; n];
        type Case<'a> = (&'a str, Vec<(bool, bool)>, Vec<(i64, Transition)>);
        let cases: Vec<Case> = vec![
            ("short spike", [rep(above, 5), rep(below, 20)].concat(), vec![]),
            (
                "held opens at hold",
                rep(above, 12),
                vec![(10, Transition::Opened { since: 0 })],
            ),
            (
                "clears after clear hold",
                [rep(above, 11), rep(below, 10)].concat(),
                vec![(10, Transition::Opened { since: 0 }), (16, Transition::Closed)],
            ),
            (
                "hovering between levels never closes",
                [rep(above, 11), rep(between, 50)].concat(),
                vec![(10, Transition::Opened { since: 0 })],
            ),
            (
                "dip shorter than clear hold does not close",
                [rep(above, 11), rep(below, 3), rep(above, 3), rep(below, 3)].concat(),
                vec![(10, Transition::Opened { since: 0 })],
            ),
            (
                "pending restarts after a gap",
                [rep(above, 8), rep(between, 1), rep(above, 11)].concat(),
                vec![(19, Transition::Opened { since: 9 })],
            ),
        ];
        for (name, inputs, want) in cases {
            assert_eq!(run(&inputs), want, "{name}");
        }
    }

    #[test]
    fn restored_condition_closes_without_opening() {
        let mut c = Condition::default();
        c.restore(-100);
        assert!(c.is_active());
        assert_eq!(c.update(0, false, true, HOLD, CLEAR), Transition::None);
        assert_eq!(c.update(5, false, true, HOLD, CLEAR), Transition::Closed);
        assert_eq!(c.reset(), Transition::None);
    }

    proptest! {
        /// Opens and closes alternate, each close follows an open, and between an open and its close at
        /// least `CLEAR` time units pass: a noisy signal cannot produce more opens than closes + 1.
        #[test]
        fn opens_and_closes_alternate(signal in proptest::collection::vec(0u8..3, 0..400)) {
            let inputs: Vec<(bool, bool)> = signal.iter().map(|s| (*s == 2, *s == 0)).collect();
            let mut open_at = None;
            for (t, tr) in run(&inputs) {
                match tr {
                    Transition::Opened { since } => {
                        prop_assert!(open_at.is_none());
                        prop_assert!(t - since >= HOLD);
                        open_at = Some(t);
                    }
                    Transition::Closed => {
                        let o = open_at.take();
                        prop_assert!(o.is_some_and(|o| t - o >= CLEAR));
                    }
                    Transition::None => {}
                }
            }
        }
    }
}
