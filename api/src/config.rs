//! API settings (`[api]` in the config file): listener, CORS, limits, timeouts, time zone and tariff.
//!
//! Every limit has a default that is safe for a town's deployment; [`Config::validate`] reports every invalid
//! setting at once, each prefixed with its path.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use zw_model::Role;

/// API settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Instance name; part of the MQTT client id.
    pub instance: String,
    /// Origins allowed to call the API from a browser (CORS), e.g. `["https://energie.example.de"]`.
    /// Empty: same-origin only (the built-in dashboard needs nothing here).
    pub cors_origins: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Sustained requests per second per user; 0 disables rate limiting.
    pub rate_limit_per_second: f64,
    /// Requests a user may burst above the sustained rate.
    pub rate_limit_burst: u32,
    /// IANA time zone of local days, weeks and months in energy reports.
    pub timezone: String,
    /// Flat energy tariff for costs.
    pub tariff: Tariff,
    /// A device no gateway polls (MQTT, LoRaWAN) counts as `stale` once its last reading is older than this.
    /// Polled devices go stale when their gateway status is older than two of its refresh periods.
    #[serde(with = "humantime_serde")]
    pub device_stale_after: Duration,
    /// Longest time an API read may wait for InfluxDB; over it the request answers 503. Default 10s;
    /// at least 100ms and less than `request_timeout`.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
    /// Longest time a request may take to produce its answer (the live stream is exempt); over it the
    /// request answers 503. Default 30s; at least 1s.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers before the connection is closed
    /// (slow-loris protection). Default 10s; at least 1s.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Live streams (`/api/v1/stream`) one user may have open at once; one more answers 429. Default 4;
    /// 1 to 1000.
    pub max_streams_per_user: u32,
    /// Failed authentications an address may make in a row before it is refused with 429 (IPv6 counted
    /// per /64). Default 10; at least 1.
    pub auth_failure_burst: u32,
    /// Failed authentications per minute an address regains after the burst; 0 disables the limit.
    /// Default 6.
    pub auth_failures_per_minute: f64,
    /// Reverse proxies (their IP addresses) whose `X-Forwarded-For` names the client: for a request from
    /// one of them, the failed-authentication limit counts the last address in that header instead of the
    /// proxy's. Default empty: the peer address counts, and a proxy's clients share one budget.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Longest `from`..`to` of one history request, per role. Defaults: resident 31d, others 366d;
    /// each 1d to 36525d.
    pub max_history_range: RoleRanges,
    /// Longest span one energy or top-consumers report may read (its periods and the previous ones, which
    /// it compares with), per role. Defaults: resident 732d (a year of days or months and the year
    /// before), others 3660d; each 184d (three months and the three before) to 36525d.
    pub max_energy_range: RoleRanges,
    /// Lower-case hex SHA-256 of the token Prometheus must send (`Authorization: Bearer …`) for `/metrics`;
    /// absent: `/metrics` answers only requests from this host (loopback, not forwarded by a proxy).
    /// (Services run without the API serve their metrics on `telemetry.metrics_listen`.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token_sha256: Option<String>,
    /// File the access log is appended to (JSON lines: who read which subject over which range, when, with
    /// which status); absent: no access log, and a warning at start. The shipped demo writes
    /// `state/logs/access.jsonl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_log: Option<std::path::PathBuf>,
    /// File the dynamic prices received on the bus are kept in across restarts when there is no `[store]`
    /// (with one they are kept in the store); absent: in memory only ([`crate::prices`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices_file: Option<std::path::PathBuf>,
    /// Floor area per site id, m², for kWh per m² in the town ranking (`/api/v1/ranking`) and the energy
    /// report; each must be positive. A fallback: a site's own `floor_area_m2` in the inventory wins. Default:
    /// none.
    pub floor_area_m2: std::collections::BTreeMap<String, f64>,
    /// Serve HTTPS natively (`[api.tls]`: certificate, key, HSTS max-age); absent: plain HTTP, for loopback or
    /// behind a reverse proxy that terminates TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::TlsConfig>,
    /// Accept JWTs from an identity provider besides the inventory's tokens; absent: tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<crate::jwt::JwtConfig>,
    /// The dashboard's map tiles and watering depot (`[api.dashboard]`); default: no tiles, no depot.
    pub dashboard: crate::routes::dashboard::DashboardConfig,
    /// The municipal energy report (`[api.report]`): temperatures, reference degree days, usage hours,
    /// comparison values; see [`report::ReportConfig`].
    pub report: report::ReportConfig,
    /// The watering season report (`[api.season]`): each soil sensor's reporting interval, for its uptime.
    pub season: crate::routes::trees::season_soil::SeasonConfig,
    /// The soil rules of analytics' tree settings (`[analytics.trees]`: bands, soil profiles, depths,
    /// `combine`, weather areas), so the season report judges a day as analytics does; not an `[api]` key:
    /// the binary copies them in ([`zw_model::tree::dryness::SoilRules`]).
    #[serde(skip)]
    pub trees: zw_model::tree::dryness::SoilRules,
}

