//! An RS-485 line behind a serial device server: Modbus RTU frames take real bus time, one frame at a time.
//!
//! [`LineService`] wraps an [`ImageService`] so every request first occupies the shared [`RtuLine`] for its
//! request frame (bytes × character time, plus the 3.5-character silent interval that ends an RTU frame),
//! then the answer's frame likewise. A unit that does not answer leaves the line silent: the master can
//! send nothing until its own timeout, so that silence is charged to the silent unit, up to the next request
//! on the line or until the master closes the connection it asked on (a master that re-opens after a
//! timeout has given up then), whichever comes first. [`RtuLine::usage`] tells per unit id how much bus time it took: the measure behind "a
//! dead device on a shared serial bus takes only a bounded share of bus time".
//!
//! Character time: start bit + data bits + parity bit + stop bits, over the baud rate (9600 8N1: 10 bits,
//! 1.042 ms per byte). Frame sizes: a read request is 8 bytes (unit, function, address, count, CRC), a read
//! response 5 + 2·count bytes, an exception response 5 bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep};
use tokio_modbus::prelude::{Request, Response, SlaveRequest};
use tokio_modbus::server::Service;

use super::image::{Answer, ImageService};

/// Line settings of a simulated RS-485 bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSettings {
    /// Baud rate (bits per second).
    pub baud: u32,
    /// Bits per character on the wire: start + data + parity + stop (8N1: 10, 8E1: 11).
    pub bits_per_char: u32,
}

impl LineSettings {
    /// 8 data bits, no parity, one stop bit at `baud`.
    pub fn n81(baud: u32) -> Self {
        Self {
            baud: baud.max(1),
            bits_per_char: 10,
        }
    }

    /// Time one character takes on the wire.
    pub fn char_time(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.bits_per_char) / f64::from(self.baud.max(1)))
    }

    /// Bus time of a frame of `bytes`, including the 3.5-character silence that ends it.
    pub fn frame_time(&self, bytes: usize) -> Duration {
        self.char_time().mul_f64(bytes as f64 + 3.5)
    }
}

/// Length in bytes of the RTU frame answering `req` with `answer`, `None` when nothing is sent.
pub fn response_bytes(answer: &Result<Option<Response>, tokio_modbus::ExceptionCode>) -> Option<usize> {
    match answer {
        Ok(None) => None,
        Err(_) => Some(5),
        Ok(Some(Response::ReadInputRegisters(r) | Response::ReadHoldingRegisters(r))) => {
            Some(5 + 2 * r.len())
        }
        Ok(Some(_)) => Some(8),
    }
}

/// Bytes of an RTU request frame for `req` (reads: 8; others approximated as 8).
fn request_bytes(req: &Request<'_>) -> usize {
    match req {
        Request::WriteMultipleRegisters(_, v) => 9 + 2 * v.len(),
        _ => 8,
    }
}

/// One RS-485 line shared by every connection of a serial device server.
#[derive(Debug)]
pub struct RtuLine {
    settings: LineSettings,
    /// Held while a frame is on the wire; the unit whose request went unanswered, when its frame ended, and
    /// the connection that asked.
    wire: tokio::sync::Mutex<Option<(u8, Instant, u64)>>,
    connections: std::sync::atomic::AtomicU64,
    usage: Mutex<HashMap<u8, Duration>>,
}

impl RtuLine {
    /// A quiet line.
    pub fn new(settings: LineSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            wire: tokio::sync::Mutex::new(None),
            connections: std::sync::atomic::AtomicU64::new(0),
            usage: Mutex::new(HashMap::new()),
        })
    }

    /// The line settings.
    pub fn settings(&self) -> LineSettings {
        self.settings
    }

    /// Bus time taken so far per unit id (frames to and from it, and the silence it left unanswered).
    pub fn usage(&self) -> HashMap<u8, Duration> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn charge(&self, unit: u8, d: Duration) {
        *self
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(unit)
            .or_default() += d;
    }
}

/// One connection's hold on the line: when the connection ends (its service copy is dropped), a silence
/// it left waiting for an answer ends too.
#[derive(Debug)]
struct Connection {
    id: u64,
    line: Arc<RtuLine>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Locked: a frame is on the wire, so the silence has ended already.
        if let Ok(mut wire) = self.line.wire.try_lock()
            && let Some((unit, since, conn)) = *wire
            && conn == self.id
        {
            self.line.charge(unit, since.elapsed());
            *wire = None;
        }
    }
}

/// An [`ImageService`] behind an [`RtuLine`]: answers take the bus time their frames need.
#[derive(Debug, Clone)]
pub struct LineService {
    inner: ImageService,
    conn: Arc<Connection>,
}

impl LineService {
    /// Serves `inner` over `line`.
    pub fn new(inner: ImageService, line: Arc<RtuLine>) -> Self {
        let id = line
            .connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            inner,
            conn: Arc::new(Connection { id, line }),
        }
    }

    /// A copy for one new connection (see [`ImageService::for_connection`]) on the same line.
    pub fn for_connection(&self) -> (Self, Arc<std::sync::atomic::AtomicBool>) {
        let (inner, kill) = self.inner.for_connection();
        (Self::new(inner, Arc::clone(&self.conn.line)), kill)
    }
}

impl Service for LineService {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = tokio_modbus::ExceptionCode;
    type Future = Answer;

    fn call(&self, req: Self::Request) -> Self::Future {
        let (inner, conn) = (self.inner.clone(), Arc::clone(&self.conn));
        Box::pin(async move {
            let line = &conn.line;
            let mut wire = line.wire.lock().await;
            let start = Instant::now();
            if let Some((silent, since, _)) = wire.take() {
                // The master waited for the silent unit until now: that was its bus time.
                line.charge(silent, start.saturating_duration_since(since));
            }
            let unit = req.slave;
            let settings = line.settings;
            sleep(settings.frame_time(request_bytes(&req.request))).await;
            let answer = Service::call(&inner, req).await;
            match response_bytes(&answer) {
                Some(bytes) => {
                    sleep(settings.frame_time(bytes)).await;
                    line.charge(unit, start.elapsed());
                }
                None if unit != 0 => {
                    line.charge(unit, start.elapsed());
                    *wire = Some((unit, Instant::now(), conn.id));
                }
                None => line.charge(unit, start.elapsed()),
            }
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_times_follow_the_baud_rate() {
        let l = LineSettings::n81(9600);
        // 10 bits per byte at 9600 baud: 1.0417 ms.
        assert!((l.char_time().as_secs_f64() - 1.0417e-3).abs() < 1e-6);
        // A read request (8 bytes) plus the 3.5-character silence: 11.5 characters, 11.98 ms.
        assert!((l.frame_time(8).as_secs_f64() - 11.979e-3).abs() < 1e-5);
        // 8E1 at 19200: 11 bits, 0.573 ms per byte.
        let e = LineSettings {
            baud: 19200,
            bits_per_char: 11,
        };
        assert!((e.char_time().as_secs_f64() - 0.5729e-3).abs() < 1e-6);
    }

    #[test]
    fn response_sizes_match_the_rtu_frames() {
        let regs = Ok(Some(Response::ReadInputRegisters(vec![0; 76])));
        assert_eq!(response_bytes(&regs), Some(157));
        assert_eq!(
            response_bytes(&Err(tokio_modbus::ExceptionCode::IllegalDataAddress)),
            Some(5)
        );
        assert_eq!(response_bytes(&Ok(None)), None);
    }
}
