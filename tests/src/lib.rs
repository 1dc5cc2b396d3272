//! Test harness for Zählwerk: real mosquitto and influxd as child processes on free loopback ports.
//!
//! Sits outside the data flow: tests start a [`Stack`] with the services they need, point the
//! pipeline's configs at [`Stack::mqtt_port`] and [`Stack::influx_url`], and check results with
//! [`influx_query`]. Guarantees:
//! - every service is ready when [`StackBuilder::start`] returns (readiness is polled, never slept for);
//! - stacks started in parallel use different ports and directories;
//! - dropping a stack stops its services and deletes its state (kept with `ZW_KEEP_TEST_STATE=1`).
//!
//! The binaries come from Debian's `mosquitto` and `influxdb` packages (`deploy/setup.sh` installs them);
//! `ZW_MOSQUITTO_BIN` and `ZW_INFLUXD_BIN` point elsewhere. [`StackBuilder::victoria_metrics`] adds a
//! VictoriaMetrics server (package `victoria-metrics`, `ZW_VICTORIA_BIN`) for the InfluxDB v2 write path;
//! [`victoria_count`] counts what it stored. [`mqtt::subscribe`] is the test's own MQTT client beside the system;
//! [`Partition`] is a TCP proxy that cuts a service off the broker and heals the link again.
//! [`HttpsInfluxd`] is an influxd serving https only, with a certificate from [`tls`].
//! [`StackBuilder::postgres`] (or [`Postgres::start`] alone) runs a real PostgreSQL (package `postgresql`);
//! [`Stack::store_url`] gives the system a store on it or in a SQLite file ([`StoreBackend`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let stack = zw_tests::Stack::builder().mosquitto().influxd().start().await?;
//! zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", "m v=1 1700000000000").await?;
//! let answer = zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), "SELECT v FROM m").await?;
//! assert_eq!(zw_tests::series_values(&answer).len(), 1);
//! # Ok(()) }
//! ```

mod bus_access;
mod influx_http;
mod influxd;
mod influxd_https;
mod mosquitto;
pub mod mqtt;
mod partition;
mod ports;
mod postgres;
mod process;
mod stack;
mod store;
mod template;
pub mod tls;
mod victoria;

pub use bus_access::{MqttCredentials, Role};
pub use influx_http::{influx_query, influx_write, influx_write_rp, series_values};
pub use influxd_https::HttpsInfluxd;
pub use mosquitto::Tls as MqttTls;
pub use partition::Partition;
pub use ports::free_port;
pub use postgres::Postgres;
pub use stack::{Stack, StackBuilder};
pub use store::StoreBackend;
pub use victoria::victoria_count;
