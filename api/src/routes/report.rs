//! The municipal energy report (Energiebericht) of a calendar year: `GET /api/v1/report` for every building
//! (and household) in the caller's scope, i.e. the town for a facility manager or an admin and their own
//! household for a resident, and `GET /api/v1/sites/{id}/report` for one site; as JSON, CSV
//! (`?format=csv` or `Accept: text/csv`), a printable German HTML page (`?format=html`) or a PDF
//! (`?format=pdf` or `Accept: application/pdf`, [`pdf`]), all four from the one computed [`Report`].
//!
//! The figures are measured here and computed by [`zw_model::report`]. Per site and medium (every medium
//! its meters measure, [`Medium::meter_class`]) the year is read once, split at the usage hours
//! ([`zw_model::report::UsageHours::split`]) so the energy outside them is exact; the previous year as one
//! interval. The rollups of every meter of the report are read once per medium for the town ([`rolled`]: a
//! few statements, whatever the number of buildings) and answer every stretch they cover exactly; the rest
//! (a gap, a reset, the running part of the year, a meter without rollups) goes through the same counter
//! component and rollups as the energy report ([`crate::routes::energy::intervals`]), with the same result.
//! Every medium is priced under the site's tariffs of that medium as the cost report does
//! ([`crate::routes::cost`]: gas on its kWh after the DVGW conversion, water per m³; electricity without a
//! tariff at the flat `[api.tariff]`); no tariff of a medium, or a tariff priced per quarter-hour over more
//! than `cost::MAX_INTERVALS` intervals, leaves the year's cost null with the reason in `cost_note`. CO₂
//! uses the `[api.report.emission_factors]` in force on 1 January of the year (none: null with a note). Degree days come from `[api.report] temperature_csv`; a year
//! without a temperature for every day is not weather-corrected (null, never 0).

mod pdf;
mod pdf_font;
mod render;
mod rolled;

use rolled::Batch;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Deserialize;
use zw_model::counter::Bucket;
use zw_model::report::{self, BuildingInput, Climate, Cost, Measured, Medium, MediumInput, Report};
use zw_model::tariff::{Interval, Schedule, Tariff};
use zw_model::{Device, Id, Quantity, Site, SiteKind, User};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::{storable_date, within};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::local_midnight;
use crate::routes::cost::{MAX_INTERVALS, flat_default, interval_edges, priced_amounts};
use crate::routes::energy::{intervals, medium_meters, visible_site};

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Calendar year (local), 1971 to 2261; default: last year.
    #[param(minimum = 1971, maximum = 2261)]
    pub year: Option<i32>,
    /// `json` (default), `csv`, `html` (printable page) or `pdf` (A4, German); without it `Accept: text/csv`
    /// chooses CSV and `Accept: application/pdf` the PDF.
    #[param(pattern = "^(json|csv|html|pdf)$")]
    pub format: Option<String>,
}

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    Csv,
    Html,
    Pdf,
}

fn format(p: &ReportParams, headers: &HeaderMap) -> Result<Format, ApiError> {
    match p.format.as_deref() {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("html") => Ok(Format::Html),
        Some("pdf") => Ok(Format::Pdf),
        Some(other) => Err(ApiError::BadRequest(format!(
            "format must be json, csv, html or pdf, got {other:?}"
        ))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Ok(if accept.contains("text/csv") {
                Format::Csv
            } else if accept.contains("application/pdf") {
                Format::Pdf
            } else {
                Format::Json
            })
        }
    }
}

/// Sum of buckets in the medium's unit: unknown when none is known; complete when all are.
fn measured(b: &[Bucket], m: Medium) -> Measured {
    let known: Vec<f64> = b.iter().filter_map(|b| b.wh).collect();
    Measured {
        value: (!known.is_empty()).then(|| known.iter().sum::<f64>() / m.counter_units()),
        complete: !b.is_empty() && b.iter().all(|b| b.complete && b.wh.is_some()),
    }
}