/// A flat energy tariff.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tariff {
    /// Price per kWh, in `currency`.
    pub price_per_kwh: f64,
    /// ISO 4217 currency code.
    pub currency: String,
}

impl Default for Tariff {
    fn default() -> Self {
        Self {
            price_per_kwh: 0.35,
            currency: "EUR".into(),
        }
    }
}

/// A time range per role, e.g. `[api.max_history_range]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRanges {
    /// Residents (one household).
    #[serde(with = "humantime_serde")]
    pub resident: Duration,
    /// Facility managers (city buildings).
    #[serde(with = "humantime_serde")]
    pub facility_manager: Duration,
    /// The parks department.
    #[serde(with = "humantime_serde")]
    pub parks: Duration,
    /// Administrators.
    #[serde(with = "humantime_serde")]
    pub admin: Duration,
    /// Businesses (their own sites); absent: the facility managers' range.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub business: Option<Duration>,
}

const DAY: u64 = 86_400;

impl RoleRanges {
    /// `resident` for residents, `others` for every other role.
    pub const fn days(resident: u64, others: u64) -> Self {
        Self {
            resident: Duration::from_secs(resident * DAY),
            facility_manager: Duration::from_secs(others * DAY),
            parks: Duration::from_secs(others * DAY),
            admin: Duration::from_secs(others * DAY),
            business: None,
        }
    }

    /// The range allowed to `role` (validated: it fits a `TimeDelta`).
    pub fn for_role(&self, role: Role) -> TimeDelta {
        let d = match role {
            Role::Resident => self.resident,
            Role::FacilityManager => self.facility_manager,
            Role::Parks => self.parks,
            Role::Admin => self.admin,
            Role::Business => self.business.unwrap_or(self.facility_manager),
        };
        TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
    }

