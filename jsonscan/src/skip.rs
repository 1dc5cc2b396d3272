//! Skipping the values the caller does not read (see "Unread values" in the crate doc), sixteen bytes at a
//! time ([`Block`] masks) and eight near the end of the input ([`crate::swar`] words): the skipping half of
//! [`Scanner`].

use crate::simd::Block;
use crate::swar::{ONES, below, bits, eq};
use crate::{ScanError, Scanner};

impl<E: From<ScanError>> Scanner<'_, E> {
    /// Skips a value the caller does not read, leniently (see "Unread values" in the crate doc): a
    /// string only to its closing quote, an array or object only to its matching bracket. Scalars are
    /// checked as before (they are short, and checking costs no more than skipping).
    pub fn skip(&mut self) -> Result<(), E> {
        self.ws();
        #[cfg(any(test, all(feature = "test-support", debug_assertions)))]
        let start = self.i;
        let r = match self.byte() {
            Some(b'"') => {
                self.i += 1;
                self.skip_string()
            }
            Some(b'{') => self.skip_container(b'{', b'}'),
            Some(b'[') => self.skip_container(b'[', b']'),
            // Checked, as in `skip_checked`, without its second dispatch (unread numbers are common).
            Some(b'-' | b'0'..=b'9') => return self.number_text().map(drop),
            _ => return self.skip_checked(),
        };
        #[cfg(any(test, all(feature = "test-support", debug_assertions)))]
        if r.is_ok() {
            crate::test_support::record_skip(start, self.i);
        }
        r
    }

    /// Skips one value, checking its syntax (dispatching on the first byte once, strings first: they are
    /// most of what is skipped).
    pub(crate) fn skip_checked(&mut self) -> Result<(), E> {
        self.ws();
        match self.byte() {
            Some(b'"') => {
                self.i += 1;
                self.string_tail().map(drop)
            }
            Some(b'-' | b'0'..=b'9') => self.number_text().map(drop),
            Some(b'{') => self.object_with(false, |s, _| s.skip_checked()),
            Some(b'[') => self.array(Self::skip_checked),
            Some(b'n') => self.literal(b"null"),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            None => Err(self.err("unexpected end of input")),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    /// After an opening quote: moves past the closing one, taking a backslash and the byte after it as a
    /// pair and checking nothing else. Sixteen bytes at a time, then eight, like
    /// [`Self::advance_to_special`]: skipped strings are as short as read ones.
    pub(crate) fn skip_string(&mut self) -> Result<(), E> {
        loop {
            while let Some(chunk) = self.b.get(self.i..).and_then(<[u8]>::first_chunk::<16>) {
                let hits = Block::load(chunk).eq2(b'"', b'\\');
                if hits != 0 {
                    self.i += hits.trailing_zeros() as usize;
                    break;
                }
                self.i += 16;
            }
            while let Some(chunk) = self.b.get(self.i..self.i + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                let w = u64::from_le_bytes(w);
                let hits = below(w ^ (ONES * u64::from(b'"')), 1) | below(w ^ (ONES * u64::from(b'\\')), 1);
                if hits != 0 {
                    self.i += (hits.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            match self.byte() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => self.i += 2,
                Some(_) => self.i += 1,
                None => return Err(self.err("end of input in a string")),
            }
        }
    }

    /// At `open`: moves past its matching `close`, counting only these two brackets outside strings (in
    /// well-formed JSON the other kind nests inside and cannot close it). Sixteen bytes at a time (eight
    /// near the end of the input) without a branch per string: exact byte masks of quotes and brackets, the
    /// quotes' running parity says which bytes lie inside strings. A block with a backslash is taken byte by
    /// byte.
    pub(crate) fn skip_container(&mut self, open: u8, close: u8) -> Result<(), E> {
        self.i += 1;
        let mut depth = 1u32;
        let mut in_str = false;
        loop {
            // A block (near the end a word) without a backslash is crossed from its masks.
            if let Some(chunk) = self.b.get(self.i..).and_then(<[u8]>::first_chunk::<16>) {
                let blk = Block::load(chunk);
                if blk.eq(b'\\') == 0 {
                    let (q, o, c) = (blk.eq(b'"'), blk.eq(open), blk.eq(close));
                    if let Some(k) = cross(16, q, o, c, &mut depth, &mut in_str) {
                        self.i += k + 1;
                        return Ok(());
                    }
                    self.i += 16;
                    continue;
                }
            } else if let Some(chunk) = self.b.get(self.i..).and_then(<[u8]>::first_chunk::<8>) {
                let w = u64::from_le_bytes(*chunk);
                if eq(w, b'\\') == 0 {
                    let (q, o, c) = (bits(eq(w, b'"')), bits(eq(w, open)), bits(eq(w, close)));
                    if let Some(k) = cross(8, q, o, c, &mut depth, &mut in_str) {
                        self.i += k + 1;
                        return Ok(());
                    }
                    self.i += 8;
                    continue;
                }
            }
            // A byte at a time: near a backslash or the end.
            let Some(&b) = self.b.get(self.i) else {
                return Err(self.err("unexpected end of input"));
            };
            self.i += 1;
            if in_str {
                match b {
                    b'\\' => self.i += 1,
                    b'"' => in_str = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_str = true;
            } else if b == open {
                depth += 1;
            } else if b == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
        }
    }
}

/// Crosses one block of `width` (8 or 16) bytes of a skipped container that holds no backslash, given the
/// masks (bit k for byte k) of its quotes `q` and its container's opening and closing brackets `o` and
/// `c`: updates the nesting `depth` and whether the block ends inside a string, and returns the offset of
/// the bracket that closes the container if it is in this block. Strings are told apart without a branch
/// per string: the quotes' running parity (a prefix XOR) marks the bytes inside them.
#[inline(always)]
fn cross(width: usize, q: u32, o: u32, c: u32, depth: &mut u32, in_str: &mut bool) -> Option<usize> {
    if o | c == 0 {
        *in_str ^= q.count_ones() & 1 == 1;
        return None;
    }
    // Bit k: byte k is inside a string (an opening quote counts as inside).
    let mut inside = q;
    inside ^= inside << 1;
    inside ^= inside << 2;
    inside ^= inside << 4;
    inside ^= inside << 8;
    if *in_str {
        inside = !inside;
    }
    let inside = inside & ((1 << width) - 1);
    *in_str = inside >> (width - 1) == 1;
    let (opens, closes) = (o & !inside, c & !inside);
    if closes.count_ones() < *depth {
        *depth = *depth + opens.count_ones() - closes.count_ones();
        return None;
    }
    let mut events = opens | closes;
    while events != 0 {
        let k = events.trailing_zeros();
        if opens >> k & 1 == 1 {
            *depth += 1;
        } else {
            *depth -= 1;
            if *depth == 0 {
                return Some(k as usize);
            }
        }
        events &= events - 1;
    }
    None
}
