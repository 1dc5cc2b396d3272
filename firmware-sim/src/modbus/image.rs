//! Modbus register images and the tokio-modbus [`Service`] that serves them, one image per unit id.
//!
//! A [`RegisterImage`] is the input-register (FC 04) or holding-register (FC 03) space of one simulated
//! device plus the read limits of the real device; meter models ([`super::meters`]) write their values into
//! it, the server only reads. Scripted faults ([`super::faults`]) are applied per unit.
//! Guarantees: a read is answered from one consistent image (the update holds the write lock for the whole
//! image), limits are enforced like the real device (exception instead of data), and a poisoned lock or an
//! unknown request never panics the server.

use std::collections::HashMap;
use std::future::{self, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use tokio_modbus::prelude::{ExceptionCode, Request, Response, SlaveRequest};
use tokio_modbus::server::Service;

use super::faults::{Action, Faults};

/// What a device accepts in one read request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most registers per request.
    pub max_registers: u16,
    /// Whether only even counts and even start addresses are accepted (all values are 2-register floats).
    pub even_only: bool,
}

/// The registers of one device: input registers (FC 04) or holding registers (FC 03) from `base` on; unset
/// registers read as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterImage {
    regs: Vec<u16>,
    base: u16,
    holding: bool,
    limits: ReadLimits,
}

impl RegisterImage {
    /// An all-zero input-register image of `len` registers (addresses `0..len`).
    pub fn new(len: u16, limits: ReadLimits) -> Self {
        Self {
            regs: vec![0; usize::from(len)],
            base: 0,
            holding: false,
            limits,
        }
    }

    /// An all-zero holding-register image of `len` registers at `base..base + len`.
    pub fn holding(base: u16, len: u16, limits: ReadLimits) -> Self {
        Self {
            regs: vec![0; usize::from(len)],
            base,
            holding: true,
            limits,
        }
    }

    /// Whether the image answers FC 03 (holding) rather than FC 04 (input registers).
    pub fn is_holding(&self) -> bool {
        self.holding
    }

    fn index(&self, addr: u16) -> Option<usize> {
        addr.checked_sub(self.base).map(usize::from)
    }

    /// Stores `value` as IEEE-754 float32 at `addr` and `addr + 1`, big-endian, high word first ("ABCD").
    /// Writes outside the image are ignored (profiles only use addresses they sized the image for).
    pub fn set_f32(&mut self, addr: u16, value: f32) {
        let bits = value.to_bits();
        let Some(a) = self.index(addr) else { return };
        if let Some(slot) = self.regs.get_mut(a..a + 2) {
            slot.copy_from_slice(&[(bits >> 16) as u16, bits as u16]);
        }
    }

    /// The float32 at `addr`, or `None` outside the image.
    pub fn get_f32(&self, addr: u16) -> Option<f32> {
        let a = self.index(addr)?;
        let w = self.regs.get(a..a + 2)?;
        Some(f32::from_bits(u32::from(w[0]) << 16 | u32::from(w[1])))
    }

