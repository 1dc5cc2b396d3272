//! Users, their bearer tokens (SHA-256 only) and activation codes for resident onboarding.
//!
//! A put adds or updates the tokens it lists and never revokes one: revoking is explicit
//! ([`Store::revoke_token`], [`Store::retire_user`]), so re-importing an older inventory cannot lock out a
//! resident who activated a token since. A user read back lists every token that is not revoked (expired
//! ones too, as the TOML inventory would), oldest first: the first is the inventory's `token_sha256`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use zw_model::{Id, Role, SiteKind, User, UserToken};

use crate::codec::{Cols, enum_name, json, ts, ts_opt};
use crate::inventory::check;
use crate::sites::Stored;
use crate::{Change, Error, Stamp, Store, audit};

/// Stored users are the inventory's [`User`] with their lifecycle.
pub type UserRecord = Stored<User>;

/// An activation code (only its SHA-256 is stored) for one household.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activation {
    /// SHA-256 of the code, as [`zw_model::inventory::token_hash`] computes it.
    pub code_sha256: String,
    /// The household the code activates.
    pub site: Id,
    /// The admin who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// After this the code is refused.
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed, and the user it created.
    pub redeemed: Option<(DateTime<Utc>, String)>,
}

const USER_COLS: &str = "name, role, scope, since, created_at, updated_at, retired_at";

/// Live tokens of every user (or of `user`), oldest first: `(hash, expiry)` by user name.
async fn tokens(
    conn: &mut AnyConnection,
    user: Option<&str>,
) -> Result<HashMap<String, Vec<(String, Option<DateTime<Utc>>)>>, Error> {
    let rows = sqlx::query(
        "SELECT token_sha256, user_name, expires_at FROM user_tokens WHERE revoked_at IS NULL \
         AND ($1 IS NULL OR user_name = $1) ORDER BY position, created_at, token_sha256",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    for row in &rows {
        let c = Cols::new(row, "user_tokens", "token_sha256");
        out.entry(c.text("user_name")?)
            .or_default()
            .push((c.text("token_sha256")?, c.time_opt("expires_at")?));
    }
    Ok(out)
}

/// Every user (or the one named), in inventory order, with their live tokens.
pub(crate) async fn list_users(
    conn: &mut AnyConnection,
    retired: bool,
    name: Option<&str>,
) -> Result<Vec<Stored<User>>, Error> {
    let sql = format!(
        "SELECT {USER_COLS} FROM users WHERE ($1 = 1 OR retired_at IS NULL) AND ($2 IS NULL OR name = $2) \
         ORDER BY position, name"
    );
    let rows = sqlx::query(&sql)
        .bind(i64::from(retired || name.is_some()))
        .bind(name)
        .fetch_all(&mut *conn)
        .await?;
    let mut tokens = tokens(conn, name).await?;
    rows.iter()
        .map(|row| {
            let c = Cols::new(row, "users", "name");
            let name = c.text("name")?;
            let mut toks = tokens.remove(&name).unwrap_or_default().into_iter();
            let (token_sha256, token_expires) = toks.next().unwrap_or_default();
            let user = User {
                name: c.id("name")?,
                role: c.name("role")?,
                scope: c.json("scope")?,
                token_sha256,
                token_expires,
                tokens: toks
                    .map(|(sha256, expires)| UserToken { sha256, expires })
                    .collect(),
                since: c.time_opt("since")?,
            };
            Ok(Stored {
                value: user,
                created_at: c.time("created_at")?,
                updated_at: c.time("updated_at")?,
                retired_at: c.time_opt("retired_at")?,
            })
        })
        .collect()
}

/// Inserts or updates `user` and adds or updates the tokens it lists; audits as `action` (default
/// `create`/`update`). No validation: the callers check.
pub(crate) async fn write_user(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    user: &User,
    action: Option<&str>,
) -> Result<Change, Error> {
    let name = user.name.as_str();
    let before = list_users(conn, true, Some(name)).await?.pop();
    let listed: Vec<(&str, Option<DateTime<Utc>>)> = user.token_hashes().collect();
    let unchanged = before.as_ref().is_some_and(|b| {
        let stored: Vec<_> = b.value.token_hashes().collect();
        b.retired_at.is_none()
            && (b.value.role, &b.value.scope, b.value.since) == (user.role, &user.scope, user.since)
            && listed.iter().all(|t| stored.contains(t))
    });
    if unchanged {
        return Ok(Change::Unchanged);
    }
    let (role, scope, since, at) = (
        enum_name(&user.role),
        json(&user.scope),
        ts_opt(user.since),
        ts(by.at),
    );
    let change = if before.is_some() {
        sqlx::query(
            "UPDATE users SET role = $2, scope = $3, since = $4, updated_at = $5, retired_at = NULL \
             WHERE name = $1",
        )
        .bind(name)
        .bind(role)
        .bind(scope)
        .bind(since)
        .bind(&at)
        .execute(&mut *conn)
        .await?;
        Change::Updated
    } else {
        let position: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), -1) + 1 FROM users")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO users (name, role, scope, since, position, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(name)
        .bind(role)
        .bind(scope)
        .bind(since)
        .bind(position)
        .bind(&at)
        .execute(&mut *conn)
        .await?;
        Change::Created
    };
    for (hash, expires) in listed {
        upsert_token(conn, name, hash, expires, &at).await?;
    }
    let after = list_users(conn, true, Some(name)).await?.pop().map(|u| u.value);
    let action = action.unwrap_or(if change == Change::Created {
        "create"
    } else {
        "update"
    });
    audit::record(conn, by, action, "user", name, before.as_ref(), after.as_ref()).await?;
    Ok(change)
}

