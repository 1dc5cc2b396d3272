//! The buffer's storage: a FIFO of compressed chunks ([`super::record`]) on disk (redb, `gateway.buffer.path`)
//! or in memory, bounded by bytes, dropping the OLDEST chunks when a new one does not fit.
//!
//! Synchronous on purpose: one task owns the store and runs it off the async threads (`spawn_blocking`).
//!
//! Guarantees (disk):
//! * a pushed chunk is committed with fsync (redb `Durability::Immediate`) before [`Store::push`] returns,
//!   so it survives kill -9 and power loss; reopening the file recovers every chunk in order;
//! * removing a drained chunk is not fsynced (unless it empties the store): after a crash it may come back
//!   and be published twice, which is harmless (a reading is identified by device and timestamp);
//! * drops make room in the same transaction that adds the new chunk.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::record::{self, Corrupt, Message};

const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
/// key → (stored bytes, messages, readings): the index, read at start without the payloads.
const META: TableDefinition<u64, (u64, u32, u64)> = TableDefinition::new("meta");

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The buffer file could not be opened, read or written.
    #[error("gateway buffer {path}: {source}")]
    Db {
        /// The buffer file.
        path: PathBuf,
        /// What redb reported.
        source: Box<redb::Error>,
    },
    /// A stored chunk does not decode.
    #[error("gateway buffer: {0}")]
    Corrupt(#[from] Corrupt),
}

/// One stored chunk, as the index knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Meta {
    key: u64,
    bytes: u64,
    messages: u32,
    readings: u64,
}

enum Backend {
    Memory(BTreeMap<u64, Vec<u8>>),
    Disk { db: Database, path: PathBuf },
}

/// What [`Store::push`] dropped to make room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Messages dropped.
    pub messages: u64,
    /// Readings in them.
    pub readings: u64,
}

/// The chunk FIFO. Not `Sync`: one owner.
pub struct Store {
    backend: Backend,
    index: VecDeque<Meta>,
    next_key: u64,
    bytes: u64,
    readings: u64,
    max_bytes: u64,
    /// The oldest chunk, decoded, and how many of its messages were handed to the bus already.
    front: Option<(u64, Vec<Message>, usize)>,
}

impl Store {
    /// An in-memory store of at most `max_bytes` (lost with the process).
    pub fn memory(max_bytes: u64) -> Self {
        Self::with(Backend::Memory(BTreeMap::new()), VecDeque::new(), max_bytes)
    }

