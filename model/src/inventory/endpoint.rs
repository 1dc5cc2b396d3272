//! Modbus endpoint syntax: where a meter (or the gateway/serial bus in front of it) is reached.
//!
//! | written | meaning |
//! |---|---|
//! | `host:port`, `tcp://host:port` | Modbus TCP (MBAP framing); the plain form is kept for old configs |
//! | `rtutcp://host:port`, `rtu-over-tcp://host:port` | RTU frames over a TCP socket (serial device servers in transparent mode) |
//! | `rtu:///dev/ttyUSB0?baud=9600&parity=N&data_bits=8&stop_bits=1` | Modbus RTU on a local serial port |
//!
//! Hosts may be names, IPv4 or bracketed IPv6 (`[::1]:502`). Serial defaults are 9600 baud, 8 data bits,
//! no parity and one stop bit (8N1, the Eastron default). [`ModbusEndpoint::key`] is the canonical form:
//! two spellings of the same endpoint (`127.0.0.1:502` and `tcp://127.0.0.1:502`) share one connection, and
//! every device on one serial port shares one bus whatever its line settings say.

use std::fmt;

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parity {
    /// No parity bit (`N`).
    None,
    /// Even parity (`E`).
    Even,
    /// Odd parity (`O`).
    Odd,
}

/// Line settings of a serial port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SerialSettings {
    /// Device path, e.g. `/dev/ttyUSB0`.
    pub path: String,
    /// Baud rate.
    pub baud: u32,
    /// Parity.
    pub parity: Parity,
    /// Data bits, 5–8.
    pub data_bits: u8,
    /// Stop bits, 1 or 2.
    pub stop_bits: u8,
}

/// A parsed Modbus endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModbusEndpoint {
    /// Modbus TCP to `host:port`.
    Tcp {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// RTU framing over a TCP connection to a serial device server.
    RtuOverTcp {
        /// Host name or address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// RTU on a local serial port.
    Rtu(SerialSettings),
}

impl ModbusEndpoint {
    /// Parses the endpoint syntax described in the module docs; the error says what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            let (host, port) = host_port(rest)?;
            Ok(Self::Tcp { host, port })
        } else if let Some(rest) = s
            .strip_prefix("rtutcp://")
            .or_else(|| s.strip_prefix("rtu-over-tcp://"))
        {
            let (host, port) = host_port(rest)?;
            Ok(Self::RtuOverTcp { host, port })
        } else if let Some(rest) = s.strip_prefix("rtu://") {
            serial(rest).map(Self::Rtu)
        } else if s.contains("://") {
            Err(format!(
                "unknown scheme in {s:?} (use tcp://, rtutcp:// or rtu://)"
            ))
        } else {
            let (host, port) = host_port(s)?;
            Ok(Self::Tcp { host, port })
        }
    }

    /// The canonical form that identifies one connection or bus (serial: the path alone).
    pub fn key(&self) -> String {
        match self {
            Self::Rtu(s) => format!("rtu://{}", s.path),
            other => other.to_string(),
        }
    }

    /// Whether several requests share a physical serial line (RTU) rather than a TCP gateway.
    pub fn is_serial_line(&self) -> bool {
        !matches!(self, Self::Tcp { .. })
    }
}

impl fmt::Display for ModbusEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hp = |f: &mut fmt::Formatter<'_>, scheme: &str, host: &str, port: u16| {
            if host.contains(':') {
                write!(f, "{scheme}://[{host}]:{port}")
            } else {
                write!(f, "{scheme}://{host}:{port}")
            }
        };
        match self {
            Self::Tcp { host, port } => hp(f, "tcp", host, *port),
            Self::RtuOverTcp { host, port } => hp(f, "rtutcp", host, *port),
            Self::Rtu(s) => {
                let p = match s.parity {
                    Parity::None => 'N',
                    Parity::Even => 'E',
                    Parity::Odd => 'O',
                };
                write!(
                    f,
                    "rtu://{}?baud={}&parity={p}&data_bits={}&stop_bits={}",
                    s.path, s.baud, s.data_bits, s.stop_bits
                )
            }
        }
    }
}

