//! Data records (EN 13757-3): DIF, DIFEs, VIF, VIFEs, then the data in the coding the DIF names.
//!
//! [`parse_records`] walks the whole application payload: `2F` fill bytes are skipped, `0F`/`1F` end the records
//! (manufacturer data follow; `1F` also says "more records in the next telegram"). A record cut short, more than
//! ten DIFEs or VIFEs, or a reserved DIF is an error for the whole telegram rather than a guessed value.

use thiserror::Error;

use super::vif::{self, Vif, VifInfo};
use crate::Decimal;

/// Why the records of a telegram cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordError {
    /// The payload ends inside a record.
    #[error("record at byte {0} is cut short")]
    Truncated(usize),
    /// More than ten DIFEs or VIFEs.
    #[error("record at byte {0} has more than 10 DIFE/VIFE bytes")]
    TooManyExtensions(usize),
    /// A DIF with a reserved special function.
    #[error("reserved DIF {dif:#04x} at byte {offset}")]
    ReservedDif {
        /// The DIF.
        dif: u8,
        /// Its offset in the payload.
        offset: usize,
    },
    /// A variable-length record with a reserved length byte.
    #[error("reserved LVAR {0:#04x}")]
    ReservedLvar(u8),
}

/// DIF function field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Instantaneous value.
    Instantaneous,
    /// Maximum value.
    Maximum,
    /// Minimum value.
    Minimum,
    /// Value during error state.
    DuringError,
}

/// A calendar date from a type G/F/I field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year (2000–2127 for the 7-bit year; 1981–1999 for 81–99).
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
}

/// A meter-local date and time (no zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59 (0 for type F).
    pub second: u8,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}T{:02}:{:02}", self.date, self.hour, self.minute)?;
        if self.second != 0 {
            write!(f, ":{:02}", self.second)?;
        }
        Ok(())
    }
}

/// A record's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer or BCD number, scaled by the VIF.
    Number(Decimal),
    /// A 32-bit real times 10^exp.
    Real(f32, i8),
    /// A date; `None` = not set (all zero) or invalid.
    Date(Option<Date>),
    /// A date and time; `None` = not set, flagged invalid or out of range.
    DateTime(Option<DateTime>),
    /// BCD with non-decimal digits (often `FF…` = no value).
    InvalidBcd,
    /// No data (DIF coding 0) or data this crate keeps opaque (variable length, plain text).
    Opaque,
}

/// One data record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Offset of the DIF in the payload.
    pub offset: usize,
    /// The DIF's function field.
    pub function: Function,
    /// Storage number (0 = current, 1 = billing date, 2… history).
    pub storage: u64,
    /// Tariff (0 = total).
    pub tariff: u32,
    /// Subunit.
    pub subunit: u16,
    /// What the value means.
    pub info: VifInfo,
    /// The value.
    pub value: Value,
}

impl Record {
    /// The plain current value: instantaneous, storage 0, tariff 0, subunit 0, no modifying VIFE.
    pub fn is_current(&self) -> bool {
        self.function == Function::Instantaneous
            && self.storage == 0
            && self.tariff == 0
            && self.subunit == 0
            && !self.info.backward
            && !self.info.modified
    }

    /// The value as a decimal, if it is a number.
    pub fn decimal(&self) -> Option<Decimal> {
        match self.value {
            Value::Number(d) => Some(d),
            _ => None,
        }
    }
}

/// The records of a payload and whether the meter has more in a next telegram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Records {
    /// The records in order.
    pub records: Vec<Record>,
    /// DIF `1F` ended the records: request again with FCB toggled.
    pub more_follow: bool,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    start: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Result<u8, RecordError> {
        let v = *self.b.get(self.at).ok_or(RecordError::Truncated(self.start))?;
        self.at += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], RecordError> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or(RecordError::Truncated(self.start))?;
        self.at += n;
        Ok(s)
    }
}

