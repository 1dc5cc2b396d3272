//! [`Decimal`]: a value exactly as a meter sends it, an integer mantissa times a power of ten.
//!
//! M-Bus scales by the VIF and SML by the scaler, both as powers of ten, so keeping the pair avoids binary
//! rounding until the value becomes an `f64` at the canonical edge ([`Decimal::to_f64`]).

use std::fmt;

/// `mantissa × 10^exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// The integer the meter sent.
    pub mantissa: i64,
    /// The decimal exponent from the VIF or SML scaler.
    pub exp: i8,
}

impl Decimal {
    /// `mantissa × 10^exp`.
    pub const fn new(mantissa: i64, exp: i8) -> Self {
        Self { mantissa, exp }
    }

    /// The nearest `f64`; dividing by an exact power of ten keeps `304663e-3` at `304.663`.
    pub fn to_f64(self) -> f64 {
        let m = self.mantissa as f64;
        if self.exp >= 0 {
            m * 10f64.powi(i32::from(self.exp))
        } else {
            m / 10f64.powi(-i32::from(self.exp))
        }
    }

    /// The same number with trailing zeros moved into the exponent (`1400e0` → `14e2`), for exact comparison.
    pub fn normalized(self) -> Self {
        let (mut m, mut e) = (self.mantissa, self.exp);
        while m != 0 && m % 10 == 0 && e < i8::MAX {
            m /= 10;
            e += 1;
        }
        if m == 0 {
            e = 0;
        }
        Self { mantissa: m, exp: e }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}e{}", self.mantissa, self.exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_normalizes() {
        assert_eq!(Decimal::new(304_663, -3).to_f64(), 304.663);
        assert_eq!(Decimal::new(14, 2).to_f64(), 1400.0);
        assert_eq!(Decimal::new(1400, 0).normalized(), Decimal::new(14, 2));
        assert_eq!(Decimal::new(0, -3).normalized(), Decimal::new(0, 0));
    }
}
