//! HTTP handlers, one module per resource.

pub mod accuracy;
pub mod admin;
pub mod alerts;
pub mod cost;
pub mod dashboard;
pub mod devices;
pub mod energy;
pub mod export;
pub mod forecast;
pub mod health;
pub mod history;
pub mod household;
pub mod normal;
pub mod peak;
pub mod ranking;
pub mod report;
pub mod sites;
pub mod stream;
pub mod top;
pub mod trees;