/// Energy per stretch `[edges[k], edges[k + 1])` summed over `devices` (each read at `site`): from the
/// rollups where they answer exactly ([`rolled`]), through the energy report's readings path
/// ([`intervals`]) for the rest; a stretch starting before the caller's scope (`since`) is withheld as there.
async fn stretches(
    state: &AppState,
    (user, batches, tally): (&User, &[(Quantity, Batch)], &Tally),
    (site, devices): (&Id, &[&Device]),
    q: Quantity,
    edges: &[DateTime<Utc>],
) -> Result<Vec<Bucket>, ApiError> {
    if edges.windows(2).any(|w| w[0] >= w[1]) {
        return intervals(state, (site, devices), q, edges, user).await;
    }
    let now = Utc::now();
    let mut sum: Option<Vec<Bucket>> = None;
    for dev in devices {
        let mut b = match batches.iter().find(|(bq, _)| *bq == q) {
            Some((_, batch)) => batch.stretches((site, &dev.id), edges, now),
            None => vec![None; edges.len() - 1],
        };
        let missing: Vec<usize> = (0..b.len()).filter(|k| b[*k].is_none()).collect();
        tally.rolled.fetch_add(b.len() - missing.len(), Ordering::Relaxed);
        tally.read.fetch_add(missing.len(), Ordering::Relaxed);
        if !missing.is_empty() {
            // The stretches left over, as edges of their own (what lies between them is read and dropped).
            let mut sub: Vec<DateTime<Utc>> =
                missing.iter().flat_map(|&k| [edges[k], edges[k + 1]]).collect();
            sub.dedup();
            let read = intervals(state, (site, &[*dev]), q, &sub, user).await?;
            for k in missing {
                b[k] = read.get(sub.partition_point(|t| *t < edges[k])).copied();
            }
        }
        let b: Vec<Bucket> = b.into_iter().flatten().collect();
        if b.len() + 1 != edges.len() {
            // Never expected (the readings path answers every stretch): read everything that way.
            return intervals(state, (site, devices), q, edges, user).await;
        }
        sum = Some(match sum {
            None => b,
            Some(acc) => acc.into_iter().zip(b).map(|(a, b)| add(a, b)).collect(),
        });
    }
    let mut sum = sum.unwrap_or_default();
    if let Some(since) = user.since {
        for (b, start) in sum.iter_mut().zip(edges) {
            if *start < since {
                b.wh = None;
                b.complete = false;
            }
        }
    }
    Ok(sum)
}

/// How many stretches of a report's meters the rollups answered and how many the readings path did.
#[derive(Debug, Default)]
struct Tally {
    rolled: AtomicUsize,
    read: AtomicUsize,
}

/// Sum of two buckets of the same stretch: unknown only if both are; complete only if both are.
fn add(a: Bucket, b: Bucket) -> Bucket {
    let wh = match (a.wh, b.wh) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or(0.0) + y.unwrap_or(0.0)),
    };
    Bucket {
        wh,
        complete: a.complete && b.complete,
        coverage: a.coverage.min(b.coverage),
        ..a
    }
}

/// The year's cost of a medium under the site's tariffs of that medium (electricity without any: the flat
/// `[api.tariff]`), or why there is none.
async fn cost(
    state: &AppState,
    (user, batches, tally): (&User, &[(Quantity, Batch)], &Tally),
    (site, devices, m): (&Site, &[&Device], Medium),
    [first, last]: [DateTime<Utc>; 2],
    days: &[NaiveDate],
) -> Result<Result<Cost, String>, ApiError> {
    let tz = state.config.timezone();
    let default = flat_default(state);
    let mut schedule = Schedule::for_medium(&state.inventory.tariffs, &site.id, m, tz);
    if schedule.is_empty() && m != Medium::Electricity {
        return Ok(Err(format!(
            "no {} tariff for this site ([[tariffs]] with medium = \"{}\")",
            m.name(),
            m.name()
        )));
    }
    if schedule.is_empty() {
        schedule = Schedule::only(&default, tz);
    }
    let used: Vec<&Tariff> = schedule.tariffs().to_vec();
    let edges = interval_edges(tz, first, last.min(Utc::now()).max(first), schedule.step());
    if edges.len() < 2 {
        return Ok(Err("the year has not begun".into()));
    }
    if edges.len() > MAX_INTERVALS + 1 {
        return Ok(Err(format!(
            "the year holds more than {MAX_INTERVALS} priced intervals of {} minutes",
            schedule.step().num_minutes()
        )));
    }
    let who = (&site.id, devices);
    let imp = stretches(state, (user, batches, tally), who, m.quantity(), &edges).await?;
    let imp = priced_amounts(state, site, m, imp);
    let exp = if m == Medium::Electricity && used.iter().any(|t| t.feed_in_ct_per_kwh > 0.0) {
        Some(stretches(state, (user, batches, tally), who, Quantity::EnergyExport, &edges).await?)
    } else {
        None
    };
    let ivs: Vec<Interval> = imp
        .iter()
        .enumerate()
        .map(|(i, b)| Interval {
            start: edges[i],
            import_wh: b.wh,
            export_wh: exp.as_ref().and_then(|e| e.get(i)).and_then(|e| e.wh),
        })
        .collect();
    let complete: Vec<bool> = imp.iter().map(|b| b.complete).collect();
    if ivs.iter().all(|i| i.import_wh.is_none()) {
        return Ok(Err(if m == Medium::Gas {
            "the gas kWh are unknown (no consumption, or no [[gas_conversions]])".into()
        } else {
            format!("the {} consumption is unknown", m.name())
        }));
    }
    let bill = schedule.bill(&ivs, days);
    let currency = schedule
        .at(days.first().copied().unwrap_or_default())
        .map_or_else(|| default.currency.clone(), |t| t.currency.clone());
    Ok(Ok(Cost {
        net_cents: bill.net_cents,
        gross_cents: bill.gross_cents,
        currency,
        complete: bill.priced && complete.iter().all(|c| *c),
    }))
}

