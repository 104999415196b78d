//! A failed engine is visible: after a write it cannot make durable (here the process's
//! file-size limit makes a WAL append fail with EFBIG), writes are refused, `/healthz` and
//! `/readyz` answer 503 with the reason (so Kubernetes restarts the pod, which reopens the
//! engine), and `shinydb_engine_failed` is 1.

use bson::doc;
use shinydb_proto::v1;

use crate::common::{Grpc, Server, ServerOptions, bson_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_engine_fails_its_probes_and_says_why() {
    // The shell ignores SIGXFSZ (kept across exec), so writing past the limit (a few MiB)
    // fails with EFBIG instead of killing the process.
    let server = Server::start(ServerOptions {
        launcher: vec![
            "sh".into(),
            "-c".into(),
            "trap '' XFSZ; ulimit -f 4096; exec \"$0\" \"$@\"".into(),
        ],
        ..ServerOptions::default()
    });
    assert_eq!(server.http_get("/healthz").0, 200);
    assert_eq!(server.http_get("/readyz").0, 200);
    let mut c = server.admin().await;
    c.create_store("app", "items").await;

    let pad = "x".repeat(64 << 10);
    let mut refused = None;
    for i in 0..400i64 {
        let r = c
            .docs
            .insert(v1::InsertRequest {
                space: "app".into(),
                store: "items".into(),
                documents: vec![bson_bytes(&doc! {"_id": i, "pad": &pad})],
            })
            .await;
        if let Err(e) = r {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("a write past the file-size limit is refused");
    assert!(!e.message().is_empty(), "{e}");

    for path in ["/healthz", "/readyz"] {
        let (code, body) = server.http_get(path);
        assert_eq!(code, 503, "{path}: {body}");
        assert!(body.contains("engine failed"), "{path}: {body}");
    }
    let (_, metrics) = server.http_get("/metrics");
    assert!(
        metrics.lines().any(|l| l == "shinydb_engine_failed 1"),
        "no shinydb_engine_failed 1 in:\n{metrics}"
    );
    let again = c
        .docs
        .insert(v1::InsertRequest {
            space: "app".into(),
            store: "items".into(),
            documents: vec![bson_bytes(&doc! {"_id": -1})],
        })
        .await
        .expect_err("a failed engine refuses writes");
    assert_eq!(again.code(), tonic::Code::Unavailable, "{again}");
}
