//! Broker connection settings (`[bus]` in the config file): address, credentials (one account, or one per
//! service in `[bus.accounts.<service>]`), TLS (`[bus.tls]`) and the size limits.
//!
//! Secrets are never serialized; they come from the config's environment overrides (`ZW__BUS__PASSWORD`,
//! `ZW__BUS__ACCOUNTS__GATEWAY__PASSWORD`) or from a `password_file` (first line), read at each connect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

/// The framing limit shipped for clients and broker alike (`max_packet_size` in `deploy/conf/mosquitto.conf.in`).
pub const DEFAULT_MAX_PACKET_SIZE: usize = 1024 * 1024;

/// Room a packet needs besides its payload: fixed header (≤ 5 bytes), topic (2 + up to 65,535 bytes) and
/// packet id (2 bytes).
pub const PACKET_OVERHEAD: usize = 5 + 2 + 65_535 + 2;

/// How to reach the MQTT broker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Broker host name or address.
    pub host: String,
    /// Broker TCP port.
    pub port: u16,
    /// Prefix of the MQTT client id; the service name and instance are appended.
    pub client_id_prefix: String,
    /// User name of every connection whose service has no entry in `accounts`. The shipped broker config
    /// (`deploy/conf/mosquitto.conf.in`) refuses clients without one.
    pub username: Option<String>,
    /// Its password (never logged nor serialized); or `password_file`.
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// A file whose first line is the password, instead of `password` (e.g. a systemd or container secret).
    pub password_file: Option<PathBuf>,
    /// Per-service accounts, keyed by service ([`SERVICES`]): a connection of service `gateway`
    /// (`ingest`, …) logs in with `accounts.gateway` if present, else with `username`. `zaehlwerk all` runs
    /// every service in one process, each with the least privilege of its own account (`deploy/conf/mosquitto.acl`).
    pub accounts: BTreeMap<String, Account>,
    /// TLS to the broker; absent: plain TCP (loopback or a trusted network only).
    pub tls: Option<TlsConfig>,
    /// MQTT keep-alive interval.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// The client's framing limit, in bytes: the largest MQTT packet it reads or writes. A larger packet
    /// from the broker breaks the connection and, on a persistent session, is re-delivered after every
    /// reconnect, so it must be at least the broker's own limit (mosquitto `max_packet_size`, 1 MiB in
    /// `deploy/conf`), which then refuses larger messages at the door.
    pub max_packet_size: usize,
    /// The application's limit on one message's payload, in bytes: consumers reject larger messages (counted
    /// in `zw_bus_messages_oversized_total`, dead-lettered by ingest, acknowledged) and publishers split or
    /// refuse anything larger. At most `max_packet_size` minus [`PACKET_OVERHEAD`], so every message a
    /// consumer may reject still fits the framing and can never wedge a connection.
    pub max_message_bytes: usize,
    /// Capacity of the inbound message queue between the event loop and the consumer.
    pub inbound_capacity: usize,
    /// Messages the connection driver holds beyond `inbound_capacity` for a consumer that must not lose any
    /// (`FullPolicy::Block`), so that it keeps reading the socket and answering keep-alives while the
    /// consumer is busy. Keep it at least the broker's in-flight limit for manually acknowledging consumers
    /// (mosquitto `max_inflight_messages`, 20,000 in `deploy/conf`), which then never fill it; when it is full
    /// the driver stops reading until there is room, counted in `zw_bus_inbound_stalls_total`.
    pub inbound_overflow: usize,
    /// Payload bytes the inbound queue and overflow hold at most together (`FullPolicy::Block`): messages
    /// range from one reading (≈ 200 bytes) to batches of hundreds of kilobytes, so the message counts above
    /// do not bound memory. Keep it at least the broker's `max_inflight_bytes` (8 MiB in `deploy/conf`); when
    /// it is reached the driver stops reading until the consumer has read, counted like a full overflow.
    pub inbound_max_bytes: usize,
    /// First reconnect delay; doubles per failed attempt up to `reconnect_max`, with ±25 % jitter.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id_prefix: "zaehlwerk".into(),
            username: None,
            password: None,
            password_file: None,
            accounts: BTreeMap::new(),
            tls: None,
            keep_alive: Duration::from_secs(15),
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            max_message_bytes: 256 * 1024,
            inbound_capacity: 10_000,
            inbound_overflow: 65_536,
            inbound_max_bytes: 32 * 1024 * 1024,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `bus.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.host.is_empty() {
            errors.push("bus.host: must not be empty".into());
        }
        if self.port == 0 {
            errors.push("bus.port: must not be 0".into());
        }
        if self.keep_alive < Duration::from_secs(1) {
            errors.push("bus.keep_alive: must be at least 1s".into());
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_packet_size) {
            errors.push("bus.max_packet_size: must be between 1 KiB and 256 MiB".into());
        }
        if self.max_message_bytes == 0 {
            errors.push("bus.max_message_bytes: must be at least 1".into());
        }
        if self.max_message_bytes.saturating_add(PACKET_OVERHEAD) > self.max_packet_size {
            errors.push(format!(
                "bus.max_message_bytes: must be at most bus.max_packet_size - {PACKET_OVERHEAD} (topic and header), \
                 i.e. {}: a message the application rejects must still fit the client's framing",
                self.max_packet_size.saturating_sub(PACKET_OVERHEAD)
            ));
        }
        if self.inbound_capacity == 0 {
            errors.push("bus.inbound_capacity: must be at least 1".into());
        }
        if self.inbound_overflow == 0 {
            errors.push("bus.inbound_overflow: must be at least 1".into());
        }
        if self.inbound_max_bytes < self.max_packet_size {
            errors.push("bus.inbound_max_bytes: must be at least bus.max_packet_size".into());
        }
        if self.reconnect_min.is_zero() || self.reconnect_min > self.reconnect_max {
            errors.push("bus.reconnect_min: must be > 0 and <= reconnect_max".into());
        }
        check_login(
            "bus",
            self.username.as_deref(),
            self.password.is_some(),
            self.password_file.as_deref(),
            &mut errors,
        );
        for (service, a) in &self.accounts {
            let at = format!("bus.accounts.{service}");
            if !SERVICES.contains(&service.as_str()) {
                errors.push(format!("{at}: unknown service (one of {})", SERVICES.join(", ")));
            }
            if a.username.is_empty() {
                errors.push(format!("{at}.username: must not be empty"));
            }
            check_login(
                &at,
                Some(&a.username),
                a.password.is_some(),
                a.password_file.as_deref(),
                &mut errors,
            );
        }
        if let Some(tls) = &self.tls {
            tls.validate(&mut errors);
        }
        errors
    }

    /// Whether some connection would log in without a user name (the shipped broker refuses it): a warning
    /// for `check-config`, since a development broker may still allow anonymous clients.
    pub fn anonymous_services(&self) -> Vec<&'static str> {
        if self.username.is_some() {
            return Vec::new();
        }
        SERVICES
            .iter()
            .copied()
            .filter(|s| *s != "sim" && !self.accounts.contains_key(*s))
            .collect()
    }

    /// The user name and password a connection of client `client` (`gateway`, `ingest-watch`, …: the
    /// service is the part before the first `-`) logs in with, if any. A password file is read now, so a
    /// rotated secret is used from the next reconnect of a new connection on; one that cannot be read is
    /// logged and the login goes without a password (the broker refuses it, and says so in its log).
    pub(crate) fn login_for(&self, client: &str) -> Option<(String, String)> {
        let service = client.split('-').next().unwrap_or(client);
        let (user, password, file) = match self.accounts.get(service) {
            Some(a) => (Some(&a.username), a.password.as_ref(), a.password_file.as_deref()),
            None => (
                self.username.as_ref(),
                self.password.as_ref(),
                self.password_file.as_deref(),
            ),
        };
        let user = user?.clone();
        let password = match (password, file) {
            (Some(p), _) => p.expose_secret().to_owned(),
            (None, Some(path)) => match read_password(path) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(client, user, file = %path.display(), error = %e, "Bus password file unreadable.");
                    String::new()
                }
            },
            (None, None) => String::new(),
        };
        Some((user, password))
    }
}

/// The services that may have an account of their own in `[bus.accounts]` (`sim` is the device simulator).
pub const SERVICES: [&str; 5] = ["gateway", "ingest", "analytics", "api", "sim"];

/// One service's broker account (`[bus.accounts.<service>]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// User name.
    pub username: String,
    /// Password (never logged nor serialized; `ZW__BUS__ACCOUNTS__<SERVICE>__PASSWORD`), or `password_file`.
    #[serde(skip_serializing, default)]
    pub password: Option<SecretString>,
    /// A file whose first line is the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// TLS to the broker (`[bus.tls]`): the broker's certificate is verified against `ca_file` (system roots are