    /// Answers a read like the device: `IllegalDataValue` for a count of 0, above the limit or odd;
    /// `IllegalDataAddress` for an odd start or a range outside the image.
    pub fn read(&self, addr: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
        let odd = |n: u16| self.limits.even_only && n % 2 == 1;
        if count == 0 || count > self.limits.max_registers || odd(count) {
            return Err(ExceptionCode::IllegalDataValue);
        }
        if odd(addr) {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let start = self.index(addr).ok_or(ExceptionCode::IllegalDataAddress)?;
        self.regs
            .get(start..start + usize::from(count))
            .map(<[u16]>::to_vec)
            .ok_or(ExceptionCode::IllegalDataAddress)
    }
}

/// A register image shared between the updater (writer) and the server (readers).
pub type SharedImage = Arc<RwLock<RegisterImage>>;

/// One unit id behind the server: its image, its scripted faults and its request counter.
#[derive(Debug)]
struct Unit {
    image: SharedImage,
    faults: Faults,
    seq: AtomicU64,
}

/// Serves FC 03/04 from the image of the addressed unit id, like a Modbus TCP gateway in front of an RS-485
/// bus, applying each unit's scripted faults. Clone it per connection with [`ImageService::for_connection`]
/// so a `drop_connection` fault closes only that connection.
#[derive(Debug, Clone)]
pub struct ImageService {
    units: Arc<HashMap<u8, Unit>>,
    started: Instant,
    kill: Arc<AtomicBool>,
}

impl Default for ImageService {
    fn default() -> Self {
        Self::new(HashMap::new())
    }
}

impl ImageService {
    /// A service answering for exactly the unit ids in `units`, without faults.
    pub fn new(units: HashMap<u8, SharedImage>) -> Self {
        Self::with_faults(
            units
                .into_iter()
                .map(|(u, img)| (u, (img, Faults::default())))
                .collect(),
        )
    }

    /// A service whose units misbehave as scripted; fault windows count from now.
    pub fn with_faults(units: HashMap<u8, (SharedImage, Faults)>) -> Self {
        let units = units
            .into_iter()
            .map(|(u, (image, faults))| {
                (
                    u,
                    Unit {
                        image,
                        faults,
                        seq: AtomicU64::new(0),
                    },
                )
            })
            .collect();
        Self {
            units: Arc::new(units),
            started: Instant::now(),
            kill: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A copy for one new connection and the flag that, once set, makes [`super::KillableStream`] end it.
    pub fn for_connection(&self) -> (Self, Arc<AtomicBool>) {
        let kill = Arc::new(AtomicBool::new(false));
        let svc = Self {
            kill: Arc::clone(&kill),
            ..self.clone()
        };
        (svc, kill)
    }

    /// Answers one request from the images, ignoring faults: `Ok(None)` sends nothing (broadcast), `Err`
    /// sends an exception response.
    pub fn answer(&self, req: SlaveRequest<'_>) -> Result<Option<Response>, ExceptionCode> {
        if req.slave == 0 {
            return Ok(None); // Broadcasts are never answered.
        }
        // A gateway reports a silent bus device as "target device failed to respond".
        let unit = self
            .units
            .get(&req.slave)
            .ok_or(ExceptionCode::GatewayTargetDevice)?;
        let image = unit.image.read().unwrap_or_else(PoisonError::into_inner);
        match req.request {
            Request::ReadInputRegisters(addr, count) if !image.is_holding() => image
                .read(addr, count)
                .map(|r| Some(Response::ReadInputRegisters(r))),
            Request::ReadHoldingRegisters(addr, count) if image.is_holding() => image
                .read(addr, count)
                .map(|r| Some(Response::ReadHoldingRegisters(r))),
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

/// The answer future: ready at once, or after a scripted delay.
pub type Answer = Pin<Box<dyn Future<Output = Result<Option<Response>, ExceptionCode>> + Send>>;

impl Service for ImageService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Answer;

    fn call(&self, req: Self::Request) -> Self::Future {
        let action = match self.units.get(&req.slave) {
            Some(u) if !u.faults.is_empty() => {
                let seq = u.seq.fetch_add(1, Ordering::Relaxed);
                u.faults.action(self.started.elapsed(), seq)
            }
            _ => Action::Answer,
        };
        match action {
            Action::Answer => Box::pin(future::ready(self.answer(req))),
            Action::NoAnswer => Box::pin(future::ready(Ok(None))),
            Action::Exception(code) => Box::pin(future::ready(Err(ExceptionCode::new(code)))),
            Action::Drop => {
                self.kill.store(true, Ordering::Relaxed);
                Box::pin(future::ready(Ok(None)))
            }
            Action::Delay(d) => {
                let answer = self.answer(req);
                Box::pin(async move {
                    tokio::time::sleep(d).await;
                    answer
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
