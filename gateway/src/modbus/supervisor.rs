//! The running endpoint tasks, one per endpoint of the plan, and how they follow the inventory: on a change
//! [`Supervisor::apply`] diffs the running endpoints with the new plan ([`super::diff_plans`]), stops the
//! tasks of endpoints that are gone or changed (each has its own cancellation token, a child of the
//! gateway's), starts the new and changed ones, and leaves every other task, with its connection and
//! schedule, alone.

use std::collections::BTreeMap;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zw_bus::BusClient;
use zw_model::inventory::ModbusEndpoint;

use super::{Endpoints, PolledDevice, diff_plans, poll_endpoint};
use crate::publish::Publisher;
use crate::{Config, Metrics};

/// One running endpoint task.
struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// The endpoint tasks of one gateway run.
pub struct Supervisor {
    cfg: Config,
    bus: BusClient,
    publisher: Publisher,
    metrics: Metrics,
    shutdown: CancellationToken,
    /// The running endpoints with their devices, as planned.
    planned: Endpoints,
    tasks: BTreeMap<String, Running>,
    /// Which endpoints this gateway polls (`[gateway.shards]`): each task polls only while its endpoint is owned.
    shard: crate::shards::Shard,
}

/// What one [`Supervisor::apply`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Endpoint tasks started (new or changed endpoints).
    pub started: usize,
    /// Endpoint tasks stopped (gone or changed endpoints).
    pub stopped: usize,
    /// Endpoint tasks left running.
    pub kept: usize,
    /// Devices polled now that were not before.
    pub added: Vec<String>,
    /// Devices no longer polled.
    pub removed: Vec<String>,
}

impl Supervisor {
    /// A supervisor with no endpoint running; tasks end at `shutdown` (or when their endpoint goes).
    pub fn new(
        cfg: Config,
        bus: BusClient,
        publisher: Publisher,
        metrics: Metrics,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            cfg,
            bus,
            publisher,
            metrics,
            shutdown,
            planned: Endpoints::new(),
            tasks: BTreeMap::new(),
            shard: crate::shards::Shard::all(),
        }
    }

    /// The same supervisor, polling each endpoint only while `shard` owns it.
    #[must_use]
    pub fn sharded(mut self, shard: crate::shards::Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Moves the running tasks to the plan `endpoints`: stops those gone or changed (waiting until they
    /// have dropped their connection), starts the new and changed ones, keeps the rest.
    pub async fn apply(&mut self, endpoints: Vec<(ModbusEndpoint, Vec<PolledDevice>)>) -> Applied {
        let diff = diff_plans(&self.planned, endpoints);
        let (added, removed) = diff.devices(&self.planned);
        let mut applied = Applied {
            started: diff.start.len(),
            stopped: diff.stop.len(),
            kept: diff.keep.len(),
            added,
            removed,
        };
        for key in &diff.stop {
            self.planned.remove(key);
            if let Some(r) = self.tasks.remove(key) {
                r.stop.cancel();
                let _ = r.task.await;
            }
        }
        for (endpoint, devices) in diff.start {
            let key = endpoint.key();
            let stop = self.shutdown.child_token();
            let (ep, devs, cfg) = (endpoint.clone(), devices.clone(), self.cfg.clone());
            let (bus, publisher, metrics) = (self.bus.clone(), self.publisher.clone(), self.metrics.clone());
            let poll = move |token| {
                poll_endpoint(
                    ep.clone(),
                    devs.clone(),
                    cfg.clone(),
                    bus.clone(),
                    publisher.clone(),
                    metrics.clone(),
                    token,
                )
            };
            let task = tokio::spawn(crate::shards::while_owned(
                key.clone(),
                self.shard.clone(),
                stop.clone(),
                poll,
            ));
            self.tasks.insert(key.clone(), Running { stop, task });
            self.planned.insert(key, (endpoint, devices));
        }
        applied.kept = self.tasks.len() - applied.started;
        applied
    }

    /// Endpoint tasks running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no endpoint task runs.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for every task to end (after the gateway's shutdown was cancelled).
    pub async fn join(self) {
        for (_, r) in self.tasks {
            let _ = r.task.await;
        }
    }
}
