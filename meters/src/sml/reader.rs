//! Our SML message reader: one pass over the decoded messages of a file, walking the TLV structure in place
//! (no allocation, no event values built for what we do not publish) and collecting the registers of every
//! `GetList.Res` (objName, status, valTime, unit, scaler, value, valueSignature) and the server ids.
//!
//! It accepts exactly what `sml-rs`' parser accepts (the same type-length rules, the same message bodies: open,
//! close and get-list responses; the `SecIndex` time and the Holley DTZ541 bare-`u32` time; each message's
//! CRC-16/X-25 and end byte) and reads the same values: `tests/meters/oracle.rs` holds it to `sml-rs` on every
//! capture, on random valid files and on arbitrary message bytes. It exists because `sml-rs`' streaming parser
//! builds every message and entry as a value and was most of the decode time (0.52–0.67 M files per CPU-second).

use super::reading::{Register, SmlReading, dzg_affected};
use super::transport::X25;
use super::{Error, Obis};
use crate::Decimal;

/// The TLV type nibbles SML defines (bits 4–6 of a type-length byte).
const OCTETS: u8 = 0;
const BOOL: u8 = 4;
const INT: u8 = 5;
const UINT: u8 = 6;
const LIST: u8 = 7;

/// Why the message bytes do not parse (turned into [`Error::Parse`]).
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The bytes end inside an element.
    Eof,
    /// A type-length field SML does not define (reserved type, boolean with more bytes, continuation type ≠ 0,
    /// a length shorter than the field itself).
    Tlf,
    /// An element of another type or length than the message structure requires.
    Mismatch(&'static str),
    /// A message body tag or time/list choice we (and `sml-rs`) do not know.
    Variant,
    /// A message's CRC does not match its bytes.
    Crc,
    /// A message does not end with `00`.
    MessageEnd,
}

