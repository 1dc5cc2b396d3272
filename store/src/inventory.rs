//! The TOML inventory and the store: import (idempotent upsert, audited as `import`), export, and the
//! check every inventory change passes ([`check`]).
//!
//! Import adds and updates, never retires: an entity missing from the file stays as it is (it may have
//! been created by an admin since the file was written). Sites, devices, trees and users have their own
//! tables; every further section of the inventory (`tariffs`, `budgets`, and whatever the model adds) is
//! kept whole as JSON in `inventory_sections`, replaced by a file that has it non-empty. Importing the same file twice changes nothing
//! the second time and writes no audit entry. Export writes the live inventory in the order it was
//! imported (new entities after), so import ↔ export round-trips an inventory exactly.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::AnyConnection;
use zw_model::inventory::MeterKey;
use zw_model::{DeviceSource, Id, Inventory, Site};

use crate::codec::{Cols, json, ts};
use crate::devices::{DeviceRecord, list_devices, write_device};
use crate::sites::{SiteRecord, get_site, list_sites, write_site};
use crate::trees::{list_trees, write_tree};
use crate::users::{list_users, write_user};
use crate::{Change, Error, Stamp, Store, audit};

/// What an import did, per entity: created, updated, unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Entities (sites, devices, trees, users, further sections) that were new.
    pub created: usize,
    /// Entities that differed and were updated (or brought back from retirement).
    pub updated: usize,
    /// Entities stored exactly like this already.
    pub unchanged: usize,
}

impl ImportReport {
    fn count(&mut self, change: Change) {
        match change {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// Sections of the inventory with their own tables; the others are kept whole in `inventory_sections`.
const TABLED: [&str; 3] = ["sites", "trees", "users"];

/// The live inventory on `conn`, in inventory order.
pub(crate) async fn load(conn: &mut AnyConnection) -> Result<Inventory, Error> {
    let mut sites: Vec<Site> = list_sites(conn, false)
        .await?
        .iter()
        .map(|s| s.value.to_site())
        .collect();
    for dev in list_devices(conn, false).await? {
        if let Some(site) = sites.iter_mut().find(|s| s.id == dev.value.site) {
            site.devices.push(dev.value.device);
        }
    }
    let trees: Vec<_> = list_trees(conn, false)
        .await?
        .into_iter()
        .map(|t| t.value)
        .collect();
    let users: Vec<_> = list_users(conn, false, None)
        .await?
        .into_iter()
        .map(|u| u.value)
        .collect();
    // The inventory is assembled as JSON (for the further sections), which never carries a meter's key:
    // take the keys out first and put them back after.
    let keys = meter_keys(&sites);
    let mut doc = Map::new();
    doc.insert("sites".into(), to_value(&sites));
    doc.insert("trees".into(), to_value(&trees));
    doc.insert("users".into(), to_value(&users));
    for (name, body) in sections(conn).await? {
        doc.insert(name, body);
    }
    let mut inventory: Inventory =
        serde_json::from_value(Value::Object(doc)).map_err(|e| Error::Corrupt {
            table: "inventory_sections",
            key: String::new(),
            reason: e.to_string(),
        })?;
    for site in &mut inventory.sites {
        for dev in &mut site.devices {
            if let (DeviceSource::Wmbus { key, .. }, Some(k)) = (&mut dev.source, keys.get(&dev.id)) {
                *key = Some(k.clone());
            }
        }
    }
    Ok(inventory)
}

/// The wireless M-Bus keys of `sites`' devices, by device id.
fn meter_keys(sites: &[Site]) -> HashMap<Id, MeterKey> {
    let mut keys = HashMap::new();
    for dev in sites.iter().flat_map(|s| &s.devices) {
        if let DeviceSource::Wmbus { key: Some(k), .. } = &dev.source {
            keys.insert(dev.id.clone(), k.clone());
        }
    }
    keys
}

/// The stored further sections, by name.
async fn sections(conn: &mut AnyConnection) -> Result<Vec<(String, Value)>, Error> {
    let rows = sqlx::query("SELECT name, body FROM inventory_sections ORDER BY name")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let c = Cols::new(row, "inventory_sections", "name");
            Ok((c.text("name")?, c.json("body")?))
        })
        .collect()
}

/// The further sections of `inventory` that are not empty, by name.
fn further_sections(inventory: &Inventory) -> Vec<(String, Value)> {
    let Value::Object(doc) = to_value(inventory) else {
        return Vec::new();
    };
    doc.into_iter()
        .filter(|(name, body)| !TABLED.contains(&name.as_str()) && !is_empty(body))
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `v` as JSON without `null` fields: TOML has no null, so the model's types read an absent field, not a
/// null one (a `None` some of them serialise as `null` is read back only when left out).
fn to_value<T: Serialize>(v: &T) -> Value {
    let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
    strip_nulls(&mut v);
    v
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, f| !f.is_null());
            o.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Stores one further section unless it is stored exactly like this; audits it as `import`.
async fn write_section(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    name: &str,
    body: &Value,
) -> Result<Change, Error> {
    let before = sections(conn)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, b)| b);
    if before.as_ref() == Some(body) {
        return Ok(Change::Unchanged);
    }
    let sql = if before.is_some() {
        "UPDATE inventory_sections SET body = $2, updated_at = $3 WHERE name = $1"
    } else {
        "INSERT INTO inventory_sections (name, body, updated_at) VALUES ($1, $2, $3)"
    };
    sqlx::query(sql)
        .bind(name)
        .bind(json(body))
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
    audit::record(conn, by, "import", "section", name, before.as_ref(), Some(body)).await?;
    Ok(if before.is_some() {
        Change::Updated
    } else {
        Change::Created
    })
}

