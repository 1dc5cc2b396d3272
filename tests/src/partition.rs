//! A TCP proxy the test controls, for network partitions between a service and the broker.
//!
//! [`Partition::start`] listens on a free loopback port and forwards every connection to `upstream`. While
//! [`Partition::cut`] is in force it forwards nothing in either direction and does not connect new clients
//! upstream, but closes nothing: bytes wait, as packets do on a real partition, and a client learns of it
//! only through its own timeouts (MQTT keep-alive). [`Partition::heal`] lets everything flow again; a
//! connection whose client gave up meanwhile is closed on both sides once its bytes move.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A controllable proxy in front of one upstream address; stops when dropped.
pub struct Partition {
    port: u16,
    cut: Arc<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl Partition {
    /// Starts forwarding from a free loopback port to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (tx, _) = watch::channel(false);
        let cut = Arc::new(tx);
        let c = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(forward(client, upstream, c.subscribe()));
            }
        });
        Ok(Self { port, cut, task })
    }

    /// The port clients connect to instead of the upstream's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on nothing passes, until [`Partition::heal`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Everything flows again.
    pub fn heal(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits while the partition is cut.
async fn passable(cut: &mut watch::Receiver<bool>) -> bool {
    cut.wait_for(|c| !*c).await.is_ok()
}

async fn forward(client: TcpStream, upstream: u16, mut cut: watch::Receiver<bool>) {
    if !passable(&mut cut).await {
        return;
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(pump(cr, sw, cut.clone()));
    let down = tokio::spawn(pump(sr, cw, cut));
    let _ = tokio::join!(up, down);
}

/// Copies `from` to `to`, holding each chunk while the partition is cut; ends when either side closes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if !passable(&mut cut).await {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Read during the cut? Hold it until the heal, as the network would.
        if !passable(&mut cut).await || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
