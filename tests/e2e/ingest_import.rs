//! Issue 5: `zaehlwerk import` loads a CSV export and a line-protocol file through the ingest validation and
//! write path; rejected rows are summarised by reason and kept in the dead-letter file.

use zw_config::Config;
use zw_tests::{Stack, influx_query, series_values};

use crate::support::config::write;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_loads_csv_and_line_protocol_and_reports_rejections() -> anyhow::Result<()> {
    let stack = Stack::builder().influxd().start().await?;
    let dir = stack.state_dir();
    let dead = dir.join("dead.jsonl");
    let mut config = Config::default();
    config.influx.url = stack.influx_url();
    config.influx.database = stack.influx_db().into();
    config.ingest.batch_size = 3;
    config.ingest.dead_letter.path = Some(dead.clone());
    let cfg = write(&stack, &config)?;
    let csv = dir.join("export.csv");
    std::fs::write(
        &csv,
        "value,ts,site,device,quantity\n\
         8251223.6,2024-05-01T10:00:00Z,rathaus,rathaus-main,energy_import\n\
         1207.5,2024-05-01T10:00:00Z,rathaus,rathaus-main,active_power\n\
         1300.0,1714557900000,rathaus,rathaus-main,active_power\n\
         12,2024-05-01T10:00:00Z,rathaus,rathaus-main,watts\n\
         abc,2024-05-01T10:10:00Z,rathaus,rathaus-main,active_power\n",
    )?;
    let lp = dir.join("old.lp");
    std::fs::write(
        &lp,
        "# exported\n\
         readings,site=rathaus,device=rathaus-main active_power=900.5 1714558200\n\
         readings,site=rathaus,device=rathaus-main active_power=901.5 1714558500\n\
         other,site=rathaus,device=rathaus-main active_power=1 1714558800\n",
    )?;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["import", "--precision", "s", "--config"])
        .arg(&cfg)
        .arg(&csv)
        .arg(&lp)
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "some rows are rejected:\n{stderr}");
    assert!(stderr.contains("rejected (quantity): 1"), "{stderr}");
    assert!(stderr.contains("rejected (value): 1"), "{stderr}");
    assert!(stderr.contains("rejected (measurement): 1"), "{stderr}");
    assert!(stderr.contains("5 points written"), "{stderr}");

    let answer = influx_query(
        &stack.influx_url(),
        stack.influx_db(),
        "SELECT active_power, energy_import FROM readings WHERE device = 'rathaus-main'",
    )
    .await?;
    let rows = series_values(&answer);
    assert_eq!(rows.len(), 4, "{answer}");
    // The CSV's two rows at 10:00 became one point with both fields.
    assert_eq!(rows[0][1], serde_json::json!(1207.5));
    assert_eq!(rows[0][2], serde_json::json!(8_251_223.6));

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&dead)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["source"] == "import"));
    assert!(
        records[0]["line"]
            .as_str()
            .unwrap_or_default()
            .contains("export.csv:5"),
        "{records:?}"
    );
    Ok(())
}
