//! Where a tree's roots are: the share of its fine roots in the soil layer each of its sensors (or each
//! depth of a multi-depth probe) stands for, so that the tree is judged by the depths its roots draw from.
//!
//! The root distribution is the one-parameter model of Gale & Grigal (1987), fitted to many stands by
//! Jackson et al. (1996): the share of roots above `d` cm is `Y(d) = 1 − β^d`. `β` comes from the
//! species' rooting habit (the classic flat-, heart- and taproot classes of Central European trees, by
//! genus): flat roots (spruce, poplar, willow) 0.950, heart roots (lime, maple, beech, plane, birch, …)
//! 0.966, Jackson et al.'s figure for temperate deciduous forest and the default for a genus not listed,
//! taproots (oak, pine, walnut, fir, robinia) 0.976.
//!
//! A sensor's layer reaches from the surface (the shallowest) or halfway to the sensor above, down to
//! halfway to the sensor below or without end (the deepest). Sensors at the same depth share their layer.

/// The `β` of a species (its genus, the first word of the botanical name, case-insensitive).
pub fn beta(species: &str) -> f64 {
    let genus = species
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match genus.as_str() {
        "picea" | "populus" | "salix" => 0.950,
        "quercus" | "pinus" | "juglans" | "abies" | "robinia" => 0.976,
        _ => 0.966,
    }
}

/// The share of the roots above `depth_cm` for a species of `beta`.
pub fn above(beta: f64, depth_cm: f64) -> f64 {
    1.0 - beta.powf(depth_cm.max(0.0))
}

/// Per sensor depth (`None`: not known), the share of the tree's roots in the layer it stands for; `None`
/// for a sensor without a depth, and every share `1` for a single sensor. The shares of the known depths
/// sum to 1.
pub fn layer_shares(beta: f64, depths: &[Option<u16>]) -> Vec<Option<f64>> {
    let mut known: Vec<u16> = depths.iter().flatten().copied().collect();
    known.sort_unstable();
    known.dedup();
    depths
        .iter()
        .map(|d| {
            let d = (*d)?;
            let i = known.partition_point(|k| *k < d);
            let top = if i == 0 {
                0.0
            } else {
                f64::from(known[i - 1] + d) / 2.0
            };
            let bottom = known
                .get(i + 1)
                .map_or(f64::INFINITY, |n| f64::from(d + *n) / 2.0);
            let share = above(beta, bottom) - above(beta, top);
            let same = depths.iter().filter(|x| **x == Some(d)).count() as f64;
            Some(share / same)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genus_decides_the_rooting_habit() {
        assert_eq!(beta("Quercus robur"), 0.976);
        assert_eq!(beta("tilia cordata"), 0.966);
        assert_eq!(beta("Picea abies"), 0.95);
        assert_eq!(beta(""), 0.966);
    }

    #[test]
    fn shares_of_a_probe_sum_to_one_and_favour_the_top() {
        let s = layer_shares(0.966, &[Some(10), Some(30), Some(60), None]);
        let known: Vec<f64> = s.iter().flatten().copied().collect();
        assert_eq!(known.len(), 3);
        assert!((known.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // Layers 0–20, 20–45, 45–∞ cm.
        assert!((known[0] - (1.0 - 0.966f64.powi(20))).abs() < 1e-12);
        assert!((known[2] - 0.966f64.powf(45.0)).abs() < 1e-12);
        assert_eq!(s[3], None);
        // A taproot puts more of itself deep down than a flat root.
        let deep = |b| layer_shares(b, &[Some(30), Some(90)])[1].unwrap_or(0.0);
        assert!(
            deep(0.976) > 0.2 && deep(0.95) < 0.05,
            "{} {}",
            deep(0.976),
            deep(0.95)
        );
        // One sensor has all the roots; two at one depth share them.
        assert_eq!(layer_shares(0.966, &[Some(40)]), vec![Some(1.0)]);
        assert_eq!(
            layer_shares(0.966, &[Some(40), Some(40)]),
            vec![Some(0.5), Some(0.5)]
        );
    }
}
