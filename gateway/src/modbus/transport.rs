//! Opening a Modbus connection for a parsed endpoint: Modbus TCP, RTU frames over TCP (serial device
//! servers), or RTU on a local serial port. Every variant yields the same tokio-modbus [`Context`], so the
//! poller does not care how the bytes travel.
//!
//! Connecting is bounded by a timeout; `TCP_NODELAY` is set because every request is a small write waiting
//! for its answer (Nagle's algorithm would add up to a delayed-ACK period per poll).

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_modbus::client::{Context, rtu, tcp};
use tokio_modbus::prelude::Slave;
use tokio_serial::SerialPortBuilderExt as _;
use zw_model::inventory::{ModbusEndpoint, Parity, SerialSettings};

/// Opens a connection to `endpoint` within `limit`; the error is a human-readable reason.
pub async fn connect(endpoint: &ModbusEndpoint, limit: Duration) -> Result<Context, String> {
    let attempt = async {
        match endpoint {
            ModbusEndpoint::Tcp { host, port } => {
                Ok(tcp::attach_slave(tcp_stream(host, *port).await?, Slave(1)))
            }
            ModbusEndpoint::RtuOverTcp { host, port } => {
                Ok(rtu::attach_slave(tcp_stream(host, *port).await?, Slave(1)))
            }
            ModbusEndpoint::Rtu(s) => Ok(rtu::attach_slave(open_serial(s)?, Slave(1))),
        }
    };
    timeout(limit, attempt)
        .await
        .map_err(|_| format!("connect timed out after {limit:?}"))?
}

async fn tcp_stream(host: &str, port: u16) -> Result<TcpStream, String> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
    Ok(stream)
}

/// Opens a serial port with the endpoint's line settings (8N1 9600 unless given).
pub fn open_serial(s: &SerialSettings) -> Result<tokio_serial::SerialStream, String> {
    let data_bits = match s.data_bits {
        5 => tokio_serial::DataBits::Five,
        6 => tokio_serial::DataBits::Six,
        7 => tokio_serial::DataBits::Seven,
        _ => tokio_serial::DataBits::Eight,
    };
    let parity = match s.parity {
        Parity::None => tokio_serial::Parity::None,
        Parity::Even => tokio_serial::Parity::Even,
        Parity::Odd => tokio_serial::Parity::Odd,
    };
    let stop_bits = if s.stop_bits == 2 {
        tokio_serial::StopBits::Two
    } else {
        tokio_serial::StopBits::One
    };
    tokio_serial::new(&s.path, s.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop_bits)
        .open_native_async()
        .map_err(|e| format!("cannot open serial port {}: {e}", s.path))
}
