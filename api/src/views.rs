//! Retained state other services publish, mirrored in memory for the API: open and recent alerts
//! (`zw/v1/alerts/+`), tree status (`zw/v1/trees/+`), device health (`zw/v1/status/device/+`) and the
//! weather feed's daily temperatures (`zw/v1/weather/+`, [`crate::weather`]).
//!
//! The publishers own this state; the API only reads it. An empty retained payload removes an entry. A
//! message that does not parse is counted and ignored, never half-applied.
//!
//! With a store, every alert message mirrored is also recorded in the store's alert book
//! ([`Views::record_alerts`]; idempotent by alert id and opening time, so several API instances may record
//! the same event), so acknowledgements, comments and history survive the loss of the broker's retained
//! state.

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::warn;

use zw_model::alert::Alert;
use zw_model::status::DeviceStatus;
use zw_model::topic;
use zw_model::tree::TreeStatus;

/// Mirrored retained state.
#[derive(Default)]
pub struct Views {
    /// Alerts by id.
    pub alerts: RwLock<BTreeMap<String, Alert>>,
    /// Tree status by tree id.
    pub trees: RwLock<BTreeMap<String, TreeStatus>>,
    /// Device health by device id.
    pub status: RwLock<BTreeMap<String, DeviceStatus>>,
    /// Daily temperatures per weather area (`zw/v1/weather/+`, [`crate::weather`]).
    pub weather: crate::weather::WeatherMirror,
    /// The tariffs' dynamic prices (`zw/v1/prices/+`, [`crate::prices`]; counted there).
    pub prices: crate::prices::PriceBook,
    /// Where mirrored alerts go to be recorded in the alert book, once [`Views::record_alerts`] started it.
    book: OnceLock<mpsc::Sender<Alert>>,
}

/// Alerts waiting to be recorded; beyond this, an event is dropped with a warning (the next event of the
/// same alert carries its whole state again).
const BOOK_QUEUE: usize = 1024;

/// Attempts to record one event while the store is unreachable, 1 s apart.
const BOOK_ATTEMPTS: u32 = 5;

/// What [`Views::apply`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored or removed.
    Ok,
    /// Not a topic this mirror handles.
    Ignored,
    /// The payload did not parse.
    Invalid,
}

fn put<T: serde::de::DeserializeOwned>(
    map: &RwLock<BTreeMap<String, T>>,
    key: String,
    payload: &[u8],
) -> Applied {
    let Ok(mut map) = map.write() else {
        return Applied::Invalid;
    };
    if payload.is_empty() {
        map.remove(&key);
        return Applied::Ok;
    }
    match serde_json::from_slice(payload) {
        Ok(v) => {
            map.insert(key, v);
            Applied::Ok
        }
        Err(_) => Applied::Invalid,
    }
}

/// The alert book's record of a mirrored alert: the model's alert as the detail, who acknowledged it, and
/// when it closed (resolved).
pub fn book_event(a: &Alert) -> zw_store::AlertEvent {
    let subject = a
        .subject
        .device
        .as_ref()
        .or(a.subject.tree.as_ref())
        .map_or_else(|| a.site.to_string(), ToString::to_string);
    zw_store::AlertEvent {
        alert: zw_store::NewAlert {
            alert_id: a.id.to_string(),
            kind: a.kind.name().to_owned(),
            site: Some(a.site.to_string()),
            subject,
            detail: serde_json::to_value(a).ok(),
        },
        opened_at: a.opened_at,
        acknowledged: a.acknowledged_by.clone().zip(a.acknowledged_at),
        closed_at: (!a.is_active()).then(|| a.resolved_at.unwrap_or(a.updated_at)),
    }
}

