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
//! 100 litres per tree and week (Berlin's "Gieß den Kiez", Leipzig, Frankfurt); the report compares, it does
//! not judge: a week of rain needs none.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Id, Tree};

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
    /// the period are ignored). An empty or reversed period has zero weeks and a zero guideline.
    pub fn compute(trees: &[Tree], log: &[WateringRecord], from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
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
                TreeSeason {
                    tree: t.id.clone(),
                    site: t.site.clone(),
                    district: t.district.clone().unwrap_or_else(|| t.site.to_string()),
                    waterings: n,
                    litres: round(litres),
                    guideline_litres: round(guideline),
                    share: share(litres, guideline),
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
                });
            d.trees += 1;
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
                d
            })
            .collect();
        SeasonReport {
            from,
            to,
            weeks,
            trees: per_tree,
            districts,
            unknown_tree_litres: round(unknown),
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
}
