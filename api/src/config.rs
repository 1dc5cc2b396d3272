//! API settings (`[api]` in the config file).

use std::net::SocketAddr;

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
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `api.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if zw_model::Id::new(self.instance.clone()).is_err() {
            errors.push(format!("api.instance: {:?} must be a valid id (a-z, 0-9, - and _)", self.instance));
        }
        for (i, o) in self.cors_origins.iter().enumerate() {
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o.ends_with('/')
                && axum::http::HeaderValue::from_str(o).is_ok();
            if !ok {
                errors.push(format!("api.cors_origins[{i}]: {o:?} must be an origin like https://host[:port]"));
            }
        }
        if !self.rate_limit_per_second.is_finite() || self.rate_limit_per_second < 0.0 {
            errors.push("api.rate_limit_per_second: must be a number >= 0 (0 disables)".into());
        }
        if self.rate_limit_burst == 0 {
            errors.push("api.rate_limit_burst: must be at least 1".into());
        }
        if self.max_body_bytes < 1024 {
            errors.push("api.max_body_bytes: must be at least 1024".into());
        }
        errors
    }
}
