//! Throwaway certificate authorities for the TLS tests, made at test time with rcgen.
//!
//! [`throwaway_pki`] writes a fresh CA and a server certificate for `127.0.0.1` and `localhost` as PEM files
//! into a directory; [`TestCa::client_cert`] issues client certificates from the same CA (for mutual TLS), and
//! a second [`TestCa::new`] is "another CA" that a client must refuse. Nothing is kept: every test run has its
//! own keys, so no private key is ever committed. Test-only; a deployment brings its own CA.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// The names every server certificate made here is valid for.
pub const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// A CA that lives for one test: its certificate is on disk, its key only in memory.
#[derive(Debug)]
pub struct TestCa {
    name: String,
    dir: PathBuf,
    cert: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A CA with one server certificate, as [`throwaway_pki`] makes it.
#[derive(Debug)]
pub struct TestPki {
    /// The CA (its certificate is what clients trust: [`TestCa::cert`]).
    pub ca: TestCa,
    /// The server certificate for [`SERVER_NAMES`], signed by `ca`.
    pub server: CertFiles,
}

/// Makes a CA named `zw-test` and a server certificate for [`SERVER_NAMES`] in `dir` (created if missing):
/// `zw-test-ca.pem`, `zw-test-server.pem` and `zw-test-server.key`.
pub fn throwaway_pki(dir: &Path) -> anyhow::Result<TestPki> {
    let ca = TestCa::new(dir, "zw-test")?;
    let server = ca.server_cert("server")?;
    Ok(TestPki { ca, server })
}

impl TestCa {
    /// Makes a CA whose certificate is written to `dir/<name>-ca.pem`; certificates it issues go to the same
    /// directory, prefixed with `name`.
    pub fn new(dir: &Path, name: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let cert = dir.join(format!("{name}-ca.pem"));
        write(&cert, &issuer.pem())?;
        Ok(Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            cert,
            issuer,
        })
    }

    /// The CA certificate (PEM): what a client trusts, or what a server verifies client certificates with.
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    /// Issues a server certificate for [`SERVER_NAMES`]: `<ca name>-<file_stem>.pem` and `.key`.
    pub fn server_cert(&self, file_stem: &str) -> anyhow::Result<CertFiles> {
        let names: Vec<String> = SERVER_NAMES.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, file_stem)
    }

    /// Issues a client certificate with common name `common_name` (mosquitto's `use_identity_as_username`
    /// takes it as the MQTT username): `<ca name>-<common_name>.pem` and `.key`.
    pub fn client_cert(&self, common_name: &str) -> anyhow::Result<CertFiles> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, common_name)
    }

    fn issue(&self, mut params: CertificateParams, file_stem: &str) -> anyhow::Result<CertFiles> {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let files = CertFiles {
            cert: self.dir.join(format!("{}-{file_stem}.pem", self.name)),
            key: self.dir.join(format!("{}-{file_stem}.key", self.name)),
        };
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_ca_server_and_client_pem_files() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pki = throwaway_pki(dir.path())?;
        let client = pki.ca.client_cert("gateway")?;
        for (path, marker) in [
            (pki.ca.cert(), "BEGIN CERTIFICATE"),
            (&pki.server.cert, "BEGIN CERTIFICATE"),
            (&pki.server.key, "BEGIN PRIVATE KEY"),
            (&client.cert, "BEGIN CERTIFICATE"),
            (&client.key, "BEGIN PRIVATE KEY"),
        ] {
            let text = std::fs::read_to_string(path)?;
            assert!(text.contains(marker), "{} has no {marker}", path.display());
        }
        let other = TestCa::new(dir.path(), "other")?;
        assert_ne!(std::fs::read(other.cert())?, std::fs::read(pki.ca.cert())?);
        Ok(())
    }
}
