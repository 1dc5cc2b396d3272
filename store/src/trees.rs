//! Trees: put, get, list, retire (their watering log stays). Every field of [`Tree`] is stored, its
//! district too (migration 3), so a tree survives the store round trip unchanged.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use zw_model::Tree;

use crate::codec::{Cols, json, ts};
use crate::inventory::check;
use crate::sites::{Stored, next_position, retire_row};
use crate::{Change, Error, Stamp, Store, audit};

/// Trees are stored exactly as the inventory has them.
pub type TreeRecord = Tree;

const TREE_COLS: &str =
    "id, site_id, species, planted, lat, lon, sensors, district, created_at, updated_at, retired_at";

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
        district: c.text_opt("district")?,
    };
    Stored::read(&c, tree)
}

pub(crate) async fn list_trees(conn: &mut AnyConnection, retired: bool) -> Result<Vec<Stored<Tree>>, Error> {
    let sql =
        format!("SELECT {TREE_COLS} FROM trees WHERE ($1 = 1 OR retired_at IS NULL) ORDER BY position, id");
    let rows = sqlx::query(&sql).bind(i64::from(retired)).fetch_all(conn).await?;
    rows.iter().map(tree_from).collect()
}

async fn get_tree(conn: &mut AnyConnection, id: &str) -> Result<Option<Stored<Tree>>, Error> {
    let sql = format!("SELECT {TREE_COLS} FROM trees WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(tree_from).transpose()
}

/// Inserts or updates a tree, as [`crate::sites::write_site`].
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
             district = $8, updated_at = $9, retired_at = NULL WHERE id = $1",
        )
        .bind(tree.id.as_str())
        .bind(tree.site.as_str())
        .bind(&tree.species)
        .bind(i64::from(tree.planted))
        .bind(tree.lat)
        .bind(tree.lon)
        .bind(json(&tree.sensors))
        .bind(tree.district.as_deref())
        .bind(ts(by.at))
        .execute(&mut *conn)
        .await?;
        Change::Updated
    } else {
        let position = next_position(conn, "trees", None).await?;
        sqlx::query(
            "INSERT INTO trees (id, site_id, species, planted, lat, lon, sensors, district, position, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(tree.id.as_str())
        .bind(tree.site.as_str())
        .bind(&tree.species)
        .bind(i64::from(tree.planted))
        .bind(tree.lat)
        .bind(tree.lon)
        .bind(json(&tree.sensors))
        .bind(tree.district.as_deref())
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
        "tree",
        tree.id.as_str(),
        before.as_ref(),
        Some(tree),
    )
    .await?;
    Ok(change)
}

impl Store {
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
