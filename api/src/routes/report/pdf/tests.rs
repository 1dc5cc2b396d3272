//! The PDF of a 60-building town: valid, paginated with "Seite n von N", its figures in German notation
//! with umlauts, `€` and `CO₂` intact (read back with poppler's `pdftotext`, which `deploy/setup.sh
//! --with-test-tools` installs).

use std::process::Command;

use chrono::NaiveDate;
use zw_model::report::{
    self, BuildingCategory, BuildingInput, Climate, ComparisonValues, Cost, EmissionFactor, Measured, Medium,
    MediumInput,
};

use super::pdf;

fn medium(m: Medium, value: f64, complete: bool) -> MediumInput {
    MediumInput {
        medium: m,
        year: Measured {
            value: Some(value),
            complete,
        },
        previous_year: Measured {
            value: Some(value * 0.9),
            complete: true,
        },
        outside_usage: Some(value * 0.3),
        cost: (m == Medium::Electricity).then(|| Cost {
            net_cents: (value * 25.0) as i64,
            gross_cents: (value * 29.75) as i64,
            currency: "EUR".into(),
            complete: true,
        }),
        cost_note: (m != Medium::Electricity).then(|| "no tariff".into()),
        gas_kwh: None,
        emission_factor: (m == Medium::Electricity).then(|| EmissionFactor {
            valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).expect("date"),
            g_per_kwh: Some(560.0),
            g_per_m3: None,
            source: "GEG 2020 Anlage 9".into(),
        }),
    }
}

fn town(n: usize) -> report::Report {
    let buildings: Vec<BuildingInput> = (0..n)
        .map(|i| BuildingInput {
            id: format!("b-{i}"),
            name: if i == 0 {
                "Rathaus Süd – Bürgerbüro, Standesamt und Ratssaal".into()
            } else {
                format!("Gebäude {i}")
            },
            category: Some(if i % 2 == 0 {
                BuildingCategory::Schule
            } else {
                BuildingCategory::Kultur
            }),
            floor_area_m2: Some(1000.0 + i as f64),
            media: vec![
                medium(Medium::Electricity, 30_000.0 + 1000.0 * i as f64, i != 1),
                medium(Medium::Heat, 90_000.0, true),
            ],
        })
        .collect();
    let climate = Climate {
        degree_days: Some(3500.0),
        previous_degree_days: Some(3700.0),
        reference_degree_days: 3883.0,
        heating_share: 0.8,
    };
    report::report(2025, &buildings, climate, &ComparisonValues::builtin(), 5)
}

fn text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).expect("written");
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, deploy/setup.sh --with-test-tools) runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn sixty_buildings_on_numbered_pages_in_german() {
    let r = town(60);
    let made = NaiveDate::from_ymd_opt(2026, 1, 15).expect("date");
    let started = std::time::Instant::now();
    let bytes = pdf(&r, "Alle Gebäude der Gemeinde (60)", made).expect("a PDF");
    eprintln!("60 buildings: {} bytes in {:?}", bytes.len(), started.elapsed());
    assert!(bytes.starts_with(b"%PDF-"));
    let t = text(&bytes);
    assert!(t.contains("Energiebericht 2025"), "{t}");
    assert!(
        t.contains("Alle Gebäude der Gemeinde (60) · Stand 15.01.2026"),
        "{t}"
    );
    let pages = t.matches("Seite ").count();
    assert!(pages >= 3, "{pages} pages");
    assert!(t.contains(&format!("Seite {pages} von {pages}")), "{t}");
    // Names and categories wrap within their column over the building's rows, never cut.
    assert!(
        t.contains("Rathaus Süd – Bürgerbüro,") && t.contains("Ratssaal"),
        "{t}"
    );
    assert!(
        t.contains("Kultur- und") && t.contains("Veranstaltungsgebäude"),
        "{t}"
    );
    assert!(!t.contains('…'), "{t}");
    // The town's electricity: 60 × 30,000 + 1000 × (0 + … + 59) kWh.
    let total = 60.0 * 30_000.0 + 1000.0 * (59.0 * 60.0 / 2.0);
    let town = &r.town[0];
    assert_eq!(town.value, Some(total));
    assert!(
        t.contains("3.570.000 kWh *"),
        "the town total, incomplete (building 1): {t}"
    );
    // Building 2's kWh/m², its cost in € and its CO₂ in tonnes, as on the HTML page.
    assert!(
        t.contains("31,9") && t.contains("9.520,00 €") && t.contains("17,9 t"),
        "{t}"
    );
    assert!(
        t.contains("CO₂ aller Gebäude und Medien") && t.contains("Wärme"),
        "{t}"
    );
    // The notes, a paragraph broken into lines.
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Strom 560 g/kWh (GEG 2020 Anlage 9)"), "{t}");
}

#[test]
fn one_building_without_meters_says_so() {
    let r = report::report(
        2025,
        &[BuildingInput {
            id: "leer".into(),
            name: String::new(),
            category: None,
            floor_area_m2: None,
            media: vec![],
        }],
        Climate {
            degree_days: None,
            previous_degree_days: None,
            reference_degree_days: 3883.0,
            heating_share: 1.0,
        },
        &ComparisonValues::builtin(),
        5,
    );
    let made = NaiveDate::from_ymd_opt(2026, 1, 15).expect("date");
    let t = text(&pdf(&r, "leer", made).expect("a PDF"));
    assert!(t.contains("keine Zähler") && t.contains("Seite 1 von 1"), "{t}");
    assert!(t.contains("Gradtagzahl G20/15 (VDI 3807) 2025: – Kd"), "{t}");
}
