//! `zaehlwerk inventory import` and `zaehlwerk inventory export`: the TOML inventory and the relational
//! store ([`zw_store`]).
//!
//! `import` loads and validates the config like every service does (exit 64 listing every problem), then
//! lays its inventory over the store: new entities are created, changed ones updated, the rest left alone
//! (see `store/src/inventory.rs`); every change is audited as `import`. `export` writes the store's live
//! inventory as TOML (`[[sites]]`, `[[trees]]`, `[[users]]`, …) to stdout or `--output`, so a town can
//! keep its inventory in git.
//!
//! The store is `--store`, else `$ZW_STORE_URL`, else `sqlite://state/zaehlwerk.db`.
//!
//! Exit status: 0 done; 64 the config or the merged inventory is invalid (every problem listed); 1 the
//! store could not be reached or written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use zw_store::{Stamp, Store};

use crate::EXIT_CONFIG;

/// Arguments of `zaehlwerk inventory`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Import the config's inventory into the store (adds and updates, never retires; audited).
    Import {
        /// Config file (TOML) whose inventory is imported.
        #[arg(long, short, env = "ZW_CONFIG")]
        config: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Write the store's live inventory as TOML.
    Export {
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(clap::Args)]
struct StoreArg {
    /// The store: sqlite://<file> or postgres://<user>@<host>:<port>/<database>.
    #[arg(long = "store", env = "ZW_STORE_URL", default_value = zw_store::DEFAULT_URL)]
    url: String,
}

/// Who the audit trail names for changes made with this command.
const ACTOR: &str = "cli";

/// Runs the subcommand; `Err` carries the exit code of a failure already reported on stderr.
pub fn main(args: Args) -> Result<ExitCode, ExitCode> {
    let runtime = crate::runtime(Some(1))?;
    let result = match args.command {
        Command::Import { config, store } => {
            let cfg = crate::load_config(config.as_deref())?;
            runtime.block_on(import(&store.url, &cfg.inventory))
        }
        Command::Export { output, store } => runtime.block_on(export(&store.url, output)),
    };
    result
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| match e.downcast_ref::<zw_store::Error>() {
            Some(zw_store::Error::Invalid(problems)) => {
                eprintln!("error: the inventory has {} problem(s):", problems.len());
                for p in problems {
                    eprintln!("  - {p}");
                }
                ExitCode::from(EXIT_CONFIG)
            }
            _ => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        })
}

async fn import(url: &str, inventory: &zw_model::Inventory) -> anyhow::Result<()> {
    let store = Store::connect(url)
        .await
        .with_context(|| format!("store {url}"))?;
    let report = store
        .import_inventory(Stamp::new(ACTOR, Utc::now()), inventory)
        .await;
    store.close().await;
    let report = report?;
    println!(
        "imported into {url}: {} created, {} updated, {} unchanged",
        report.created, report.updated, report.unchanged
    );
    Ok(())
}

async fn export(url: &str, output: Option<PathBuf>) -> anyhow::Result<()> {
    let store = Store::connect(url)
        .await
        .with_context(|| format!("store {url}"))?;
    let inventory = store.export_inventory().await;
    store.close().await;
    let text = format!(
        "# Zählwerk inventory exported from {url} at {}\n\n{}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        zw_store::inventory_toml(&inventory?)?
    );
    match output {
        Some(path) => std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
