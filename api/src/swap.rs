//! The API under a live inventory: the router is rebuilt with a fresh [`AppState`] snapshot whenever the
//! inventory changes, so every request sees one consistent inventory and its users, and a change made in
//! the store (an onboarded household, a revoked token, a user's new scope) applies from the next request on.
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

use crate::{AppState, Config, app_with};

/// A router that serves `state` with the current inventory of `live`, rebuilt on every change until
/// `live`'s sender is dropped or `shutdown` is cancelled.
pub fn live_router(
    state: AppState,
    cfg: &Config,
    live: LiveInventory,
    shutdown: tokio_util::sync::CancellationToken,
) -> Router {
    let current = Arc::new(RwLock::new(app_with(state.with_inventory(live.current()), cfg)));
    let mut changes = live.subscribe();
    let (slot, cfg) = (current.clone(), cfg.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
            }
            let inventory = changes.borrow_and_update().clone();
            let (sites, users) = (inventory.sites.len(), inventory.users.len());
            let router = app_with(state.with_inventory(inventory), &cfg);
            *slot.write().unwrap_or_else(|e| e.into_inner()) = router;
            info!(sites, users, "API serves the changed inventory.");
        }
    });
    Router::new().fallback_service(tower::service_fn(move |req: Request<Body>| {
        let router = current.read().unwrap_or_else(|e| e.into_inner()).clone();
        async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
    }))
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
        let stop = tokio_util::sync::CancellationToken::new();
        let router = live_router(state(), &Config::default(), live.clone(), stop.clone());
        assert_eq!(sites(&router, "new-tenant").await.0, StatusCode::UNAUTHORIZED);

        let mut changes = live.subscribe();
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
        changes.changed().await.expect("sender alive");
        // The rebuild runs on its own task right after the change; wait for it without sleeping blindly.
        let mut served = (StatusCode::UNAUTHORIZED, String::new());
        for _ in 0..1000 {
            served = sites(&router, "new-tenant").await;
            if served.0 == StatusCode::OK {
                break;
            }
            tokio::task::yield_now().await;
        }
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
        stop.cancel();
    }
}
