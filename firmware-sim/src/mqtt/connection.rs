//! A broker connection of a simulated MQTT device, and its orderly close.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use zw_bus::{Bus, BusClient, ConnectOptions, QoS};

/// How long the farewell messages and the DISCONNECT may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A broker connection whose driver stops on its own token, so the publisher can say goodbye after the
/// simulator's shutdown token has fired.
pub(crate) struct Connection {
    /// The client the device publishes with.
    pub(crate) client: BusClient,
    driver: JoinHandle<()>,
    stop: CancellationToken,
}

impl Connection {
    /// Connects with `opts`; the driver runs until [`Connection::close`].
    pub(crate) fn open(bus: &Bus, opts: ConnectOptions) -> Self {
        let stop = CancellationToken::new();
        // The simulator only publishes; the (always empty) inbound receiver can be dropped.
        let (client, _inbound, driver) = bus.connect(opts, stop.clone());
        Self { client, driver, stop }
    }

    /// Publishes `farewell` (if connected), sends DISCONNECT and waits for the driver, dropping it on timeout.
    pub(crate) async fn close(mut self, farewell: Option<(String, &[u8])>) {
        if self.client.is_connected() {
            let goodbye = async {
                if let Some((topic, payload)) = farewell {
                    let _ = self
                        .client
                        .publish(topic, QoS::AtLeastOnce, true, payload.to_vec())
                        .await;
                }
                self.client.disconnect().await;
            };
            let _ = timeout(CLOSE_TIMEOUT, goodbye).await;
            if timeout(CLOSE_TIMEOUT, &mut self.driver).await.is_ok() {
                return;
            }
        }
        self.stop.cancel();
        if let Err(e) = self.driver.await {
            warn!(error = %e, "Bus driver task failed.");
        }
    }
}