/// Everything measured of one site in `year`.
async fn measure(
    state: &AppState,
    (user, batches, tally): (&User, &[(Quantity, Batch)], &Tally),
    site: &Site,
    year: i32,
) -> Result<BuildingInput, ApiError> {
    let tz = state.config.timezone();
    let cfg = &state.config.report;
    let out_of_range = || ApiError::BadRequest("year out of range".into());
    let jan1 = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(out_of_range);
    let (d0, d1, dp) = (jan1(year)?, jan1(year + 1)?, jan1(year - 1)?);
    let edge = |d: NaiveDate| local_midnight(tz, d).ok_or_else(out_of_range);
    let (start, end, prev) = (edge(d0)?, edge(d1)?, edge(dp)?);
    let (split, inside) = cfg.usage_hours.split(&tz, d0, d1);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let days: Vec<NaiveDate> = d0.iter_days().take_while(|d| *d < d1 && *d <= today).collect();
    let floor_area_m2 = site
        .floor_area_m2
        .or_else(|| state.config.floor_area_m2.get(site.id.as_str()).copied());
    let mut media = Vec::new();
    for m in Medium::ALL {
        let devices = medium_meters(site, m);
        if devices.is_empty() {
            continue;
        }
        let q = m.quantity();
        let b = stretches(state, (user, batches, tally), (&site.id, &devices), q, &split).await?;
        let outside: Option<Vec<f64>> = b
            .iter()
            .zip(&inside)
            .filter(|(_, inside)| !**inside)
            .map(|(b, _)| b.wh)
            .collect();
        let before = stretches(
            state,
            (user, batches, tally),
            (&site.id, &devices),
            q,
            &[prev, start],
        )
        .await?;
        let cost = cost(
            state,
            (user, batches, tally),
            (site, &devices, m),
            [start, end],
            &days,
        )
        .await?;
        let gas_kwh = if m == Medium::Gas {
            let kwh = priced_amounts(state, site, m, b.clone());
            let lost = kwh.iter().zip(&b).any(|(k, v)| v.wh.is_some() && k.wh.is_none());
            measured(&kwh, Medium::Electricity).value.filter(|_| !lost)
        } else {
            None
        };
        media.push(MediumInput {
            medium: m,
            year: measured(&b, m),
            previous_year: measured(&before, m),
            outside_usage: outside.map(|o| o.iter().sum::<f64>() / m.counter_units()),
            cost_note: cost.as_ref().err().cloned(),
            cost: cost.ok(),
            gas_kwh,
            emission_factor: cfg.emission_factors.at(m, d0).cloned(),
        });
    }
    Ok(BuildingInput {
        id: site.id.to_string(),
        name: site.name.clone(),
        category: site.category,
        floor_area_m2,
        media,
    })
}

/// The report of `year` for `sites`.
async fn build(
    state: &AppState,
    user: &User,
    sites: &[&Site],
    year: Option<i32>,
) -> Result<Report, ApiError> {
    let tz = state.config.timezone();
    let year = year.unwrap_or_else(|| Utc::now().with_timezone(&tz).year() - 1);
    let bad = || ApiError::BadRequest(format!("year must be 1971 to 2261, got {year}"));
    if !(1971..=2261).contains(&year) {
        return Err(bad());
    }
    let d = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(bad);
    let (dp, d0, d1) = (d(year - 1)?, d(year)?, d(year + 1)?);
    storable_date("`year`", dp)?;
    storable_date("`year`", d1)?;
    let edge = |d: NaiveDate| local_midnight(tz, d).ok_or_else(bad);
    let max = state.config.max_energy_range.for_role(user.role);
    within(
        "the report (its year and the year before)",
        user.role,
        edge(dp)?,
        edge(d1)?,
        max,
    )?;
    let cfg = &state.config.report;
    // A file that cannot be read any more leaves the degree days unknown (config check reports it).
    let temps = cfg.temperatures().unwrap_or_default();
    let climate = Climate {
        degree_days: temps.degree_days(d0, d1).ok(),
        previous_degree_days: temps.degree_days(dp, d0).ok(),
        reference_degree_days: cfg.reference_degree_days,
        heating_share: cfg.heating_share,
    };
    // The rollups of every meter of `sites` read once per medium for both years ([`rolled`]).
    let (split, _) = cfg.usage_hours.split(&tz, d0, d1);
    let times = rolled::times_of(tz, &split);
    let day = |d: NaiveDate, n: i64| d.checked_add_signed(chrono::TimeDelta::days(n)).ok_or_else(bad);
    let spans = ((day(dp, -1)?, day(d1, 1)?), (day(d0, -1)?, d1));
    let mut batches = Vec::new();
    for m in Medium::ALL {
        let devices: Vec<(&Id, &Id)> = sites
            .iter()
            .flat_map(|s| medium_meters(s, m).into_iter().map(|d| (&s.id, &d.id)))
            .collect();
        if !devices.is_empty() {
            let batch = rolled::load(state, m.quantity(), &devices, &times, spans).await?;
            batches.push((m.quantity(), batch));
        }
    }
    let tally = Tally::default();
    let mut inputs = Vec::with_capacity(sites.len());
    for site in sites {
        inputs.push(measure(state, (user, &batches, &tally), site, year).await?);
    }
    tracing::info!(
        year,
        sites = sites.len(),
        from_rollups = tally.rolled.load(Ordering::Relaxed),
        from_readings = tally.read.load(Ordering::Relaxed),
        "Energy report measured (stretches per meter)."
    );
    Ok(report::report(
        year,
        &inputs,
        climate,
        &cfg.comparison_values(),
        cfg.candidates,
    ))
}