/// Parses every record of an application payload (the bytes after the TPL header, decrypted).
pub fn parse_records(payload: &[u8]) -> Result<Records, RecordError> {
    let mut out = Records {
        records: Vec::with_capacity(16),
        more_follow: false,
    };
    let mut c = Cursor {
        b: payload,
        at: 0,
        start: 0,
    };
    while c.at < payload.len() {
        c.start = c.at;
        let dif = c.byte()?;
        match dif {
            0x2F => continue,
            0x0F | 0x1F => {
                out.more_follow = dif == 0x1F;
                break;
            }
            d if d & 0x0F == 0x0F => return Err(RecordError::ReservedDif { dif, offset: c.start }),
            _ => {}
        }
        out.records.push(parse_record(&mut c, dif)?);
    }
    Ok(out)
}

fn parse_record(c: &mut Cursor<'_>, dif: u8) -> Result<Record, RecordError> {
    let function = match (dif >> 4) & 3 {
        0 => Function::Instantaneous,
        1 => Function::Maximum,
        2 => Function::Minimum,
        _ => Function::DuringError,
    };
    let (mut storage, mut tariff, mut subunit) = (u64::from((dif >> 6) & 1), 0u32, 0u16);
    let mut ext = dif & 0x80 != 0;
    let mut n = 0;
    while ext {
        if n == 10 {
            return Err(RecordError::TooManyExtensions(c.start));
        }
        let dife = c.byte()?;
        storage |= u64::from(dife & 0x0F) << (1 + 4 * n);
        tariff |= u32::from((dife >> 4) & 3) << (2 * n);
        subunit |= u16::from((dife >> 6) & 1) << n;
        ext = dife & 0x80 != 0;
        n += 1;
    }
    let info = parse_vif(c)?;
    let value = parse_value(c, dif & 0x0F, info)?;
    Ok(Record {
        offset: c.start,
        function,
        storage,
        tariff,
        subunit,
        info,
        value,
    })
}

fn parse_vif(c: &mut Cursor<'_>) -> Result<VifInfo, RecordError> {
    let first = c.byte()?;
    let mut ext = first & 0x80 != 0;
    let (vif, exp) = match first & 0x7F {
        0x7D | 0x7B if !ext => (Vif::Other(first, None), 0),
        0x7D | 0x7B => {
            let x = c.byte()?;
            ext = x & 0x80 != 0;
            if first & 0x7F == 0x7D {
                vif::extension_fd(x & 0x7F)
            } else {
                (Vif::Other(0xFB, Some(x & 0x7F)), 0)
            }
        }
        0x7F => {
            let code = if ext { Some(c.byte()?) } else { None };
            ext = code.is_some_and(|x| x & 0x80 != 0);
            (Vif::Manufacturer(code.map(|x| x & 0x7F)), 0)
        }
        0x7C => {
            let len = usize::from(c.byte()?);
            c.take(len)?;
            (Vif::PlainText, 0)
        }
        v => vif::primary(v),
    };
    let mut info = VifInfo {
        vif,
        exp,
        backward: false,
        modified: false,
    };
    let manufacturer = matches!(vif, Vif::Manufacturer(_));
    let mut n = 0;
    while ext {
        if n == 10 {
            return Err(RecordError::TooManyExtensions(c.start));
        }
        let vife = c.byte()?;
        match vife & 0x7F {
            _ if manufacturer => {}
            0x3C => info.backward = true,
            _ => info.modified = true,
        }
        ext = vife & 0x80 != 0;
        n += 1;
    }
    Ok(info)
}

fn int(bytes: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= i64::from(*b) << (8 * i);
    }
    let bits = 8 * bytes.len() as u32;
    if bits < 64 && bits > 0 {
        (v << (64 - bits)) >> (64 - bits)
    } else {
        v
    }
}

fn bcd(bytes: &[u8]) -> Option<i64> {
    let mut v: i64 = 0;
    let mut negative = false;
    for (i, b) in bytes.iter().rev().enumerate() {
        for (j, nib) in [b >> 4, b & 0x0F].into_iter().enumerate() {
            if i == 0 && j == 0 && nib == 0x0F {
                negative = true;
            } else if nib > 9 {
                return None;
            } else {
                v = v * 10 + i64::from(nib);
            }
        }
    }
    Some(if negative { -v } else { v })
}

fn year(bits: u8) -> u16 {
    if bits <= 80 {
        2000 + u16::from(bits)
    } else {
        1900 + u16::from(bits)
    }
}

