//! Whole-system configs for the end-to-end tests, built from the types of `zw-config` and the model's
//! inventory fixtures, then written as the TOML file the real binary reads ([`write`]).
//!
//! A test starts from [`connected`] (the stack's broker and database) or [`serving`] (plus an API and a
//! quick ingest flush), sets the sections it is about, and puts in an inventory built with
//! `Inventory::builder` or `zw_model::inventory::fixtures`.
//!
//! Secrets (`influx.password`, `influx.token`) are never serialized, so a test that needs one hands them to
//! the process as `ZW__INFLUX__…` overrides (see `ingest_support::Ingest::start`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use zw_config::Config;
use zw_model::{Role, User};
use zw_sim::{PlugConfig, SoilConfig};
use zw_tests::{Role as BusRole, Stack};

/// The `[bus]` and `[influx]` sections pointing at `stack`'s broker and database, every service (and the
/// simulator) logging in with its own account of the shipped ACL; everything else default.
pub fn connected(stack: &Stack) -> Config {
    let mut cfg = Config::default();
    cfg.bus.port = stack.mqtt_port();
    cfg.bus.accounts = bus_accounts(stack);
    cfg.influx.url = stack.influx_url();
    cfg.influx.database = stack.influx_db().into();
    cfg
}

/// [`connected`] plus an API on `api` without a rate limit (the per-user limit is covered by the router
/// tests) and ingest flushing every 200 ms: the start of a config for tests that read back through the API.
pub fn serving(stack: &Stack, api: u16) -> Config {
    let mut cfg = connected(stack);
    cfg.api.listen = ([127, 0, 0, 1], api).into();
    cfg.api.rate_limit_per_second = 0.0;
    cfg.ingest.batch_interval = Duration::from_millis(200);
    cfg
}

/// `[bus.accounts]` for every service role of `stack`'s broker, with password files (secrets are never
/// serialized into the config).
pub fn bus_accounts(stack: &Stack) -> BTreeMap<String, zw_bus::Account> {
    BusRole::ALL
        .into_iter()
        .filter_map(|role| {
            let service = role.service()?;
            let login = stack.mqtt_credentials(role);
            let account = zw_bus::Account {
                username: login.username,
                password: None,
                password_file: Some(login.password_file),
            };
            Some((service.to_owned(), account))
        })
        .collect()
}

/// A user who authenticates with `token`, hashed by the binary itself (`zaehlwerk hash-token`, so the
/// suite covers that command too).
pub fn user(name: &str, role: Role, scope: &[&str], token: &str) -> User {
    User {
        token_sha256: super::hash(token),
        ..User::with_token(name, role, scope, token)
    }
}

/// An `admin` user with token `tok-admin`.
pub fn admin() -> User {
    user("admin", Role::Admin, &["*"], "tok-admin")
}

/// A simulated Tasmota plug publishing on `tele/<topic>/…` every `interval`.
pub fn plug(topic: &str, interval: Duration) -> PlugConfig {
    PlugConfig {
        topic: topic.into(),
        interval,
    }
}

/// A simulated LSE01 soil sensor of application `soil-app` on tenant `ttn`, uplinking every `interval` on
/// `v3/soil-app@ttn/devices/<device_id>/up`.
pub fn soil_sensor(device_id: &str, interval: Duration) -> SoilConfig {
    SoilConfig {
        application: "soil-app".into(),
        tenant: "ttn".into(),
        device_id: device_id.into(),
        interval,
    }
}

/// Checks `cfg` as the binary will and writes it to `zaehlwerk.toml` in the stack's state directory.
pub fn write(stack: &Stack, cfg: &Config) -> anyhow::Result<PathBuf> {
    let errors = cfg.validate();
    ensure!(errors.is_empty(), "the test's config is invalid: {errors:#?}");
    let path = stack.state_dir().join("zaehlwerk.toml");
    std::fs::write(&path, cfg.to_toml().context("rendering the config")?)?;
    Ok(path)
}
