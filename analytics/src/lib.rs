//! Analytics (WIP).
pub mod alerts;
pub mod calendar;
pub mod condition;
pub mod config;
pub mod energy;
pub mod engine;
pub mod explain;
pub mod normal;
pub mod trees;
pub use config::Config;
pub use engine::{Analytics, Event};
