//! Sites (with the details the TOML inventory does not carry), devices and trees: put, get, list, retire.
//!
//! A put of an entity exactly as stored changes nothing and writes no audit entry; a put of a retired
//! entity brings it back. Every other put and every retirement is checked against the whole stored
//! inventory with the change applied ([`crate::inventory::check`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use zw_model::{Device, Id, Site, SiteKind, Tree};

use crate::codec::{Cols, enum_name, json, ts};
use crate::inventory::check;
use crate::{Change, Error, Stamp, Store, audit};

/// What the store knows about a site beyond the TOML inventory (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SiteDetails {
    /// Postal address.
    pub address: Option<String>,
    /// Heated floor area in m² (for kWh/m² benchmarks); positive.
    pub floor_area_m2: Option<f64>,
    /// Building category (e.g. the German BWZK code or `school`, `pool`).
    pub building_category: Option<String>,
    /// Usage hours as written by the facility manager (e.g. `Mo-Fr 07:00-18:00`).
    pub usage_hours: Option<String>,
}

impl SiteDetails {
    fn validate(&self, errors: &mut Vec<String>) {
        if let Some(a) = self.floor_area_m2
            && !(a.is_finite() && a > 0.0)
        {
            errors.push(format!("site.floor_area_m2: {a} is not a positive area"));
        }
    }
}

/// A site as stored: the inventory's fields (without devices) and its details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRecord {
    /// Unique site id.
    pub id: Id,
    /// Building, household or park.
    pub kind: SiteKind,
    /// Human-readable name.
    pub name: String,
    /// Address, floor area, category, usage hours.
    #[serde(flatten)]
    pub details: SiteDetails,
}

impl SiteRecord {
    /// The record of an inventory site (its devices are stored on their own) with no details.
    pub fn of(site: &Site) -> Self {
        Self {
            id: site.id.clone(),
            kind: site.kind,
            name: site.name.clone(),
            details: SiteDetails::default(),
        }
    }

    /// The inventory site, without devices.
    pub fn to_site(&self) -> Site {
        Site {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            devices: Vec::new(),
        }
    }
}

/// A device and the site it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRecord {
    /// The site.
    pub site: Id,
    /// The device as in the inventory.
    #[serde(flatten)]
    pub device: Device,
}

/// Trees are stored exactly as the inventory has them.
pub type TreeRecord = Tree;

/// An entity with its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored<T> {
    /// The entity.
    #[serde(flatten)]
    pub value: T,
    /// When it was first stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was retired; `None` while it is live.
    pub retired_at: Option<DateTime<Utc>>,
}

impl<T> Stored<T> {
    fn read(c: &Cols<'_>, value: T) -> Result<Self, Error> {
        Ok(Self {
            value,
            created_at: c.time("created_at")?,
            updated_at: c.time("updated_at")?,
            retired_at: c.time_opt("retired_at")?,
        })
    }

    /// Whether `value` is stored live exactly like this.
    fn is_live_as(this: Option<&Self>, value: &T) -> bool
    where
        T: PartialEq,
    {
        this.is_some_and(|s| s.retired_at.is_none() && &s.value == value)
    }
}

const SITE_COLS: &str = "id, kind, name, address, floor_area_m2, building_category, usage_hours, \
                         created_at, updated_at, retired_at";
const DEVICE_COLS: &str = "id, site_id, name, class, source, created_at, updated_at, retired_at";
const TREE_COLS: &str =
    "id, site_id, species, planted, lat, lon, sensors, created_at, updated_at, retired_at";

fn site_from(row: &AnyRow) -> Result<Stored<SiteRecord>, Error> {
    let c = Cols::new(row, "sites", "id");
    let site = SiteRecord {
        id: c.id("id")?,
        kind: c.name("kind")?,
        name: c.text("name")?,
        details: SiteDetails {
            address: c.text_opt("address")?,
            floor_area_m2: c.float_opt("floor_area_m2")?,
            building_category: c.text_opt("building_category")?,
            usage_hours: c.text_opt("usage_hours")?,
        },
    };
    Stored::read(&c, site)
}

