//! Publishes that wait for the broker's PUBACK, for commands a person is told were accepted.
//!
//! [`crate::BusClient::publish`] returns once rumqttc has queued the message; on a clean session, a
//! connection loss before the PUBACK drops it silently. That is fine for readings, whose publishers take
//! the unacknowledged ones back ([`crate::BusClient::unconfirmed`]), but not for an API that answers
//! "202 Accepted" to a user: it must answer only once the broker holds the command.
//!
//! A [`ConfirmedPublisher`] owns a connection of its own and sends one publish at a time. The driver
//! reports its progress (QoS 1 publishes written, PUBACKs received, connection losses) in a [`Progress`]
//! watch; the publisher takes the packet id of the publish written after it queued its own, and waits for
//! the PUBACK of exactly that id. A connection loss or the timeout ends the wait with an error: the caller
//! says "not accepted, retry" (a retry may duplicate the command, so commands must be idempotent, as alert
//! acknowledgements are).

use std::sync::Arc;
use std::time::Duration;

use rumqttc::QoS;
use tokio::sync::{Mutex, watch};

use crate::BusClient;

/// What the connection driver has done so far with QoS ≥ 1 publishes; counters only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// QoS ≥ 1 publishes written to the broker.
    pub sent: u64,
    /// Packet id of the last publish written.
    pub last_sent: u16,
    /// PUBACKs received.
    pub acked: u64,
    /// Packet id of the last PUBACK received.
    pub last_acked: u16,
    /// Connection losses.
    pub losses: u64,
}

/// Why a confirmed publish was not confirmed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfirmError {
    /// The broker connection is down (or went down before the PUBACK).
    #[error("the broker connection is down")]
    Disconnected,
    /// No PUBACK within the timeout.
    #[error("the broker did not confirm within {0:?}")]
    Timeout(Duration),
    /// The connection driver has stopped.
    #[error("the bus client has stopped")]
    Stopped,
}

/// One-at-a-time publisher whose [`publish`](Self::publish) returns only once the broker acknowledged.
/// Created by [`crate::Bus::confirmed_publisher`] on a connection of its own: any other QoS ≥ 1 publish on
/// the same connection would be mistaken for the one awaited.
#[derive(Clone)]
pub struct ConfirmedPublisher {
    client: BusClient,
    progress: watch::Receiver<Progress>,
    one_at_a_time: Arc<Mutex<()>>,
    timeout: Duration,
}

impl ConfirmedPublisher {
    pub(crate) fn new(client: BusClient, progress: watch::Receiver<Progress>, timeout: Duration) -> Self {
        Self {
            client,
            progress,
            one_at_a_time: Arc::default(),
            timeout,
        }
    }

    /// Publishes with QoS 1 and waits for the broker's PUBACK, at most the timeout given at creation.
    pub async fn publish(&self, topic: String, retain: bool, payload: Vec<u8>) -> Result<(), ConfirmError> {
        let _turn = self.one_at_a_time.lock().await;
        if !self.client.is_connected() {
            return Err(ConfirmError::Disconnected);
        }
        let mut rx = self.progress.clone();
        let start = *rx.borrow_and_update();
        let wait = async {
            self.client
                .publish(topic, QoS::AtLeastOnce, retain, payload)
                .await
                .map_err(|_| ConfirmError::Stopped)?;
            let sent = *rx
                .wait_for(|p| p.sent > start.sent || p.losses > start.losses)
                .await
                .map_err(|_| ConfirmError::Stopped)?;
            if sent.losses > start.losses {
                return Err(ConfirmError::Disconnected);
            }
            let ours = sent.last_sent;
            let done = *rx
                .wait_for(|p| (p.acked > start.acked && p.last_acked == ours) || p.losses > start.losses)
                .await
                .map_err(|_| ConfirmError::Stopped)?;
            if done.losses > start.losses {
                return Err(ConfirmError::Disconnected);
            }
            Ok(())
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .unwrap_or(Err(ConfirmError::Timeout(self.timeout)))
    }

    /// Whether the broker connection is currently up.
    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// Sends a clean DISCONNECT; the driver stops once it has gone out.
    pub async fn disconnect(&self) {
        self.client.disconnect().await;
    }
}
