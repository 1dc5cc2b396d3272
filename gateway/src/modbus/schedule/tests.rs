//! Scheduler tests with fake time: grid, skipping, per-device back-off, bounded probe share, and a dead
//! device on a shared connection.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn limits() -> Limits {
    Limits {
        probe_timeout: 250 * MS,
        failing_share: 0.02,
        backoff_max: Duration::from_secs(60),
        probe_max_wait: Duration::from_secs(60),
    }
}

#[derive(Default)]
struct Stats {
    /// Lateness of every grid poll of a healthy device, by device.
    lateness: Vec<Vec<Duration>>,
    probes: Vec<Instant>,
    probe_time: Duration,
    skipped: u64,
}

/// Runs the scheduler against simulated devices until `horizon`: a dead device's polls and probes cost
/// their whole timeout, a live one's poll costs `answer`.
fn simulate(
    s: &mut Scheduler,
    n: usize,
    dead: &dyn Fn(usize, Instant) -> bool,
    answer: Duration,
    t0: Instant,
    horizon: Duration,
) -> Stats {
    let (mut now, mut st) = (
        t0,
        Stats {
            lateness: vec![Vec::new(); n],
            ..Stats::default()
        },
    );
    let mut decisions = 0;
    while now < t0 + horizon {
        decisions += 1;
        assert!(decisions < 10_000_000, "scheduler spins");
        match s.next(now) {
            Decision::Wait(t) => {
                assert!(t > now, "wait must move time forward");
                now = t;
            }
            Decision::Poll {
                device,
                due,
                skipped,
                probe,
            } => {
                st.skipped += skipped;
                let is_dead = dead(device, now);
                let cost = match (is_dead, probe) {
                    (true, Some(timeout)) => timeout,
                    (true, None) => Duration::from_secs(1),
                    (false, _) => answer,
                };
                if probe.is_some() {
                    st.probes.push(now);
                    st.probe_time += cost;
                } else {
                    st.lateness[device].push(now - due);
                }
                let result = if is_dead {
                    Outcome::Failed
                } else {
                    Outcome::Answered
                };
                s.finished(device, result, probe.is_some(), now, now + cost, 0.5);
                now += cost;
            }
        }
    }
    st
}

fn spread(n: usize, interval: Duration, t0: Instant) -> Vec<(Duration, Instant)> {
    (0..n)
        .map(|i| (interval, t0 + interval.mul_f64(i as f64 / n as f64)))
        .collect()
}

#[test]
fn grid_has_no_drift_and_missed_slots_are_skipped() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(limits(), &[(Duration::from_secs(1), t0)], t0);
    // Table: (time the connection is free again, expected due slot, expected skipped slots).
    let cases = [
        (0, 0, 0),
        (300, 1000, 0),
        (1000, 2000, 0),
        (4500, 3000, 1),
        (5001, 5000, 0),
    ];
    for (free_ms, due_ms, skipped) in cases {
        let now = t0 + free_ms * MS;
        let got = s.next(now);
        assert_eq!(
            got,
            if due_ms > free_ms {
                Decision::Wait(t0 + due_ms * MS)
            } else {
                Decision::Poll {
                    device: 0,
                    due: t0 + due_ms * MS,
                    skipped,
                    probe: None,
                }
            },
            "at {free_ms} ms"
        );
        if let Decision::Wait(t) = got {
            assert!(matches!(s.next(t), Decision::Poll { due, .. } if due == t));
        }
    }
}

#[test]
fn earliest_due_device_goes_first() {
    let t0 = Instant::now();
    let devs = [
        (Duration::from_secs(5), t0 + 20 * MS),
        (Duration::from_secs(1), t0 + 10 * MS),
    ];
    let mut s = Scheduler::new(limits(), &devs, t0);
    assert_eq!(s.next(t0), Decision::Wait(t0 + 10 * MS));
    let now = t0 + 30 * MS;
    assert!(matches!(s.next(now), Decision::Poll { device: 1, .. }));
    assert!(matches!(s.next(now), Decision::Poll { device: 0, .. }));
    assert_eq!(s.next(now), Decision::Wait(t0 + 1010 * MS));
}

