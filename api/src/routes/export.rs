//! `GET /api/v1/sites/{id}/export.csv`: a site's months for its accountant, one row per month: the energy
//! (or volume) of every medium the site meters, the cost (net, VAT, gross) under its tariffs, the tariff
//! versions that applied and whether the month is complete.
//!
//! Each month is priced exactly as `/cost?period=month` prices it ([`price_periods`]), so the two always say
//! the same; heat, gas and water are read through the same counter component as `/energy`. A missing figure
//! is an empty field, never 0. The file is UTF-8 with a byte-order mark (so Excel reads `ä` and `€` right),
//! lines end in CRLF and the first line is a header, as RFC 4180 has it. Numbers are written with a decimal
//! point and no thousands separator; `sep=semicolon&decimal=comma` writes what a German Excel opens by
//! double-click. At most [`MAX_MONTHS`] months per request, within the role's energy range.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use serde::Deserialize;
use zw_model::counter::gas;
use zw_model::report::Medium;
use zw_model::{Site, SiteKind, User};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::{storable_date, within};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::local_midnight;
use crate::routes::cost::{PeriodCost, price_periods};
use crate::routes::energy::{intervals, medium_meters, visible_site};

/// Most months one export holds.
pub const MAX_MONTHS: u32 = 24;

/// Field separator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Separator {
    /// `,` (RFC 4180).
    #[default]
    Comma,
    /// `;` (what Excel expects in a German locale).
    Semicolon,
}

/// Decimal mark of the numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decimal {
    /// `.` (default).
    #[default]
    Point,
    /// `,` (German); only with `sep=semicolon`.
    Comma,
}

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// First month, `YYYY-MM`; default 11 months before `to` (a year of months).
    pub from: Option<String>,
    /// Last month, `YYYY-MM`, included, at most the current month; default the current month. At most 24
    /// months from `from`.
    pub to: Option<String>,
    /// Field separator: `comma` (default) or `semicolon`.
    pub sep: Option<Separator>,
    /// Decimal mark: `point` (default) or `comma` (only with `sep=semicolon`).
    pub decimal: Option<Decimal>,
}

/// The first day of the month written `YYYY-MM` (`name` is the parameter, for the error).
pub fn parse_month(name: &str, s: &str) -> Result<NaiveDate, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "`{name}` must be a month written YYYY-MM, e.g. 2026-01, not {s:?}"
        ))
    };
    let b = s.as_bytes();
    let shaped =
        b.len() == 7 && b[4] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || c.is_ascii_digit());
    if !shaped {
        return Err(bad());
    }
    let year: i32 = s[..4].parse().map_err(|_| bad())?;
    let month: u32 = s[5..].parse().map_err(|_| bad())?;
    let d = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
    storable_date(&format!("`{name}`"), d)
}

/// The months from `from` to `to` (first days, both included) and the day after the last, checked:
/// `from` not after `to`, `to` not after `this_month`, at most [`MAX_MONTHS`] months.
pub fn months(from: NaiveDate, to: NaiveDate, this_month: NaiveDate) -> Result<Vec<NaiveDate>, ApiError> {
    if from > to {
        return Err(ApiError::BadRequest("`from` must not be after `to`".into()));
    }
    if to > this_month {
        return Err(ApiError::BadRequest(format!(
            "`to` must not be after the current month ({})",
            this_month.format("%Y-%m")
        )));
    }
    let mut out = vec![from];
    while out.last().is_some_and(|m| *m <= to) {
        if out.len() > MAX_MONTHS as usize {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_MONTHS} months per export; ask for a shorter range"
            )));
        }
        let next = out[out.len() - 1]
            .checked_add_months(Months::new(1))
            .ok_or_else(|| ApiError::BadRequest("date out of range".into()))?;
        out.push(next);
    }
    Ok(out)
}

/// How numbers and fields are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// Field separator.
    pub sep: char,
    /// Decimal mark.
    pub decimal: char,
}

impl Dialect {
    /// The dialect of the query: a decimal comma needs the semicolon separator.
    pub fn of(sep: Option<Separator>, decimal: Option<Decimal>) -> Result<Self, ApiError> {
        let sep = sep.unwrap_or_default();
        let decimal = decimal.unwrap_or_default();
        if decimal == Decimal::Comma && sep == Separator::Comma {
            return Err(ApiError::BadRequest(
                "`decimal=comma` needs `sep=semicolon` (a comma cannot separate both fields and decimals)"
                    .into(),
            ));
        }
        Ok(Self {
            sep: if sep == Separator::Semicolon { ';' } else { ',' },
            decimal: if decimal == Decimal::Comma { ',' } else { '.' },
        })
    }

