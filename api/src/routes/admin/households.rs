//! Households: one call creates the household site, its devices, its resident (scoped to it from the
//! move-in date, holding no token anyone knows) and an activation code for the letter; another issues a
//! new code (a lost letter). The resident redeems the code at `POST /api/v1/activate` ([`super::activate`]).
//!
//! The code is 16 characters from an alphabet without look-alikes (no 0/O, 1/I/L), printed in groups of
//! four (`K7QM-2XWD-9PHT-R4CE`, 80 bits); only its SHA-256 is stored. It is valid for
//! [`ACTIVATION_VALID_DAYS`] days and once.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zw_model::inventory::token_hash;
use zw_model::{Role, Site, SiteKind, User};
use zw_store::{SiteDetails, SiteRecord};

use super::sites::checked_id;
use super::{Admin, AdminError, Body, applied, sealed_token_hash};
use crate::AppState;

/// How long an activation code is valid.
pub const ACTIVATION_VALID_DAYS: i64 = 30;

/// The code's alphabet: upper-case letters and digits without 0, O, 1, I and L.
const ALPHABET: &[u8; 31] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A new household.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdInput {
    /// The household's site id, also its resident's user name.
    pub id: String,
    /// Name shown in the dashboard (e.g. the family name and flat).
    #[serde(default)]
    pub name: String,
    /// Postal address (printed on the letter).
    #[serde(default)]
    pub address: Option<String>,
    /// Move-in date (`2026-12-01` or RFC 3339): the resident sees nothing measured before it.
    pub since: String,
    /// The household's devices, as in the TOML inventory (`{"id":…, "class":…, "source":{…}}`).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub devices: Vec<Value>,
}

/// A created household and its activation code (shown this once).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedHousehold {
    /// The site id.
    pub site: String,
    /// The resident's user name.
    pub user: String,
    /// The activation code for the letter (`XXXX-XXXX-XXXX-XXXX`); only its SHA-256 is stored.
    pub activation_code: String,
    /// After this the code is refused.
    pub expires_at: DateTime<Utc>,
}

/// A new activation code, grouped for printing.
pub(crate) fn new_code() -> String {
    let chars: Vec<char> = (0..16)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored hash of a code as typed: case, spaces and dashes do not matter.
pub(crate) fn code_hash(typed: &str) -> String {
    let norm: String = typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    token_hash(&norm)
}

/// Creates a household with its devices, its resident and an activation code. Nothing is written when
/// anything is invalid (422 lists every problem).
#[utoipa::path(post, path = "/api/v1/admin/households", tag = "admin", security(("bearer" = [])),
    request_body = HouseholdInput,
    responses((status = 201, body = CreatedHousehold), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Body(input): Body<HouseholdInput>,
) -> Result<(StatusCode, Json<CreatedHousehold>), AdminError> {
    let mut errors = Vec::new();
    let id = checked_id("household.id", None, Some(&input.id));
    let since = zw_model::inventory::parse_instant(&input.since)
        .map_err(|e| errors.push(format!("household.since: {e}")))
        .ok();
    let mut devices = Vec::new();
    for (i, body) in input.devices.into_iter().enumerate() {
        let mut body = body;
        if let Value::Object(f) = &mut body {
            f.insert("site".into(), Value::String(input.id.clone()));
        }
        match super::devices::record(body, None) {
            Ok(rec) => devices.push(rec),
            Err(AdminError::Invalid(e)) => errors.extend(e.into_iter().map(|e| format!("devices[{i}].{e}"))),
            Err(e) => return Err(e),
        }
    }
    let id = match id {
        Ok(id) => id,
        Err(AdminError::Invalid(e)) => {
            errors.extend(e);
            return Err(AdminError::Invalid(errors));
        }
        Err(e) => return Err(e),
    };
    if admin.store.site(id.as_str()).await?.is_some() || admin.store.user(id.as_str()).await?.is_some() {
        return Err(AdminError::Conflict(format!("household {:?}", id.as_str())));
    }
    let site = SiteRecord {
        id: id.clone(),
        kind: SiteKind::Household,
        name: input.name,
        details: SiteDetails {
            address: input.address,
            ..SiteDetails::default()
        },
    };
    let resident = User {
        name: id.clone(),
        role: Role::Resident,
        scope: vec![id.to_string()],
        token_sha256: sealed_token_hash(),
        token_expires: None,
        tokens: Vec::new(),
        since,
    };
    // The whole household against the whole inventory first, so nothing is half-created.
    let mut candidate = admin.store.export_inventory().await?;
    let mut with_devices: Site = site.to_site();
    with_devices.devices = devices.iter().map(|d| d.device.clone()).collect();
    candidate.sites.push(with_devices);
    candidate.users.push(resident.clone());
    errors.extend(candidate.validate());
    if !errors.is_empty() {
        return Err(AdminError::Invalid(errors));
    }
    let now = Utc::now();
    let by = admin.stamp(now);
    admin.store.put_site(by, &site).await?;
    for rec in &devices {
        admin.store.put_device(by, rec).await?;
    }
    admin.store.put_user(by, &resident).await?;
    let created = activation(&admin, id.as_str(), now).await?;
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn activation(admin: &Admin, site: &str, now: DateTime<Utc>) -> Result<CreatedHousehold, AdminError> {
    let code = new_code();
    let expires = now + TimeDelta::days(ACTIVATION_VALID_DAYS);
    admin
        .store
        .create_activation(admin.stamp(now), site, &code_hash(&code), expires)
        .await?;
    Ok(CreatedHousehold {
        site: site.to_owned(),
        user: site.to_owned(),
        activation_code: code,
        expires_at: expires,
    })
}

/// Issues a new activation code for a household (the letter was lost); earlier codes stay valid until
/// used or expired.
#[utoipa::path(post, path = "/api/v1/admin/households/{id}/activation", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Household site id")),
    responses((status = 201, body = CreatedHousehold), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn reissue(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CreatedHousehold>), AdminError> {
    let now = Utc::now();
    let mut created = activation(&admin, &id, now).await?;
    if let Some(resident) = admin
        .store
        .users(false)
        .await?
        .into_iter()
        .find(|u| u.value.role == Role::Resident && u.value.scope == [id.clone()])
    {
        created.user = resident.value.name.to_string();
    }
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_from_the_alphabet_and_typed_forms_hash_alike() {
        let code = new_code();
        assert_eq!(code.len(), 19, "{code}");
        assert!(
            code.split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b)))
        );
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(code_hash(&typed), code_hash(&code));
        assert_ne!(new_code(), code, "random");
    }
}
