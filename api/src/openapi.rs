//! The OpenAPI 3 document, generated from the handlers' annotations.
//!
//! [`Problems`] then makes it match what the router does for every route: error bodies are
//! `application/problem+json`; every route with a token may answer 429 (rate limit, failed authentications,
//! streams) with `Retry-After`; every route but the live stream may answer 503 (`api.request_timeout`);
//! history's `quantity` lists the canonical quantities; site and device ids declare their pattern; dates and
//! instants declare the years the database can store.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Header, Ref, RefOr, Type};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{
    accuracy, alerts, cost, devices, energy, export, forecast, health, history, household, normal, peak,
    ranking, report, sites, stream, top, trees,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Zählwerk API", description = "Live and historical energy and soil data, scoped per user."),
    paths(health::healthz, health::readyz, health::metrics, devices::list, devices::live, history::history,
        sites::list, sites::live, stream::stream, energy::device, energy::site, top::top, ranking::ranking,
        cost::site, cost::device, peak::site, peak::device, forecast::site, forecast::device, report::town, report::site,
        normal::site, normal::all, accuracy::site, household::site,
        alerts::list, alerts::one, alerts::ack, trees::geojson, trees::watering, trees::waterings,
        trees::record_watering, trees::season::season, trees::rain::rain, export::site),
    components(schemas(devices::DeviceInfo, devices::Live, devices::LiveValue, health::Health, history::History,
        history::Point, history::Agg, sites::SiteInfo, sites::SiteLive, energy::EnergyReport, energy::PeriodEnergy,
        cost::CostReport, cost::PeriodCost, cost::TariffCost, peak::PeakReport, peak::Quarter,
        peak::TopQuarter, peak::DeviceQuarter, peak::RunningQuarter, zw_model::tariff::demand::Money, forecast::ForecastReport, forecast::Horizon,
        forecast::ForecastHour, forecast::BudgetCheck, export::Separator, export::Decimal,
        normal::NormalReport, normal::Today, normal::Backtest, normal::BacktestDay, normal::Normals, normal::SiteNormal,
        accuracy::Accuracy, accuracy::DayError, accuracy::MonthCase, household::HouseholdInfo,
        household::Advance, household::Resolution,
        crate::periods::Period, crate::periods::Compare, top::TopConsumers, top::Consumer, ranking::Ranking, ranking::RankedSite,
        zw_model::report::Report, zw_model::report::BuildingReport, zw_model::report::MediumReport,
        zw_model::report::Candidate, zw_model::report::CandidateKind, zw_model::report::Climate,
        zw_model::report::Cost, zw_model::report::Medium, zw_model::report::BuildingCategory,
        crate::error::Problem, trees::advice::LitresNow, trees::advice::Basis, trees::advice::Outlook,
        crate::device_health::DeviceHealth, crate::device_health::HealthView, crate::device_health::SiteHealth,
        crate::device_health::ErrorView)),
    modifiers(&BearerAuth, &Problems)
)]
struct ApiDoc;

/// The content type of every error body.
const PROBLEM_JSON: &str = "application/problem+json";

struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
            for op in ops.into_iter().flatten() {
                declare_errors(path, op);
                if path == "/api/v1/devices/{id}/history" {
                    declare_quantities(op);
                }
                if path.starts_with("/api/v1/sites/{id}") || path.starts_with("/api/v1/devices/{id}") {
                    declare_id(op);
                }
                declare_storable_dates(op);
                if path == "/api/v1/sites/{id}/export.csv" {
                    export::declare_months(op);
                }
                if path == "/api/v1/trees" {
                    declare_plain_json(op);
                }
            }
        }
    }
}

/// The shape of a site or device id ([`zw_model::Id`]): anything else is a 400, so a client (or a
/// schema-driven fuzzer) learns it from the document.
fn declare_id(op: &mut Operation) {
    let schema = utoipa::openapi::ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ID_PATTERN))
        .max_length(Some(zw_model::id::MAX_ID_LEN))
        .build();
    for p in op.parameters.iter_mut().flatten().filter(|p| p.name == "id") {
        p.schema = Some(RefOr::T(schema.clone().into()));
    }
}

