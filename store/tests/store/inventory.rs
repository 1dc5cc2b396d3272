//! The inventory's way in and out of the store: import is idempotent and keeps what the store added,
//! the shipped configs round-trip, and meter keys stay secret.

use super::*;

pub(crate) async fn import_is_idempotent_and_keeps_details(store: &Store, _: &str) {
    let town = fixtures::town();
    let report = store.import_inventory(by(0), &town).await.expect("import");
    // 4 sites, 4 devices, 4 users.
    assert_eq!((report.created, report.updated, report.unchanged), (12, 0, 0));
    let entries = store.audit_log(None, None).await.expect("audit").len();
    assert_eq!(entries, 12);
    assert!(
        store
            .audit_log(None, None)
            .await
            .expect("audit")
            .iter()
            .all(|e| e.action == "import")
    );

    let mut hall = store.site("rathaus").await.expect("get").expect("hall").value;
    hall.details.floor_area_m2 = Some(1800.0);
    store.put_site(by(1), &hall).await.expect("details");
    let again = store.import_inventory(by(2), &town).await.expect("again");
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 12));
    assert_eq!(
        store.audit_log(None, None).await.expect("audit").len(),
        entries + 1
    );
    let kept = store.site("rathaus").await.expect("get").expect("hall").value;
    assert_eq!(kept.details.floor_area_m2, Some(1800.0));

    // A file that does not validate against what is stored writes nothing and says why.
    let mut bad = Inventory::builder().household("hh-9", []).build();
    bad.users
        .push(User::with_token("zoe", Role::Resident, &["hh-404"], "zoe"));
    invalid(
        store.import_inventory(by(3), &bad).await,
        &["users[4].scope[0]: unknown site \"hh-404\""],
    );
    assert!(store.site("hh-9").await.expect("get").is_none());
    // The export is the file with what the store added: the town hall's floor area, set since.
    let mut expected = town.clone();
    expected.sites[0].floor_area_m2 = Some(1800.0);
    assert_eq!(expected.sites[0].id.as_str(), "rathaus");
    assert_eq!(store.export_inventory().await.expect("export"), expected);
}

pub(crate) async fn round_trip_demo_config(store: &Store, _: &str) {
    round_trip(store, "demo.toml").await;
}

pub(crate) async fn round_trip_example_config(store: &Store, _: &str) {
    round_trip(store, "zaehlwerk.example.toml").await;
}

/// Imports the inventory of `deploy/<file>`, exports it, and compares: as types, and through TOML.
async fn round_trip(store: &Store, file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("shipped config");
    // The demo template's placeholders, filled as deploy/demo.sh fills them.
    let text = text
        .replace("@MQTT_PORT@", "1883")
        .replace("@INFLUX_PORT@", "8086")
        .replace("@API_PORT@", "8080")
        .replace("@MODBUS_PORT@", "5020")
        .replace("@STATE_DIR@", "/var/lib/zaehlwerk")
        .replace("@FM_TOKEN_SHA256@", &token_hash("fm"))
        .replace("@RESIDENT_TOKEN_SHA256@", &token_hash("resident"))
        .replace("@PARKS_TOKEN_SHA256@", &token_hash("parks"))
        .replace("@ADMIN_TOKEN_SHA256@", &token_hash("admin"))
        .replace("@BUSINESS_TOKEN_SHA256@", &token_hash("business"));
    // The inventory is the config's arrays of tables (`[[sites]]`, `[[users]]`, …); sections are tables.
    let mut config: toml::Table = text.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
    config.retain(|_, v| v.is_array());
    let shipped: Inventory = config.try_into().unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(shipped.validate(), Vec::<String>::new(), "{file}");
    assert!(
        !shipped.sites.is_empty() && !shipped.users.is_empty(),
        "{file} has an inventory"
    );
    let report = store.import_inventory(by(0), &shipped).await.expect("import");
    assert_eq!((report.updated, report.unchanged), (0, 0));
    let exported = store.export_inventory().await.expect("export");
    assert_eq!(exported, shipped, "{file}");
    let toml = inventory_toml(&exported).expect("TOML");
    let back: Inventory = toml::from_str(&toml).unwrap_or_else(|e| panic!("{file} exported: {e}\n{toml}"));
    assert_eq!(back, shipped, "{file} through TOML");
    let again = store.import_inventory(by(1), &back).await.expect("import again");
    assert_eq!(
        again.created + again.updated,
        0,
        "{file}: a second import changes nothing"
    );
}

/// A wireless M-Bus key survives the store (the live inventory the gateway decrypts with comes from it), a
/// put without a key keeps it, a put with one replaces it, and neither the audit trail nor an export shows it.
pub(crate) async fn meter_keys_are_kept_apart_and_never_shown(store: &Store, _: &str) {
    const KEY: &str = "51728910e66d83f851728910e66d83f8";
    const NEW_KEY: &str = "000102030405060708090a0b0c0d0e0f";
    let site = Site::new("hh-9", SiteKind::Household, []);
    store.put_site(by(0), &SiteRecord::of(&site)).await.expect("site");
    let keyed = |key: Option<&str>| DeviceRecord {
        site: id("hh-9"),
        device: Device::wmbus("hh-9-water", "KAM", "12345678", key),
    };
    assert_eq!(
        store.put_device(by(1), &keyed(Some(KEY))).await.expect("create"),
        Change::Created
    );
    let key_of = |inv: &Inventory| match &inv.device("hh-9-water").expect("device").1.source {
        zw_model::DeviceSource::Wmbus { key, .. } => key.as_ref().map(|k| k.expose().to_owned()),
        other => panic!("not wM-Bus: {other:?}"),
    };
    assert_eq!(
        key_of(&store.export_inventory().await.expect("export")).as_deref(),
        Some(KEY)
    );
    assert_eq!(
        store.put_device(by(2), &keyed(None)).await.expect("without key"),
        Change::Unchanged,
        "a put without a key keeps the stored one and changes nothing"
    );
    assert_eq!(
        key_of(&store.export_inventory().await.expect("export")).as_deref(),
        Some(KEY)
    );
    assert_eq!(
        store
            .put_device(by(3), &keyed(Some(NEW_KEY)))
            .await
            .expect("new key"),
        Change::Updated
    );
    let inv = store.export_inventory().await.expect("export");
    assert_eq!(key_of(&inv).as_deref(), Some(NEW_KEY));
    let toml = inventory_toml(&inv).expect("toml");
    let audit = serde_json::to_string(&store.audit_log(None, None).await.expect("audit")).expect("json");
    for secret in [KEY, NEW_KEY] {
        assert!(!toml.contains(secret), "export shows a key");
        assert!(!audit.contains(secret), "audit shows a key");
    }
}
