//! Analytics' integration tests, one binary: detectors following the inventory, alerts across a restart,
//! the learned normal warmed from a real influxd, and webhook delivery with retries.

mod live_inventory;
mod live_service;
mod restart;
mod warmup;
mod webhook;
