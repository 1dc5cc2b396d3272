//! What the gateway's unit tests share: a bus client with no broker behind it.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Metrics;

/// A publisher's bus connection to a free port nobody listens on: publishes only queue, so nothing waits on
/// a network. With the gateway's metrics and the bus metrics in one registry; cancel `stop` and await
/// `driver` at the end.
pub(crate) struct Brokerless {
    pub metrics: Metrics,
    pub bus_cfg: zw_bus::Config,
    pub bus: zw_bus::BusClient,
    pub stop: CancellationToken,
    pub driver: JoinHandle<()>,
}

pub(crate) fn brokerless_bus() -> Brokerless {
    let registry = prometheus::Registry::new();
    let metrics = Metrics::register(&registry).expect("metrics");
    let bus_cfg = zw_bus::Config {
        port: zw_tests::free_port(),
        ..zw_bus::Config::default()
    };
    let bus_metrics = zw_bus::Metrics::register(&registry).expect("bus metrics");
    let stop = CancellationToken::new();
    let (bus, _inbound, driver) = zw_bus::connect(
        &bus_cfg,
        zw_bus::ConnectOptions::publisher("gateway-test", "t"),
        &bus_metrics,
        stop.clone(),
    );
    Brokerless {
        metrics,
        bus_cfg,
        bus,
        stop,
        driver,
    }
}
