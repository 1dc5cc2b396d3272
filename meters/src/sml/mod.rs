//! SML (Smart Message Language) from the optical port of German electricity meters.
//!
//! Decoding is ours, with `sml-rs` as the test oracle (`tests/meters/oracle.rs`): the transport of a whole
//! file in one slice (`transport.rs`: escape framing, 4-byte escape alignment, file CRC-16/X-25, without a copy
//! when the file holds no escaped `1B1B1B1B`) and the messages (`reader.rs`: a zero-allocation walk of the
//! TLV structure that reads the `GetList.Res` registers and server ids and skips everything else by length,
//! accepting exactly what `sml-rs`' parser accepts). For byte streams ([`SmlStream`]) `sml-rs`' transport
//! decoder does the framing and resynchronisation on the next start escape. This module adds what `sml-rs`
//! leaves out: OBIS codes and units to canonical quantities ([`obis`]), the server id as printed on the meter
//! (`1DZG0042082910`), the energy resolution of meters that send whole kWh without the PIN, and the DZG sign
//! quirk ([`reading`]).
//!
//! [`decode_file`] reads one complete file; [`SmlStream`] takes bytes as a serial port delivers them.

pub mod obis;
mod reader;
pub mod reading;
mod transport;

use sml_rs::transport::{DecodeErr, Decoder};
use sml_rs::util::ArrayBuf;
use thiserror::Error;

pub use obis::Obis;
pub use reading::{Register, SmlReading};

/// Largest decoded SML file accepted (the meters send 200–600 bytes).
pub const MAX_FILE: usize = 2048;

/// Why bytes are not a decodable SML file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// No complete file (start escape … end escape and CRC) in the bytes.
    #[error("no complete SML file")]
    Incomplete,
    /// Bytes before a start escape were discarded.
    #[error("{0} bytes discarded before a start escape")]
    Discarded(usize),
    /// The file CRC does not match.
    #[error("SML file CRC mismatch: computed {computed:#06x}, file says {stated:#06x}")]
    Crc {
        /// CRC over the bytes.
        computed: u16,
        /// CRC in the file.
        stated: u16,
    },
    /// An escape sequence SML does not define, a misaligned end, or a bad pad count.
    #[error("invalid SML transport: {0}")]
    Transport(String),
    /// Longer than [`MAX_FILE`].
    #[error("SML file longer than {MAX_FILE} bytes")]
    TooLong,
    /// The messages do not parse (including a message CRC mismatch).
    #[error("SML message does not parse: {0}")]
    Parse(String),
}

fn transport_error(e: DecodeErr) -> Error {
    match e {
        DecodeErr::DiscardedBytes(n) => Error::Discarded(n),
        DecodeErr::OutOfMemory => Error::TooLong,
        DecodeErr::InvalidMessage {
            checksum_mismatch: (computed, stated),
            end_esc_misaligned: false,
            ..
        } if computed != stated => Error::Crc { computed, stated },
        e => Error::Transport(format!("{e:?}")),
    }
}

/// Decodes the first complete SML file in `bytes` (leading bytes before the start escape are skipped).
pub fn decode_file(bytes: &[u8]) -> Result<SmlReading, Error> {
    match transport::locate(bytes)? {
        transport::Framed::Plain(messages) => reader::parse(messages),
        transport::Framed::Escaped => {
            let mut buf = [0u8; MAX_FILE];
            reader::parse(transport::unframe(bytes, &mut buf)?)
        }
    }
}

/// Reassembles SML files from a byte stream (a serial port at 9600 Bd, a ser2net socket).
pub struct SmlStream {
    decoder: Decoder<ArrayBuf<MAX_FILE>>,
}

impl Default for SmlStream {
    fn default() -> Self {
        Self::new()
    }
}

impl SmlStream {
    /// A stream waiting for a start escape.
    pub fn new() -> Self {
        Self {
            decoder: Decoder::new(),
        }
    }

    /// Feeds one byte: a decoded file, an error to count (the stream resynchronises by itself), or nothing yet.
    pub fn push(&mut self, byte: u8) -> Option<Result<SmlReading, Error>> {
        match self.decoder.push_byte(byte) {
            Ok(None) => None,
            Ok(Some(file)) => Some(reader::parse(file)),
            Err(e) => Some(Err(transport_error(e))),
        }
    }
}
