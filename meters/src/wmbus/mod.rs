//! Wireless M-Bus / OMS: link layer, extended and authentication layers, OMS security, then the M-Bus
//! application layer of [`crate::mbus`].
//!
//! [`decode`] takes a telegram as a receiver delivers it (with or without block CRCs) and a [`KeyStore`] asked
//! for the key of the meter named in the header. The outcomes a receiver operator must tell apart are distinct
//! errors: no key for an encrypted meter ([`Error::MissingKey`]), the wrong key ([`Error::WrongKey`]: the
//! decrypted payload does not start `2F 2F`), and a plaintext payload where the header announces encryption
//! ([`Error::NotEncrypted`], a replay or a misconfigured meter). [`decode_predecrypted`] reads captures whose
//! payload was stored already decrypted (wmbusmeters' `_` test strings).
//!
//! Covered: CI `7A`/`72`/`78` after the link layer, ELL `8C` (unencrypted), AFL `90` (message counter for mode 7;
//! its MAC is not checked, the `2F 2F` check is), security modes 0, 5 and 7. Not covered: compact frames (CI
//! `79`, they need a format signature from an earlier full frame), ELL AES-CTR (`8D`), modes 8–10.

pub mod crypto;
pub mod link;

use std::collections::HashMap;

use thiserror::Error;

pub use crypto::Key;
pub use link::LinkFormat;

use crate::mbus::record::{RecordError, parse_records};
use crate::mbus::{Identity, MeterId, Telegram, Tpl};

/// Why a wireless telegram cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Error {
    /// Shorter than a link layer header.
    #[error("telegram truncated")]
    Truncated,
    /// The byte count fits neither L + 1 (no CRCs, format B) nor format A.
    #[error("length field {l} does not fit {have} bytes")]
    Length {
        /// The L field.
        l: u8,
        /// Bytes received.
        have: usize,
    },
    /// A block CRC (format A block index, 0 = first block) does not match.
    #[error("CRC error in block {0}")]
    BlockCrc(usize),
    /// A CI this crate does not decode.
    #[error("unsupported CI {0:#04x}")]
    UnsupportedCi(u8),
    /// A compact frame (CI `79`): needs the format signature of an earlier full frame.
    #[error("compact frame (CI 0x79) without a known format signature")]
    CompactFrame,
    /// A transport or authentication header cut short.
    #[error("header cut short")]
    ShortHeader,
    /// The meter's telegram is encrypted and there is no key for it.
    #[error("encrypted telegram from {0}, no key for this meter")]
    MissingKey(MeterId),
    /// The decrypted payload does not start `2F 2F`: the key is wrong.
    #[error("wrong key for meter {0} (decrypted payload does not start 2F 2F)")]
    WrongKey(MeterId),
    /// The header announces encryption but the payload is plaintext.
    #[error("meter {0} sent plaintext although the header announces encryption")]
    NotEncrypted(MeterId),
    /// A security mode other than 0, 5 and 7.
    #[error("unsupported security mode {0}")]
    UnsupportedSecurity(u8),
    /// Mode 7 without an AFL message counter.
    #[error("mode 7 telegram without a message counter")]
    NoCounter,
    /// More encrypted blocks announced than there are bytes.
    #[error("encrypted length exceeds the telegram")]
    EncryptedLength,
    /// Application layer.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Where [`decode`] finds a meter's key.
pub trait KeyStore {
    /// The key of `meter`, if one is configured.
    fn key(&self, meter: &Identity) -> Option<&Key>;
}

/// No keys.
impl KeyStore for () {
    fn key(&self, _: &Identity) -> Option<&Key> {
        None
    }
}

/// One key for whatever meter (tests, a single-meter receiver).
impl KeyStore for Key {
    fn key(&self, _: &Identity) -> Option<&Key> {
        Some(self)
    }
}

/// Keys by meter id.
impl KeyStore for HashMap<MeterId, Key> {
    fn key(&self, meter: &Identity) -> Option<&Key> {
        self.get(&meter.id)
    }
}

