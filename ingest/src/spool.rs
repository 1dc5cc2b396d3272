//! The durable spool: batches of line protocol kept on local disk (redb) while InfluxDB cannot take them.
//!
//! Where it sits: a batch whose direct write failed for a reason a retry may fix (unavailable, 5xx, 429,
//! timeout, auth, database missing), and every batch after it while the spool is not empty, is committed
//! here with fsync (redb `Durability::Immediate`) and only then acknowledged to the broker. Batches pushed
//! while a commit runs share the next transaction (group commit, [`group`]): one fsync for all of them. The replayer
//! ([`crate::replay`]) writes the oldest batches back and removes them once InfluxDB accepted them.
//!
//! Guarantees:
//! * a batch acknowledged because it was spooled survives kill -9 and power loss (the commit was fsynced;
//!   a group commit is one transaction, all or nothing);
//! * a push abandoned while its batch waits for a group commit (shutdown) may still be committed: it is then
//!   replayed after the next start while the broker also re-delivers it, so it is written twice (harmless);
//! * a removal may be lost in a crash (it is not fsynced unless it empties the spool), so a batch can be
//!   replayed twice: harmless, a point is identified by series + timestamp;
//! * the spooled payload is bounded by `max_bytes`; when full, [`Spool::push`] waits (and the caller does not
//!   acknowledge), which is back-pressure to the broker, counted in `zw_ingest_spool_full_total`.
//!
//! An in-memory index of (key → points, bytes, created) is rebuilt from a small side table at start, so
//! depth and oldest age are known without reading the payloads. redb work runs in `spawn_blocking`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Metrics;

const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
/// key → (points, bytes, created unix ms)
const META: TableDefinition<u64, (u64, u64, i64)> = TableDefinition::new("meta");

/// A spool failure.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The database file could not be opened, read or written.
    #[error("spool {path}: {source}")]
    Db {
        /// The spool file.
        path: PathBuf,
        /// What redb reported.
        source: redb::Error,
    },
    /// A blocking task died.
    #[error("spool task failed: {0}")]
    Task(String),
    /// Shutting down while waiting for room.
    #[error("spool is shutting down")]
    Stopped,
    /// The group commit that held this batch failed (the message is the leader's error).
    #[error("spool commit failed: {0}")]
    Shared(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    points: u64,
    bytes: u64,
    created_ms: i64,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<u64, Entry>,
    points: u64,
    bytes: u64,
    next_key: u64,
}

struct Inner {
    db: Database,
    path: PathBuf,
    state: Mutex<State>,
    /// Signalled when a batch was added (wakes the replayer).
    added: Notify,
    /// Signalled when a batch was removed (wakes pushers waiting for room).
    freed: Notify,
    max_bytes: u64,
    metrics: Metrics,
    /// Concurrent pushes share transactions.
    group: group::Group,
}

/// A handle to the spool (cheap to clone).
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

