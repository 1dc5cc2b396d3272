//! Bearer-token authentication: the token's SHA-256 is looked up among the inventory's users; failing that,
//! a token shaped like a JWT is verified when `[api.jwt]` is configured ([`crate::jwt`]).
//!
//! Tokens are never stored or logged in clear; only their hashes are in the config. Because tokens are
//! random and long, a fast hash is enough, and the lookup by hash leaks nothing useful through timing.
//!
//! A failed authentication (an unknown token, a JWT that does not verify, a header that is not `Bearer …`)
//! is logged with the client's address and reason, never the token, counted in `zw_api_auth_failures_total`,
//! and takes one token from the address's bucket in [`AppState::auth_failures`]; an address whose bucket is
//! empty gets 429 before its token is looked at. A request without any token is counted (`missing`) but
//! neither logged nor limited: it guesses nothing. Behind a reverse proxy listed in `api.trusted_proxies`,
//! the client is the last address of `X-Forwarded-For` ([`client_address`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tracing::{debug, warn};
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

/// The client's address: the peer, or for a peer in `trusted_proxies` the last address its `X-Forwarded-For`
/// names (the one the proxy added; earlier ones are the client's word). Served requests carry the peer
/// address; `oneshot` tests without one have none and are not limited.
fn client_address(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|a| a.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// The authenticated caller of a request.
pub struct Caller(pub Arc<User>);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let fail = |reason: &'static str| {
            state.metrics.auth_failures.with_label_values(&[reason]).inc();
        };
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            fail("missing");
            return Err(ApiError::Unauthorized);
        };
        let addr = client_address(parts, &state.config.trusted_proxies).map(crate::ratelimit::address_key);
        let now = Instant::now();
        if let Some(addr) = &addr
            && let Err(wait) = state.auth_failures.peek(addr, now)
        {
            fail("limited");
            debug!(
                addr,
                "Refused authentication: too many failures from this address."
            );
            return Err(ApiError::AuthLimited(wait));
        }
        let failed = |reason: &'static str, err: ApiError| {
            fail(reason);
            warn!(
                addr = addr.as_deref().unwrap_or("unknown"),
                reason, "Authentication failed."
            );
            if let Some(addr) = &addr {
                // One token per failure (`peek` above found at least one left).
                let _ = state.auth_failures.check(addr, now);
            }
            err
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failed("malformed", ApiError::Unauthorized))?;
        let user = match (state.users.authenticate(token), &state.jwt) {
            (Some(user), _) => user,
            (None, Some(jwt)) if crate::jwt::looks_like_jwt(token) => {
                let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
                jwt.verify(token, now)
                    .map_err(|e| failed("invalid_jwt", ApiError::InvalidToken(e.to_string())))?
            }
            (None, _) => return Err(failed("unknown_token", ApiError::Unauthorized)),
        };
        state
            .limiter
            .check(user.name.as_str(), now)
            .map_err(ApiError::TooManyRequests)?;
        Ok(Caller(user))
    }
}
