use zw_bus::Members;
use zw_model::inventory::Device;

use super::*;

fn inventory() -> Inventory {
    let mut devices = Vec::new();
    for line in 0..6 {
        for unit in 1..=3u8 {
            devices.push(Device::modbus(
                &format!("m{line}-{unit}"),
                &format!("10.0.0.{line}:502"),
                unit,
                "sdm630",
            ));
        }
    }
    devices.push(Device::mbus("mb1", "10.0.1.1:10001", 1));
    devices.push(Device::mbus("mb2", "tcp://10.0.1.1:10001", 2));
    devices.push(Device::sml("s1", "serial:///dev/ttyUSB0"));
    for i in 0..20 {
        devices.push(Device::tasmota(&format!("p{i}"), &format!("plug{i}")));
    }
    Inventory::builder().building("b", devices).build()
}

fn settled(ids: &[&str]) -> Owners {
    let m = Members::new(ids.iter().copied());
    Owners {
        current: m.clone(),
        settled: m,
    }
}

fn key_of(inv: &Inventory, id: &str) -> String {
    let (_, d) = inv.devices().find(|(_, d)| d.id.as_str() == id).expect("device");
    device_key(d)
}

#[test]
fn a_bus_line_is_one_key_and_mqtt_devices_are_their_own() {
    let inv = inventory();
    assert_eq!(key_of(&inv, "m0-1"), key_of(&inv, "m0-3"));
    assert_ne!(key_of(&inv, "m0-1"), key_of(&inv, "m1-1"));
    // Two spellings of one M-Bus gateway are one bus.
    assert_eq!(key_of(&inv, "mb1"), key_of(&inv, "mb2"));
    assert_eq!(key_of(&inv, "s1"), "serial:///dev/ttyUSB0");
    assert_eq!(key_of(&inv, "p3"), "p3");
}

#[test]
fn every_device_has_exactly_one_owner_and_a_line_stays_together() {
    let inv = inventory();
    let owners = settled(&["gw-a", "gw-b", "gw-c"]);
    let split: Vec<BTreeSet<Id>> = ["gw-a", "gw-b", "gw-c"]
        .iter()
        .map(|me| owned_devices(&inv, &owners, me))
        .collect();
    for (_, d) in inv.devices() {
        let n = split.iter().filter(|s| s.contains(&d.id)).count();
        assert_eq!(n, 1, "{} owned by {n} gateways", d.id);
    }
    for line in 0..6 {
        let holder = split
            .iter()
            .position(|s| s.contains(&Id::new(format!("m{line}-1")).expect("id")))
            .expect("owner");
        for unit in 2..=3 {
            assert!(split[holder].contains(&Id::new(format!("m{line}-{unit}")).expect("id")));
        }
    }
    assert!(
        split.iter().all(|s| !s.is_empty()),
        "each of 3 gateways gets some of 29 keys"
    );
}

#[test]
fn a_gateway_gone_hands_only_its_devices_over_after_the_settle() {
    let inv = inventory();
    let both = settled(&["gw-a", "gw-b"]);
    let (a, b) = (
        owned_devices(&inv, &both, "gw-a"),
        owned_devices(&inv, &both, "gw-b"),
    );
    assert_eq!(a.len() + b.len(), inv.devices().count());
    // gw-b is gone: gw-a keeps its own at once and takes gw-b's only once the set settled.
    let noticed = Owners {
        current: Members::new(["gw-a"]),
        settled: both.current.clone(),
    };
    assert_eq!(owned_devices(&inv, &noticed, "gw-a"), a);
    let alone = settled(&["gw-a"]);
    assert_eq!(owned_devices(&inv, &alone, "gw-a").len(), inv.devices().count());
    // A newcomer works nothing before its view settled; then only its share.
    let fresh = Owners {
        current: both.current.clone(),
        settled: Members::default(),
    };
    assert!(owned_devices(&inv, &fresh, "gw-b").is_empty());
}

#[test]
fn without_shards_everything_is_owned_and_the_settings_are_checked() {
    let all = Shard::all();
    assert!(all.owns_key("10.0.0.1:502") && all.owns_device(&Id::new("p1").expect("id")));
    assert!(ShardsConfig::default().validate().is_empty());
    assert!(!ShardsConfig::default().enabled);
    let bad = ShardsConfig {
        enabled: true,
        heartbeat: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    };
    assert_eq!(
        bad.validate(),
        ["gateway.shards.timeout: must be at least 3 heartbeats (15s)"]
    );
}

#[tokio::test]
async fn a_task_runs_only_while_its_key_is_owned() {
    let (tx, rx) = watch::channel(Owners::default());
    let shard = Shard {
        me: "gw-a".into(),
        owners: Some(rx),
        devices: None,
    };
    let key = "10.0.0.1:502".to_owned();
    let (runs_tx, mut runs) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let task = tokio::spawn(while_owned(key.clone(), shard, stop.clone(), move |token| {
        let runs_tx = runs_tx.clone();
        async move {
            let _ = runs_tx.send("started");
            token.cancelled().await;
            let _ = runs_tx.send("stopped");
        }
    }));
    tokio::task::yield_now().await;
    assert!(runs.try_recv().is_err(), "not owned yet");
    tx.send_replace(settled(&["gw-a"]));
    assert_eq!(runs.recv().await, Some("started"));
    // Another gateway that owns the key joins: released at once.
    let other = (0..100)
        .map(|i| format!("gw-{i}"))
        .find(|g| Members::new([g.as_str(), "gw-a"]).owner(&key) == Some(g.as_str()))
        .expect("a gateway that wins the key");
    tx.send_replace(Owners {
        current: Members::new([other.as_str(), "gw-a"]),
        settled: Members::new(["gw-a"]),
    });
    assert_eq!(runs.recv().await, Some("stopped"));
    // It is gone again and that settled: taken back.
    tx.send_replace(settled(&["gw-a"]));
    assert_eq!(runs.recv().await, Some("started"));
    stop.cancel();
    assert_eq!(runs.recv().await, Some("stopped"));
    task.await.expect("task");
}
