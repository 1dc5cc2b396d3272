//! The inbound path between the connection driver and the consumer, for [`crate::FullPolicy::Block`].
//!
//! The driver must keep polling rumqttc's event loop whatever the consumer does: only a polled event loop
//! reads PINGRESPs, sends PINGREQs and writes acknowledgements, so a driver waiting for room in the
//! consumer's queue lets the connection fail its keep-alive check ("Last pingreq isn't acked") and the
//! broker re-deliver everything in flight. So the driver never waits for the consumer: a message goes
//! straight into the consumer's bounded queue when there is room, and otherwise into an overflow queue that
//! a forwarder task moves on as the consumer makes room, in order.
//!
//! The overflow is bounded by `bus.inbound_overflow` messages, and queue and overflow together by
//! `bus.inbound_max_bytes` of payload (the consumer's [`Inbound`] gives bytes back as it reads): messages
//! vary from 200 bytes (one reading) to hundreds of kilobytes (a batch), so a count alone bounds nothing.
//! For a consumer with manual acknowledgements neither limit is reached when they are at least the broker's
//! in-flight limits (mosquitto `max_inflight_messages`, `max_inflight_bytes`): the broker sends no more
//! unacknowledged messages than that. Should one be reached anyway (automatic acks, a broker without
//! limits, or mosquitto 2.0.11 replaying a resumed session's whole queue at once), the driver stops reading
//! the socket until the consumer has made room — the old back-pressure — and counts it in
//! `zw_bus_inbound_stalls_total`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rumqttc::Publish;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{Notify, mpsc};

/// What acknowledges one received QoS 1 message: its packet id and the connection it arrived on (from
/// [`Delivery::ack_token`]). An acknowledgement is written only on that connection: after a
/// reconnect the broker re-delivers the message, and a PUBACK with an old packet id could acknowledge a newer
/// message the broker has given the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckToken {
    /// The driver's connection number at receipt.
    pub connection: u64,
    /// The message's packet id (0 for QoS 0: nothing to acknowledge).
    pub pkid: u16,
}

/// A message and the broker connection it arrived on: what a manually acknowledging consumer needs, so that
/// its acknowledgement goes out on that connection or not at all (see [`AckToken`]).
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub publish: Publish,
    /// The driver's connection number at receipt (1 for the first connection, +1 per reconnect).
    pub connection: u64,
}

impl Delivery {
    /// What acknowledges this message: its packet id on its connection.
    pub fn ack_token(&self) -> AckToken {
        AckToken {
            connection: self.connection,
            pkid: self.publish.pkid,
        }
    }
}

/// Overflow shared by the driver (pushing) and the forwarder (draining).
struct Shared {
    queue: Mutex<VecDeque<Delivery>>,
    /// Wakes the forwarder: the overflow has messages.
    filled: Notify,
    /// Wakes a stalled driver: the forwarder or the consumer made room.
    drained: Notify,
    max: usize,
    /// Payload bytes in the consumer's queue and the overflow together.
    bytes: AtomicUsize,
    max_bytes: usize,
}

impl Shared {
    fn over_bytes(&self) -> bool {
        self.bytes.load(Ordering::Acquire) >= self.max_bytes
    }
}

/// Messages received from the broker, in order: the consumer's end of the inbound path. For a lossless
/// consumer it gives the payload bytes of every message it hands out back to the budget.
pub struct Inbound {
    rx: mpsc::Receiver<Delivery>,
    budget: Option<Arc<Shared>>,
    /// Scratch space for [`Inbound::recv_many`].
    scratch: Vec<Delivery>,
}

impl Inbound {
    /// The receiving end of a plain channel (no byte budget).
    pub(crate) fn plain(rx: mpsc::Receiver<Delivery>) -> Self {
        Self {
            rx,
            budget: None,
            scratch: Vec::new(),
        }
    }

    /// The next message; `None` once the connection driver has stopped.
    pub async fn recv(&mut self) -> Option<Publish> {
        self.recv_delivery().await.map(|d| d.publish)
    }

    /// The next message with its connection, for consumers that acknowledge with [`crate::BusClient::ack_all`].
    pub async fn recv_delivery(&mut self) -> Option<Delivery> {
        let d = self.rx.recv().await?;
        self.release(d.publish.payload.len());
        Some(d)
    }

