//! Synchronous acknowledgement (`sync_replicas: 1`) with no follower connected: `required`
//! refuses to acknowledge any write, user and API-key changes included, with an error saying
//! why once the request's deadline passes, and acknowledges as soon as a follower (joining
//! with the replica set's peer key) has it; `preferred` acknowledges at once and reports
//! itself degraded in status and metrics.

use std::time::Duration;

use shinydb_proto::v1;

use crate::common::{
    Grpc,
    replica::{self, Cluster},
};

/// `msg` with a 1.5 s deadline.
fn within_deadline<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(Duration::from_millis(1500));
    r
}

fn space(name: &str) -> v1::CreateSpaceRequest {
    v1::CreateSpaceRequest { name: name.into() }
}

fn reader(name: &str) -> v1::CreateUserRequest {
    v1::CreateUserRequest {
        name: name.into(),
        password: "reader-password".into(),
        grants: vec![v1::Grant {
            role: v1::Role::ReadOnly as i32,
            space: None,
        }],
    }
}

fn assert_unacknowledged(e: &tonic::Status) {
    assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e}");
    assert!(
        e.message().contains("not acknowledged") && e.message().contains("sync_replicas"),
        "the error says why: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_leader_acknowledges_nothing_until_a_follower_has_it() {
    let cluster = Cluster::new();
    let leader = cluster.leader("  sync_replicas: 1\n");
    let mut c = leader.admin().await;

    let e = c
        .catalog
        .create_space(within_deadline(space("early")))
        .await
        .expect_err("no follower has it");
    assert_unacknowledged(&e);
    // A user (and an API key) is a write like any other: acknowledged without a follower,
    // it could be lost in a failover, and a revoked key come back.
    let e = c
        .users
        .create_user(within_deadline(reader("early_reader")))
        .await
        .expect_err("no follower has the user");
    assert_unacknowledged(&e);
    let e = c
        .users
        .create_api_key(within_deadline(v1::CreateApiKeyRequest {
            user: String::new(),
            description: "app".into(),
            expires_in_seconds: 0,
        }))
        .await
        .expect_err("no follower has the key");
    assert_unacknowledged(&e);

    // The peer key needs no write, so the first follower can join; then writes go through,
    // and what the leader kept while unacknowledged reaches it.
    let f = cluster.follower(&leader, "f1");
    c.catalog
        .create_space(within_deadline(space("late")))
        .await
        .expect("a follower has it");
    c.users
        .create_user(within_deadline(reader("late_reader")))
        .await
        .expect("a follower has the user");
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    let mut fc = f.admin().await;
    let spaces: Vec<String> = fc
        .catalog
        .list_spaces(v1::ListSpacesRequest {})
        .await
        .expect("list")
        .into_inner()
        .spaces
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(spaces.contains(&"early".to_string()), "{spaces:?}");
    assert!(spaces.contains(&"late".to_string()), "{spaces:?}");
    for user in ["early_reader", "late_reader"] {
        f.login(user, "reader-password")
            .await
            .unwrap_or_else(|e| panic!("{user} logs in on the follower: {e}"));
    }
    assert_eq!(replica::status(&leader).await.sync_state, "sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preferred_leader_without_followers_acknowledges_and_says_it_is_degraded() {
    let cluster = Cluster::new();
    let leader = cluster.leader("  sync_replicas: 1\n  sync_durability: preferred\n");
    let mut c = leader.admin().await;
    c.catalog
        .create_space(within_deadline(space("app")))
        .await
        .expect("preferred goes on without followers");
    c.users
        .create_user(within_deadline(reader("reader")))
        .await
        .expect("users too");
    assert_eq!(replica::status(&leader).await.sync_state, "degraded");
    let (_, metrics) = leader.http_get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.trim() == "shinydb_replication_sync_degraded 1"),
        "{metrics}"
    );
}
