//! Archiving follows the role: a follower does not archive (its log is its leader's), a
//! follower promoted to leader archives from then on without a restart, and a demoted leader
//! stops.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::{
    Clients, Grpc,
    replica::{self, Cluster},
    restore::{status, visible_seq},
};

/// Waits until the server's archive holds every batch it has.
async fn archived_all(c: &mut Clients) -> v1::BackupStatusResponse {
    let want = visible_seq(c).await;
    for _ in 0..300 {
        let s = status(c).await;
        if s.archiving && s.archived_seq >= want {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the archive did not reach batch {want}: {:?}",
        status(c).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_follower_archives_and_a_demoted_leader_stops() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let backup = format!(
        "backup:\n  store: file://{}/store\n  archive:\n    timeout_seconds: 1\n",
        bucket.path().display()
    );
    let cluster = Cluster::new();
    let mut leader = cluster.leader(&backup);
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    c.insert(
        "app",
        "items",
        (0..50_i64).map(|i| doc! {"_id": i}).collect(),
    )
    .await;
    let f = cluster.start(&cluster.follower_yaml(&leader, "f1", &backup));
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    let first = archived_all(&mut c).await;
    let mut fc = f.admin().await;
    assert!(!status(&mut fc).await.archiving, "a follower archives");

    leader.kill();
    replica::admin(&f)
        .await
        .promote(v1::PromoteRequest {})
        .await
        .expect("promote");
    fc.insert(
        "app",
        "items",
        (50..80_i64).map(|i| doc! {"_id": i}).collect(),
    )
    .await;
    let after = archived_all(&mut fc).await;
    assert!(
        after.archived_seq > first.archived_seq,
        "{first:?} then {after:?}"
    );
    assert_eq!(after.lineage, first.lineage, "the archive continues");
    assert!(after.gaps.is_empty(), "{after:?}");

    replica::admin(&f)
        .await
        .demote(v1::DemoteRequest {})
        .await
        .expect("demote");
    assert!(
        !status(&mut fc).await.archiving,
        "a demoted leader archives"
    );
}
