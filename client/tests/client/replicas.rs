//! The client over a leader and its followers: writes sent to a follower reach the leader it
//! names (and stay there); reads spread over followers within a staleness bound, else go to
//! the leader; after a failover, writes find the new leader through the followers.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use shinydb_client::{Client, Error, RetryPolicy, bson::doc, proto};
use shinydb_testkit::{ADMIN_PASSWORD, Ca, Server, ServerOptions};

/// Servers sharing one CA and the replication user's key.
struct Cluster {
    ca: Arc<Ca>,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster {
            ca: Arc::new(Ca::new("ShinyDB client replication test CA")),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn credential(&self) -> PathBuf {
        self.dir.path().join("replication.key")
    }

    fn start(&self, yaml: &str) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        Server::start_in(
            dir,
            Some(Arc::clone(&self.ca)),
            None,
            ServerOptions::default().config(yaml),
        )
    }

    /// A leader with the replication user and its key in the credential file.
    async fn leader(&self) -> Server {
        let s = self.start("replication:\n  role: leader\n  name: leader\n");
        let admin = client(&s).build().expect("client");
        admin
            .create_user(
                "replicator",
                "replicator-password",
                vec![proto::Grant {
                    role: proto::Role::Replication as i32,
                    space: None,
                }],
            )
            .await
            .expect("create the replication user");
        let key = builder(&s)
            .password("replicator", "replicator-password")
            .build()
            .expect("client")
            .create_api_key("", "followers", None)
            .await
            .expect("api key")
            .key;
        std::fs::write(self.credential(), key).expect("write the key");
        s
    }

    fn follower(&self, leader: &Server, name: &str) -> Server {
        self.start(&format!(
            "replication:\n  role: follower\n  name: {name}\n  leader: {}\n  credential_file: {}\n  \
             ca_file: {}\n  heartbeat_ms: 200\n  leader_timeout_ms: 2000\n",
            leader.endpoint_uri(),
            self.credential().display(),
            leader.ca_path().display()
        ))
    }
}

fn builder(s: &Server) -> shinydb_client::ClientBuilder {
    let ca = s.ca.as_ref().expect("a TLS test server");
    Client::builder(&s.endpoint_uri())
        .ca_cert_pem(ca.pem.clone().into_bytes())
        .retry(RetryPolicy::never())
}

fn client(s: &Server) -> shinydb_client::ClientBuilder {
    builder(s).password("admin", ADMIN_PASSWORD)
}