    /// Reports each role's range outside `min_days..=36525` days.
    fn validate(&self, path: &str, min_days: u64, errors: &mut Vec<String>) {
        let roles = [
            ("resident", self.resident),
            ("facility_manager", self.facility_manager),
            ("parks", self.parks),
            ("admin", self.admin),
        ];
        let business = self.business.map(|d| ("business", d));
        for (role, d) in roles.into_iter().chain(business) {
            if d < Duration::from_secs(min_days * DAY) || d > Duration::from_secs(36_525 * DAY) {
                // Whole days as days: humantime would call 31 days "1month 13h 26m 24s".
                let shown = if d.as_secs() % DAY == 0 && d.subsec_nanos() == 0 {
                    format!("{}d", d.as_secs() / DAY)
                } else {
                    humantime_serde::re::humantime::format_duration(d).to_string()
                };
                errors.push(format!(
                    "api.{path}.{role}: {shown} must be between {min_days}d and 36525d"
                ));
            }
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            instance: "api1".into(),
            cors_origins: Vec::new(),
            max_body_bytes: 64 * 1024,
            rate_limit_per_second: 20.0,
            rate_limit_burst: 100,
            timezone: "Europe/Berlin".into(),
            tariff: Tariff::default(),
            device_stale_after: Duration::from_secs(3600),
            query_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_streams_per_user: 4,
            auth_failure_burst: 10,
            auth_failures_per_minute: 6.0,
            trusted_proxies: Vec::new(),
            max_history_range: RoleRanges::days(31, 366),
            max_energy_range: RoleRanges::days(732, 3660),
            metrics_token_sha256: None,
            access_log: None,
            prices_file: None,
            floor_area_m2: Default::default(),
            tls: None,
            jwt: None,
            dashboard: Default::default(),
            report: Default::default(),
            season: Default::default(),
            trees: Default::default(),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `api.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if zw_model::Id::new(self.instance.clone()).is_err() {
            errors.push(format!(
                "api.instance: {:?} must be a valid id (a-z, 0-9, - and _)",
                self.instance
            ));
        }
        for (i, o) in self.cors_origins.iter().enumerate() {
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o.ends_with('/')
                && axum::http::HeaderValue::from_str(o).is_ok();
            if !ok {
                errors.push(format!(
                    "api.cors_origins[{i}]: {o:?} must be an origin like https://host[:port]"
                ));
            }
        }
        if !self.rate_limit_per_second.is_finite() || self.rate_limit_per_second < 0.0 {
            errors.push("api.rate_limit_per_second: must be a number >= 0 (0 disables)".into());
        }
        if self.rate_limit_burst == 0 {
            errors.push("api.rate_limit_burst: must be at least 1".into());
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(format!(
                "api.timezone: {:?} is not an IANA time zone (e.g. Europe/Berlin)",
                self.timezone
            ));
        }
        if !self.tariff.price_per_kwh.is_finite() || self.tariff.price_per_kwh < 0.0 {
            errors.push("api.tariff.price_per_kwh: must be a number >= 0".into());
        }
        if self.tariff.currency.len() != 3 || !self.tariff.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(format!(
                "api.tariff.currency: {:?} must be an ISO 4217 code like EUR",
                self.tariff.currency
            ));
        }
        if self.device_stale_after < Duration::from_secs(1) {
            errors.push("api.device_stale_after: must be at least 1s".into());
        }
        if let Some(jwt) = &self.jwt {
            errors.extend(jwt.validate());
        }
        for (site, a) in &self.floor_area_m2 {
            if !(a.is_finite() && *a > 0.0) {
                errors.push(format!("api.floor_area_m2.{site}: {a} is not a positive area"));
            }
        }
        if let Some(tls) = &self.tls {
            errors.extend(tls.validate());
        }
        if let Some(h) = &self.metrics_token_sha256
            && (h.len() != 64
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            errors.push(
                "api.metrics_token_sha256: must be 64 lower-case hex digits (zaehlwerk hash-token)".into(),
            );
        }
        if self.access_log.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            errors.push("api.access_log: must be a file path".into());
        }
        if self.max_body_bytes < 1024 {
            errors.push("api.max_body_bytes: must be at least 1024".into());
        }
        self.validate_limits(&mut errors);
        errors.extend(self.dashboard.validate());
        errors.extend(self.report.validate());
        errors.extend(self.season.validate());
        errors
    }
}

impl Config {
    /// Timeouts, stream and authentication limits, role ranges.
    fn validate_limits(&self, errors: &mut Vec<String>) {
        if self.query_timeout < Duration::from_millis(100) {
            errors.push("api.query_timeout: must be at least 100ms".into());
        }
        if self.request_timeout < Duration::from_secs(1) {
            errors.push("api.request_timeout: must be at least 1s".into());
        } else if self.query_timeout >= self.request_timeout {
            errors.push(format!(
                "api.query_timeout: {} must be less than api.request_timeout ({})",
                humantime_serde::re::humantime::format_duration(self.query_timeout),
                humantime_serde::re::humantime::format_duration(self.request_timeout)
            ));
        }
        if self.header_read_timeout < Duration::from_secs(1) {
            errors.push("api.header_read_timeout: must be at least 1s".into());
        }
        if !(1..=1000).contains(&self.max_streams_per_user) {
            errors.push("api.max_streams_per_user: must be 1 to 1000".into());
        }
        if self.auth_failure_burst == 0 {
            errors.push("api.auth_failure_burst: must be at least 1".into());
        }
        if !self.auth_failures_per_minute.is_finite() || self.auth_failures_per_minute < 0.0 {
            errors.push("api.auth_failures_per_minute: must be a number >= 0 (0 disables)".into());
        }
        self.max_history_range.validate("max_history_range", 1, errors);
        self.max_energy_range.validate("max_energy_range", 184, errors);
    }

    /// The configured time zone (validated; Europe/Berlin if it does not parse).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Berlin)
    }
}

pub mod report;

#[cfg(test)]
mod tests;
