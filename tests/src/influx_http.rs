//! Minimal InfluxDB 1.x HTTP helpers for assertions in tests: write line protocol, run InfluxQL.
//!
//! These are deliberately independent of the `zw-influx` client so that tests of that client (and of the
//! pipeline built on it) check its results against a second, trivial implementation.

use crate::influxd::{client, form_encode};

/// Runs InfluxQL `q` against database `db` with `GET {url}/query` and returns the JSON answer.
///
/// Fails on a non-2xx status and on any statement that InfluxDB answered with an `"error"`, so a typo in
/// a test query cannot pass as "no rows".
pub async fn influx_query(url: &str, db: &str, q: &str) -> anyhow::Result<serde_json::Value> {
    let resp = client()?
        .get(format!("{url}/query?{}", form_encode(&[("db", db), ("q", q)])))
        .send()
        .await?;
    let status = resp.status();
    let body = resp.text().await?;
    anyhow::ensure!(status.is_success(), "query {q:?} on {db}: HTTP {status}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body)?;
    if let Some(err) = json.get("error") {
        anyhow::bail!("query {q:?} on {db}: {err}");
    }
    let statements = json
        .get("results")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten();
    for (i, statement) in statements.enumerate() {
        if let Some(err) = statement.get("error") {
            anyhow::bail!("query {q:?} on {db}, statement {i}: {err}");
        }
    }
    Ok(json)
}

/// Writes line-protocol `lines` to `db` with `POST {url}/write?db=&precision=` and expects 204.
///
/// `precision` is one of InfluxDB's `ns`, `u`, `ms`, `s`, `m`, `h`.
pub async fn influx_write(url: &str, db: &str, precision: &str, lines: &str) -> anyhow::Result<()> {
    influx_write_rp(url, (db, ""), precision, lines).await
}

/// [`influx_write`] into retention policy `rp` of `db` (`""`: the default policy).
pub async fn influx_write_rp(
    url: &str,
    (db, rp): (&str, &str),
    precision: &str,
    lines: &str,
) -> anyhow::Result<()> {
    let resp = client()?
        .post(format!(
            "{url}/write?{}",
            form_encode(&[("db", db), ("rp", rp), ("precision", precision)])
        ))
        .body(lines.to_owned())
        .send()
        .await?;
    let status = resp.status();
    anyhow::ensure!(
        status == reqwest::StatusCode::NO_CONTENT,
        "write to {db}: HTTP {status}: {}",
        resp.text().await.unwrap_or_default()
    );
    Ok(())
}

/// The `values` rows of the first series of the first statement in an [`influx_query`] answer; empty if
/// the query matched nothing.
pub fn series_values(answer: &serde_json::Value) -> Vec<Vec<serde_json::Value>> {
    answer
        .pointer("/results/0/series/0/values")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}
