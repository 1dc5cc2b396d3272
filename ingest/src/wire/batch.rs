//! The live path for batch messages (`zw/v1/batches/{producer}`, see [`zw_model::reading::batch`]): every
//! element goes through the same rules and writer as a single-reading message, with no allocation per
//! reading.
//!
//! A batch in the canonical layout (`{"v":1,"readings":[` elements `]}`, every element in the layout the
//! byte scanner reads) is encoded in one pass. Anything else — whitespace, another key order, an element
//! the scanner does not take — starts over on the general path: the envelope is parsed by serde into
//! borrowed element slices, then each element takes [`super::encode_element`]. So both paths give every
//! element the verdict and the line it would get on its own, and an invalid envelope is found before any
//! element is reported.

use std::ops::Range;

use zw_model::reading::batch::{self, MAX_READINGS, PREFIX};

use super::{Bounds, Wire, encode_element, fast, reading_error, scan, validate, write};
use crate::line::Rejection;

/// Appends the point of every valid reading of the batch `payload` to `out` and returns their number;
/// each invalid reading is passed to `rejected` with its element's bytes. An invalid envelope is one
/// rejection: then `out` is unchanged and `rejected` is not called.
pub fn encode_batch<'p>(
    payload: &'p [u8],
    bounds: Bounds,
    out: &mut String,
    mut rejected: impl FnMut(Rejection, &'p [u8]),
) -> Result<usize, Rejection> {
    let start = out.len();
    // Rejections of the one-pass scan wait until the envelope is known to be valid (allocates only if any).
    let mut held: Vec<(Rejection, Range<usize>)> = Vec::new();
    if let Some(n) = one_pass(payload, bounds, out, &mut held) {
        for (r, range) in held {
            rejected(r, &payload[range]);
        }
        return Ok(n);
    }
    out.truncate(start);
    let elements = batch::elements(payload).map_err(reading_error)?;
    let mut n = 0;
    for e in elements {
        match encode_element(e, bounds, out) {
            Ok(()) => n += 1,
            Err(r) => rejected(r, e),
        }
    }
    Ok(n)
}

/// The canonical layout in one pass; `None` at the first byte that differs from it (the caller then
/// discards what was appended and held). Each element takes the fused path, or else the general scanner
/// (keys out of order, say).
fn one_pass(
    p: &[u8],
    bounds: Bounds,
    out: &mut String,
    held: &mut Vec<(Rejection, Range<usize>)>,
) -> Option<usize> {
    if !p.starts_with(PREFIX) {
        return None;
    }
    let s = std::str::from_utf8(p).ok()?;
    let (mut i, mut count, mut n) = (PREFIX.len(), 0, 0);
    let mut dates = fast::Dates::default();
    loop {
        count += 1;
        if count > MAX_READINGS {
            return None;
        }
        let (verdict, end) = match fast::element(s, i, &bounds, &mut dates, out) {
            Some(f) => (f.verdict, f.end),
            None => {
                let (c, end) = scan::scan_at(s, i)?;
                let w = Wire::from(c);
                (validate(&w, bounds).map(|ts| write(&w, ts, out)), end)
            }
        };
        match verdict {
            Ok(()) => n += 1,
            Err(r) => held.push((r, i..end)),
        }
        i = end + 1;
        match p.get(end)? {
            b',' => {}
            b']' => break,
            _ => return None,
        }
    }
    // After the `]`, only the envelope's closing brace.
    (p.get(i..)? == b"}").then_some(n)
}

#[cfg(test)]
mod tests;
