//! Bearer-token authentication: the token's SHA-256 is looked up among the inventory's users; failing that,
//! a token shaped like a JWT is verified when `[api.jwt]` is configured ([`crate::jwt`]).
//!
//! Tokens are never stored or logged in clear; only their hashes are in the config. Because tokens are
//! random and long, a fast hash is enough, and the lookup by hash leaks nothing useful through timing.
//!
//! Each user may have several tokens, each with its own expiry (`users[].token_expires`, `users[].tokens`), so
//! a token can be rotated: the new one is valid before the old one expires. An expired token answers 401
//! with a problem saying so (`zw_api_auth_failures_total{reason="expired"}`).
//!
//! A failed authentication (an expired or unknown token, a JWT that does not verify, a header that is not `Bearer …`)
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
use chrono::{DateTime, Utc};
use tracing::{debug, warn};
use zw_model::{Inventory, User, inventory::token_hash};

use crate::{AppState, error::ApiError};

/// Token hash → user and the token's expiry.
#[derive(Debug, Default)]
pub struct Users(HashMap<String, (Arc<User>, Option<DateTime<Utc>>)>);

/// What a bearer token is among the inventory's tokens.
#[derive(Debug)]
pub enum Lookup {
    /// A valid token of this user.
    Valid(Arc<User>),
    /// A token of a user that expired at this instant.
    Expired(DateTime<Utc>),
    /// No user's token.
    Unknown,
}

impl Users {
    /// Indexes the inventory's users by the hash of each of their tokens ([`User::token_hashes`]).
    pub fn from_inventory(inv: &Inventory) -> Self {
        let mut map = HashMap::new();
        for u in &inv.users {
            let user = Arc::new(u.clone());
            for (hash, expires) in u.token_hashes() {
                map.insert(hash.to_owned(), (user.clone(), expires));
            }
        }
        Self(map)
    }

    /// The user a bearer token belongs to at `now`, or that it expired, or that it is unknown.
    pub fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Lookup {
        match self.0.get(&token_hash(token)) {
            None => Lookup::Unknown,
            Some((_, Some(expires))) if now >= *expires => Lookup::Expired(*expires),
            Some((user, _)) => Lookup::Valid(user.clone()),
        }
    }
}

/// The client's address: the peer, or for a peer in `trusted_proxies` the last address its `X-Forwarded-For`
/// names (the one the proxy added; earlier ones are the client's word). Served requests carry the peer
/// address; `oneshot` tests without one have none and are not limited.
pub(crate) fn client_address(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
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
        let user = match (state.users.authenticate(token, Utc::now()), &state.jwt) {
            (Lookup::Valid(user), _) => user,
            (Lookup::Expired(at), _) => {
                let detail = format!(
                    "token expired at {}; ask for a new one",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                return Err(failed("expired", ApiError::InvalidToken(detail)));
            }
            (Lookup::Unknown, Some(jwt)) if crate::jwt::looks_like_jwt(token) => {
                let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
                jwt.verify(token, now)
                    .map_err(|e| failed("invalid_jwt", ApiError::InvalidToken(e.to_string())))?
            }
            (Lookup::Unknown, _) => return Err(failed("unknown_token", ApiError::Unauthorized)),
        };
        if let Some(slot) = parts.extensions.get::<crate::access_log::Slot>() {
            slot.identify(&user);
        }
        state
            .limiter
            .check(user.name.as_str(), now)
            .map_err(ApiError::TooManyRequests)?;
        Ok(Caller(user))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use zw_model::{Role, UserToken};

    use super::*;

    #[test]
    fn rotated_tokens_overlap_and_an_expired_one_is_told_apart_from_an_unknown_one() {
        let now = Utc::now();
        let mut anna = User::with_token("anna", Role::Resident, &["hh-12"], "old");
        anna.token_expires = Some(now + TimeDelta::days(1));
        anna.tokens = vec![UserToken {
            sha256: token_hash("new"),
            expires: None,
        }];
        let inv = Inventory {
            users: vec![anna],
            ..Inventory::default()
        };
        let users = Users::from_inventory(&inv);
        // During the overlap both tokens are valid.
        assert!(matches!(users.authenticate("old", now), Lookup::Valid(u) if u.name.as_str() == "anna"));
        assert!(matches!(users.authenticate("new", now), Lookup::Valid(_)));
        // After the old token's expiry only the new one is.
        let later = now + TimeDelta::days(2);
        assert!(
            matches!(users.authenticate("old", later), Lookup::Expired(at) if at == now + TimeDelta::days(1))
        );
        assert!(matches!(users.authenticate("new", later), Lookup::Valid(_)));
        assert!(matches!(users.authenticate("other", later), Lookup::Unknown));
    }
}
