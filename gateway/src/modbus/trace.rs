//! Where an endpoint task's time goes, to explain late grid polls by measurement instead of guesses.
//!
//! The endpoint task records each thing it does (a grid poll, a probe, connecting, disconnecting,
//! publishing a reading or a status) with its start and end. When a grid poll starts late, its lateness
//! (`due..start`) is split over the recorded activities that overlap it; the rest is `wait`: the task was
//! not doing I/O, it was asleep until its timer fired or runnable without a CPU (runtime and machine load).
//! Exported as `zw_gateway_modbus_lateness_cause_seconds_total{cause}` (sum over all grid polls) and
//! `zw_gateway_modbus_late_polls_total{cause}` (polls later than [`LATE`], by the cause with the largest
//! share), next to `zw_gateway_modbus_busy_seconds_total{class}` (time per activity).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::Metrics;

/// A poll later than this is counted in `zw_gateway_modbus_late_polls_total` by its main cause.
pub const LATE: Duration = Duration::from_millis(10);

/// What an endpoint task spends time on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// A grid poll of a healthy device.
    Grid,
    /// A probe of a failing device.
    Probe,
    /// Opening the connection.
    Connect,
    /// Closing the connection.
    Disconnect,
    /// Handing a reading to the bus client.
    Publish,
    /// Handing a device status to the bus client.
    Status,
}

impl Activity {
    const ALL: [Self; 6] = [
        Self::Grid,
        Self::Probe,
        Self::Connect,
        Self::Disconnect,
        Self::Publish,
        Self::Status,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Grid => "grid",
            Self::Probe => "probe",
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
            Self::Publish => "publish",
            Self::Status => "status",
        }
    }
}

/// Label of lateness not covered by any recorded activity.
const WAIT: &str = "wait";
/// Index of `wait` in the per-cause arrays (after the activities).
const WAIT_INDEX: usize = Activity::ALL.len();
/// Recent activities kept; lateness older than these counts as `wait`.
const KEEP: usize = 128;
/// Shorter activities (e.g. a status check that published nothing) are counted but not kept.
const NEGLIGIBLE: Duration = Duration::from_micros(5);

/// The metric children of one endpoint task, resolved once (label lookups are hashes).
#[derive(Debug)]
struct Handles {
    busy: Vec<prometheus::Counter>,
    cause: Vec<prometheus::Counter>,
    late: Vec<prometheus::IntCounter>,
}

impl Handles {
    fn new(metrics: &Metrics) -> Self {
        let labels = || Activity::ALL.iter().map(|a| a.label()).chain([WAIT]);
        let m = &metrics.modbus;
        Self {
            busy: Activity::ALL
                .iter()
                .map(|a| m.busy_seconds.with_label_values(&[a.label()]))
                .collect(),
            cause: labels()
                .map(|l| m.lateness_cause.with_label_values(&[l]))
                .collect(),
            late: labels().map(|l| m.late_polls.with_label_values(&[l])).collect(),
        }
    }
}

/// The recent activities of one endpoint task.
#[derive(Debug, Default)]
pub struct Trace {
    recent: VecDeque<(Activity, Instant, Instant)>,
    handles: Option<Handles>,
}

impl Trace {
    fn handles(&mut self, metrics: &Metrics) -> &Handles {
        self.handles.get_or_insert_with(|| Handles::new(metrics))
    }

    /// Records `what` from `start` to `end` (and its time in `busy_seconds`).
    pub fn record(&mut self, what: Activity, start: Instant, end: Instant, metrics: &Metrics) {
        let took = end.saturating_duration_since(start);
        self.handles(metrics).busy[what as usize].inc_by(took.as_secs_f64());
        if took < NEGLIGIBLE {
            return;
        }
        if self.recent.len() == KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back((what, start, end));
    }

    /// Splits the lateness of a grid poll due at `due` and started at `start` over its causes.
    pub fn attribute(&mut self, due: Instant, start: Instant, metrics: &Metrics) {
        let late = start.saturating_duration_since(due);
        if late.is_zero() {
            return;
        }
        let mut shares = [Duration::ZERO; WAIT_INDEX + 1];
        let mut covered = Duration::ZERO;
        // Newest first; activities are recorded in the order they end, so stop at the first that ended
        // before the poll was due.
        for &(what, s, e) in self.recent.iter().rev() {
            if e <= due {
                break;
            }
            let overlap = e.min(start).saturating_duration_since(s.max(due));
            covered += overlap;
            shares[what as usize] += overlap;
        }
        shares[WAIT_INDEX] = late.saturating_sub(covered);
        let h = self.handles(metrics);
        for (i, d) in shares.iter().enumerate() {
            if !d.is_zero() {
                h.cause[i].inc_by(d.as_secs_f64());
            }
        }
        if late > LATE
            && let Some((i, _)) = shares.iter().enumerate().max_by_key(|(_, d)| **d)
        {
            h.late[i].inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn lateness_is_split_over_overlapping_activities_and_the_rest_is_wait()
    -> Result<(), Box<dyn std::error::Error>> {
        let metrics = Metrics::register(&prometheus::Registry::new())?;
        let t0 = Instant::now();
        let mut trace = Trace::default();
        trace.record(Activity::Grid, t0, t0 + ms(8), &metrics);
        trace.record(Activity::Probe, t0 + ms(8), t0 + ms(20), &metrics);
        trace.record(Activity::Status, t0 + ms(20), t0 + ms(20), &metrics); // negligible: not kept
        // Due at 5 ms, started at 25 ms: 3 ms behind a grid poll, 12 ms behind a probe, 5 ms waiting.
        trace.attribute(t0 + ms(5), t0 + ms(25), &metrics);
        let cause = |c: &str| metrics.modbus.lateness_cause.with_label_values(&[c]).get();
        assert!((cause("grid") - 0.003).abs() < 1e-9);
        assert!((cause("probe") - 0.012).abs() < 1e-9);
        assert!((cause("wait") - 0.005).abs() < 1e-9);
        assert_eq!(metrics.modbus.late_polls.with_label_values(&["probe"]).get(), 1);
        // On time: nothing counted.
        trace.attribute(t0 + ms(30), t0 + ms(30), &metrics);
        assert_eq!(metrics.modbus.late_polls.with_label_values(&["wait"]).get(), 0);
        Ok(())
    }
}
