//! Test harness: real mosquitto and influxd on free loopback ports, and the end-to-end suite.
