//! The store's repository tests, each run on SQLite (a temporary file) and on a real PostgreSQL started by
//! the test harness (`zw_tests::Stack::builder().postgres()`).
//!
//! Every scenario is an `async fn(&Store, url)` listed once in `scenarios!`, which makes one `#[tokio::test]`
//! per scenario on SQLite and one test that runs them all on one PostgreSQL server, each in a fresh
//! database (a server per scenario would spend most of the run in `initdb`).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use zw_model::inventory::{fixtures, token_hash};
use zw_model::{Device, Id, Inventory, Role, Site, SiteKind, Tree, User};
use zw_store::{
    Change, DeviceRecord, Error, NewAlert, NewWatering, SiteDetails, SiteRecord, Stamp, Store, inventory_toml,
};

#[path = "store/inventory.rs"]
mod inventory;
use inventory::*;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let url = format!("sqlite://{}/state/zaehlwerk.db", dir.path().display());
                    let store = zw_store::Store::connect(&url).await.expect("connect");
                    assert_eq!(store.backend(), zw_store::Backend::Sqlite);
                    super::$name(&store, &url).await;
                    store.close().await;
                }
            )*
        }

        #[tokio::test]
        async fn postgres_every_scenario() {
            let stack = zw_tests::Stack::builder().postgres().start().await.expect("postgres starts");
            let pg = stack.postgres();
            $(
                eprintln!("postgres: {}", stringify!($name));
                pg.create_database(stringify!($name)).await.expect("createdb");
                let url = pg.url(stringify!($name));
                let store = Store::connect(&url).await.expect("connect");
                assert_eq!(store.backend(), zw_store::Backend::Postgres);
                $name(&store, &url).await;
                store.close().await;
            )*
        }
    };
}

scenarios!(
    migrations_run_once,
    sites_and_devices_with_retire,
    users_and_scope_with_retire,
    every_change_is_audited,
    inventory_version_grows_with_every_change,
    tokens_expire_and_revoke,
    activation_codes_onboard_a_resident,
    alert_book_acknowledges_and_comments,
    watering_log,
    tree_district_survives_the_store,
    import_is_idempotent_and_keeps_details,
    round_trip_demo_config,
    round_trip_example_config,
    meter_keys_are_kept_apart_and_never_shown,
);

/// Minute `m` of the test's day.
fn t(m: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
        + Duration::minutes(m)
}

/// The admin `root` at minute `m`.
fn by(m: i64) -> Stamp<'static> {
    Stamp::new("root", t(m))
}

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

#[track_caller]
fn invalid(result: Result<impl std::fmt::Debug, Error>, expected: &[&str]) {
    match result {
        Err(Error::Invalid(errors)) => fixtures::assert_reported(&errors, expected),
        other => panic!("expected Invalid {expected:?}, got {other:?}"),
    }
}

#[track_caller]
fn not_found(result: Result<impl std::fmt::Debug, Error>) {
    assert!(matches!(result, Err(Error::NotFound { .. })), "{result:?}");
}

async fn migrations_run_once(store: &Store, url: &str) {
    let all: Vec<i64> = zw_store::migrate::MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(store.applied_migrations().await.expect("applied"), all);
    store.migrate().await.expect("second run");
    let again = Store::connect(url).await.expect("reconnect migrates again");
    assert_eq!(again.applied_migrations().await.expect("applied"), all);
    again.close().await;
}

