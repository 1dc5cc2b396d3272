//! Wired M-Bus link layer (EN 13757-2): the single character `E5`, short frames `10 C A CS 16`, long and control
//! frames `68 L L 68 C A CI … CS 16`, their checksum, and the request frames a master sends.
//!
//! The builders are pure functions returning the bytes, so the gateway's poller only writes them and reads the
//! answer; [`frame_length`] tells it how many bytes a frame needs once its first bytes have arrived.

use thiserror::Error;

/// Why bytes are not one valid wired M-Bus frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Fewer bytes than the frame needs.
    #[error("frame truncated: {have} of {need} bytes")]
    Truncated {
        /// Bytes the frame needs.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// The first byte is none of `E5`, `10`, `68`.
    #[error("not an M-Bus frame: starts with {0:#04x}")]
    BadStart(u8),
    /// A long frame whose two length bytes or second start byte disagree.
    #[error("long frame header is inconsistent")]
    BadHeader,
    /// The 8-bit sum over C through the last data byte does not match.
    #[error("checksum mismatch: computed {computed:#04x}, frame says {stated:#04x}")]
    Checksum {
        /// Sum of the bytes.
        computed: u8,
        /// Checksum byte in the frame.
        stated: u8,
    },
    /// The stop byte is not `16`.
    #[error("missing stop byte 0x16")]
    NoStop,
    /// Bytes after the end of the frame.
    #[error("{0} bytes after the end of the frame")]
    Trailing(usize),
}

/// One wired M-Bus frame, borrowing its user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The single character `E5` (acknowledge).
    Ack,
    /// `10 C A CS 16`.
    Short {
        /// Control field.
        c: u8,
        /// Primary address.
        a: u8,
    },
    /// `68 L L 68 C A CI data CS 16` (a control frame has no data).
    Long {
        /// Control field.
        c: u8,
        /// Primary address.
        a: u8,
        /// Control information field (what the data are).
        ci: u8,
        /// The user data after CI.
        data: &'a [u8],
    },
}

/// C field of SND_NKE (link reset).
pub const C_SND_NKE: u8 = 0x40;
/// C field of SND_UD.
pub const C_SND_UD: u8 = 0x53;
/// C field of REQ_UD2 (class 2 data); `| FCB` toggles the frame count bit.
pub const C_REQ_UD2: u8 = 0x5B;
/// Frame count bit of SND_UD/REQ_UD2.
pub const FCB: u8 = 0x20;
/// C field of RSP_UD (ACD `20` and DFC `10` may be set in an answer).
pub const C_RSP_UD: u8 = 0x08;
/// Primary address of the network layer, used with secondary addressing.
pub const ADDR_NETWORK: u8 = 0xFD;
/// CI of "select slave" (secondary addressing).
pub const CI_SELECT: u8 = 0x52;

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b))
}

/// The length of the frame starting at `prefix[0]`, once enough of it has arrived (`Ok(None)`: need more bytes).
pub fn frame_length(prefix: &[u8]) -> Result<Option<usize>, FrameError> {
    match prefix.first() {
        None => Ok(None),
        Some(0xE5) => Ok(Some(1)),
        Some(0x10) => Ok(Some(5)),
        Some(0x68) if prefix.len() < 4 => Ok(None),
        Some(0x68) if prefix[1] != prefix[2] || prefix[3] != 0x68 || prefix[1] < 3 => {
            Err(FrameError::BadHeader)
        }
        Some(0x68) => Ok(Some(usize::from(prefix[1]) + 6)),
        Some(&b) => Err(FrameError::BadStart(b)),
    }
}

/// Parses exactly one frame; trailing bytes are an error.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    let truncated = |need| FrameError::Truncated {
        need,
        have: bytes.len(),
    };
    let len = frame_length(bytes)?.ok_or(truncated(4))?;
    if bytes.len() < len {
        return Err(truncated(len));
    }
    if bytes.len() > len {
        return Err(FrameError::Trailing(bytes.len() - len));
    }
    if len == 1 {
        return Ok(Frame::Ack);
    }
    if bytes[len - 1] != 0x16 {
        return Err(FrameError::NoStop);
    }
    let body = if len == 5 {
        &bytes[1..3]
    } else {
        &bytes[4..len - 2]
    };
    let (computed, stated) = (checksum(body), bytes[len - 2]);
    if computed != stated {
        return Err(FrameError::Checksum { computed, stated });
    }
    Ok(match body {
        [c, a] => Frame::Short { c: *c, a: *a },
        [c, a, ci, data @ ..] => Frame::Long {
            c: *c,
            a: *a,
            ci: *ci,
            data,
        },
        // frame_length guarantees L ≥ 3.
        _ => return Err(FrameError::BadHeader),
    })
}