impl Spool {
    /// Opens (or creates) the spool at `path` and loads its index.
    pub async fn open(
        path: &Path,
        max_bytes: u64,
        cache_bytes: usize,
        metrics: Metrics,
    ) -> Result<Self, SpoolError> {
        let path = path.to_path_buf();
        let p = path.clone();
        let (db, state) = blocking(
            move || {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(redb::Error::Io)?;
                }
                let db = Database::builder().set_cache_size(cache_bytes).create(&p)?;
                let txn = db.begin_write()?;
                txn.open_table(BATCHES)?;
                txn.open_table(META)?;
                txn.commit()?;
                let mut state = State::default();
                let read = db.begin_read()?;
                for item in read.open_table(META)?.iter()? {
                    let (k, v) = item?;
                    let (points, bytes, created_ms) = v.value();
                    state.points += points;
                    state.bytes += bytes;
                    state.entries.insert(
                        k.value(),
                        Entry {
                            points,
                            bytes,
                            created_ms,
                        },
                    );
                }
                state.next_key = state.entries.keys().next_back().map_or(0, |k| k + 1);
                Ok((db, state))
            },
            &path,
        )
        .await?;
        let spool = Self {
            inner: Arc::new(Inner {
                db,
                path,
                state: Mutex::new(state),
                added: Notify::new(),
                freed: Notify::new(),
                max_bytes,
                metrics,
                group: group::Group::default(),
            }),
        };
        spool.publish_depth();
        Ok(spool)
    }

    /// True when nothing waits for replay.
    pub fn is_empty(&self) -> bool {
        self.state().entries.is_empty()
    }

    /// (points, bytes, batches) currently spooled.
    pub fn depth(&self) -> (u64, u64, usize) {
        let s = self.state();
        (s.points, s.bytes, s.entries.len())
    }

    /// Durably stores a batch of `points` lines. Waits while the spool is full; gives up on `stop`.
    pub async fn push(&self, body: Bytes, points: usize, stop: &CancellationToken) -> Result<(), SpoolError> {
        let len = body.len() as u64;
        let mut counted = false;
        let key = loop {
            let freed = self.inner.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.state();
                // An empty spool takes any batch, so one oversized batch cannot block forever.
                if s.bytes == 0 || s.bytes + len <= self.inner.max_bytes {
                    s.next_key += 1;
                    break s.next_key - 1;
                }
            }
            if !counted {
                counted = true;
                self.inner.metrics.spool_full.inc();
                tracing::warn!(
                    max_bytes = self.inner.max_bytes,
                    "Spool full; acknowledgements paused until replay frees room."
                );
            }
            tokio::select! {
                () = stop.cancelled() => return Err(SpoolError::Stopped),
                () = freed => {}
            }
        };
        let entry = Entry {
            points: points as u64,
            bytes: len,
            created_ms: chrono::Utc::now().timestamp_millis(),
        };
        let started = std::time::Instant::now();
        let meta = (entry.points, entry.bytes, entry.created_ms);
        self.inner.group.commit(&self.inner, key, body, meta).await?;
        self.inner
            .metrics
            .spool_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        {
            let mut s = self.state();
            s.points += entry.points;
            s.bytes += entry.bytes;
            s.entries.insert(key, entry);
        }
        self.inner.metrics.spooled.inc_by(entry.points);
        self.publish_depth();
        self.inner.added.notify_one();
        Ok(())
    }

    /// Up to `max` of the oldest batches not in `skip`, as (key, body, points).
    pub async fn oldest(
        &self,
        skip: &HashSet<u64>,
        max: usize,
    ) -> Result<Vec<(u64, Bytes, usize)>, SpoolError> {
        let keys: Vec<(u64, usize)> = self
            .state()
            .entries
            .iter()
            .filter(|(k, _)| !skip.contains(k))
            .take(max)
            .map(|(k, e)| (*k, e.points as usize))
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        blocking(
            move || {
                let read = inner.db.begin_read()?;
                let table = read.open_table(BATCHES)?;
                let mut out = Vec::with_capacity(keys.len());
                for (k, points) in keys {
                    if let Some(v) = table.get(k)? {
                        out.push((k, Bytes::copy_from_slice(v.value()), points));
                    }
                }
                Ok(out)
            },
            &self.inner.path,
        )
        .await
    }

    /// Removes a replayed batch. Not fsynced unless the spool becomes empty (see the module docs).
    pub async fn remove(&self, key: u64) -> Result<(), SpoolError> {
        let last = {
            let s = self.state();
            s.entries.len() == 1 && s.entries.contains_key(&key)
        };
        let inner = self.inner.clone();
        blocking(
            move || {
                let mut txn = inner.db.begin_write()?;
                if !last {
                    txn.set_durability(Durability::None).map_err(redb::Error::from)?;
                }
                {
                    txn.open_table(BATCHES)?.remove(key)?;
                    txn.open_table(META)?.remove(key)?;
                }
                txn.commit()?;
                Ok(())
            },
            &self.inner.path,
        )
        .await?;
        {
            let mut s = self.state();
            if let Some(e) = s.entries.remove(&key) {
                s.points -= e.points;
                s.bytes -= e.bytes;
            }
        }
        self.publish_depth();
        self.inner.freed.notify_waiters();
        Ok(())
    }

    /// Waits until a batch is added (returns at once if one was added since the last call).
    pub async fn added(&self) {
        self.inner.added.notified().await;
    }

    /// Updates the depth and oldest-age gauges.
    pub fn publish_depth(&self) {
        let s = self.state();
        let m = &self.inner.metrics;
        m.spool_points.set(i64::try_from(s.points).unwrap_or(i64::MAX));
        m.spool_bytes.set(i64::try_from(s.bytes).unwrap_or(i64::MAX));
        let age = s.entries.values().next().map_or(0.0, |e| {
            (chrono::Utc::now().timestamp_millis() - e.created_ms).max(0) as f64 / 1000.0
        });
        m.spool_oldest_age.set(age);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs redb work off the async threads, naming the file in errors.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, redb::Error> + Send + 'static,
    path: &Path,
) -> Result<T, SpoolError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(SpoolError::Db {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) => Err(SpoolError::Task(e.to_string())),
    }
}

mod erase;
mod group;
pub mod quarantine;

pub use erase::ErasedLines;
#[cfg(test)]
mod tests;
