//! Small value types and number parsing shared by the adapters: per-phase values, lenient numbers, and
//! patches.

/// A Tasmota energy value: a number (single phase) or an array of 1–3 numbers (per phase).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phased {
    /// One value.
    One(f64),
    /// Per-phase values; `len` of them are set.
    Many([f64; 3], usize),
}

/// Parses the first whitespace-separated token of `s` as a number (exactly as `str::parse`).
pub(crate) fn lenient_str(s: &str) -> Option<f64> {
    let t = s.split_whitespace().next()?;
    plain_decimal(t.as_bytes()).or_else(|| t.parse::<f64>().ok())
}

/// [`lenient_str`] of a string's UTF-8 bytes; a plain decimal (`"24.59"`, most of what formatters send)
/// without looking for whitespace (`split_whitespace` decodes characters, which cost more than the number).
pub(crate) fn lenient_bytes(b: &[u8]) -> Option<f64> {
    plain_decimal(b).or_else(|| lenient_str(std::str::from_utf8(b).ok()?))
}

/// `-?[0-9]+(\.[0-9]+)?` with at most 15 digits, as the formatters send (`"24.59"`): Clinger's fast path
/// (mantissa and power of ten exact in `f64`, one correctly rounded division), so equal to `str::parse`
/// bit for bit; `None` for anything else, which `str::parse` then reads.
fn plain_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, b) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    let (mut m, mut int, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in b {
        match c {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(c - b'0');
                if dot {
                    frac += 1;
                } else {
                    int += 1;
                }
                if int + frac > 15 {
                    return None;
                }
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if int == 0 || (dot && frac == 0) {
        return None;
    }
    let x = m as i64 as f64 / POW10[frac];
    Some(if neg { -x } else { x })
}

/// A field of a status delta: absent (unchanged), `null` (gone) or a new value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum Patch<T> {
    /// Not in the message: keep what is known.
    #[default]
    Absent,
    /// `null`: the value no longer exists.
    Null,
    /// A new value.
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the patch to a known value.
    pub(crate) fn apply_to(self, known: &mut Option<T>) {
        match self {
            Patch::Absent => {}
            Patch::Null => *known = None,
            Patch::Set(v) => *known = Some(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{lenient_bytes, lenient_str};

    proptest! {
        /// Numeric strings read bit for bit as `str::parse` reads their first token, fast path or not:
        /// formatter-like decimals, long ones, and arbitrary strings of number characters.
        #[test]
        fn lenient_strings_read_like_str_parse(
            t in prop_oneof![
                "-?[0-9]{1,8}(\\.[0-9]{1,9})?",
                "-?[0-9]{1,20}(\\.[0-9]{0,20})?",
                "[-+0-9.eE]{0,12}",
                any::<f64>().prop_map(|x| x.to_string()),
            ],
            unit in prop_oneof![Just(""), Just(" V"), Just("  °C "), Just("\tmV")],
        ) {
            let s = format!("{t}{unit}");
            let want = t.parse::<f64>().ok().filter(|_| !t.is_empty());
            prop_assert_eq!(lenient_str(&s).map(f64::to_bits), want.map(f64::to_bits), "{:?}", s);
            prop_assert_eq!(lenient_bytes(s.as_bytes()).map(f64::to_bits), want.map(f64::to_bits), "{:?}", s);
        }
    }
}
