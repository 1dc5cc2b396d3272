//! [`Values`]: a reading's values, one optional number per [`Quantity`], stored inline.
//!
//! There are only a few dozen quantities, so a reading's values are a fixed array indexed by
//! `Quantity as usize` plus a bit mask of which are present: building, copying and dropping one allocates
//! nothing (a `BTreeMap` allocated a node per reading and freed it again, ~10 % of a device adapter's cost).
//! The API is the subset of `BTreeMap<Quantity, f64>`'s that the workspace uses, with the same semantics:
//! iteration in quantity order, `insert` replacing and returning the old value, equality comparing the
//! present values with `==`. On the wire it is the same JSON object (`{"active_power":1207.5,…}`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Quantity;

/// How many quantities there are: the length of the value array.
const N: usize = Quantity::ALL.len();

// The presence mask is a `u64`, and `Quantity as usize` must be the quantity's index in `Quantity::ALL`
// (declaration order, which is also `Quantity`'s `Ord`).
const _: () = {
    assert!(N <= 64, "the presence mask is a u64");
    let mut i = 0;
    while i < N {
        assert!(
            Quantity::ALL[i] as usize == i,
            "Quantity::ALL is in declaration order"
        );
        i += 1;
    }
};

/// A reading's values: at most one finite-or-not `f64` per quantity, in quantity order, without allocation.
#[derive(Clone)]
pub struct Values {
    /// Bit `i` set: `v[i]` holds the value of `Quantity::ALL[i]`.
    set: u64,
    v: [f64; N],
}

impl Default for Values {
    fn default() -> Self {
        Self::new()
    }
}

impl Values {
    /// No values.
    pub const fn new() -> Self {
        Self { set: 0, v: [0.0; N] }
    }

    /// Values given in ascending quantity order without repeats (debug-checked); the fast way to build one.
    pub fn from_sorted(values: &[(Quantity, f64)]) -> Self {
        debug_assert!(values.windows(2).all(|w| w[0].0 < w[1].0));
        let mut out = Self::new();
        for &(q, v) in values {
            out.set |= 1 << q as u64;
            out.v[q as usize] = v;
        }
        out
    }

    /// The value of `q`, if present.
    #[inline]
    pub fn get(&self, q: &Quantity) -> Option<&f64> {
        let i = *q as usize;
        (self.set & (1 << i) != 0).then(|| &self.v[i])
    }

    /// A mutable reference to the value of `q`, if present.
    pub fn get_mut(&mut self, q: &Quantity) -> Option<&mut f64> {
        let i = *q as usize;
        (self.set & (1 << i) != 0).then(|| &mut self.v[i])
    }

    /// Whether `q` has a value.
    #[inline]
    pub fn contains_key(&self, q: &Quantity) -> bool {
        self.set & (1 << *q as usize) != 0
    }

    /// Sets the value of `q`, returning the value it replaced.
    #[inline]
    pub fn insert(&mut self, q: Quantity, v: f64) -> Option<f64> {
        let old = self.get(&q).copied();
        let i = q as usize;
        self.set |= 1 << i;
        self.v[i] = v;
        old
    }

    /// Removes the value of `q`, returning it.
    pub fn remove(&mut self, q: &Quantity) -> Option<f64> {
        let old = self.get(q).copied();
        self.set &= !(1 << *q as usize);
        old
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.set = 0;
    }

    /// How many quantities have a value.
    #[inline]
    pub fn len(&self) -> usize {
        self.set.count_ones() as usize
    }

    /// Whether no quantity has a value.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.set == 0
    }

    /// `(quantity, value)` in quantity order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            set: self.set,
            v: &self.v,
        }
    }

    /// The quantities that have a value, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Quantity> + ExactSizeIterator + '_ {
        self.iter().map(|(q, _)| q)
    }

    /// The values, in quantity order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &f64> + ExactSizeIterator + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The values, mutably, in quantity order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut f64> + '_ {
        let set = self.set;
        self.v
            .iter_mut()
            .enumerate()
            .filter(move |(i, _)| set & (1 << i) != 0)
            .map(|(_, v)| v)
    }

    /// `(quantity, value)` with the value mutable, in quantity order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Quantity, &mut f64)> + '_ {
        let set = self.set;
        self.v
            .iter_mut()
            .enumerate()
            .filter(move |(i, _)| set & (1 << i) != 0)
            .map(|(i, v)| (&Quantity::ALL[i], v))
    }

    /// Keeps only the values for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&Quantity, &mut f64) -> bool) {
        for i in 0..N {
            if self.set & (1 << i) != 0 && !f(&Quantity::ALL[i], &mut self.v[i]) {
                self.set &= !(1 << i);
            }
        }
    }
}