async fn sites_and_devices_with_retire(store: &Store, _: &str) {
    let mut hall = SiteRecord::of(&fixtures::town_hall(
        "127.0.0.1:502",
        std::time::Duration::from_secs(5),
    ));
    hall.details = SiteDetails {
        address: Some("Marktplatz 1".into()),
        floor_area_m2: Some(2400.5),
        building_category: Some("town_hall".into()),
        usage_hours: Some("Mo-Fr 07:00-18:00".into()),
    };
    assert_eq!(
        store.put_site(by(0), &hall).await.expect("create"),
        Change::Created
    );
    assert_eq!(
        store.put_site(by(1), &hall).await.expect("same"),
        Change::Unchanged
    );
    hall.name = "Rathaus".into();
    assert_eq!(
        store.put_site(by(2), &hall).await.expect("rename"),
        Change::Updated
    );
    let stored = store.site("rathaus").await.expect("get").expect("stored");
    assert_eq!(stored.value, hall);
    assert_eq!(
        (stored.created_at, stored.updated_at, stored.retired_at),
        (t(0), t(2), None)
    );

    let mut bad = hall.clone();
    bad.details.floor_area_m2 = Some(-3.0);
    invalid(store.put_site(by(3), &bad).await, &["site.floor_area_m2"]);

    let meter = DeviceRecord {
        site: id("rathaus"),
        device: Device::modbus("rathaus-main", "127.0.0.1:502", 1, "sdm630"),
    };
    assert_eq!(
        store.put_device(by(4), &meter).await.expect("device"),
        Change::Created
    );
    let stray = DeviceRecord {
        site: id("nowhere"),
        device: Device::tasmota("stray", "stray1"),
    };
    invalid(
        store.put_device(by(5), &stray).await,
        &["device.site: unknown site"],
    );
    let broken = DeviceRecord {
        site: id("rathaus"),
        device: Device::modbus("broken", "no-port", 0, "sdm630"),
    };
    invalid(
        store.put_device(by(5), &broken).await,
        &[
            "sites[0].devices[1].source.endpoint",
            "sites[0].devices[1].source.unit_id",
        ],
    );
    let plug = DeviceRecord {
        site: id("rathaus"),
        device: Device::tasmota("kitchen-plug", "plug9"),
    };
    store.put_device(by(6), &plug).await.expect("plug");
    let twin = DeviceRecord {
        site: id("rathaus"),
        device: Device::tasmota("twin-plug", "plug9"),
    };
    invalid(
        store.put_device(by(7), &twin).await,
        &["sites[0].devices[2].source: topic"],
    );

    assert_eq!(
        store.retire_device(by(8), "kitchen-plug").await.expect("retire"),
        Change::Updated
    );
    assert_eq!(
        store.retire_device(by(9), "kitchen-plug").await.expect("again"),
        Change::Unchanged
    );
    not_found(store.retire_device(by(9), "no-such-device").await);
    // The topic is free again once its device is retired.
    store
        .put_device(by(10), &twin)
        .await
        .expect("twin after retirement");

    assert_eq!(
        store.retire_site(by(11), "rathaus").await.expect("retire site"),
        Change::Updated
    );
    let devices = store.devices(true).await.expect("devices");
    assert!(devices.iter().all(|d| d.retired_at.is_some()), "{devices:#?}");
    assert!(store.export_inventory().await.expect("export").sites.is_empty());
    assert_eq!(store.sites(true).await.expect("all sites").len(), 1);
    // Putting a retired site brings it back, its devices stay retired.
    assert_eq!(
        store.put_site(by(12), &hall).await.expect("revive"),
        Change::Updated
    );
    let back = store.export_inventory().await.expect("export");
    assert_eq!(back.sites.len(), 1);
    assert!(back.sites[0].devices.is_empty());
    not_found(store.retire_site(by(13), "nowhere").await);
}

async fn users_and_scope_with_retire(store: &Store, _: &str) {
    let hh = fixtures::household_with_plug("hh-1", "plug1");
    store
        .put_site(by(0), &SiteRecord::of(&hh))
        .await
        .expect("household");
    let anna = User::with_token("anna", Role::Resident, &["hh-1"], "anna");
    assert_eq!(store.put_user(by(1), &anna).await.expect("anna"), Change::Created);
    assert_eq!(
        store.put_user(by(2), &anna).await.expect("same"),
        Change::Unchanged
    );
    assert_eq!(
        store.user("anna").await.expect("get").expect("stored").value,
        anna
    );
    let wrong = User::with_token("bert", Role::Resident, &["*"], "bert");
    invalid(
        store.put_user(by(3), &wrong).await,
        &["users[1].scope[0]: a resident's scope is one household"],
    );
    let thief = User::with_token("carl", Role::Admin, &["*"], "anna");
    invalid(
        store.put_user(by(3), &thief).await,
        &["users[1].token_sha256: the same token"],
    );

    invalid(
        store.retire_site(by(4), "hh-1").await,
        &["users[0].scope[0]: unknown site"],
    );
    assert_eq!(
        store.retire_user(by(5), "anna").await.expect("retire"),
        Change::Updated
    );
    assert_eq!(
        store.retire_user(by(6), "anna").await.expect("again"),
        Change::Unchanged
    );
    not_found(store.retire_user(by(6), "nobody").await);
    assert!(store.users(false).await.expect("live").is_empty());
    assert_eq!(
        store.retire_site(by(7), "hh-1").await.expect("retire site"),
        Change::Updated
    );
}

