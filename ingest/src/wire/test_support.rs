//! What the wire tests share: a fixed clock, its bounds, and arbitrary readings.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use zw_model::reading::TimeWindow;
use zw_model::{Id, Quantity, Reading};

use super::Bounds;

/// The tests' "now".
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
        .single()
        .expect("valid")
}

/// The default acceptance window around [`now`].
pub(super) fn bounds() -> Bounds {
    Bounds::new(now(), TimeWindow::default())
}

/// Any reading: up to 8 values of any `f64` (NaN and infinities included), from 400 s in the future to 8
/// days old (both sides of the window), with valid ids.
pub(super) fn any_reading() -> impl Strategy<Value = Reading> {
    (
        proptest::collection::btree_map(0..Quantity::ALL.len(), proptest::num::f64::ANY, 0..8),
        -400_000i64..8 * 86_400_000,
        "[a-z0-9][a-z0-9_-]{0,8}",
        "[a-z0-9][a-z0-9_-]{0,8}",
    )
        .prop_map(|(values, age_ms, site, device)| {
            let values: BTreeMap<Quantity, f64> =
                values.into_iter().map(|(i, v)| (Quantity::ALL[i], v)).collect();
            Reading::new(
                Id::new(site).expect("id"),
                Id::new(device).expect("id"),
                now() - TimeDelta::milliseconds(age_ms),
                values,
            )
        })
}
