//! Replication: two followers seed from a leader, stream its log under a mixed load and end
//! with the leader's data; writes to a follower are refused with the leader's name; the log is
//! refused to a client without the replication role; a restarted follower resumes from its
//! position.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::{
    Grpc, Load, all_ids, bson_bytes,
    replica::{self, Cluster},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_seed_stream_and_end_with_the_leaders_data() {
    let cluster = Cluster::new();
    let leader = cluster.leader("");
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    c.insert(
        "app",
        "items",
        (0..500_i64)
            .map(|i| doc! {"_id": i, "pad": "x".repeat(300)})
            .collect(),
    )
    .await;
    // Both seed from the leader before they serve.
    let f1 = cluster.follower(&leader, "f1");
    let mut f2 = cluster.follower(&leader, "f2");

    // A mixed load: inserts on unary calls and a pipelined stream, updates and deletes.
    let load = Load::start(&leader, 4, "app", "items").await;
    for i in 0..200_i64 {
        c.docs
            .delete(v1::DeleteRequest {
                space: "app".into(),
                store: "items".into(),
                id: Some(crate::common::iid(i)),
            })
            .await
            .expect("delete");
        if i == 100 {
            // Killed and started again mid-load: it resumes from its position.
            f2.restart();
        }
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let acked = load.stop().await;
    assert!(
        acked.len() > 100,
        "the load wrote too little: {}",
        acked.len()
    );

    for f in [&f1, &f2] {
        replica::caught_up(f, &leader, Duration::from_secs(30)).await;
    }
    let want = all_ids(&mut c, "app", "items").await;
    for f in [&f1, &f2] {
        let mut fc = f.admin().await;
        assert_eq!(
            all_ids(&mut fc, "app", "items").await,
            want,
            "a follower's data differs"
        );
    }
    let st = replica::status(&leader).await;
    assert_eq!(st.role, "leader");
    assert_eq!(st.epoch, 1);
    let mut names: Vec<&str> = st.followers.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["f1", "f2"], "{st:?}");
    assert!(
        st.followers.iter().all(|f| f.durable_seq == st.last_seq),
        "{st:?}"
    );

    // A write to a follower is refused, naming the leader.
    let mut fc = f1.admin().await;
    let e = fc
        .docs
        .insert(v1::InsertRequest {
            space: "app".into(),
            store: "items".into(),
            documents: vec![bson_bytes(&doc! {"_id": -1})],
        })
        .await
        .expect_err("a follower takes no writes");
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e}");
    assert_eq!(
        e.metadata()
            .get("x-shinydb-leader")
            .and_then(|v| v.to_str().ok()),
        Some(leader.endpoint_uri().as_str()),
        "{e}"
    );
    assert!(e.message().contains(&leader.endpoint_uri()), "{e}");
    let fs = replica::status(&f1).await;
    assert_eq!(
        (fs.role.as_str(), fs.state.as_str()),
        ("follower", "streaming")
    );
    assert_eq!(fs.lineage, st.lineage);
    assert_eq!(fs.epoch, 1);

    // A user without the replication role cannot read the log.
    c.users
        .create_user(v1::CreateUserRequest {
            name: "reader".into(),
            password: "reader-password".into(),
            grants: vec![v1::Grant {
                role: v1::Role::ReadOnly as i32,
                space: None,
            }],
        })
        .await
        .expect("user");
    let token = leader
        .login("reader", "reader-password")
        .await
        .expect("login");
    let b = crate::common::Bearer(format!("Bearer {token}").parse().expect("ascii"));
    let mut rc = v1::replication_client::ReplicationClient::new(
        tonic::service::interceptor::InterceptedService::new(leader.channel().await, b),
    );
    let e = rc
        .snapshot(v1::SnapshotRequest {})
        .await
        .expect_err("no snapshot without the role");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e}");
}
