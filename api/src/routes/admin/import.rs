//! `POST /api/v1/admin/devices/import`: a utility's meter list as CSV (`text/csv`, UTF-8, comma-separated,
//! a header row naming the columns in any order). Each row is one device; it is created, updated (same
//! id), left unchanged, or rejected with its reasons. A row is applied whole or not at all: its new site
//! and its device are checked together against the inventory first. Every change is audited (the admin,
//! the time), and one change notice follows the import.
//!
//! Columns (names case-insensitive; empty cells are absent values):
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `site` | yes | site id (Liegenschaft / household); created if unknown |
//! | `site_name`, `site_kind`, `site_address` | no | for a site the row creates: name, `household` (default), `building` or `park`, postal address |
//! | `device` | yes | device id (e.g. the Zählpunkt or meter number, as an id: `a-z0-9-_`) |
//! | `name`, `class` | no | the device's name and class (`main_meter`, `heat_meter`, `water_meter`, …) |
//! | `source` | yes | `mbus`, `wmbus`, `modbus`, `sml`, `tasmota`, `shelly`, `json`, `ttn` |
//! | `endpoint` | mbus, modbus, sml | `host:port`, `serial:///dev/ttyUSB0?baud=2400`, `rtu:///dev/…` |
//! | `address`, `secondary` | mbus | primary address 1–250, or the 8-digit secondary address |
//! | `manufacturer`, `meter_id` | wmbus | three-letter manufacturer code and the 8-digit meter id |
//! | `profile`, `unit_id` | modbus | meter profile (`sdm630`) and unit id |
//! | `interval` | mbus, modbus | poll interval (`60s`) |
//! | `topic`, `prefix`, `channel`, `model` | tasmota, json, ttn, shelly | as in the TOML inventory |
//!
//! Wireless M-Bus keys are not imported (the store does not keep them; give them in the config).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value};
use zw_model::{Inventory, SiteKind};
use zw_store::{Change, DeviceRecord, SiteDetails, SiteRecord};

use super::{Admin, AdminError, applied};
use crate::AppState;

/// Source parameters taken from columns of the same name (`meter_id` becomes the wmbus `id`).
const SOURCE_COLUMNS: [&str; 13] = [
    "endpoint",
    "address",
    "secondary",
    "manufacturer",
    "meter_id",
    "profile",
    "unit_id",
    "interval",
    "topic",
    "prefix",
    "channel",
    "model",
    "sml_section",
];
/// Columns of the site and the device itself.
const OWN_COLUMNS: [&str; 8] = [
    "site",
    "site_name",
    "site_kind",
    "site_address",
    "device",
    "name",
    "class",
    "source",
];
/// Source parameters that are numbers in the inventory.
const NUMBERS: [&str; 3] = ["address", "unit_id", "channel"];

/// What happened to each row, and the totals.
#[derive(Serialize, utoipa::ToSchema, Default)]
pub struct ImportReport {
    /// Rows whose device was new.
    pub created: usize,
    /// Rows that changed a device.
    pub updated: usize,
    /// Rows whose device was stored exactly like this.
    pub unchanged: usize,
    /// Rows not applied.
    pub rejected: usize,
    /// One entry per data row, in file order.
    pub rows: Vec<RowResult>,
}

/// One row's result.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RowResult {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// Its device id, as given.
    pub device: String,
    /// `created`, `updated`, `unchanged` or `rejected`.
    pub result: String,
    /// Why it was rejected: every problem.
    pub errors: Vec<String>,
}

/// Imports a meter list.
#[utoipa::path(post, path = "/api/v1/admin/devices/import", tag = "admin", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "Header row, then one device per row (see the columns in the API's docs)"),
    responses((status = 200, body = ImportReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 422, description = "Missing or unknown columns", body = super::InvalidProblem)))]
pub async fn import(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    body: Bytes,
) -> Result<Json<ImportReport>, AdminError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(body.as_ref());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| AdminError::BadRequest(format!("not CSV: {e}")))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    check_header(&header)?;
    let now = Utc::now();
    let mut inventory = admin.store.export_inventory().await?;
    let known_errors = inventory.validate();
    let mut report = ImportReport::default();
    for record in reader.records() {
        let (line, cells) = match record {
            Ok(r) => (r.position().map_or(0, |p| p.line()), r),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report.reject(line, String::new(), vec![format!("not CSV: {e}")]);
                continue;
            }
        };
        let row: BTreeMap<&str, &str> = header
            .iter()
            .map(String::as_str)
            .zip(cells.iter())
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let device = row.get("device").copied().unwrap_or_default().to_owned();
        match apply_row(&admin, &mut inventory, &known_errors, &row, now).await {
            Ok(change) => report.count(line, device, change),
            Err(AdminError::Invalid(errors)) => report.reject(line, device, errors),
            Err(e) => return Err(e),
        }
    }
    if report.created + report.updated > 0 {
        applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    }
    Ok(Json(report))
}

