//! Reading the external dataset's CSV files. Every problem is an [`InputError`] naming the file and line;
//! nothing here panics on bad input.
//!
//! - readings: the import format of `zaehlwerk import` (`ts,site,device,quantity,value`, parsed by
//!   [`zw_ingest::import::CsvHeader`], so both accept exactly the same files); rows of one device and time
//!   become one reading. A name ending in `.gz` is read through gzip.
//! - weather: `date,area,et0_mm`, the observed reference evapotranspiration of a local day (in the
//!   analytics' time zone), known from the end of that day.
//! - weather forecast: `issued,area,date,et0_mm[,rain_mm]`, the ET0 (and, optionally, the rain) forecast
//!   for a local day as issued at `issued`; the rows of one `issued` and `area` are one forecast.
//! - labels: `kind,subject,start,end,note` (see [`Label`]).
//!
//! CSV files follow RFC 4180 (quoted fields may hold commas, quotes and line breaks); other columns than the
//! named ones are ignored, so a dataset may carry more (rain, temperature, a source).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use zw_model::weather::{Et0, WEATHER_SCHEMA_VERSION, Weather};
use zw_model::{Id, Reading};

/// A problem in one input file, with its line when it is one row's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct InputError {
    /// The file, as given.
    pub file: String,
    /// 1-based line (of the row's start), if the problem is one row's.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// The kinds of labelled events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LabelKind {
    /// A device or building drawing far more than its normal.
    HighConsumption,
    /// A building's night or weekend baseload grown.
    Baseload,
    /// A device left on outside usage hours.
    LeftOn,
    /// A tree needing water: from when it is critical (`start`) until rain or watering relieved it (`end`).
    WateringNeed,
    /// A soil sensor reporting wrong values or failing.
    SensorFault,
    /// Something that looks unusual but must raise no alert (a holiday, a cold morning, a party).
    Negative,
}

impl LabelKind {
    /// Every kind with its name in the file.
    pub const ALL: [(LabelKind, &'static str); 6] = [
        (LabelKind::HighConsumption, "high_consumption"),
        (LabelKind::Baseload, "baseload"),
        (LabelKind::LeftOn, "left_on"),
        (LabelKind::WateringNeed, "watering_need"),
        (LabelKind::SensorFault, "sensor_fault"),
        (LabelKind::Negative, "negative"),
    ];

    /// The name in the file.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(k, _)| *k == self).map_or("?", |(_, n)| n)
    }

    /// Whether this is one of the energy kinds.
    pub fn is_energy(self) -> bool {
        matches!(self, Self::HighConsumption | Self::Baseload | Self::LeftOn)
    }
}

/// One labelled event.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// What happened.
    pub kind: LabelKind,
    /// A site, device or tree id of the inventory.
    pub subject: String,
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it ended (not before `start`).
    pub end: DateTime<Utc>,
    /// Free text.
    pub note: String,
    /// Line in the labels file.
    pub line: u64,
}

/// A CSV file opened for reading, with its name for messages.
struct Csv {
    file: String,
    reader: csv::Reader<Box<dyn Read>>,
    columns: BTreeMap<String, usize>,
}

