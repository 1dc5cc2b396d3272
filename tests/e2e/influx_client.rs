//! The zw-influx client against the real influxd: writes, partial writes, bind parameters, injection.

use zw_influx::{Client, Config, FieldValue, Line, WriteError};
use zw_tests::{Stack, influx_query, series_values};

#[tokio::test]
async fn writes_queries_and_rejections_against_real_influxd() -> anyhow::Result<()> {
    let stack = Stack::builder().influxd().start().await?;
    let client = Client::new(Config {
        url: stack.influx_url(),
        database: stack.influx_db().into(),
        ..Default::default()
    })?;
    assert!(client.ping().await);

    let mut body = String::new();
    for (dev, v) in [("a", 1.5), ("b", 2.5), ("x' OR device='a", 99.0)] {
        Line::new("m")
            .tag("device", dev)
            .field("v", FieldValue::Float(v))
            .timestamp(1_700_000_000_000)
            .write_to(&mut body)?;
    }
    client.write(body).await?;
    // Checked with an independent reader.
    let answer = influx_query(
        &stack.influx_url(),
        stack.influx_db(),
        "SELECT v FROM m WHERE device = 'a'",
    )
    .await?;
    assert_eq!(series_values(&answer)[0][1], serde_json::json!(1.5));

    // Bind parameters: the value is data, never query text.
    let rows = client
        .query("SELECT v FROM m WHERE device = $d", &[("d", "b")])
        .await?;
    assert_eq!(rows[0].values[0][1].as_f64(), Some(2.5));
    let injected = client
        .query("SELECT v FROM m WHERE device = $d", &[("d", "x' OR device='a")])
        .await?;
    assert_eq!(
        injected[0].values.len(),
        1,
        "only the device literally named so: {injected:?}"
    );
    assert_eq!(injected[0].values[0][1].as_f64(), Some(99.0));

    // A partial write: the good line is stored, the error is typed as Rejected.
    let err = client
        .write("m,device=c v=1 1700000000000\nm,device=c v=\"text\" 1700000000001\n")
        .await
        .expect_err("type conflict");
    assert!(matches!(err, WriteError::Rejected { status: 400, .. }), "{err:?}");
    let c = client
        .query("SELECT v FROM m WHERE device = $d", &[("d", "c")])
        .await?;
    assert_eq!(c[0].values.len(), 1);

    // A missing database is NotFound, and a stopped server is Unavailable (retryable).
    let other = Client::new(Config {
        url: stack.influx_url(),
        database: "nope".into(),
        ..Default::default()
    })?;
    assert!(matches!(
        other.write("m v=1\n").await,
        Err(WriteError::NotFound(_))
    ));
    stack.stop_influxd().await;
    assert!(matches!(
        client.write("m v=1\n").await,
        Err(WriteError::Unavailable { .. })
    ));
    assert!(!client.ping().await);
    Ok(())
}