impl Views {
    /// Records every alert mirrored from now on in `store`'s alert book, as `recorder` (the audit's actor),
    /// until the views are dropped. A no-op when already recording.
    pub fn record_alerts(&self, store: zw_store::Store, recorder: &'static str) {
        let (tx, mut rx) = mpsc::channel::<Alert>(BOOK_QUEUE);
        if self.book.set(tx).is_err() {
            return;
        }
        tokio::spawn(async move {
            while let Some(alert) = rx.recv().await {
                let ev = book_event(&alert);
                for attempt in 1..=BOOK_ATTEMPTS {
                    let by = zw_store::Stamp::new(recorder, chrono::Utc::now());
                    match store.record_alert_event(by, &ev).await {
                        Ok(_) => break,
                        Err(e) if attempt < BOOK_ATTEMPTS => {
                            warn!(alert = %alert.id, error = %e, "Cannot record the alert in the store; retrying.");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Err(e) => {
                            warn!(alert = %alert.id, error = %e, "Alert event not recorded in the store.")
                        }
                    }
                }
            }
        });
    }

    /// Applies one retained message.
    pub fn apply(&self, t: &str, payload: &[u8]) -> Applied {
        if let Some(id) = topic::parse_alert(t) {
            let applied = put(&self.alerts, id.to_string(), payload);
            if let (Applied::Ok, Some(book), Ok(Some(alert))) =
                (&applied, self.book.get(), Alert::from_json(payload))
                && book.try_send(alert).is_err()
            {
                warn!(alert = %id, "The alert book's queue is full; this event is not recorded.");
            }
            return applied;
        }
        if topic::parse_weather(t).is_some() {
            return self.weather.apply(t, payload, chrono::Utc::now());
        }
        if topic::parse_prices(t).is_some() {
            // Refusals are counted by reason in the book's own counter.
            return match self.prices.apply(t, payload) {
                Ok(_) => Applied::Ok,
                Err(_) => Applied::Ignored,
            };
        }
        if let Some(id) = topic::parse_device_status(t) {
            return put(&self.status, id.to_string(), payload);
        }
        if let Some(tree) = t
            .strip_prefix("zw/v1/trees/")
            .filter(|s| zw_model::Id::new(*s).is_ok())
        {
            return put(&self.trees, tree.to_string(), payload);
        }
        Applied::Ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(state: &str, extra: serde_json::Value) -> Alert {
        let mut v = serde_json::json!({
            "v": 1, "id": "left_on.hh-12.hh-12-plug", "kind": "left_on", "category": "energy",
            "site": "hh-12", "subject": { "device": "hh-12-plug" }, "state": state, "severity": "warning",
            "opened_at": "2026-11-21T02:10:00Z", "updated_at": "2026-11-21T02:40:00Z",
            "explanation": { "observed": 800.0, "expected": 0.0, "threshold": 50.0, "unit": "W",
                "baseline": "limit", "since": "2026-11-21T02:00:00Z", "text": "800 W at night" }
        });
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).expect("alert")
    }

    #[test]
    fn a_book_event_carries_the_acknowledgement_and_the_close() {
        let open = book_event(&alert("open", serde_json::json!({})));
        assert_eq!(open.alert.alert_id, "left_on.hh-12.hh-12-plug");
        assert_eq!(open.alert.subject, "hh-12-plug");
        assert_eq!(open.alert.site.as_deref(), Some("hh-12"));
        assert_eq!((open.acknowledged, open.closed_at), (None, None));
        let acked = book_event(&alert(
            "acknowledged",
            serde_json::json!({ "acknowledged_by": "anna", "acknowledged_at": "2026-11-21T03:00:00Z" }),
        ));
        assert_eq!(acked.acknowledged.as_ref().map(|(w, _)| w.as_str()), Some("anna"));
        let resolved = book_event(&alert(
            "resolved",
            serde_json::json!({ "resolved_at": "2026-11-21T04:00:00Z" }),
        ));
        assert_eq!(
            resolved.closed_at.map(|t| t.to_rfc3339()),
            Some("2026-11-21T04:00:00+00:00".to_owned())
        );
        assert_eq!(
            resolved.opened_at, open.opened_at,
            "one episode from open to close"
        );
    }
}