impl Csv {
    fn open(path: &Path, required: &[&str]) -> Result<Self, InputError> {
        let file = path.display().to_string();
        let err = |line: Option<u64>, message: String| InputError {
            file: file.clone(),
            line,
            message,
        };
        let raw = std::fs::File::open(path).map_err(|e| err(None, format!("cannot open: {e}")))?;
        let input: Box<dyn Read> = if file.ends_with(".gz") {
            Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(raw)))
        } else {
            Box::new(std::io::BufReader::new(raw))
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| err(Some(1), format!("cannot read the header row: {e}")))?;
        let columns: BTreeMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, c)| (c.trim().to_ascii_lowercase(), i))
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            return Err(err(
                Some(1),
                format!(
                    "the header lacks column(s) {} (expected {})",
                    missing.join(", "),
                    required.join(",")
                ),
            ));
        }
        Ok(Self {
            file,
            reader,
            columns,
        })
    }

    fn error(&self, line: u64, message: impl Into<String>) -> InputError {
        InputError {
            file: self.file.clone(),
            line: Some(line),
            message: message.into(),
        }
    }

    /// Calls `f` with every data row that is not blank, and its line.
    fn rows(&mut self, mut f: impl FnMut(u64, &Row) -> Result<(), String>) -> Result<(), InputError> {
        let mut rec = csv::StringRecord::new();
        loop {
            let line = self.reader.position().line();
            match self.reader.read_record(&mut rec) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(line, |p| p.line());
                    return Err(self.error(line, format!("not CSV: {e}")));
                }
            }
            let line = rec.position().map_or(line, |p| p.line());
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let row = Row {
                rec: &rec,
                columns: &self.columns,
            };
            f(line, &row).map_err(|m| self.error(line, m))?;
        }
    }
}

/// One data row.
struct Row<'a> {
    rec: &'a csv::StringRecord,
    columns: &'a BTreeMap<String, usize>,
}

impl Row<'_> {
    /// The trimmed text of the named column (empty if the row is short).
    fn get(&self, name: &str) -> &str {
        self.columns
            .get(name)
            .and_then(|&i| self.rec.get(i))
            .unwrap_or("")
            .trim()
    }
}

/// Reads a readings file in the import format; rows of one device and time are merged, then sorted by time.
pub fn readings(path: &Path) -> Result<Vec<Reading>, InputError> {
    let mut csv = Csv::open(path, &zw_ingest::import::CSV_COLUMNS)?;
    let header = zw_ingest::import::CsvHeader::parse(
        &csv.reader
            .headers()
            .map(|h| h.iter().collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
    )
    .map_err(|m| csv.error(1, m))?;
    let now = Utc::now();
    let mut merged: BTreeMap<(DateTime<Utc>, Id), Reading> = BTreeMap::new();
    csv.rows(|_, row| {
        // The import parser splits on commas itself: hand it the row's cells re-joined, quoted where needed.
        let cells: Vec<String> = row.rec.iter().map(str::to_string).collect();
        if cells.iter().any(|c| c.contains(',')) {
            return Err("a cell holds a comma, which the import format does not allow".into());
        }
        let r = header
            .row(&cells.join(","), now)
            .map_err(|e| format!("{} ({})", e.message, e.reason))?;
        match merged.get_mut(&(r.ts, r.device.clone())) {
            Some(m) if m.site != r.site => {
                return Err(format!(
                    "device {} also appears at site {} at {}",
                    r.device, m.site, r.ts
                ));
            }
            Some(m) => m.values.extend(r.values),
            None => {
                merged.insert((r.ts, r.device.clone()), r);
            }
        }
        Ok(())
    })?;
    Ok(merged.into_values().collect())
}

fn number(s: &str, what: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{what} {s:?} is not a number"))
}

fn day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("date {s:?} is not YYYY-MM-DD"))
}

fn instant(s: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{what} {s:?} is not an RFC 3339 time (e.g. 2026-05-04T18:00:00+02:00)"))
}

fn area(s: &str) -> Result<Id, String> {
    Id::new(s).map_err(|e| format!("area {s:?}: {e}"))
}

/// The local day `d` in `tz` as UTC `[from, to)`.
fn local_day(tz: Tz, d: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let edges = zw_model::counter::local_day_edges(&tz, d, d);
    match edges.as_slice() {
        [from, to] => Ok((*from, *to)),
        _ => Err(format!("the day {d} has no midnight in {tz}")),
    }
}

/// Checks one weather message as the live feed would be checked.
fn checked(w: Weather) -> Result<Weather, String> {
    w.validate(w.issued, TimeDelta::days(1))
        .map_err(|e| e.to_string())?;
    Ok(w)
}

