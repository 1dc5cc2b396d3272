//! The server loop over a real socket (port 0): slow headers are cut off, the peer address reaches the
//! failed-authentication limit, and shutdown ends serving.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::Config;

/// Serves the hardening tests' town with `cfg` on a free port; returns its address, the stop token and the
/// server task.
async fn start(
    cfg: Config,
) -> (
    std::net::SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let mut state = crate::hardening_tests::state();
    state.configure(cfg.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            crate::serve(listener, state, &cfg, stop).await.expect("serves");
        }
    });
    (addr, stop, task)
}

/// Sends `raw` and reads until the server closes the connection (at most 10 s).
async fn exchange(addr: std::net::SocketAddr, raw: &str) -> String {
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.write_all(raw.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let (addr, stop, task) = start(Config {
        header_read_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let started = Instant::now();
    let answer = exchange(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
    let waited = started.elapsed();
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // A whole request is still served.
    let ok = exchange(
        addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops")
        .expect("no panic");
}

#[tokio::test]
async fn the_peer_address_reaches_the_failed_authentication_limit() {
    let (addr, stop, _task) = start(Config {
        auth_failure_burst: 1,
        ..Config::default()
    })
    .await;
    let call = |token: &str| {
        format!(
            "GET /api/v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
    };
    let wrong = exchange(addr, &call("guess")).await;
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    let refused = exchange(addr, &call("anna")).await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after:"), "{refused}");
    assert!(
        !refused.contains("guess") && !wrong.contains("guess"),
        "the token is never echoed"
    );
    stop.cancel();
}