fn short(c: u8, a: u8) -> [u8; 5] {
    [0x10, c, a, c.wrapping_add(a), 0x16]
}

/// SND_NKE to `address`: resets the slave's link layer (answer `E5`); starts every read cycle.
pub fn snd_nke(address: u8) -> [u8; 5] {
    short(C_SND_NKE, address)
}

/// REQ_UD2 to `address` with the frame count bit `fcb` (toggle it for each further telegram of a multi-telegram
/// answer, i.e. after a record with DIF `1F`).
pub fn req_ud2(address: u8, fcb: bool) -> [u8; 5] {
    short(C_REQ_UD2 | if fcb { FCB } else { 0 }, address)
}

/// A secondary address; `0xF` nibbles in `id` and `0xFF` bytes elsewhere are wildcards for a bus search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondaryAddress {
    /// 8 BCD digits as on the wire (little-endian).
    pub id: [u8; 4],
    /// Manufacturer code as on the wire (little-endian u16), `FF FF` = any.
    pub manufacturer: [u8; 2],
    /// Version, `FF` = any.
    pub version: u8,
    /// Medium (device type), `FF` = any.
    pub medium: u8,
}

impl SecondaryAddress {
    /// The address of the meter with 8-digit id `digits` (`F` allowed as a wildcard), any manufacturer, version
    /// and medium; `None` if `digits` is not 8 characters of `0-9` or `F`.
    pub fn from_id(digits: &str) -> Option<Self> {
        let d = digits.as_bytes();
        if d.len() != 8 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'F' | b'f' => Some(0xF),
            _ => None,
        };
        let mut id = [0u8; 4];
        for (i, pair) in d.chunks(2).enumerate() {
            id[3 - i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Self {
            id,
            manufacturer: [0xFF; 2],
            version: 0xFF,
            medium: 0xFF,
        })
    }
}

/// SND_UD to the network address with CI `52`: selects the slave with `address`; a following
/// `req_ud2(ADDR_NETWORK, …)` reads it.
pub fn select_secondary(address: &SecondaryAddress) -> [u8; 17] {
    let mut f = [0u8; 17];
    f[..4].copy_from_slice(&[0x68, 0x0B, 0x0B, 0x68]);
    f[4] = C_SND_UD;
    f[5] = ADDR_NETWORK;
    f[6] = CI_SELECT;
    f[7..11].copy_from_slice(&address.id);
    f[11..13].copy_from_slice(&address.manufacturer);
    f[13] = address.version;
    f[14] = address.medium;
    f[15] = checksum(&f[4..15]);
    f[16] = 0x16;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_libmbus_bytes() {
        assert_eq!(snd_nke(1), [0x10, 0x40, 0x01, 0x41, 0x16]);
        assert_eq!(req_ud2(1, false), [0x10, 0x5B, 0x01, 0x5C, 0x16]);
        assert_eq!(req_ud2(0xFD, true), [0x10, 0x7B, 0xFD, 0x78, 0x16]);
        let sel = select_secondary(&SecondaryAddress::from_id("23170428").expect("valid id"));
        assert_eq!(
            &sel[..11],
            &[0x68, 0x0B, 0x0B, 0x68, 0x53, 0xFD, 0x52, 0x28, 0x04, 0x17, 0x23]
        );
        assert!(matches!(
            parse_frame(&sel),
            Ok(Frame::Long {
                ci: 0x52,
                a: 0xFD,
                ..
            })
        ));
        assert_eq!(SecondaryAddress::from_id("2317042F").map(|a| a.id[0]), Some(0x2F));
        assert_eq!(SecondaryAddress::from_id("2317042"), None);
    }

    #[test]
    fn frames_and_their_errors() {
        assert_eq!(parse_frame(&[0xE5]), Ok(Frame::Ack));
        assert_eq!(parse_frame(&snd_nke(7)), Ok(Frame::Short { c: 0x40, a: 7 }));
        assert_eq!(
            parse_frame(&[0x10, 0x40, 0x07, 0x00, 0x16]),
            Err(FrameError::Checksum {
                computed: 0x47,
                stated: 0
            })
        );
        assert_eq!(parse_frame(&[0x68, 0x03, 0x04, 0x68]), Err(FrameError::BadHeader));
        assert_eq!(frame_length(&[0x68, 0x4E]), Ok(None));
        assert_eq!(parse_frame(&[0x11]), Err(FrameError::BadStart(0x11)));
    }
}