    /// Appends up to `limit` messages to `buf`, waiting for at least one; 0 once the driver has stopped.
    pub async fn recv_many(&mut self, buf: &mut Vec<Publish>, limit: usize) -> usize {
        let mut scratch = std::mem::take(&mut self.scratch);
        let n = self.recv_many_deliveries(&mut scratch, limit).await;
        buf.extend(scratch.drain(..).map(|d| d.publish));
        self.scratch = scratch;
        n
    }

    /// Appends up to `limit` messages with their connections to `buf`, waiting for at least one; 0 once the
    /// driver has stopped.
    pub async fn recv_many_deliveries(&mut self, buf: &mut Vec<Delivery>, limit: usize) -> usize {
        let start = buf.len();
        let n = self.rx.recv_many(buf, limit).await;
        let bytes = buf[start..].iter().map(|d| d.publish.payload.len()).sum();
        self.release(bytes);
        n
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Result<Publish, TryRecvError> {
        self.try_recv_delivery().map(|d| d.publish)
    }

    /// The next message with its connection if one is queued.
    pub fn try_recv_delivery(&mut self) -> Result<Delivery, TryRecvError> {
        let d = self.rx.try_recv()?;
        self.release(d.publish.payload.len());
        Ok(d)
    }

    fn release(&self, n: usize) {
        if let Some(s) = &self.budget {
            let before = s.bytes.fetch_sub(n, Ordering::AcqRel);
            if before >= s.max_bytes && before - n < s.max_bytes {
                s.drained.notify_waiters();
            }
        }
    }
}

/// The driver's end: hands messages to the consumer without ever waiting for it.
pub(crate) struct Sender {
    tx: mpsc::Sender<Delivery>,
    shared: Arc<Shared>,
}

/// What [`Sender::send`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// In the consumer's queue or in the overflow.
    Queued,
    /// In the overflow, which is now full: stop reading until [`Sender::room`].
    Full,
    /// The consumer is gone; the message was dropped.
    Closed,
}

impl Sender {
    /// Queues `p` in order behind everything queued before; never waits.
    pub(crate) fn send(&self, p: Delivery) -> Sent {
        let mut q = self.queue();
        if self.tx.is_closed() {
            q.clear();
            return Sent::Closed;
        }
        self.shared
            .bytes
            .fetch_add(p.publish.payload.len(), Ordering::AcqRel);
        if self.shared.over_bytes() {
            q.push_back(p);
            drop(q);
            self.shared.filled.notify_one();
            return Sent::Full;
        }
        if q.is_empty() {
            match self.tx.try_send(p) {
                Ok(()) => return Sent::Queued,
                Err(TrySendError::Closed(_)) => return Sent::Closed,
                Err(TrySendError::Full(p)) => q.push_back(p),
            }
        } else {
            q.push_back(p);
        }
        let full = q.len() >= self.shared.max;
        drop(q);
        self.shared.filled.notify_one();
        if full { Sent::Full } else { Sent::Queued }
    }

    /// Messages in the overflow.
    pub(crate) fn overflow(&self) -> usize {
        self.queue().len()
    }

    /// Payload bytes queued for the consumer, overflow included.
    pub(crate) fn bytes(&self) -> usize {
        self.shared.bytes.load(Ordering::Acquire)
    }

