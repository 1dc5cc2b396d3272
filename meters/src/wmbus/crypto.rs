//! OMS security: mode 5 (AES-128-CBC, IV = M ‖ A ‖ ACC × 8) and mode 7 (AES-128-CBC with IV 0 and a key
//! derived per telegram with AES-CMAC from the message counter, OMS vol. 2 §9). Keys never leave this module
//! except as the caller's [`Key`]; nothing here logs.

use aes::Aes128;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use cmac::{Cmac, KeyInit, Mac};

/// A per-meter AES-128 key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub [u8; 16]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// A key from 32 hex digits; `None` if malformed.
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return None;
        }
        let mut k = [0u8; 16];
        for (i, pair) in s.chunks(2).enumerate() {
            let hex = |c: u8| (c as char).to_digit(16);
            k[i] = (hex(pair[0])? * 16 + hex(pair[1])?) as u8;
        }
        Some(Self(k))
    }
}

/// Decrypts `data` (a multiple of 16 bytes) in place with AES-128-CBC.
pub fn cbc_decrypt(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    let mut dec = cbc::Decryptor::<Aes128>::new(key.into(), iv.into());
    let (blocks, _) = cbc::cipher::Block::<Aes128>::slice_as_chunks_mut(data);
    dec.decrypt_blocks(blocks);
}

/// Mode 5 IV: manufacturer and address (8 bytes) followed by the access number eight times.
pub fn mode5_iv(manufacturer_first: &[u8; 8], access_number: u8) -> [u8; 16] {
    let mut iv = [access_number; 16];
    iv[..8].copy_from_slice(manufacturer_first);
    iv
}

/// Mode 7 key derivation: `CMAC(K, DC ‖ counter(4, LE) ‖ id(4, wire order) ‖ 07 × 7)` with DC `00` for the
/// encryption key and `01` for the MAC key of a meter-to-other telegram.
pub fn mode7_key(master: &Key, derivation_constant: u8, counter: u32, id: [u8; 4]) -> [u8; 16] {
    let mut input = [0x07u8; 16];
    input[0] = derivation_constant;
    input[1..5].copy_from_slice(&counter.to_le_bytes());
    input[5..9].copy_from_slice(&id);
    let mut mac = <Cmac<Aes128> as KeyInit>::new((&master.0).into());
    mac.update(&input);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmac_matches_rfc4493_example_2() {
        // RFC 4493 test vector: the KDF is this CMAC over one block.
        let k = Key::from_hex("2b7e151628aed2a6abf7158809cf4f3c").expect("hex");
        let mut mac = <Cmac<Aes128> as KeyInit>::new((&k.0).into());
        mac.update(&[
            0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
        ]);
        let tag: [u8; 16] = mac.finalize().into_bytes().into();
        assert_eq!(
            Key(tag),
            Key::from_hex("070a16b46b4d4144f79bdd9dd04a287c").expect("hex")
        );
        assert_eq!(format!("{k:?}"), "Key(…)");
    }
}
