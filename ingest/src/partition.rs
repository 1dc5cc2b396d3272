//! Static partitions: several ingest instances split the stream without shared subscriptions.
//!
//! mosquitto 2.0.11 does not restore `$share/…` subscriptions from its persistence file, so everything
//! published between a broker restart and the instances' re-subscription is lost under a shared
//! subscription (1,588–1,766 readings per graceful restart in issue 16's runs). Plain subscriptions of a
//! persistent session are restored and queue while an instance is away. So with `ingest.partitions = N`
//! every instance subscribes to the plain filters, receives every message, and keeps those whose
//! **routing key** falls into its `ingest.partition`: a reading message's device (the last topic level of
//! `zw/v1/readings/{site}/{device}`), a batch message's producer (`zw/v1/batches/{producer}`). The others it
//! acknowledges unread. A topic always maps to the same partition, so one device's readings stay in order
//! on one instance, and an instance that is down finds its partition queued for it when it returns.
//!
//! The hash is FNV-1a (64 bit) of the key's bytes: fixed by its definition, so every instance, version and
//! platform agrees on it.

/// This instance's share of the stream: `index` of `count` partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    index: u32,
    count: u32,
}

impl Partition {
    /// Partition `index` of `count` (`count >= 1`, `index < count`; validated by the config).
    pub fn new(index: u32, count: u32) -> Self {
        let count = count.max(1);
        Self {
            index: index.min(count - 1),
            count,
        }
    }

    /// Whether the message on `topic` belongs to this partition. With one partition every message does.
    pub fn owns(&self, topic: &str) -> bool {
        self.count == 1 || partition_of(topic, self.count) == self.index
    }
}

/// The partition of a message's topic: its last level hashed (FNV-1a 64) modulo `count`.
pub fn partition_of(topic: &str, count: u32) -> u32 {
    let key = topic.rsplit('/').next().unwrap_or(topic);
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % u64::from(count.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_of_the_last_topic_level() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published test vector).
        assert_eq!(
            partition_of("zw/v1/readings/site/a", 1 << 31),
            (0xaf63_dc4c_8601_ec8c_u64 % (1 << 31)) as u32
        );
        assert_eq!(
            partition_of("zw/v1/readings/x/dev-7", 3),
            partition_of("zw/v1/readings/y/dev-7", 3)
        );
    }

    #[test]
    fn every_topic_has_exactly_one_owner_and_the_split_is_even() {
        let parts: Vec<Partition> = (0..3).map(|i| Partition::new(i, 3)).collect();
        let mut per = [0u32; 3];
        for d in 0..3000 {
            let topic = format!("zw/v1/readings/site/dev-{d}");
            let owners: Vec<usize> = (0..3).filter(|&i| parts[i].owns(&topic)).collect();
            assert_eq!(owners.len(), 1, "{topic}");
            per[owners[0]] += 1;
        }
        assert!(per.iter().all(|&n| (800..=1200).contains(&n)), "{per:?}");
    }

    #[test]
    fn one_partition_owns_everything() {
        assert!(Partition::new(0, 1).owns("zw/v1/batches/gw-1"));
        assert!(Partition::new(5, 0).owns("anything"));
    }
}
