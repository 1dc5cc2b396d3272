//! Sites (with the details the TOML inventory does not carry): put, get, list, retire; and what devices
//! (`devices.rs`) and trees (`trees.rs`) share with them: [`Stored`], positions, retirement.
//!
//! A put of an entity exactly as stored changes nothing and writes no audit entry; a put of a retired
//! entity brings it back. Every other put and every retirement is checked against the whole stored
//! inventory with the change applied ([`crate::inventory::check`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use zw_model::report::BuildingCategory;
use zw_model::{Id, Site, SiteKind};

use crate::codec::{Cols, enum_name, ts};
use crate::devices::list_devices;
use crate::inventory::check;
use crate::trees::list_trees;
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
    /// The record of an inventory site (its devices are stored on their own): its category (by name) and
    /// floor area as details, no address or usage hours.
    pub fn of(site: &Site) -> Self {
        Self {
            id: site.id.clone(),
            kind: site.kind,
            name: site.name.clone(),
            details: SiteDetails {
                floor_area_m2: site.floor_area_m2,
                building_category: site.category.map(|c| c.name().to_string()),
                ..SiteDetails::default()
            },
        }
    }

    /// The inventory site, without devices: the floor area, and the category when the stored one names a
    /// known [`BuildingCategory`] (another text, e.g. a BWZK code, stays in the details only).
    pub fn to_site(&self) -> Site {
        Site {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind,
            category: self
                .details
                .building_category
                .as_deref()
                .and_then(BuildingCategory::parse),
            floor_area_m2: self.details.floor_area_m2,
            devices: Vec::new(),
        }
    }
}

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
    pub(crate) fn read(c: &Cols<'_>, value: T) -> Result<Self, Error> {
        Ok(Self {
            value,
            created_at: c.time("created_at")?,
            updated_at: c.time("updated_at")?,
            retired_at: c.time_opt("retired_at")?,
        })
    }

    /// Whether `value` is stored live exactly like this.
    pub(crate) fn is_live_as(this: Option<&Self>, value: &T) -> bool
    where
        T: PartialEq,
    {
        this.is_some_and(|s| s.retired_at.is_none() && &s.value == value)
    }
}

const SITE_COLS: &str = "id, kind, name, address, floor_area_m2, building_category, usage_hours, \
                         created_at, updated_at, retired_at";

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

pub(crate) async fn get_site(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Stored<SiteRecord>>, Error> {
    let sql = format!("SELECT {SITE_COLS} FROM sites WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(site_from).transpose()
}

/// The next `position` in `table` (after every row matching `scope_col = scope`, if given).
pub(crate) async fn next_position(
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
    audit::record_put(
        conn,
        by,
        action,
        change,
        "site",
        site.id.as_str(),
        before.as_ref(),
        Some(site),
    )
    .await?;
    Ok(change)
}

/// Marks one row of `table` retired and audits it; `Unchanged` if it already was.
pub(crate) async fn retire_row<T: Serialize>(
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
}

#[cfg(test)]
mod tests {
    use zw_model::report::BuildingCategory;
    use zw_model::{Site, SiteKind};

    use super::SiteRecord;

    #[test]
    fn floor_area_and_category_round_trip_through_the_record() {
        let mut site = Site::new("grundschule", SiteKind::Building, []);
        site.category = Some(BuildingCategory::Schule);
        site.floor_area_m2 = Some(2400.0);
        let rec = SiteRecord::of(&site);
        assert_eq!(rec.details.building_category.as_deref(), Some("schule"));
        assert_eq!(rec.details.floor_area_m2, Some(2400.0));
        assert_eq!(rec.to_site(), site);
        // A stored category the report does not know (a BWZK code) stays in the details only.
        let mut bwzk = rec.clone();
        bwzk.details.building_category = Some("4100".into());
        assert_eq!(bwzk.to_site().category, None);
    }
}