    /// Waits until the overflow has room again (or the consumer is gone).
    pub(crate) async fn room(&self) {
        loop {
            let drained = self.shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            let room = self.queue().len() < self.shared.max && !self.shared.over_bytes();
            if room || self.tx.is_closed() {
                return;
            }
            drained.await;
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Delivery>> {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A consumer queue of `capacity` with an overflow of `max_overflow` messages (at least 1), both holding
/// at most `max_bytes` of payload (a single larger message still passes), and the forwarder task that moves
/// the overflow on; the task ends when the consumer drops its receiver.
pub(crate) fn channel(capacity: usize, max_overflow: usize, max_bytes: usize) -> (Sender, Inbound) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        filled: Notify::new(),
        drained: Notify::new(),
        max: max_overflow.max(1),
        bytes: AtomicUsize::new(0),
        max_bytes: max_bytes.max(1),
    });
    tokio::spawn(forward(tx.clone(), shared.clone()));
    let budget = Some(shared.clone());
    let inbound = Inbound {
        rx,
        budget,
        scratch: Vec::new(),
    };
    (Sender { tx, shared }, inbound)
}

/// Moves overflow messages into the consumer's queue as room appears. Sends happen under the overflow lock,
/// so a message the driver sends directly can never overtake one still in the overflow.
async fn forward(tx: mpsc::Sender<Delivery>, shared: Arc<Shared>) {
    loop {
        let Ok(permit) = tx.reserve().await else {
            break;
        };
        let next = {
            let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.pop_front().map(|p| permit.send(p))
        };
        match next {
            Some(()) => shared.drained.notify_waiters(),
            None => {
                // Nothing to forward: give the permit back and wait for the driver. `notify_one` stores a
                // wake-up sent while nobody waits, so a push between the check and this await is not missed.
                tokio::select! {
                    () = shared.filled.notified() => {}
                    () = tx.closed() => break,
                }
            }
        }
    }
    // The consumer is gone: free the overflow and release a stalled driver.
    shared
        .queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    shared.drained.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::QoS;

    fn msg(i: u16) -> Delivery {
        let mut p = Publish::new("t", QoS::AtLeastOnce, vec![]);
        p.pkid = i;
        Delivery {
            publish: p,
            connection: 1,
        }
    }

    #[tokio::test]
    async fn keeps_order_through_the_overflow_and_reports_full() {
        let (tx, mut rx) = channel(2, 3, usize::MAX);
        let sent: Vec<Sent> = (1..=5).map(|i| tx.send(msg(i))).collect();
        // 2 fit the queue, 3 go to the overflow, the third of which fills it.
        assert_eq!(
            sent[..4],
            [Sent::Queued, Sent::Queued, Sent::Queued, Sent::Queued]
        );
        assert_eq!(sent[4], Sent::Full);
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(rx.recv().await.expect("message").pkid);
            if got.len() == 3 {
                // Room again: direct sends must still queue behind the overflow.
                tx.room().await;
                assert_eq!(tx.send(msg(6)), Sent::Queued);
            }
        }
        got.push(rx.recv().await.expect("message").pkid);
        assert_eq!(got, [1, 2, 3, 4, 5, 6]);
        assert_eq!(tx.overflow(), 0);
    }

    #[tokio::test]
    async fn the_byte_budget_holds_large_messages_back_until_the_consumer_reads() {
        let big = |i: u16| {
            let mut p = Publish::new("t", QoS::AtLeastOnce, vec![0u8; 400]);
            p.pkid = i;
            Delivery {
                publish: p,
                connection: 1,
            }
        };
        // Room for 100 messages by count, 1,000 bytes by size.
        let (tx, mut rx) = channel(50, 50, 1000);
        assert_eq!(tx.send(big(1)), Sent::Queued);
        assert_eq!(tx.send(big(2)), Sent::Queued);
        // The third crosses the budget: queued (nothing is lost), but the driver must stop reading.
        assert_eq!(tx.send(big(3)), Sent::Full);
        assert_eq!(tx.bytes(), 1200);
        let room = tokio::spawn(async move {
            tx.room().await;
            tx
        });
        tokio::task::yield_now().await;
        assert!(!room.is_finished(), "room before the consumer read anything");
        assert_eq!(rx.recv().await.map(|p| p.pkid), Some(1));
        let tx = room.await.expect("room");
        assert_eq!(tx.bytes(), 800);
        let mut buf = Vec::new();
        assert_eq!(rx.recv_many(&mut buf, 10).await, 2);
        assert_eq!(buf.iter().map(|p| p.pkid).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(tx.bytes(), 0);
    }

    #[tokio::test]
    async fn a_gone_consumer_is_reported_and_releases_the_driver() {
        let (tx, rx) = channel(1, 1, usize::MAX);
        assert_eq!(tx.send(msg(1)), Sent::Queued);
        assert_eq!(tx.send(msg(2)), Sent::Full);
        drop(rx);
        tx.room().await;
        assert_eq!(tx.send(msg(3)), Sent::Closed);
    }
}
