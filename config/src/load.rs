//! From TOML text and environment overrides to a [`Config`], collecting every error on the way.
//!
//! Each section is deserialised on its own; a section that fails is retried key by key so every bad key is
//! named, and its good keys are kept for validation. Sites, trees and users are deserialised one by one.
//! Then [`Config::validate`] runs on whatever was read, so one pass lists every problem with its path.

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::{Table, Value};
use zw_model::{Inventory, Site, Tree, User};

use crate::{Config, Errors};

/// Loads the file at `path` (or only defaults and environment when `None`), returning every error found.
pub fn load(path: Option<&Path>, env: impl Iterator<Item = (String, String)>) -> Result<Config, Errors> {
    let table = match path {
        None => Table::new(),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| Errors(vec![format!("{}: {e}", p.display())]))?;
            text.parse::<Table>()
                .map_err(|e| Errors(vec![format!("{}: {e}", p.display())]))?
        }
    };
    from_table(table, env)
}

/// Loads a config from TOML `text` with the overrides in `env`, returning every error found.
pub fn load_str(text: &str, env: impl Iterator<Item = (String, String)>) -> Result<Config, Errors> {
    let table = text.parse::<Table>().map_err(|e| Errors(vec![e.to_string()]))?;
    from_table(table, env)
}

fn from_table(mut table: Table, env: impl Iterator<Item = (String, String)>) -> Result<Config, Errors> {
    let mut errors = apply_env(&mut table, env);
    let cfg = sections(table, &mut errors);
    errors.extend(cfg.validate());
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(Errors(errors))
    }
}

fn apply_env(table: &mut Table, env: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let mut errors = Vec::new();
    for (key, raw) in env {
        let Some(path) = key.strip_prefix("ZW__") else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            errors.push(format!("{key}: malformed override name"));
            continue;
        }
        let value = format!("v = {raw}")
            .parse::<Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.clone()));
        if let Err(e) = set_path(table, &parts, value) {
            errors.push(format!("{key}: {e}"));
        }
    }
    errors
}

fn set_path(table: &mut Table, parts: &[String], value: Value) -> Result<(), String> {
    match parts {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => match table
            .entry(first.clone())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(t) => set_path(t, rest, value),
            _ => Err(format!("{first} is not a table")),
        },
    }
}

fn section<T: DeserializeOwned + Default>(table: &mut Table, name: &str, errors: &mut Vec<String>) -> T {
    match table.remove(name) {
        None => T::default(),
        Some(v) => T::deserialize(v.clone()).unwrap_or_else(|e| {
            // Every section is all-defaults, so each key can be tried on its own: that reports every bad key
            // instead of only the first one serde meets.
            // The good keys are kept, so the section's own validation still checks their values.
            let before = errors.len();
            let mut good = Table::new();
            if let Value::Table(t) = v {
                for (key, value) in t {
                    let single = Value::Table(Table::from_iter([(key.clone(), value.clone())]));
                    match T::deserialize(single) {
                        Ok(_) => {
                            good.insert(key, value);
                        }
                        Err(e) => errors.push(format!("{name}.{key}: {}", e.message())),
                    }
                }
            }
            if errors.len() == before {
                errors.push(format!("{name}: {}", e.message()));
            }
            T::deserialize(Value::Table(good)).unwrap_or_default()
        }),
    }
}

fn list<T: DeserializeOwned>(table: &mut Table, name: &str, errors: &mut Vec<String>) -> Vec<T> {
    match table.remove(name) {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| {
                T::deserialize(v)
                    .map_err(|e| errors.push(format!("{name}[{i}]: {}", e.message())))
                    .ok()
            })
            .collect(),
        Some(_) => {
            errors.push(format!("{name}: expected an array of tables ([[{name}]])"));
            Vec::new()
        }
    }
}

fn sections(mut t: Table, errors: &mut Vec<String>) -> Config {
    let cfg = Config {
        bus: section(&mut t, "bus", errors),
        influx: section(&mut t, "influx", errors),
        gateway: section(&mut t, "gateway", errors),
        ingest: section(&mut t, "ingest", errors),
        analytics: section(&mut t, "analytics", errors),
        api: section(&mut t, "api", errors),
        sim: section(&mut t, "sim", errors),
        log: section(&mut t, "log", errors),
        telemetry: section(&mut t, "telemetry", errors),
        runtime: section(&mut t, "runtime", errors),
        retention: section(&mut t, "retention", errors),
        store: section(&mut t, "store", errors),
        inventory: Inventory {
            sites: list::<Site>(&mut t, "sites", errors),
            trees: list::<Tree>(&mut t, "trees", errors),
            users: list::<User>(&mut t, "users", errors),
            tariffs: list(&mut t, "tariffs", errors),
            budgets: list(&mut t, "budgets", errors),
            gas_conversions: list(&mut t, "gas_conversions", errors),
            advance_payments: list(&mut t, "advance_payments", errors),
        },
    };
    let mut cfg = cfg;
    read_price_series(&mut cfg.inventory.tariffs, errors);
    for key in t.keys() {
        errors.push(format!("{key}: unknown section (known: bus, influx, gateway, ingest, analytics, api, sim, log, telemetry, runtime, retention, store, sites, trees, users, tariffs, budgets, gas_conversions, advance_payments)"));
    }
    cfg
}

/// Reads the CSV of every dynamic tariff into its price series (`tariffs[i].dynamic.csv: …` per problem).
/// Tariffs naming one bus `series` share one [`zw_model::tariff::LivePrices`] (their CSVs merged into it;
/// a series without a CSV starts empty and is filled from the bus by the API).
fn read_price_series(tariffs: &mut [zw_model::tariff::Tariff], errors: &mut Vec<String>) {
    use zw_model::tariff::{LivePrices, PriceSeries};
    let mut shared: std::collections::HashMap<zw_model::Id, LivePrices> = Default::default();
    for (i, t) in tariffs.iter_mut().enumerate() {
        let Some(d) = t.dynamic.as_mut() else {
            continue;
        };
        let path = format!("tariffs[{i}].dynamic.csv");
        let read = match &d.csv {
            None => None,
            Some(csv) => match std::fs::read_to_string(csv) {
                Err(e) => {
                    errors.push(format!("{path}: {}: {e}", csv.display()));
                    continue;
                }
                Ok(text) => match PriceSeries::from_csv(&text) {
                    Ok(p) => Some(p),
                    Err(es) => {
                        errors.extend(es.into_iter().map(|e| format!("{path}: {}: {e}", csv.display())));
                        continue;
                    }
                },
            },
        };
        let Some(series) = d.series.clone() else {
            d.prices = read.map(LivePrices::new);
            continue;
        };
        let live = shared
            .entry(series)
            .or_insert_with(|| LivePrices::new(PriceSeries::default()));
        if let Some(p) = read {
            let rows: Vec<_> = p.rows().collect();
            if let Err(step) = live.merge(&rows, p.step()) {
                errors.push(format!(
                    "{path}: {} minute prices, but another tariff's CSV of series {:?} has {} minute prices",
                    p.step().num_minutes(),
                    d.series.as_ref().map_or("", |s| s.as_str()),
                    step.num_minutes()
                ));
            }
        }
        d.prices = Some(live.clone());
    }
}
