//! End-to-end suite: the real `zaehlwerk` binary against a real mosquitto and a real influxd, each test on
//! its own stack with free loopback ports. Readiness is awaited by polling, never by sleeping a fixed time.

mod adapters_mqtt;
mod analytics_alerts;
mod analytics_warmup;
mod api;
mod api_ack;
mod batches;
mod bus_acks;
mod bus_security;
mod cost_forecast;
mod dashboard;
mod energy_periods;
mod energy_rollups;
mod fixture;
mod gateway_crash;
mod gateway_outage;
mod gateway_oversize;
mod influx_client;
mod ingest_crash;
mod ingest_dead_letter;
mod ingest_http_errors;
mod ingest_import;
mod ingest_keepalive;
mod ingest_outage;
mod ingest_oversize;
mod ingest_scale_out;
mod ingest_support;
mod ingest_v2;
mod meters_wmbus;
mod modbus_profiles;
mod pipeline;
mod privacy;
mod sim_history;
mod store;
mod support;
mod tls_http;
