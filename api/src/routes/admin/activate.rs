//! `POST /api/v1/activate`: a resident redeems the activation code of their letter and receives their
//! bearer token (random, 256 bit; only its SHA-256 is stored), valid from the next request.
//!
//! No token is needed. A failed activation (a code unknown, used or expired: the answer does not say
//! which) counts as a failed authentication: `zw_api_auth_failures_total{reason="activation"}`, and one
//! token from the client address's bucket ([`crate::AppState::auth_failures`]), so an address that
//! guesses is refused with 429 before its code is looked at. Activations are counted in
//! `zw_api_activations_total{outcome}` (`activated`, `failed`, `limited`).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use zw_model::inventory::token_hash;

use super::households::code_hash;
use super::{AdminError, Body, applied, random_hex};
use crate::AppState;
use crate::error::ApiError;

/// The code from the letter.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateInput {
    /// As printed (`K7QM-2XWD-9PHT-R4CE`); case, spaces and dashes do not matter.
    pub code: String,
}

/// The resident's token (shown this once).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Activated {
    /// The resident's user name.
    pub user: String,
    /// The bearer token: keep it, it is not shown again.
    pub token: String,
    /// The household.
    pub site: String,
}

/// The client's address key for the failed-authentication limit (`None` in `oneshot` tests).
pub struct ClientKey(Option<String>);

impl FromRequestParts<Arc<AppState>> for ClientKey {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        Ok(Self(
            crate::auth::client_address(parts, &state.config.trusted_proxies)
                .map(crate::ratelimit::address_key),
        ))
    }
}

/// Redeems an activation code.
#[utoipa::path(post, path = "/api/v1/activate", tag = "admin", request_body = ActivateInput,
    responses((status = 201, body = Activated), (status = 400, body = crate::error::Problem),
        (status = 404, description = "Unknown, used or expired code", body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem),
        (status = 429, description = "Too many failed authentications from this address", body = crate::error::Problem)))]
pub async fn activate(
    State(state): State<Arc<AppState>>,
    ClientKey(addr): ClientKey,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Activated>), AdminError> {
    let count = |outcome: &str| state.metrics.activations.with_label_values(&[outcome]).inc();
    let now = Instant::now();
    if let Some(addr) = &addr
        && let Err(wait) = state.auth_failures.peek(addr, now)
    {
        count("limited");
        state.metrics.auth_failures.with_label_values(&["limited"]).inc();
        return Err(ApiError::AuthLimited(wait).into());
    }
    let store = state.store.clone().ok_or(AdminError::NoStore)?;
    let Body(input) = super::parse::<ActivateInput>(&body).map(Body)?;
    let token = random_hex(32);
    let at = Utc::now();
    match store
        .redeem_household_activation(
            zw_store::Stamp::new("activation", at),
            &code_hash(&input.code),
            &token_hash(&token),
        )
        .await
    {
        Ok(user) => {
            count("activated");
            info!(user = %user.name, "Resident activated.");
            applied(&state, &store, user.name.as_str(), at).await?;
            Ok((
                StatusCode::CREATED,
                Json(Activated {
                    user: user.name.to_string(),
                    token,
                    site: user.scope.first().cloned().unwrap_or_default(),
                }),
            ))
        }
        Err(zw_store::Error::NotFound { .. }) => {
            count("failed");
            state
                .metrics
                .auth_failures
                .with_label_values(&["activation"])
                .inc();
            warn!(addr = addr.as_deref().unwrap_or("unknown"), "Activation failed.");
            if let Some(addr) = &addr {
                let _ = state.auth_failures.check(addr, now);
            }
            Err(AdminError::NotFound(
                "activation code (unknown, used or expired)".into(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
