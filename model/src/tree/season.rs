//! The watering season report: the litres each tree was given against the guideline of
//! [`GUIDELINE_LITRES_PER_WEEK`] per tree and week, per tree and per district.
//!
//! The input is the watering log (every recorded watering: tree, time, litres), wherever it is kept (the
//! store's log, the waterings analytics took in); [`SeasonReport::compute`] is pure, so the API, an export
//! and analytics report the same figures. A tree's district is [`Tree::district`]; trees without one are
//! reported under their park site. A watering of a tree the inventory does not know is counted apart
//! (`unknown_tree_litres`) rather than dropped silently.
//!
//! The guideline is the one German cities give their residents for street trees in dry summers: about
//! 100 litres per tree and week (Berlin's "Gieß den Kiez", Leipzig, Frankfurt; the FLL plan for young
//! trees); the report compares, it does not judge: a week of rain needs none.
//!
//! With the soil readings ([`SeasonReport::with_soil`], [`SeasonSoil`], definitions in [`soil`]: a tree's
//! sensors combined as `analytics.trees.combine` says, sensorless trees from their reference trees) it also
//! answers the rest of
//! the parks department's season questions: the trees that stayed critical for more than
//! [`CRITICAL_SPELL_DAYS`] days (each tree's longest critical spell), the litres *saved* against the plan (in
//! the weeks a tree was known not to be critical, the plan's litres not given), and each sensor's uptime
//! (readings received / expected from its reporting interval).

pub mod soil;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use soil::{CRITICAL_SPELL_DAYS, CriticalSpell, SensorDay, SensorSeason, SensorUptime};

use super::dryness::Combine;
use crate::{Id, Tree};

/// The soil side of the report's input: every sensor's days, how a tree's sensors combine, and which
/// sensorless trees inherit from which reference trees ([`super::inherit::references`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeasonSoil {
    /// Every soil sensor (and depth) of the trees, with its days.
    pub sensors: Vec<SensorSeason>,
    /// How a tree's sensors combine (`analytics.trees.combine`).
    pub combine: Combine,
    /// Per sensorless tree, its reference trees.
    pub inherited: BTreeMap<Id, Vec<Id>>,
}

/// Litres per tree and week the guideline asks for in a dry summer.
pub const GUIDELINE_LITRES_PER_WEEK: f64 = 100.0;

/// One recorded watering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WateringRecord {
    /// The tree.
    pub tree: Id,
    /// When.
    pub at: DateTime<Utc>,
    /// Litres given.
    pub litres: f64,
}

/// One tree's season.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeSeason {
    /// The tree.
    pub tree: Id,
    /// Its park.
    pub site: Id,
    /// Its district (its park's id when the inventory names none).
    pub district: String,
    /// Waterings recorded in the period.
    pub waterings: u32,
    /// Litres given in the period.
    pub litres: f64,
    /// The guideline's litres for the period: weeks × [`GUIDELINE_LITRES_PER_WEEK`].
    pub guideline_litres: f64,
    /// `litres / guideline_litres`.
    pub share: f64,
    /// Local days with a soil reading (0 without sensors or without [`SeasonReport::with_soil`]).
    pub known_days: u32,
    /// Local days it was critical.
    pub critical_days: u32,
    /// Its longest run of critical days, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_critical: Option<CriticalSpell>,
    /// Critical for more than [`CRITICAL_SPELL_DAYS`] consecutive days.
    pub stayed_critical: bool,
    /// Weeks with a critical day.
    pub weeks_critical: u32,
    /// Weeks known not to be critical (no critical day, at least half the days known).
    pub weeks_not_critical: u32,
    /// Weeks neither: too few days with readings to say.
    pub weeks_unknown: u32,
    /// The plan's litres not given in not-critical weeks ([`soil`]).
    pub litres_saved: f64,
    /// Each of its sensors' uptime.
    pub sensors: Vec<SensorUptime>,
    /// For a tree without a sensor, the reference trees its days were estimated from (empty: its own
    /// sensors, or none at all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherited_from: Vec<Id>,
}

