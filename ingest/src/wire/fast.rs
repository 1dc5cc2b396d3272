//! The fused path for a reading in the publishers' exact layout: scanned, validated and written as a line
//! in one pass, without a `Wire` value in between.
//!
//! It takes only what it can finish on its own: `{"v":1,"site":"…","device":"…","ts":"…","values":{…}}`
//! with valid ids, at least one value, keys in strictly ascending quantity order (how every publisher
//! serialises `Values`), finite numbers. Anything else is `None` and goes to the general scanner
//! ([`super::scan`]) and then serde, which name the error; so the only verdicts given here are "written"
//! and the two rejections that need the whole element to be in the layout first: a malformed or
//! out-of-window timestamp. Both are the reasons [`super::validate`] gives, in the same order.
//!
//! Numbers: a plain decimal with at most 15 significant digits (every meter value we publish) is written
//! as its own digits, trailing fraction zeros dropped, `.0` added to an integer (see [`plain`]); anything
//! else is parsed and formatted as before. Both give exactly the text [`push_float`] would write for the
//! parsed value (property-tested), so the stored point is the published `f64` bit for bit.

use chrono::{DateTime, NaiveDate, Utc};
use zw_model::reading::ReadingError;
use zw_model::{Quantity, id::MAX_ID_LEN, storage};

use super::{Bounds, parse_ts, reading_error};
use crate::line::{Rejection, push_float};

/// What the fused path made of one element.
pub(super) struct Fused<'a> {
    /// Written to `out`, or the rejection (then `out` is unchanged).
    pub(super) verdict: Result<(), Rejection>,
    /// The index just past the element.
    pub(super) end: usize,
    pub(super) site: &'a str,
    pub(super) device: &'a str,
}

/// The midnight of the last date seen, so a batch's readings (mostly of one day) skip the calendar.
#[derive(Default)]
pub(super) struct Dates {
    ymd: [u8; 10],
    midnight: i64,
}

/// A timestamp as Unix seconds and nanoseconds, ordered like `DateTime<Utc>`.
type Instant = (i64, u32);

/// The reading starting at byte `at` of `s` (a whole message, valid UTF-8) appended to `out` as a line, or
/// rejected; `None` if it is not in the layout this path takes (then `out` is unchanged).
pub(super) fn element<'a>(
    s: &'a str,
    at: usize,
    bounds: &Bounds,
    dates: &mut Dates,
    out: &mut String,
) -> Option<Fused<'a>> {
    let start = out.len();
    let r = scan_write(s, at, bounds, dates, out);
    if !matches!(r, Some(Fused { verdict: Ok(()), .. })) {
        out.truncate(start);
    }
    r
}

fn scan_write<'a>(
    s: &'a str,
    at: usize,
    bounds: &Bounds,
    dates: &mut Dates,
    out: &mut String,
) -> Option<Fused<'a>> {
    let p = s.as_bytes();
    let mut i = at;
    lit(p, &mut i, br#"{"v":1,"site":""#)?;
    let site = id(s, &mut i)?;
    lit(p, &mut i, br#"","device":""#)?;
    let device = id(s, &mut i)?;
    lit(p, &mut i, br#"","ts":""#)?;
    // The same rules in the same order as `validate`: ids (valid, or not this path), the timestamp,
    // version 1, values present and finite (all by the layout), the window. The publishers' timestamp
    // has milliseconds (24 bytes), and `canonical_ts` checks every one of its bytes.
    let ts_start = i;
    let fixed = p.get(i + 24) == Some(&b'"');
    let canonical = if fixed {
        p.get(i..i + 24).and_then(|b| canonical_ts(b, dates))
    } else {
        None
    };
    if canonical.is_some() {
        i += 24;
    } else {
        while class(p, i) & TS != 0 {
            i += 1;
        }
    }
    let ts = s.get(ts_start..i)?;
    lit(p, &mut i, br#"","values":{""#)?;
    let canonical = canonical.or_else(|| canonical_ts(ts.as_bytes(), dates));
    let verdict = match canonical.map_or_else(|| parse_ts(ts).map(key), Ok) {
        Ok(t) if t < bounds.earliest_key || t > bounds.latest_key => Err(window_error(t, bounds)),
        Ok(t) => Ok(t),
        Err(r) => Err(r),
    };
    out.reserve(48 + site.len() + device.len() + 32 * 3);
    out.push_str(storage::MEASUREMENT);
    out.push(',');
    out.push_str(storage::TAG_DEVICE);
    out.push('=');
    out.push_str(device);
    out.push(',');
    out.push_str(storage::TAG_SITE);
    out.push('=');
    out.push_str(site);
    let mut sep = ' ';
    let mut last = None;
    loop {
        // Only a known name (all of `[a-z0-9_]`) passes `from_name`: no byte check needed.
        let name_start = i;
        i += p.get(i..)?.iter().position(|&b| b == b'"')?;
        let name = s.get(name_start..i)?;
        let q = Quantity::from_name(name)?;
        // Out of order or repeated: the general scanner sorts and keeps the last value.
        if last.is_some_and(|l| l >= q) {
            return None;
        }
        last = Some(q);
        lit(p, &mut i, b"\":")?;
        out.push(sep);
        out.push_str(name);
        out.push('=');
        number(s, &mut i, out)?;
        match p.get(i)? {
            b',' => {
                i += 1;
                lit(p, &mut i, b"\"")?;
            }
            b'}' => break,
            _ => return None,
        }
        sep = ',';
    }
    lit(p, &mut i, b"}}")?;
    let verdict = verdict.map(|(secs, nanos)| {
        out.push(' ');
        out.push_str(itoa::Buffer::new().format(secs * 1000 + i64::from(nanos / 1_000_000)));
        out.push('\n');
    });
    Some(Fused {
        verdict,
        end: i,
        site,
        device,
    })
}

fn key(t: DateTime<Utc>) -> Instant {
    (t.timestamp(), t.timestamp_subsec_nanos())
}

fn window_error((secs, nanos): Instant, bounds: &Bounds) -> Rejection {
    let ts = DateTime::from_timestamp(secs, nanos).unwrap_or_default();
    reading_error(ReadingError::Timestamp {
        ts,
        earliest: bounds.earliest,
        latest: bounds.latest,
    })
}

/// Byte classes of the layout.
const ID: u8 = 1;
const TS: u8 = 2;

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-' {
            t[b] |= ID;
        }
        if c.is_ascii_graphic() && c != b'"' && c != b'\\' {
            t[b] |= TS;
        }
        b += 1;
    }
    t
};