async fn every_change_is_audited(store: &Store, _: &str) {
    let park = Site::new(
        "park",
        SiteKind::Park,
        [Device::ttn("soil-1", "v3/a@b/devices/s1/up", "lse01")],
    );
    store.put_site(by(0), &SiteRecord::of(&park)).await.expect("park");
    store
        .put_site(by(1), &SiteRecord::of(&park))
        .await
        .expect("unchanged");
    let mut renamed = SiteRecord::of(&park);
    renamed.name = "Stadtpark".into();
    store.put_site(by(2), &renamed).await.expect("rename");
    let soil = DeviceRecord {
        site: id("park"),
        device: park.devices[0].clone(),
    };
    store.put_device(by(3), &soil).await.expect("sensor");
    store
        .put_tree(by(4), &Tree::new("linde-1", "park", &["soil-1"]))
        .await
        .expect("tree");
    invalid(
        store.retire_device(by(5), "soil-1").await,
        &["trees[0].sensors[0]: no device \"soil-1\""],
    );
    store.retire_tree(by(6), "linde-1").await.expect("retire tree");
    store.retire_device(by(7), "soil-1").await.expect("retire sensor");

    let log = store.audit_log(None, None).await.expect("audit");
    let summary: Vec<(&str, &str, &str, DateTime<Utc>)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.entity.as_str(), e.entity_id.as_str(), e.at))
        .collect();
    assert_eq!(
        summary,
        [
            ("create", "site", "park", t(0)),
            ("update", "site", "park", t(2)),
            ("create", "device", "soil-1", t(3)),
            ("create", "tree", "linde-1", t(4)),
            ("retire", "tree", "linde-1", t(6)),
            ("retire", "device", "soil-1", t(7)),
        ]
    );
    assert!(log.iter().all(|e| e.actor == "root"));
    assert_eq!(log[0].before, None);
    assert_eq!(log[1].before.as_ref().map(|b| &b["name"]), Some(&json!("")));
    assert_eq!(
        log[1].after.as_ref().map(|a| &a["name"]),
        Some(&json!("Stadtpark"))
    );
    assert_eq!(log[5].before.as_ref().map(|b| &b["site"]), Some(&json!("park")));
    assert_eq!(log[5].after, None);
    let of_site = store
        .audit_log(Some("site"), Some("park"))
        .await
        .expect("site audit");
    assert_eq!(of_site.len(), 2);
}

async fn inventory_version_grows_with_every_change(store: &Store, url: &str) {
    assert_eq!(store.inventory_version().await.expect("empty"), 0);
    let park = Site::new("park", SiteKind::Park, []);
    store.put_site(by(0), &SiteRecord::of(&park)).await.expect("park");
    assert_eq!(store.inventory_version().await.expect("one"), 1);
    store
        .put_site(by(1), &SiteRecord::of(&park))
        .await
        .expect("unchanged");
    assert_eq!(
        store.inventory_version().await.expect("unchanged"),
        1,
        "a put that changes nothing is no new version"
    );
    let mut renamed = SiteRecord::of(&park);
    renamed.name = "Stadtpark".into();
    store.put_site(by(2), &renamed).await.expect("rename");
    let v = store.inventory_version().await.expect("two");
    assert_eq!(v, 2);
    assert_eq!(v, store.audit_log(None, None).await.expect("audit").len() as i64);
    let other = Store::connect(url).await.expect("second connection");
    assert_eq!(
        other.inventory_version().await.expect("seen by another process"),
        2
    );
    other.close().await;
}

async fn tokens_expire_and_revoke(store: &Store, _: &str) {
    store
        .import_inventory(by(0), &fixtures::town())
        .await
        .expect("import");
    let anna = store
        .user_by_token(&token_hash("anna"), t(0))
        .await
        .expect("lookup");
    assert_eq!(anna.map(|u| u.name), Some(id("anna")));
    assert_eq!(
        store
            .user_by_token(&token_hash("nobody"), t(0))
            .await
            .expect("lookup"),
        None
    );

    let second = token_hash("anna-2");
    store
        .add_token(by(1), "anna", &second, Some(t(60)))
        .await
        .expect("second token");
    let at = |m| store.user_by_token(&second, t(m));
    assert!(at(59).await.expect("lookup").is_some());
    assert!(at(60).await.expect("lookup").is_none(), "expired at its expiry");
    invalid(
        store.add_token(by(2), "fm", &second, None).await,
        &["user \"fm\": the token is already used by another user"],
    );
    invalid(store.add_token(by(2), "fm", "ABC", None).await, &["token_sha256"]);
    not_found(store.add_token(by(2), "nobody", &token_hash("x"), None).await);

    assert_eq!(
        store
            .revoke_token(by(3), &token_hash("anna"))
            .await
            .expect("revoke"),
        Change::Updated
    );
    assert_eq!(
        store
            .revoke_token(by(4), &token_hash("anna"))
            .await
            .expect("again"),
        Change::Unchanged
    );
    not_found(store.revoke_token(by(4), &token_hash("never issued")).await);
    assert_eq!(
        store
            .user_by_token(&token_hash("anna"), t(5))
            .await
            .expect("lookup"),
        None
    );
    let stored = store.user("anna").await.expect("get").expect("anna");
    assert_eq!(
        (stored.value.token_sha256.as_str(), stored.value.token_expires),
        (second.as_str(), Some(t(60)))
    );

    store.retire_user(by(6), "fm").await.expect("retire fm");
    assert_eq!(
        store
            .user_by_token(&token_hash("fm"), t(7))
            .await
            .expect("lookup"),
        None
    );
}