/// Date type G from bytes `[day|year-low, month|year-high]`: `None` when unset or not a calendar date.
fn date_g(d: u8, m: u8) -> Option<Date> {
    let (day, month) = (d & 0x1F, m & 0x0F);
    let y = ((d & 0xE0) >> 5) | ((m & 0xF0) >> 1);
    ((1..=31).contains(&day) && (1..=12).contains(&month)).then(|| Date {
        year: year(y),
        month,
        day,
    })
}

fn date_time(b: &[u8]) -> Option<DateTime> {
    let (sec, b) = if b.len() == 6 {
        (b[0] & 0x3F, &b[1..])
    } else {
        (0, b)
    };
    if b[0] & 0x80 != 0 {
        return None; // IV bit: time invalid
    }
    let (minute, hour) = (b[0] & 0x3F, b[1] & 0x1F);
    let date = date_g(b[2], b[3])?;
    (minute < 60 && hour < 24 && sec < 60).then_some(DateTime {
        date,
        hour,
        minute,
        second: sec,
    })
}

fn parse_value(c: &mut Cursor<'_>, coding: u8, info: VifInfo) -> Result<Value, RecordError> {
    let len = match coding {
        0x0 | 0x8 => 0,
        0x1..=0x4 => usize::from(coding),
        0x5 => 4,
        0x6 => 6,
        0x7 => 8,
        0x9..=0xC => usize::from(coding - 8),
        0xE => 6,
        // 0xD: variable length, described by its first byte.
        _ => {
            let lvar = c.byte()?;
            let len = match lvar {
                0x00..=0xBF => lvar,
                0xC0..=0xC9 | 0xD0..=0xD9 => (lvar & 0x0F).div_ceil(2),
                0xE0..=0xEF => lvar - 0xE0,
                0xF0..=0xFA => lvar - 0xF0,
                _ => return Err(RecordError::ReservedLvar(lvar)),
            };
            c.take(usize::from(len))?;
            return Ok(Value::Opaque);
        }
    };
    let data = c.take(len)?;
    Ok(match (coding, info.vif) {
        (0x0 | 0x8, _) => Value::Opaque,
        (0x2, Vif::Date) => Value::Date(date_g(data[0], data[1])),
        (0x4 | 0x6, Vif::DateTime) => Value::DateTime(date_time(data)),
        (0x5, _) => Value::Real(f32::from_le_bytes([data[0], data[1], data[2], data[3]]), info.exp),
        (0x9..=0xC | 0xE, _) => {
            bcd(data).map_or(Value::InvalidBcd, |m| Value::Number(Decimal::new(m, info.exp)))
        }
        _ => Value::Number(Decimal::new(int(data), info.exp)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codings_signs_and_dates() {
        assert_eq!(int(&[0xF7, 0xFF, 0xFF, 0xFF]), -9);
        assert_eq!(int(&[0x00, 0x80]), -32768);
        assert_eq!(bcd(&[0x63, 0x46, 0x30, 0x00]), Some(304_663));
        assert_eq!(bcd(&[0x12, 0xF0]), Some(-12));
        assert_eq!(bcd(&[0xFF, 0xFF]), None);
        assert_eq!(
            date_g(0x10, 0x39),
            Some(Date {
                year: 2024,
                month: 9,
                day: 16
            })
        );
        assert_eq!(date_g(0, 0), None);
        let dt = date_time(&[0x32, 0x37, 0x1F, 0x15]).map(|d| d.to_string());
        assert_eq!(dt.as_deref(), Some("2008-05-31T23:50"));
    }

    #[test]
    fn fill_manufacturer_vifes_and_more_follow() {
        // 2F fill, Kamstrup FF 07 with a value, backward volume 04 93 3C, then 1F.
        let p = [
            0x2F, 0x04, 0xFF, 0x07, 0x72, 0x05, 0, 0, 0x04, 0x93, 0x3C, 1, 0, 0, 0, 0x1F, 0xAA,
        ];
        let r = parse_records(&p).expect("parses");
        assert!(r.more_follow);
        assert_eq!(r.records[0].info.vif, Vif::Manufacturer(Some(0x07)));
        assert_eq!(r.records[0].decimal(), Some(Decimal::new(1394, 0)));
        assert!(r.records[1].info.backward && !r.records[1].is_current());
        assert_eq!(parse_records(&[0x04, 0x13, 1, 2]), Err(RecordError::Truncated(0)));
    }
}
