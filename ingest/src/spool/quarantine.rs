//! A spool file that cannot be read is moved aside, never allowed to stop ingest.
//!
//! A spool is corrupted by a failing disk, a full file system that truncated it, or someone copying another
//! file over it. Refusing to start would stop every reading of the town (and, in `zaehlwerk all`, every
//! service), so [`open_or_quarantine`] renames the unreadable file to `{name}.corrupt-{unix_ms}`, logs an
//! error naming it, raises `zw_ingest_spool_quarantined` (an alarm: it stays 1 until a restart finds no
//! new one), and opens a fresh spool in its place. What the old file held is not lost to the broker
//! either way: a batch is acknowledged only once committed, so only batches that were spooled and
//! acknowledged can be in it; they stay in the quarantined file for an offline look.
//!
//! Errors that say nothing about the file's content (another process holds it, permission denied, disk
//! full) still fail the start: moving the file aside would not help and could hide a live spool.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tracing::error;

use super::{Spool, SpoolError};
use crate::Metrics;

/// Whether redb's error means the file's content is not a readable spool.
pub fn is_unreadable(e: &redb::Error) -> bool {
    match e {
        redb::Error::Corrupted(_)
        | redb::Error::UpgradeRequired(_)
        | redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TableIsNotMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. } => true,
        redb::Error::Io(io) => matches!(io.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
        _ => false,
    }
}

/// Opens the spool at `path`; if its file is unreadable, moves it aside and opens a fresh one. Returns the
/// spool and, if one was moved aside, where it went.
pub async fn open_or_quarantine(
    path: &Path,
    max_bytes: u64,
    cache_bytes: usize,
    metrics: Metrics,
) -> Result<(Spool, Option<PathBuf>), SpoolError> {
    match Spool::open(path, max_bytes, cache_bytes, metrics.clone()).await {
        Ok(spool) => Ok((spool, None)),
        Err(SpoolError::Db { source, .. }) if is_unreadable(&source) => {
            let aside = quarantine_path(path, chrono::Utc::now().timestamp_millis());
            std::fs::rename(path, &aside).map_err(|e| SpoolError::Db {
                path: path.to_path_buf(),
                source: redb::Error::Io(e),
            })?;
            error!(spool = %path.display(), moved_to = %aside.display(), error = %source,
                "Spool file unreadable: moved aside, starting with an empty spool.");
            metrics.spool_quarantined.set(1);
            let spool = Spool::open(path, max_bytes, cache_bytes, metrics).await?;
            Ok((spool, Some(aside)))
        }
        Err(e) => Err(e),
    }
}

/// `{path}.corrupt-{unix_ms}` beside the spool.
fn quarantine_path(path: &Path, unix_ms: i64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{unix_ms}"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::register(&prometheus::Registry::new()).expect("metrics")
    }

    #[tokio::test]
    async fn a_garbage_file_is_moved_aside_and_a_fresh_spool_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.redb");
        std::fs::write(&path, vec![0x5a; 8192]).expect("write");
        let m = metrics();
        let (spool, aside) = open_or_quarantine(&path, 64 << 20, 1 << 20, m.clone())
            .await
            .expect("opens");
        let aside = aside.expect("moved aside");
        assert!(spool.is_empty());
        assert_eq!(std::fs::read(&aside).expect("kept"), vec![0x5a; 8192]);
        assert!(
            aside
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("spool.redb.corrupt-"))
        );
        assert_eq!(m.spool_quarantined.get(), 1);
    }

    #[tokio::test]
    async fn a_healthy_spool_is_opened_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.redb");
        drop(
            Spool::open(&path, 64 << 20, 1 << 20, metrics())
                .await
                .expect("create"),
        );
        let m = metrics();
        let (_spool, aside) = open_or_quarantine(&path, 64 << 20, 1 << 20, m.clone())
            .await
            .expect("opens");
        assert_eq!(aside, None);
        assert_eq!(m.spool_quarantined.get(), 0);
    }

    #[tokio::test]
    async fn a_spool_another_process_holds_is_an_error_not_quarantined() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spool.redb");
        let _held = Spool::open(&path, 64 << 20, 1 << 20, metrics())
            .await
            .expect("create");
        let err = open_or_quarantine(&path, 64 << 20, 1 << 20, metrics())
            .await
            .err();
        assert!(err.is_some(), "a held spool must not open twice");
        assert!(path.exists());
        let siblings = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(siblings, 1, "nothing moved aside");
    }
}
