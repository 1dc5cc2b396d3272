//! The mosquitto broker of a test stack: configuration, start and readiness.
//!
//! The broker runs the shipped configuration: loopback only, no anonymous clients, the shipped ACL with the
//! harness's accounts ([`crate::bus_access`]), persistent sessions on disk (tests can stop and restart it and
//! still find the QoS 1 messages queued for offline clients). On demand it adds a TLS listener with a
//! throwaway CA ([`Tls`]). Ready means an MQTT CONNECT with the harness login was answered with an accepting
//! CONNACK, not merely that the port is open.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::bus_access::{Access, Role};
use crate::process::{ChildProcess, StartError};
use crate::template;
use crate::tls::TestPki;

/// Default location of the broker (Debian package `mosquitto`).
pub(crate) const DEFAULT_BIN: &str = "/usr/sbin/mosquitto";
/// Environment variable that overrides [`DEFAULT_BIN`].
pub(crate) const BIN_ENV: &str = "ZW_MOSQUITTO_BIN";
/// Upper bound for the broker to accept its first client.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The TLS listener of a test broker: its port and the throwaway CA and server certificate it serves.
#[derive(Debug)]
pub struct Tls {
    /// The TLS listener's port (127.0.0.1).
    pub port: u16,
    /// The CA (what clients trust) and the broker's certificate for 127.0.0.1 and localhost.
    pub pki: TestPki,
    /// Whether clients must present a certificate from the same CA (mutual TLS).
    pub require_client_cert: bool,
}

/// The broker configuration for `port`, keeping its persistence file in `data_dir`: the shipped
/// `deploy/conf/mosquitto.conf.in` (whose comments explain its limits) with `access`'s password and ACL files,
/// saved every second (`autosave_interval 1`, so a test can wait for its sessions to be on disk, as a
/// long-running broker's are; stops go through SIGTERM, which saves too), plus `tls`'s
/// listener, configured as the template's comment documents.
pub(crate) fn config_text(
    port: u16,
    data_dir: &Path,
    access: (&Path, &Path),
    tls: Option<&Tls>,
    run_as_root: bool,
) -> String {
    let dir = data_dir.display().to_string();
    let (passwd, acl) = (access.0.display().to_string(), access.1.display().to_string());
    let mut text = template::render(
        template::MOSQUITTO,
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("DATA_DIR", &dir),
            ("AUTOSAVE_INTERVAL", "1"),
            ("PASSWORD_FILE", &passwd),
            ("ACL_FILE", &acl),
        ],
    );
    if let Some(t) = tls {
        text.push_str(&format!(
            "listener {} 127.0.0.1\ncertfile {}\nkeyfile {}\ntls_version tlsv1.2\n",
            t.port,
            t.pki.server.cert.display(),
            t.pki.server.key.display()
        ));
        if t.require_client_cert {
            text.push_str(&format!(
                "cafile {}\nrequire_certificate true\n",
                t.pki.ca.cert().display()
            ));
        }
    }
    if run_as_root {
        // As root, mosquitto otherwise switches to the `mosquitto` user, which cannot write our data dir.
        text.push_str("user root\n");
    }
    text
}

/// Writes the configuration into `dir` and starts the broker on `port`, returning once it is ready.
pub(crate) async fn start(
    bin: &Path,
    dir: &Path,
    port: u16,
    access: &Access,
    tls: Option<&Tls>,
) -> Result<ChildProcess, StartError> {
    let conf = dir.join("mosquitto.conf");
    let is_root = rustix::process::getuid().is_root();
    let files = (access.password_file.as_path(), access.acl_file.as_path());
    std::fs::write(&conf, config_text(port, dir, files, tls, is_root))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", conf.display()))?;
    let conf_arg = conf.to_string_lossy().into_owned();
    let mut child = ChildProcess::spawn("mosquitto", bin, &["-c", &conf_arg], &dir.join("mosquitto.log"))?;
    let h = access.role(Role::Harness);
    let login = (h.username.as_str(), h.password.as_str());
    child.await_ready(READY_TIMEOUT, || connack(port, login)).await?;
    crate::bus_access::register(port, access);
    Ok(child)
}

/// True if the broker on `port` accepts an MQTT 3.1.1 CONNECT with `login` (user name, password).
pub(crate) async fn connack(port: u16, login: (&str, &str)) -> bool {
    tokio::time::timeout(Duration::from_secs(2), handshake(port, login))
        .await
        .is_ok_and(|r| r.is_ok())
}

async fn handshake(port: u16, (user, password): (&str, &str)) -> std::io::Result<()> {
    const CLIENT_ID: &[u8] = b"zw-tests-ready";
    // v3.1.1, flags: user name, password, clean session; keep-alive 10 s.
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 10];
    for field in [CLIENT_ID, user.as_bytes(), password.as_bytes()] {
        body.extend_from_slice(&(field.len() as u16).to_be_bytes());
        body.extend_from_slice(field);
    }
    // CONNECT; the remaining length fits one byte for the harness's short logins.
    let len = u8::try_from(body.len())
        .ok()
        .filter(|l| *l < 128)
        .ok_or_else(|| std::io::Error::other("login too long"))?;
    let mut packet = vec![0x10, len];
    packet.extend_from_slice(&body);

    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(&packet).await?;
    let mut ack = [0u8; 4];
    stream.read_exact(&mut ack).await?;
    // CONNACK, remaining length 2, any session-present flag, return code 0 (accepted).
    if ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0 {
        return Err(std::io::Error::other(format!("unexpected CONNACK {ack:02x?}")));
    }
    stream.write_all(&[0xE0, 0]).await?; // DISCONNECT
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sets_listener_access_persistence_and_limits() {
        let files = (Path::new("/tmp/x/passwd"), Path::new("/tmp/x/acl"));
        let text = config_text(18_830, Path::new("/tmp/x"), files, None, false);
        for line in [
            "listener 18830 127.0.0.1",
            "allow_anonymous false",
            "password_file /tmp/x/passwd",
            "acl_file /tmp/x/acl",
            "persistence_location /tmp/x/",
            "max_queued_messages 1000000",
            "autosave_interval 1",
            "log_dest stdout",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("allow_anonymous true"));
        assert!(!text.contains("user root"));
        assert!(!text.lines().any(|l| l.starts_with("certfile")));
        assert!(config_text(1, Path::new("/tmp/x"), files, None, true).contains("\nuser root\n"));
    }
}