#[test]
fn backoff_doubles_per_failure_with_jitter_and_a_cap() {
    let (i, max) = (Duration::from_secs(1), Duration::from_secs(60));
    // Table: (failures, jitter sample, expected delay).
    let cases = [
        (1, 0.5, 1000),
        (2, 0.5, 2000),
        (4, 0.5, 8000),
        (7, 0.5, 60_000),
        (40, 0.5, 60_000),
        (1, 0.0, 750),
        (1, 1.0, 1250),
    ];
    for (failures, jitter, want) in cases {
        assert_eq!(
            backoff(i, failures, max, jitter),
            want * MS,
            "{failures} failures, jitter {jitter}"
        );
    }
}

#[test]
fn a_failing_device_backs_off_on_its_own_and_rejoins_its_grid() {
    let t0 = Instant::now();
    let devs = spread(2, Duration::from_secs(1), t0);
    let mut s = Scheduler::new(limits(), &devs, t0);
    // Device 0 is dead for the first 20 s.
    let st = simulate(
        &mut s,
        2,
        &|d, now| d == 0 && now < t0 + Duration::from_secs(20),
        2 * MS,
        t0,
        Duration::from_secs(90),
    );
    // The healthy device was polled every second, on time, throughout (after the dead one's first
    // full-timeout poll, before anything was known about it).
    assert_eq!(st.lateness[1].len(), 90);
    assert!(
        st.lateness[1].iter().skip(1).all(|l| *l <= 2 * MS),
        "{:?}",
        st.lateness[1]
    );
    // The dead one was probed with growing gaps (1, 2, 4, 8 s …) and then came back on its own phase.
    let gaps: Vec<u128> = st.probes.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(gaps.windows(2).all(|w| w[1] >= w[0]), "{gaps:?}");
    assert!(!s.is_failing(0));
    assert!(!s.any_failing(), "the failing count returned to zero");
    assert!(st.lateness[0].len() > 20, "{}", st.lateness[0].len());
    assert!(st.lateness[0].iter().rev().take(10).all(|l| *l <= 2 * MS));
}

#[test]
fn a_dead_device_on_a_shared_connection_does_not_delay_the_others() {
    let t0 = Instant::now();
    // Three healthy devices leave 330 ms gaps: probes (250 ms) fit in them.
    let devs = spread(4, Duration::from_secs(1), t0);
    let mut s = Scheduler::new(limits(), &devs, t0);
    let st = simulate(&mut s, 4, &|d, _| d == 3, 5 * MS, t0, Duration::from_secs(600));
    for d in 0..3 {
        assert_eq!(st.lateness[d].len(), 600, "device {d}");
        // Only the first grid poll of the dead device (before it was known to be dead) may delay anyone.
        let late = st.lateness[d].iter().filter(|l| **l > 10 * MS).count();
        assert!(late <= 1, "device {d}: {late} late polls");
    }
    assert!(!st.probes.is_empty());
    // Bounded share: probes took at most 2 % of the time (plus the first full bucket).
    assert!(
        st.probe_time <= Duration::from_secs(12) + limits().probe_timeout,
        "{:?}",
        st.probe_time
    );
}

#[test]
fn quick_probes_fit_the_small_gaps_of_a_busy_connection() {
    let t0 = Instant::now();
    // 40 healthy devices 25 ms apart answering in 1 ms: no 250 ms gap, but quick (5 ms) probes fit.
    let devs = spread(41, Duration::from_secs(1), t0);
    let mut s = Scheduler::new(limits(), &devs, t0);
    let st = simulate(&mut s, 41, &|d, _| d == 40, MS, t0, Duration::from_secs(600));
    assert!(st.probes.len() >= 10, "{} probes", st.probes.len());
    assert!(st.probe_time <= Duration::from_millis(100), "{:?}", st.probe_time);
    // Nobody is delayed by more than a poll once the dead device's first (full-timeout) grid poll, before
    // anything was known about it, is 5 s in the past.
    let after_start = st.lateness[..40].iter().flat_map(|v| v.iter().skip(5));
    let late = after_start.filter(|l| **l > 2 * MS).count();
    assert_eq!(late, 0, "late polls");
}

