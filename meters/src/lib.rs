//! zw-meters: decoders for heat, gas, water and electricity meters' wire formats.
//!
//! * [`mbus`]: wired M-Bus (EN 13757-2 long/short frames, checksum, request builders for the poller) and the
//!   EN 13757-3 application layer shared with wireless M-Bus (TPL header, DIF/VIF records, canonical quantities).
//! * [`wmbus`]: wireless M-Bus/OMS (EN 13757-4 link layer with or without block CRCs, OMS security modes 5 and 7).
//! * [`sml`]: SML files from the optical port of German electricity meters (transport and parsing by `sml-rs`;
//!   OBIS mapping, server id, PIN-less resolution and the DZG sign quirk here).
//!
//! Everything is pure and synchronous: bytes in, a decoded telegram or a typed error out; no I/O, no clock. The
//! gateway owns the serial ports, sockets and schedules. Values are kept as scaled decimals (mantissa × 10^exp) as
//! the meter sent them; [`mbus::Telegram::values`] and [`sml::SmlReading::values`] convert to the canonical
//! quantities of `zw_model` (Wh, m³, m³/h, W, °C). A wrong AES key is an error ([`wmbus::Error::WrongKey`]), never
//! a set of values.

pub mod decimal;
pub mod mbus;
pub mod sml;
pub mod wmbus;

pub use decimal::Decimal;
