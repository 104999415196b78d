//! Reads on a follower can bound how stale they accept it to be
//! (`x-shinydb-max-staleness-ms`): met while it streams, refused (naming the leader) once its
//! leader is gone for longer; a read without a bound is still served.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::{
    Grpc, iid,
    replica::{self, Cluster},
};

fn get(bound_ms: Option<&str>) -> tonic::Request<v1::GetRequest> {
    let mut r = tonic::Request::new(v1::GetRequest {
        space: "app".into(),
        store: "items".into(),
        id: Some(iid(1)),
    });
    if let Some(b) = bound_ms {
        r.metadata_mut()
            .insert("x-shinydb-max-staleness-ms", b.parse().expect("ascii"));
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_bounded_by_staleness_is_refused_once_the_follower_falls_behind() {
    let cluster = Cluster::new();
    let mut leader = cluster.leader("");
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", vec![doc! {"_id": 1_i64}]).await;
    let f = cluster.follower(&leader, "f1");
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    let mut fc = f.admin().await;
    // Heartbeats every 200 ms keep it within a 2 s bound.
    for _ in 0..5 {
        fc.docs.get(get(Some("2000"))).await.expect("fresh enough");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let e = fc
        .docs
        .get(get(Some("soon")))
        .await
        .expect_err("a bound must be a number");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");

    leader.kill();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let e = fc.docs.get(get(Some("1000"))).await.expect_err("too stale");
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
    assert!(e.message().contains("behind its leader"), "{e}");
    assert_eq!(
        e.metadata()
            .get("x-shinydb-leader")
            .and_then(|v| v.to_str().ok()),
        Some(leader.endpoint_uri().as_str())
    );
    // Without a bound, the follower still answers from what it has.
    let got = fc.docs.get(get(None)).await.expect("unbounded read");
    assert!(got.into_inner().document.is_some());
}
