//! The HTTP port: /healthz, /readyz and /metrics (requests by method and code, latency
//! histograms, connections, engine statistics); the gRPC health service; server info, stats and
//! the run-time log level.

use crate::common::{Grpc, Server, ServerOptions, sample};
use shinydb_proto::v1;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_are_served() {
    let server = Server::start(ServerOptions::default());
    assert_eq!(server.http_get("/healthz"), (200, "ok\n".into()));
    assert_eq!(server.http_get("/readyz"), (200, "ready\n".into()));
    assert_eq!(server.http_get("/nothing").0, 404);

    let mut c = server.admin().await;
    c.create_store("m", "t").await;
    c.insert("m", "t", (0..7).map(sample).collect()).await;
    let _ = c.get("m", "t", crate::common::iid(1)).await;
    let _ = c
        .docs
        .get(v1::GetRequest {
            space: "m".into(),
            store: "missing".into(),
            id: Some(crate::common::iid(1)),
        })
        .await;

    let (status, text) = server.http_get("/metrics");
    assert_eq!(status, 200);
    for needle in [
        "shinydb_requests_total{code=\"OK\",method=\"Documents/Insert\"} 1",
        "shinydb_requests_total{code=\"OK\",method=\"Users/Login\"} 1",
        "shinydb_requests_total{code=\"NOT_FOUND\",method=\"Documents/Get\"} 1",
        "shinydb_request_duration_seconds_bucket{method=\"Documents/Get\",le=\"0.001\"}",
        "shinydb_request_duration_seconds_count{method=\"Documents/Insert\"} 1",
        // Seven documents plus the admin user in the system space.
        "shinydb_engine_documents 8",
        "shinydb_engine_wal_syncs",
        "shinydb_connections 1",
        "shinydb_sessions 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }

    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "shinydb.v1.Documents",
        "shinydb.v1.Pipeline",
        "shinydb.v1.Query",
    ] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_info_stats_and_log_level() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    let info = c
        .server
        .info(v1::InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.role, "standalone");
    assert!(info.tls);
    c.create_store("m", "t").await;
    c.insert("m", "t", (0..3).map(sample).collect()).await;
    let stats = c
        .server
        .stats(v1::StatsRequest {})
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(
        stats.documents, 3,
        "three documents: the system space (the admin user) is not counted"
    );
    assert!(stats.write_batches >= 1 && stats.wal_syncs >= 1);
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.sessions, 1);

    // Raising the level to debug makes failed requests show in the log.
    let r = c
        .server
        .set_log_level(v1::SetLogLevelRequest {
            filter: "shinydb_server=debug,info".into(),
        })
        .await
        .expect("set")
        .into_inner();
    assert_eq!(r.filter, "shinydb_server=debug,info");
    let _ = c
        .docs
        .get(v1::GetRequest {
            space: "m".into(),
            store: "nope".into(),
            id: Some(crate::common::iid(1)),
        })
        .await;
    crate::common::eventually(std::time::Duration::from_secs(5), "debug log line", || {
        server.log().contains("request failed")
    });
    let e = c
        .server
        .set_log_level(v1::SetLogLevelRequest {
            filter: "=[nonsense".into(),
        })
        .await
        .expect_err("bad filter");
    assert_eq!(e.code(), Code::InvalidArgument);
}
