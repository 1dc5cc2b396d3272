//! `zaehlwerk import FILE...`: backfill historic readings from CSV exports and line-protocol files through
//! the ingest validation ([`zw_ingest::import`]) and write path ([`zw_ingest::Writer`]: batching, retries
//! with back-off, 413 splits, refused lines to the dead-letter store).
//!
//! A parser thread reads the files and sends batches over a bounded channel (capacity 2) to the writer,
//! which keeps up to `ingest.write_concurrency` writes in flight. Progress goes to stderr a few times a
//! second; at the end a summary lists the rejected rows by reason.
//!
//! Exit status: 0 all rows written, 2 finished but some rows were rejected (see the summary and the
//! dead-letter file), 1 a file could not be read or the import was interrupted.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use zw_ingest::import::{CsvHeader, Precision, lp_line};
use zw_ingest::{DeadLetter, Metrics, Record, Writer};

use zw_config::Config;

/// Arguments of `zaehlwerk import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Config file (TOML): `[influx]` is the target; `[ingest]` sets batch size, retries and dead-letter file.
    #[arg(long, short, env = "ZW_CONFIG")]
    pub config: Option<PathBuf>,
    /// Timestamp unit of line-protocol files: ns, us, ms or s.
    #[arg(long, default_value = "ns")]
    pub precision: String,
    /// Files to import: `*.csv` (columns ts,site,device,quantity,value), anything else is line protocol.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Counters shared by the parser thread, the writer and the progress line.
#[derive(Default)]
struct Progress {
    rows: AtomicU64,
    bytes: AtomicU64,
    rejected: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

/// Runs the import; returns the process exit status.
pub async fn run(args: ImportArgs, cfg: Config) -> anyhow::Result<u8> {
    let precision = Precision::parse(&args.precision)
        .with_context(|| format!("--precision {:?}: expected ns, us, ms or s", args.precision))?;
    let metrics = Metrics::unregistered()?;
    let dead = DeadLetter::new(&cfg.ingest.dead_letter, metrics.clone());
    let writer = Writer::new(
        zw_influx::Client::new(cfg.influx.clone())?,
        &cfg.ingest,
        metrics.clone(),
        dead.clone(),
    );
    let total: u64 = args
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let progress = Arc::new(Progress::default());
    let stop = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<(String, usize, Vec<Record>)>(2);
    let parser = {
        let (files, batch_size, progress) = (args.files.clone(), cfg.ingest.batch_size, progress.clone());
        tokio::task::spawn_blocking(move || parse_files(&files, precision, batch_size, &progress, &tx))
    };
    let ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            ctrl_c.cancel();
        }
    });
    let started = Instant::now();
    let mut writes = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut complete = true;
    loop {
        tokio::select! {
            batch = rx.recv() => {
                let Some((body, lines, rejected)) = batch else { break };
                dead.append(rejected).await;
                while writes.len() >= cfg.ingest.write_concurrency {
                    complete &= writes.join_next().await.is_some_and(|r| r.unwrap_or(false));
                }
                if lines > 0 {
                    let (w, s) = (writer.clone(), stop.clone());
                    writes.spawn(async move { w.write_retrying(Bytes::from(body), lines, &s).await });
                }
            }
            _ = tick.tick() => show(&progress, &metrics, total, started),
            () = stop.cancelled() => { complete = false; break; }
        }
    }
    while let Some(r) = writes.join_next().await {
        complete &= r.unwrap_or(false);
    }
    show(&progress, &metrics, total, started);
    eprintln!();
    let parsed = parser.await.context("parser thread")?;
    summary(&progress, &metrics, &cfg, started);
    parsed?;
    anyhow::ensure!(complete, "interrupted: not every batch was written");
    let refused = metrics.dead_letters.with_label_values(&["influx"]).get();
    let rejected: u64 = lock(&progress).values().sum();
    Ok(if rejected + refused > 0 { 2 } else { 0 })
}

