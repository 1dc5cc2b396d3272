//! Integration tests of the simulator, one binary: real Modbus TCP clients against `zw_sim::start` on free
//! ports, no MQTT broker anywhere.

mod modbus_models;
mod start;
