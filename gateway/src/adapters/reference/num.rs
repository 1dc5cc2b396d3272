//! The serde side of the adapters' small value types (per-phase values, lenient numbers, patches), for the
//! reference decoders only: the production adapters read them with the scanner.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use crate::adapters::num::{Patch, Phased, lenient_str};

impl<'de> Deserialize<'de> for Phased {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Phased;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or an array of 1 to 3 numbers")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Phased, E> {
                Ok(Phased::One(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Phased, E> {
                Ok(Phased::One(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Phased, E> {
                Ok(Phased::One(v as f64))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Phased, A::Error> {
                let mut out = [0.0; 3];
                let mut n = 0;
                while let Some(x) = seq.next_element::<f64>()? {
                    if n == 3 {
                        return Err(de::Error::invalid_length(4, &self));
                    }
                    out[n] = x;
                    n += 1;
                }
                if n == 0 {
                    return Err(de::Error::invalid_length(0, &self));
                }
                Ok(Phased::Many(out, n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number that a vendor may also send as a string (`"24.59"`, `"3.6 V"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lenient(pub f64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a numeric string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient, E> {
                Ok(Lenient(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient, E> {
                Ok(Lenient(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient, E> {
                Ok(Lenient(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient, E> {
                lenient_str(v)
                    .map(Lenient)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A patch from an optional value; use with `#[serde(default)]` so that an absent field stays `Absent`.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Patch::Null, Patch::Set))
    }
}
