//! HTTP handlers, one module per resource.

pub mod devices;
pub mod health;
