//! The observed rain of the weather feed (`rain_observed`), kept in the time-series store so the parks
//! dashboard can draw it beside a tree's soil history after any restart: one point per observed interval,
//! measurement [`RAIN_MEASUREMENT`], tag [`TAG_AREA`], field [`FIELD_RAIN_MM`], at the interval's start
//! (ms). A message re-sending hours writes the same points again (idempotent); an hour the feed did not
//! report has no point (missing, not `0`). Several analytics instances write the same points.
//!
//! Writes run off the detector loop and retry with back-off (500 ms doubling) up to five times; a batch
//! given up is counted in `zw_analytics_sink_dropped_total{sink="influx_rain",reason="retries_exhausted"}`.

use std::time::Duration;

use tracing::warn;
use zw_influx::line::{FieldValue, Line};
use zw_model::weather::{FIELD_RAIN_MM, RAIN_MEASUREMENT, TAG_AREA, Weather};

use crate::metrics::Metrics;

/// The line protocol of `w`'s observed rain (empty when it has none).
pub fn rain_lines(w: &Weather) -> String {
    let mut out = String::new();
    for e in &w.rain_observed {
        // A line of an id tag and a finite float (validated): cannot fail; one that did is left out.
        let _ = Line::new(RAIN_MEASUREMENT)
            .tag(TAG_AREA, w.area.as_str())
            .field(FIELD_RAIN_MM, FieldValue::Float(e.mm))
            .timestamp(e.from.timestamp_millis())
            .write_to(&mut out);
    }
    out
}

/// Writes `w`'s observed rain to the store in the background (nothing when it has none).
pub fn store(client: &zw_influx::Client, w: &Weather, metrics: &Metrics) {
    let body = rain_lines(w);
    if body.is_empty() {
        return;
    }
    let (client, metrics, area) = (client.clone(), metrics.clone(), w.area.clone());
    tokio::spawn(async move {
        const ATTEMPTS: u32 = 5;
        for attempt in 0..ATTEMPTS {
            match client.write(body.clone()).await {
                Ok(()) => return,
                Err(e) if attempt + 1 < ATTEMPTS => {
                    warn!(area = %area, error = %e, "Writing the observed rain failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                Err(e) => warn!(area = %area, error = %e, "Gave up writing the observed rain."),
            }
        }
        metrics
            .sink_dropped
            .with_label_values(&["influx_rain", "retries_exhausted"])
            .inc();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_per_observed_interval_at_its_start() {
        let json = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z",
            "rain_observed":[{"from":"2026-05-01T00:00:00Z","to":"2026-05-02T00:00:00Z","mm":14.5},
            {"from":"2026-05-02T00:00:00Z","to":"2026-05-02T01:00:00Z","mm":0}]}"#;
        let w: Weather = serde_json::from_str(json).expect("weather");
        assert_eq!(
            rain_lines(&w),
            "weather,area=town rain_mm=14.5 1777593600000\nweather,area=town rain_mm=0.0 1777680000000\n"
        );
        let none: Weather =
            serde_json::from_str(r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z","forecast":[]}"#)
                .expect("weather");
        assert_eq!(rain_lines(&none), "");
    }
}
