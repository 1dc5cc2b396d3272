//! The role × route × scope matrix: every route of the router, asked by every role for an id in its scope and
//! one outside it, and by an anonymous caller, a wrong token, an expired token and a rotated-out token (each
//! user's previous token, expired, while its current one works), answers the status its row expects.
//!
//! The route list is read from the router itself (the `.route("…")` calls in `app_with`, `src/lib.rs`), so a
//! new route without a row here fails [`every_route_has_a_matrix_row`], and a row for a route that is gone
//! fails too. Out-of-scope ids answer 404 exactly like unknown ones. In-scope requests that need InfluxDB
//! answer 503 here (the state's database is a closed port): they got past authentication and scope; what
//! they compute is tested elsewhere. An in-scope acknowledgement answers 503 too (no broker in router tests),
//! one outside the caller's scope 404.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use zw_api::{AppState, app};
use zw_model::alert::Alert;

use zw_model::inventory::{UserToken, token_hash};

use crate::common::state;

/// The router's source: its `.route(…)` calls are the route list.
const ROUTER_SOURCE: &str = include_str!("../../src/lib.rs");
/// The admin routes' source (merged into the router): one method per `.route(…)` call.
const ADMIN_SOURCE: &str = include_str!("../../src/routes/admin/mod.rs");

/// Who may call a route and which id it takes.
#[derive(Clone, Copy, Debug)]
enum Access {
    /// No token needed; everyone, anonymous included, gets the row's status.
    Public,
    /// Any valid token; the answer lists only what is in the caller's scope.
    Listed,
    /// Any valid token; a caller who may see buildings gets the row's status, the others (resident, parks,
    /// businesses) an empty list (200) without a database read.
    Buildings,
    /// A device id (`{id}`): in scope → the row's status, outside → 404.
    Device,
    /// A site id.
    Site,
    /// An alert id.
    Alert,
    /// An admin route (`{id}` is a site id): the admin gets the row's status, every other role 403.
    Admin,
    /// The energy report of every building and household in scope: parks and businesses (none in scope)
    /// get an empty report (200) without a database read, the others the row's status.
    Report,
    /// The energy report or export of a site: as [`Access::Site`], but a park has none (404, also for its
    /// own park).
    SiteReport,
    /// The parks department's season report: parks and admin get the row's status, every other role 403.
    Parks,
}

/// One row: method, route template (as in the router), the concrete path with `{id}` left to fill in, the
/// access rule and the status of an in-scope call.
struct Row {
    method: Method,
    route: &'static str,
    path: &'static str,
    access: Access,
    status: StatusCode,
}

const OK: StatusCode = StatusCode::OK;
const DB: StatusCode = StatusCode::SERVICE_UNAVAILABLE;

