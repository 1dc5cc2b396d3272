//! Devices: put (create, change, move to another site), get, list, retire.
//!
//! A wireless M-Bus meter's AES key is a secret: its `source` JSON never carries it (the model does not
//! serialise it), so it lives in the `secret` column, re-attached when the device is read. A put without a
//! key keeps the stored one (an admin changing a meter's name does not lose its key); a put with one
//! replaces it. The audit trail and exports never show it.

use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use zw_model::inventory::MeterKey;
use zw_model::{Device, DeviceSource, Id};

use crate::codec::{Cols, json, ts};
use crate::inventory::check;
use crate::sites::{Stored, next_position, retire_row};
use crate::{Change, Error, Stamp, Store, audit};

/// A device and the site it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRecord {
    /// The site.
    pub site: Id,
    /// The device as in the inventory.
    #[serde(flatten)]
    pub device: Device,
}

const DEVICE_COLS: &str = "id, site_id, name, class, source, secret, created_at, updated_at, retired_at";

/// The device's secret, if its source has one.
fn secret(source: &DeviceSource) -> Option<&str> {
    match source {
        DeviceSource::Wmbus { key: Some(k), .. } => Some(k.expose()),
        _ => None,
    }
}

fn device_from(row: &AnyRow) -> Result<Stored<DeviceRecord>, Error> {
    let c = Cols::new(row, "devices", "id");
    let mut source: DeviceSource = c.json("source")?;
    if let (DeviceSource::Wmbus { key, .. }, Some(hex)) = (&mut source, c.text_opt("secret")?) {
        *key = Some(MeterKey::new(&hex));
    }
    let device = DeviceRecord {
        site: c.id("site_id")?,
        device: Device {
            id: c.id("id")?,
            name: c.text("name")?,
            class: c.text("class")?,
            source,
        },
    };
    Stored::read(&c, device)
}

pub(crate) async fn list_devices(
    conn: &mut AnyConnection,
    retired: bool,
) -> Result<Vec<Stored<DeviceRecord>>, Error> {
    let sql = format!(
        "SELECT {DEVICE_COLS} FROM devices WHERE ($1 = 1 OR retired_at IS NULL) ORDER BY position, id"
    );
    let rows = sqlx::query(&sql).bind(i64::from(retired)).fetch_all(conn).await?;
    rows.iter().map(device_from).collect()
}

async fn get_device(conn: &mut AnyConnection, id: &str) -> Result<Option<Stored<DeviceRecord>>, Error> {
    let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(device_from).transpose()
}

/// `rec`, with the stored key when it brings none (so that a put without a key is no change by itself).
fn keeping_key(rec: &DeviceRecord, before: Option<&Stored<DeviceRecord>>) -> DeviceRecord {
    let mut rec = rec.clone();
    if let (DeviceSource::Wmbus { key: key @ None, .. }, Some(b)) = (&mut rec.device.source, before)
        && let DeviceSource::Wmbus { key: stored, .. } = &b.value.device.source
    {
        key.clone_from(stored);
    }
    rec
}

/// Inserts or updates a device, as [`crate::sites::write_site`].
pub(crate) async fn write_device(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    rec: &DeviceRecord,
    action: Option<&str>,
) -> Result<Change, Error> {
    let before = get_device(conn, rec.device.id.as_str()).await?;
    let rec = &keeping_key(rec, before.as_ref());
    let dev = &rec.device;
    if Stored::is_live_as(before.as_ref(), rec) {
        return Ok(Change::Unchanged);
    }
    let change = if before.is_some() {
        sqlx::query(
            "UPDATE devices SET site_id = $2, name = $3, class = $4, source_kind = $5, source = $6, \
             updated_at = $7, retired_at = NULL, secret = COALESCE($8, secret) WHERE id = $1",
        )
        .bind(dev.id.as_str())
        .bind(rec.site.as_str())
        .bind(&dev.name)
        .bind(&dev.class)
        .bind(dev.source.kind())
        .bind(json(&dev.source))
        .bind(ts(by.at))
        .bind(secret(&dev.source))
        .execute(&mut *conn)
        .await?;
        Change::Updated
    } else {
        let position = next_position(conn, "devices", Some(("site_id", rec.site.as_str()))).await?;
        sqlx::query(
            "INSERT INTO devices (id, site_id, name, class, source_kind, source, position, created_at, \
             updated_at, secret) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
        )
        .bind(dev.id.as_str())
        .bind(rec.site.as_str())
        .bind(&dev.name)
        .bind(&dev.class)
        .bind(dev.source.kind())
        .bind(json(&dev.source))
        .bind(position)
        .bind(ts(by.at))
        .bind(secret(&dev.source))
        .execute(&mut *conn)
        .await?;
        Change::Created
    };
    audit::record_put(
        conn,
        by,
        action,
        change,
        "device",
        dev.id.as_str(),
        before.as_ref(),
        Some(rec),
    )
    .await?;
    Ok(change)
}

impl Store {
    /// Every device, in inventory order within each site; retired ones too if `retired`.
    pub async fn devices(&self, retired: bool) -> Result<Vec<Stored<DeviceRecord>>, Error> {
        list_devices(&mut *self.pool.acquire().await?, retired).await
    }

    /// One device, live or retired.
    pub async fn device(&self, id: &str) -> Result<Option<Stored<DeviceRecord>>, Error> {
        get_device(&mut *self.pool.acquire().await?, id).await
    }

    /// Creates or changes (or moves) a device. Errors: [`Error::Invalid`] with every problem the config's
    /// validation finds (unknown or retired site, a bad source, a topic another device reads, …).
    pub async fn put_device(&self, by: Stamp<'_>, rec: &DeviceRecord) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let mut errors = Vec::new();
        let errs = check(&mut tx, |inv| {
            for s in &mut inv.sites {
                s.devices.retain(|d| d.id != rec.device.id);
            }
            match inv.sites.iter_mut().find(|s| s.id == rec.site) {
                Some(s) => s.devices.push(rec.device.clone()),
                None => errors.push(format!("device.site: unknown site {:?}", rec.site.as_str())),
            }
        })
        .await?;
        errors.extend(errs);
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let change = write_device(&mut tx, by, rec, None).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Retires a device. Errors: [`Error::NotFound`]; [`Error::Invalid`] while a tree names it as sensor.
    pub async fn retire_device(&self, by: Stamp<'_>, id: &str) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let before = get_device(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("device", id))?;
        if before.retired_at.is_none() {
            let errors = check(&mut tx, |inv| {
                for s in &mut inv.sites {
                    s.devices.retain(|d| d.id.as_str() != id);
                }
            })
            .await?;
            if !errors.is_empty() {
                return Err(Error::Invalid(errors));
            }
        }
        let change = retire_row(&mut tx, by, ("devices", "device"), id, &before).await?;
        tx.commit().await?;
        Ok(change)
    }
}
