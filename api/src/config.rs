//! API settings (`[api]` in the config file).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// Accept JWTs from an identity provider besides the inventory's tokens; absent: tokens only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<crate::jwt::JwtConfig>,
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
            jwt: None,
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
        if self.max_body_bytes < 1024 {
            errors.push("api.max_body_bytes: must be at least 1024".into());
        }
        errors
    }
}

impl Config {
    /// The configured time zone (validated; Europe/Berlin if it does not parse).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Berlin)
    }
}
