//! Constant-rate HTTP/1.1 load generator for `bench/api.sh` (no coordinated omission).
//!
//! Open loop: request `i` is due at `start + i / rate`, spread round-robin over `--connections` keep-alive
//! connections, one blocking OS thread each (`nanosleep` wakes within tens of µs; an async timer wheel has
//! 1 ms ticks, too coarse for a 2 ms target). Latency is measured from the request's *intended* send time,
//! so a slow answer that delays the next request on its connection is counted against the server, as in
//! wrk2. The service time (from the actual send) and the generator's send lag are reported too, to tell a
//! slow server from a late generator. `--rate 0` runs closed loop as fast as possible (the ceiling).
//!
//! ```text
//! cargo run --release -p zw-api --example loadgen -- --url http://127.0.0.1:8080/healthz \
//!     --rate 5000 --duration 10 --connections 50 --warmup 2 --header 'Authorization: Bearer …'
//! ```
//!
//! Prints one line of `key=value` pairs: achieved rate, status counts, latency percentiles in ms.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Command-line options.
struct Opts {
    host: String,
    path: String,
    headers: Vec<String>,
    rate: f64,
    duration: Duration,
    warmup: Duration,
    connections: usize,
}

/// What one connection measured.
#[derive(Default)]
struct Samples {
    /// Intended send time → full response, µs (requests due after the warm-up only).
    latency: Vec<u32>,
    /// Actual send → full response, µs.
    service: Vec<u32>,
    /// Intended → actual send, µs.
    lag: Vec<u32>,
    ok: u64,
    non_2xx: u64,
    errors: u64,
    last_body_len: usize,
}

fn parse_args() -> Result<Opts, String> {
    let mut url = None;
    let mut o = Opts {
        host: String::new(),
        path: String::new(),
        headers: Vec::new(),
        rate: 1000.0,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        connections: 20,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let secs = |s: String| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("bad seconds {s:?}"))
        };
        match a.as_str() {
            "--url" => url = Some(val()?),
            "--header" | "-H" => o.headers.push(val()?),
            "--rate" => o.rate = val()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--duration" => o.duration = secs(val()?)?,
            "--warmup" => o.warmup = secs(val()?)?,
            "--connections" | "-c" => {
                o.connections = val()?.parse().map_err(|e| format!("--connections: {e}"))?
            }
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    o.host = host.to_string();
    o.path = if path.is_empty() { "/".into() } else { path.into() };
    if o.connections == 0 || !o.rate.is_finite() || o.rate < 0.0 {
        return Err("--connections must be ≥ 1 and --rate ≥ 0".into());
    }
    Ok(o)
}

/// Reads one response; returns its status code and body length. Handles `Content-Length` bodies only
/// (every non-streaming axum response has one).
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..header_end]).map_err(|_| bad("non-UTF-8 header"))?;
    let status = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let len = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or_else(|| bad("no content-length"))?;
    while buf.len() < header_end + len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed in body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, len))
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// One connection's loop: requests `k, k + n, k + 2n, …` of the global schedule.
fn connection(o: &Opts, k: usize, start_gate: &Barrier, start: &std::sync::OnceLock<Instant>) -> Samples {
    let mut out = Samples::default();
    let mut req = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", o.path, o.host);
    for h in &o.headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let connect = || -> std::io::Result<TcpStream> {
        let s = TcpStream::connect(&o.host)?;
        s.set_nodelay(true)?;
        Ok(s)
    };
    let mut stream = connect().ok();
    start_gate.wait();
    let Some(&t0) = start.get() else {
        return out;
    };
    let end = t0 + o.warmup + o.duration;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut i = k as u64;
    loop {
        let due = if o.rate > 0.0 {
            t0 + Duration::from_secs_f64(i as f64 / o.rate)
        } else {
            Instant::now()
        };
        if due >= end {
            break;
        }
        i += o.connections as u64;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = Instant::now();
        if stream.is_none() {
            stream = connect().ok();
        }
        let result = match stream.as_mut() {
            Some(s) => s
                .write_all(req.as_bytes())
                .and_then(|()| read_response(s, &mut buf)),
            None => Err(std::io::Error::other("cannot connect")),
        };
        let done = Instant::now();
        if due < t0 + o.warmup {
            if result.is_err() {
                stream = None;
            }
            continue;
        }
        match result {
            Ok((status, len)) => {
                if (200..300).contains(&status) {
                    out.ok += 1;
                } else {
                    out.non_2xx += 1;
                }
                out.last_body_len = len;
                out.latency.push(micros(done - due));
                out.service.push(micros(done - sent));
                out.lag.push(micros(sent.saturating_duration_since(due)));
            }
            Err(_) => {
                out.errors += 1;
                stream = None;
            }
        }
    }
    out
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[idx.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let gate = Arc::new(Barrier::new(o.connections + 1));
    let start = Arc::new(std::sync::OnceLock::new());
    let threads: Vec<_> = (0..o.connections)
        .map(|k| {
            let (o, gate, start) = (o.clone(), gate.clone(), start.clone());
            std::thread::spawn(move || connection(&o, k, &gate, &start))
        })
        .collect();
    // Every connection is open before the schedule starts.
    let _ = start.set(Instant::now() + Duration::from_millis(50));
    gate.wait();
    let mut all = Samples::default();
    for t in threads {
        let Ok(s) = t.join() else {
            eprintln!("loadgen: a connection thread panicked");
            return ExitCode::FAILURE;
        };
        all.latency.extend(s.latency);
        all.service.extend(s.service);
        all.lag.extend(s.lag);
        all.ok += s.ok;
        all.non_2xx += s.non_2xx;
        all.errors += s.errors;
        all.last_body_len = all.last_body_len.max(s.last_body_len);
    }
    for v in [&mut all.latency, &mut all.service, &mut all.lag] {
        v.sort_unstable();
    }
    let n = all.ok + all.non_2xx;
    println!(
        "requests={n} rate={:.0} ok={} non_2xx={} errors={} body_bytes={} \
         p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} \
         service_p99_ms={:.3} send_lag_p99_ms={:.3}",
        n as f64 / o.duration.as_secs_f64(),
        all.ok,
        all.non_2xx,
        all.errors,
        all.last_body_len,
        pct(&all.latency, 50.0),
        pct(&all.latency, 90.0),
        pct(&all.latency, 99.0),
        pct(&all.latency, 99.9),
        pct(&all.latency, 100.0),
        pct(&all.service, 99.0),
        pct(&all.lag, 99.0),
    );
    if all.errors > 0 || all.non_2xx > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