/// The report as a PDF ([`pdf`], off the async threads); `subject` (the town, or the one building) heads it.
async fn pdf_response(state: &AppState, r: Report, subject: String) -> Result<Response, ApiError> {
    let made = Utc::now().with_timezone(&state.config.timezone()).date_naive();
    let year = r.year;
    let started = std::time::Instant::now();
    let bytes = tokio::task::spawn_blocking(move || pdf::pdf(&r, &subject, made))
        .await
        .map_err(|_| ApiError::Unavailable("the PDF report"))?
        .map_err(|e| {
            tracing::error!(error = %e, "Energy report: no PDF.");
            match e {
                pdf::PdfError::FontMissing => ApiError::Unavailable(pdf_font::MISSING),
                pdf::PdfError::Write(_) => ApiError::Unavailable("the PDF report"),
            }
        })?;
    tracing::info!(
        year,
        bytes = bytes.len(),
        ms = started.elapsed().as_millis() as u64,
        "Energy report written as PDF."
    );
    let disposition = format!("attachment; filename=\"energiebericht-{year}.pdf\"");
    let headers = [
        (header::CONTENT_TYPE, "application/pdf".to_string()),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, bytes).into_response())
}

/// The report written as `f`; `subject` (the town, or the one building) heads the PDF.
async fn respond(state: &AppState, r: Report, f: Format, subject: String) -> Result<Response, ApiError> {
    Ok(match f {
        Format::Json => axum::Json(&r).into_response(),
        Format::Csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"energiebericht-{}.csv\"", r.year),
                ),
            ],
            render::csv(&r),
        )
            .into_response(),
        Format::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            render::html(&r),
        )
            .into_response(),
        Format::Pdf => return pdf_response(state, r, subject).await,
    })
}

/// The energy report of a year for every building and household in the caller's scope (the town for a
/// facility manager or an admin, their own household for a resident).
#[utoipa::path(get, path = "/api/v1/report", tag = "energy", security(("bearer" = [])),
    params(ReportParams),
    responses((status = 200, description = "The report", content(
            (Report = "application/json"), (String = "text/csv"), (String = "text/html"), (Vec<u8> = "application/pdf"))),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn town(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let f = format(&p, &headers)?;
    let sites: Vec<&Site> = state
        .inventory
        .sites
        .iter()
        .filter(|s| matches!(s.kind, SiteKind::Building | SiteKind::Household) && user.sees(s))
        .collect();
    let r = build(&state, &user, &sites, p.year).await?;
    let subject = match sites.as_slice() {
        [one] if user.role == zw_model::Role::Resident => one.name.clone(),
        _ => format!("Alle Gebäude der Gemeinde ({})", sites.len()),
    };
    respond(&state, r, f, subject).await
}

/// The energy report of a year for one building or household.
#[utoipa::path(get, path = "/api/v1/sites/{id}/report", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), ReportParams),
    responses((status = 200, description = "The report", content(
            (Report = "application/json"), (String = "text/csv"), (String = "text/html"), (Vec<u8> = "application/pdf"))),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let f = format(&p, &headers)?;
    let site = visible_site(&state, &user, &id)?;
    if site.kind == SiteKind::Park {
        return Err(ApiError::NotFound(format!("site {id} has no energy report")));
    }
    let r = build(&state, &user, &[site], p.year).await?;
    let subject = if site.name.is_empty() {
        site.id.to_string()
    } else {
        site.name.clone()
    };
    respond(&state, r, f, subject).await
}
