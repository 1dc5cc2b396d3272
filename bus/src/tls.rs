//! TLS to the broker with rustls (`[bus.tls]`): the broker's certificate is verified against the configured
//! CA only (never the system roots) and for the configured name; a client certificate goes with it on request.
//!
//! [`client_config`] reads the PEM files at every connect of a new connection, so a renewed certificate is
//! used without a restart; `check-config` reads them too ([`crate::config::TlsConfig::validate`]). If they
//! cannot be read at connect time the connection trusts nothing: every handshake fails, is logged by the
//! driver and retried with back-off, and never falls back to plain TCP.

use std::path::Path;
use std::sync::Arc;

use rumqttc::{TlsConfiguration, Transport};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::TlsConfig;

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing of the expected kind.
    #[error("{0}")]
    File(String),
    /// rustls refused the certificates or key.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The CA certificates could not be made into a verifier.
    #[error("{0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
    /// `server_name` is not a DNS name or IP address.
    #[error("server name {0:?} is not a DNS name or IP address")]
    ServerName(String),
}

/// The certificates in PEM file `path` (at least one).
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{shown} holds no PEM certificate"));
    }
    Ok(certs)
}

/// The private key in PEM file `path`.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: no PEM private key ({e})", path.display()))
}

/// The rustls client configuration for `cfg` (aws-lc-rs provider, TLS 1.2 and 1.3).
pub fn client_config(cfg: &TlsConfig) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in read_certs(&cfg.ca_file).map_err(TlsError::File)? {
        roots.add(cert)?;
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let verifier: Arc<dyn ServerCertVerifier> = match &cfg.server_name {
        None => webpki,
        Some(name) => Arc::new(FixedName {
            name: ServerName::try_from(name.clone()).map_err(|_| TlsError::ServerName(name.clone()))?,
            inner: webpki,
        }),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    Ok(match (&cfg.client_cert_file, &cfg.client_key_file) {
        (Some(cert), Some(key)) => builder.with_client_auth_cert(
            read_certs(cert).map_err(TlsError::File)?,
            read_key(key).map_err(TlsError::File)?,
        )?,
        _ => builder.with_no_client_auth(),
    })
}

/// The transport of a new connection: TLS per [`client_config`], or, if that fails (logged), TLS that trusts
/// no certificate.
pub(crate) fn transport(cfg: &TlsConfig, client: &str) -> Transport {
    let config = client_config(cfg).unwrap_or_else(|e| {
        tracing::error!(client, error = %e, "Bus TLS settings unusable: the connection will trust no broker.");
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth()
    });
    Transport::Tls(TlsConfiguration::Rustls(Arc::new(config)))
}

/// Verifies the broker's certificate for a fixed name instead of the host connected to
/// (`bus.tls.server_name`); signatures are checked by the wrapped WebPKI verifier.
#[derive(Debug)]
struct FixedName {
    name: ServerName<'static>,
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
