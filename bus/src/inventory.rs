//! The live inventory every service reads, and the change notice that tells services to reload it.
//!
//! A service holds a [`LiveInventory`]: the current [`Inventory`] behind a watch channel. Without a
//! relational store it never changes (the config's inventory). With one, the admin API changes the store
//! and publishes a [`ChangeNotice`] on [`topic::INVENTORY_CHANGED`] (retained, QoS 1); every service that
//! receives it reloads the inventory from the store and calls [`LiveInventory::replace`]. Readers either take
//! the current snapshot per request ([`LiveInventory::current`]: an `Arc` clone, no lock held) or wait for
//! changes ([`LiveInventory::subscribe`]) to re-plan polling or detectors.
//!
//! The notice carries no inventory, only a version (the store's change counter, rising), who changed it and
//! when: a service that missed notices catches up with the next one, and a restarted service gets the
//! retained notice and the store's current state.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use zw_model::{Inventory, topic};

/// The notice published after every change to the stored inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeNotice {
    /// Rises with every change; a service ignores a notice not newer than the last one it applied.
    pub version: i64,
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// Who made it (user name or `import`).
    pub by: String,
}

impl ChangeNotice {
    /// The topic notices are published on (retained).
    pub const TOPIC: &'static str = topic::INVENTORY_CHANGED;

    /// The notice as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A notice from its JSON; `None` for anything else.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

/// The current inventory of a service, replaceable while it runs. Cloning shares it.
#[derive(Debug, Clone)]
pub struct LiveInventory {
    tx: Arc<watch::Sender<Arc<Inventory>>>,
}

impl LiveInventory {
    /// A live inventory starting at `inventory`.
    pub fn new(inventory: Inventory) -> Self {
        Self::from_arc(Arc::new(inventory))
    }

    /// A live inventory starting at a shared `inventory`.
    pub fn from_arc(inventory: Arc<Inventory>) -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(inventory)),
        }
    }

    /// The inventory now: a snapshot that stays consistent however long it is held.
    pub fn current(&self) -> Arc<Inventory> {
        self.tx.borrow().clone()
    }

    /// A receiver that sees every later replacement (`changed().await`, then `borrow_and_update()`).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Inventory>> {
        self.tx.subscribe()
    }

    /// Replaces the inventory; returns whether it differed (subscribers are woken only then).
    pub fn replace(&self, inventory: Inventory) -> bool {
        self.tx.send_if_modified(|cur| {
            if **cur == inventory {
                false
            } else {
                *cur = Arc::new(inventory);
                true
            }
        })
    }
}

impl From<Arc<Inventory>> for LiveInventory {
    fn from(inventory: Arc<Inventory>) -> Self {
        Self::from_arc(inventory)
    }
}

impl From<Inventory> for LiveInventory {
    fn from(inventory: Inventory) -> Self {
        Self::new(inventory)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zw_model::Site;

    fn site(id: &str) -> Site {
        serde_json::from_value(serde_json::json!({ "id": id, "kind": "household" })).expect("test value")
    }

    #[tokio::test]
    async fn replacing_wakes_subscribers_only_on_a_real_change() {
        let live = LiveInventory::new(Inventory::default());
        let mut rx = live.subscribe();
        assert!(!live.replace(Inventory::default()), "same inventory is no change");
        assert!(!rx.has_changed().expect("test value"));
        let mut next = Inventory::default();
        next.sites.push(site("hh-1"));
        assert!(live.replace(next.clone()));
        rx.changed().await.expect("test value");
        assert_eq!(rx.borrow_and_update().sites.len(), 1);
        assert_eq!(live.current().sites, next.sites);
    }

    #[test]
    fn a_notice_round_trips_and_garbage_is_none() {
        let n = ChangeNotice {
            version: 7,
            at: "2026-12-07T01:00:00Z".parse().expect("test value"),
            by: "admin".into(),
        };
        assert_eq!(ChangeNotice::parse(&n.to_json()), Some(n));
        assert_eq!(ChangeNotice::parse(b"{\"version\":\"x\"}"), None);
    }
}