/// Years every instant of which InfluxDB can store (1678 to 2261; [`crate::bounds`] answers 400 outside
/// 1677-09-22 to 2262-04-10).
const STORABLE_YEAR: &str = "(16(7[89]|[89][0-9])|1[7-9][0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])";

/// Date (`until`) and instant (`from`, `to`) parameters declare the years the database can store, so a
/// date outside them is invalid by the document, as it is a 400 by the API. (`from` before `to` is a rule
/// across two parameters that JSON Schema cannot state: the parameter's description says it, and
/// `deploy/fuzz_hooks.py` tells the fuzzer.)
fn declare_storable_dates(op: &mut Operation) {
    for p in op.parameters.iter_mut().flatten() {
        let (format, pattern) = match p.name.as_str() {
            "until" => ("date", format!("^{STORABLE_YEAR}-[0-9]{{2}}-[0-9]{{2}}$")),
            "from" | "to" => ("date-time", format!("^{STORABLE_YEAR}-")),
            _ => continue,
        };
        let schema = utoipa::openapi::ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom(format.into())))
            .pattern(Some(pattern))
            .build();
        p.schema = Some(RefOr::T(schema.into()));
    }
}

/// The tree map is GeoJSON and is sent as `application/json` (which GeoJSON is), so both are declared.
fn declare_plain_json(op: &mut Operation) {
    if let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200")
        && let Some(geo) = ok.content.get("application/geo+json").cloned()
    {
        ok.content.entry("application/json".into()).or_insert(geo);
    }
}

/// [`zw_model::Id`]'s rule: a-z, 0-9, '-' and '_', starting with a letter or digit.
const ID_PATTERN: &str = "^[a-z0-9][a-z0-9_-]*$";

/// The allowed values of `quantity`, from the model's closed set.
fn declare_quantities(op: &mut Operation) {
    let names = zw_model::Quantity::ALL.iter().map(|q| q.name());
    let schema = utoipa::openapi::ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .build();
    for p in op
        .parameters
        .iter_mut()
        .flatten()
        .filter(|p| p.name == "quantity")
    {
        p.schema = Some(RefOr::T(schema.clone().into()));
    }
}

fn declare_errors(path: &str, op: &mut Operation) {
    let responses = &mut op.responses.responses;
    for resp in responses.values_mut() {
        let RefOr::T(resp) = resp else { continue };
        let is_problem =
            |c: &Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
        if resp.content.get("application/json").is_some_and(is_problem)
            && let Some(json) = resp.content.shift_remove("application/json")
        {
            resp.content.insert(PROBLEM_JSON.into(), json);
        }
    }
    let problem = |description: &str| {
        let mut r = Response::new(description);
        r.content.insert(
            PROBLEM_JSON.into(),
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
        r
    };
    if op.security.is_some() {
        let r = problem("Too many requests, or too many failed authentications from this address");
        if let RefOr::T(r) = responses.entry("429".into()).or_insert(RefOr::T(r)) {
            let seconds = utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer);
            r.headers
                .entry("Retry-After".into())
                .or_insert_with(|| Header::new(seconds));
        }
    }
    if path != "/api/v1/stream" {
        let r = problem("A dependency is unavailable, or the request took longer than api.request_timeout");
        responses.entry("503".into()).or_insert(RefOr::T(r));
    }
}

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
    SwaggerUi::new("/api/v1/docs").url("/api/v1/openapi.json", document())
}

/// [`ApiDoc`] with the admin routes' part ([`crate::routes::admin::AdminDoc`]), both with [`Problems`].
fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::routes::admin::AdminDoc::openapi());
    Problems.modify(&mut doc);
    doc
}
