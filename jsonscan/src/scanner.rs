//! The cursor: reading values (numbers, strings, arrays, objects) and the document's structure around them.
//! Skipping unread values is in [`crate::skip`].

use std::borrow::Cow;
use std::marker::PhantomData;

use crate::ScanError;
use crate::simd::Block;
use crate::swar::{HIGH, ONES, below};

/// Nesting limit, as serde_json's.
const MAX_DEPTH: u32 = 128;

/// What the next value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// A cursor over one JSON document.
///
/// Errors are returned as `E`, any type a [`ScanError`] converts into: the caller's own error type, so that
/// the closures visiting arrays and objects return the caller's errors and the scanner's alike.
pub struct Scanner<'a, E = ScanError> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
    depth: u32,
    error: PhantomData<fn() -> E>,
}

/// A type mismatch of a known field.
pub fn wrong_type<E: From<ScanError>>(field: &str, want: &str, got: Kind) -> E {
    E::from(ScanError::Field {
        field: field.into(),
        problem: format!("expected {want}, got {}", got.name()),
    })
}

impl<'a, E: From<ScanError>> Scanner<'a, E> {
    /// A scanner at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            i: 0,
            depth: 0,
            error: PhantomData,
        }
    }

    pub(crate) fn err(&self, what: &str) -> E {
        E::from(ScanError::Json(format!("{what} at byte {}", self.i)))
    }

    /// Skips whitespace; one comparison when there is none (devices send compact JSON).
    #[inline(always)]
    pub(crate) fn ws(&mut self) {
        if self.b.get(self.i).is_some_and(|&c| c > b' ') {
            return;
        }
        self.ws_slow();
    }

    fn ws_slow(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    pub(crate) fn byte(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// The kind of the next value; an error at the end of input or on a byte that starts no value.
    #[inline]
    pub fn kind(&mut self) -> Result<Kind, E> {
        self.ws();
        match self.byte() {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => Ok(Kind::Null),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'"') => Ok(Kind::String),
            Some(b'[') => Ok(Kind::Array),
            Some(b'{') => Ok(Kind::Object),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    /// Ends the document: only whitespace may follow.
    pub fn end(&mut self) -> Result<(), E> {
        self.ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(self.err("trailing characters"))
        }
    }

    /// Reads `null` (`None`) or any other value with `read`.
    pub fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<Option<T>, E> {
        if self.kind()? == Kind::Null {
            self.literal(b"null")?;
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), E> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.byte(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// The text of the next number, grammar-checked.
    pub(crate) fn number_text(&mut self) -> Result<&'a [u8], E> {
        let start = self.i;
        if self.byte() == Some(b'-') {
            self.i += 1;
        }
        match self.byte() {
            Some(b'0') => {
                self.i += 1;
                if matches!(self.byte(), Some(b'0'..=b'9')) {
                    return Err(self.err("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.byte() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.byte(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.byte(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        Ok(&self.b[start..self.i])
    }

    /// Reads a number; any other value is a bad `field`.
    #[inline]
    pub fn number(&mut self, field: &str) -> Result<f64, E> {
        match self.kind()? {
            Kind::Number => self.number_value(),
            k => Err(wrong_type(field, "a number", k)),
        }
    }

    /// Reads a number at the cursor (its kind already checked), checking the grammar and accumulating the
    /// digits in one pass. Plain decimals (no exponent, at most 15 digits) take Clinger's fast path: the
    /// mantissa and the power of ten are exact in `f64`, so one division is correctly rounded, like
    /// `str::parse`, which reads all others.
    #[inline]
    pub fn number_value(&mut self) -> Result<f64, E> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        let (b, start) = (self.b, self.i);
        let mut i = start;
        let neg = b.get(i) == Some(&b'-');
        i += usize::from(neg);
        let (mut m, mut n, mut frac) = (0u64, 0usize, 0usize);
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(&c @ b'0'..=b'9') = b.get(i) {
                    m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    n += 1;
                    i += 1;
                }
            }
            _ => {
                self.i = i;
                return Err(self.err("invalid number"));
            }
        }
        match b.get(i) {
            Some(b'0'..=b'9') => {
                self.i = i;
                return Err(self.err("invalid number"));
            }
            Some(b'.') => {
                i += 1;
                while let Some(&c @ b'0'..=b'9') = b.get(i) {
                    m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    n += 1;
                    frac += 1;
                    i += 1;
                }
                if frac == 0 {
                    self.i = i;
                    return Err(self.err("invalid number"));
                }
            }
            _ => {}
        }
        if !matches!(b.get(i), Some(b'e' | b'E')) && n <= 15 {
            self.i = i;
            // At most 15 digits: `m` < 2^53 fits an i64 (one conversion instruction, unlike u64), and an
            // integer needs no division (device values often are: `"Power":[100,0,12]`).
            let m = m as i64 as f64;
            let x = if frac == 0 { m } else { m / POW10[frac] };
            return Ok(if neg { -x } else { x });
        }
        self.i = start;
        let text = self.number_text()?;
        // The grammar check leaves ASCII digits, signs, '.', 'e' only, which `parse` accepts.
        let x = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .ok_or_else(|| self.err("invalid number"))?;
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.err("number out of range"))
        }
    }

    /// Reads a number, or `null` as `None`; any other value is a bad `field`. Like [`Self::nullable`] of
    /// [`Self::number`], with one dispatch on the first byte instead of two.
    #[inline]
    pub fn number_or_null(&mut self, field: &str) -> Result<Option<f64>, E> {
        match self.kind()? {
            Kind::Number => self.number_value().map(Some),
            Kind::Null => self.literal(b"null").map(|()| None),
            k => Err(wrong_type(field, "a number", k)),
        }
    }

    /// Reads a non-negative integer; any other value is a bad `field`.
    pub fn unsigned(&mut self, field: &str) -> Result<u64, E> {
        match self.kind()? {
            Kind::Number => {
                let text = self.number_text()?;
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or_else(|| {
                        E::from(ScanError::Field {
                            field: field.into(),
                            problem: format!(
                                "expected an unsigned integer, got {}",
                                String::from_utf8_lossy(text)
                            ),
                        })
                    })
            }
            k => Err(wrong_type(field, "an unsigned integer", k)),
        }
    }

    /// Inside a string: moves to the next quote, backslash or control character (or the end of input), noting
    /// non-ASCII bytes passed in `high`. Sixteen bytes at a time as inline masks ([`Block`]), then eight as one
    /// SWAR word near the end: device strings are short (keys, ids, timestamps), where a SIMD search call
    /// (`memchr`) cost more in set-up than it saved (measured: 5–15 % slower on the TTS uplinks).
    #[inline]
    fn advance_to_special(&mut self, high: &mut bool) {
        let mut hi16 = 0u32;
        while let Some(chunk) = self.b.get(self.i..).and_then(<[u8]>::first_chunk::<16>) {
            let blk = Block::load(chunk);
            let hits = blk.string_special();
            // Non-ASCII bytes, possibly past the string's end: that costs only a UTF-8 check.
            hi16 |= blk.high();
            if hits != 0 {
                self.i += hits.trailing_zeros() as usize;
                *high |= hi16 != 0;
                return;
            }
            self.i += 16;
        }
        *high |= hi16 != 0;
        let mut hi = 0u64;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let w = u64::from_le_bytes(w);
            let hits = below(w ^ (ONES * u64::from(b'"')), 1)
                | below(w ^ (ONES * u64::from(b'\\')), 1)
                | below(w, 0x20);
            // Non-ASCII bytes, possibly past the string's end: that costs only a UTF-8 check.
            hi |= w & HIGH;
            if hits != 0 {
                self.i += (hits.trailing_zeros() / 8) as usize;
                *high |= hi != 0;
                return;
            }
            self.i += 8;
        }
        *high |= hi != 0;
    }

    /// After an opening quote: scans to the closing one. Returns the content and whether it holds escapes.
    /// The common case (ASCII, no escapes) is inlined at every caller; the rest is [`Self::string_rest`].
    #[inline(always)]
    pub(crate) fn string_tail(&mut self) -> Result<(&'a [u8], bool), E> {
        let start = self.i;
        let mut high = false;
        self.advance_to_special(&mut high);
        if !high && self.byte() == Some(b'"') {
            let s = &self.b[start..self.i];
            self.i += 1;
            return Ok((s, false));
        }
        self.string_rest(start, high)
    }

    /// A string from `start`, the cursor at its first quote, backslash or control character (or the end).
    #[inline(never)]
    fn string_rest(&mut self, start: usize, mut high: bool) -> Result<(&'a [u8], bool), E> {
        let mut escaped = false;
        loop {
            match self.byte() {
                None => return Err(self.err("end of input in a string")),
                Some(b'"') => {
                    let s = &self.b[start..self.i];
                    // JSON text is UTF-8 (RFC 8259), checked only for strings with non-ASCII bytes.
                    if high && std::str::from_utf8(s).is_err() {
                        return Err(self.err("invalid UTF-8 in a string"));
                    }
                    self.i += 1;
                    return Ok((s, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    match self.byte() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.err("invalid escape"));
                            }
                            self.i += 5;
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(c) if c < 0x20 => return Err(self.err("control character in a string")),
                Some(c) => {
                    high |= c >= 0x80;
                    self.i += 1;
                }
            }
            self.advance_to_special(&mut high);
        }
    }

    /// Unescapes (through serde_json, for identical rules) a string that holds escapes; `raw` is its content.
    fn unescape(&self, raw: &[u8]) -> Result<String, E> {
        let quoted = &self.b[self.i - raw.len() - 2..self.i];
        serde_json::from_slice::<String>(quoted).map_err(|e| self.err(&e.to_string()))
    }

    /// Reads a string; any other value is a bad `field`.
    pub fn string(&mut self, field: &str) -> Result<Cow<'a, str>, E> {
        match self.kind()? {
            Kind::String => {
                self.i += 1;
                self.string_value()
            }
            k => Err(wrong_type(field, "a string", k)),
        }
    }

    /// Reads a string as bytes; any other value is a bad `field`. Checked exactly as [`Self::string`]
    /// checks (so the bytes are UTF-8), without a second UTF-8 pass over them.
    pub fn string_bytes(&mut self, field: &str) -> Result<Cow<'a, [u8]>, E> {
        match self.kind()? {
            Kind::String => {
                self.i += 1;
                // `string_tail` returns only ASCII or UTF-8-checked content.
                let (raw, escaped) = self.string_tail()?;
                if escaped {
                    return self.unescape(raw).map(|s| Cow::Owned(s.into_bytes()));
                }
                Ok(Cow::Borrowed(raw))
            }
            k => Err(wrong_type(field, "a string", k)),
        }
    }

    /// After the opening quote: the string's value.
    fn string_value(&mut self) -> Result<Cow<'a, str>, E> {
        let (raw, escaped) = self.string_tail()?;
        if escaped {
            return self.unescape(raw).map(Cow::Owned);
        }
        std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| self.err("invalid UTF-8 in a string"))
    }

    /// Visits an array's elements; `f` must consume each one.
    pub fn array(&mut self, mut f: impl FnMut(&mut Self) -> Result<(), E>) -> Result<(), E> {
        self.open(b'[')?;
        self.ws();
        if self.byte() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            f(self)?;
            self.ws();
            match self.byte() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected , or ]")),
            }
            self.ws();
            if self.byte() == Some(b']') {
                return Err(self.err("trailing comma"));
            }
        }
    }

    /// Reads an array of numbers into `out` in place (the cursor at `[`), for per-phase values: how many, or
    /// `Ok(None)` at a number past `out`'s length. The same grammar as [`Self::array`] of
    /// [`Self::number`], without the per-element closure and depth bookkeeping (numbers do not nest).
    pub fn number_array(&mut self, out: &mut [f64], field: &str) -> Result<Option<usize>, E> {
        self.ws();
        if self.byte() != Some(b'[') {
            return Err(self.err("unexpected value"));
        }
        self.i += 1;
        self.ws();
        if self.byte() == Some(b']') {
            self.i += 1;
            return Ok(Some(0));
        }
        let mut n = 0;
        loop {
            let x = self.number(field)?;
            let Some(slot) = out.get_mut(n) else {
                return Ok(None);
            };
            *slot = x;
            n += 1;
            self.ws();
            match self.byte() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Some(n));
                }
                _ => return Err(self.err("expected , or ]")),
            }
            self.ws();
            if self.byte() == Some(b']') {
                return Err(self.err("trailing comma"));
            }
        }
    }

    fn open(&mut self, c: u8) -> Result<(), E> {
        self.ws();
        if self.byte() != Some(c) {
            return Err(self.err("unexpected value"));
        }
        if self.depth >= MAX_DEPTH {
            return Err(self.err("recursion limit exceeded"));
        }
        self.depth += 1;
        self.i += 1;
        Ok(())
    }

    /// Visits an object's members with their (unescaped) keys; `f` must consume each value.
    pub fn object(&mut self, f: impl FnMut(&mut Self, &[u8]) -> Result<(), E>) -> Result<(), E> {
        self.object_with(true, f)
    }

    /// Reads an object; any other value is a bad `field`.
    pub fn object_field(
        &mut self,
        field: &str,
        f: impl FnMut(&mut Self, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        match self.kind()? {
            Kind::Object => self.object(f),
            k => Err(wrong_type(field, "an object", k)),
        }
    }

    pub(crate) fn object_with(
        &mut self,
        read_keys: bool,
        mut f: impl FnMut(&mut Self, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.open(b'{')?;
        self.ws();
        if self.byte() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        // Whitespace before a key was skipped after `{` or after `,`.
        loop {
            if self.byte() != Some(b'"') {
                return Err(self.err("expected a key"));
            }
            self.i += 1;
            let (raw, escaped) = self.string_tail()?;
            let key: Cow<'a, [u8]> = if read_keys && escaped {
                Cow::Owned(self.unescape(raw)?.into_bytes())
            } else {
                Cow::Borrowed(raw)
            };
            self.ws();
            if self.byte() != Some(b':') {
                return Err(self.err("expected :"));
            }
            self.i += 1;
            f(self, &key)?;
            self.ws();
            match self.byte() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected , or }")),
            }
            self.ws();
            if self.byte() == Some(b'}') {
                return Err(self.err("trailing comma"));
            }
        }
    }
}
