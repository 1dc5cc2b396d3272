//! The report as a PDF a council can read: A4 landscape, the title with the year (and the building for one
//! site), the weather used, the town's totals per medium, the top savings candidates, then one table row
//! per building and medium (building, category, floor area, consumption, weather-corrected, change against
//! last year, kWh/m² against the comparison value, cost, CO₂), its head repeated on every page, the notes,
//! and "Seite n von N" on every page. Figures in German notation exactly as on the printable page
//! ([`super::render`]); unknown is `–`, never 0; `*` marks an incomplete year.
//!
//! Laid out first (text and rules per page, [`Layout`]), then drawn with krilla, so the page count is
//! known when the footers are written. Pure: the caller passes the date it was made.

use chrono::NaiveDate;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;
use zw_model::report::{BuildingReport, CandidateKind, Medium, MediumReport, Report};

use super::pdf_font::{Fonts, fonts};
use super::render::{de, percent, tonnes};

/// Why no PDF was made.
#[derive(Debug, thiserror::Error)]
pub(super) enum PdfError {
    /// DejaVu Sans is not installed.
    #[error("{}", super::pdf_font::MISSING)]
    FontMissing,
    /// krilla could not write the document.
    #[error("writing the PDF failed: {0}")]
    Write(String),
}

/// A4 landscape, pt.
const W: f32 = 841.89;
const H: f32 = 595.28;
const MARGIN: f32 = 36.0;
/// Text size of the tables and notes, pt.
const SIZE: f32 = 7.5;
const ROW: f32 = 11.0;

/// A table column: heading (lines split at `\n`), width in pt, figures right-aligned.
struct Col(&'static str, f32, bool);

const MAIN: [Col; 13] = [
    Col("Gebäude", 112.0, false),
    Col("Kategorie", 94.0, false),
    Col("NGF m²", 36.0, true),
    Col("Medium", 40.0, false),
    Col("Verbrauch", 70.0, true),
    Col("witterungs-\nbereinigt", 56.0, true),
    Col("Änderung\nzum Vorjahr", 56.0, true),
    Col("kWh/m²", 38.0, true),
    Col("kWh/m²\nbereinigt", 44.0, true),
    Col("Vergleichs-\nwert kWh/m²", 59.0, true),
    Col("über Ver-\ngleichswert", 54.0, true),
    Col("Kosten brutto", 64.0, true),
    Col("CO₂", 46.0, true),
];

const CANDIDATES: [Col; 4] = [
    Col("Gebäude", 220.0, false),
    Col("Medium", 60.0, false),
    Col("Grund", 220.0, false),
    Col("Anteil", 60.0, true),
];

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        s: String,
    },
    Rule {
        x0: f32,
        x1: f32,
        y: f32,
    },
}

/// Text and rules per page, top-down from a cursor; a table's head is repeated on a new page.
struct Layout<'f> {
    f: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
    head: Option<&'static [Col]>,
}

impl<'f> Layout<'f> {
    fn new(f: &'f Fonts) -> Self {
        Layout {
            f,
            pages: vec![Vec::new()],
            y: MARGIN,
            head: None,
        }
    }

    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    /// Room for `h` pt more, else a new page (with the open table's head).
    fn room(&mut self, h: f32) {
        if self.y + h > H - MARGIN - 14.0 {
            self.pages.push(Vec::new());
            self.y = MARGIN;
            if let Some(cols) = self.head {
                self.table_head(cols);
            }
        }
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, s: String) {
        let y = self.y;
        if !s.is_empty() {
            self.page().push(Op::Text { x, y, size, bold, s });
        }
    }

    fn heading(&mut self, s: &str, size: f32) {
        self.room(size * 2.5 + ROW * 2.0);
        self.y += size * 1.6;
        self.text(MARGIN, size, true, s.to_string());
        self.y += size * 0.8;
    }

    fn paragraph(&mut self, s: &str) {
        for line in self.f.regular.wrap(s, SIZE + 0.5, W - 2.0 * MARGIN) {
            self.room(ROW);
            self.y += ROW;
            self.text(MARGIN, SIZE + 0.5, false, line);
        }
    }

    fn rule(&mut self, cols: &[Col]) {
        let x1 = MARGIN + cols.iter().map(|c| c.1).sum::<f32>();
        let y = self.y + 3.0;
        self.page().push(Op::Rule { x0: MARGIN, x1, y });
    }

    fn table_head(&mut self, cols: &'static [Col]) {
        self.head = None;
        self.room(ROW * 3.0);
        self.head = Some(cols);
        let lines = cols.iter().map(|c| c.0.lines().count()).max().unwrap_or(1);
        for k in 0..lines {
            self.y += ROW;
            self.cells(cols, true, |i| cols[i].0.lines().nth(k).unwrap_or("").to_string());
        }
        self.rule(cols);
    }

