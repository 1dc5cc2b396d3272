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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            instance: "api1".into(),
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
        errors
    }
}
