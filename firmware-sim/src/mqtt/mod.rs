//! What every simulated MQTT device shares: its broker connection (`Connection`) and the faults on demand
//! ([`faults`]). The devices' publisher tasks live with their families ([`crate::tasmota`],
//! [`crate::shelly`], [`crate::lorawan`], [`crate::weather`]).
//!
//! Like the real devices, nothing is buffered while the broker is unreachable: telemetry of that time is
//! skipped (counters keep running). On shutdown a device publishes its farewell, then the connection sends
//! a DISCONNECT; a connection that cannot do so within a few seconds is dropped.

mod connection;
pub mod faults;

pub(crate) use connection::Connection;