fn host_port(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("expected host:port, got {s:?}");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (h, p)
    } else {
        let (h, p) = s.rsplit_once(':').ok_or_else(bad)?;
        if h.contains(':') {
            return Err(format!("IPv6 addresses need brackets, e.g. [::1]:502; got {s:?}"));
        }
        (h, p)
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 || host.contains(['/', '?', ' ']) {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

fn serial(s: &str) -> Result<SerialSettings, String> {
    let (path, query) = s.split_once('?').unwrap_or((s, ""));
    if !path.starts_with('/') || path.len() < 2 {
        return Err(format!(
            "serial endpoint needs an absolute device path, e.g. rtu:///dev/ttyUSB0; got {path:?}"
        ));
    }
    let mut out = SerialSettings {
        path: path.to_string(),
        baud: 9600,
        parity: Parity::None,
        data_bits: 8,
        stop_bits: 1,
    };
    let mut problems = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match (k, v) {
            ("baud", v) => match v.parse::<u32>() {
                Ok(b) if (300..=4_000_000).contains(&b) => out.baud = b,
                _ => problems.push(format!("baud {v:?} is not 300..=4000000")),
            },
            ("parity", "N" | "n" | "none") => out.parity = Parity::None,
            ("parity", "E" | "e" | "even") => out.parity = Parity::Even,
            ("parity", "O" | "o" | "odd") => out.parity = Parity::Odd,
            ("parity", v) => problems.push(format!("parity {v:?} is not N, E or O")),
            ("data_bits", v) => match v.parse::<u8>() {
                Ok(b @ 5..=8) => out.data_bits = b,
                _ => problems.push(format!("data_bits {v:?} is not 5..=8")),
            },
            ("stop_bits", v) => match v.parse::<u8>() {
                Ok(b @ 1..=2) => out.stop_bits = b,
                _ => problems.push(format!("stop_bits {v:?} is not 1 or 2")),
            },
            (k, _) => problems.push(format!(
                "unknown option {k:?} (known: baud, parity, data_bits, stop_bits)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_spellings_and_their_keys() {
        let cases = [
            ("127.0.0.1:502", "tcp://127.0.0.1:502"),
            ("tcp://meter.local:5020", "tcp://meter.local:5020"),
            ("[::1]:502", "tcp://[::1]:502"),
            ("rtutcp://10.0.0.5:4001", "rtutcp://10.0.0.5:4001"),
            ("rtu-over-tcp://10.0.0.5:4001", "rtutcp://10.0.0.5:4001"),
            ("rtu:///dev/ttyUSB0", "rtu:///dev/ttyUSB0"),
            (
                "rtu:///dev/ttyUSB0?baud=2400&parity=E&stop_bits=2",
                "rtu:///dev/ttyUSB0",
            ),
        ];
        for (input, key) in cases {
            let e = ModbusEndpoint::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(e.key(), key, "{input}");
            assert_eq!(ModbusEndpoint::parse(&e.to_string()), Ok(e.clone()), "{input}");
        }
        let Ok(ModbusEndpoint::Rtu(s)) = ModbusEndpoint::parse("rtu:///dev/ttyS1?baud=2400&parity=E") else {
            panic!("serial endpoint");
        };
        assert_eq!(
            (s.baud, s.parity, s.data_bits, s.stop_bits),
            (2400, Parity::Even, 8, 1)
        );
    }

    #[test]
    fn rejections_say_why() {
        let cases = [
            ("meter", "expected host:port"),
            ("meter:0", "expected host:port"),
            ("meter:70000", "expected host:port"),
            ("::1:502", "brackets"),
            ("udp://x:1", "unknown scheme"),
            ("rtu://ttyUSB0", "absolute device path"),
            ("rtu:///dev/ttyUSB0?baud=fast", "baud"),
            ("rtu:///dev/ttyUSB0?parity=X&data_bits=9", "data_bits"),
            ("rtu:///dev/ttyUSB0?speed=1", "unknown option"),
        ];
        for (input, want) in cases {
            let err = ModbusEndpoint::parse(input).expect_err(input);
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
