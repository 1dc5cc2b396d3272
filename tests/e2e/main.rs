//! End-to-end suite: the real `zaehlwerk` binary against a real mosquitto and a real influxd, each test on
//! its own stack with free loopback ports. Readiness is awaited by polling, never by sleeping a fixed time.

mod api;
mod fixture;
mod influx_client;
mod pipeline;
mod support;