#[test]
fn without_any_gap_probes_wait_then_take_a_bounded_share() {
    let t0 = Instant::now();
    // 40 healthy devices 25 ms apart answering in 20 ms: the quick timeout (80 ms) never fits a gap, so
    // probes are forced after probe_max_wait and paid from the 2 % bucket.
    let devs = spread(41, Duration::from_secs(1), t0);
    let mut s = Scheduler::new(limits(), &devs, t0);
    let st = simulate(&mut s, 41, &|d, _| d == 40, 20 * MS, t0, Duration::from_secs(600));
    assert!(
        !st.probes.is_empty() && st.probes.len() <= 12,
        "{} probes",
        st.probes.len()
    );
    assert!(st.probe_time.as_secs_f64() / 600.0 <= 0.02 + 0.001);
    // After the start, fewer than 1 % of the healthy devices' polls were delayed by more than a poll.
    let all: Vec<&Duration> = st.lateness[..40].iter().flat_map(|v| v.iter().skip(5)).collect();
    let late = all.iter().filter(|l| ***l > 25 * MS).count();
    assert!((late as f64) < 0.01 * all.len() as f64, "{late} of {}", all.len());
}

#[test]
fn with_every_device_failing_probes_are_not_throttled() {
    let t0 = Instant::now();
    let devs = spread(3, Duration::from_secs(1), t0);
    let mut s = Scheduler::new(limits(), &devs, t0);
    let st = simulate(
        &mut s,
        3,
        &|_, now| now < t0 + Duration::from_secs(10),
        MS,
        t0,
        Duration::from_secs(30),
    );
    // Once the bus is back (10 s) every device returns within its own back-off (probes at ~1, 2, 4, 8 s
    // intervals), not throttled by the bucket.
    for d in 0..3 {
        assert!(!s.is_failing(d), "device {d}");
        assert!(st.lateness[d].len() >= 5, "device {d}: {}", st.lateness[d].len());
    }
}

#[test]
fn skipped_polls_do_not_back_a_device_off() {
    let t0 = Instant::now();
    let mut s = Scheduler::new(limits(), &[(Duration::from_secs(1), t0)], t0);
    assert!(matches!(s.next(t0), Decision::Poll { probe: None, .. }));
    s.finished(0, Outcome::Skipped, false, t0, t0, 0.5);
    assert!(!s.is_failing(0));
    assert_eq!(s.next(t0 + MS), Decision::Wait(t0 + Duration::from_secs(1)));
}

#[test]
fn any_failing_follows_the_devices_states() {
    let t0 = Instant::now();
    let sec = Duration::from_secs(1);
    let mut s = Scheduler::new(limits(), &[(sec, t0), (sec, t0)], t0);
    assert!(!s.any_failing());
    s.finished(0, Outcome::Failed, false, t0, t0 + MS, 0.5);
    s.finished(1, Outcome::Failed, false, t0, t0 + MS, 0.5);
    s.finished(1, Outcome::Failed, true, t0, t0 + MS, 0.5);
    assert!(s.any_failing());
    s.finished(0, Outcome::Answered, true, t0, t0 + MS, 0.5);
    assert!(s.any_failing(), "device 1 still fails");
    s.finished(1, Outcome::Skipped, true, t0, t0 + MS, 0.5);
    assert!(s.any_failing(), "a skipped probe changes nothing");
    s.finished(1, Outcome::Answered, true, t0, t0 + MS, 0.5);
    assert!(!s.any_failing());
}
