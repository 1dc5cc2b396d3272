//! Live-stream slots: at most `api.max_streams_per_user` open `/api/v1/stream` connections per user.
//!
//! A slot is a guard held by the stream's body; it is released the moment the client goes away and the body
//! is dropped, so a closed browser tab frees its slot at once. The open streams are a gauge, refusals a
//! counter ([`crate::metrics::ApiMetrics`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{IntCounter, IntGauge};

/// Open streams per user name.
#[derive(Debug)]
pub struct StreamSlots {
    max_per_user: u32,
    open: Arc<Mutex<HashMap<String, u32>>>,
    gauge: IntGauge,
    rejected: IntCounter,
}

/// One open stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    user: String,
    open: Arc<Mutex<HashMap<String, u32>>>,
    gauge: IntGauge,
}

impl StreamSlots {
    /// Slots for `max_per_user` streams per user, counted in `gauge` (open) and `rejected`.
    pub fn new(max_per_user: u32, gauge: IntGauge, rejected: IntCounter) -> Self {
        Self {
            max_per_user,
            open: Arc::default(),
            gauge,
            rejected,
        }
    }

    /// The most streams one user may have open.
    pub fn max_per_user(&self) -> u32 {
        self.max_per_user
    }

    /// A slot for `user`, or `None` (counted) if the user has all of theirs open.
    pub fn acquire(&self, user: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(user.to_owned()).or_insert(0);
        if *n >= self.max_per_user {
            self.rejected.inc();
            return None;
        }
        *n += 1;
        self.gauge.inc();
        Some(StreamSlot {
            user: user.to_owned(),
            open: self.open.clone(),
            gauge: self.gauge.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_at_most_the_limit_and_dropping_frees_a_slot() {
        let (gauge, rejected) = (
            IntGauge::new("g", "g").expect("gauge"),
            IntCounter::new("r", "r").expect("counter"),
        );
        let slots = StreamSlots::new(2, gauge.clone(), rejected.clone());
        let a1 = slots.acquire("anna").expect("first");
        let _a2 = slots.acquire("anna").expect("second");
        assert!(slots.acquire("anna").is_none(), "third is over the limit");
        assert!(slots.acquire("fm").is_some(), "other users are unaffected");
        assert_eq!(
            (gauge.get(), rejected.get()),
            (2, 1),
            "fm's slot was dropped at once"
        );
        drop(a1);
        assert!(slots.acquire("anna").is_some(), "a closed stream frees its slot");
        assert_eq!(gauge.get(), 1);
    }
}
