//! Unit tests of the SDM630 model: determinism, counter monotonicity and the register map.

use super::*;
use crate::time::at;

fn run(seed: u64, start: &str, steps: i64, every: TimeDelta) -> Sdm630 {
    let mut m = Sdm630::new(seed);
    let t0 = at(start);
    for i in 0..steps {
        m.step(t0 + every * i as i32);
    }
    m
}

#[test]
fn same_seed_same_meter_different_seed_different_meter() {
    let a = run(7, "2026-05-06T06:00:00Z", 500, TimeDelta::seconds(1));
    let b = run(7, "2026-05-06T06:00:00Z", 500, TimeDelta::seconds(1));
    let c = run(8, "2026-05-06T06:00:00Z", 500, TimeDelta::seconds(1));
    assert_eq!(a, b);
    assert_ne!(a.energy_kwh(), c.energy_kwh());
    assert_ne!(a.phases(), c.phases());
}

#[test]
fn energy_barely_depends_on_the_update_rate() {
    let fine = run(3, "2026-05-06T06:00:00Z", 3601, TimeDelta::seconds(1));
    let coarse = run(3, "2026-05-06T06:00:00Z", 61, TimeDelta::seconds(60));
    let (fi, fe) = fine.energy_kwh();
    let (ci, ce) = coarse.energy_kwh();
    assert!(
        (fi - ci).abs() < 0.01 && (fe - ce).abs() < 0.01,
        "{fi}/{fe} vs {ci}/{ce}"
    );
}

#[test]
fn energy_counters_never_decrease() {
    // Table: time offsets in seconds, including a jump back and a long gap.
    let offsets = [
        0,
        1,
        2,
        3,
        600,
        599,
        100,
        7200,
        7201,
        90_000,
        86_400 * 10,
        86_400 * 10 + 1,
    ];
    for seed in 0..10 {
        let mut m = Sdm630::new(seed);
        let (mut img, t0) = (Sdm630::new_image(), at("2026-06-20T08:00:00Z"));
        let mut prev = [0f32; 9];
        for off in offsets {
            m.step(t0 + TimeDelta::seconds(off));
            m.write_image(&mut img);
            let counters = [
                addr::IMPORT_KWH,
                addr::EXPORT_KWH,
                addr::TOTAL_KWH,
                addr::PHASE_IMPORT_KWH[0],
                addr::PHASE_IMPORT_KWH[1],
                addr::PHASE_IMPORT_KWH[2],
                addr::PHASE_EXPORT_KWH[0],
                addr::PHASE_EXPORT_KWH[1],
                addr::PHASE_EXPORT_KWH[2],
            ]
            .map(|a| img.get_f32(a).unwrap_or(f32::NAN));
            for (now, before) in counters.iter().zip(prev) {
                assert!(*now >= before, "seed {seed} at +{off}s: {now} < {before}");
            }
            prev = counters;
        }
    }
}

#[test]
fn summer_weekend_exports_and_weekday_imports() {
    // Saturday noon in June: at least some seeds' PV out-produces the baseload and export grows.
    let grew = (0..20).filter(|&s| {
        let m = run(s, "2026-06-20T10:00:00Z", 121, TimeDelta::seconds(30));
        m.energy_kwh().1 > Sdm630::new(s).energy_kwh().1
    });
    assert!(grew.count() > 3);
    let m = run(1, "2026-01-14T08:00:00Z", 121, TimeDelta::seconds(30));
    assert!(m.energy_kwh().0 > Sdm630::new(1).energy_kwh().0);
}

