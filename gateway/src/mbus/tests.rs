//! The poller against the simulator's M-Bus/Ethernet gateway on a real TCP socket: a read of a
//! multi-telegram meter, a secondary-addressed one, a dead address (timeouts counted, retries), and a bus
//! where a dead meter does not delay the live ones. The bus client has no broker: publishes only queue.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use zw_meters::mbus::frame::SecondaryAddress;
use zw_model::Quantity;
use zw_model::inventory::StreamEndpoint;
use zw_model::status::ErrorKind;
use zw_sim::mbus_tcp::{self, MbusBusConfig, MbusMeterConfig};
use zw_sim::wmbus::Medium;

use super::link::{self, Link};
use super::read::{ReadLimits, read};
use super::*;
use crate::modbus::Delivery;
use crate::modbus::schedule::Outcome;

fn meter(address: u8, id: &str, medium: Medium, split: bool) -> MbusMeterConfig {
    MbusMeterConfig {
        address,
        manufacturer: "ZWS".into(),
        id: id.into(),
        medium,
        split,
    }
}

/// A simulated bus with a split heat meter at 5 and a water meter at 6 (id 20260006); its endpoint.
async fn sim_bus(stop: &CancellationToken) -> (StreamEndpoint, mbus_tcp::MbusBus) {
    let cfg = MbusBusConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        meters: vec![
            meter(5, "20260005", Medium::Heat, true),
            meter(6, "20260006", Medium::Water, false),
        ],
        update_interval: Duration::from_secs(1),
    };
    let listener = TcpListener::bind(cfg.listen).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let meters = mbus_tcp::bus(&cfg);
    tokio::spawn(mbus_tcp::serve(listener, meters.clone(), stop.clone()));
    let ep = StreamEndpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    (ep, meters)
}

fn id(s: &str) -> zw_model::Id {
    zw_model::Id::new(s).expect("id")
}

#[tokio::test]
async fn reads_multi_telegram_and_secondary_meters_and_counts_a_dead_address() {
    let stop = CancellationToken::new();
    let (ep, meters) = sim_bus(&stop).await;
    let state = meters.lock().expect("lock")[0].state.clone();
    let registry = prometheus::Registry::new();
    let m = MbusMetrics::register(&registry).expect("metrics");
    let mut link = Link::new(link::open(&ep, Duration::from_secs(1)).await.expect("open"));
    let limits = ReadLimits {
        timeout: Duration::from_millis(150),
        retries: 2,
        max_telegrams: 4,
    };
    let heat = id("heat");
    let r = read(&mut link, Target::Primary(5), limits, (&heat, &m)).await;
    assert_eq!(
        (&r.health, r.outcome, r.reconnect),
        (&Delivery::Complete, Outcome::Answered, false)
    );
    // Counters from the first telegram, gauges from the second.
    assert_eq!(
        r.values.get(&Quantity::HeatEnergy),
        Some(&state.energy_wh.round())
    );
    assert_eq!(r.values.get(&Quantity::FlowTemperature), Some(&state.flow_c));
    assert_eq!(m.telegrams.with_label_values(&["heat"]).get(), 2);

    let water = id("water");
    let sec = Target::Secondary(SecondaryAddress::from_id("20260006").expect("id"));
    let r = read(&mut link, sec, limits, (&water, &m)).await;
    assert_eq!(r.health, Delivery::Complete);
    assert_eq!(r.values.get(&Quantity::Volume), Some(&123.529));
    assert_eq!(
        r.values.get(&Quantity::HeatEnergy),
        None,
        "a value not sent is missing"
    );

    let dead = id("dead");
    let r = read(&mut link, Target::Primary(9), limits, (&dead, &m)).await;
    assert!(
        matches!(r.health, Delivery::Failed(ErrorKind::Timeout, _)),
        "{r:?}"
    );
    assert_eq!((r.outcome, r.values.is_empty()), (Outcome::Failed, true));
    assert_eq!(
        m.requests.with_label_values(&["dead", "timeout"]).get(),
        3,
        "one try and two retries"
    );
    // The link still works for the others.
    let r = read(&mut link, Target::Primary(5), limits, (&heat, &m)).await;
    assert_eq!(r.health, Delivery::Complete);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_meter_does_not_delay_the_live_ones() {
    let stop = CancellationToken::new();
    let (ep, _meters) = sim_bus(&stop).await;
    let crate::test_support::Brokerless {
        metrics,
        bus_cfg,
        bus,
        stop: bus_stop,
        driver,
    } = crate::test_support::brokerless_bus();
    let (outbox, _task) = crate::buffer::start(
        crate::buffer::Store::memory(1 << 20),
        bus.clone(),
        metrics.clone(),
    );
    let (publisher, _flusher) = crate::publish::Publisher::start(
        &crate::publish::PublishConfig::default(),
        &id("gw1"),
        outbox,
        bus_cfg.max_message_bytes,
        metrics.clone(),
    );
    let mut cfg = crate::Config::default();
    cfg.mbus.request_timeout = Duration::from_millis(300);
    cfg.mbus.probe_timeout = Duration::from_millis(300);
    let every = Duration::from_millis(500);
    let m = |device: &str, target| MbusMeter {
        site: id("school"),
        device: id(device),
        target,
        interval: every,
    };
    let meters = vec![
        m("heat", Target::Primary(5)),
        m("dead", Target::Primary(9)),
        m(
            "water",
            Target::Secondary(SecondaryAddress::from_id("20260006").expect("id")),
        ),
    ];
    let run = CancellationToken::new();
    let task = tokio::spawn(poll_bus(
        ep,
        meters,
        cfg,
        bus,
        publisher,
        metrics.clone(),
        run.clone(),
    ));
    let span = Duration::from_secs(5);
    tokio::time::sleep(span).await;
    run.cancel();
    task.await.expect("poller");
    let reads = |d: &str, o: &str| metrics.mbus.reads.with_label_values(&[d, o]).get();
    // Ten slots each in 5 s; the dead meter's first read (3 × 300 ms) and its probes cost at most a slot.
    for live in ["heat", "water"] {
        assert!(
            reads(live, "complete") >= 8,
            "{live}: {}",
            reads(live, "complete")
        );
        assert_eq!(reads(live, "failed"), 0, "{live}");
    }
    let dead_requests = metrics
        .mbus
        .requests
        .with_label_values(&["dead", "timeout"])
        .get();
    assert!(
        (3..=12).contains(&dead_requests),
        "dead meter requests: {dead_requests}"
    );
    assert_eq!(reads("dead", "failed"), 1, "backed off after its first failure");
    stop.cancel();
    bus_stop.cancel();
    let _ = driver.await;
}