fn rows() -> Vec<Row> {
    use Access::*;
    let row = |method: Method, route, path, access, status| Row {
        method,
        route,
        path,
        access,
        status,
    };
    let get = Method::GET;
    vec![
        row(get.clone(), "/healthz", "/healthz", Public, OK),
        // Neither broker nor database in router tests: not ready.
        row(get.clone(), "/readyz", "/readyz", Public, DB),
        // Router tests have no peer address, which the metrics guard counts as this host.
        row(get.clone(), "/metrics", "/metrics", Public, OK),
        row(get.clone(), "/", "/", Public, OK),
        row(get.clone(), "/static/{*path}", "/static/js/app.js", Public, OK),
        row(
            get.clone(),
            "/dashboard/settings.json",
            "/dashboard/settings.json",
            Public,
            OK,
        ),
        row(get.clone(), "/api/v1/devices", "/api/v1/devices", Listed, OK),
        row(get.clone(), "/api/v1/sites", "/api/v1/sites", Listed, OK),
        row(get.clone(), "/api/v1/alerts", "/api/v1/alerts", Listed, OK),
        row(get.clone(), "/api/v1/trees", "/api/v1/trees", Listed, OK),
        row(
            get.clone(),
            "/api/v1/trees/watering",
            "/api/v1/trees/watering",
            Listed,
            OK,
        ),
        row(get.clone(), "/api/v1/stream", "/api/v1/stream", Listed, OK),
        row(
            get.clone(),
            "/api/v1/devices/{id}/live",
            "/api/v1/devices/{id}/live",
            Device,
            OK,
        ),
        row(
            get.clone(),
            "/api/v1/devices/{id}/history",
            "/api/v1/devices/{id}/history?quantity=active_power",
            Device,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/devices/{id}/energy",
            "/api/v1/devices/{id}/energy",
            Device,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/devices/{id}/cost",
            "/api/v1/devices/{id}/cost",
            Device,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/devices/{id}/peak",
            "/api/v1/devices/{id}/peak",
            Device,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/devices/{id}/forecast",
            "/api/v1/devices/{id}/forecast",
            Device,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/live",
            "/api/v1/sites/{id}/live",
            Site,
            OK,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/energy",
            "/api/v1/sites/{id}/energy",
            Site,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/cost",
            "/api/v1/sites/{id}/cost",
            Site,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/peak",
            "/api/v1/sites/{id}/peak",
            Site,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/forecast",
            "/api/v1/sites/{id}/forecast",
            Site,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/normal",
            "/api/v1/sites/{id}/normal",
            Site,
            DB,
        ),
        // Today against the normal for every building in scope, at once.
        row(get.clone(), "/api/v1/normal", "/api/v1/normal", Buildings, DB),
        // The month-end backtest on the building's own history: the forecast's scope.
        row(
            get.clone(),
            "/api/v1/sites/{id}/forecast/accuracy",
            "/api/v1/sites/{id}/forecast/accuracy",
            Site,
            DB,
        ),
        // Advance payments and read intervals come from the inventory: no time-series read.
        row(
            get.clone(),
            "/api/v1/sites/{id}/household",
            "/api/v1/sites/{id}/household",
            Site,
            OK,
        ),
        row(
            get.clone(),
            "/api/v1/sites/{id}/top",
            "/api/v1/sites/{id}/top",
            Site,
            DB,
        ),
        // A park has no meters to export (404, also for its own park).
        row(
            get.clone(),
            "/api/v1/sites/{id}/export.csv",
            "/api/v1/sites/{id}/export.csv",
            SiteReport,
            DB,
        ),
        row(get.clone(), "/api/v1/ranking", "/api/v1/ranking", Buildings, DB),
        row(get.clone(), "/api/v1/report", "/api/v1/report", Report, DB),
        row(
            get.clone(),
            "/api/v1/sites/{id}/report",
            "/api/v1/sites/{id}/report",
            SiteReport,
            DB,
        ),
        row(
            Method::POST,
            "/api/v1/alerts/{id}/ack",
            "/api/v1/alerts/{id}/ack",
            Alert,
            DB,
        ),
        row(
            get.clone(),
            "/api/v1/alerts/{id}",
            "/api/v1/alerts/{id}",
            Alert,
            OK,
        ),
        // No store in router tests: parks and admin get 503 (the watering log), after the role check.
        row(
            get.clone(),
            "/api/v1/trees/season",
            "/api/v1/trees/season",
            Parks,
            DB,
        ),
        // The router state has no trees: an unknown tree is 404 for every role, after authentication (a
        // tree in scope is logged and listed in the dashboard's browser test, with a store; the route's GET
        // shares its path, and the router listing names one method per path).
        row(
            Method::POST,
            "/api/v1/trees/{id}/waterings",
            "/api/v1/trees/no-such-tree/waterings",
            Listed,
            StatusCode::NOT_FOUND,
        ),
        // The rain observed at a tree: the same, an unknown tree is 404 for every role.
        row(
            get.clone(),
            "/api/v1/trees/{id}/rain",
            "/api/v1/trees/no-such-tree/rain",
            Listed,
            StatusCode::NOT_FOUND,
        ),
    ]
    .into_iter()
    .chain(admin_rows())
    .collect()
}

