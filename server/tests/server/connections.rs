//! Connection limits, seen from raw HTTP/2 and TCP clients: a request without credentials is
//! answered before its body arrives; connections past the per-address cap are closed; idle
//! connections are closed even if they ping, while a stream in flight keeps its connection and
//! clients reconnect on their own; old connections are asked to go away; the HTTP listener has a
//! connection cap and closes connections that make no progress.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use shinydb_proto::v1::{self, PipelineRequest, pipeline_request::Op};
use tokio::{io::AsyncReadExt, net::TcpStream, sync::mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::common::{ADMIN_PASSWORD, Grpc, Server, ServerOptions, eventually};

/// A plaintext server (raw HTTP/2 needs no TLS client) with extra network settings.
fn server(network: &str) -> Server {
    Server::start(ServerOptions::plaintext().config(&format!("network:\n{network}")))
}

/// A raw HTTP/2 connection: the request sender, and the task driving the connection (it ends
/// when the server closes the connection).
async fn h2(
    addr: SocketAddr,
) -> (
    h2::client::SendRequest<Bytes>,
    h2::PingPong,
    tokio::task::JoinHandle<()>,
) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (send, mut conn) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    let ping = conn.ping_pong().expect("ping_pong");
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (send, ping, task)
}

/// Pings every 250 ms until a ping fails; how long the connection lasted.
async fn ping_until_closed(mut ping: h2::PingPong, limit: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ping.ping(h2::Ping::opaque()).await.is_err() {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the connection was still open after {limit:?}");
}

/// Reads from a raw TCP connection: `Some(n)` bytes, or `None` at end of stream (or a reset)
/// within `wait`; panics if neither happens.
async fn read_some(tcp: &mut TcpStream, wait: Duration) -> Option<usize> {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(wait, tcp.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => None,
        Ok(Ok(n)) => Some(n),
        Err(_) => panic!("neither data nor end of stream within {wait:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_credentials_is_refused_before_its_body_arrives() {
    let server = Server::start(ServerOptions::plaintext());
    let (send, _ping, _task) = h2(server.grpc).await;
    let mut send = send.ready().await.expect("ready");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{}/shinydb.v1.Documents/Insert",
            server.grpc
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut body) = send.send_request(request, false).expect("send");
    // A message announced as 16 MiB, of which 1 KiB arrives and the rest never does.
    let mut start = vec![0u8];
    start.extend_from_slice(&(16u32 << 20).to_be_bytes());
    start.extend(std::iter::repeat_n(0u8, 1024));
    body.send_data(Bytes::from(start), false).expect("data");
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("no answer while the body was incomplete")
        .expect("response");
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    assert_eq!(status.as_deref(), Some("16"), "{:?}", response.headers());
    // Logging in needs no credentials and still works.
    server.login("admin", ADMIN_PASSWORD).await.expect("login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_per_address_cap_are_closed() {
    let server = server("  max_connections_per_ip: 2\n");
    let mut first = TcpStream::connect(server.grpc).await.expect("connect");
    let mut second = TcpStream::connect(server.grpc).await.expect("connect");
    // The server greets an accepted connection with its HTTP/2 settings.
    assert!(
        read_some(&mut first, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(
        read_some(&mut second, Duration::from_secs(5))
            .await
            .is_some()
    );
    let mut third = TcpStream::connect(server.grpc).await.expect("connect");
    assert_eq!(
        read_some(&mut third, Duration::from_secs(5)).await,
        None,
        "a third connection from one address was served"
    );
    eventually(Duration::from_secs(10), "the refusal in the log", || {
        server
            .log()
            .contains("network.max_connections_per_ip reached")
    });
    drop(first);
    eventually(Duration::from_secs(10), "a slot frees up", || {
        server
            .http_get("/metrics")
            .1
            .contains("shinydb_connections 1")
    });
    server
        .login("admin", ADMIN_PASSWORD)
        .await
        .expect("a new connection is served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_even_if_it_pings() {
    let server = server("  idle_timeout_seconds: 2\n");
    let (_send, ping, _task) = h2(server.grpc).await;
    let lasted = ping_until_closed(ping, Duration::from_secs(15)).await;
    assert!(
        lasted >= Duration::from_millis(1500),
        "closed after {lasted:?}"
    );

    // A client whose connection was closed while idle reconnects on its next call.
    let mut c = server.admin().await;
    let info = || v1::InfoRequest {};
    c.server.info(info()).await.expect("info");
    let accepted = |s: &Server| {
        let metrics = s.http_get("/metrics").1;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("shinydb_connections_accepted_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("shinydb_connections_accepted_total")
    };
    let before = accepted(&server);
    tokio::time::sleep(Duration::from_secs(4)).await;
    c.server
        .info(info())
        .await
        .expect("info after an idle close");
    assert!(accepted(&server) > before, "the client did not reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_in_flight_keeps_its_connection() {
    let server = server("  idle_timeout_seconds: 2\n");
    let mut c = server.admin().await;
    c.create_store("p", "t").await;
    let (tx, rx) = mpsc::channel(4);
    let mut responses = c
        .pipeline
        .stream(ReceiverStream::new(rx))
        .await
        .expect("open")
        .into_inner();
    // Longer than the idle timeout with the stream open and quiet.
    tokio::time::sleep(Duration::from_secs(4)).await;
    tx.send(PipelineRequest {
        id: 7,
        timeout_ms: 0,
        op: Some(Op::Get(v1::GetRequest {
            space: "p".into(),
            store: "t".into(),
            id: Some(crate::common::iid(1)),
        })),
    })
    .await
    .expect("send");
    let answer = responses
        .message()
        .await
        .expect("the stream survived")
        .expect("an answer");
    assert_eq!(answer.id, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_its_maximum_age_is_asked_to_go_away() {
    let server = server("  max_connection_age_seconds: 2\n  keepalive_timeout_seconds: 1\n");
    let (_send, ping, _task) = h2(server.grpc).await;
    let lasted = ping_until_closed(ping, Duration::from_secs(15)).await;
    assert!(
        lasted >= Duration::from_millis(1500),
        "closed after {lasted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_listener_caps_connections_and_closes_stalled_ones() {
    let capped = server("  http_max_connections: 2\n");
    let _first = TcpStream::connect(capped.http).await.expect("connect");
    let _second = TcpStream::connect(capped.http).await.expect("connect");
    let mut third = TcpStream::connect(capped.http).await.expect("connect");
    assert_eq!(
        read_some(&mut third, Duration::from_secs(5)).await,
        None,
        "a third HTTP connection was served"
    );

    let stalling = server("  http_idle_timeout_seconds: 2\n");
    let mut idle = TcpStream::connect(stalling.http).await.expect("connect");
    let start = Instant::now();
    assert_eq!(read_some(&mut idle, Duration::from_secs(15)).await, None);
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "closed after {:?}",
        start.elapsed()
    );
    // Requests still work (each on its own connection).
    assert_eq!(stalling.http_get("/healthz").0, 200);
}