/// Every problem of the live inventory on `conn` with `change` applied, as
/// [`zw_model::Inventory::validate`] reports them.
pub(crate) async fn check(
    conn: &mut AnyConnection,
    change: impl FnOnce(&mut Inventory),
) -> Result<Vec<String>, Error> {
    let mut inventory = load(conn).await?;
    change(&mut inventory);
    Ok(inventory.validate())
}

/// `file` laid over `current`: entities of the file replace those with the same id, new ones go last;
/// its non-empty further sections replace the current ones.
fn merge(current: &mut Inventory, file: &Inventory) {
    let sections = further_sections(file);
    if !sections.is_empty()
        && let Value::Object(mut doc) = to_value(&*current)
    {
        doc.extend(sections);
        if let Ok(merged) = serde_json::from_value(Value::Object(doc)) {
            *current = merged;
        }
    }
    for site in &file.sites {
        for s in &mut current.sites {
            s.devices.retain(|d| !site.devices.iter().any(|n| n.id == d.id));
        }
        match current.sites.iter_mut().find(|s| s.id == site.id) {
            Some(s) => {
                s.name.clone_from(&site.name);
                s.kind = site.kind;
                s.devices.extend(site.devices.iter().cloned());
            }
            None => current.sites.push(site.clone()),
        }
    }
    for tree in &file.trees {
        match current.trees.iter_mut().find(|t| t.id == tree.id) {
            Some(t) => *t = tree.clone(),
            None => current.trees.push(tree.clone()),
        }
    }
    for user in &file.users {
        match current.users.iter_mut().find(|u| u.name == user.name) {
            Some(u) => *u = user.clone(),
            None => current.users.push(user.clone()),
        }
    }
}

/// The inventory as TOML, as the config file has it (`[[sites]]`, `[[trees]]`, `[[users]]`).
pub fn inventory_toml(inventory: &Inventory) -> Result<String, Error> {
    Ok(toml::to_string_pretty(inventory)?)
}

impl Store {
    /// Imports `file` in one transaction (see the module docs). A site's floor area and category come from
    /// the file where it gives them; its other details (address, usage hours) are not in the TOML inventory
    /// and are kept. Errors: [`Error::Invalid`] listing every problem of the
    /// stored inventory with the file laid over it; nothing is written then.
    pub async fn import_inventory(&self, by: Stamp<'_>, file: &Inventory) -> Result<ImportReport, Error> {
        let mut tx = self.pool.begin().await?;
        let errors = check(&mut tx, |inv| merge(inv, file)).await?;
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let mut report = ImportReport::default();
        let action = Some("import");
        for site in &file.sites {
            let mut rec = SiteRecord::of(site);
            if let Some(stored) = get_site(&mut tx, site.id.as_str()).await? {
                // The file's floor area and category win; what it does not carry is kept.
                let (area, category) = (rec.details.floor_area_m2, rec.details.building_category.take());
                rec.details = stored.value.details;
                rec.details.floor_area_m2 = area.or(rec.details.floor_area_m2);
                rec.details.building_category = category.or(rec.details.building_category.take());
            }
            report.count(write_site(&mut tx, by, &rec, action).await?);
        }
        for site in &file.sites {
            for device in &site.devices {
                let rec = DeviceRecord {
                    site: site.id.clone(),
                    device: device.clone(),
                };
                report.count(write_device(&mut tx, by, &rec, action).await?);
            }
        }
        for tree in &file.trees {
            report.count(write_tree(&mut tx, by, tree, action).await?);
        }
        for user in &file.users {
            report.count(write_user(&mut tx, by, user, action).await?);
        }
        for (name, body) in further_sections(file) {
            report.count(write_section(&mut tx, by, &name, &body).await?);
        }
        tx.commit().await?;
        Ok(report)
    }

    /// The live inventory: every site with its devices, every tree and user, in inventory order.
    pub async fn export_inventory(&self) -> Result<Inventory, Error> {
        load(&mut *self.pool.acquire().await?).await
    }
}