    /// Opens (or creates) the store file at `path` and loads its index; chunks left by an earlier run come
    /// first.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, StoreError> {
        let err = |e: redb::Error| StoreError::Db {
            path: path.to_path_buf(),
            source: Box::new(e),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.into()))?;
        }
        let db = Database::create(path).map_err(|e| err(e.into()))?;
        let index = load_index(&db).map_err(err)?;
        let backend = Backend::Disk {
            db,
            path: path.to_path_buf(),
        };
        Ok(Self::with(backend, index, max_bytes))
    }

    fn with(backend: Backend, index: VecDeque<Meta>, max_bytes: u64) -> Self {
        Self {
            next_key: index.back().map_or(0, |m| m.key + 1),
            bytes: index.iter().map(|m| m.bytes).sum(),
            readings: index.iter().map(|m| m.readings).sum(),
            backend,
            index,
            max_bytes,
            front: None,
        }
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Stored bytes (compressed chunks).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Readings waiting (those of the front chunk already handed over included until it is removed).
    pub fn readings(&self) -> u64 {
        self.readings
    }

    /// Appends `messages` as one chunk, first dropping the oldest chunks it needs room from. A chunk larger
    /// than the whole store is stored alone (validation keeps `max_bytes` far above a chunk's size).
    pub fn push(&mut self, messages: &[Message]) -> Result<Dropped, StoreError> {
        if messages.is_empty() {
            return Ok(Dropped::default());
        }
        let chunk = record::encode(messages);
        let meta = Meta {
            key: self.next_key,
            bytes: chunk.len() as u64,
            messages: u32::try_from(messages.len()).unwrap_or(u32::MAX),
            readings: messages.iter().map(|m| u64::from(m.readings)).sum(),
        };
        let mut drop = Vec::new();
        let mut bytes = self.bytes;
        for m in &self.index {
            if bytes + meta.bytes <= self.max_bytes {
                break;
            }
            bytes -= m.bytes;
            drop.push(*m);
        }
        match &mut self.backend {
            Backend::Memory(map) => {
                for m in &drop {
                    map.remove(&m.key);
                }
                map.insert(meta.key, chunk);
            }
            Backend::Disk { db, path } => write(
                db,
                path,
                |txn| {
                    let mut chunks = txn.open_table(CHUNKS)?;
                    let mut index = txn.open_table(META)?;
                    for m in &drop {
                        chunks.remove(m.key)?;
                        index.remove(m.key)?;
                    }
                    chunks.insert(meta.key, chunk.as_slice())?;
                    index.insert(meta.key, (meta.bytes, meta.messages, meta.readings))?;
                    Ok(())
                },
                Durability::Immediate,
            )?,
        }
        let mut dropped = Dropped::default();
        for m in drop {
            self.index.pop_front();
            self.bytes -= m.bytes;
            self.readings -= m.readings;
            dropped.messages += u64::from(m.messages);
            dropped.readings += m.readings;
            if self.front.as_ref().is_some_and(|f| f.0 == m.key) {
                self.front = None;
            }
        }
        self.index.push_back(meta);
        self.next_key += 1;
        self.bytes += meta.bytes;
        self.readings += meta.readings;
        Ok(dropped)
    }

    /// The messages of the oldest chunk not yet handed to the bus, oldest first (empty when the store is).
    pub fn pending(&mut self) -> Result<&[Message], StoreError> {
        let Some(meta) = self.index.front().copied() else {
            return Ok(&[]);
        };
        if self.front.as_ref().is_none_or(|f| f.0 != meta.key) {
            let messages = match &self.backend {
                Backend::Memory(map) => record::decode(map.get(&meta.key).map_or(&[][..], Vec::as_slice))?,
                Backend::Disk { db, path } => {
                    let chunk = read(db, meta.key).map_err(|e| StoreError::Db {
                        path: path.clone(),
                        source: Box::new(e),
                    })?;
                    record::decode(&chunk)?
                }
            };
            self.front = Some((meta.key, messages, 0));
        }
        Ok(self.front.as_ref().map_or(&[][..], |(_, m, at)| &m[*at..]))
    }

    /// Marks the first `n` messages of [`Store::pending`] as handed to the bus; removes the chunk once all
    /// of its messages are.
    pub fn consumed(&mut self, n: usize) -> Result<(), StoreError> {
        let Some((_, messages, at)) = self.front.as_mut() else {
            return Ok(());
        };
        *at = (*at + n).min(messages.len());
        if *at < messages.len() {
            return Ok(());
        }
        self.remove_front().map(|_| ())
    }

    /// Removes the oldest chunk unread (one that does not decode); returns what it held.
    pub fn skip_front(&mut self) -> Result<Dropped, StoreError> {
        self.remove_front()
    }

    fn remove_front(&mut self) -> Result<Dropped, StoreError> {
        self.front = None;
        let Some(meta) = self.index.pop_front() else {
            return Ok(Dropped::default());
        };
        let key = meta.key;
        self.bytes -= meta.bytes;
        self.readings -= meta.readings;
        let last = self.index.is_empty();
        match &mut self.backend {
            Backend::Memory(map) => {
                map.remove(&key);
            }
            Backend::Disk { db, path } => {
                // Not fsynced unless it empties the store: see the module docs.
                let durability = if last {
                    Durability::Immediate
                } else {
                    Durability::None
                };
                write(
                    db,
                    path,
                    |txn| {
                        txn.open_table(CHUNKS)?.remove(key)?;
                        txn.open_table(META)?.remove(key)?;
                        Ok(())
                    },
                    durability,
                )?;
            }
        }
        Ok(Dropped {
            messages: u64::from(meta.messages),
            readings: meta.readings,
        })
    }
}

fn load_index(db: &Database) -> Result<VecDeque<Meta>, redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(CHUNKS)?;
    txn.open_table(META)?;
    txn.commit()?;
    let read = db.begin_read()?;
    let mut index = VecDeque::new();
    for item in read.open_table(META)?.iter()? {
        let (k, v) = item?;
        let (bytes, messages, readings) = v.value();
        index.push_back(Meta {
            key: k.value(),
            bytes,
            messages,
            readings,
        });
    }
    Ok(index)
}

fn read(db: &Database, key: u64) -> Result<Vec<u8>, redb::Error> {
    let read = db.begin_read()?;
    let table = read.open_table(CHUNKS)?;
    Ok(table.get(key)?.map(|v| v.value().to_vec()).unwrap_or_default())
}

fn write(
    db: &Database,
    path: &Path,
    f: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error>,
    durability: Durability,
) -> Result<(), StoreError> {
    let run = || -> Result<(), redb::Error> {
        let mut txn = db.begin_write()?;
        txn.set_durability(durability)?;
        f(&txn)?;
        txn.commit()?;
        Ok(())
    };
    run().map_err(|e| StoreError::Db {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

#[cfg(test)]
mod tests;
