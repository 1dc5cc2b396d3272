//! TLS for outgoing HTTP: which CAs a reqwest client trusts.
//!
//! reqwest runs on rustls (aws-lc-rs, the provider the rest of the workspace uses). Without a CA file a client
//! trusts the system's roots (the platform verifier); with one it trusts **only** the certificates in that
//! file, so a private CA is enough and a certificate from any other CA is refused. Used by this crate's
//! [`crate::Client`] (`influx.ca_file`) and by analytics' webhook (`analytics.alerts.webhook_ca_file`).

use std::path::Path;

/// Why a CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not PEM or holds a certificate that does not parse.
    #[error("{path} is not a PEM certificate bundle: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// The file holds no `BEGIN CERTIFICATE` block.
    #[error("{path} holds no certificate")]
    Empty {
        /// The file.
        path: String,
    },
}

/// Reads the certificates of a PEM bundle; at least one.
pub fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, CaError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| CaError::Read {
        path: shown.clone(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| CaError::Parse {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(CaError::Empty { path: shown });
    }
    Ok(certs)
}

/// A client builder that trusts only the CAs in `ca_file`, or the system's roots when it is `None`.
pub fn client_builder(ca_file: Option<&Path>) -> Result<reqwest::ClientBuilder, CaError> {
    let builder = reqwest::Client::builder();
    Ok(match ca_file {
        Some(path) => builder.tls_certs_only(load_ca(path)?),
        None => builder,
    })
}

/// Whether a transport error is a failed TLS handshake (an untrusted or mismatched certificate, a server that
/// speaks no TLS), and rustls's reason if so.
pub fn tls_failure(e: &reqwest::Error) -> Option<String> {
    // hyper-rustls nests rustls's error in io::Errors, whose `source()` skips the wrapped error itself: walk
    // into an io::Error through `get_ref`.
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r.to_string());
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_an_empty_and_a_garbled_file_are_each_refused_with_their_reason() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path();
        let missing = dir.join("missing.pem");
        assert!(matches!(load_ca(&missing), Err(CaError::Read { .. })));
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        assert!(matches!(load_ca(&empty), Err(CaError::Empty { .. })));
        let garbled = dir.join("garbled.pem");
        std::fs::write(
            &garbled,
            "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        assert!(load_ca(&garbled).is_err());
        assert!(client_builder(Some(&missing)).is_err());
        assert!(client_builder(None).is_ok());
    }
}
