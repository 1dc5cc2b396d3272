//! SML transport v1 for a complete file in one slice: start escape `1B1B1B1B 01010101`, 4-byte aligned escape
//! sequences (`1B1B1B1B 1B1B1B1B` = four literal `1B`), end `1B1B1B1B 1A <pad> <CRC lo> <CRC hi>`, CRC-16/X-25 over
//! everything from the start escape through the pad count.
//!
//! Why here and not only `sml-rs`: its transport decoder goes byte by byte through a state machine with a
//! per-byte CRC update (about 3 µs for a 256-byte file), which is right for a serial stream ([`super::SmlStream`]
//! uses it) but is most of the cost when a whole file is at hand. This pass does the same checks in a few
//! hundred nanoseconds; `tests/oracle.rs` holds it to `sml-rs`' result on every capture and on arbitrary bytes.

use crc::{CRC_16_IBM_SDLC, Crc, Table};

use super::{Error, MAX_FILE};

pub(super) const X25: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_IBM_SDLC);
const ESC: [u8; 4] = [0x1B; 4];
const START: [u8; 8] = [0x1B, 0x1B, 0x1B, 0x1B, 1, 1, 1, 1];

/// Where the messages of the first complete file in `bytes` are.
pub(super) enum Framed<'b> {
    /// No escaped `1B1B1B1B` inside: the messages are this slice of the input (padding removed), checked.
    Plain(&'b [u8]),
    /// The file contains escaped `1B1B1B1B`: [`unframe`] must copy it.
    Escaped,
}

/// The same checks as [`unframe`] without copying, for the usual file that contains no escaped `1B1B1B1B`.
/// Gives the same result as [`unframe`] (or says it must be used).
pub(super) fn locate(bytes: &[u8]) -> Result<Framed<'_>, Error> {
    let start = bytes
        .windows(8)
        .position(|w| w == START)
        .ok_or(Error::Incomplete)?;
    let raw = &bytes[start..];
    let mut at = 8;
    loop {
        let chunk = raw.get(at..at + 4).ok_or(Error::Incomplete)?;
        at += 4;
        if chunk != ESC {
            if at - 8 > MAX_FILE {
                return Err(Error::TooLong);
            }
            continue;
        }
        let next = raw.get(at..at + 4).ok_or(Error::Incomplete)?;
        at += 4;
        match *next {
            [0x1B, 0x1B, 0x1B, 0x1B] => return Ok(Framed::Escaped),
            [0x1A, pad, lo, hi] => {
                let computed = X25.checksum(&raw[..at - 2]);
                let stated = u16::from_le_bytes([lo, hi]);
                if computed != stated {
                    return Err(Error::Crc { computed, stated });
                }
                let (pad, n) = (usize::from(pad), at - 16);
                let body = &raw[8..8 + n];
                if pad > 3 || pad > n || body[n - pad..].iter().any(|b| *b != 0) {
                    return Err(Error::Transport(format!("invalid padding {pad}")));
                }
                return Ok(Framed::Plain(&body[..n - pad]));
            }
            _ => return Err(Error::Transport(format!("invalid escape {next:02X?}"))),
        }
    }
}

/// Unescapes the first complete file in `bytes` into `out`; returns the message bytes (padding removed).
pub(super) fn unframe<'o>(bytes: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], Error> {
    let start = bytes
        .windows(8)
        .position(|w| w == START)
        .ok_or(Error::Incomplete)?;
    let raw = &bytes[start..];
    let (mut at, mut n) = (8, 0);
    loop {
        let chunk: [u8; 4] = raw
            .get(at..at + 4)
            .ok_or(Error::Incomplete)?
            .try_into()
            .map_err(|_| Error::Incomplete)?;
        at += 4;
        if chunk != ESC {
            out.get_mut(n..n + 4)
                .ok_or(Error::TooLong)?
                .copy_from_slice(&chunk);
            n += 4;
            continue;
        }
        let next: [u8; 4] = raw
            .get(at..at + 4)
            .ok_or(Error::Incomplete)?
            .try_into()
            .map_err(|_| Error::Incomplete)?;
        at += 4;
        match next {
            ESC => {
                out.get_mut(n..n + 4).ok_or(Error::TooLong)?.copy_from_slice(&ESC);
                n += 4;
            }
            [0x1A, pad, lo, hi] => {
                let computed = X25.checksum(&raw[..at - 2]);
                let stated = u16::from_le_bytes([lo, hi]);
                if computed != stated {
                    return Err(Error::Crc { computed, stated });
                }
                let pad = usize::from(pad);
                if pad > 3 || pad > n || out[n - pad..n].iter().any(|b| *b != 0) {
                    return Err(Error::Transport(format!("invalid padding {pad}")));
                }
                return Ok(&out[..n - pad]);
            }
            other => return Err(Error::Transport(format!("invalid escape {other:02X?}"))),
        }
    }
}
