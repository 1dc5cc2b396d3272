//! Group commit: pushes that arrive while a commit is running share the next redb write transaction and
//! its fsync, so spool intake grows with the number of concurrent writers instead of being one fsync per
//! batch. Each batch is still acknowledged only after the transaction holding it committed durably
//! (`Durability::Immediate`), and a transaction is all or nothing, so the guarantees of [`super`] hold
//! unchanged.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::{BATCHES, Inner, META, SpoolError, blocking};

/// One batch waiting for a commit.
struct Item {
    key: u64,
    body: Bytes,
    /// (points, bytes, created unix ms), the META row.
    meta: (u64, u64, i64),
    done: oneshot::Sender<Result<(), String>>,
}

/// Pushes waiting for the next transaction, and the turn to run it.
#[derive(Default)]
pub(super) struct Group {
    queue: Mutex<Vec<Item>>,
    turn: tokio::sync::Mutex<()>,
}

/// A batch as written: key, body, (points, bytes, created unix ms).
type Row = (u64, Bytes, (u64, u64, i64));
impl Group {
    /// Commits one batch, together with every batch queued meanwhile; returns once it is durable.
    pub(super) async fn commit(
        &self,
        inner: &std::sync::Arc<Inner>,
        key: u64,
        body: Bytes,
        meta: (u64, u64, i64),
    ) -> Result<(), SpoolError> {
        let (done, mut mine) = oneshot::channel();
        self.queue().push(Item {
            key,
            body,
            meta,
            done,
        });
        let _turn = self.turn.lock().await;
        // An earlier turn may have taken this batch into its transaction.
        if let Ok(result) = mine.try_recv() {
            return result.map_err(SpoolError::Shared);
        }
        // Not taken by an earlier turn, so ours is among these: turns send their results before they end.
        let (rows, dones): (Vec<Row>, Vec<_>) = std::mem::take(&mut *self.queue())
            .into_iter()
            .map(|i| ((i.key, i.body, i.meta), i.done))
            .unzip();
        let db = inner.clone();
        let result = blocking(
            move || {
                let txn = db.db.begin_write()?;
                {
                    let mut batches = txn.open_table(BATCHES)?;
                    let mut meta = txn.open_table(META)?;
                    for (key, body, m) in &rows {
                        batches.insert(*key, body.as_ref())?;
                        meta.insert(*key, *m)?;
                    }
                }
                txn.commit()?;
                Ok(())
            },
            &inner.path,
        )
        .await;
        if result.is_ok() {
            inner.metrics.spool_commits.inc();
        }
        let shared = result.as_ref().map(|_| ()).map_err(ToString::to_string);
        for done in dones {
            // Receivers of cancelled pushes may be gone.
            let _ = done.send(shared.clone());
        }
        result
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Item>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
