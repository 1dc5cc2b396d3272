//! The dashboard: static HTML, CSS and JavaScript modules (no build step) compiled into the binary, with the
//! chart, map and accessibility-check libraries vendored under `api/static/vendor/` (versions and licences in
//! its README).
//!
//! The page holds no data of its own. It asks for a token (or takes it from the URL fragment `#token=…`, which
//! never reaches the server or its logs), then uses the same API as everyone else, so it can show nothing the
//! token's scope does not allow. Its few settings (map tiles, the parks depot, the tariff's currency, the time
//! zone) come from `GET /dashboard/settings.json`, which needs no token and holds nothing secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;

const PAGE: &str = include_str!("../../static/dashboard.html");

/// Every file under `/static/`: path, content type, content.
const FILES: &[(&str, &str, &[u8])] = &[
    ("dashboard.css", CSS, include_bytes!("../../static/dashboard.css")),
    ("js/app.js", JS, include_bytes!("../../static/js/app.js")),
    ("js/i18n.js", JS, include_bytes!("../../static/js/i18n.js")),
    ("js/util.js", JS, include_bytes!("../../static/js/util.js")),
    ("js/charts.js", JS, include_bytes!("../../static/js/charts.js")),
    (
        "js/facility.js",
        JS,
        include_bytes!("../../static/js/facility.js"),
    ),
    (
        "js/resident.js",
        JS,
        include_bytes!("../../static/js/resident.js"),
    ),
    ("js/parks.js", JS, include_bytes!("../../static/js/parks.js")),
    ("js/route.js", JS, include_bytes!("../../static/js/route.js")),
    ("js/soil.js", JS, include_bytes!("../../static/js/soil.js")),
    ("js/season.js", JS, include_bytes!("../../static/js/season.js")),
    ("js/admin.js", JS, include_bytes!("../../static/js/admin.js")),
    ("js/peak.js", JS, include_bytes!("../../static/js/peak.js")),
    (
        "js/overview.js",
        JS,
        include_bytes!("../../static/js/overview.js"),
    ),
    (
        "js/accuracy.js",
        JS,
        include_bytes!("../../static/js/accuracy.js"),
    ),
    ("js/media.js", JS, include_bytes!("../../static/js/media.js")),
    (
        "js/household.js",
        JS,
        include_bytes!("../../static/js/household.js"),
    ),
    (
        "js/business.js",
        JS,
        include_bytes!("../../static/js/business.js"),
    ),
    (
        "vendor/uplot/uPlot.iife.min.js",
        JS,
        include_bytes!("../../static/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "vendor/uplot/uPlot.min.css",
        CSS,
        include_bytes!("../../static/vendor/uplot/uPlot.min.css"),
    ),
    (
        "vendor/leaflet/leaflet.js",
        JS,
        include_bytes!("../../static/vendor/leaflet/leaflet.js"),
    ),
    (
        "vendor/leaflet/leaflet.css",
        CSS,
        include_bytes!("../../static/vendor/leaflet/leaflet.css"),
    ),
    (
        "vendor/axe-core/axe.min.js",
        JS,
        include_bytes!("../../static/vendor/axe-core/axe.min.js"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Dashboard settings (`[api.dashboard]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// Map tile URL template with `{z}`, `{x}` and `{y}`, e.g. `https://tiles.example.de/{z}/{x}/{y}.png`.
    /// Absent (the default): no tiles; the map shows the trees as circles on a plain background. The tile
    /// server's origin is added to the page's content security policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tile_url: Option<String>,
    /// Attribution shown under the tiles (e.g. `© OpenStreetMap contributors`); default empty.
    pub tile_attribution: String,
    /// Where the parks department's watering route starts; absent: at the most urgent tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depot: Option<Depot>,
    /// The tree forecast's published error, shown next to the 1–3-day outlook of the watering list; default
    /// [`FORECAST_ERROR`], the days-until-critical MAE at a 3-day horizon of the held-out evaluation in
    /// BENCHMARKS.md (0.298 d on seeds 201–230, 0.86 d on the external dataset). Update it with the benchmark; at most 120 characters.
    pub forecast_error: String,
}

/// The default of [`DashboardConfig::forecast_error`].
pub const FORECAST_ERROR: &str = "±0,3 d simuliert (30 Testläufe), ±0,9 d externe Daten (BENCHMARKS.md)";

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            tile_url: None,
            tile_attribution: String::new(),
            depot: None,
            forecast_error: FORECAST_ERROR.to_string(),
        }
    }
}

/// A place in WGS84 coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Depot {
    /// Latitude, −90 to 90.
    pub lat: f64,
    /// Longitude, −180 to 180.
    pub lon: f64,
}

