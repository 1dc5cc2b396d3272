//! Modbus register images and the tokio-modbus [`Service`] that serves them, one image per unit id.
//!
//! A [`RegisterImage`] is the input-register (FC04) space of one simulated device plus the read limits of the
//! real device; device profiles (e.g. [`crate::sdm630`]) write their values into it, the server only reads.
//! Guarantees: a read is answered from one consistent image (the update holds the write lock for the whole
//! image), limits are enforced like the real device (exception instead of data), and a poisoned lock or an
//! unknown request never panics the server.

use std::collections::HashMap;
use std::future;
use std::sync::{Arc, PoisonError, RwLock};

use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_modbus::server::Service;

/// What a device accepts in one read request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most registers per request.
    pub max_registers: u16,
    /// Whether only even counts and even start addresses are accepted (all values are 2-register floats).
    pub even_only: bool,
}

/// The input registers of one device; unset registers read as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterImage {
    regs: Vec<u16>,
    limits: ReadLimits,
}

impl RegisterImage {
    /// An all-zero image of `len` registers (addresses `0..len`).
    pub fn new(len: u16, limits: ReadLimits) -> Self {
        Self {
            regs: vec![0; usize::from(len)],
            limits,
        }
    }

    /// Stores `value` as IEEE-754 float32 at `addr` and `addr + 1`, big-endian, high word first ("ABCD").
    /// Writes outside the image are ignored (profiles only use addresses they sized the image for).
    pub fn set_f32(&mut self, addr: u16, value: f32) {
        let bits = value.to_bits();
        let a = usize::from(addr);
        if let Some(slot) = self.regs.get_mut(a..a + 2) {
            slot.copy_from_slice(&[(bits >> 16) as u16, bits as u16]);
        }
    }

    /// The float32 at `addr`, or `None` outside the image.
    pub fn get_f32(&self, addr: u16) -> Option<f32> {
        let a = usize::from(addr);
        let w = self.regs.get(a..a + 2)?;
        Some(f32::from_bits(u32::from(w[0]) << 16 | u32::from(w[1])))
    }

    /// Answers an FC04 read like the device: `IllegalDataValue` for a count of 0, above the limit or odd;
    /// `IllegalDataAddress` for an odd start or a range past the end of the image.
    pub fn read(&self, addr: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let odd = |n: u16| self.limits.even_only && n % 2 == 1;
        if count == 0 || count > self.limits.max_registers || odd(count) {
            return Err(ExceptionCode::IllegalDataValue);
        }
        if odd(addr) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let start = usize::from(addr);
        self.regs
            .get(start..start + usize::from(count))
            .map(<[u16]>::to_vec)
            .ok_or(ExceptionCode::IllegalDataAddress)
    }
}

/// A register image shared between the updater (writer) and the server (readers).
pub type SharedImage = Arc<RwLock<RegisterImage>>;

/// Serves FC04 from the image of the addressed unit id, like a Modbus TCP gateway in front of an RS-485 bus.
#[derive(Debug, Clone, Default)]
pub struct ImageService {
    units: Arc<HashMap<u8, SharedImage>>,
}

impl ImageService {
    /// A service answering for exactly the unit ids in `units`.
    pub fn new(units: HashMap<u8, SharedImage>) -> Self {
        Self {
            units: Arc::new(units),
        }
    }

    /// Answers one request: `Ok(None)` sends nothing (broadcast), `Err` sends an exception response.
    pub fn answer(&self, req: SlaveRequest<'_>) -> Result<Option<Response>, ExceptionCode> {
        if req.slave == 0 {
            return Ok(None); // Broadcasts are never answered.
        }
        // A gateway reports a silent bus device as "target device failed to respond".
        let image = self
            .units
            .get(&req.slave)
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        match req.request {
            Request::ReadInputRegisters(addr, count) => {
                let image = image.read().unwrap_or_else(PoisonError::into_inner);
                image
                    .read(addr, count)
                    .map(|regs| Some(Response::ReadInputRegisters(regs)))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

impl Service for ImageService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        future::ready(self.answer(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReadLimits = ReadLimits {
        max_registers: 80,
        even_only: true,
    };

    #[test]
    fn floats_are_big_endian_high_word_first() {
        // Fixture bytes from the SDM630 reference (Python struct.pack('>f')).
        let cases: [(f32, [u16; 2]); 6] = [
            (230.1, [0x4366, 0x199A]),
            (5.25, [0x40A8, 0x0000]),
            (1207.5, [0x4496, 0xF000]),
            (50.0, [0x4248, 0x0000]),
            (12345.678, [0x4640, 0xE6B6]),
            (0.98, [0x3F7A, 0xE148]),
        ];
        for (value, regs) in cases {
            let mut img = RegisterImage::new(0x0180, LIMITS);
            img.set_f32(0x0048, value);
            assert_eq!(img.read(0x0048, 2), Ok(regs.to_vec()), "{value}");
            assert_eq!(img.get_f32(0x0048), Some(value));
        }
    }

    #[test]
    fn limits_are_enforced_like_the_meter() {
        let img = RegisterImage::new(0x0180, LIMITS);
        let cases = [
            (0x0000, 76, None),
            (0x0000, 80, None),
            (0x0156, 2, None),
            (0x017E, 2, None),
            (0x0000, 81, Some(ExceptionCode::IllegalDataValue)),
            (0x0000, 82, Some(ExceptionCode::IllegalDataValue)),
            (0x0000, 3, Some(ExceptionCode::IllegalDataValue)),
            (0x0000, 0, Some(ExceptionCode::IllegalDataValue)),
            (0x0001, 2, Some(ExceptionCode::IllegalDataAddress)),
            (0x0180, 2, Some(ExceptionCode::IllegalDataAddress)),
            (0x0170, 80, Some(ExceptionCode::IllegalDataAddress)),
            (0xFFFE, 80, Some(ExceptionCode::IllegalDataAddress)),
        ];
        for (addr, count, err) in cases {
            let got = img.read(addr, count);
            match err {
                None => assert_eq!(
                    got.map(|r| r.len()),
                    Ok(usize::from(count)),
                    "{addr:#06x} x{count}"
                ),
                Some(e) => assert_eq!(got, Err(e), "{addr:#06x} x{count}"),
            }
        }
    }

    #[test]
    fn service_routes_by_unit_and_function() {
        let mut img = RegisterImage::new(0x0180, LIMITS);
        img.set_f32(0, 230.1);
        let svc = ImageService::new(HashMap::from([(1, Arc::new(RwLock::new(img)))]));
        let req = |slave, request| SlaveRequest { slave, request };
        let cases = [
            (
                1,
                Request::ReadInputRegisters(0, 2),
                Ok(Some(Response::ReadInputRegisters(vec![0x4366, 0x199A]))),
            ),
            (
                1,
                Request::ReadInputRegisters(0, 81),
                Err(ExceptionCode::IllegalDataValue),
            ),
            (
                1,
                Request::ReadHoldingRegisters(0, 2),
                Err(ExceptionCode::IllegalFunction),
            ),
            (
                2,
                Request::ReadInputRegisters(0, 2),
                Err(ExceptionCode::GatewayTargetDevice),
            ),
            (0, Request::ReadInputRegisters(0, 2), Ok(None)),
        ];
        for (slave, request, expected) in cases {
            assert_eq!(
                svc.answer(req(slave, request.clone())),
                expected,
                "unit {slave} {request:?}"
            );
        }
    }
}
