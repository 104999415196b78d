//! Graceful shutdown on SIGTERM: under load, the server stops accepting, finishes what is in
//! flight, checkpoints and exits 0, and no acknowledged write is lost; it does not wait past its
//! grace period for a client that never answers; a second SIGTERM exits at once.

use std::{
    io::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::common::{Grpc, Load, Server, ServerOptions, all_ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_write() {
    let mut server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    admin.create_store("load", "t").await;
    let load = Load::start(&server, 4, "load", "t").await;
    crate::common::eventually(Duration::from_secs(30), "writes under way", || {
        load.count() > 300
    });

    server.signal(15);
    let code = tokio::task::block_in_place(|| server.wait(Duration::from_secs(60)));
    assert_eq!(code, Some(0), "stderr:\n{}", server.log());
    assert!(
        server.log().contains("storage engine closed cleanly"),
        "{}",
        server.log()
    );
    let acked = load.finish(Duration::from_secs(10)).await;
    assert!(acked.len() > 300);

    let again = Server::start_in(
        Arc::clone(&server.dir),
        server.ca.clone(),
        None,
        ServerOptions::default(),
    );
    // A clean shutdown checkpointed: nothing is left to replay. (The log comes through its own
    // pipe, which may lag behind the listening line on a busy machine.)
    crate::common::eventually(Duration::from_secs(10), "the replay log line", || {
        again.log().contains("replayed=")
    });
    assert!(again.log().contains("replayed=0"), "{}", again.log());
    let mut c = again.admin().await;
    let stored = all_ids(&mut c, "load", "t").await;
    let missing: Vec<&i64> = acked
        .iter()
        .filter(|id| stored.binary_search(id).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// Opens a plaintext HTTP/2 connection that sends its preface and settings, then never reads or
/// answers again: a client that hangs.
fn hung_client(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("preface");
    s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).expect("settings");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_client_delays_shutdown_only_for_the_grace_period() {
    let mut server =
        Server::start(ServerOptions::plaintext().config("shutdown:\n  grace_seconds: 2\n"));
    let _hung = hung_client(server.grpc);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.signal(15);
    let code = server.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{}", server.log());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "waited for the hung client: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "but not past the grace period: {took:?}"
    );
    let log = server.log();
    assert!(log.contains("after the grace period"), "{log}");
    assert!(
        log.contains("storage engine closed cleanly")
            || log.contains("storage engine checkpointed"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once() {
    let mut server =
        Server::start(ServerOptions::plaintext().config("shutdown:\n  grace_seconds: 120\n"));
    let mut c = server.admin().await;
    c.create_store("s", "t").await;
    c.insert("s", "t", vec![crate::common::sample(1)]).await;
    let _hung = hung_client(server.grpc);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.signal(15);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server
            .child
            .as_mut()
            .expect("child")
            .try_wait()
            .expect("poll")
            .is_none(),
        "still draining"
    );
    let (status, body) = server.http_get("/readyz");
    assert_eq!((status, body.as_str()), (503, "shutting down\n"));
    let started = Instant::now();
    server.signal(15);
    let code = server.wait(Duration::from_secs(10));
    assert_eq!(code, Some(1));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(server.log().contains("second signal"), "{}", server.log());

    // The acknowledged write is still there (the WAL has it).
    let again = Server::start_in(
        Arc::clone(&server.dir),
        None,
        None,
        ServerOptions::plaintext(),
    );
    let mut c = again.admin().await;
    assert!(c.get("s", "t", crate::common::iid(1)).await.is_some());
}
