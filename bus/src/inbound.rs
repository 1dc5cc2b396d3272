//! The inbound path between the connection driver and the consumer, for [`crate::FullPolicy::Block`].
//!
//! The driver must keep polling rumqttc's event loop whatever the consumer does: only a polled event loop
//! reads PINGRESPs, sends PINGREQs and writes acknowledgements, so a driver waiting for room in the
//! consumer's queue lets the connection fail its keep-alive check ("Last pingreq isn't acked") and the
//! broker re-deliver everything in flight. So the driver never waits for the consumer: a message goes
//! straight into the consumer's bounded queue when there is room, and otherwise into an overflow queue that
//! a forwarder task moves on as the consumer makes room, in order.
//!
//! The overflow is bounded by `bus.inbound_overflow`. For a consumer with manual acknowledgements it never
//! fills when it is at least the broker's in-flight limit (mosquitto `max_inflight_messages`): the broker
//! sends no more unacknowledged messages than that. Should it fill anyway (automatic acks, or a broker
//! without a limit), the driver stops reading the socket until the forwarder has made room — the old
//! back-pressure — and counts it in `zw_bus_inbound_stalls_total`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rumqttc::Publish;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc};

/// Overflow shared by the driver (pushing) and the forwarder (draining).
struct Shared {
    queue: Mutex<VecDeque<Publish>>,
    /// Wakes the forwarder: the overflow has messages.
    filled: Notify,
    /// Wakes a stalled driver: the forwarder made room.
    drained: Notify,
    max: usize,
}

/// The driver's end: hands messages to the consumer without ever waiting for it.
pub(crate) struct Sender {
    tx: mpsc::Sender<Publish>,
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
    pub(crate) fn send(&self, p: Publish) -> Sent {
        let mut q = self.queue();
        if self.tx.is_closed() {
            q.clear();
            return Sent::Closed;
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

    /// Waits until the overflow has room again (or the consumer is gone).
    pub(crate) async fn room(&self) {
        loop {
            let drained = self.shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.queue().len() < self.shared.max || self.tx.is_closed() {
                return;
            }
            drained.await;
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Publish>> {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A consumer queue of `capacity` with an overflow of `max_overflow` messages (at least 1), and the
/// forwarder task that moves the overflow on; the task ends when the consumer drops its receiver.
pub(crate) fn channel(capacity: usize, max_overflow: usize) -> (Sender, mpsc::Receiver<Publish>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        filled: Notify::new(),
        drained: Notify::new(),
        max: max_overflow.max(1),
    });
    tokio::spawn(forward(tx.clone(), shared.clone()));
    (Sender { tx, shared }, rx)
}

/// Moves overflow messages into the consumer's queue as room appears. Sends happen under the overflow lock,
/// so a message the driver sends directly can never overtake one still in the overflow.
async fn forward(tx: mpsc::Sender<Publish>, shared: Arc<Shared>) {
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

    fn msg(i: u16) -> Publish {
        let mut p = Publish::new("t", QoS::AtLeastOnce, vec![]);
        p.pkid = i;
        p
    }

    #[tokio::test]
    async fn keeps_order_through_the_overflow_and_reports_full() {
        let (tx, mut rx) = channel(2, 3);
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
    async fn a_gone_consumer_is_reported_and_releases_the_driver() {
        let (tx, rx) = channel(1, 1);
        assert_eq!(tx.send(msg(1)), Sent::Queued);
        assert_eq!(tx.send(msg(2)), Sent::Full);
        drop(rx);
        tx.room().await;
        assert_eq!(tx.send(msg(3)), Sent::Closed);
    }
}
