//! Analytics: finds the energy wasters and the thirsty trees in the reading stream, and says why.
//!
//! Position in the data flow: a consumer of `zw/v1/readings/+/+` like ingest and the API, and the only
//! publisher of `zw/v1/alerts/{id}` ([`zw_model::alert::Alert`]) and `zw/v1/trees/{tree}`
//! ([`zw_model::tree::TreeStatus`]), both retained, plus the `alerts` measurement in InfluxDB.
//!
//! * Detectors are pure and synchronous with the time injected: [`Analytics::observe`] for a reading,
//!   [`Analytics::tick`] when time passes. [`energy`]: static limits per device class and a learned
//!   hour-of-week normal ([`normal`]) per device and site, devices left on outside usage hours, night and
//!   weekend baseload; [`peak`]: the early warning before a quarter hour sets a new demand peak.
//!   [`trees`]: dryness, drying trend and forecast, urgency ranking, sensor faults.
//! * Every condition must hold for a while and clears with hysteresis ([`condition`]), so alerts do not
//!   flap; every alert explains itself (observed vs expected, the baseline, since when: [`explain`]).
//! * [`alerts`] deduplicates per kind and subject and runs the lifecycle open → acknowledged → resolved;
//!   retained topics persist it across restarts ([`service`]).
//! * The [`service`] wires it to the bus and InfluxDB; `zaehlwerk eval` replays labelled simulated weeks
//!   through the same detectors and scores them.

pub mod alerts;
pub mod budget;
pub mod calendar;
pub mod condition;
pub mod config;
pub mod energy;
pub mod engine;
pub mod explain;
mod metrics;
pub mod normal;
pub mod partition;
pub mod peak;
pub mod service;
pub mod sink;
pub mod trees;
pub mod warmup;

pub use config::Config;
pub use engine::{Analytics, Event};
pub use metrics::Metrics;
pub use service::run;
