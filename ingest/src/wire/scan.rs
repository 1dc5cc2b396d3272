//! A scanner for the exact byte layout every Zählwerk publisher produces (serde's field order, no
//! whitespace, no escapes): `{"v":1,"site":"…","device":"…","ts":"…","values":{"q":n,…}}`.
//!
//! It returns `None` at the first byte that differs from that layout, and the caller then takes the serde
//! path, which accepts any valid JSON and names the error. So the scanner never rejects anything and only
//! has to be right about what it accepts: plain ASCII strings that need no unescaping, known quantity
//! names, and numbers in JSON's grammar, parsed by Rust's correctly rounded `f64` parser.

use super::{N, Values};
use zw_model::Quantity;

/// The borrowed fields of a payload in the canonical layout.
pub(super) struct Canonical<'a> {
    pub(super) site: &'a str,
    pub(super) device: &'a str,
    pub(super) ts: &'a str,
    pub(super) values: Values,
}

/// The fields of `p` if it is exactly in the canonical layout (schema version 1), else `None`.
pub(super) fn scan(p: &[u8]) -> Option<Canonical<'_>> {
    let s = std::str::from_utf8(p).ok()?;
    scan_at(s, 0).and_then(|(c, end)| (end == p.len()).then_some(c))
}

/// The fields of the reading in the canonical layout that starts at byte `at` of `s`, and the index just
/// past it. `s` is validated UTF-8 once per message (one pass over a whole batch is far cheaper than a
/// validation per field), so fields are plain slices of it.
pub(super) fn scan_at(s: &str, at: usize) -> Option<(Canonical<'_>, usize)> {
    let mut c = Cursor {
        s,
        p: s.as_bytes(),
        i: at,
    };
    c.lit(br#"{"v":1,"site":""#)?;
    let site = c.string(is_id_byte)?;
    c.lit(br#"","device":""#)?;
    let device = c.string(is_id_byte)?;
    c.lit(br#"","ts":""#)?;
    let ts = c.string(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')?;
    c.lit(br#"","values":{"#)?;
    let mut values = Values { set: 0, v: [0.0; N] };
    loop {
        c.lit(b"\"")?;
        let q =
            Quantity::from_name(c.string(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')?)?;
        c.lit(b"\":")?;
        let i = q as usize;
        values.v[i] = c.number()?;
        values.set |= 1 << i;
        match c.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    c.lit(b"}")?;
    Some((
        Canonical {
            site,
            device,
            ts,
            values,
        },
        c.i,
    ))
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

struct Cursor<'a> {
    s: &'a str,
    p: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i.checked_add(s.len())?;
        (self.p.get(self.i..end)? == s).then(|| self.i = end)
    }

    fn next(&mut self) -> Option<u8> {
        let b = *self.p.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    /// The bytes up to the closing `"` (left in place), all satisfying `ok`.
    fn string(&mut self, ok: impl Fn(u8) -> bool) -> Option<&'a str> {
        let start = self.i;
        let len = self.p[start..].iter().position(|&b| b == b'"')?;
        let s = &self.p[start..start + len];
        if !s.iter().all(|&b| ok(b)) {
            return None;
        }
        self.i += len;
        // Only ASCII bytes pass `ok`, so both ends are character boundaries.
        self.s.get(start..start + len)
    }

    /// A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, finite.
    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        let digits = |c: &mut Self| {
            let from = c.i;
            while c.p.get(c.i).is_some_and(u8::is_ascii_digit) {
                c.i += 1;
            }
            c.i - from
        };
        if self.p.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let int_digits = digits(self);
        // No leading zeros ("01"), as JSON requires.
        if int_digits == 0 || (int_digits > 1 && self.p[int_start] == b'0') {
            return None;
        }
        if self.p.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if matches!(self.p.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.p.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        let text = self.s.get(start..self.i)?;
        text.parse::<f64>().ok().filter(|v| v.is_finite())
    }
}
