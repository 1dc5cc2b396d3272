//! The API's native TLS (`[api.tls]`): rustls on the API's own listener, and HSTS on every answer.
//!
//! Optional: without `[api.tls]` the API speaks plain HTTP, which is right on loopback or behind a reverse
//! proxy that terminates TLS (the README's "TLS on HTTP links" has an nginx and a Caddy example). With it, each
//! accepted connection does a TLS handshake (TLS 1.2 or 1.3, aws-lc-rs, ALPN `http/1.1`) within
//! `api.header_read_timeout` before hyper reads a request, and every answer carries
//! `Strict-Transport-Security: max-age=<hsts_max_age>` so browsers never fall back to plain HTTP.
//!
//! The certificate and key are read once at start; a renewed certificate takes a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsAcceptor;

/// `[api.tls]`: the server certificate and key, both PEM.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain (PEM): the server's certificate first, then any intermediates.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// `max-age` of the `Strict-Transport-Security` header sent on every answer. Default one year;
    /// at least 1 day (a shorter one protects nothing), at most 2 years.
    #[serde(with = "humantime_serde", default = "default_hsts_max_age")]
    pub hsts_max_age: Duration,
}

fn default_hsts_max_age() -> Duration {
    Duration::from_secs(365 * 86_400)
}

/// Why the TLS listener cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file cannot be read or holds no certificate.
    #[error("api.tls.cert_file: {path}: {message}")]
    Cert {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The key file cannot be read or holds no private key.
    #[error("api.tls.key_file: {path}: {message}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the pair (e.g. the key does not belong to the certificate).
    #[error("api.tls: certificate and key refused: {0}")]
    Refused(String),
}

/// A ready TLS listener setup: the acceptor and the HSTS header value.
#[derive(Clone)]
pub struct Tls {
    /// Wraps accepted TCP streams.
    pub acceptor: TlsAcceptor,
    /// `Strict-Transport-Security` value.
    pub hsts: HeaderValue,
}

impl TlsConfig {
    /// Reports every invalid setting, prefixed with `api.tls.`: unreadable files, no certificate or key in
    /// them, a key that does not match, an `hsts_max_age` outside 1 day to 2 years.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = self.load() {
            errors.push(e.to_string());
        }
        if self.hsts_max_age < Duration::from_secs(86_400)
            || self.hsts_max_age > Duration::from_secs(730 * 86_400)
        {
            errors.push("api.tls.hsts_max_age: must be between 1 day and 2 years".into());
        }
        errors
    }

    /// Reads the certificate and key and builds the acceptor.
    pub fn load(&self) -> Result<Tls, TlsError> {
        let certs = read_certs(&self.cert_file)?;
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|e| TlsError::Key {
            path: self.key_file.display().to_string(),
            message: pem_message(&e, "private key"),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Refused(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Refused(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let hsts = HeaderValue::from_str(&format!("max-age={}", self.hsts_max_age.as_secs()))
            .map_err(|e| TlsError::Refused(e.to_string()))?;
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            hsts,
        })
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Cert {
        path: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(pem_message(&e, "certificate")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_message(&e, "certificate")))?;
    if certs.is_empty() {
        return Err(err("holds no certificate".into()));
    }
    Ok(certs)
}

fn pem_message(e: &rustls::pki_types::pem::Error, what: &str) -> String {
    match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!("holds no {what}"),
        rustls::pki_types::pem::Error::Io(io) => format!("cannot read: {io}"),
        other => format!("not PEM: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> TlsConfig {
        TlsConfig {
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
            hsts_max_age: default_hsts_max_age(),
        }
    }

    #[test]
    fn missing_files_and_a_short_hsts_are_each_reported_with_their_key() {
        let dir = std::env::temp_dir().join(format!("zw-api-tls-{}", std::process::id()));
        let mut cfg = config(&dir);
        cfg.hsts_max_age = Duration::from_secs(60);
        let errors = cfg.validate();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("api.tls.cert_file: "), "{errors:?}");
        assert!(errors[0].contains("cannot read"), "{errors:?}");
        assert!(errors[1].starts_with("api.tls.hsts_max_age: "), "{errors:?}");
    }

    #[test]
    fn a_file_without_pem_blocks_is_reported_as_holding_no_certificate() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("zw-api-tls-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let cfg = config(&dir);
        std::fs::write(&cfg.cert_file, "nothing\n")?;
        std::fs::write(&cfg.key_file, "nothing\n")?;
        let errors = cfg.validate();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            errors,
            vec![format!(
                "api.tls.cert_file: {}: holds no certificate",
                cfg.cert_file.display()
            )]
        );
        Ok(())
    }

    #[test]
    fn the_default_hsts_max_age_is_one_year() -> Result<(), String> {
        let cfg: TlsConfig =
            toml::from_str("cert_file = \"c.pem\"\nkey_file = \"k.pem\"").map_err(|e| e.to_string())?;
        assert_eq!(cfg.hsts_max_age, Duration::from_secs(31_536_000));
        Ok(())
    }
}