/// The admin routes: the router tests' state has no store, so the admin gets 503 (`no store configured`),
/// after authentication and the role check; activation needs no token and answers 503 too.
fn admin_rows() -> Vec<Row> {
    let admin = |method: Method, route: &'static str| Row {
        method,
        route,
        path: route,
        access: Access::Admin,
        status: DB,
    };
    let (get, post, put, delete) = (Method::GET, Method::POST, Method::PUT, Method::DELETE);
    let mut rows = Vec::new();
    for (list, one) in [
        ("/api/v1/admin/sites", "/api/v1/admin/sites/{id}"),
        ("/api/v1/admin/devices", "/api/v1/admin/devices/{id}"),
        ("/api/v1/admin/trees", "/api/v1/admin/trees/{id}"),
        ("/api/v1/admin/users", "/api/v1/admin/users/{id}"),
    ] {
        rows.extend([
            admin(get.clone(), list),
            admin(post.clone(), list),
            admin(get.clone(), one),
            admin(put.clone(), one),
            admin(delete.clone(), one),
        ]);
    }
    rows.extend([
        admin(post.clone(), "/api/v1/admin/devices/import"),
        admin(delete, "/api/v1/admin/users/{id}/tokens"),
        admin(post.clone(), "/api/v1/admin/households"),
        admin(post.clone(), "/api/v1/admin/households/{id}/activation"),
        admin(get, "/api/v1/admin/audit"),
        Row {
            method: post,
            route: "/api/v1/activate",
            path: "/api/v1/activate",
            access: Access::Public,
            status: DB,
        },
    ]);
    rows
}

/// `(method, route)` of every `.route(…)` call in the router's source; the method is POST when the route's
/// handler is built with `post(`, else GET.
fn router_routes() -> Vec<(Method, String)> {
    let mut out = Vec::new();
    let mut rest = ROUTER_SOURCE;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(start) = rest.find('"') else { break };
        let Some(len) = rest[start + 1..].find('"') else {
            break;
        };
        let route = rest[start + 1..start + 1 + len].to_string();
        let handler = &rest[..rest.find(".route(").unwrap_or(rest.len())];
        let handler = &handler[..handler.find("\n        .").unwrap_or(handler.len())];
        let method = if handler.contains("post(") {
            Method::POST
        } else {
            Method::GET
        };
        out.push((method, route));
    }
    let mut rest = ADMIN_SOURCE;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let handler = &rest[..rest.find(".route(").unwrap_or(rest.len())];
        let Some(route) = handler.split('"').nth(1) else {
            break;
        };
        let method = [Method::GET, Method::POST, Method::PUT, Method::DELETE]
            .into_iter()
            .find(|m| handler.contains(&format!("{}(", m.as_str().to_lowercase())));
        out.push((method.unwrap_or(Method::GET), route.to_string()));
    }
    out
}

#[test]
fn every_route_has_a_matrix_row() {
    let routes = router_routes();
    assert!(routes.len() >= 10, "the route list was not found: {routes:?}");
    let rows = rows();
    let missing: Vec<_> = routes
        .iter()
        .filter(|(m, r)| !rows.iter().any(|row| row.method == *m && row.route == r))
        .collect();
    assert!(missing.is_empty(), "routes without a matrix row: {missing:?}");
    let stale: Vec<_> = rows
        .iter()
        .filter(|row| !routes.iter().any(|(m, r)| row.method == *m && row.route == r))
        .map(|row| (&row.method, row.route))
        .collect();
    assert!(
        stale.is_empty(),
        "matrix rows for routes the router does not have: {stale:?}"
    );
}

/// A caller with the ids in its scope and ids outside it.
struct Caller {
    token: &'static str,
    own: Ids,
    other: Ids,
}

struct Ids {
    site: &'static str,
    device: &'static str,
    alert: &'static str,
}

const fn ids(site: &'static str, device: &'static str, alert: &'static str) -> Ids {
    Ids { site, device, alert }
}