/// Waits until `follower` streams and has every batch `leader` has.
async fn caught_up(follower: &Server, leader: &Server) {
    let (f, l) = (
        client(follower).build().expect("client"),
        client(leader).build().expect("client"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let want = l.replica_status().await.expect("leader status").last_seq;
        if let Ok(got) = f.replica_status().await
            && got.state == "streaming"
            && got.last_seq >= want
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the follower did not catch up; its log:\n{}",
            follower.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_sent_to_a_follower_go_to_the_leader_it_names() {
    let cluster = Cluster::new();
    let leader = cluster.leader().await;
    let l = client(&leader).build().expect("client");
    l.create_space("app").await.expect("space");
    l.create_store("app", "items").await.expect("store");
    let f = cluster.follower(&leader, "f1");
    caught_up(&f, &leader).await;

    let strict = client(&f).follow_leader(false).build().expect("client");
    let e = strict
        .store("app", "items")
        .insert(doc! {"_id": 1_i64})
        .await
        .expect_err("a follower refuses writes");
    match &e {
        Error::NotLeader { leader: named, .. } => assert_eq!(*named, leader.endpoint_uri()),
        other => panic!("expected NotLeader, got {other:?}"),
    }
    assert!(e.certainly_not_applied());

    let c = client(&f).build().expect("client");
    c.store("app", "items")
        .insert(doc! {"_id": 1_i64, "v": "one"})
        .await
        .expect("the write reaches the leader");
    assert_eq!(c.leader_endpoint(), leader.endpoint_uri());
    assert_eq!(c.endpoint(), f.endpoint_uri());
    // Later writes go straight there; replication control stays with the follower.
    c.store("app", "items")
        .insert(doc! {"_id": 2_i64})
        .await
        .expect("second write");
    assert_eq!(c.replica_status().await.expect("status").role, "follower");
    let got = l
        .store("app", "items")
        .get(1_i64)
        .await
        .expect("get")
        .expect("on the leader");
    assert_eq!(got.get_str("v").expect("v"), "one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_a_follower_within_the_staleness_bound_and_to_the_leader_past_it() {
    let cluster = Cluster::new();
    let mut leader = cluster.leader().await;
    let l = client(&leader).build().expect("client");
    l.create_space("app").await.expect("space");
    l.create_store("app", "items").await.expect("store");
    l.store("app", "items")
        .insert(doc! {"_id": 1_i64})
        .await
        .expect("insert");
    let f = cluster.follower(&leader, "f1");
    caught_up(&f, &leader).await;

    let f_uri = f.endpoint_uri();
    let bounded = client(&leader)
        .read_from_followers(&[f_uri.as_str()], Some(Duration::from_millis(1500)))
        .build()
        .expect("client");
    let unbounded = client(&leader)
        .read_from_followers(&[f_uri.as_str()], None)
        .build()
        .expect("client");
    for c in [&bounded, &unbounded] {
        assert!(
            c.store("app", "items")
                .get(1_i64)
                .await
                .expect("read")
                .is_some()
        );
    }

    // With the leader gone, only the follower can answer.
    leader.kill();
    for c in [&bounded, &unbounded] {
        assert!(
            c.store("app", "items")
                .get(1_i64)
                .await
                .expect("read from the follower")
                .is_some()
        );
        let out = c
            .query("app.items.count()")
            .await
            .expect("query on the follower");
        assert_eq!(out.to_json()["count"], 1, "{}", out.to_json());
    }
    // Past the bound the follower refuses (on the stream it opened while fresh), the read
    // goes to the leader, which is down.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let e = bounded
        .store("app", "items")
        .get(1_i64)
        .await
        .expect_err("too stale, and no leader");
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
    let e = bounded
        .query("app.items.count()")
        .await
        .expect_err("too stale, and no leader");
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
    assert!(
        unbounded
            .store("app", "items")
            .get(1_i64)
            .await
            .expect("no bound: the follower answers")
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_writes_find_the_new_leader_through_the_followers() {
    let cluster = Cluster::new();
    let mut leader = cluster.leader().await;
    let l = client(&leader).build().expect("client");
    l.create_space("app").await.expect("space");
    l.create_store("app", "items").await.expect("store");
    let (f1, f2) = (
        cluster.follower(&leader, "f1"),
        cluster.follower(&leader, "f2"),
    );
    caught_up(&f1, &leader).await;
    caught_up(&f2, &leader).await;
    let (f1_uri, f2_uri) = (f1.endpoint_uri(), f2.endpoint_uri());
    // f2 first: it refuses, naming f1 once f1 leads.
    let c = client(&leader)
        .read_from_followers(&[f2_uri.as_str(), f1_uri.as_str()], None)
        .build()
        .expect("client");
    c.store("app", "items")
        .insert(doc! {"_id": 1_i64})
        .await
        .expect("insert on the first leader");
    // Asynchronous replication: the insert must reach f1 before the leader dies (this test is
    // about where writes go, not about what asynchronous replication may lose).
    caught_up(&f1, &leader).await;

    leader.kill();
    client(&f1)
        .build()
        .expect("client")
        .promote()
        .await
        .expect("promote f1");
    client(&f2)
        .build()
        .expect("client")
        .follow(&f1_uri)
        .await
        .expect("f2 follows f1");
    // Let the client see its stream to the old leader break.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = c.store("app", "items");
    assert!(
        store
            .replace(1_i64, doc! {"_id": 1_i64, "after": true})
            .await
            .expect("the write finds the new leader")
    );
    assert_eq!(c.leader_endpoint(), f1_uri);
    store
        .insert(doc! {"_id": 3_i64})
        .await
        .expect("and stays there");
    let on_f1 = client(&f1).build().expect("client");
    let items = on_f1.store("app", "items");
    let one = items.get(1_i64).await.expect("get").expect("1 on f1");
    assert!(one.get_bool("after").expect("replaced"));
    assert!(items.get(3_i64).await.expect("get").is_some());
}