/// Decodes a wireless telegram, decrypting with the key `keys` holds for its meter.
pub fn decode(frame: &[u8], keys: &impl KeyStore) -> Result<Telegram, Error> {
    decode_inner(frame, Some(keys))
}

/// Decodes a capture whose payload is stored already decrypted although the header announces encryption.
/// Never use it on live telegrams: it accepts what [`decode`] rejects as [`Error::NotEncrypted`].
pub fn decode_predecrypted(frame: &[u8]) -> Result<Telegram, Error> {
    decode_inner::<()>(frame, None)
}

fn decode_inner<K: KeyStore>(frame: &[u8], keys: Option<&K>) -> Result<Telegram, Error> {
    let mut buf = [0u8; 256];
    let (n, _) = link::normalize(frame, &mut buf)?;
    let b = &mut buf[..n];
    if n < 11 {
        return Err(Error::Truncated);
    }
    let c_field = b[1];
    let link = Identity::from_manufacturer_first(b[2..10].try_into().map_err(|_| Error::Truncated)?);
    let mut at = 10;
    let mut counter = None;
    loop {
        let ci = *b.get(at).ok_or(Error::ShortHeader)?;
        match ci {
            // ELL without encryption: CC, ACC.
            0x8C => at += 3,
            0x90 => {
                let len = usize::from(*b.get(at + 1).ok_or(Error::ShortHeader)?);
                let afl = b.get(at + 2..at + 2 + len).ok_or(Error::ShortHeader)?;
                counter = afl_counter(afl);
                at += 2 + len;
            }
            0x79 => return Err(Error::CompactFrame),
            _ => break,
        }
    }
    let ci = b[at];
    let tpl = Tpl::parse(ci, &b[at + 1..]).ok_or(if matches!(ci, 0x72 | 0x7A) {
        Error::ShortHeader
    } else {
        Error::UnsupportedCi(ci)
    })?;
    let meter = tpl.identity.unwrap_or(link);
    let payload = &mut b[at + 1 + tpl.len..];
    let mode = tpl.security_mode();
    match (mode, keys) {
        (0, _) | (5 | 7, None) => {}
        (5 | 7, Some(keys)) => {
            let key = keys.key(&meter).ok_or(Error::MissingKey(meter.id))?;
            let enc = payload
                .get_mut(..16 * tpl.encrypted_blocks())
                .ok_or(Error::EncryptedLength)?;
            if enc.starts_with(&[0x2F, 0x2F]) {
                return Err(Error::NotEncrypted(meter.id));
            }
            let (k, iv) = if mode == 5 {
                (
                    key.0,
                    crypto::mode5_iv(&meter.manufacturer_first(), tpl.access_number),
                )
            } else {
                let counter = counter.ok_or(Error::NoCounter)?;
                (crypto::mode7_key(key, 0x00, counter, meter.id.0), [0u8; 16])
            };
            crypto::cbc_decrypt(&k, &iv, enc);
            if !enc.starts_with(&[0x2F, 0x2F]) {
                return Err(Error::WrongKey(meter.id));
            }
        }
        (m, _) => return Err(Error::UnsupportedSecurity(m)),
    }
    let records = parse_records(payload)?;
    let link = Some(link);
    Ok(Telegram {
        meter: Some(meter),
        link,
        c_field,
        primary_address: None,
        tpl,
        records,
    })
}

/// The message counter of an AFL (`FCL(2)`, then MCL, KI, MCR as the FCL's presence bits say).
fn afl_counter(afl: &[u8]) -> Option<u32> {
    let fcl = u16::from_le_bytes([*afl.first()?, *afl.get(1)?]);
    let mut at = 2;
    at += usize::from(fcl & 0x2000 != 0);
    at += 2 * usize::from(fcl & 0x0200 != 0);
    if fcl & 0x0800 == 0 {
        return None;
    }
    Some(u32::from_le_bytes(afl.get(at..at + 4)?.try_into().ok()?))
}
