//! The mosquitto broker of a test stack: configuration, start and readiness.
//!
//! The broker listens on loopback only, allows anonymous clients and keeps persistent sessions on disk,
//! so tests can stop and restart it and still find the QoS 1 messages queued for offline clients.
//! Ready means an MQTT CONNECT was answered with an accepting CONNACK, not merely that the port is open.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::process::{ChildProcess, StartError};
use crate::template;

/// Default location of the broker (Debian package `mosquitto`).
pub(crate) const DEFAULT_BIN: &str = "/usr/sbin/mosquitto";
/// Environment variable that overrides [`DEFAULT_BIN`].
pub(crate) const BIN_ENV: &str = "ZW_MOSQUITTO_BIN";
/// Upper bound for the broker to accept its first client.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The broker configuration for `port`, keeping its persistence file in `data_dir`: the shipped
/// `deploy/conf/mosquitto.conf.in` (whose comments explain its limits), saved only on exit
/// (`autosave_interval 0`; stops go through SIGTERM, which saves it).
pub(crate) fn config_text(port: u16, data_dir: &Path, run_as_root: bool) -> String {
    let dir = data_dir.display().to_string();
    let mut text = template::render(
        template::MOSQUITTO,
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", &port.to_string()),
            ("DATA_DIR", &dir),
            ("AUTOSAVE_INTERVAL", "0"),
        ],
    );
    if run_as_root {
        // As root, mosquitto otherwise switches to the `mosquitto` user, which cannot write our data dir.
        text.push_str("user root\n");
    }
    text
}

/// Writes the configuration into `dir` and starts the broker on `port`, returning once it is ready.
pub(crate) async fn start(bin: &Path, dir: &Path, port: u16) -> Result<ChildProcess, StartError> {
    let conf = dir.join("mosquitto.conf");
    let is_root = rustix::process::getuid().is_root();
    std::fs::write(&conf, config_text(port, dir, is_root))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", conf.display()))?;
    let conf_arg = conf.to_string_lossy().into_owned();
    let mut child = ChildProcess::spawn("mosquitto", bin, &["-c", &conf_arg], &dir.join("mosquitto.log"))?;
    child.await_ready(READY_TIMEOUT, || connack(port)).await?;
    Ok(child)
}

/// True if the broker on `port` accepts an MQTT 3.1.1 CONNECT.
pub(crate) async fn connack(port: u16) -> bool {
    tokio::time::timeout(Duration::from_secs(2), handshake(port))
        .await
        .is_ok_and(|r| r.is_ok())
}

async fn handshake(port: u16) -> std::io::Result<()> {
    const CLIENT_ID: &[u8] = b"zw-tests-ready";
    let mut packet = vec![0x10, 0]; // CONNECT, remaining length patched below
    packet.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10]); // v3.1.1, clean, 10 s
    packet.extend_from_slice(&[0, CLIENT_ID.len() as u8]);
    packet.extend_from_slice(CLIENT_ID);
    packet[1] = (packet.len() - 2) as u8;

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
    fn config_sets_listener_persistence_and_limits() {
        let text = config_text(18_830, Path::new("/tmp/x"), false);
        for line in [
            "listener 18830 127.0.0.1",
            "persistence_location /tmp/x/",
            "max_queued_messages 1000000",
            "log_dest stdout",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("user root"));
        assert!(config_text(1, Path::new("/tmp/x"), true).contains("\nuser root\n"));
    }
}
