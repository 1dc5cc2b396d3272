//! The gateway's integration tests, one binary: `validate_inventory` as `check-config` runs it, the gateway
//! following its live inventory (`live.rs`), and the Modbus poller against the simulator over real sockets
//! and a real mosquitto.

mod check_config;
mod live;
mod modbus;