/// One district's season: the sums over its trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictSeason {
    /// The district.
    pub district: String,
    /// Trees in it.
    pub trees: u32,
    /// Trees that got no water at all in the period.
    pub trees_unwatered: u32,
    /// Litres given to its trees.
    pub litres: f64,
    /// The guideline's litres for all its trees.
    pub guideline_litres: f64,
    /// `litres / guideline_litres`.
    pub share: f64,
    /// Litres saved against the plan by its trees.
    pub litres_saved: f64,
    /// Its trees that stayed critical for more than [`CRITICAL_SPELL_DAYS`] days.
    pub trees_stayed_critical: u32,
}

/// The report over `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonReport {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Weeks in the period (fractional).
    pub weeks: f64,
    /// Every tree of the inventory, by id.
    pub trees: Vec<TreeSeason>,
    /// Every district, by name.
    pub districts: Vec<DistrictSeason>,
    /// Litres logged in the period for trees the inventory does not know.
    pub unknown_tree_litres: f64,
    /// Local days in the period.
    pub days: u32,
    /// A tree critical for more than this many consecutive days stayed critical.
    pub critical_spell_days: u32,
    /// The trees that stayed critical, longest spell first.
    pub trees_stayed_critical: Vec<Id>,
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn share(litres: f64, guideline: f64) -> f64 {
    if guideline > 0.0 {
        round(litres / guideline)
    } else {
        0.0
    }
}

impl SeasonReport {
    /// The report of `trees` over `[from, to)` from the watering log `log` (any order; records outside
    /// the period are ignored), without soil readings: every day unknown, nothing saved, no uptime. An empty
    /// or reversed period has zero weeks and a zero guideline.
    pub fn compute(trees: &[Tree], log: &[WateringRecord], from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self::with_soil(trees, log, &SeasonSoil::default(), from, to, chrono_tz::UTC)
    }