impl DashboardConfig {
    /// Reports every invalid setting, prefixed with `api.dashboard.`: a tile URL that is not http(s) or lacks
    /// one of `{z}`, `{x}`, `{y}`, or contains a quote, space or semicolon; a depot outside the coordinate
    /// ranges; a forecast error longer than 120 characters.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(url) = &self.tile_url {
            let scheme = url.starts_with("https://") || url.starts_with("http://");
            let places = ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p));
            let clean = !url.contains(['\'', '"', ' ', ';', ',']);
            if !(scheme && places && clean) {
                errors.push(format!(
                    "api.dashboard.tile_url: {url:?} must be an http(s) URL template with {{z}}, {{x}} and {{y}} and no quotes, spaces, commas or semicolons"
                ));
            }
        }
        if let Some(d) = self.depot
            && (!(-90.0..=90.0).contains(&d.lat) || !(-180.0..=180.0).contains(&d.lon))
        {
            errors.push(format!(
                "api.dashboard.depot: ({}, {}) must be a latitude from -90 to 90 and a longitude from -180 to 180",
                d.lat, d.lon
            ));
        }
        if self.forecast_error.chars().count() > 120 {
            errors.push("api.dashboard.forecast_error: at most 120 characters".to_string());
        }
        errors
    }

    /// `scheme://host[:port]` of the tile URL, for the content security policy.
    fn tile_origin(&self) -> Option<&str> {
        let url = self.tile_url.as_deref()?;
        let rest = url.split_once("://")?.1;
        let end = rest.find('/').map_or(url.len(), |i| url.len() - rest.len() + i);
        Some(&url[..end])
    }
}

/// `GET /`: the dashboard page.
pub async fn page(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let tiles = state.config.dashboard.tile_origin().unwrap_or("");
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: {tiles}; connect-src 'self'"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        PAGE,
    )
}

/// `GET /static/{path}`: a file of the dashboard; 404 for any other path.
pub async fn file(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((p, kind, body)) => {
            // Vendored libraries change only with a new binary; the app's own files are revalidated.
            let cache = if p.starts_with("vendor/") {
                "public, max-age=86400"
            } else {
                "no-cache"
            };
            (
                [(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, cache)],
                *body,
            )
                .into_response()
        }
        None => crate::error::problem(StatusCode::NOT_FOUND, format!("no file {path}"), false),
    }
}

/// What the page needs to know about the deployment.
#[derive(Serialize)]
pub struct Settings<'a> {
    /// Map tiles; null: plain background.
    tile_url: Option<&'a str>,
    /// Tile attribution.
    tile_attribution: &'a str,
    /// Start of the watering route; null: the most urgent tree.
    depot: Option<Depot>,
    /// The tariff's currency (ISO 4217).
    currency: &'a str,
    /// The tariff's price per kWh.
    price_per_kwh: f64,
    /// Time zone of local days in energy reports.
    timezone: &'a str,
    /// The tree forecast's published error.
    forecast_error: &'a str,
}

/// `GET /dashboard/settings.json`: tiles, depot, currency and time zone; no token needed.
pub async fn settings(State(state): State<Arc<AppState>>) -> Response {
    let c = &state.config;
    Json(Settings {
        tile_url: c.dashboard.tile_url.as_deref(),
        tile_attribution: &c.dashboard.tile_attribution,
        depot: c.dashboard.depot,
        currency: &c.tariff.currency,
        price_per_kwh: c.tariff.price_per_kwh,
        timezone: &c.timezone,
        forecast_error: &c.dashboard.forecast_error,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated() {
        let ok = DashboardConfig {
            tile_url: Some("https://tiles.example.de/{z}/{x}/{y}.png".into()),
            tile_attribution: "© OSM".into(),
            depot: Some(Depot { lat: 51.2, lon: 6.6 }),
            ..DashboardConfig::default()
        };
        assert!(ok.validate().is_empty());
        assert_eq!(ok.tile_origin(), Some("https://tiles.example.de"));
        let bad = DashboardConfig {
            tile_url: Some("https://tiles.example.de/{z}/{x}.png; script-src *".into()),
            tile_attribution: String::new(),
            depot: Some(Depot { lat: 91.0, lon: 6.6 }),
            forecast_error: "±".repeat(121),
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("api.dashboard.tile_url"));
        assert!(errors[1].starts_with("api.dashboard.depot"));
        assert!(errors[2].starts_with("api.dashboard.forecast_error"));
        assert_eq!(DashboardConfig::default().tile_origin(), None);
    }

    #[test]
    fn every_file_the_page_loads_is_served() {
        for (path, _, body) in FILES {
            assert!(!body.is_empty(), "{path}");
        }
        for needed in [
            "dashboard.css",
            "js/app.js",
            "vendor/uplot/uPlot.iife.min.js",
            "vendor/leaflet/leaflet.js",
        ] {
            assert!(PAGE.contains(&format!("/static/{needed}")), "{needed}");
        }
        // Every module a served module imports is served too (a missing one stops the whole page).
        for (path, _, body) in FILES.iter().filter(|(p, _, _)| p.starts_with("js/")) {
            let text = std::str::from_utf8(body).expect("utf-8");
            for import in text.lines().filter_map(|l| l.strip_prefix("import ")) {
                let Some(module) = import.split('"').nth(1).and_then(|m| m.strip_prefix("./")) else {
                    continue;
                };
                let served = format!("js/{module}");
                assert!(
                    FILES.iter().any(|(p, _, _)| *p == served),
                    "{path} imports {served}, which is not served"
                );
            }
        }
    }
}
