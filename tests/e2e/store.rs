//! `zaehlwerk inventory import` and `export` against the relational store, on SQLite and on a real
//! PostgreSQL: the config's inventory goes in, a second import changes nothing, the export reads back as
//! the same inventory, and a file that clashes with what is stored is refused with exit 64 listing why.

use std::path::Path;

use zw_config::Config;
use zw_model::inventory::fixtures;
use zw_model::{Device, Inventory, Site, SiteKind, Tree};
use zw_tests::Stack;

use crate::support::config;

/// Runs `zaehlwerk inventory <args>`; returns exit code, stdout and stderr.
async fn inventory(args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .arg("inventory")
        .args(args)
        .env_remove("ZW_STORE_URL")
        .env_remove("ZW_CONFIG")
        .output()
        .await?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((out.status.code(), text(&out.stdout), text(&out.stderr)))
}

#[tokio::test]
async fn import_and_export_round_trip_on_sqlite_and_postgres() -> anyhow::Result<()> {
    let stack = Stack::builder().postgres().start().await?;
    let mut cfg = Config {
        inventory: fixtures::town(),
        ..Config::default()
    };
    cfg.inventory
        .trees
        .push(Tree::new("linde-1", "park", &["soil-1"]));
    let path = config::write(&stack, &cfg)?;
    let path = path.to_str().expect("utf-8 path");
    // Valid alone, but its plug reads the topic `plug1`, which hh-1's plug in the store already reads.
    let clash = Config {
        inventory: Inventory::builder()
            .site(Site::new(
                "hh-3",
                SiteKind::Household,
                [Device::tasmota("hh-3-plug", "plug1")],
            ))
            .build(),
        ..Config::default()
    };
    let clash_path = stack.state_dir().join("clash.toml");
    std::fs::write(&clash_path, clash.to_toml()?)?;
    let clash_path = clash_path.to_str().expect("utf-8 path");

    let sqlite = format!("sqlite://{}/store/zaehlwerk.db", stack.state_dir().display());
    for url in [sqlite, stack.postgres().url("zaehlwerk")] {
        let (code, out, err) = inventory(&["import", "--config", path, "--store", &url]).await?;
        assert_eq!(code, Some(0), "{url}: {err}");
        assert!(out.contains("13 created, 0 updated, 0 unchanged"), "{url}: {out}");
        let (code, out, err) = inventory(&["import", "--config", path, "--store", &url]).await?;
        assert_eq!(code, Some(0), "{url}: {err}");
        assert!(out.contains("0 created, 0 updated, 13 unchanged"), "{url}: {out}");

        let exported = stack.state_dir().join("exported.toml");
        let exported_arg = exported.to_str().expect("utf-8 path");
        let (code, _, err) = inventory(&["export", "--store", &url, "--output", exported_arg]).await?;
        assert_eq!(code, Some(0), "{url}: {err}");
        let back: Inventory = toml::from_str(&std::fs::read_to_string(Path::new(&exported))?)?;
        assert_eq!(back, cfg.inventory, "{url}");

        let (code, _, err) = inventory(&["import", "--config", clash_path, "--store", &url]).await?;
        assert_eq!(code, Some(64), "{url}: {err}");
        assert!(
            err.contains("topic \"tasmota:plug1\" is already read by"),
            "{url}: {err}"
        );
    }
    Ok(())
}