/// The town's users: a resident of `hh-1`, the facility manager (buildings), the parks department, the
/// admin, whose "other" ids are unknown ones (an admin sees every site), and two businesses ([`BUSINESSES`]):
/// the bakery with two sites, each asked for with another role's site and the other business's, and the
/// butcher with one. Every other role is asked for a business site too. A token may have several rows.
fn callers() -> Vec<Caller> {
    let biz = |n: u8| match n {
        1 => ids("biz-1", "biz-1-plug", "left_on.biz-1.biz-1-plug"),
        2 => ids("biz-2", "biz-2-plug", "left_on.biz-2.biz-2-plug"),
        _ => ids("biz-3", "biz-3-plug", "left_on.biz-3.biz-3-plug"),
    };
    let mut out = vec![
        Caller {
            token: "anna",
            own: ids("hh-1", "hh-1-plug", "left_on.hh-1.hh-1-plug"),
            other: ids("hh-2", "hh-2-plug", "left_on.hh-2.hh-2-plug"),
        },
        Caller {
            token: "fm",
            own: ids("rathaus", "rathaus-main", "high.rathaus.rathaus-main"),
            other: ids("hh-1", "hh-1-plug", "left_on.hh-1.hh-1-plug"),
        },
        Caller {
            token: "parks",
            own: ids("park", "soil-1", "sensor.park.soil-1"),
            other: ids("rathaus", "rathaus-main", "high.rathaus.rathaus-main"),
        },
        Caller {
            token: "root",
            own: ids("hh-2", "hh-2-plug", "left_on.hh-2.hh-2-plug"),
            other: ids("nowhere", "no-such-device", "left_on.nowhere.no-such-device"),
        },
    ];
    let bakery = |own, other| Caller {
        token: "bakery",
        own,
        other,
    };
    out.extend([
        bakery(biz(1), ids("hh-1", "hh-1-plug", "left_on.hh-1.hh-1-plug")),
        bakery(biz(2), biz(3)),
        bakery(
            biz(1),
            ids("rathaus", "rathaus-main", "high.rathaus.rathaus-main"),
        ),
        bakery(biz(2), ids("park", "soil-1", "sensor.park.soil-1")),
        Caller {
            token: "butcher",
            own: biz(3),
            other: biz(1),
        },
        Caller {
            token: "anna",
            own: ids("hh-1", "hh-1-plug", "left_on.hh-1.hh-1-plug"),
            other: biz(1),
        },
        Caller {
            token: "fm",
            own: ids("rathaus", "rathaus-main", "high.rathaus.rathaus-main"),
            other: biz(2),
        },
        Caller {
            token: "parks",
            own: ids("park", "soil-1", "sensor.park.soil-1"),
            other: biz(3),
        },
    ]);
    out
}

/// The business sites (a plug each, publishing on the id without dashes) and their users: the bakery
/// (`biz-1`, `biz-2`) and the butcher (`biz-3`), tokens their names.
const BUSINESSES: [(&str, &[&str]); 2] = [("bakery", &["biz-1", "biz-2"]), ("butcher", &["biz-3"])];

/// Adds the [`BUSINESSES`] to `inventory`.
fn add_businesses(inventory: &mut zw_model::Inventory) {
    for (user, sites) in BUSINESSES {
        for site in sites {
            let plug = zw_model::Device::tasmota(&format!("{site}-plug"), &site.replace('-', ""));
            inventory
                .sites
                .push(zw_model::Site::new(site, zw_model::SiteKind::Business, [plug]));
        }
        inventory.users.push(zw_model::User::with_token(
            user,
            zw_model::Role::Business,
            sites,
            user,
        ));
    }
}

/// An open alert `id` of `site` about `device`.
fn alert(id: &str, site: &str, device: &str) -> Alert {
    serde_json::from_value(serde_json::json!({
        "v": 1, "id": id, "kind": "left_on", "category": "energy", "site": site,
        "subject": {"device": device}, "state": "open", "severity": "warning",
        "opened_at": "2026-05-12T19:10:00Z", "updated_at": "2026-05-12T19:15:00Z",
        "explanation": {"observed": 812.5, "expected": 0.0, "threshold": 15.0, "unit": "W",
            "baseline": "off outside usage hours", "since": "2026-05-12T19:00:00Z", "text": "812 W"}
    }))
    .expect("alert")
}

/// The token of a resident of `hh-1` whose only token expired yesterday.
const EXPIRED: &str = "gone";

/// The previous token of `caller`, rotated out (expired yesterday) while `caller` stays valid.
fn rotated_out(caller: &str) -> String {
    format!("{caller}-previous")
}

