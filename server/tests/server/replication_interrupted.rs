//! A follower whose connection to the leader breaks part-way through messages, again and
//! again under load, reconnects from its own position each time and ends with the leader's
//! data: a cut batch is never half-applied.

use std::time::Duration;

use bson::doc;

use crate::common::{
    Grpc, Load, all_ids,
    proxy::Proxy,
    replica::{self, Cluster},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_mid_message_resumes_without_damage() {
    let cluster = Cluster::new();
    let leader = cluster.leader("");
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    let proxy = Proxy::start(leader.grpc).await;
    let through_proxy = format!("https://localhost:{}", proxy.addr.port());
    let yaml = cluster
        .follower_yaml(&leader, "f1", "")
        .replace(&leader.endpoint_uri(), &through_proxy);
    let f = cluster.start(&yaml);
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;

    // Messages of many large batches; each connection is cut after 40-80 KB from the leader.
    proxy.cut_after(40 << 10);
    let load = Load::start(&leader, 2, "app", "items").await;
    for round in 0..40_i64 {
        c.insert(
            "app",
            "items",
            (0..40_i64)
                .map(|i| doc! {"_id": -1 - (round * 100 + i), "pad": "p".repeat(1500)})
                .collect(),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let acked = load.stop().await;
    assert!(!acked.is_empty(), "the load wrote nothing");
    let cuts = proxy.cuts();
    assert!(cuts >= 3, "only {cuts} connections were cut");

    proxy.cut_after(0);
    replica::caught_up(&f, &leader, Duration::from_secs(60)).await;
    let want = all_ids(&mut c, "app", "items").await;
    let mut fc = f.admin().await;
    assert_eq!(
        all_ids(&mut fc, "app", "items").await,
        want,
        "the follower's data differs after {cuts} cuts"
    );
    let st = replica::status(&f).await;
    assert_eq!(st.state, "streaming", "{st:?}");
    assert_eq!(st.last_seq, replica::status(&leader).await.last_seq);
}
