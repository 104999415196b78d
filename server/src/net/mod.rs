//! The listeners. gRPC: accepts TCP connections, sets `TCP_NODELAY` on each (tonic does not
//! when it is handed its own incoming stream, which costs a 40 ms delayed-ACK stall on small
//! responses), caps connections in all and per client address, closes idle ones, and runs TLS
//! handshakes concurrently so that a slow client never holds up the accept loop. HTTP
//! (`http_listener`): a connection cap and an idle timeout.
//!
//! Every gRPC connection also watches a kill switch: when the shutdown grace period is over, its
//! reads and writes fail, so hyper ends the connection (and releases the engine) even if the
//! client never closes it.

mod activity;
mod http_listener;
mod io;

use std::{collections::HashMap, io as stdio, net::IpAddr, sync::Arc, time::Duration};

use parking_lot::Mutex;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub use activity::{Activity, TrackRequests};
pub use http_listener::HttpListener;
use io::Io;
pub use io::ServerIo;

use crate::{
    metrics::Metrics,
    state::{PeerInfo, stopped},
    tls::ReloadingTls,
};

/// Listener settings.
pub struct Accept {
    /// TLS, when configured.
    pub tls: Option<Arc<ReloadingTls>>,
    /// Metrics to count connections in.
    pub metrics: Arc<Metrics>,
    /// Open connections at most.
    pub max_connections: u32,
    /// Open connections from one client address at most.
    pub max_connections_per_ip: u32,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Time a client has for its TLS handshake.
    pub handshake_timeout: Duration,
    /// Cancelled when the shutdown grace period is over: every connection's I/O fails.
    pub kill: CancellationToken,
}

/// Open connections per client address.
type PerIp = Arc<Mutex<HashMap<IpAddr, u32>>>;

/// A connection's place under the caps; given back when the connection ends.
pub struct Slot {
    metrics: Arc<Metrics>,
    per_ip: PerIp,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.connections.dec();
        let mut map = self.per_ip.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Takes a slot for a connection from `ip`, or says which cap is reached.
fn take_slot(accept: &Accept, per_ip: &PerIp, ip: IpAddr) -> Result<Slot, &'static str> {
    let m = &accept.metrics;
    if m.connections.get() >= i64::from(accept.max_connections) {
        return Err("network.max_connections");
    }
    {
        let mut map = per_ip.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= accept.max_connections_per_ip {
            return Err("network.max_connections_per_ip");
        }
        *n += 1;
    }
    m.connections.inc();
    m.connections_total.inc();
    Ok(Slot {
        metrics: Arc::clone(m),
        per_ip: Arc::clone(per_ip),
        ip,
    })
}

/// Accepts connections until `shutdown` turns true; yields them (handshaken) as a stream
/// for tonic.
pub fn incoming(
    listener: TcpListener,
    accept: Accept,
    mut shutdown: watch::Receiver<bool>,
) -> ReceiverStream<Result<ServerIo, stdio::Error>> {
    let (tx, rx) = mpsc::channel(128);
    let per_ip = PerIp::default();
    tokio::spawn(async move {
        loop {
            let (tcp, addr) = tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tx.closed() => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            if let Err(e) = tcp.set_nodelay(true) {
                debug!(error = %e, "setting TCP_NODELAY failed");
            }
            let slot = match take_slot(&accept, &per_ip, addr.ip()) {
                Ok(slot) => slot,
                Err(setting) => {
                    warn!(peer = %addr, "refusing a connection: {setting} reached");
                    continue;
                }
            };
            let peer = PeerInfo {
                addr,
                activity: Activity::new(),
            };
            let idle = accept.idle_timeout;
            match &accept.tls {
                None => {
                    let io = ServerIo::new(Io::Plain(tcp), peer, &accept.kill, idle, slot);
                    if tx.send(Ok(io)).await.is_err() {
                        break;
                    }
                }
                Some(tls) => {
                    let acceptor = tls.acceptor();
                    let tx = tx.clone();
                    let timeout = accept.handshake_timeout;
                    let metrics = Arc::clone(&accept.metrics);
                    let kill = accept.kill.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let io = Io::Tls(Box::new(stream));
                                let _ = tx
                                    .send(Ok(ServerIo::new(io, peer, &kill, idle, slot)))
                                    .await;
                            }
                            Ok(Err(e)) => {
                                metrics.handshake_failures.inc();
                                debug!(peer = %addr, error = %e, "TLS handshake failed");
                            }
                            Err(_) => {
                                metrics.handshake_failures.inc();
                                debug!(peer = %addr, "TLS handshake timed out");
                            }
                        }
                    });
                }
            }
        }
        debug!("stopped accepting connections");
    });
    ReceiverStream::new(rx)
}