    /// One row of `cols`, each cell cut to its column.
    fn cells(&mut self, cols: &[Col], bold: bool, cell: impl Fn(usize) -> String) {
        let face = if bold { &self.f.bold } else { &self.f.regular };
        let mut x = MARGIN;
        let mut ops = Vec::new();
        for (i, Col(_, w, right)) in cols.iter().enumerate() {
            let s = face.fit(&cell(i), SIZE, w - 4.0);
            let at = if *right {
                x + w - 2.0 - face.width(&s, SIZE)
            } else {
                x + 2.0
            };
            ops.push((at, s));
            x += w;
        }
        for (at, s) in ops {
            self.text(at, SIZE, bold, s);
        }
    }

    fn row(&mut self, cols: &[Col], cell: impl Fn(usize) -> String) {
        self.room(ROW);
        self.y += ROW;
        self.cells(cols, false, cell);
    }

    fn end_table(&mut self) {
        self.head = None;
        self.y += ROW * 0.5;
    }
}

/// A cost in its currency (€ for EUR), `*` when incomplete; `–` when unknown.
fn cost(m: &MediumReport) -> String {
    match &m.cost {
        Some(c) => format!(
            "{} {}{}",
            de(Some(c.gross_cents as f64 / 100.0), 2),
            if c.currency == "EUR" { "€" } else { &c.currency },
            if c.complete { "" } else { " *" }
        ),
        None => "–".into(),
    }
}

/// The figures of one medium, columns 3 to 12 of [`MAIN`].
fn figures(m: &MediumReport) -> [String; 9] {
    let digits = if m.unit == "kWh" { 0 } else { 1 };
    [
        format!(
            "{} {}{}",
            de(m.value, digits),
            m.unit,
            if m.complete { "" } else { " *" }
        ),
        de(m.normalised_value, digits),
        percent(m.change_ratio),
        de(m.per_m2, 1),
        de(m.compared_per_m2, 1),
        de(m.comparison_per_m2, 0),
        percent(m.above_comparison),
        cost(m),
        tonnes(m.co2_kg, true),
    ]
}

/// A row of [`MAIN`]: the building's columns, then the medium's (or `none` in the consumption column).
fn main_row(l: &mut Layout, building: [String; 3], m: Option<&MediumReport>, none: &str) {
    let figs = m.map(figures);
    l.row(&MAIN, |i| match (i, &figs, m) {
        (0..=2, ..) => building[i].clone(),
        (3, _, Some(m)) => m.medium.label_de().to_string(),
        (_, Some(f), _) => f[i - 4].clone(),
        (4, None, _) => none.to_string(),
        _ => String::new(),
    });
}

/// A building's rows: one per medium, its name and category wrapped over them (more rows if they need
/// them), kept on one page.
fn building_rows(l: &mut Layout, b: &BuildingReport) {
    let width = |i: usize| MAIN[i].1 - 4.0;
    let name = if b.name.is_empty() { &b.id } else { &b.name };
    let names = l.f.regular.wrap(name, SIZE, width(0));
    let category = b.category.map_or("", |c| c.label_de());
    let categories = l.f.regular.wrap(category, SIZE, width(1));
    let rows = b.media.len().max(names.len()).max(categories.len()).max(1);
    l.room(ROW * rows as f32 + 4.0);
    l.rule(&MAIN);
    for k in 0..rows {
        let line = |v: &[String]| v.get(k).cloned().unwrap_or_default();
        let area = if k == 0 {
            de(b.floor_area_m2, 0)
        } else {
            String::new()
        };
        let none = if k == 0 && b.media.is_empty() {
            "keine Zähler"
        } else {
            ""
        };
        main_row(l, [line(&names), line(&categories), area], b.media.get(k), none);
    }
}