/// not used), for `server_name` or else `bus.host`; a client certificate is sent if the broker asks for one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) the broker's certificate must chain to.
    pub ca_file: PathBuf,
    /// PEM client certificate (chain) for brokers that require one (`require_certificate true`); needs
    /// `client_key_file`.
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `client_cert_file`.
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
    /// The name the broker's certificate must carry, if not `bus.host` (e.g. connecting by address to a
    /// certificate issued for a DNS name).
    #[serde(default)]
    pub server_name: Option<String>,
}

impl TlsConfig {
    /// Appends every problem with the TLS section to `errors`: files missing or without PEM of the right
    /// kind, a certificate without its key or the other way round, a server name that is not one.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if let Err(e) = crate::tls::read_certs(&self.ca_file) {
            errors.push(format!("bus.tls.ca_file: {e}"));
        }
        match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => {
                if let Err(e) = crate::tls::read_certs(cert) {
                    errors.push(format!("bus.tls.client_cert_file: {e}"));
                }
                if let Err(e) = crate::tls::read_key(key) {
                    errors.push(format!("bus.tls.client_key_file: {e}"));
                }
            }
            (Some(_), None) => errors.push("bus.tls.client_key_file: needed with client_cert_file".into()),
            (None, Some(_)) => errors.push("bus.tls.client_cert_file: needed with client_key_file".into()),
            (None, None) => {}
        }
        if let Some(name) = &self.server_name
            && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            errors.push(format!(
                "bus.tls.server_name: {name:?} is not a DNS name or IP address"
            ));
        }
    }
}