    /// [`SeasonReport::compute`] with the soil readings of `soil` (each tree's sensors, their dryness and
    /// readings per local day of `tz`, how they combine, the references of sensorless trees): critical days
    /// and spells, weeks, litres saved and uptime per tree (definitions in [`soil`]). Local days run from
    /// `from`'s to the one holding the end.
    pub fn with_soil(
        trees: &[Tree],
        log: &[WateringRecord],
        soil: &SeasonSoil,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Self {
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let days = if to > from {
            let first = local(from);
            let last = local(to - chrono::TimeDelta::milliseconds(1));
            soil::Days {
                first,
                count: u32::try_from((last - first).num_days() + 1).unwrap_or(0),
            }
        } else {
            soil::Days {
                first: local(from),
                count: 0,
            }
        };
        let mut by_day: BTreeMap<&Id, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
        for w in log.iter().filter(|w| from <= w.at && w.at < to) {
            *by_day.entry(&w.tree).or_default().entry(local(w.at)).or_default() += w.litres;
        }
        let weeks = ((to - from).num_seconds().max(0) as f64 / (7.0 * 86_400.0) * 1000.0).round() / 1000.0;
        let guideline = weeks * GUIDELINE_LITRES_PER_WEEK;
        let mut given: BTreeMap<&Id, (u32, f64)> = BTreeMap::new();
        let mut unknown = 0.0;
        for w in log.iter().filter(|w| from <= w.at && w.at < to) {
            if trees.iter().any(|t| t.id == w.tree) {
                let e = given.entry(&w.tree).or_default();
                e.0 += 1;
                e.1 += w.litres;
            } else {
                unknown += w.litres;
            }
        }
        let mut per_tree: Vec<TreeSeason> = trees
            .iter()
            .map(|t| {
                let (n, litres) = given.get(&t.id).copied().unwrap_or_default();
                let none = BTreeMap::new();
                let inherited = soil.inherited.get(&t.id).map_or(&[][..], Vec::as_slice);
                let inherits = t.sensors.is_empty() && !inherited.is_empty();
                let soil = soil::tree_soil(
                    &t.id,
                    &soil.sensors,
                    soil.combine,
                    inherited,
                    by_day.get(&t.id).unwrap_or(&none),
                    days,
                    |every| soil::expected_readings(from, to, every),
                );
                TreeSeason {
                    tree: t.id.clone(),
                    site: t.site.clone(),
                    district: t.district.clone().unwrap_or_else(|| t.site.to_string()),
                    waterings: n,
                    litres: round(litres),
                    guideline_litres: round(guideline),
                    share: share(litres, guideline),
                    known_days: soil.known_days,
                    critical_days: soil.critical_days,
                    longest_critical: soil.longest_critical,
                    stayed_critical: soil
                        .longest_critical
                        .is_some_and(|s| s.days > CRITICAL_SPELL_DAYS),
                    weeks_critical: soil.weeks_critical,
                    weeks_not_critical: soil.weeks_not_critical,
                    weeks_unknown: soil.weeks_unknown,
                    litres_saved: round(soil.litres_saved),
                    sensors: soil.sensors,
                    inherited_from: if inherits { inherited.to_vec() } else { Vec::new() },
                }
            })
            .collect();
        per_tree.sort_by(|a, b| a.tree.cmp(&b.tree));
        let mut districts: BTreeMap<&str, DistrictSeason> = BTreeMap::new();
        for t in &per_tree {
            let d = districts
                .entry(t.district.as_str())
                .or_insert_with(|| DistrictSeason {
                    district: t.district.clone(),
                    trees: 0,
                    trees_unwatered: 0,
                    litres: 0.0,
                    guideline_litres: 0.0,
                    share: 0.0,
                    litres_saved: 0.0,
                    trees_stayed_critical: 0,
                });
            d.trees += 1;
            d.litres_saved += t.litres_saved;
            d.trees_stayed_critical += u32::from(t.stayed_critical);
            d.trees_unwatered += u32::from(t.waterings == 0);
            d.litres += t.litres;
            d.guideline_litres += guideline;
        }
        let districts = districts
            .into_values()
            .map(|mut d| {
                d.share = share(d.litres, d.guideline_litres);
                d.litres = round(d.litres);
                d.guideline_litres = round(d.guideline_litres);
                d.litres_saved = round(d.litres_saved);
                d
            })
            .collect();
        let mut stayed: Vec<(u32, &Id)> = per_tree
            .iter()
            .filter(|t| t.stayed_critical)
            .map(|t| (t.longest_critical.map_or(0, |s| s.days), &t.tree))
            .collect();
        stayed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let trees_stayed_critical = stayed.into_iter().map(|(_, t)| t.clone()).collect();
        SeasonReport {
            from,
            to,
            weeks,
            trees: per_tree,
            districts,
            unknown_tree_litres: round(unknown),
            days: days.count,
            critical_spell_days: CRITICAL_SPELL_DAYS,
            trees_stayed_critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn id(s: &str) -> Id {
        Id::new(s).expect("id")
    }

    fn tree(t: &str, site: &str, district: Option<&str>) -> Tree {
        Tree {
            district: district.map(str::to_string),
            ..Tree::new(t, site, &[])
        }
    }

    #[test]
    fn litres_per_tree_and_district_against_the_guideline() {
        let from = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let to = from + TimeDelta::weeks(4);
        let trees = [
            tree("t-1", "park-a", Some("Mitte")),
            tree("t-2", "park-a", Some("Mitte")),
            tree("t-3", "park-b", None),
        ];
        let log = |t: &str, day: i64, litres: f64| WateringRecord {
            tree: id(t),
            at: from + TimeDelta::days(day),
            litres,
        };
        let records = [
            log("t-1", 0, 100.0),
            log("t-1", 7, 150.0),
            log("t-1", 28, 80.0), // the day after the period: not counted
            log("t-3", 3, 60.0),
            log("t-9", 3, 40.0),  // unknown tree
            log("t-2", -1, 90.0), // before the period
        ];
        let r = SeasonReport::compute(&trees, &records, from, to);
        assert_eq!(r.weeks, 4.0);
        let t: Vec<(&str, &str, u32, f64, f64, f64)> = r
            .trees
            .iter()
            .map(|t| {
                (
                    t.tree.as_str(),
                    t.district.as_str(),
                    t.waterings,
                    t.litres,
                    t.guideline_litres,
                    t.share,
                )
            })
            .collect();
        assert_eq!(
            t,
            [
                ("t-1", "Mitte", 2, 250.0, 400.0, 0.63),
                ("t-2", "Mitte", 0, 0.0, 400.0, 0.0),
                ("t-3", "park-b", 1, 60.0, 400.0, 0.15),
            ]
        );
        let d: Vec<(&str, u32, u32, f64, f64, f64)> = r
            .districts
            .iter()
            .map(|d| {
                (
                    d.district.as_str(),
                    d.trees,
                    d.trees_unwatered,
                    d.litres,
                    d.guideline_litres,
                    d.share,
                )
            })
            .collect();
        assert_eq!(
            d,
            [
                ("Mitte", 2, 1, 250.0, 800.0, 0.31),
                ("park-b", 1, 0, 60.0, 400.0, 0.15)
            ]
        );
        assert_eq!(r.unknown_tree_litres, 40.0);
        // An empty period: no guideline, no share, nothing divided by zero.
        let empty = SeasonReport::compute(&trees, &records, to, from);
        assert_eq!(empty.weeks, 0.0);
        assert!(empty.trees.iter().all(|t| t.share == 0.0 && t.litres == 0.0));
    }

    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date")
    }

    /// A sensor of `tree` reporting hourly whose days are `(day offset, critical, readings)`.
    fn sensor(tree: &str, device: &str, first: NaiveDate, days: &[(u64, bool, u64)]) -> SensorSeason {
        SensorSeason {
            tree: id(tree),
            device: id(device),
            depth: 1,
            interval: std::time::Duration::from_secs(3600),
            days: days
                .iter()
                .map(|&(d, critical, readings)| SensorDay {
                    day: first + chrono::Days::new(d),
                    dryness: if critical { 1.2 } else { 0.4 },
                    readings,
                })
                .collect(),
            weight: 1.0,
        }
    }

    #[test]
    fn spells_weeks_saved_litres_and_uptime_from_the_soil_days() {
        let tz = chrono_tz::Europe::Berlin;
        // Three local weeks from 1 June (Berlin, UTC+2).
        let from = DateTime::parse_from_rfc3339("2026-05-31T22:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let to = from + TimeDelta::weeks(3);
        let first = day("2026-06-01");
        let trees = [
            tree("t-dry", "park", None),
            tree("t-wet", "park", None),
            tree("t-none", "park", None),
        ];
        let mut days = Vec::new();
        // t-dry, week 1: critical on days 1–3, no reading on day 4 (unknown: ends the spell, not good),
        // critical again on 5–6; week 2: critical 7–11 (a five-day spell); week 3: good every day.
        for d in [0, 5, 6] {
            days.push((d, d != 0, 24));
        }
        for d in 1..=3 {
            days.push((d, true, 24));
        }
        for d in 7..=11 {
            days.push((d, true, 12));
        }
        for d in 12..=20 {
            days.push((d, false, 24));
        }
        let dry = sensor("t-dry", "s-dry", first, &days);
        // t-wet: two sensors; the shallow one critical on day 15 only (the driest decides), the deep one
        // good. Week 1: readings on 3 of 7 days (unknown), week 2: 4 of 7 (not critical), week 3 critical.
        let wet_deep = sensor(
            "t-wet",
            "s-deep",
            first,
            &[
                (0, false, 24),
                (1, false, 24),
                (2, false, 24),
                (7, false, 24),
                (8, false, 24),
                (9, false, 1),
                (10, false, 1),
            ],
        );
        let wet_top = SensorSeason {
            depth: 2,
            ..sensor("t-wet", "s-deep", first, &[(15, true, 24), (40, true, 24)]) // day 40: outside
        };
        let log = [
            WateringRecord {
                tree: id("t-wet"),
                at: from + TimeDelta::days(8),
                litres: 30.0,
            },
            WateringRecord {
                tree: id("t-dry"),
                at: from + TimeDelta::days(14),
                litres: 150.0,
            },
        ];
        let soil = SeasonSoil {
            sensors: vec![dry, wet_deep, wet_top],
            ..SeasonSoil::default()
        };
        let r = SeasonReport::with_soil(&trees, &log, &soil, from, to, tz);
        assert_eq!((r.days, r.critical_spell_days), (21, 3));
        let t = |name: &str| r.trees.iter().find(|t| t.tree.as_str() == name).expect("tree");
        let dry = t("t-dry");
        assert_eq!((dry.known_days, dry.critical_days), (20, 10));
        assert_eq!(
            dry.longest_critical,
            Some(CriticalSpell {
                first_day: day("2026-06-06"),
                last_day: day("2026-06-12"),
                days: 7
            })
        );
        assert!(dry.stayed_critical);
        assert_eq!(
            (dry.weeks_critical, dry.weeks_not_critical, dry.weeks_unknown),
            (2, 1, 0)
        );
        // Week 3 not critical: 100 L planned, 150 given: nothing saved (not negative).
        assert_eq!(dry.litres_saved, 0.0);
        assert_eq!(dry.sensors.len(), 1);
        let u = &dry.sensors[0];
        // 3 weeks hourly: 504 expected; received 24 × 15 + 12 × 5 = 420.
        assert_eq!(
            (u.expected, u.received, u.days_with_readings, u.interval_s),
            (504, 420, 20, 3600)
        );
        assert_eq!(u.uptime, Some(0.833));
        let wet = t("t-wet");
        assert_eq!((wet.critical_days, wet.known_days), (1, 8));
        assert!(!wet.stayed_critical);
        assert_eq!(wet.longest_critical.map(|s| s.days), Some(1));
        assert_eq!(
            (wet.weeks_critical, wet.weeks_not_critical, wet.weeks_unknown),
            (1, 1, 1)
        );
        // Week 2: 100 L planned, 30 given: 70 saved.
        assert_eq!(wet.litres_saved, 70.0);
        let depths: Vec<(u8, u64)> = wet.sensors.iter().map(|s| (s.depth, s.received)).collect();
        assert_eq!(depths, [(1, 122), (2, 24)]);
        // No sensor: every week unknown, nothing saved, no uptime.
        let none = t("t-none");
        assert_eq!(
            (none.known_days, none.weeks_unknown, none.litres_saved),
            (0, 3, 0.0)
        );
        assert!(none.sensors.is_empty() && none.longest_critical.is_none());
        assert_eq!(r.trees_stayed_critical, [id("t-dry")]);
        let park = &r.districts[0];
        assert_eq!((park.litres_saved, park.trees_stayed_critical), (70.0, 1));
    }

    #[test]
    fn a_spell_of_exactly_three_days_did_not_stay_critical_and_a_partial_week_plans_its_share() {
        let from = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        // Ten days: a full week and a three-day one.
        let to = from + TimeDelta::days(10);
        let first = day("2026-06-01");
        let s = sensor(
            "t",
            "s",
            first,
            &[
                (0, true, 1),
                (1, true, 1),
                (2, true, 1),
                (7, false, 1),
                (8, false, 1),
            ],
        );
        let only = |s: SensorSeason| SeasonSoil {
            sensors: vec![s],
            ..SeasonSoil::default()
        };
        let r = SeasonReport::with_soil(
            &[tree("t", "park", None)],
            &[],
            &only(s),
            from,
            to,
            chrono_tz::UTC,
        );
        let t = &r.trees[0];
        assert_eq!(t.longest_critical.map(|s| s.days), Some(3));
        assert!(!t.stayed_critical && r.trees_stayed_critical.is_empty());
        assert_eq!((t.weeks_critical, t.weeks_not_critical), (1, 1));
        // The three-day week plans 100 × 3 / 7 litres, none given.
        assert_eq!(t.litres_saved, 42.86);
        assert_eq!(t.sensors[0].expected, 240);
        // An empty period: nothing expected, no uptime, no days.
        let s = sensor("t", "s", first, &[(0, true, 5)]);
        let e = SeasonReport::with_soil(
            &[tree("t", "park", None)],
            &[],
            &only(s),
            to,
            from,
            chrono_tz::UTC,
        );
        assert_eq!(
            (
                e.days,
                e.trees[0].sensors[0].uptime,
                e.trees[0].sensors[0].received
            ),
            (0, None, 0)
        );
    }

    /// A probe of `tree` with a top depth (`weight` top) and a deep one, reporting `(day, top, deep)` dryness.
    fn probe(
        tree: &str,
        first: NaiveDate,
        weights: (f64, f64),
        days: &[(u64, f64, f64)],
    ) -> Vec<SensorSeason> {
        let depth = |depth: u8, weight: f64, pick: fn(&(u64, f64, f64)) -> f64| SensorSeason {
            tree: id(tree),
            device: id("probe"),
            depth,
            interval: std::time::Duration::from_secs(3600),
            days: days
                .iter()
                .map(|d| SensorDay {
                    day: first + chrono::Days::new(d.0),
                    dryness: pick(d),
                    readings: 24,
                })
                .collect(),
            weight,
        };
        vec![depth(1, weights.0, |d| d.1), depth(2, weights.1, |d| d.2)]
    }

    #[test]
    fn combine_mean_weighs_the_depths_by_their_roots_as_the_live_state_does() {
        let from = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let to = from + TimeDelta::days(7);
        let first = day("2026-06-01");
        // Top dry beyond critical (1.3), deep wet (0.4): worst is critical; the mean weighed 0.5/0.5 is
        // 0.85 (not critical), weighed 0.8/0.2 it is 1.12 (critical). Day 2: both critical.
        let days = [(0, 1.3, 0.4), (1, 1.1, 1.0)];
        let report = |how: Combine, weights: (f64, f64)| {
            let soil = SeasonSoil {
                sensors: probe("t", first, weights, &days),
                combine: how,
                inherited: BTreeMap::new(),
            };
            let r = SeasonReport::with_soil(&[tree("t", "park", None)], &[], &soil, from, to, chrono_tz::UTC);
            (r.trees[0].critical_days, r.trees[0].known_days)
        };
        assert_eq!(report(Combine::Worst, (0.5, 0.5)), (2, 2));
        assert_eq!(report(Combine::Mean, (0.5, 0.5)), (1, 2));
        assert_eq!(report(Combine::Mean, (0.8, 0.2)), (2, 2));
        // A depth below the root zone (weight 0) does not decide while one with roots reports: the deep
        // depth dry, the top wet, the worst is not critical.
        let soil = SeasonSoil {
            sensors: probe("t", first, (1.0, 0.0), &[(0, 0.4, 1.5)]),
            ..SeasonSoil::default()
        };
        let r = SeasonReport::with_soil(&[tree("t", "park", None)], &[], &soil, from, to, chrono_tz::UTC);
        assert_eq!((r.trees[0].critical_days, r.trees[0].known_days), (0, 1));
    }

    #[test]
    fn a_sensorless_tree_inherits_its_days_from_its_references() {
        let from = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let to = from + TimeDelta::days(7);
        let first = day("2026-06-01");
        let trees = [
            tree("heir", "park", None),
            tree("ref-1", "park", None),
            tree("ref-2", "park", None),
            tree("orphan", "park", None),
        ];
        let mut one = sensor(
            "ref-1",
            "s-1",
            first,
            &[(0, true, 24), (1, true, 24), (2, false, 24)],
        );
        let two = sensor("ref-2", "s-2", first, &[(0, true, 24), (1, false, 24)]);
        // Day 1: ref-1 1.2, ref-2 0.4: mean 0.8, not critical. Day 2: only ref-1 (0.4).
        one.days[1].dryness = 1.2;
        let soil = SeasonSoil {
            sensors: vec![one, two],
            combine: Combine::Worst,
            inherited: BTreeMap::from([(id("heir"), vec![id("ref-1"), id("ref-2")])]),
        };
        let r = SeasonReport::with_soil(&trees, &[], &soil, from, to, chrono_tz::UTC);
        let t = |name: &str| r.trees.iter().find(|t| t.tree.as_str() == name).expect("tree");
        let heir = t("heir");
        assert_eq!((heir.known_days, heir.critical_days), (3, 1));
        assert_eq!(heir.inherited_from, [id("ref-1"), id("ref-2")]);
        assert!(heir.sensors.is_empty(), "the references' sensors are theirs");
        let orphan = t("orphan");
        assert_eq!((orphan.known_days, orphan.inherited_from.len()), (0, 0));
        assert_eq!(t("ref-1").critical_days, 2);
        // In JSON: listed for the heir, absent for the others.
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(
            json["trees"][0]["inherited_from"],
            serde_json::json!(["ref-1", "ref-2"])
        );
        assert!(json["trees"][1].get("inherited_from").is_none());
    }
}
