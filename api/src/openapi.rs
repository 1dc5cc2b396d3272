//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{alerts, devices, energy, health, history, sites, stream, top, trees};

#[derive(OpenApi)]
#[openapi(
    info(title = "Zählwerk API", description = "Live and historical energy and soil data, scoped per user."),
    paths(health::healthz, health::readyz, health::metrics, devices::list, devices::live, history::history,
        sites::list, sites::live, stream::stream, energy::device, energy::site, top::top,
        alerts::list, alerts::ack, trees::geojson, trees::watering),
    components(schemas(devices::DeviceInfo, devices::Live, devices::LiveValue, health::Health, history::History,
        history::Point, history::Agg, sites::SiteInfo, sites::SiteLive, energy::EnergyReport, energy::PeriodEnergy,
        crate::periods::Period, top::TopConsumers, top::Consumer, crate::error::Problem,
        crate::device_health::DeviceHealth, crate::device_health::HealthView, crate::device_health::SiteHealth,
        crate::device_health::ErrorView)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Swagger UI on `/api/v1/docs` (assets compiled in, nothing fetched at build or run time) and the document
/// on `/api/v1/openapi.json`.
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", ApiDoc::openapi())
}