/// Iterator over `(&Quantity, &f64)` in quantity order: one step per present value (lowest set bit).
#[derive(Clone)]
pub struct Iter<'a> {
    set: u64,
    v: &'a [f64; N],
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Quantity, &'a f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.set == 0 {
            return None;
        }
        let i = self.set.trailing_zeros() as usize;
        self.set &= self.set - 1;
        Some((&Quantity::ALL[i], &self.v[i]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.set.count_ones() as usize;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.set == 0 {
            return None;
        }
        let i = 63 - self.set.leading_zeros() as usize;
        self.set &= !(1 << i);
        Some((&Quantity::ALL[i], &self.v[i]))
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl std::iter::FusedIterator for Iter<'_> {}

/// Owning iterator over `(Quantity, f64)` in quantity order.
#[derive(Clone)]
pub struct IntoIter(Values);

impl Iterator for IntoIter {
    type Item = (Quantity, f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let set = self.0.set;
        if set == 0 {
            return None;
        }
        let i = set.trailing_zeros() as usize;
        self.0.set &= set - 1;
        Some((Quantity::ALL[i], self.0.v[i]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for IntoIter {}
impl std::iter::FusedIterator for IntoIter {}

impl IntoIterator for Values {
    type Item = (Quantity, f64);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter(self)
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a Quantity, &'a f64);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<(Quantity, f64)> for Values {
    fn from_iter<I: IntoIterator<Item = (Quantity, f64)>>(iter: I) -> Self {
        let mut out = Self::new();
        out.extend(iter);
        out
    }
}

impl Extend<(Quantity, f64)> for Values {
    fn extend<I: IntoIterator<Item = (Quantity, f64)>>(&mut self, iter: I) {
        for (q, v) in iter {
            self.insert(q, v);
        }
    }
}

impl<'a> Extend<(&'a Quantity, &'a f64)> for Values {
    fn extend<I: IntoIterator<Item = (&'a Quantity, &'a f64)>>(&mut self, iter: I) {
        for (&q, &v) in iter {
            self.insert(q, v);
        }
    }
}

impl<const M: usize> From<[(Quantity, f64); M]> for Values {
    fn from(values: [(Quantity, f64); M]) -> Self {
        values.into_iter().collect()
    }
}

impl From<BTreeMap<Quantity, f64>> for Values {
    fn from(values: BTreeMap<Quantity, f64>) -> Self {
        values.into_iter().collect()
    }
}

impl From<Values> for BTreeMap<Quantity, f64> {
    fn from(values: Values) -> Self {
        values.into_iter().collect()
    }
}

impl std::ops::Index<&Quantity> for Values {
    type Output = f64;

    /// The value of `q`; panics if it has none, like `BTreeMap`'s index.
    fn index(&self, q: &Quantity) -> &f64 {
        self.get(q).unwrap_or_else(|| panic!("no value for {q}"))
    }
}

impl PartialEq for Values {
    /// Same quantities, equal values (`==`, so a NaN is never equal, as in a `BTreeMap<Quantity, f64>`).
    fn eq(&self, other: &Self) -> bool {
        self.set == other.set && self.values().zip(other.values()).all(|(a, b)| a == b)
    }
}

impl PartialEq<BTreeMap<Quantity, f64>> for Values {
    fn eq(&self, other: &BTreeMap<Quantity, f64>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b)
    }
}

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Values {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (q, v) in self {
            map.serialize_entry(q, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Values {
    /// A JSON object of quantity names to numbers; like a `BTreeMap`, a repeated key keeps its last value.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValuesVisitor;

        impl<'de> Visitor<'de> for ValuesVisitor {
            type Value = Values;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of quantities to numbers")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut out = Values::new();
                while let Some((q, v)) = map.next_entry::<Quantity, f64>()? {
                    out.insert(q, v);
                }
                Ok(out)
            }
        }

        deserializer.deserialize_map(ValuesVisitor)
    }
}

#[cfg(test)]
mod tests;
