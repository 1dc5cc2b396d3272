//! The report as CSV (one row per site and medium, then the town's totals as site `*`; `co2_total_kg` is
//! the building's, on the town rows the town's, CO₂ of all media) and as a printable
//! German HTML page (server-rendered, print CSS, no JavaScript). Unknown figures are empty cells or `–`,
//! never 0. Every text from the inventory is escaped.

use std::fmt::Write as _;

use zw_model::report::{BuildingReport, CandidateKind, MediumReport, Report};

const CSV_HEADER: &str = "site,name,category,floor_area_m2,medium,unit,value,complete,previous_value,\
previous_complete,change_ratio,normalised_value,normalised_change_ratio,per_m2,compared_per_m2,\
comparison_per_m2,above_comparison,outside_usage_share,cost_net_cents,cost_gross_cents,currency,cost_complete,\
cost_note,co2_kg,co2_g_per_unit,co2_source,co2_note,co2_total_kg";

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// A CSV field, quoted when it holds a separator, a quote or a line break; a leading `=`, `+`, `-` or `@`
/// is prefixed with `'` so spreadsheets do not run it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_row(
    out: &mut String,
    (id, name, category, area, total): (&str, &str, &str, Option<f64>, Option<f64>),
    m: &MediumReport,
) {
    let cost = m.cost.as_ref();
    let cells = [
        field(id),
        field(name),
        field(category),
        num(area),
        m.medium.name().into(),
        m.unit.into(),
        num(m.value),
        m.complete.to_string(),
        num(m.previous_value),
        m.previous_complete.to_string(),
        num(m.change_ratio),
        num(m.normalised_value),
        num(m.normalised_change_ratio),
        num(m.per_m2),
        num(m.compared_per_m2),
        num(m.comparison_per_m2),
        num(m.above_comparison),
        num(m.outside_usage_share),
        cost.map(|c| c.net_cents.to_string()).unwrap_or_default(),
        cost.map(|c| c.gross_cents.to_string()).unwrap_or_default(),
        cost.map(|c| c.currency.clone()).unwrap_or_default(),
        cost.map(|c| c.complete.to_string()).unwrap_or_default(),
        field(m.cost_note.as_deref().unwrap_or("")),
        num(m.co2_kg),
        num(m.co2_g_per_unit),
        field(m.co2_source.as_deref().unwrap_or("")),
        field(m.co2_note.as_deref().unwrap_or("")),
        num(total),
    ];
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// The report as CSV.
pub(super) fn csv(r: &Report) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for b in &r.buildings {
        let category = b.category.map(|c| c.name()).unwrap_or("");
        for m in &b.media {
            csv_row(&mut out, (&b.id, &b.name, category, b.floor_area_m2, b.co2_kg), m);
        }
    }
    for m in &r.town {
        csv_row(&mut out, ("*", "Gemeinde", "", None, r.town_co2_kg), m);
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `v` with `decimals` in German notation (1.234,5); `–` when unknown.
pub(super) fn de(v: Option<f64>, decimals: usize) -> String {
    let Some(v) = v else {
        return "–".into();
    };
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && s.chars().any(|c| ('1'..='9').contains(&c)) {
        "−"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

pub(super) fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{}{} %", if v > 0.0 { "+" } else { "" }, de(Some(v * 100.0), 1)),
        None => "–".into(),
    }
}

fn euros(m: &MediumReport) -> String {
    match &m.cost {
        Some(c) => format!(
            "{} {}{}",
            de(Some(c.gross_cents as f64 / 100.0), 2),
            esc(&c.currency),
            if c.complete { "" } else { " *" }
        ),
        None => "–".into(),
    }
}

/// CO₂ kg as tonnes with one decimal, `*` when not `complete`; `–` when unknown.
pub(super) fn tonnes(kg: Option<f64>, complete: bool) -> String {
    match kg {
        Some(kg) => format!(
            "{} t{}",
            de(Some(kg / 1000.0), 1),
            if complete { "" } else { " *" }
        ),
        None => "–".into(),
    }
}

fn medium_row(out: &mut String, label: &str, m: &MediumReport) {
    let digits = if m.unit == "kWh" { 0 } else { 1 };
    let _ = writeln!(
        out,
        "<tr><td>{label}</td><td>{}</td><td class=n>{} {}{}</td><td class=n>{}</td><td class=n>{}</td>\
         <td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>\
         <td class=n>{}</td><td class=n>{}</td></tr>",
        m.medium.label_de(),
        de(m.value, digits),
        m.unit,
        if m.complete { "" } else { " *" },
        de(m.normalised_value, digits),
        percent(m.change_ratio),
        de(m.per_m2, 1),
        de(m.compared_per_m2, 1),
        de(m.comparison_per_m2, 0),
        percent(m.above_comparison),
        percent(m.outside_usage_share),
        euros(m),
        tonnes(m.co2_kg, true),
    );
}

const HEAD: &str = "<tr><th>Gebäude</th><th>Medium</th><th>Verbrauch</th><th>witterungs&shy;bereinigt</th>\
<th>Änderung zum Vorjahr</th><th>kWh/m²</th><th>kWh/m² (bereinigt)</th><th>Vergleichswert kWh/m²</th>\
<th>über Vergleichswert</th><th>außerhalb der Nutzungszeit</th><th>Kosten brutto</th><th>CO₂</th></tr>\n";

const STYLE: &str = "body{font:11pt/1.4 sans-serif;margin:2em;color:#111}h1{font-size:18pt}\
h2{font-size:14pt;margin-top:1.5em}table{border-collapse:collapse;width:100%;margin:.5em 0}\
th,td{border:1px solid #999;padding:.2em .4em;vertical-align:top}th{background:#eee;text-align:left}\
td.n{text-align:right;white-space:nowrap}p.note{font-size:9pt;color:#444}\
@media print{body{margin:0;font-size:9pt}h2{break-after:avoid}tr{break-inside:avoid}@page{size:A4 landscape;margin:12mm}}";

fn building_label(b: &BuildingReport) -> String {
    let mut s = esc(if b.name.is_empty() { &b.id } else { &b.name });
    if let Some(c) = b.category {
        let _ = write!(s, "<br><small>{}</small>", c.label_de());
    }
    if let Some(a) = b.floor_area_m2 {
        let _ = write!(s, "<br><small>{} m² NGF</small>", de(Some(a), 0));
    }
    let _ = write!(
        s,
        "<br><small>CO₂ gesamt {}</small>",
        tonnes(b.co2_kg, b.co2_complete)
    );
    s
}

/// The report as a printable German HTML page.
pub(super) fn html(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=de><head><meta charset=utf-8><title>Energiebericht {y}</title>\
         <style>{STYLE}</style></head><body>\n<h1>Energiebericht {y}</h1>\n",
        y = r.year
    );
    let c = &r.climate;
    let _ = writeln!(
        out,
        "<p>Gradtagzahl G20/15 (VDI 3807) {}: {} Kd; Vorjahr: {} Kd; Referenz: {} Kd. Die Heizenergie \
         (Wärme, Gas) ist mit dem Anteil {} auf die Referenz witterungsbereinigt.</p>",
        r.year,
        de(c.degree_days, 0),
        de(c.previous_degree_days, 0),
        de(Some(c.reference_degree_days), 0),
        de(Some(c.heating_share * 100.0), 0) + " %",
    );
    out.push_str("<h2>Gemeinde gesamt</h2>\n");
    let _ = writeln!(
        out,
        "<p>CO₂ aller Gebäude und Medien: {}</p>\n<table>",
        tonnes(r.town_co2_kg, r.town_co2_complete)
    );
    out.push_str(HEAD);
    for m in &r.town {
        medium_row(&mut out, "Alle Gebäude", m);
    }
    out.push_str("</table>\n<h2>Einsparpotenziale</h2>\n");
    if r.candidates.is_empty() {
        out.push_str("<p>Keine Gebäude über ihrem Vergleichswert oder mit Verbrauch außerhalb der Nutzungszeit bekannt.</p>\n");
    } else {
        out.push_str("<table>\n<tr><th>Gebäude</th><th>Medium</th><th>Grund</th><th>Anteil</th></tr>\n");
        for k in &r.candidates {
            let why = match k.kind {
                CandidateKind::AboveComparison => "über dem Vergleichswert",
                CandidateKind::OutsideUsage => "Verbrauch nachts und am Wochenende",
            };
            let ratio = match k.kind {
                CandidateKind::AboveComparison => percent(Some(k.ratio)),
                CandidateKind::OutsideUsage => de(Some(k.ratio * 100.0), 1) + " %",
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{why}</td><td class=n>{ratio}</td></tr>",
                esc(if k.name.is_empty() { &k.site } else { &k.name }),
                k.medium.label_de(),
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h2>Gebäude</h2>\n<table>\n");
    out.push_str(HEAD);
    for b in &r.buildings {
        let label = building_label(b);
        if b.media.is_empty() {
            let _ = writeln!(out, "<tr><td>{label}</td><td colspan=11>keine Zähler</td></tr>");
        }
        for m in &b.media {
            medium_row(&mut out, &label, m);
        }
    }
    out.push_str("</table>\n");
    let mut sources: Vec<&str> = r
        .buildings
        .iter()
        .flat_map(|b| b.media.iter().filter_map(|m| m.comparison_source.as_deref()))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    out.push_str(
        "<p class=note>* unvollständig (Lücke, Zählerwechsel oder fehlende Daten): der Wert ist eine Untergrenze. \
         – unbekannt. Verbrauch exakt aus den Zählerständen; Vergleich nur für vollständige Jahre mit Fläche und \
         Vergleichswert.",
    );
    for s in sources {
        let _ = write!(out, " Vergleichswerte: {}.", esc(s));
    }
    let mut factors: Vec<String> = r
        .town
        .iter()
        .filter_map(|m| {
            let (g, src) = (m.co2_g_per_unit?, m.co2_source.as_deref()?);
            let unit = if m.medium == zw_model::report::Medium::Water {
                "m³"
            } else {
                "kWh"
            };
            Some(format!(
                "{} {} g/{unit} ({})",
                m.medium.label_de(),
                de(Some(g), 0),
                esc(src)
            ))
        })
        .collect();
    factors.dedup();
    if factors.is_empty() {
        out.push_str(" CO₂: keine Emissionsfaktoren konfiguriert, daher unbekannt.");
    } else {
        let _ = write!(out, " CO₂-Emissionsfaktoren: {}.", factors.join("; "));
    }
    let unpriced: Vec<String> = r
        .town
        .iter()
        .filter(|m| m.cost.is_none())
        .map(|m| m.medium.label_de().to_string())
        .collect();
    if !unpriced.is_empty() {
        let _ = write!(out, " Ohne Tarif keine Kosten: {}.", unpriced.join(", "));
    }
    out.push_str(
        " Temperaturen: Quelle Deutscher Wetterdienst, soweit von dort bezogen.</p>\n</body></html>\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_numbers_and_csv_fields() {
        assert_eq!(de(Some(1234567.891), 2), "1.234.567,89");
        assert_eq!(de(Some(-0.04), 1), "0,0");
        assert_eq!(de(Some(-12.5), 1), "−12,5");
        assert_eq!(de(Some(999.0), 0), "999");
        assert_eq!(de(None, 0), "–");
        assert_eq!(percent(Some(0.25)), "+25,0 %");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(esc("<b>&\""), "&lt;b&gt;&amp;&quot;");
    }
}
