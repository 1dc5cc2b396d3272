//! Eight input bytes at a time (SWAR: SIMD within a register): exact byte masks on `u64` words. The portable
//! fallback of [`crate::simd::Block`] on targets without SSE2, the reference its SSE2 masks are tested against
//! on x86_64, and the scanner's eight-byte steps near the end of the input.

/// 0x01 in every byte.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `w` that is below `n` (exact for the lowest such byte; `n` ≤ 128).
#[inline]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH
}

/// 0x80 in each byte of `w` equal to `c`, 0 in the others (exact for every byte).
#[inline(always)]
pub(crate) fn eq(w: u64, c: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = w ^ (ONES * u64::from(c));
    !(((x & LOW7) + LOW7) | x) & HIGH
}

/// The high bits of an [`eq`] mask as eight bits, bit k for byte k.
#[inline(always)]
pub(crate) fn bits(m: u64) -> u32 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

/// 0x80 in each byte of `w` that is `"`, `\` or below 0x20, 0 in the others (exact for every byte).
#[inline(always)]
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
pub(crate) fn string_special(w: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    // A byte is below 0x20 exactly when its top three bits are zero.
    let x = w & (ONES * 0xE0);
    let ctrl = !(((x & LOW7) + LOW7) | x) & HIGH;
    eq(w, b'"') | eq(w, b'\\') | ctrl
}

/// The SWAR masks of 16 bytes, as [`crate::simd::Block`]'s: (`eq(c)`, `eq2(a, b)`, `string_special`, `high`).
#[cfg(test)]
pub(crate) fn masks(b: &[u8; 16], c: u8, a2: u8, b2: u8) -> (u32, u32, u32, u32) {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let (lo, hi) = (word(0), word(8));
    let both = |f: &dyn Fn(u64) -> u64| bits(f(lo)) | bits(f(hi)) << 8;
    (
        both(&|w| eq(w, c)),
        both(&|w| eq(w, a2) | eq(w, b2)),
        both(&string_special),
        both(&|w| w & HIGH),
    )
}
