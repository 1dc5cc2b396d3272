//! The live inventory of a process with a relational store (`[store] url`): one task per process that
//! follows the admin API's change notices and reloads the inventory from the store.
//!
//! At start ([`open`]) the process connects to the store (migrating it), imports the config's inventory
//! when `[store] import_on_start` (adds and updates, never retires; audited as `import`), reads the store's
//! version and then exports its inventory: that export is what every service of the process serves, as
//! one shared [`LiveInventory`].
//!
//! Then [`run`] subscribes (QoS 1) to [`ChangeNotice::TOPIC`] (retained, so a process that starts after a
//! change sees the latest notice at once). On a notice newer than the version last applied it reloads
//! [`Store::export_inventory`] and [`LiveInventory::replace`]s the process's inventory; every service
//! follows from there (ingest's known pairs, the API's router, the gateway's routes, analytics' detectors).
//! Versions only grow ([`Store::inventory_version`]), so a notice not newer than the applied one is
//! skipped, and a process that missed notices catches up with the next one. A failed reload is logged once
//! and retried with backoff (1 s doubling to 30 s) while the old inventory stays in service.
//!
//! Metrics: `zw_inventory_reloads_total`, `zw_inventory_reload_failures_total`, `zw_inventory_version`
//! (the version applied), `zw_inventory_notices_rejected_total` (a payload that is no notice).
//!
//! The feed logs in as `<service>-inventory` with the account of the process's first service: every
//! service account may read the topic (`deploy/conf/mosquitto.acl`), only `zw-api` may write it.

use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use prometheus::{IntCounter, IntGauge, Registry};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use zw_bus::{ChangeNotice, ConnectOptions, FullPolicy, LiveInventory, QoS};
use zw_store::{Stamp, Store};

/// Who the audit trail names for the import at start.
const IMPORT_ACTOR: &str = "import";

/// How often connecting (and migrating) and the import at start are tried: processes starting together
/// race to migrate a new database and to insert the same rows (one PostgreSQL transaction loses on a
/// unique key, SQLite may be busy); the next try finds them and changes nothing.
const START_TRIES: u32 = 4;

/// The first wait after a failed reload; doubled after each further failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reload attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The feed's counters.
#[derive(Clone)]
pub struct Metrics {
    reloads: IntCounter,
    failures: IntCounter,
    version: IntGauge,
    rejected: IntCounter,
}

impl Metrics {
    /// Registers the feed's metrics in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let reloads = IntCounter::new(
            "zw_inventory_reloads_total",
            "Inventory reloads from the store after a change notice.",
        )?;
        let failures = IntCounter::new(
            "zw_inventory_reload_failures_total",
            "Inventory reloads that failed (retried with backoff; the old inventory stays).",
        )?;
        let version = IntGauge::new(
            "zw_inventory_version",
            "The store's inventory version this process serves.",
        )?;
        let rejected = IntCounter::new(
            "zw_inventory_notices_rejected_total",
            "Messages on zw/v1/inventory/changed that are no change notice.",
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(version.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        Ok(Self {
            reloads,
            failures,
            version,
            rejected,
        })
    }
}

/// A process's store and the inventory it serves, as [`open`] found them.
#[derive(Clone)]
pub struct Opened {
    /// The store.
    pub store: Store,
    /// The store's inventory, shared by every service of the process.
    pub inventory: LiveInventory,
    /// The version the inventory is at least as new as.
    pub version: i64,
}