/// Reads every file into batches of line protocol; rejected rows become dead-letter records.
fn parse_files(
    files: &[PathBuf],
    precision: Precision,
    batch_size: usize,
    progress: &Progress,
    tx: &mpsc::Sender<(String, usize, Vec<Record>)>,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let (mut body, mut lines, mut dead) = (String::new(), 0usize, Vec::new());
    for file in files {
        let f = std::fs::File::open(file).with_context(|| format!("{}", file.display()))?;
        let csv = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let mut header: Option<CsvHeader> = None;
        for (no, row) in BufReader::new(f).lines().enumerate() {
            let row = row.with_context(|| format!("{}:{}", file.display(), no + 1))?;
            progress.bytes.fetch_add(row.len() as u64 + 1, Ordering::Relaxed);
            let parsed = if !csv {
                lp_line(&row, precision, now)
            } else if let Some(h) = &header {
                h.row(&row, now).map(Some)
            } else if row.trim().is_empty() {
                Ok(None)
            } else {
                header =
                    Some(CsvHeader::parse(&row).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?);
                Ok(None)
            };
            match parsed {
                Ok(None) => continue,
                Ok(Some(r)) => {
                    zw_ingest::to_line(&r, &mut body)?;
                    lines += 1;
                }
                Err(rej) => {
                    *lock(progress).entry(rej.reason).or_default() += 1;
                    let mut rec = Record::new("import", rej.reason, rej.message);
                    rec.line = Some(format!("{}:{}: {row}", file.display(), no + 1));
                    dead.push(rec);
                }
            }
            progress.rows.fetch_add(1, Ordering::Relaxed);
            if lines >= batch_size || dead.len() >= batch_size {
                let batch = (
                    std::mem::take(&mut body),
                    std::mem::take(&mut lines),
                    std::mem::take(&mut dead),
                );
                if tx.blocking_send(batch).is_err() {
                    return Ok(()); // the writer stopped (interrupted)
                }
            }
        }
    }
    let _ = tx.blocking_send((body, lines, dead));
    Ok(())
}

fn show(p: &Progress, m: &Metrics, total: u64, started: Instant) {
    let bytes = p.bytes.load(Ordering::Relaxed);
    let pct = if total == 0 {
        100.0
    } else {
        bytes as f64 * 100.0 / total as f64
    };
    let rejected: u64 = lock(p).values().sum();
    let written = m.written.get();
    let rate = written as f64 / started.elapsed().as_secs_f64().max(0.001);
    eprint!(
        "\rimport: {pct:5.1}% of {:.1} MB, {} rows, {written} points written ({rate:.0}/s), {rejected} rejected   ",
        total as f64 / 1e6,
        p.rows.load(Ordering::Relaxed),
    );
    let _ = std::io::stderr().flush();
}

fn summary(p: &Progress, m: &Metrics, cfg: &Config, started: Instant) {
    let rejected = lock(p).clone();
    let refused = m.dead_letters.with_label_values(&["influx"]).get();
    eprintln!(
        "import: {} rows in {:.1}s: {} points written, {} rows rejected, {refused} lines refused by InfluxDB",
        p.rows.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        m.written.get(),
        rejected.values().sum::<u64>(),
    );
    for (reason, n) in &rejected {
        eprintln!("  rejected ({reason}): {n}");
    }
    if !rejected.is_empty() || refused > 0 {
        match &cfg.ingest.dead_letter.path {
            Some(p) => eprintln!("  details (row, reason, message) in {}", p.display()),
            None => eprintln!("  set ingest.dead_letter.path to keep the rejected rows with their reasons"),
        }
    }
}

fn lock(p: &Progress) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u64>> {
    p.rejected
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Entry point from `main` with the loaded config: sets up quiet logging and the runtime, runs the import.
pub fn main(args: ImportArgs, cfg: Config) -> Result<ExitCode, ExitCode> {
    // Only warnings and errors: the progress line owns stderr.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match crate::runtime(None)?.block_on(run(args, cfg)) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(e) => {
            eprintln!("error: {e:#}");
            Err(ExitCode::FAILURE)
        }
    }
}
