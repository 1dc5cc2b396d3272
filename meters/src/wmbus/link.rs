//! Wireless M-Bus link layer (EN 13757-4): `L C M M A A A A A A`, with block CRCs (format A or B) or without
//! (a receiver that stripped them). [`normalize`] checks and removes the CRCs into a caller's buffer, so the rest
//! of the decoder sees one layout: `L C M(2) A(6) CI …` with L counting the bytes after itself.

use crc::{CRC_16_EN_13757, Crc, Table};

use super::Error;

const CRC: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_EN_13757);

/// How the frame arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFormat {
    /// Without CRCs: L + 1 bytes, no block CRC validates as format B.
    Stripped,
    /// Format A: CRC after the 10-byte first block and after every 16 bytes.
    FormatA,
    /// Format B: L includes the CRCs; one after block 2 (bytes up to 126) and one at the end.
    FormatB,
}

fn crc_ok(block: &[u8], crc: &[u8]) -> bool {
    CRC.checksum(block).to_be_bytes() == crc
}

/// Total bytes of a format A frame with length field `l`.
fn format_a_len(l: usize) -> usize {
    let rest = l.saturating_sub(9);
    12 + rest + 2 * rest.div_ceil(16)
}

/// Checks and strips the block CRCs of `frame` into `out`; returns the length of the stripped frame.
pub fn normalize(frame: &[u8], out: &mut [u8; 256]) -> Result<(usize, LinkFormat), Error> {
    let l = usize::from(*frame.first().ok_or(Error::Truncated)?);
    if l < 10 {
        return Err(Error::Truncated);
    }
    if frame.len() == l + 1 {
        if let Some(n) = strip_format_b(frame, out) {
            return Ok((n, LinkFormat::FormatB));
        }
        out[..frame.len()].copy_from_slice(frame);
        return Ok((frame.len(), LinkFormat::Stripped));
    }
    if frame.len() != format_a_len(l) {
        return Err(Error::Length {
            l: frame[0],
            have: frame.len(),
        });
    }
    if !crc_ok(&frame[..10], &frame[10..12]) {
        return Err(Error::BlockCrc(0));
    }
    out[..10].copy_from_slice(&frame[..10]);
    let mut n = 10;
    for (i, block) in frame[12..].chunks(18).enumerate() {
        let (data, crc) = block.split_at(block.len() - 2);
        if !crc_ok(data, crc) {
            return Err(Error::BlockCrc(i + 1));
        }
        out[n..n + data.len()].copy_from_slice(data);
        n += data.len();
    }
    Ok((n, LinkFormat::FormatA))
}

/// Format B when its CRCs validate; L then counts the CRCs, which the stripped copy does not.
fn strip_format_b(frame: &[u8], out: &mut [u8; 256]) -> Option<usize> {
    let (mut n, len) = (0, frame.len());
    let block2_end = len.min(128);
    if block2_end < 12 || !crc_ok(&frame[..block2_end - 2], &frame[block2_end - 2..block2_end]) {
        return None;
    }
    out[..block2_end - 2].copy_from_slice(&frame[..block2_end - 2]);
    n += block2_end - 2;
    if len > 128 {
        if len < 131 || !crc_ok(&frame[128..len - 2], &frame[len - 2..]) {
            return None;
        }
        out[n..n + len - 130].copy_from_slice(&frame[128..len - 2]);
        n += len - 130;
    }
    out[0] = (n - 1) as u8;
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_b_round_trip() {
        // A stripped frame, re-encoded as format B (L counts the final CRC).
        let plain = [
            0x0B, 0x44, 0x93, 0x15, 0x78, 0x56, 0x34, 0x12, 0x33, 0x03, 0x78, 0x2F,
        ];
        let mut b = plain.to_vec();
        b[0] = 0x0D;
        let crc = CRC.checksum(&b).to_be_bytes();
        b.extend_from_slice(&crc);
        let mut out = [0u8; 256];
        assert_eq!(normalize(&b, &mut out).map(|r| r.1), Ok(LinkFormat::FormatB));
        assert_eq!(&out[..plain.len()], &plain);
        assert_eq!(normalize(&plain, &mut out).map(|r| r.1), Ok(LinkFormat::Stripped));
    }
}
