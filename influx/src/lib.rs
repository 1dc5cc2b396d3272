//! A small InfluxDB client of our own, over reqwest.
//!
//! Why not the `influxdb2` crate: it speaks only the v2 API, which the InfluxDB 1.x that Debian ships answers
//! with 404; Flux does not exist in InfluxDB 3; and it pins a second, older HTTP stack. The v1 endpoints used
//! here (`/write`, `/query`, `/ping`) are served by InfluxDB 1.x, 2.x (DBRP mapping) and 3; VictoriaMetrics
//! takes `/write` (and `/ping`) but answers no InfluxQL: it is read through its export API instead.
//!
//! * [`line`]: a builder that cannot emit a malformed line (escaping, sorted tags, no NaN/Inf, no empty
//!   field sets).
//! * [`Client::write`] posts line protocol (v1 `/write` or v2 `/api/v2/write`, optionally gzip) and classifies the answer into [`WriteError`] variants a caller
//!   can act on (retry, split, dead-letter, alert).
//! * [`Client::query`] runs InfluxQL with **bind parameters** only; values never become query text.
//! * [`Client::read`] ([`read`]): one read interface (raw rows, latest value, aggregates per window) with a
//!   backend per engine, InfluxQL or VictoriaMetrics' export API, chosen by `influx.read_backend`.
//! * [`tls`]: `https` URLs over rustls, with the system's roots or only a private CA (`influx.ca_file`).

mod client;
mod config;
pub mod line;
pub mod read;
pub mod tls;
mod write;

pub use client::{Client, QueryError, Series};
pub use config::{Api, Config, ReadBackend};
pub use line::{FieldValue, Line, LineError};
pub use write::WriteError;