/// Adds a token to `user` (after its other tokens) or, if the user has it, sets its expiry and un-revokes
/// it. A hash another user holds is an error.
async fn upsert_token(
    conn: &mut AnyConnection,
    user: &str,
    hash: &str,
    expires: Option<DateTime<Utc>>,
    at: &str,
) -> Result<(), Error> {
    let owner: Option<String> =
        sqlx::query_scalar("SELECT user_name FROM user_tokens WHERE token_sha256 = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?;
    match owner {
        Some(o) if o != user => Err(Error::Invalid(vec![format!(
            "user {user:?}: the token is already used by another user"
        )])),
        Some(_) => {
            sqlx::query("UPDATE user_tokens SET expires_at = $2, revoked_at = NULL WHERE token_sha256 = $1")
                .bind(hash)
                .bind(ts_opt(expires))
                .execute(conn)
                .await?;
            Ok(())
        }
        None => {
            let position: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM user_tokens WHERE user_name = $1",
            )
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO user_tokens (token_sha256, user_name, position, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(hash)
            .bind(user)
            .bind(position)
            .bind(at)
            .bind(ts_opt(expires))
            .execute(conn)
            .await?;
            Ok(())
        }
    }
}

impl Store {
    /// Every user in inventory order with their live tokens; retired ones too if `retired`.
    pub async fn users(&self, retired: bool) -> Result<Vec<Stored<User>>, Error> {
        list_users(&mut *self.pool.acquire().await?, retired, None).await
    }

    /// One user, live or retired.
    pub async fn user(&self, name: &str) -> Result<Option<Stored<User>>, Error> {
        Ok(list_users(&mut *self.pool.acquire().await?, true, Some(name))
            .await?
            .pop())
    }

    /// Creates or changes a user and adds the tokens it lists (see the module docs). Errors:
    /// [`Error::Invalid`] with every problem (scope against role and sites, token hash syntax, a token
    /// another user holds).
    pub async fn put_user(&self, by: Stamp<'_>, user: &User) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let errors = check(&mut tx, |inv| {
            inv.users.retain(|u| u.name != user.name);
            inv.users.push(user.clone());
        })
        .await?;
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let change = write_user(&mut tx, by, user, None).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Retires a user and revokes all their tokens. Errors: [`Error::NotFound`].
    pub async fn retire_user(&self, by: Stamp<'_>, name: &str) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let before = list_users(&mut tx, true, Some(name))
            .await?
            .pop()
            .ok_or_else(|| Error::not_found("user", name))?;
        if before.retired_at.is_some() {
            return Ok(Change::Unchanged);
        }
        let at = ts(by.at);
        sqlx::query("UPDATE users SET retired_at = $2, updated_at = $2 WHERE name = $1")
            .bind(name)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE user_tokens SET revoked_at = $2 WHERE user_name = $1 AND revoked_at IS NULL")
            .bind(name)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        audit::record::<_, ()>(&mut tx, by, "retire", "user", name, Some(&before), None).await?;
        tx.commit().await?;
        Ok(Change::Updated)
    }

    /// Adds a token (its SHA-256) to a live user. Errors: [`Error::NotFound`] for an unknown or retired
    /// user; [`Error::Invalid`] for a malformed hash or one another user holds.
    pub async fn add_token(
        &self,
        by: Stamp<'_>,
        user: &str,
        token_sha256: &str,
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        if !is_sha256_hex(token_sha256) {
            return Err(Error::Invalid(vec![
                "token_sha256: must be 64 lower-case hex digits".to_owned(),
            ]));
        }
        let mut tx = self.pool.begin().await?;
        let before = list_users(&mut tx, false, Some(user)).await?.pop();
        let Some(before) = before.filter(|u| u.retired_at.is_none()) else {
            return Err(Error::not_found("user", user));
        };
        upsert_token(&mut tx, user, token_sha256, expires, &ts(by.at)).await?;
        let after = list_users(&mut tx, false, Some(user)).await?.pop();
        audit::record(
            &mut tx,
            by,
            "add_token",
            "user",
            user,
            Some(&before),
            after.as_ref(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes one token. Errors: [`Error::NotFound`] for an unknown hash.
    pub async fn revoke_token(&self, by: Stamp<'_>, token_sha256: &str) -> Result<Change, Error> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT user_name, revoked_at FROM user_tokens WHERE token_sha256 = $1")
                .bind(token_sha256)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((user, revoked)) = row else {
            return Err(Error::not_found("token", token_sha256));
        };
        if revoked.is_some() {
            return Ok(Change::Unchanged);
        }
        sqlx::query("UPDATE user_tokens SET revoked_at = $2 WHERE token_sha256 = $1")
            .bind(token_sha256)
            .bind(ts(by.at))
            .execute(&mut *tx)
            .await?;
        let entry = serde_json::json!({ "user": user, "token_sha256": token_sha256 });
        audit::record::<_, ()>(&mut tx, by, "revoke", "token", token_sha256, Some(&entry), None).await?;
        tx.commit().await?;
        Ok(Change::Updated)
    }

    /// The live user holding a token that is neither revoked nor expired at `now`.
    pub async fn user_by_token(&self, token_sha256: &str, now: DateTime<Utc>) -> Result<Option<User>, Error> {
        let mut conn = self.pool.acquire().await?;
        let name: Option<String> = sqlx::query_scalar(
            "SELECT t.user_name FROM user_tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND u.retired_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_sha256)
        .bind(ts(now))
        .fetch_optional(&mut *conn)
        .await?;
        let Some(name) = name else { return Ok(None) };
        Ok(list_users(&mut conn, false, Some(&name))
            .await?
            .pop()
            .map(|u| u.value))
    }

    /// Creates an activation code (its SHA-256) for a live household, valid until `expires`. Errors:
    /// [`Error::NotFound`] for an unknown or retired site; [`Error::Invalid`] for a site that is not a
    /// household or a malformed hash.
    pub async fn create_activation(
        &self,
        by: Stamp<'_>,
        site: &str,
        code_sha256: &str,
        expires: DateTime<Utc>,
    ) -> Result<Activation, Error> {
        let mut tx = self.pool.begin().await?;
        let kind: Option<String> =
            sqlx::query_scalar("SELECT kind FROM sites WHERE id = $1 AND retired_at IS NULL")
                .bind(site)
                .fetch_optional(&mut *tx)
                .await?;
        let kind = kind.ok_or_else(|| Error::not_found("site", site))?;
        let mut errors = Vec::new();
        if kind != enum_name(&SiteKind::Household) {
            errors.push(format!("activation.site: {site:?} is a {kind}, not a household"));
        }
        if !is_sha256_hex(code_sha256) {
            errors.push("activation.code_sha256: must be 64 lower-case hex digits".to_owned());
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let activation = Activation {
            code_sha256: code_sha256.to_owned(),
            site: Id::new(site).map_err(|e| Error::Invalid(vec![format!("activation.site: {e}")]))?,
            created_by: by.who.to_owned(),
            created_at: by.at,
            expires_at: expires,
            redeemed: None,
        };
        sqlx::query(
            "INSERT INTO activation_codes (code_sha256, site_id, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code_sha256)
        .bind(site)
        .bind(by.who)
        .bind(ts(by.at))
        .bind(ts(expires))
        .execute(&mut *tx)
        .await?;
        audit::record::<(), _>(&mut tx, by, "create", "activation", site, None, Some(&activation)).await?;
        tx.commit().await?;
        Ok(activation)
    }

    /// Redeems an activation code at `by.at`: creates the resident `user_name` scoped to the code's
    /// household, holding `token_sha256`. Errors: [`Error::NotFound`] for a code that is unknown, used or
    /// expired (the caller cannot tell which, on purpose); [`Error::Invalid`] as [`Store::put_user`].
    pub async fn redeem_activation(
        &self,
        by: Stamp<'_>,
        code_sha256: &str,
        user_name: &Id,
        token_sha256: &str,
    ) -> Result<User, Error> {
        let mut tx = self.pool.begin().await?;
        let site: Option<String> = sqlx::query_scalar(
            "SELECT site_id FROM activation_codes WHERE code_sha256 = $1 AND redeemed_at IS NULL \
             AND expires_at > $2",
        )
        .bind(code_sha256)
        .bind(ts(by.at))
        .fetch_optional(&mut *tx)
        .await?;
        let site = site.ok_or_else(|| Error::not_found("activation", "(code)"))?;
        let user = User {
            name: user_name.clone(),
            role: Role::Resident,
            scope: vec![site],
            token_sha256: token_sha256.to_owned(),
            token_expires: None,
            tokens: Vec::new(),
            since: None,
        };
        let mut errors = check(&mut tx, |inv| inv.users.push(user.clone())).await?;
        if list_users(&mut tx, true, Some(user_name.as_str()))
            .await?
            .pop()
            .is_some()
        {
            errors.push(format!("user.name: {:?} is taken", user_name.as_str()));
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        sqlx::query("UPDATE activation_codes SET redeemed_at = $2, redeemed_by = $3 WHERE code_sha256 = $1")
            .bind(code_sha256)
            .bind(ts(by.at))
            .bind(user_name.as_str())
            .execute(&mut *tx)
            .await?;
        write_user(&mut tx, by, &user, Some("activate")).await?;
        tx.commit().await?;
        Ok(user)
    }
}

impl Store {
    /// Redeems an activation code at `by.at` for the household's resident created with it (the admin API's
    /// `POST /admin/households` creates the resident `user_name` scoped to the household, from the move-in
    /// date, holding no token anyone knows): adds `token_sha256` to that live resident (the one whose scope
    /// is exactly the code's household), or, if the household has none, creates one named after the
    /// household, as [`Store::redeem_activation`] does. The code is used up; audited as `activate`.
    /// Errors: [`Error::NotFound`] for a code that is unknown, used or expired (indistinguishable on
    /// purpose); [`Error::Invalid`] for a malformed hash or one another user holds.
    pub async fn redeem_household_activation(
        &self,
        by: Stamp<'_>,
        code_sha256: &str,
        token_sha256: &str,
    ) -> Result<User, Error> {
        if !is_sha256_hex(token_sha256) {
            return Err(Error::Invalid(vec![
                "token_sha256: must be 64 lower-case hex digits".to_owned(),
            ]));
        }
        let mut tx = self.pool.begin().await?;
        let site: Option<String> = sqlx::query_scalar(
            "SELECT site_id FROM activation_codes WHERE code_sha256 = $1 AND redeemed_at IS NULL \
             AND expires_at > $2",
        )
        .bind(code_sha256)
        .bind(ts(by.at))
        .fetch_optional(&mut *tx)
        .await?;
        let site = site.ok_or_else(|| Error::not_found("activation", "(code)"))?;
        let resident = list_users(&mut tx, false, None).await?.into_iter().find(|u| {
            u.retired_at.is_none() && u.value.role == Role::Resident && u.value.scope == [site.clone()]
        });
        let mut user = match resident {
            Some(u) => u.value,
            None => User {
                name: Id::new(site.clone()).map_err(|e| Error::Invalid(vec![format!("user.name: {e}")]))?,
                role: Role::Resident,
                scope: vec![site.clone()],
                token_sha256: token_sha256.to_owned(),
                token_expires: None,
                tokens: Vec::new(),
                since: None,
            },
        };
        if user.token_sha256 != token_sha256 {
            user.tokens.push(UserToken {
                sha256: token_sha256.to_owned(),
                expires: None,
            });
        }
        let errors = check(&mut tx, |inv| {
            inv.users.retain(|u| u.name != user.name);
            inv.users.push(user.clone());
        })
        .await?;
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        sqlx::query("UPDATE activation_codes SET redeemed_at = $2, redeemed_by = $3 WHERE code_sha256 = $1")
            .bind(code_sha256)
            .bind(ts(by.at))
            .bind(user.name.as_str())
            .execute(&mut *tx)
            .await?;
        write_user(&mut tx, by, &user, Some("activate")).await?;
        tx.commit().await?;
        Ok(user)
    }
}

fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