/// Reads the daily observed weather: one message per row, issued at the end of its local day.
pub fn weather(path: &Path, tz: Tz) -> Result<Vec<Weather>, InputError> {
    let mut csv = Csv::open(path, &["date", "area", "et0_mm"])?;
    let mut out = Vec::new();
    csv.rows(|_, row| {
        let (from, to) = local_day(tz, day(row.get("date"))?)?;
        let mm = number(row.get("et0_mm"), "et0_mm")?;
        out.push(checked(Weather {
            v: WEATHER_SCHEMA_VERSION,
            area: area(row.get("area"))?,
            issued: to,
            source: Some(format!("{}", path.display())),
            observed: vec![Et0 { from, to, mm }],
            forecast: Vec::new(),
            rain_forecast: Vec::new(),
            rain_observed: Vec::new(),
            temperature: None,
        })?);
        Ok(())
    })?;
    Ok(out)
}

/// Reads the weather forecasts: the rows of one `issued` and `area` become one message.
pub fn forecasts(path: &Path, tz: Tz) -> Result<Vec<Weather>, InputError> {
    let mut csv = Csv::open(path, &["issued", "area", "date", "et0_mm"])?;
    type Group = (u64, Vec<Et0>, Vec<Et0>);
    let mut groups: BTreeMap<(DateTime<Utc>, Id), Group> = BTreeMap::new();
    csv.rows(|line, row| {
        let issued = instant(row.get("issued"), "issued")?;
        let (from, to) = local_day(tz, day(row.get("date"))?)?;
        if to <= issued {
            return Err(format!(
                "the forecast day {} ends before it was issued",
                row.get("date")
            ));
        }
        let mm = number(row.get("et0_mm"), "et0_mm")?;
        let g = groups
            .entry((issued, area(row.get("area"))?))
            .or_insert((line, Vec::new(), Vec::new()));
        g.1.push(Et0 { from, to, mm });
        if !row.get("rain_mm").is_empty() {
            let mm = number(row.get("rain_mm"), "rain_mm")?;
            g.2.push(Et0 { from, to, mm });
        }
        Ok(())
    })?;
    let mut out = Vec::new();
    for ((issued, area), (line, mut forecast, mut rain_forecast)) in groups {
        forecast.sort_by_key(|e| e.from);
        rain_forecast.sort_by_key(|e| e.from);
        let w = Weather {
            v: WEATHER_SCHEMA_VERSION,
            area,
            issued,
            source: Some(format!("{}", path.display())),
            observed: Vec::new(),
            forecast,
            rain_forecast,
            rain_observed: Vec::new(),
            temperature: None,
        };
        out.push(checked(w).map_err(|m| csv.error(line, format!("the forecast issued {issued}: {m}")))?);
    }
    Ok(out)
}

/// Reads the labels.
pub fn labels(path: &Path) -> Result<Vec<Label>, InputError> {
    let mut csv = Csv::open(path, &["kind", "subject", "start", "end", "note"])?;
    let mut out = Vec::new();
    csv.rows(|line, row| {
        let kind = LabelKind::ALL
            .iter()
            .find(|(_, n)| *n == row.get("kind"))
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = LabelKind::ALL.iter().map(|(_, n)| *n).collect();
                format!("kind {:?} is none of {}", row.get("kind"), names.join(", "))
            })?;
        let (start, end) = (
            instant(row.get("start"), "start")?,
            instant(row.get("end"), "end")?,
        );
        if end < start {
            return Err(format!("end {end} is before start {start}"));
        }
        if row.get("subject").is_empty() {
            return Err("the subject is empty".into());
        }
        out.push(Label {
            kind,
            subject: row.get("subject").to_string(),
            start,
            end,
            note: row.get("note").to_string(),
            line,
        });
        Ok(())
    })?;
    Ok(out)
}
