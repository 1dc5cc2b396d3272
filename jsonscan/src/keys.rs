//! Finding an object's keys in an adapter's table: a compile-time perfect hash, and duplicate detection.

use crate::ScanError;

/// Whether `key` is `k`, without a `memcmp` call: two overlapping 8-byte words cover a key of 8–16 bytes
/// (most of the devices' keys), two 4-byte words one of 4–7, a byte loop the rest.
#[inline]
pub fn is(k: &str, key: &[u8]) -> bool {
    let (k, n) = (k.as_bytes(), k.len());
    if n != key.len() {
        return false;
    }
    if n >= 8 {
        word(k, 0) == word(key, 0)
            && word(k, n - 8) == word(key, n - 8)
            && (n <= 16 || k[8..n - 8].iter().zip(&key[8..n - 8]).all(|(a, b)| a == b))
    } else if n >= 4 {
        half(k, 0) == half(key, 0) && half(k, n - 4) == half(key, n - 4)
    } else {
        k.iter().zip(key).all(|(a, b)| a == b)
    }
}

#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn half(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[i..i + 4]);
    u32::from_le_bytes(w)
}

/// A perfect hash of a table's keys by (length, first byte, last byte): one multiplication and one
/// comparison find a key's index, or turn away a key we do not read, instead of comparing it with every
/// key of the table. Built at compile time; a table whose keys collide fails to compile.
#[derive(Debug)]
pub struct KeyIndex {
    mul: u64,
    /// Index + 1 of the key hashed here; 0 for none.
    slots: [u8; 64],
}

#[inline(always)]
const fn slot(mul: u64, key: &[u8]) -> usize {
    let w = key.len() as u64 | (key[0] as u64) << 8 | (key[key.len() - 1] as u64) << 16;
    (w.wrapping_mul(mul) >> 58) as usize
}

impl KeyIndex {
    /// The index of `keys` (non-empty, distinct in length, first and last byte; at most 64).
    pub const fn new(keys: &[&str]) -> KeyIndex {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut tries = 0;
        'search: while tries < 1000 {
            let mul = seed | 1;
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            tries += 1;
            let mut slots = [0u8; 64];
            let mut i = 0;
            while i < keys.len() {
                let h = slot(mul, keys[i].as_bytes());
                if slots[h] != 0 {
                    continue 'search;
                }
                slots[h] = i as u8 + 1;
                i += 1;
            }
            return KeyIndex { mul, slots };
        }
        panic!("no perfect hash for these keys");
    }

    /// The index of `key` among `keys` (the keys this index was built from).
    #[inline(always)]
    pub fn find(&self, keys: &[&str], key: &[u8]) -> Option<usize> {
        if key.is_empty() {
            return None;
        }
        let i = usize::from(self.slots[slot(self.mul, key)]).checked_sub(1)?;
        keys.get(i).filter(|k| is(k, key)).map(|_| i)
    }
}

/// Remembers which fields of an object were seen, to reject duplicates as serde's derive does.
#[derive(Default)]
pub struct Seen(u64);

impl Seen {
    /// Marks field `bit` seen; an error if it was already.
    #[inline]
    pub fn first(&mut self, bit: u32, field: &str) -> Result<(), ScanError> {
        let m = 1u64 << bit;
        if self.0 & m != 0 {
            return Err(ScanError::Field {
                field: field.into(),
                problem: "duplicate field".into(),
            });
        }
        self.0 |= m;
        Ok(())
    }
}
