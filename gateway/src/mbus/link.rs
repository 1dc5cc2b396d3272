//! The byte stream to a bus (TCP to an M-Bus/Ethernet gateway or ser2net, or a local serial port) and the
//! M-Bus request/answer exchange on it: write a request, read exactly one frame back within a deadline.
//!
//! Bytes that arrive outside an exchange (a late answer after a timeout, line noise) are discarded before the
//! next request and counted, so a late answer is never taken for the next request's.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use zw_meters::mbus::frame::{FrameError, frame_length};
use zw_model::inventory::StreamEndpoint;

/// Anything bytes travel over.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// A boxed byte stream.
pub type Stream = Box<dyn ByteStream>;

/// Opens `endpoint` within `limit`; the error is a human-readable reason.
pub async fn open(endpoint: &StreamEndpoint, limit: Duration) -> Result<Stream, String> {
    let attempt = async {
        match endpoint {
            StreamEndpoint::Tcp { host, port } => {
                let s = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
                s.set_nodelay(true)
                    .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
                Ok(Box::new(s) as Stream)
            }
            StreamEndpoint::Serial(s) => {
                crate::modbus::transport::open_serial(s).map(|p| Box::new(p) as Stream)
            }
        }
    };
    timeout(limit, attempt)
        .await
        .map_err(|_| format!("connect timed out after {limit:?}"))?
}

/// Why an exchange got no valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Nothing (or only part of a frame) within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Bytes that are not a valid frame (bad start, header, checksum, stop byte).
    #[error("garbled answer: {0}")]
    Garbled(FrameError),
    /// The stream failed or closed: reconnect.
    #[error("{0}")]
    Transport(String),
}

/// One bus's stream, used for one exchange at a time.
pub struct Link {
    stream: BufReader<Stream>,
}

impl Link {
    /// Wraps an open stream.
    pub fn new(stream: Stream) -> Self {
        Self {
            stream: BufReader::new(stream),
        }
    }

    /// Discards whatever already arrived; returns how many bytes.
    pub async fn drain(&mut self) -> Result<usize, LinkError> {
        let mut n = 0;
        let mut buf = [0u8; 256];
        // A zero timeout polls the read once: only bytes already there are taken.
        while let Ok(read) = timeout(Duration::ZERO, self.stream.read(&mut buf)).await {
            match read {
                Ok(0) => return Err(LinkError::Transport("connection closed".into())),
                Ok(k) => n += k,
                Err(e) => return Err(LinkError::Transport(e.to_string())),
            }
        }
        Ok(n)
    }

    /// Writes `request` and reads one frame (`E5`, short or long) within `limit`. Bytes after the frame
    /// are left for the next [`Link::drain`].
    pub async fn exchange(&mut self, request: &[u8], limit: Duration) -> Result<Vec<u8>, LinkError> {
        let transport = |e: std::io::Error| LinkError::Transport(e.to_string());
        self.stream.write_all(request).await.map_err(transport)?;
        self.stream.flush().await.map_err(transport)?;
        let deadline = Instant::now() + limit;
        let mut frame = Vec::with_capacity(64);
        loop {
            match frame_length(&frame) {
                Ok(Some(n)) if frame.len() >= n => {
                    frame.truncate(n);
                    return Ok(frame);
                }
                Ok(_) => {}
                Err(e) => return Err(LinkError::Garbled(e)),
            }
            let mut byte = [0u8; 1];
            // One byte at a time (from the buffer) keeps the frame boundary exact.
            let n = timeout_at(deadline, self.stream.read(&mut byte))
                .await
                .map_err(|_| LinkError::Timeout(limit))?
                .map_err(transport)?;
            if n == 0 {
                return Err(LinkError::Transport("connection closed".into()));
            }
            frame.push(byte[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, duplex};

    use super::*;

    #[tokio::test]
    async fn one_frame_per_exchange_late_bytes_drained_garbage_reported() {
        let (ours, mut meter) = duplex(1024);
        let mut link = Link::new(Box::new(ours));
        let answer = tokio::spawn(async move {
            let mut req = [0u8; 5];
            meter.read_exact(&mut req).await.expect("request");
            // An ack, then a stray byte that belongs to no exchange.
            meter.write_all(&[0xE5, 0x00]).await.expect("write");
            meter.read_exact(&mut req).await.expect("request");
            meter
                .write_all(&[0x10, 0x40, 0x07, 0x00, 0x16])
                .await
                .expect("write");
            meter.read_exact(&mut req).await.expect("request");
            meter
        });
        let nke = zw_meters::mbus::frame::snd_nke(1);
        let limit = Duration::from_millis(200);
        assert_eq!(link.exchange(&nke, limit).await, Ok(vec![0xE5]));
        tokio::task::yield_now().await;
        assert_eq!(link.drain().await, Ok(1));
        // A short frame with a bad checksum is still one frame: the checksum is the decoder's business.
        assert_eq!(
            link.exchange(&nke, limit).await,
            Ok(vec![0x10, 0x40, 0x07, 0x00, 0x16])
        );
        assert_eq!(link.exchange(&nke, limit).await, Err(LinkError::Timeout(limit)));
        drop(answer.await.expect("meter"));
        assert!(matches!(
            link.exchange(&nke, limit).await,
            Err(LinkError::Transport(_))
        ));
    }
}
