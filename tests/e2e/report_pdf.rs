//! The energy report as PDF from a running system (issue 19), on the town of `report.rs` ([`town`]): a
//! valid PDF, sent as an attachment named after the year, whose text (read back with poppler's
//! `pdftotext`, installed by `deploy/setup.sh --with-test-tools`) carries the JSON report's town total,
//! a building's kWh/m², its cost in € and the town's CO₂ in German notation, with umlauts intact; one
//! building's PDF; a wrong format answers 400 naming the formats.

use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::report::{Town, medium, text, town};
use crate::support::get;

/// `v` in German notation with `decimals` (1.234,5), written independently of the API's.
fn de(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let digits: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(*c);
    }
    if frac.is_empty() {
        out
    } else {
        format!("{out},{frac}")
    }
}

/// The PDF at `url`: its bytes, after checking the headers.
async fn pdf(url: &str) -> anyhow::Result<Vec<u8>> {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth("tok-fm")
        .timeout(Duration::from_secs(120))
        .send()
        .await?;
    let header = |k: &str| {
        resp.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (status, kind, disposition) = (
        resp.status(),
        header("content-type"),
        header("content-disposition"),
    );
    anyhow::ensure!(status == 200, "{status}: {}", resp.text().await?);
    assert_eq!(kind, "application/pdf");
    assert_eq!(disposition, "attachment; filename=\"energiebericht-2025.pdf\"");
    let bytes = resp.bytes().await?.to_vec();
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    Ok(bytes)
}

/// The text of a PDF, laid out as printed; fails on a PDF poppler cannot read.
fn pdftotext(pdf: &[u8]) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("energiebericht.pdf");
    std::fs::write(&path, pdf)?;
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .context("pdftotext (poppler-utils; deploy/setup.sh --with-test-tools installs it)")?;
    anyhow::ensure!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_as_pdf_carries_the_json_figures() -> anyhow::Result<()> {
    let Town { zw, api, _stack } = town().await?;
    let (status, _, body) = text(&format!("{api}/api/v1/report?year=2025"), "tok-fm", "*/*").await?;
    anyhow::ensure!(status == 200, "{status} {body}\n{}", zw.log_tail());
    let r: Value = serde_json::from_str(&body)?;

    let t = pdftotext(&pdf(&format!("{api}/api/v1/report?year=2025&format=pdf")).await?)?;
    let town_el = r["town"]
        .as_array()
        .context("town")?
        .iter()
        .find(|m| m["medium"] == "electricity")
        .context("town electricity")?;
    let hall = medium(&r["buildings"][0], "electricity")?;
    let f = |v: &Value| v.as_f64().with_context(|| format!("{v} is not a number"));
    let gross = hall["cost"]["gross_cents"].as_i64().context("cost")? as f64 / 100.0;
    let co2 = format!(
        "{} t{}",
        de(f(&r["town_co2_kg"])? / 1000.0, 1),
        if r["town_co2_complete"] == true { "" } else { " *" }
    );
    for want in [
        "Energiebericht 2025".to_string(),
        format!(
            "Alle Gebäude der Gemeinde ({})",
            r["buildings"].as_array().map_or(0, Vec::len)
        ),
        format!("{} kWh", de(f(&town_el["value"])?, 0)),
        "Verwaltungsgebäude".into(),
        de(f(&hall["per_m2"])?, 1),
        format!("{} €", de(gross, 2)),
        format!("CO₂ aller Gebäude und Medien: {co2}"),
        "Gebäude".into(),
        "Wärme".into(),
        "Änderung".into(),
        "Seite 1 von 1".into(),
    ] {
        assert!(t.contains(&want), "{want:?} missing in the PDF's text:\n{t}");
    }
    // The notes (a paragraph broken into lines): gas's factor is per kWh (after the DVGW conversion).
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Gas 240 g/kWh (GEG 2020 Anlage 9)"), "{t}");
    // The same figures as the JSON: 52.560 kWh for the town, 70,1 kWh/m² for the town hall.
    assert!(t.contains("52.560 kWh") && t.contains("70,1"), "{t}");

    // One building: its own title; the Accept header chooses the PDF too.
    let one = pdftotext(&pdf(&format!("{api}/api/v1/sites/schule/report?year=2025&format=pdf")).await?)?;
    assert!(
        one.contains("Grundschule · Stand") && !one.contains("Rathaus"),
        "{one}"
    );
    let (status, kind, _) = text(
        &format!("{api}/api/v1/report?year=2025"),
        "tok-fm",
        "application/pdf",
    )
    .await?;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));

    // A wrong format: 400 naming the formats.
    let (status, body) = get(
        &format!("{api}/api/v1/report?year=2025&format=docx"),
        Some("tok-fm"),
    )
    .await?;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("json, csv, html or pdf"), "{body}");
    // How long the PDF took (the API's log), for the record.
    if let Some(line) = zw
        .log_tail()
        .lines()
        .rfind(|l| l.contains("Energy report written as PDF"))
    {
        eprintln!("{line}");
    }
    Ok(())
}
