//! A TCP proxy on loopback that can cut its connections part-way: each connection is dropped
//! (both ways) once the server side has sent it a chosen number of bytes.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A running proxy to one address.
pub struct Proxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Cut each new connection after this many bytes from the server (0: never).
    cut_after: Arc<AtomicU64>,
    /// Connections it cut.
    cuts: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `to`, cutting nothing yet.
    pub async fn start(to: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let cut_after = Arc::new(AtomicU64::new(0));
        let cuts = Arc::new(AtomicU64::new(0));
        let (c, n) = (Arc::clone(&cut_after), Arc::clone(&cuts));
        let task = tokio::spawn(async move {
            let mut conn = 0u64;
            while let Ok((client, _)) = listener.accept().await {
                conn += 1;
                tokio::spawn(forward(client, to, conn, Arc::clone(&c), Arc::clone(&n)));
            }
        });
        Proxy {
            addr,
            cut_after,
            cuts,
            task,
        }
    }

    /// Cuts each connection once the server has sent it `bytes` to twice that (0: stops
    /// cutting); one that has had more already is cut at its next bytes.
    pub fn cut_after(&self, bytes: u64) {
        self.cut_after.store(bytes, Ordering::Relaxed);
    }

    /// How many connections it cut.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    client: TcpStream,
    to: SocketAddr,
    conn: u64,
    cut_after: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
) {
    let Ok(server) = TcpStream::connect(to).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
    };
    let down = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 16 << 10];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // Vary the cut point so that it falls at different places in the messages.
            let limit = match cut_after.load(Ordering::Relaxed) {
                0 => u64::MAX,
                l => l + (conn * 7919) % l,
            };
            let room = usize::try_from(limit.saturating_sub(sent)).unwrap_or(usize::MAX);
            let Some(chunk) = buf.get(..n.min(room)) else {
                return;
            };
            if cw.write_all(chunk).await.is_err() {
                return;
            }
            sent += chunk.len() as u64;
            if sent >= limit {
                cuts.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    };
    // Whichever direction ends first ends the connection, both ways.
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}
