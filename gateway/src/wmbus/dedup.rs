//! Duplicate suppression: the same telegram heard by two receivers, or repeated by a repeater, within a
//! window. Telegrams are compared after the link layer is normalized (block CRCs removed), so a receiver
//! that strips CRCs and one that does not agree. Bounded: at most `capacity` telegrams are remembered, the
//! oldest forgotten first.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, TimeDelta, Utc};

/// Recently heard telegrams, by a hash of their normalized bytes.
#[derive(Debug)]
pub struct Dedup {
    window: TimeDelta,
    capacity: usize,
    seen: HashMap<u64, DateTime<Utc>>,
    order: VecDeque<(u64, DateTime<Utc>)>,
}

impl Dedup {
    /// Remembers up to `capacity` telegrams for `window`.
    pub fn new(window: std::time::Duration, capacity: usize) -> Self {
        Self {
            window: TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX),
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// `true` if `telegram` was heard within the window before `now`; remembers it either way.
    pub fn is_duplicate(&mut self, telegram: &[u8], now: DateTime<Utc>) -> bool {
        self.expire(now);
        let mut h = DefaultHasher::new();
        telegram.hash(&mut h);
        let key = h.finish();
        if let Some(at) = self.seen.get(&key)
            && now - *at <= self.window
        {
            return true;
        }
        if self.seen.len() >= self.capacity
            && let Some((old, _)) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.seen.insert(key, now);
        self.order.push_back((key, now));
        false
    }

    /// Telegrams remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Nothing remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some(&(key, at)) = self.order.front() {
            if now - at <= self.window {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&key) == Some(&at) {
                self.seen.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_repeat_within_the_window_is_a_duplicate_and_after_it_is_not() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("test data");
        let mut d = Dedup::new(Duration::from_secs(30), 10);
        assert!(!d.is_duplicate(b"abc", t0));
        assert!(d.is_duplicate(b"abc", t0 + TimeDelta::seconds(30)));
        assert!(!d.is_duplicate(b"abd", t0 + TimeDelta::seconds(1)));
        assert!(!d.is_duplicate(b"abc", t0 + TimeDelta::seconds(31)));
        assert!(d.is_duplicate(b"abc", t0 + TimeDelta::seconds(32)));
    }

    #[test]
    fn memory_is_bounded_by_the_capacity() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("test data");
        let mut d = Dedup::new(Duration::from_secs(3600), 3);
        for i in 0u8..10 {
            assert!(!d.is_duplicate(&[i], t0));
        }
        assert_eq!(d.len(), 3);
        assert!(d.is_duplicate(&[9], t0));
        assert!(!d.is_duplicate(&[0], t0), "the oldest were forgotten");
    }
}