    /// `v` with `places` decimals; empty when unknown.
    pub fn number(self, v: Option<f64>, places: usize) -> String {
        v.filter(|v| v.is_finite())
            .map(|v| format!("{v:.places$}").replace('.', &self.decimal.to_string()))
            .unwrap_or_default()
    }

    /// `s` as one field: quoted (quotes doubled) when it holds the separator, a quote or a line break.
    pub fn field(self, s: &str) -> String {
        if s.contains([self.sep, '"', '\r', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }

    /// One line of fields, CRLF-terminated.
    pub fn line<S: AsRef<str>>(self, fields: &[S]) -> String {
        let mut out = fields
            .iter()
            .map(|f| self.field(f.as_ref()))
            .collect::<Vec<_>>()
            .join(&self.sep.to_string());
        out.push_str("\r\n");
        out
    }
}

/// One month of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthRow {
    /// First day of the month.
    pub month: NaiveDate,
    /// Per column of [`columns`] after `month`: the medium's figure (kWh or m³), unknown as `None`.
    pub amounts: Vec<Option<f64>>,
    /// The electricity's cost (from `/cost`), if the site meters electricity.
    pub cost: Option<(Option<i64>, Option<i64>, Option<i64>)>,
    /// Ids of the tariff versions that priced the month, oldest first.
    pub tariffs: Vec<String>,
    /// Every figure of the month is known and gap-free.
    pub complete: bool,
}

/// The amount columns of a site metering `media`: `electricity_kwh`, `heat_kwh`, `gas_m3` and `gas_kwh`,
/// `water_m3`, in that order.
pub fn columns(media: &[Medium]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for m in media {
        match m {
            Medium::Electricity => out.push("electricity_kwh"),
            Medium::Heat => out.push("heat_kwh"),
            Medium::Gas => out.extend(["gas_m3", "gas_kwh"]),
            Medium::Water => out.push("water_m3"),
        }
    }
    out
}

/// The whole file: BOM, header, one line per month.
pub fn render(media: &[Medium], currency: &str, rows: &[MonthRow], d: Dialect) -> String {
    let cols = columns(media);
    let mut header = vec!["month"];
    header.extend(&cols);
    header.extend(["net", "vat", "gross", "currency", "tariff", "complete"]);
    let mut out = String::from("\u{feff}");
    out.push_str(&d.line(&header));
    let eur = |c: Option<i64>| d.number(c.map(|c| c as f64 / 100.0), 2);
    for r in rows {
        let mut f = vec![r.month.format("%Y-%m").to_string()];
        f.extend(r.amounts.iter().take(cols.len()).map(|v| d.number(*v, 3)));
        let (net, vat, gross) = r.cost.unwrap_or((None, None, None));
        f.extend([eur(net), eur(vat), eur(gross)]);
        f.push(if r.cost.is_some() {
            currency.to_string()
        } else {
            String::new()
        });
        f.push(r.tariffs.join("+"));
        f.push(r.complete.to_string());
        out.push_str(&d.line(&f));
    }
    out
}

/// The media a site meters (electricity: any of its [`medium_meters`]).
fn media_of(site: &Site) -> Vec<Medium> {
    Medium::ALL
        .into_iter()
        .filter(|m| !medium_meters(site, *m).is_empty())
        .collect()
}

/// Reads and prices the months of `dates` (first days, and the day after the last).
async fn rows(
    state: &AppState,
    user: &User,
    site: &Site,
    media: &[Medium],
    (dates, edges): (&[NaiveDate], &[DateTime<Utc>]),
) -> Result<(Vec<MonthRow>, String), ApiError> {
    let now = Utc::now();
    let n = dates.len() - 1;
    let mut rows: Vec<MonthRow> = dates[..n]
        .iter()
        .map(|m| MonthRow {
            month: *m,
            amounts: Vec::new(),
            cost: None,
            tariffs: Vec::new(),
            complete: true,
        })
        .collect();
    let mut currency = state.config.tariff.currency.clone();
    for medium in media {
        let meters = medium_meters(site, *medium);
        if *medium == Medium::Electricity {
            // Month by month, so a quarter-hour tariff stays within what one cost report prices.
            for (k, row) in rows.iter_mut().enumerate() {
                let priced = price_periods(
                    state,
                    user,
                    (site, &meters),
                    (&dates[k..k + 2], &edges[k..k + 2]),
                    now,
                )
                .await?;
                currency = priced.currency;
                let p: &PeriodCost = &priced.periods[0];
                row.amounts.push(p.import_wh.map(|wh| wh / 1000.0));
                row.cost = Some((p.net_cents, p.vat_cents, p.gross_cents));
                row.tariffs = p.tariffs.iter().map(|t| t.id.clone()).collect();
                row.complete &= p.complete;
            }
            continue;
        }
        let b = intervals(state, (&site.id, &meters), medium.quantity(), edges, user).await?;
        let gas_kwh = (*medium == Medium::Gas)
            .then(|| gas::energy(site.id.as_str(), &b, &state.inventory.gas_conversions));
        for (k, row) in rows.iter_mut().enumerate() {
            let bucket = b.get(k);
            row.complete &= bucket.is_some_and(|b| b.complete);
            let v = bucket.and_then(|b| b.wh);
            match medium {
                Medium::Heat => row.amounts.push(v.map(|wh| wh / 1000.0)),
                Medium::Gas => {
                    row.amounts.push(v);
                    let kwh = gas_kwh.as_ref().and_then(|g| g.get(k)).and_then(|g| g.wh);
                    row.amounts.push(kwh.map(|wh| wh / 1000.0));
                }
                _ => row.amounts.push(v),
            }
        }
    }
    Ok((rows, currency))
}

/// A site's months as CSV for its accountant.
#[utoipa::path(get, path = "/api/v1/sites/{id}/export.csv", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), ExportParams),
    responses((status = 200, content_type = "text/csv", body = String,
            description = "UTF-8 with BOM, CRLF lines, a header line: `month` (YYYY-MM), then per medium the site \
                meters `electricity_kwh`, `heat_kwh`, `gas_m3`, `gas_kwh`, `water_m3`, then `net`, `vat`, `gross` \
                (the electricity's cost under the site's tariffs, as /cost), `currency`, `tariff` (the versions' ids \
                joined by `+`), `complete` (`true`/`false`). Unknown figures are empty fields. Decimal point unless \
                `decimal=comma`."),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let dialect = Dialect::of(p.sep, p.decimal)?;
    let tz = state.config.timezone();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let this_month = today.with_day(1).unwrap_or(today);
    let to = match &p.to {
        Some(s) => parse_month("to", s)?,
        None => this_month,
    };
    let from = match &p.from {
        Some(s) => parse_month("from", s)?,
        None => to.checked_sub_months(Months::new(11)).unwrap_or(to),
    };
    let dates = months(from, to, this_month)?;
    let edges: Option<Vec<DateTime<Utc>>> = dates.iter().map(|d| local_midnight(tz, *d)).collect();
    let edges = edges.ok_or_else(|| ApiError::BadRequest("date out of range".into()))?;
    within(
        "export",
        user.role,
        edges[0],
        edges[edges.len() - 1],
        state.config.max_energy_range.for_role(user.role),
    )?;
    let media = media_of(site);
    // A park's soil sensors meter nothing to bill.
    if media.is_empty() || site.kind == SiteKind::Park {
        return Err(ApiError::NotFound(format!(
            "meters to export at site {}",
            site.id
        )));
    }
    let (rows, currency) = rows(&state, &user, site, &media, (&dates, &edges)).await?;
    let body = render(&media, &currency, &rows, dialect);
    let name = format!(
        "attachment; filename=\"{}_{}_{}.csv\"",
        site.id,
        from.format("%Y-%m"),
        to.format("%Y-%m")
    );
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `from` and `to` are months (`YYYY-MM`), not the instants other routes' `from`/`to` are: the document
/// says so ([`crate::openapi`] calls this for the export's path).
pub(crate) fn declare_months(op: &mut utoipa::openapi::path::Operation) {
    let schema = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some("^[0-9]{4}-(0[1-9]|1[0-2])$"))
        .build();
    for p in op.parameters.iter_mut().flatten() {
        if matches!(p.name.as_str(), "from" | "to") {
            p.schema = Some(utoipa::openapi::RefOr::T(schema.clone().into()));
        }
    }
}

#[cfg(test)]
mod tests;