async fn activation_codes_onboard_a_resident(store: &Store, _: &str) {
    store
        .import_inventory(by(0), &fixtures::town())
        .await
        .expect("import");
    let code = token_hash("K7Q2-PL9X");
    let a = store
        .create_activation(by(1), "hh-2", &code, t(100))
        .await
        .expect("code");
    assert_eq!(
        (a.site.as_str(), a.created_by.as_str(), a.expires_at),
        ("hh-2", "root", t(100))
    );
    invalid(
        store
            .create_activation(by(1), "rathaus", &token_hash("other"), t(100))
            .await,
        &["activation.site: \"rathaus\" is a building"],
    );
    not_found(
        store
            .create_activation(by(1), "hh-404", &token_hash("x"), t(100))
            .await,
    );

    let bernd = store
        .redeem_activation(
            Stamp::new("bernd", t(50)),
            &code,
            &id("bernd"),
            &token_hash("bernd"),
        )
        .await
        .expect("redeem");
    assert_eq!(
        (bernd.role, bernd.scope.clone()),
        (Role::Resident, vec!["hh-2".to_owned()])
    );
    let seen = store
        .user_by_token(&token_hash("bernd"), t(51))
        .await
        .expect("lookup");
    assert_eq!(seen, Some(bernd));
    not_found(
        store
            .redeem_activation(Stamp::new("eve", t(52)), &code, &id("eve"), &token_hash("eve"))
            .await,
    );
    let late = token_hash("late");
    store
        .create_activation(by(2), "hh-1", &late, t(10))
        .await
        .expect("short code");
    not_found(
        store
            .redeem_activation(
                Stamp::new("x", t(10)),
                &late,
                &id("late"),
                &token_hash("late-token"),
            )
            .await,
    );
    let audit = store.audit_log(Some("user"), Some("bernd")).await.expect("audit");
    assert_eq!(
        audit.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["activate"]
    );
}

async fn alert_book_acknowledges_and_comments(store: &Store, _: &str) {
    let analytics = |m| Stamp::new("analytics", t(m));
    let alert = NewAlert {
        alert_id: "high_consumption.rathaus.rathaus-main".into(),
        kind: "high_consumption".into(),
        site: Some("rathaus".into()),
        subject: "rathaus-main".into(),
        detail: Some(json!({"observed": 4300.0, "unit": "W"})),
    };
    let first = store.open_alert(analytics(0), &alert).await.expect("open");
    let again = store.open_alert(analytics(5), &alert).await.expect("still open");
    assert_eq!(again, first, "an open alert re-published is the same episode");

    let acked = store
        .acknowledge_alert(Stamp::new("fm", t(10)), &alert.alert_id)
        .await
        .expect("ack");
    assert_eq!(acked.acknowledged, Some(("fm".to_owned(), t(10))));
    store
        .comment_alert(Stamp::new("fm", t(11)), &first.id, "Lüftung läuft nachts")
        .await
        .expect("c1");
    store
        .comment_alert(by(12), &first.id, "Techniker bestellt")
        .await
        .expect("c2");
    invalid(
        store.comment_alert(by(13), &first.id, "  ").await,
        &["comment.body"],
    );
    not_found(store.comment_alert(by(13), "no-episode", "x").await);
    let comments = store.alert_comments(&first.id).await.expect("comments");
    let texts: Vec<(&str, &str)> = comments
        .iter()
        .map(|c| (c.author.as_str(), c.body.as_str()))
        .collect();
    assert_eq!(
        texts,
        [("fm", "Lüftung läuft nachts"), ("root", "Techniker bestellt")]
    );

    let closed = store
        .close_alert(analytics(20), &alert.alert_id)
        .await
        .expect("close")
        .expect("was open");
    assert_eq!(closed.closed_at, Some(t(20)));
    assert_eq!(
        store
            .close_alert(analytics(21), &alert.alert_id)
            .await
            .expect("close"),
        None
    );
    not_found(store.acknowledge_alert(by(22), &alert.alert_id).await);

    let second = store.open_alert(analytics(30), &alert).await.expect("reopen");
    assert_ne!(second.id, first.id);
    assert_eq!(second.acknowledged, None);
    let history = store
        .alert_history(Some(&alert.alert_id), t(0), t(60))
        .await
        .expect("history");
    assert_eq!(history, [closed.clone(), second]);
    assert_eq!(store.alert_episode(&first.id).await.expect("get"), Some(closed));
    let actions: Vec<String> = store
        .audit_log(Some("alert"), Some(&first.id))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| format!("{} {}", e.actor, e.action))
        .collect();
    assert_eq!(
        actions,
        [
            "analytics open",
            "fm acknowledge",
            "fm comment",
            "root comment",
            "analytics close"
        ]
    );
}