/// A numeric `SML_Value`, or something else (octets, boolean, time) we skip.
enum Num {
    /// A signed integer and its length in bytes (for the DZG correction).
    Int(i64, usize),
    /// An unsigned integer.
    Uint(u64),
    /// Not a number.
    Other,
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn byte(&mut self) -> Result<u8, Fault> {
        let b = *self.b.get(self.at).ok_or(Fault::Eof)?;
        self.at += 1;
        Ok(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Fault> {
        let end = self.at.checked_add(n).ok_or(Fault::Eof)?;
        let s = self.b.get(self.at..end).ok_or(Fault::Eof)?;
        self.at = end;
        Ok(s)
    }

    /// `01`, the absent optional element: consumed and true.
    #[inline]
    fn absent(&mut self) -> bool {
        let none = self.b.get(self.at) == Some(&0x01);
        self.at += usize::from(none);
        none
    }

    /// A type-length field: the type nibble and the length (of the data after the field; for a list, the
    /// number of elements).
    #[inline]
    fn tlf(&mut self) -> Result<(u8, u32), Fault> {
        let first = self.byte()?;
        let ty = (first >> 4) & 7;
        if !matches!(ty, OCTETS | BOOL | INT | UINT | LIST) {
            return Err(Fault::Tlf);
        }
        let mut len = u32::from(first & 0x0F);
        let mut tlf_len = 1;
        if first & 0x80 != 0 {
            if ty == BOOL {
                return Err(Fault::Tlf);
            }
            loop {
                let next = self.byte()?;
                if next & 0x70 != 0 {
                    return Err(Fault::Tlf);
                }
                tlf_len += 1;
                len = (len << 4) | u32::from(next & 0x0F);
                if next & 0x80 == 0 {
                    break;
                }
            }
        }
        if ty != LIST {
            len = len.checked_sub(tlf_len).ok_or(Fault::Tlf)?;
        }
        Ok((ty, len))
    }

    /// A list of exactly `n` elements.
    #[inline]
    fn list(&mut self, n: u32, what: &'static str) -> Result<(), Fault> {
        match self.tlf()? {
            (LIST, len) if len == n => Ok(()),
            _ => Err(Fault::Mismatch(what)),
        }
    }

    #[inline]
    fn octets(&mut self) -> Result<&'a [u8], Fault> {
        match self.tlf()? {
            (OCTETS, len) => self.take(len as usize),
            _ => Err(Fault::Mismatch("octet string")),
        }
    }

    #[inline]
    fn opt_octets(&mut self) -> Result<(), Fault> {
        if !self.absent() {
            self.octets()?;
        }
        Ok(())
    }

    /// The big-endian bytes of an integer of type `ty` and 1 to `max` bytes.
    #[inline]
    fn int_bytes(&mut self, ty: u8, max: u32, what: &'static str) -> Result<&'a [u8], Fault> {
        match self.tlf()? {
            (t, len) if t == ty && (1..=max).contains(&len) => self.take(len as usize),
            _ => Err(Fault::Mismatch(what)),
        }
    }

    #[inline]
    fn unsigned(&mut self, max: u32, what: &'static str) -> Result<u64, Fault> {
        Ok(be_unsigned(self.int_bytes(UINT, max, what)?))
    }

    /// `SML_Time`: the `secIndex` choice (a list of tag 1 and a `u32`) or the Holley DTZ541's bare `u32`.
    fn time(&mut self) -> Result<(), Fault> {
        match self.tlf()? {
            (LIST, 2) => self.time_choice(),
            (UINT, 4) => self.take(4).map(drop),
            _ => Err(Fault::Mismatch("time")),
        }
    }

    /// The tag and value of a time choice (only `secIndex`, as in `sml-rs`).
    fn time_choice(&mut self) -> Result<(), Fault> {
        if self.unsigned(1, "time tag")? != 1 {
            return Err(Fault::Variant);
        }
        self.unsigned(4, "time").map(drop)
    }

    #[inline]
    fn opt_time(&mut self) -> Result<(), Fault> {
        if !self.absent() {
            self.time()?;
        }
        Ok(())
    }

    /// `SML_Value`.
    fn value(&mut self) -> Result<Num, Fault> {
        Ok(match self.tlf()? {
            (BOOL, 1) => self.take(1).map(|_| Num::Other)?,
            (OCTETS, len) => self.take(len as usize).map(|_| Num::Other)?,
            (INT, len @ 1..=8) => {
                let b = self.take(len as usize)?;
                Num::Int(be_signed(b), b.len())
            }
            (UINT, len @ 1..=8) => Num::Uint(be_unsigned(self.take(len as usize)?)),
            (LIST, 2) => {
                // A list-typed value: tag 1 (a time) is the only one sml-rs knows.
                if self.unsigned(1, "list type tag")? != 1 {
                    return Err(Fault::Variant);
                }
                self.time()?;
                Num::Other
            }
            _ => return Err(Fault::Mismatch("value")),
        })
    }
}

fn be_unsigned(b: &[u8]) -> u64 {
    b.iter().fold(0, |v, x| (v << 8) | u64::from(*x))
}

fn be_signed(b: &[u8]) -> i64 {
    let sign = if b.first().is_some_and(|x| x & 0x80 != 0) {
        -1
    } else {
        0
    };
    b.iter().fold(sign, |v: i64, x| (v << 8) | i64::from(*x))
}

/// Parses the decoded messages of one file (padding already removed by the transport).
pub(super) fn parse(file: &[u8]) -> Result<SmlReading, Error> {
    walk(file).map_err(|f| {
        Error::Parse(match f {
            Fault::Mismatch(what) => format!("unexpected element where {what} belongs"),
            Fault::Eof => "the bytes end inside an element".into(),
            Fault::Tlf => "invalid type-length field".into(),
            Fault::Variant => "unknown message body or choice tag".into(),
            Fault::Crc => "message CRC mismatch".into(),
            Fault::MessageEnd => "message does not end with 00".into(),
        })
    })
}

fn walk(file: &[u8]) -> Result<SmlReading, Fault> {
    let mut out = SmlReading {
        registers: Vec::with_capacity(8),
        ..SmlReading::default()
    };
    let mut open_server: &[u8] = &[];
    let mut list_server: &[u8] = &[];
    let mut c = Cursor { b: file, at: 0 };
    while c.at < file.len() {
        let start = c.at;
        c.list(6, "message")?;
        c.octets()?; // transactionId
        c.unsigned(1, "groupNo")?;
        c.unsigned(1, "abortOnError")?;
        c.list(2, "message body")?;
        match c.unsigned(4, "message body tag")? {
            0x0101 => {
                c.list(6, "open response")?;
                c.opt_octets()?; // codepage
                c.opt_octets()?; // clientId
                c.octets()?; // reqFileId
                let server = c.octets()?;
                if open_server.is_empty() {
                    open_server = server;
                }
                c.opt_time()?; // refTime
                if !c.absent() {
                    c.unsigned(1, "smlVersion")?;
                }
            }
            0x0201 => {
                c.list(1, "close response")?;
                c.opt_octets()?; // globalSignature
            }
            0x0701 => {
                c.list(7, "get list response")?;
                c.opt_octets()?; // clientId
                list_server = c.octets()?;
                c.opt_octets()?; // listName
                c.opt_time()?; // actSensorTime
                let n = match c.tlf()? {
                    (LIST, n) => n,
                    _ => return Err(Fault::Mismatch("valList")),
                };
                let quirk_server = dzg_affected(list_server);
                for _ in 0..n {
                    entry(&mut c, quirk_server, &mut out)?;
                }
                c.opt_octets()?; // listSignature
                c.opt_time()?; // actGatewayTime
            }
            _ => return Err(Fault::Variant),
        }
        let end = c.at;
        let stated = c.unsigned(2, "crc16")? as u16;
        if c.byte()? != 0x00 {
            return Err(Fault::MessageEnd);
        }
        if X25.checksum(&file[start..end]).swap_bytes() != stated {
            return Err(Fault::Crc);
        }
    }
    out.server_id = if list_server.is_empty() {
        open_server
    } else {
        list_server
    }
    .to_vec();
    Ok(out)
}

/// One `SML_ListEntry`; a numeric value under a 6-byte objName becomes a register.
fn entry(c: &mut Cursor<'_>, quirk_server: bool, out: &mut SmlReading) -> Result<(), Fault> {
    c.list(7, "list entry")?;
    let name = c.octets()?;
    if !c.absent() {
        c.unsigned(8, "status")?;
    }
    c.opt_time()?; // valTime
    let unit = if c.absent() {
        None
    } else {
        Some(c.unsigned(1, "unit")? as u8)
    };
    let scaler = if c.absent() {
        0
    } else {
        be_signed(c.int_bytes(INT, 1, "scaler")?) as i8
    };
    let value = c.value()?;
    c.opt_octets()?; // valueSignature
    let Ok(obis) = <[u8; 6]>::try_from(name).map(Obis) else {
        return Ok(());
    };
    let (raw, corrected) = match value {
        // DZG: a 16.7.0 of at most 2 bytes, negative as signed, meant as unsigned (see `reading`).
        Num::Int(v, len @ 1..=2) if v < 0 && quirk_server && obis.cde() == (16, 7, 0) => {
            (v & ((1 << (8 * len)) - 1), true)
        }
        Num::Int(v, _) => (v, false),
        Num::Uint(v) => match i64::try_from(v) {
            Ok(v) => (v, false),
            Err(_) => return Ok(()),
        },
        Num::Other => return Ok(()),
    };
    out.dzg_corrected |= corrected;
    out.registers.push(Register {
        obis,
        unit,
        value: Decimal::new(raw, scaler),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlf(b: &[u8]) -> Result<(u8, u32), Fault> {
        Cursor { b, at: 0 }.tlf()
    }

    #[test]
    fn type_length_fields() {
        assert!(matches!(tlf(&[0x01]), Ok((OCTETS, 0))));
        assert!(matches!(tlf(&[0x77]), Ok((LIST, 7))));
        assert!(matches!(tlf(&[0x83, 0x02]), Ok((OCTETS, 0x30))));
        assert!(matches!(tlf(&[0xF1, 0x02]), Ok((LIST, 0x12))));
        assert!(matches!(tlf(&[0x10]), Err(Fault::Tlf)));
        assert!(matches!(tlf(&[0xC2, 0x02]), Err(Fault::Tlf)));
        assert!(matches!(tlf(&[0x81, 0x12]), Err(Fault::Tlf)));
        assert!(matches!(tlf(&[0x50]), Err(Fault::Tlf)));
        assert!(matches!(tlf(&[0x81]), Err(Fault::Eof)));
    }

    #[test]
    fn integers_sign_extend_and_widen() {
        assert_eq!(be_signed(&[0x8B, 0x28]), -29_912);
        assert_eq!(be_signed(&[0x00, 0xFF]), 255);
        assert_eq!(be_signed(&[0xFF; 8]), -1);
        assert_eq!(be_unsigned(&[0x03, 0x3C, 0x93, 0x89]), 0x033C_9389);
    }
}
