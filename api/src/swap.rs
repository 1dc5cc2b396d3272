//! The API under a live inventory: the router is rebuilt with a fresh [`AppState`] snapshot by the first
//! request after the inventory changed, so every request sees one consistent inventory and its users, and a
//! change made in the store (an onboarded household, a revoked token, a user's new scope) applies from the
//! next request on.
//!
//! Handlers keep reading `state.inventory` as a plain `Arc<Inventory>`: nothing in them knows the inventory
//! can change. Everything else in the state is shared between snapshots (caches, limits, metrics, views).
//! A live stream keeps the snapshot it started with until it is reconnected.

use std::convert::Infallible;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;
use tracing::info;
use zw_bus::LiveInventory;
use zw_model::Inventory;

use crate::{AppState, Config, app_with};

/// The router of one inventory snapshot.
struct Served {
    inventory: Arc<Inventory>,
    router: Router,
}

/// A router that serves `state` with the current inventory of `live`. Each request compares the inventory
/// the router was built for with `live`'s current one and, when it was replaced, rebuilds the router first
/// (under a write lock, once for all requests waiting): a request that starts after `replace` returned
/// (the admin's next request, a revoked token's next use) always sees the change.
pub fn live_router(state: AppState, cfg: &Config, live: LiveInventory) -> Router {
    let first = live.current();
    let served = Arc::new(RwLock::new(Served {
        router: app_with(state.with_inventory(first.clone()), cfg),
        inventory: first,
    }));
    let cfg = cfg.clone();
    Router::new().fallback_service(tower::service_fn(move |req: Request<Body>| {
        let router = current_router(&served, &live, &state, &cfg);
        async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    }))
}

/// The router for `live`'s current inventory, rebuilt if it was replaced since the last request.
fn current_router(served: &RwLock<Served>, live: &LiveInventory, state: &AppState, cfg: &Config) -> Router {
    let now = live.current();
    {
        let s = served.read().unwrap_or_else(|e| e.into_inner());
        if Arc::ptr_eq(&s.inventory, &now) {
            return s.router.clone();
        }
    }
    let mut s = served.write().unwrap_or_else(|e| e.into_inner());
    if !Arc::ptr_eq(&s.inventory, &now) {
        info!(
            sites = now.sites.len(),
            users = now.users.len(),
            "API serves the changed inventory."
        );
        s.router = app_with(state.with_inventory(now.clone()), cfg);
        s.inventory = now;
    }
    s.router.clone()
}

#[cfg(test)]
mod tests {
    use axum::http::{StatusCode, header};
    use zw_model::inventory::fixtures::town;
    use zw_model::inventory::token_hash;

    use super::*;

    fn state() -> AppState {
        // InfluxDB is never reached: `/api/v1/sites` answers from the inventory.
        let influx = zw_influx::Client::new(zw_influx::Config::default()).expect("client");
        AppState::new(Arc::new(town()), influx, None, prometheus::Registry::new()).expect("state")
    }

    async fn sites(router: &Router, token: &str) -> (StatusCode, String) {
        let req = Request::get("/api/v1/sites")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let resp = router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_user_added_to_the_live_inventory_is_served_from_the_next_request_and_a_removed_one_not() {
        let live = LiveInventory::new(town());
        let router = live_router(state(), &Config::default(), live.clone());
        assert_eq!(sites(&router, "new-tenant").await.0, StatusCode::UNAUTHORIZED);

        let mut next = town();
        let mut tenant = next
            .users
            .iter()
            .find(|u| u.name.as_str() == "anna")
            .expect("anna")
            .clone();
        tenant.name = zw_model::Id::new("new-tenant").expect("id");
        tenant.token_sha256 = token_hash("new-tenant");
        next.users.retain(|u| u.name.as_str() != "anna");
        next.users.push(tenant);
        assert!(live.replace(next));
        // The very next request sees the change: no task to wait for.
        let served = sites(&router, "new-tenant").await;
        assert_eq!(served.0, StatusCode::OK, "{}", served.1);
        assert!(
            served.1.contains("hh-1"),
            "anna's household, now the tenant's: {}",
            served.1
        );
        assert_eq!(
            sites(&router, "anna").await.0,
            StatusCode::UNAUTHORIZED,
            "anna was removed"
        );
    }
}
