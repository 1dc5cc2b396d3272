//! What every publisher needs so that a connection loss does not lose what it handed over: publishes the
//! broker never acknowledged are handed back, and a publish that would wait is refused at once instead.
//!
//! rumqttc keeps a connection's unacknowledged QoS 1 publishes, and the requests still in its queue, for the
//! next connection, but re-sends them only if the broker resumed the session: on a clean session (every
//! publisher's) it clears them at the next CONNACK, silently. A publisher that called
//! [`crate::BusClient::unconfirmed`] gets them back instead, at the moment the connection fails, and may
//! publish them again (some may have reached the broker before its PUBACK was lost: the copy is a
//! duplicate, which consumers of readings treat as harmless). Counted in `zw_bus_publishes_returned_total`.
//!
//! [`crate::BusClient::try_publish`] queues a publish only if the client's request queue has room, and hands
//! it back otherwise, so a publisher can keep it elsewhere rather than wait for a broker that is away.

use std::sync::{Arc, Mutex, PoisonError};

use rumqttc::{EventLoop, Publish, QoS, Request};
use tokio::sync::mpsc;

/// A publish [`crate::BusClient::try_publish`] could not queue (the request queue is full, or the driver has
/// stopped), handed back whole.
#[derive(Debug)]
pub struct NotQueued(pub Publish);

/// Where the driver hands back unacknowledged publishes; `None` until a publisher asks for them.
pub(crate) type Sink = Arc<Mutex<Option<mpsc::UnboundedSender<Publish>>>>;

/// Registers the receiver of handed-back publishes (a second call replaces the first).
pub(crate) fn register(sink: &Sink) -> mpsc::UnboundedReceiver<Publish> {
    // Unbounded by type, bounded by construction: one connection loss hands back at most the in-flight
    // window plus the request queue, and the publisher takes them at once.
    let (tx, rx) = mpsc::unbounded_channel();
    *sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
    rx
}

/// After a connection failure (rumqttc has moved the unacknowledged publishes and the queued requests to
/// `pending`): hands the QoS ≥ 1 publishes back to the registered publisher, keeps every other request.
/// Returns how many were handed back; 0 (and nothing touched) without a registered publisher.
pub(crate) fn hand_back(eventloop: &mut EventLoop, sink: &Sink) -> usize {
    let guard = sink.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(tx) = guard.as_ref().filter(|tx| !tx.is_closed()) else {
        return 0;
    };
    let mut n = 0;
    let pending = std::mem::take(&mut eventloop.pending);
    for request in pending {
        match request {
            Request::Publish(p) if p.qos != QoS::AtMostOnce => match tx.send(p) {
                Ok(()) => n += 1,
                Err(back) => eventloop.pending.push_back(Request::Publish(back.0)),
            },
            other => eventloop.pending.push_back(other),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use rumqttc::{MqttOptions, Subscribe};

    use super::*;

    fn publish(topic: &str, qos: QoS) -> Request {
        Request::Publish(Publish::new(topic, qos, b"x".to_vec()))
    }

    #[test]
    fn only_unacknowledged_qos1_publishes_come_back_and_only_when_asked_for() {
        let mut el = EventLoop::new(MqttOptions::new("t", "127.0.0.1", 1), 10);
        let fill = |el: &mut EventLoop| {
            el.pending.extend([
                publish("a", QoS::AtLeastOnce),
                publish("b", QoS::AtMostOnce),
                Request::Subscribe(Subscribe::new("s", QoS::AtLeastOnce)),
                publish("c", QoS::AtLeastOnce),
            ]);
        };
        fill(&mut el);
        let sink = Sink::default();
        assert_eq!(hand_back(&mut el, &sink), 0, "nobody asked: rumqttc keeps them");
        assert_eq!(el.pending.len(), 4);
        let mut rx = register(&sink);
        assert_eq!(hand_back(&mut el, &sink), 2);
        let back: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|p| p.topic)
            .collect();
        assert_eq!(back, ["a", "c"]);
        assert_eq!(el.pending.len(), 2, "QoS 0 and the subscription stay");
        drop(rx);
        el.pending.clear();
        fill(&mut el);
        assert_eq!(
            hand_back(&mut el, &sink),
            0,
            "a receiver that is gone gets nothing"
        );
        assert_eq!(el.pending.len(), 4);
    }
}