/// The class bits of `p[i]`, 0 past the end.
fn class(p: &[u8], i: usize) -> u8 {
    p.get(i).map_or(0, |&b| CLASSES[usize::from(b)])
}

fn lit(p: &[u8], i: &mut usize, l: &[u8]) -> Option<()> {
    let end = i.checked_add(l.len())?;
    (p.get(*i..end)? == l).then(|| *i = end)
}

/// A valid id (what `Id::new` accepts) up to the closing quote, which is left in place.
fn id<'a>(s: &'a str, i: &mut usize) -> Option<&'a str> {
    let p = s.as_bytes();
    let start = *i;
    if !p.get(start)?.is_ascii_lowercase() && !p[start].is_ascii_digit() {
        return None;
    }
    let mut j = start + 1;
    while class(p, j) & ID != 0 {
        j += 1;
    }
    if j - start > MAX_ID_LEN {
        return None;
    }
    *i = j;
    s.get(start..j)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, exactly what `super::parse_canonical_ts` accepts, as an instant;
/// `None` for anything else (which then takes the general parser, for its verdict).
fn canonical_ts(b: &[u8], dates: &mut Dates) -> Option<Instant> {
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let nanos = match b.len() {
        20 => 0,
        22.. if b[19] == b'.' => {
            let digits = b.len() - 21;
            num(&b[20..b.len() - 1])? * 10u32.pow(9 - digits as u32)
        }
        _ => return None,
    };
    let (h, m, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    // Leap seconds and their chrono rules: leave them to chrono.
    if h >= 24 || m >= 60 || sec >= 60 {
        return None;
    }
    if b[..10] != dates.ymd {
        let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
        let date = NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, mo, d)?;
        dates.midnight = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
        dates.ymd.copy_from_slice(&b[..10]);
    }
    let secs = dates.midnight + i64::from(h * 3600 + m * 60 + sec);
    Some((secs, nanos))
}

fn num(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// A JSON number at `s[*i..]`, appended to `out` as a line-protocol float; `None` if it is not one (by
/// JSON's grammar, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`) or not finite.
pub(super) fn number(s: &str, i: &mut usize, out: &mut String) -> Option<()> {
    let p = s.as_bytes();
    let start = *i;
    let mut j = start + usize::from(p.get(start) == Some(&b'-'));
    let int_start = j;
    while p.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    let int_end = j;
    // No leading zeros ("01"), as JSON requires.
    if int_end == int_start || (int_end - int_start > 1 && p[int_start] == b'0') {
        return None;
    }
    // The end of the fraction without its trailing zeros (`int_end`: no significant fraction digit).
    let mut frac_end = int_end;
    if p.get(j) == Some(&b'.') {
        j += 1;
        let from = j;
        while let Some(&c) = p.get(j).filter(|c| c.is_ascii_digit()) {
            j += 1;
            if c != b'0' {
                frac_end = j;
            }
        }
        if j == from {
            return None;
        }
    }
    let exponent = matches!(p.get(j), Some(b'e' | b'E'));
    if exponent {
        j += 1;
        if matches!(p.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let from = j;
        while p.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == from {
            return None;
        }
    }
    *i = j;
    if !exponent && plain(p, int_start, int_end, frac_end) {
        if frac_end > int_end {
            out.push_str(s.get(start..frac_end)?);
        } else {
            out.push_str(s.get(start..int_end)?);
            out.push_str(".0");
        }
        return Some(());
    }
    let v = s.get(start..j)?.parse::<f64>().ok().filter(|v| v.is_finite())?;
    push_float(out, v);
    Some(())
}

/// Whether the plain decimal `p[int_start..int_end]` `.` fraction (significant up to `frac_end`) is already
/// the shortest text that reads back as its `f64`, in the fixed notation `push_float` uses for it.
///
/// Why: a decimal of at most 15 significant digits survives decimal → `f64` → 15 digits unchanged
/// (10^15 < 2^52), so no other decimal of at most 15 digits reads as the same `f64`, and the shortest
/// round-trip form (which has at most as many digits) is this one. `zmij` writes it without an exponent
/// when the leading digit's power of ten is within −5..=15: here at most 14 (15 integer digits) and at
/// least −5 (four zeros after `0.`). Zero (`0`, `-0.00`) is `0.0` or `-0.0`, also `push_float`'s text.
fn plain(p: &[u8], int_start: usize, int_end: usize, frac_end: usize) -> bool {
    let int_len = int_end - int_start;
    let frac_len = frac_end.saturating_sub(int_end + 1);
    if p[int_start] != b'0' {
        return int_len + frac_len <= 15;
    }
    if frac_len == 0 {
        return true;
    }
    let zeros = p[int_end + 1..frac_end]
        .iter()
        .take_while(|&&c| c == b'0')
        .count();
    zeros <= 4 && frac_len - zeros <= 15
}

#[cfg(test)]
mod tests;
