//! Taking lines out of the spool (`zaehlwerk erase`): every batch is rewritten without the lines a
//! predicate picks, in one durable transaction; a batch left empty is removed.
//!
//! Run it on a spool that nothing else has open (ingest stopped): redb holds the file exclusively, so
//! [`super::Spool::open`] fails while ingest runs.

use redb::{ReadableTable as _, WriteTransaction};

use super::{BATCHES, META, Spool, SpoolError, blocking};

/// What [`Spool::erase_lines`] took out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasedLines {
    /// Lines removed.
    pub lines: u64,
    /// Batches that held at least one of them.
    pub batches: u64,
    /// Of those, batches left empty and removed.
    pub emptied: u64,
}

impl Spool {
    /// Removes every line for which `drop` is true (a line is one point of line protocol, without its
    /// `\n`) and updates the depth. Durable (fsynced) when it returns.
    pub async fn erase_lines(
        &self,
        drop: impl Fn(&[u8]) -> bool + Send + 'static,
    ) -> Result<ErasedLines, SpoolError> {
        let inner = self.inner.clone();
        let (erased, changed) = blocking(
            move || {
                let txn = inner.db.begin_write()?;
                let out = rewrite(&txn, &drop)?;
                txn.commit()?;
                Ok(out)
            },
            &self.inner.path,
        )
        .await?;
        {
            let mut s = self.state();
            for (key, kept) in changed {
                let Some(old) = s.entries.remove(&key) else {
                    continue;
                };
                s.points -= old.points;
                s.bytes -= old.bytes;
                if let Some((points, bytes)) = kept {
                    s.points += points;
                    s.bytes += bytes;
                    s.entries.insert(
                        key,
                        super::Entry {
                            points,
                            bytes,
                            created_ms: old.created_ms,
                        },
                    );
                }
            }
        }
        self.publish_depth();
        self.inner.freed.notify_waiters();
        Ok(erased)
    }
}

/// Changed batch: its key and its (points, bytes) if anything is left.
type Changed = Vec<(u64, Option<(u64, u64)>)>;

fn rewrite(
    txn: &WriteTransaction,
    drop: &dyn Fn(&[u8]) -> bool,
) -> Result<(ErasedLines, Changed), redb::Error> {
    let mut erased = ErasedLines::default();
    let mut changed = Vec::new();
    let mut batches = txn.open_table(BATCHES)?;
    let mut meta = txn.open_table(META)?;
    let mut rewrites = Vec::new();
    for item in batches.iter()? {
        let (k, v) = item?;
        let body = v.value();
        let lines = body.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        let (gone, kept): (Vec<&[u8]>, Vec<&[u8]>) = lines.partition(|l| drop(l));
        if gone.is_empty() {
            continue;
        }
        let mut rest = kept.join(&b'\n');
        if !rest.is_empty() {
            rest.push(b'\n');
        }
        rewrites.push((k.value(), gone.len() as u64, kept.len() as u64, rest));
    }
    for (key, gone, points, rest) in rewrites {
        erased.lines += gone;
        erased.batches += 1;
        let created = meta.get(key)?.map_or(0, |m| m.value().2);
        if points == 0 {
            erased.emptied += 1;
            batches.remove(key)?;
            meta.remove(key)?;
            changed.push((key, None));
        } else {
            let bytes = rest.len() as u64;
            batches.insert(key, rest.as_slice())?;
            meta.insert(key, (points, bytes, created))?;
            changed.push((key, Some((points, bytes))));
        }
    }
    Ok((erased, changed))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bytes::Bytes;
    use tokio_util::sync::CancellationToken;

    use super::{ErasedLines, Spool};
    use crate::Metrics;

    async fn open(path: &std::path::Path) -> Spool {
        let metrics = Metrics::unregistered().expect("metrics");
        Spool::open(path, 1 << 30, 1 << 20, metrics).await.expect("open")
    }

    /// The picked lines leave every batch, a batch left empty goes, the rest keeps its depth, and the file
    /// holds the result after a reopen.
    #[tokio::test]
    async fn erase_lines_rewrites_and_removes_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.redb");
        let stop = CancellationToken::new();
        let left = "readings,device=b,site=hh-13 p=2 1\n";
        {
            let spool = open(&path).await;
            let mixed = format!("readings,device=a,site=hh-12 p=1 1\n{left}");
            let only = "readings,device=a,site=hh-12 p=3 2\n";
            spool.push(Bytes::from(mixed), 2, &stop).await.expect("push");
            spool.push(Bytes::from(only), 1, &stop).await.expect("push");
            let erased = spool
                .erase_lines(|l| l.windows(11).any(|w| w == b",site=hh-12"))
                .await
                .expect("erase");
            let want = ErasedLines {
                lines: 2,
                batches: 2,
                emptied: 1,
            };
            assert_eq!(erased, want);
            assert_eq!(spool.depth(), (1, left.len() as u64, 1));
        }
        let spool = open(&path).await;
        assert_eq!(spool.depth(), (1, left.len() as u64, 1));
        let batches = spool.oldest(&HashSet::new(), 10).await.expect("read");
        assert_eq!(batches.len(), 1);
        assert_eq!(&batches[0].1[..], left.as_bytes());
        assert_eq!(batches[0].2, 1);
    }
}
