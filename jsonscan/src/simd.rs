//! Sixteen input bytes at a time: byte masks (bit k for byte k) of the bytes the scanner looks for. On
//! x86_64 one SSE2 register (`pcmpeqb` + `pmovmskb`: two instructions per mask, no per-call set-up); on other
//! targets the same masks from two 8-byte SWAR words, so every platform builds and behaves identically
//! (property tests in `tests.rs` compare both on random bytes).
//!
//! The only `unsafe` of the workspace (the root `Cargo.toml` forbids `unsafe_code`; this crate only denies it,
//! and it is allowed item by item here): calling the SSE2 intrinsics. `core::arch` marks them `#[target_feature(enable = "sse2")]`, which makes
//! a call from a function without that attribute `unsafe` even though SSE2 is part of the x86_64 baseline
//! (every x86_64 CPU has it and rustc's x86_64 targets enable it). The load reads through a `&[u8; 16]`, so
//! the pointer is valid for the 16 bytes read by construction.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
};

#[cfg(not(target_arch = "x86_64"))]
use crate::swar;

/// Sixteen bytes of input.
#[derive(Clone, Copy)]
pub(crate) struct Block(
    #[cfg(target_arch = "x86_64")] __m128i,
    #[cfg(not(target_arch = "x86_64"))] [u64; 2],
);

#[cfg(target_arch = "x86_64")]
impl Block {
    /// The sixteen bytes of `b`.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn load(b: &[u8; 16]) -> Block {
        // SAFETY: SSE2 is in the x86_64 baseline; `b` is a reference to 16 initialised bytes, exactly what
        // `_mm_loadu_si128` reads, and it has no alignment requirement.
        Block(unsafe { _mm_loadu_si128(b.as_ptr().cast()) })
    }

    /// The bytes equal to `c`.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn eq(self, c: u8) -> u32 {
        // SAFETY: SSE2 is in the x86_64 baseline; these intrinsics only compute on registers.
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_set1_epi8(c as i8))) as u32 }
    }

    /// The bytes equal to `a` or `b`.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn eq2(self, a: u8, b: u8) -> u32 {
        // SAFETY: SSE2 is in the x86_64 baseline; these intrinsics only compute on registers.
        unsafe {
            let x = _mm_cmpeq_epi8(self.0, _mm_set1_epi8(a as i8));
            let y = _mm_cmpeq_epi8(self.0, _mm_set1_epi8(b as i8));
            _mm_movemask_epi8(_mm_or_si128(x, y)) as u32
        }
    }

    /// The bytes that end a plain string's run: `"`, `\` and control characters (below 0x20).
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn string_special(self) -> u32 {
        // SAFETY: SSE2 is in the x86_64 baseline; these intrinsics only compute on registers.
        unsafe {
            let x = _mm_cmpeq_epi8(self.0, _mm_set1_epi8(b'"' as i8));
            let y = _mm_cmpeq_epi8(self.0, _mm_set1_epi8(b'\\' as i8));
            // Unsigned b ≤ 0x1F exactly when min(b, 0x1F) = b.
            let z = _mm_cmpeq_epi8(_mm_min_epu8(self.0, _mm_set1_epi8(0x1F)), self.0);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(x, y), z)) as u32
        }
    }

    /// The bytes with the high bit set (non-ASCII).
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn high(self) -> u32 {
        // SAFETY: SSE2 is in the x86_64 baseline; this intrinsic only computes on a register.
        unsafe { _mm_movemask_epi8(self.0) as u32 }
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl Block {
    /// The sixteen bytes of `b`.
    #[inline(always)]
    pub(crate) fn load(b: &[u8; 16]) -> Block {
        let (lo, hi) = b.split_at(8);
        let word = |h: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(h);
            u64::from_le_bytes(w)
        };
        Block([word(lo), word(hi)])
    }

    #[inline(always)]
    fn both(self, f: impl Fn(u64) -> u64) -> u32 {
        swar::bits(f(self.0[0])) | swar::bits(f(self.0[1])) << 8
    }

    /// The bytes equal to `c`.
    #[inline(always)]
    pub(crate) fn eq(self, c: u8) -> u32 {
        self.both(|w| swar::eq(w, c))
    }

    /// The bytes equal to `a` or `b`.
    #[inline(always)]
    pub(crate) fn eq2(self, a: u8, b: u8) -> u32 {
        self.both(|w| swar::eq(w, a) | swar::eq(w, b))
    }

    /// The bytes that end a plain string's run: `"`, `\` and control characters (below 0x20).
    #[inline(always)]
    pub(crate) fn string_special(self) -> u32 {
        self.both(swar::string_special)
    }

    /// The bytes with the high bit set (non-ASCII).
    #[inline(always)]
    pub(crate) fn high(self) -> u32 {
        self.both(|w| w & swar::HIGH)
    }
}
