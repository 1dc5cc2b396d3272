//! The HTTP/1 server loop: accepts connections on an already-bound listener and serves the router on each,
//! until shutdown.
//!
//! It is a small replacement for `axum::serve`, which sets no header-read timeout: here hyper gets a timer
//! and `api.header_read_timeout`, so a client that trickles its headers (slow loris) is cut off. Each
//! request carries its peer address (`ConnectInfo<SocketAddr>`) for the failed-authentication limit. On
//! shutdown the listener closes and open connections get `api.request_timeout` to finish their answers;
//! live streams still open then are cut.
//!
//! With `[api.tls]` ([`crate::tls`]) each accepted connection first completes a TLS handshake, within the
//! header-read timeout, in its own task (a slow handshake never holds up accepting), and every answer gets
//! the `Strict-Transport-Security` header. A failed handshake is logged at debug level and counts nowhere
//! else: it never reaches the router.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use crate::tls::Tls;

/// Serves `router` on `listener` until `shutdown`, over TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    grace: Duration,
    tls: Option<Tls>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(addr = %listener.local_addr()?, scheme, "API listening.");
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "Failed to accept a connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let hsts = tls.as_ref().map(|t| t.hsts.clone());
        let svc = router
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.map(axum::body::Body::new)
            })
            .map_response(move |mut resp: axum::response::Response| {
                if let Some(v) = &hsts {
                    resp.headers_mut().insert(STRICT_TRANSPORT_SECURITY, v.clone());
                }
                resp
            });
        let http = http.clone();
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        tokio::spawn(async move {
            let svc = TowerToHyperService::new(svc);
            let result = match acceptor {
                None => {
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), svc))
                        .await
                }
                Some(acceptor) => {
                    let stream =
                        match tokio::time::timeout(header_read_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                debug!(%peer, error = %e, "TLS handshake failed.");
                                return;
                            }
                            Err(_) => {
                                debug!(%peer, "TLS handshake timed out.");
                                return;
                            }
                        };
                    watcher
                        .watch(http.serve_connection(TokioIo::new(stream), svc))
                        .await
                }
            };
            if let Err(e) = result {
                debug!(%peer, error = %e, "Connection ended with an error.");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        info!("Connections still open after the grace period (live streams) were closed.");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