/// Connects to the store at `cfg.url` (migrating it), imports `file` when `cfg.import_on_start`, and
/// exports the inventory to serve. Fails when the store cannot be reached or the import is invalid (every
/// problem listed in the error).
pub async fn open(cfg: &zw_store::Config, file: &zw_model::Inventory) -> anyhow::Result<Option<Opened>> {
    let Some(url) = &cfg.url else {
        return Ok(None);
    };
    // Processes started together race to migrate a new SQLite file (one fails on "table already exists");
    // the next try finds the schema in place.
    let mut tries = 0;
    let store = loop {
        tries += 1;
        match Store::connect(url).await {
            Ok(store) => break store,
            Err(e @ zw_store::Error::Url(_)) => return Err(e).with_context(|| format!("store {url}")),
            Err(e) if tries < START_TRIES => {
                warn!(error = %e, try = tries, "Store not ready; trying again.");
                tokio::time::sleep(FIRST_BACKOFF * tries).await;
            }
            Err(e) => return Err(e).with_context(|| format!("store {url}")),
        }
    };
    if cfg.import_on_start {
        let mut tries = 0;
        let report = loop {
            tries += 1;
            match store
                .import_inventory(Stamp::new(IMPORT_ACTOR, Utc::now()), file)
                .await
            {
                Ok(report) => break report,
                Err(e @ zw_store::Error::Invalid(_)) => {
                    return Err(e).context("the config's inventory cannot be imported into the store");
                }
                Err(e) if tries < START_TRIES => {
                    warn!(error = %e, try = tries, "Inventory import failed; trying again.");
                    tokio::time::sleep(FIRST_BACKOFF * tries).await;
                }
                Err(e) => return Err(e).context("importing the config's inventory into the store"),
            }
        };
        info!(
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            "Config inventory imported into the store."
        );
    }
    // The version first: the export read after it holds at least every change up to it.
    let version = store.inventory_version().await?;
    let inventory = store.export_inventory().await?;
    info!(
        %url,
        version,
        sites = inventory.sites.len(),
        users = inventory.users.len(),
        "Serving the store's inventory."
    );
    Ok(Some(Opened {
        store,
        inventory: LiveInventory::new(inventory),
        version,
    }))
}

/// Follows the change notices until `stop`: see the module documentation. `service` names the account the
/// feed logs in with.
pub async fn run(
    bus: zw_bus::Bus,
    service: &'static str,
    opened: Opened,
    metrics: Metrics,
    stop: CancellationToken,
) {
    let Opened {
        store,
        inventory: live,
        version: mut applied,
    } = opened;
    metrics.version.set(applied);
    let opts = ConnectOptions {
        client: format!("{service}-inventory"),
        instance: std::process::id().to_string(),
        clean_session: true,
        subscriptions: vec![(ChangeNotice::TOPIC.to_owned(), QoS::AtLeastOnce)],
        manual_acks: false,
        full_policy: FullPolicy::Block,
        last_will: None,
    };
    let bus_stop = CancellationToken::new();
    let (client, mut inbound, driver) = bus.connect(opts, bus_stop.clone());
    loop {
        let msg = tokio::select! {
            () = stop.cancelled() => break,
            m = inbound.recv() => match m {
                Some(m) => m,
                None => break,
            },
        };
        let Some(notice) = ChangeNotice::parse(&msg.payload) else {
            metrics.rejected.inc();
            warn!(
                topic = %msg.topic,
                bytes = msg.payload.len(),
                "Not an inventory change notice (expected {{\"version\":…,\"at\":…,\"by\":…}}); ignored."
            );
            continue;
        };
        if notice.version <= applied {
            continue;
        }
        // Someone else in this process (the admin API, after its own change) may replace the inventory
        // while the export runs: then the export may predate that change, and it is read again rather
        // than put over a newer inventory.
        let inventory = loop {
            let mut others = live.subscribe();
            let Some(inventory) = reload(&store, &metrics, &stop).await else {
                break None;
            };
            if !others.has_changed().unwrap_or(false) {
                break Some(inventory);
            }
            others.borrow_and_update();
        };
        let Some(inventory) = inventory else {
            break;
        };
        let changed = live.replace(inventory);
        applied = notice.version;
        metrics.reloads.inc();
        metrics.version.set(applied);
        info!(version = applied, by = %notice.by, changed, "Inventory reloaded from the store.");
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    bus_stop.cancel();
}

/// The store's inventory, retried with backoff until it can be read; `None` once `stop` is cancelled.
/// The first failure of a series is logged as an error, the rest only counted, until one succeeds.
async fn reload(store: &Store, metrics: &Metrics, stop: &CancellationToken) -> Option<zw_model::Inventory> {
    let mut backoff = FIRST_BACKOFF;
    let mut failed = false;
    loop {
        match store.export_inventory().await {
            Ok(inventory) => {
                if failed {
                    info!("Inventory reload succeeded again.");
                }
                return Some(inventory);
            }
            Err(e) => {
                metrics.failures.inc();
                if !failed {
                    error!(error = %e, "Inventory reload failed; the old inventory stays, retrying with backoff.");
                    failed = true;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
