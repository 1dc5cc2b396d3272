//! The harness crate's integration tests, one binary: the test stack against the real mosquitto and
//! influxd, and the shipped Prometheus alerting rules.

mod prometheus_rules;
mod stack;
