//! Epochs fence an old leader: when a follower of a newer epoch (promoted while the old leader
//! still ran) connects to it, the old leader stops taking writes, and the follower reports why
//! it cannot follow; nothing is applied from the older epoch.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::{
    Grpc, bson_bytes,
    replica::{self, Cluster},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_meeting_a_newer_epoch_stops_taking_writes() {
    let cluster = Cluster::new();
    let old = cluster.leader("");
    let mut c = old.admin().await;
    c.create_store("app", "items").await;
    let f = cluster.follower(&old, "f1");
    replica::caught_up(&f, &old, Duration::from_secs(30)).await;
    // Promoted while the old leader still runs (a split brain someone caused by hand).
    let p = replica::admin(&f)
        .await
        .promote(v1::PromoteRequest {})
        .await
        .expect("promote")
        .into_inner();
    assert_eq!(p.epoch, 2);
    // Told to follow the old leader, it opens a stream at epoch 2: the old leader demotes
    // itself and refuses.
    replica::admin(&f)
        .await
        .follow(v1::FollowRequest {
            leader: old.endpoint_uri(),
        })
        .await
        .expect("follow");
    let mut role = String::new();
    for _ in 0..200 {
        role = replica::status(&old).await.role;
        if role == "demoted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(role, "demoted", "{}", old.log());
    assert!(
        old.log().contains("a follower has a newer epoch"),
        "{}",
        old.log()
    );
    let e = c
        .docs
        .insert(v1::InsertRequest {
            space: "app".into(),
            store: "items".into(),
            documents: vec![bson_bytes(&doc! {"_id": 1_i64})],
        })
        .await
        .expect_err("a demoted leader takes no writes");
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
    // The follower applied nothing from the older epoch and says it cannot follow.
    let fs = replica::status(&f).await;
    assert_eq!((fs.epoch, fs.state.as_str()), (2, "error"), "{fs:?}");
    assert!(!fs.last_error.is_empty(), "{fs:?}");
}