fn check_header(header: &[String]) -> Result<(), AdminError> {
    let mut errors: Vec<String> = ["site", "device", "source"]
        .iter()
        .filter(|c| !header.iter().any(|h| h == *c))
        .map(|c| format!("header: column {c:?} is missing"))
        .collect();
    errors.extend(
        header
            .iter()
            .filter(|h| !OWN_COLUMNS.contains(&h.as_str()) && !SOURCE_COLUMNS.contains(&h.as_str()))
            .map(|h| format!("header: unknown column {h:?}")),
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(errors))
    }
}

/// Checks one row (its new site and its device, together) against `inventory`, then writes it.
async fn apply_row(
    admin: &Admin,
    inventory: &mut Inventory,
    known_errors: &[String],
    row: &BTreeMap<&str, &str>,
    now: chrono::DateTime<Utc>,
) -> Result<Change, AdminError> {
    let site_id = row.get("site").copied().unwrap_or_default();
    let mut source = Map::new();
    for (col, value) in row.iter().filter(|(c, _)| SOURCE_COLUMNS.contains(c)) {
        let key = if *col == "meter_id" { "id" } else { col };
        let value = match value.parse::<u64>() {
            Ok(n) if NUMBERS.contains(col) => Value::from(n),
            _ => Value::String((*value).to_owned()),
        };
        source.insert(key.to_owned(), value);
    }
    if let Some(kind) = row.get("source") {
        source.insert("type".into(), Value::String((*kind).to_owned()));
    }
    let mut body = Map::new();
    body.insert("site".into(), Value::String(site_id.to_owned()));
    for (col, field) in [("device", "id"), ("name", "name"), ("class", "class")] {
        if let Some(v) = row.get(col) {
            body.insert(field.into(), Value::String((*v).to_owned()));
        }
    }
    body.insert("source".into(), Value::Object(source));
    let rec: DeviceRecord = super::devices::record(Value::Object(body), None)?;
    let new_site = match inventory.site(site_id) {
        Some(_) => None,
        None => Some(new_site(&rec, row)?),
    };
    let mut candidate = inventory.clone();
    place(&mut candidate, new_site.as_ref(), &rec);
    let errors: Vec<String> = candidate
        .validate()
        .into_iter()
        .filter(|e| !known_errors.contains(e))
        .collect();
    if !errors.is_empty() {
        return Err(AdminError::Invalid(errors));
    }
    let by = admin.stamp(now);
    if let Some(site) = &new_site {
        admin.store.put_site(by, site).await?;
    }
    let change = admin.store.put_device(by, &rec).await?;
    *inventory = candidate;
    Ok(change)
}

fn new_site(rec: &DeviceRecord, row: &BTreeMap<&str, &str>) -> Result<SiteRecord, AdminError> {
    let kind = match row.get("site_kind").copied().unwrap_or("household") {
        "household" => SiteKind::Household,
        "building" => SiteKind::Building,
        "park" => SiteKind::Park,
        "business" => SiteKind::Business,
        other => {
            return Err(AdminError::Invalid(vec![format!(
                "site_kind: {other:?} is none of household, building, park, business"
            )]));
        }
    };
    Ok(SiteRecord {
        id: rec.site.clone(),
        kind,
        name: row.get("site_name").copied().unwrap_or_default().to_owned(),
        details: SiteDetails {
            address: row.get("site_address").map(|a| (*a).to_owned()),
            ..SiteDetails::default()
        },
    })
}

/// `inventory` with the row's new site (if any) and its device (moved, if it was elsewhere).
fn place(inventory: &mut Inventory, new_site: Option<&SiteRecord>, rec: &DeviceRecord) {
    if let Some(site) = new_site {
        inventory.sites.push(site.to_site());
    }
    for s in &mut inventory.sites {
        s.devices.retain(|d| d.id != rec.device.id);
        if s.id == rec.site {
            s.devices.push(rec.device.clone());
        }
    }
}

impl ImportReport {
    fn count(&mut self, line: u64, device: String, change: Change) {
        let result = match change {
            Change::Created => {
                self.created += 1;
                "created"
            }
            Change::Updated => {
                self.updated += 1;
                "updated"
            }
            Change::Unchanged => {
                self.unchanged += 1;
                "unchanged"
            }
        };
        self.rows.push(RowResult {
            line,
            device,
            result: result.into(),
            errors: Vec::new(),
        });
    }

    fn reject(&mut self, line: u64, device: String, errors: Vec<String>) {
        self.rejected += 1;
        self.rows.push(RowResult {
            line,
            device,
            result: "rejected".into(),
            errors,
        });
    }
}
