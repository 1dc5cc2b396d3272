//! The dryness scale every soil sensor is judged on, from [`zw_model::tree::dryness`] (shared with the API's
//! season report), and the tension scale of the analytics settings.

use crate::config::TreesConfig;

pub use zw_model::tree::dryness::Scale;

/// The tension scale of `cfg` (`moderate_kpa`, `critical_kpa`).
pub fn tension(cfg: &TreesConfig) -> Scale {
    Scale::tension(cfg.moderate_kpa, cfg.critical_kpa)
}
