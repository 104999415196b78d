//! A follower cut off for longer than its leader keeps the log for it
//! (`replication.max_retained_bytes`) seeds again by itself when it returns, and then has
//! the leader's data; a server whose data is another database is refused, not overwritten.

use std::time::Duration;

use bson::doc;

use crate::common::{
    Grpc, all_ids,
    replica::{self, Cluster},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_cut_off_past_the_retention_cap_seeds_again_by_itself() {
    let cluster = Cluster::new();
    let leader = cluster.leader(
        "  max_retained_bytes: 1MiB\n  heartbeat_ms: 200\nstorage:\n  memtable_size: 1MiB\n  \
             wal_segment_size: 1MiB\n",
    );
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", vec![doc! {"_id": 0_i64}]).await;
    let yaml = cluster.follower_yaml(&leader, "f1", "");
    let mut f = cluster.start(&yaml);
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    f.kill();

    // Far more than the cap, in many batches: checkpoints trim the log the follower needs.
    for i in 1..=40_i64 {
        let docs = (0..50)
            .map(|j| doc! {"_id": i * 1000 + j, "pad": "p".repeat(2000)})
            .collect();
        c.insert("app", "items", docs).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    cluster.restart_as(&mut f, &yaml);
    replica::caught_up(&f, &leader, Duration::from_secs(60)).await;
    let st = replica::status(&f).await;
    assert_eq!(st.seeds, 1, "it seeded once: {st:?}\n{}", f.log());
    assert!(f.log().contains("seeded from the leader"), "{}", f.log());
    let mut fc = f.admin().await;
    assert_eq!(
        all_ids(&mut fc, "app", "items").await,
        all_ids(&mut c, "app", "items").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_holding_another_database_is_refused_and_keeps_it() {
    let cluster = Cluster::new();
    let leader = cluster.leader("");
    // A standalone server with its own data, then configured to follow the leader.
    let mut other = cluster.start("");
    let mut oc = other.admin().await;
    oc.create_store("mine", "precious").await;
    oc.insert("mine", "precious", vec![doc! {"_id": 7_i64}])
        .await;
    let yaml = cluster.follower_yaml(&leader, "other", "");
    cluster.restart_as(&mut other, &yaml);
    let mut st = replica::status(&other).await;
    for _ in 0..100 {
        if st.state == "error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        st = replica::status(&other).await;
    }
    assert_eq!(st.state, "error", "{st:?}");
    assert!(st.last_error.contains("another database"), "{st:?}");
    let mut oc = other.admin().await;
    assert_eq!(all_ids(&mut oc, "mine", "precious").await, [7]);
}