fn device_from(row: &AnyRow) -> Result<Stored<DeviceRecord>, Error> {
    let c = Cols::new(row, "devices", "id");
    let device = DeviceRecord {
        site: c.id("site_id")?,
        device: Device {
            id: c.id("id")?,
            name: c.text("name")?,
            class: c.text("class")?,
            source: c.json("source")?,
        },
    };
    Stored::read(&c, device)
}

fn tree_from(row: &AnyRow) -> Result<Stored<Tree>, Error> {
    let c = Cols::new(row, "trees", "id");
    let planted = c.int("planted")?;
    let tree = Tree {
        id: c.id("id")?,
        site: c.id("site_id")?,
        species: c.text("species")?,
        planted: u16::try_from(planted).map_err(|_| Error::Corrupt {
            table: "trees",
            key: c.key.clone(),
            reason: format!("planted: {planted} is not a year"),
        })?,
        lat: c.float("lat")?,
        lon: c.float("lon")?,
        sensors: c.json("sensors")?,
    };
    Stored::read(&c, tree)
}

/// Every site, device and tree in inventory order (`position`, then id); retired ones only if asked.
pub(crate) async fn list_sites(
    conn: &mut AnyConnection,
    retired: bool,
) -> Result<Vec<Stored<SiteRecord>>, Error> {
    let sql =
        format!("SELECT {SITE_COLS} FROM sites WHERE ($1 = 1 OR retired_at IS NULL) ORDER BY position, id");
    let rows = sqlx::query(&sql).bind(i64::from(retired)).fetch_all(conn).await?;
    rows.iter().map(site_from).collect()
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

pub(crate) async fn list_trees(conn: &mut AnyConnection, retired: bool) -> Result<Vec<Stored<Tree>>, Error> {
    let sql =
        format!("SELECT {TREE_COLS} FROM trees WHERE ($1 = 1 OR retired_at IS NULL) ORDER BY position, id");
    let rows = sqlx::query(&sql).bind(i64::from(retired)).fetch_all(conn).await?;
    rows.iter().map(tree_from).collect()
}

pub(crate) async fn get_site(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Stored<SiteRecord>>, Error> {
    let sql = format!("SELECT {SITE_COLS} FROM sites WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(site_from).transpose()
}

async fn get_device(conn: &mut AnyConnection, id: &str) -> Result<Option<Stored<DeviceRecord>>, Error> {
    let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(device_from).transpose()
}

async fn get_tree(conn: &mut AnyConnection, id: &str) -> Result<Option<Stored<Tree>>, Error> {
    let sql = format!("SELECT {TREE_COLS} FROM trees WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(tree_from).transpose()
}

/// The next `position` in `table` (after every row matching `scope_col = scope`, if given).
async fn next_position(
    conn: &mut AnyConnection,
    table: &str,
    scope: Option<(&str, &str)>,
) -> Result<i64, Error> {
    let (filter, value) = scope.map_or((String::new(), ""), |(col, v)| (format!(" WHERE {col} = $1"), v));
    let sql = format!("SELECT COALESCE(MAX(position), -1) + 1 AS next FROM {table}{filter}");
    let mut q = sqlx::query_scalar::<_, i64>(&sql);
    if scope.is_some() {
        q = q.bind(value);
    }
    Ok(q.fetch_one(conn).await?)
}

/// Inserts or updates `site` (bringing it back if retired) and audits it as `action` (default
/// `create`/`update`). No validation: the callers check.
pub(crate) async fn write_site(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    site: &SiteRecord,
    action: Option<&str>,
) -> Result<Change, Error> {
    let before = get_site(conn, site.id.as_str()).await?;
    if Stored::is_live_as(before.as_ref(), site) {
        return Ok(Change::Unchanged);
    }
    let d = &site.details;
    let change = if before.is_some() {
        sqlx::query(
            "UPDATE sites SET kind = $2, name = $3, address = $4, floor_area_m2 = $5, building_category = $6, \
             usage_hours = $7, updated_at = $8, retired_at = NULL WHERE id = $1",
        )
        .bind(site.id.as_str())
        .bind(enum_name(&site.kind))
        .bind(&site.name)
        .bind(d.address.as_deref())
        .bind(d.floor_area_m2)
        .bind(d.building_category.as_deref())
        .bind(d.usage_hours.as_deref())
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Updated
    } else {
        let position = next_position(conn, "sites", None).await?;
        sqlx::query(
            "INSERT INTO sites (id, kind, name, address, floor_area_m2, building_category, usage_hours, \
             position, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(site.id.as_str())
        .bind(enum_name(&site.kind))
        .bind(&site.name)
        .bind(d.address.as_deref())
        .bind(d.floor_area_m2)
        .bind(d.building_category.as_deref())
        .bind(d.usage_hours.as_deref())
        .bind(position)
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Created
    };
    let action = action.unwrap_or(if change == Change::Created {
        "create"
    } else {
        "update"
    });
    audit::record(
        conn,
        by,
        action,
        "site",
        site.id.as_str(),
        before.as_ref(),
        Some(site),
    )
    .await?;
    Ok(change)
}

/// Inserts or updates a device, as [`write_site`].
pub(crate) async fn write_device(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    rec: &DeviceRecord,
    action: Option<&str>,
) -> Result<Change, Error> {
    let dev = &rec.device;
    let before = get_device(conn, dev.id.as_str()).await?;
    if Stored::is_live_as(before.as_ref(), rec) {
        return Ok(Change::Unchanged);
    }
    let change = if before.is_some() {
        sqlx::query(
            "UPDATE devices SET site_id = $2, name = $3, class = $4, source_kind = $5, source = $6, \
             updated_at = $7, retired_at = NULL WHERE id = $1",
        )
        .bind(dev.id.as_str())
        .bind(rec.site.as_str())
        .bind(&dev.name)
        .bind(&dev.class)
        .bind(dev.source.kind())
        .bind(json(&dev.source))
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Updated
    } else {
        let position = next_position(conn, "devices", Some(("site_id", rec.site.as_str()))).await?;
        sqlx::query(
            "INSERT INTO devices (id, site_id, name, class, source_kind, source, position, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(dev.id.as_str())
        .bind(rec.site.as_str())
        .bind(&dev.name)
        .bind(&dev.class)
        .bind(dev.source.kind())
        .bind(json(&dev.source))
        .bind(position)
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Created
    };
    let action = action.unwrap_or(if change == Change::Created {
        "create"
    } else {
        "update"
    });
    audit::record(
        conn,
        by,
        action,
        "device",
        dev.id.as_str(),
        before.as_ref(),
        Some(rec),
    )
    .await?;
    Ok(change)
}

/// Inserts or updates a tree, as [`write_site`].
pub(crate) async fn write_tree(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    tree: &Tree,
    action: Option<&str>,
) -> Result<Change, Error> {
    let before = get_tree(conn, tree.id.as_str()).await?;
    if Stored::is_live_as(before.as_ref(), tree) {
        return Ok(Change::Unchanged);
    }
    let change = if before.is_some() {
        sqlx::query(
            "UPDATE trees SET site_id = $2, species = $3, planted = $4, lat = $5, lon = $6, sensors = $7, \
             updated_at = $8, retired_at = NULL WHERE id = $1",
        )
        .bind(tree.id.as_str())
        .bind(tree.site.as_str())
        .bind(&tree.species)
        .bind(i64::from(tree.planted))
        .bind(tree.lat)
        .bind(tree.lon)
        .bind(json(&tree.sensors))
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Updated
    } else {
        let position = next_position(conn, "trees", None).await?;
        sqlx::query(
            "INSERT INTO trees (id, site_id, species, planted, lat, lon, sensors, position, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(tree.id.as_str())
        .bind(tree.site.as_str())
        .bind(&tree.species)
        .bind(i64::from(tree.planted))
        .bind(tree.lat)
        .bind(tree.lon)
        .bind(json(&tree.sensors))
        .bind(position)
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Created
    };
    let action = action.unwrap_or(if change == Change::Created {
        "create"
    } else {
        "update"
    });
    audit::record(
        conn,
        by,
        action,
        "tree",
        tree.id.as_str(),
        before.as_ref(),
        Some(tree),
    )
    .await?;
    Ok(change)
}

/// Marks one row of `table` retired and audits it; `Unchanged` if it already was.
async fn retire_row<T: Serialize>(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    (table, entity): (&str, &str),
    id: &str,
    before: &Stored<T>,
) -> Result<Change, Error> {
    if before.retired_at.is_some() {
        return Ok(Change::Unchanged);
    }
    let sql = format!("UPDATE {table} SET retired_at = $2, updated_at = $2 WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
    audit::record::<_, ()>(conn, by, "retire", entity, id, Some(before), None).await?;
    Ok(Change::Updated)
}

impl Store {
    /// Every site in inventory order; retired ones too if `retired`.
    pub async fn sites(&self, retired: bool) -> Result<Vec<Stored<SiteRecord>>, Error> {
        list_sites(&mut *self.pool.acquire().await?, retired).await
    }

    /// One site, live or retired.
    pub async fn site(&self, id: &str) -> Result<Option<Stored<SiteRecord>>, Error> {
        get_site(&mut *self.pool.acquire().await?, id).await
    }

    /// Creates or changes a site (its devices are put on their own). Errors: [`Error::Invalid`] with every
    /// problem (a non-positive floor area; a kind change that leaves a user's scope or a tree invalid).
    pub async fn put_site(&self, by: Stamp<'_>, site: &SiteRecord) -> Result<Change, Error> {
        let mut errors = Vec::new();
        site.details.validate(&mut errors);
        let mut tx = self.pool.begin().await?;
        errors.extend(
            check(&mut tx, |inv| {
                match inv.sites.iter_mut().find(|s| s.id == site.id) {
                    Some(s) => {
                        s.name.clone_from(&site.name);
                        s.kind = site.kind;
                    }
                    None => inv.sites.push(site.to_site()),
                }
            })
            .await?,
        );
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let change = write_site(&mut tx, by, site, None).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Retires a site with its devices and trees. Errors: [`Error::NotFound`]; [`Error::Invalid`] while a
    /// user's scope still names it.
    pub async fn retire_site(&self, by: Stamp<'_>, id: &str) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let before = get_site(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("site", id))?;
        if before.retired_at.is_some() {
            return Ok(Change::Unchanged);
        }
        let errors = check(&mut tx, |inv| {
            inv.sites.retain(|s| s.id.as_str() != id);
            inv.trees.retain(|t| t.site.as_str() != id);
        })
        .await?;
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        for dev in list_devices(&mut tx, false)
            .await?
            .iter()
            .filter(|d| d.value.site.as_str() == id)
        {
            retire_row(
                &mut tx,
                by,
                ("devices", "device"),
                dev.value.device.id.as_str(),
                dev,
            )
            .await?;
        }
        for tree in list_trees(&mut tx, false)
            .await?
            .iter()
            .filter(|t| t.value.site.as_str() == id)
        {
            retire_row(&mut tx, by, ("trees", "tree"), tree.value.id.as_str(), tree).await?;
        }
        let change = retire_row(&mut tx, by, ("sites", "site"), id, &before).await?;
        tx.commit().await?;
        Ok(change)
    }

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

    /// Every tree in inventory order; retired ones too if `retired`.
    pub async fn trees(&self, retired: bool) -> Result<Vec<Stored<Tree>>, Error> {
        list_trees(&mut *self.pool.acquire().await?, retired).await
    }

    /// Creates or changes a tree. Errors: [`Error::Invalid`] (unknown park, sensors not at that park,
    /// coordinates, planting year).
    pub async fn put_tree(&self, by: Stamp<'_>, tree: &Tree) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let errors = check(&mut tx, |inv| {
            inv.trees.retain(|t| t.id != tree.id);
            inv.trees.push(tree.clone());
        })
        .await?;
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let change = write_tree(&mut tx, by, tree, None).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Retires a tree (its watering log stays). Errors: [`Error::NotFound`].
    pub async fn retire_tree(&self, by: Stamp<'_>, id: &str) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let before = get_tree(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("tree", id))?;
        let change = retire_row(&mut tx, by, ("trees", "tree"), id, &before).await?;
        tx.commit().await?;
        Ok(change)
    }
}