/// A tree's district is stored: imported, exported, changed by a put and cleared again (migration 3).
async fn tree_district_survives_the_store(store: &Store, _: &str) {
    let mut linde = Tree::new("linde-7", "park", &["soil-1"]);
    linde.district = Some("Nordstadt".into());
    let inventory = Inventory::builder()
        .site(fixtures::park_with_soil_sensor("v3/soil@ttn/devices/soil-1/up"))
        .tree(linde.clone())
        .tree(Tree::new("eiche-2", "park", &[]))
        .build();
    store.import_inventory(by(0), &inventory).await.expect("import");
    let exported = store.export_inventory().await.expect("export");
    assert_eq!(exported, inventory);
    let district = |inv: &Inventory, tree: &str| {
        let t = inv.trees.iter().find(|t| t.id.as_str() == tree).expect("tree");
        t.district.clone()
    };
    assert_eq!(district(&exported, "linde-7").as_deref(), Some("Nordstadt"));
    assert_eq!(district(&exported, "eiche-2"), None);
    let back: Inventory = toml::from_str(&inventory_toml(&exported).expect("TOML")).expect("parse");
    assert_eq!(district(&back, "linde-7").as_deref(), Some("Nordstadt"));

    // A new district is a change (audited), the same one again is not; clearing it stores NULL.
    linde.district = Some("Südstadt".into());
    assert_eq!(store.put_tree(by(1), &linde).await.expect("put"), Change::Updated);
    assert_eq!(
        store.put_tree(by(2), &linde).await.expect("put"),
        Change::Unchanged
    );
    let stored = store.trees(false).await.expect("trees");
    assert_eq!(stored[0].value.district.as_deref(), Some("Südstadt"));
    linde.district = None;
    assert_eq!(store.put_tree(by(3), &linde).await.expect("put"), Change::Updated);
    assert_eq!(
        district(&store.export_inventory().await.expect("export"), "linde-7"),
        None
    );
}

async fn watering_log(store: &Store, _: &str) {
    let inventory = Inventory::builder()
        .site(fixtures::park_with_soil_sensor("v3/soil@ttn/devices/soil-1/up"))
        .tree(Tree::new("linde-7", "park", &["soil-1"]))
        .build();
    store.import_inventory(by(0), &inventory).await.expect("import");
    let parks = |m| Stamp::new("parks", t(m));
    let water = |m, litres| NewWatering {
        tree: "linde-7".into(),
        watered_at: t(m),
        litres,
        note: String::new(),
    };
    let first = store
        .log_watering(parks(30), &water(10, Some(80.0)))
        .await
        .expect("log");
    let second = store
        .log_watering(parks(40), &water(35, None))
        .await
        .expect("log without litres");
    invalid(
        store.log_watering(parks(50), &water(45, Some(0.0))).await,
        &["watering.litres"],
    );
    invalid(
        store.log_watering(parks(50), &water(55, Some(10.0))).await,
        &["watering.watered_at"],
    );
    let mut unknown = water(45, None);
    unknown.tree = "eiche-1".into();
    not_found(store.log_watering(parks(50), &unknown).await);
    assert_eq!(
        store.waterings("linde-7").await.expect("list"),
        [second, first.clone()]
    );
    assert_eq!((first.recorded_by.as_str(), first.recorded_at), ("parks", t(30)));
}