/// The report as a PDF; `subject` names what it covers (the town, or one building), `made` the day.
pub(super) fn pdf(r: &Report, subject: &str, made: NaiveDate) -> Result<Vec<u8>, PdfError> {
    let f = fonts().ok_or(PdfError::FontMissing)?;
    let mut l = Layout::new(f);
    l.y += 18.0;
    l.text(MARGIN, 18.0, true, format!("Energiebericht {}", r.year));
    l.y += 16.0;
    l.text(
        MARGIN,
        11.0,
        false,
        format!("{subject} · Stand {}", made.format("%d.%m.%Y")),
    );
    let c = &r.climate;
    l.y += 4.0;
    l.paragraph(&format!(
        "Gradtagzahl G20/15 (VDI 3807) {}: {} Kd; Vorjahr: {} Kd; Referenz: {} Kd. Die Heizenergie (Wärme, \
         Gas) ist mit dem Anteil {} % auf die Referenz witterungsbereinigt.",
        r.year,
        de(c.degree_days, 0),
        de(c.previous_degree_days, 0),
        de(Some(c.reference_degree_days), 0),
        de(Some(c.heating_share * 100.0), 0),
    ));

    l.heading("Gemeinde gesamt", 12.0);
    l.paragraph(&format!(
        "CO₂ aller Gebäude und Medien: {}",
        tonnes(r.town_co2_kg, r.town_co2_complete)
    ));
    l.table_head(&MAIN);
    let n = r.buildings.len();
    let mut all = ["Alle Gebäude".into(), format!("{n} Gebäude"), String::new()];
    for m in &r.town {
        main_row(&mut l, std::mem::take(&mut all), Some(m), "");
    }
    l.end_table();

    l.heading("Einsparpotenziale", 12.0);
    if r.candidates.is_empty() {
        l.paragraph(
            "Keine Gebäude über ihrem Vergleichswert oder mit Verbrauch außerhalb der Nutzungszeit bekannt.",
        );
    } else {
        l.table_head(&CANDIDATES);
        for k in &r.candidates {
            let (why, ratio) = match k.kind {
                CandidateKind::AboveComparison => ("über dem Vergleichswert", percent(Some(k.ratio))),
                CandidateKind::OutsideUsage => (
                    "Verbrauch nachts und am Wochenende",
                    de(Some(k.ratio * 100.0), 1) + " %",
                ),
            };
            let name = if k.name.is_empty() { &k.site } else { &k.name };
            let cells = [name.clone(), k.medium.label_de().into(), why.into(), ratio];
            l.row(&CANDIDATES, |i| cells[i].clone());
        }
        l.end_table();
    }

    l.heading("Gebäude", 12.0);
    l.table_head(&MAIN);
    for b in &r.buildings {
        building_rows(&mut l, b);
    }
    l.end_table();
    l.paragraph(&notes(r));
    draw(r, f, l.pages)
}

/// The footnotes: what `*` and `–` mean, the comparison values' and emission factors' sources.
fn notes(r: &Report) -> String {
    let mut s = String::from(
        "* unvollständig (Lücke, Zählerwechsel oder fehlende Daten): der Wert ist eine Untergrenze. – unbekannt. \
         Verbrauch exakt aus den Zählerständen; Vergleich nur für vollständige Jahre mit Fläche und Vergleichswert.",
    );
    let mut sources: Vec<&str> = r
        .buildings
        .iter()
        .flat_map(|b| b.media.iter().filter_map(|m| m.comparison_source.as_deref()))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    for src in sources {
        s += &format!(" Vergleichswerte: {src}.");
    }
    let factors: Vec<String> = r
        .town
        .iter()
        .filter_map(|m| {
            let (g, src) = (m.co2_g_per_unit?, m.co2_source.as_deref()?);
            Some(format!(
                "{} {} g/{} ({src})",
                m.medium.label_de(),
                de(Some(g), 0),
                if m.medium == Medium::Water { "m³" } else { "kWh" }
            ))
        })
        .collect();
    if factors.is_empty() {
        s += " CO₂: keine Emissionsfaktoren konfiguriert, daher unbekannt.";
    } else {
        s += &format!(" CO₂-Emissionsfaktoren: {}.", factors.join("; "));
    }
    let unpriced: Vec<&str> = r
        .town
        .iter()
        .filter(|m| m.cost.is_none())
        .map(|m| m.medium.label_de())
        .collect();
    if !unpriced.is_empty() {
        s += &format!(" Ohne Tarif keine Kosten: {}.", unpriced.join(", "));
    }
    s
}

/// The laid-out pages drawn, each with its footer.
fn draw(r: &Report, f: &Fonts, pages: Vec<Vec<Op>>) -> Result<Vec<u8>, PdfError> {
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("Energiebericht {}", r.year))
            .language("de".into())
            .creator("Zählwerk".into()),
    );
    let n = pages.len();
    let grey = Stroke {
        paint: rgb::Color::new(150, 150, 150).into(),
        width: 0.4,
        ..Stroke::default()
    };
    let black = Fill::default();
    for (k, ops) in pages.into_iter().enumerate() {
        let settings = PageSettings::from_wh(W, H).ok_or_else(|| PdfError::Write("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        let mut s = page.surface();
        let footer = format!("Energiebericht {} · Seite {} von {n}", r.year, k + 1);
        let fx = W - MARGIN - f.regular.width(&footer, SIZE);
        let ops = ops.into_iter().chain([Op::Text {
            x: fx,
            y: H - MARGIN + 6.0,
            size: SIZE,
            bold: false,
            s: footer,
        }]);
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    s: text,
                } => {
                    s.set_stroke(None);
                    s.set_fill(Some(black.clone()));
                    let font = if bold { &f.bold.font } else { &f.regular.font };
                    s.draw_text(
                        Point::from_xy(x, y),
                        font.clone(),
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Rule { x0, x1, y } => {
                    let mut p = PathBuilder::new();
                    p.move_to(x0, y);
                    p.line_to(x1, y);
                    if let Some(path) = p.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(grey.clone()));
                        s.draw_path(&path);
                    }
                }
            }
        }
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

#[cfg(test)]
mod tests;
