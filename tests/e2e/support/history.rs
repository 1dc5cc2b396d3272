//! A meter's past written straight to InfluxDB, so the dashboard's "last month" and "same month last year"
//! have something to show: cumulative counter readings every 15 minutes with a daily profile (a low night,
//! mornings and evenings higher, each day its own level), ending at a given value and time so that they meet
//! the meter's live counter without a gap or a reset; for electricity also the mean power of each quarter.

use chrono::{DateTime, TimeDelta, Timelike, Utc};

/// The share of a day's use in the quarter hour starting at local hour `h`, relative to the mean (1).
fn weight(h: u32) -> f64 {
    match h {
        0..=5 => 0.4,
        6..=8 | 17..=21 => 1.8,
        _ => 0.9,
    }
}

/// Line protocol of `field` for `device` at `site`: a reading every 15 minutes from `from` up to `to`, growing
/// by about `per_day` per day on average (in the field's unit) and reaching `end` at the last reading.
pub fn counter_lines(
    (site, device, field): (&str, &str, &str),
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    end: f64,
    per_day: f64,
) -> Vec<String> {
    let tz = chrono_tz::Europe::Berlin;
    let mut times = Vec::new();
    let mut t = from;
    while t < to {
        times.push(t);
        t += TimeDelta::minutes(15);
    }
    // The last reading at `to` itself (where the live counter takes over, or now).
    times.push(to);
    let mean = (0..24).map(weight).sum::<f64>() / 24.0;
    // Each day its own level, 0.7 to 1.3 of the mean (a fixed pseudo-random sequence), so forecasts err.
    let level = |t: &DateTime<Utc>| {
        let day = (t.timestamp() / 86_400) as f64;
        let x = (day * 12.9898).sin() * 43_758.545;
        0.7 + 0.6 * (x - x.floor())
    };
    let steps: Vec<f64> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // A shorter last step grows less.
            let share = match i.checked_sub(1).map(|p| (*t - times[p]).num_seconds()) {
                Some(s) => s as f64 / 900.0,
                None => 1.0,
            };
            per_day / 96.0 * weight(t.with_timezone(&tz).hour()) / mean * level(t) * share
        })
        .collect();
    let total: f64 = steps.iter().skip(1).sum();
    let mut value = end - total;
    let mut lines = Vec::with_capacity(times.len());
    for (i, t) in times.iter().enumerate() {
        if i > 0 {
            value += steps[i];
        }
        // An electricity meter's mean power over the step before (W = Wh × 3600 / s), so the load
        // profile and carpet plot have the past too.
        let power = if field == "energy_import" && i > 0 {
            let secs = (*t - times[i - 1]).num_seconds().max(1) as f64;
            format!(",active_power={}", steps[i] * 3600.0 / secs)
        } else {
            String::new()
        };
        lines.push(format!(
            "readings,device={device},site={site} {field}={value}{power} {}",
            t.timestamp_millis()
        ));
    }
    lines
}

/// Writes `lines` to the stack's InfluxDB in batches.
pub async fn write(stack: &zw_tests::Stack, lines: &[String]) -> anyhow::Result<()> {
    for chunk in lines.chunks(10_000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }
    Ok(())
}

/// Creates the rollups' retention policy, empty. A test that writes a meter's past after the system started
/// turns the roller off (it would roll the span up before the past is there), and the API's energy reports
/// answer 503 without the policy the roller would have created: with it empty, they read the raw readings.
pub async fn empty_rollups(stack: &zw_tests::Stack) -> anyhow::Result<()> {
    let q = format!(
        "CREATE RETENTION POLICY \"{}\" ON \"{}\" DURATION INF REPLICATION 1",
        zw_model::counter::rollup::RETENTION_POLICY,
        stack.influx_db()
    );
    let url = reqwest::Url::parse_with_params(&format!("{}/query", stack.influx_url()), [("q", q.as_str())])?;
    let r = reqwest::Client::new().post(url).send().await?;
    anyhow::ensure!(r.status().is_success(), "{q}: {}", r.text().await?);
    Ok(())
}

/// The first day of the month a year before the current one, a day earlier (a margin for the counter's
/// edge readings), at 00:00 UTC.
pub fn a_year_and_a_month_ago(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Datelike;
    let first = now
        .date_naive()
        .with_day(1)
        .and_then(|d| d.checked_sub_months(chrono::Months::new(12)))
        .and_then(|d| d.pred_opt())
        .unwrap_or_else(|| now.date_naive());
    first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readings_grow_and_end_at_the_given_value() {
        let to = Utc::now();
        let from = to - TimeDelta::days(3);
        let lines = counter_lines(("hh", "plug", "energy_import"), (from, to), 5000.0, 1000.0);
        let values: Vec<f64> = lines
            .iter()
            .map(|l| {
                l.split("energy_import=")
                    .nth(1)
                    .and_then(|r| r.split([' ', ',']).next())
                    .and_then(|v| v.parse().ok())
                    .expect("a value")
            })
            .collect();
        assert_eq!(values.len(), 3 * 96 + 1);
        assert!(values.windows(2).all(|w| w[1] > w[0]));
        assert!((values[values.len() - 1] - 5000.0).abs() < 1e-6);
        // Three days of 1000 on average, each day at 0.7 to 1.3 of it.
        let grown = values[values.len() - 1] - values[0];
        assert!((2100.0..=3900.0).contains(&grown), "{grown}");
    }
}