#[test]
fn image_holds_plausible_values_at_the_real_addresses() {
    let m = run(42, "2026-01-14T09:00:00Z", 5, TimeDelta::seconds(1));
    let mut img = Sdm630::new_image();
    m.write_image(&mut img);
    let get = |a| img.get_f32(a).unwrap_or(f32::NAN);
    // Table: (address, lower bound, upper bound).
    let cases = [
        (addr::VOLTAGE[0], 220.0, 240.0),
        (addr::VOLTAGE[2], 220.0, 240.0),
        (addr::CURRENT[1], 1.0, 40.0),
        (addr::POWER_FACTOR[0], 0.9, 1.0),
        (addr::TOTAL_POWER, 3000.0, 12_000.0),
        (addr::TOTAL_POWER_FACTOR, 0.9, 1.0),
        (addr::FREQUENCY, 49.9, 50.1),
        (addr::IMPORT_KWH, 10_000.0, 50_001.0),
    ];
    for (a, lo, hi) in cases {
        assert!((lo..hi).contains(&get(a)), "{a:#06x}: {}", get(a));
    }
    let phase_sum: f32 = addr::POWER.iter().map(|&a| get(a)).sum();
    assert!((phase_sum - get(addr::TOTAL_POWER)).abs() < 0.01);
    let s = get(addr::APPARENT[0]);
    let (p, q) = (get(addr::POWER[0]), get(addr::REACTIVE[0]));
    assert!((s * s - p * p - q * q).abs() / (s * s) < 1e-3, "S² = P² + Q²");
    let (import, export) = (get(addr::IMPORT_KWH), get(addr::EXPORT_KWH));
    assert!((get(addr::TOTAL_KWH) - (import + export)).abs() <= 0.01);
    // Unlisted addresses inside a block read as 0.
    assert_eq!(img.read(0x0024, 2), Ok(vec![0, 0]));
}

#[test]
fn a_main_meter_measures_its_sub_meters_load_on_top_of_its_own() {
    let (t0, every) = (at("2026-05-06T11:00:00Z"), TimeDelta::seconds(5));
    let mut alone = Sdm630::new(1);
    let (mut sub_a, mut sub_b) = (Sdm630::new(2).sub_meter(), Sdm630::new(3).sub_meter());
    let mut main = Sdm630::new(1).including(&[2, 3]);
    let mut start = None;
    for i in 0..720 {
        let t = t0 + every * i;
        for m in [&mut alone, &mut sub_a, &mut sub_b, &mut main] {
            m.step(t);
        }
        for ph in 0..3 {
            let want = alone.phases()[ph].power + sub_a.phases()[ph].power + sub_b.phases()[ph].power;
            assert!(
                (main.phases()[ph].power - want).abs() < 1e-9,
                "phase {ph} at step {i}"
            );
        }
        start.get_or_insert([&alone, &sub_a, &sub_b, &main].map(|m| m.energy_kwh()));
    }
    // Over the hour, the main meter's net energy is its own plus the sub-meters' (net: import − export).
    let net = |m: &Sdm630, s: (f64, f64)| (m.energy_kwh().0 - s.0) - (m.energy_kwh().1 - s.1);
    let s = start.expect("stepped");
    let parts = net(&alone, s[0]) + net(&sub_a, s[1]) + net(&sub_b, s[2]);
    assert!(
        (net(&main, s[3]) - parts).abs() < 1e-6,
        "{} vs {parts}",
        net(&main, s[3])
    );
    assert!(net(&sub_a, s[1]) > 0.0 && net(&main, s[3]) > net(&alone, s[0]));
}

#[test]
fn a_sub_meter_measures_consumers_only() {
    let (mut main, mut sub) = (Sdm630::new(7), Sdm630::new(7).sub_meter());
    assert_eq!(sub.energy_kwh().1, 0.0);
    // A June Saturday noon, when the same meter as a building's main meter feeds in PV.
    let (t0, mut fed_in) = (at("2026-06-20T10:00:00Z"), false);
    for i in 0..720 {
        let t = t0 + TimeDelta::seconds(5) * i;
        main.step(t);
        sub.step(t);
        fed_in |= main.phases().iter().any(|p| p.power < 0.0);
        assert!(sub.phases().iter().all(|p| p.power >= 0.0), "step {i}");
    }
    assert!(
        fed_in,
        "the main meter never fed in: the test would prove nothing"
    );
    assert_eq!(sub.energy_kwh().1, 0.0);
}