fn check_login(at: &str, user: Option<&str>, password: bool, file: Option<&Path>, errors: &mut Vec<String>) {
    if password && file.is_some() {
        errors.push(format!(
            "{at}.password_file: set either password or password_file, not both"
        ));
    }
    if user.is_none() && (password || file.is_some()) {
        errors.push(format!("{at}.username: needed with a password"));
    }
    if let Some(path) = file
        && let Err(e) = read_password(path)
    {
        errors.push(format!("{at}.password_file: {e}"));
    }
}

/// The first line of `path`, which must not be empty.
fn read_password(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim_end_matches('\r');
    if line.is_empty() {
        return Err(format!("{} has an empty first line", path.display()));
    }
    Ok(line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_limits_agree() {
        let cfg = Config::default();
        assert_eq!(cfg.validate(), Vec::<String>::new());
        assert!(cfg.max_message_bytes + PACKET_OVERHEAD <= cfg.max_packet_size);
    }

    #[test]
    fn a_message_limit_the_framing_cannot_carry_is_refused() {
        let cfg = Config {
            max_packet_size: 256 * 1024,
            max_message_bytes: 256 * 1024,
            inbound_max_bytes: 1024,
            ..Config::default()
        };
        let errors = cfg.validate();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("bus.max_message_bytes: must be at most"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("bus.inbound_max_bytes"), "{errors:?}");
    }

    #[test]
    fn the_shipped_broker_config_sets_the_same_packet_limit() {
        let conf = include_str!("../../deploy/conf/mosquitto.conf.in");
        let limit = conf
            .lines()
            .find_map(|l| l.strip_prefix("max_packet_size "))
            .and_then(|v| v.trim().parse::<usize>().ok());
        assert_eq!(limit, Some(DEFAULT_MAX_PACKET_SIZE));
    }

    #[test]
    fn each_service_logs_in_with_its_account_else_the_default() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("ingest.pw");
        std::fs::write(&file, "s3cret\nignored\n")?;
        let mut cfg = Config {
            username: Some("shared".into()),
            password: Some("pw".into()),
            ..Config::default()
        };
        cfg.accounts.insert(
            "ingest".into(),
            Account {
                username: "zw-ingest".into(),
                password: None,
                password_file: Some(file),
            },
        );
        assert_eq!(cfg.validate(), Vec::<String>::new());
        let login = |c: &str| cfg.login_for(c);
        assert_eq!(login("ingest"), Some(("zw-ingest".into(), "s3cret".into())));
        assert_eq!(login("ingest-watch"), Some(("zw-ingest".into(), "s3cret".into())));
        assert_eq!(login("gateway"), Some(("shared".into(), "pw".into())));
        assert_eq!(Config::default().login_for("api"), None);
        assert_eq!(cfg.anonymous_services(), Vec::<&str>::new());
        assert_eq!(
            Config::default().anonymous_services(),
            vec!["gateway", "ingest", "analytics", "api"]
        );
        Ok(())
    }

    #[test]
    fn every_credential_and_tls_problem_is_listed() {
        let missing = PathBuf::from("/nonexistent/zw-bus-test");
        let mut cfg = Config {
            password: Some("pw".into()),
            password_file: Some(missing.clone()),
            tls: Some(TlsConfig {
                ca_file: missing.clone(),
                client_cert_file: Some(missing.clone()),
                client_key_file: None,
                server_name: Some("not a name".into()),
            }),
            ..Config::default()
        };
        cfg.accounts.insert("billing".into(), Account::default());
        let errors = cfg.validate();
        let prefixes = [
            "bus.password_file: set either",
            "bus.username: needed with a password",
            "bus.password_file: cannot read /nonexistent",
            "bus.accounts.billing: unknown service",
            "bus.accounts.billing.username: must not be empty",
            "bus.tls.ca_file: cannot read /nonexistent",
            "bus.tls.client_key_file: needed with client_cert_file",
            "bus.tls.server_name: \"not a name\"",
        ];
        assert_eq!(errors.len(), prefixes.len(), "{errors:#?}");
        for (e, p) in errors.iter().zip(prefixes) {
            assert!(e.starts_with(p), "{e:?} should start with {p:?}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not pem\n")?;
        let mut errors = Vec::new();
        TlsConfig {
            ca_file: ca,
            client_cert_file: None,
            client_key_file: None,
            server_name: None,
        }
        .validate(&mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("holds no PEM certificate"), "{errors:?}");
        Ok(())
    }
}
