//! How readings are stored in InfluxDB, shared by the writer (ingest) and the readers (API, analytics).
//!
//! One point per reading: measurement [`MEASUREMENT`], tags [`TAG_SITE`] and [`TAG_DEVICE`], one float field
//! per quantity (named as [`crate::Quantity::name`]), timestamp in milliseconds. Writing the same reading twice
//! yields the same point (same series and timestamp), so replays are idempotent.

/// Measurement holding all readings.
pub const MEASUREMENT: &str = "readings";
/// Tag with the site id.
pub const TAG_SITE: &str = "site";
/// Tag with the device id.
pub const TAG_DEVICE: &str = "device";
