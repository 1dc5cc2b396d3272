//! Bearer-token authentication: the token's SHA-256 is looked up among the inventory's users; failing that,
//! a token shaped like a JWT is verified when `[api.jwt]` is configured ([`crate::jwt`]).
//!
//! Tokens are never stored or logged in clear; only their hashes are in the config. Because tokens are
//! random and long, a fast hash is enough, and the lookup by hash leaks nothing useful through timing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use zw_model::{Inventory, User, inventory::token_hash};

use crate::{AppState, error::ApiError};

/// Token hash → user.
#[derive(Debug, Default)]
pub struct Users(HashMap<String, Arc<User>>);

impl Users {
    /// Indexes the inventory's users by token hash.
    pub fn from_inventory(inv: &Inventory) -> Self {
        Self(
            inv.users
                .iter()
                .map(|u| (u.token_sha256.clone(), Arc::new(u.clone())))
                .collect(),
        )
    }

    /// The user a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<Arc<User>> {
        self.0.get(&token_hash(token)).cloned()
    }
}

/// The authenticated caller of a request.
pub struct Caller(pub Arc<User>);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized)?;
        let value = header.to_str().map_err(|_| ApiError::Unauthorized)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let user = match (state.users.authenticate(token), &state.jwt) {
            (Some(user), _) => user,
            (None, Some(jwt)) if crate::jwt::looks_like_jwt(token) => {
                let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
                jwt.verify(token, now)
                    .map_err(|e| ApiError::InvalidToken(e.to_string()))?
            }
            (None, _) => return Err(ApiError::Unauthorized),
        };
        state
            .limiter
            .check(user.name.as_str(), std::time::Instant::now())
            .map_err(ApiError::TooManyRequests)?;
        Ok(Caller(user))
    }
}
