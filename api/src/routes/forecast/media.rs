//! A medium's outlook ([`zw_model::forecast::media`]) as the report's horizons and hours: energy in Wh
//! (null for water, and for gas without a calorific value), volume in m³ (gas and water), cost in cents
//! (null without a tariff of the medium or without the gas's kWh).

use chrono::{DateTime, Utc};
use zw_model::forecast::media::MediumOutlook;
use zw_model::report::Medium;

use super::{ForecastHour, Horizon};

/// The horizon ending at `until` of outlook `o`; `complete` when the measured part had no gap (and the
/// cost, if any, priced every interval).
pub(super) fn horizon(until: DateTime<Utc>, o: &MediumOutlook, complete: bool) -> Horizon {
    Horizon {
        until,
        measured_wh: o.wh.map(|p| p.measured_wh),
        remaining_wh: o.wh.map(|p| p.remaining_wh),
        wh: o.wh.map(|p| p.wh),
        low_wh: o.wh.map(|p| p.low_wh),
        high_wh: o.wh.map(|p| p.high_wh),
        measured_m3: o.m3.map(|p| p.measured_wh),
        remaining_m3: o.m3.map(|p| p.remaining_wh),
        m3: o.m3.map(|p| p.wh),
        low_m3: o.m3.map(|p| p.low_wh),
        high_m3: o.m3.map(|p| p.high_wh),
        gross_cents: o.cost.map(|c| c.gross_cents),
        low_gross_cents: o.cost.map(|c| c.low_gross_cents),
        high_gross_cents: o.cost.map(|c| c.high_gross_cents),
        complete: complete && o.cost.is_none_or(|c| c.priced),
    }
}

/// One forecast hour of `medium` from the model's `v` (its counter unit: Wh, or m³ for gas and water);
/// gas in Wh at `per_m3` kWh/m³ when a conversion is valid.
pub(super) fn hour(medium: Medium, start: DateTime<Utc>, v: f64, per_m3: Option<f64>) -> ForecastHour {
    match medium {
        Medium::Electricity | Medium::Heat => ForecastHour {
            start,
            wh: Some(v),
            m3: None,
        },
        Medium::Gas => ForecastHour {
            start,
            wh: per_m3.map(|k| v * k * 1000.0),
            m3: Some(v),
        },
        Medium::Water => ForecastHour {
            start,
            wh: None,
            m3: Some(v),
        },
    }
}