/// The router tests' state with an open alert on each site the callers name, each caller's previous token
/// rotated out and a resident whose token expired.
fn state_with_alerts() -> AppState {
    let yesterday = chrono::Utc::now() - chrono::TimeDelta::days(1);
    let base = state();
    let mut inventory = (*base.inventory).clone();
    add_businesses(&mut inventory);
    for user in &mut inventory.users {
        user.tokens.push(UserToken {
            sha256: token_hash(&rotated_out(user.name.as_str())),
            expires: Some(yesterday),
        });
    }
    let mut gone = inventory
        .users
        .iter()
        .find(|u| u.name.as_str() == "anna")
        .expect("anna")
        .clone();
    gone.name = zw_model::Id::new(EXPIRED).expect("id");
    gone.token_sha256 = token_hash(EXPIRED);
    gone.token_expires = Some(yesterday);
    gone.tokens.clear();
    inventory.users.push(gone);
    assert_eq!(inventory.validate(), Vec::<String>::new());
    let s = AppState::new(
        std::sync::Arc::new(inventory),
        base.influx.clone(),
        None,
        prometheus::Registry::new(),
    )
    .expect("state");
    {
        let mut alerts = s.views.alerts.write().expect("alert view");
        for c in callers() {
            for ids in [&c.own, &c.other] {
                if ids.site != "nowhere" {
                    alerts.insert(ids.alert.into(), alert(ids.alert, ids.site, ids.device));
                }
            }
        }
    }
    s
}

/// The status of one request; the body is not read (the stream never ends).
async fn status(state: &AppState, method: &Method, path: &str, token: Option<&str>) -> StatusCode {
    let mut req = Request::builder().method(method.clone()).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app(state.clone())
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response")
        .status()
}

fn fill(path: &str, ids: &Ids, access: Access) -> String {
    let id = match access {
        Access::Device => ids.device,
        Access::Site | Access::SiteReport => ids.site,
        Access::Alert => ids.alert,
        Access::Admin => ids.site,
        Access::Public | Access::Listed | Access::Buildings | Access::Report | Access::Parks => {
            return path.to_string();
        }
    };
    path.replace("{id}", id)
}

#[tokio::test]
async fn every_route_answers_each_role_in_and_out_of_scope_and_refuses_anonymous_callers() {
    let s = state_with_alerts();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for row in rows() {
        for c in callers() {
            let path = fill(row.path, &c.own, row.access);
            let got = status(&s, &row.method, &path, Some(c.token)).await;
            checked += 1;
            let want = match row.access {
                Access::Buildings if matches!(c.token, "anna" | "parks" | "bakery" | "butcher") => OK,
                Access::Report if matches!(c.token, "parks" | "bakery" | "butcher") => OK,
                Access::SiteReport if c.token == "parks" => StatusCode::NOT_FOUND,
                Access::Admin if c.token != "root" => StatusCode::FORBIDDEN,
                Access::Parks if !matches!(c.token, "parks" | "root") => StatusCode::FORBIDDEN,
                _ => row.status,
            };
            if got != want {
                wrong.push(format!(
                    "{} {path} as {} (own): {got}, expected {want}",
                    row.method, c.token
                ));
            }
            let out_of_scope = matches!(
                row.access,
                Access::Device | Access::Site | Access::SiteReport | Access::Alert
            );
            if out_of_scope {
                let path = fill(row.path, &c.other, row.access);
                let got = status(&s, &row.method, &path, Some(c.token)).await;
                checked += 1;
                if got != StatusCode::NOT_FOUND {
                    wrong.push(format!(
                        "{} {path} as {} (other): {got}, expected 404",
                        row.method, c.token
                    ));
                }
            }
        }
        let anonymous = match row.access {
            Access::Public => row.status,
            _ => StatusCode::UNAUTHORIZED,
        };
        let path = fill(row.path, &callers()[0].own, row.access);
        let rotated: Vec<String> = callers().iter().map(|c| rotated_out(c.token)).collect();
        let refused = [None, Some("wrong-token"), Some(""), Some(EXPIRED)]
            .into_iter()
            .chain(rotated.iter().map(|t| Some(t.as_str())));
        for token in refused {
            let got = status(&s, &row.method, &path, token).await;
            checked += 1;
            if got != anonymous {
                wrong.push(format!(
                    "{} {path} with token {token:?}: {got}, expected {anonymous}",
                    row.method
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} cells differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
