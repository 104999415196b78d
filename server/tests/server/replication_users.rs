//! A follower knows the users and API keys the leader's log brings it, while it runs: a user
//! created on the leader can log in on the follower, a key revoked there stops working here,
//! a dropped user's session here ends.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::{
    Clients, Grpc, iid,
    replica::{self, Cluster},
};

async fn read(c: &mut Clients) -> Result<(), tonic::Status> {
    c.docs
        .get(v1::GetRequest {
            space: "app".into(),
            store: "items".into(),
            id: Some(iid(1)),
        })
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_keys_changed_on_the_leader_take_effect_on_a_running_follower() {
    let cluster = Cluster::new();
    let leader = cluster.leader("");
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", vec![doc! {"_id": 1_i64}]).await;
    let f = cluster.follower(&leader, "f1");
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;

    // Made after the follower started.
    c.users
        .create_user(v1::CreateUserRequest {
            name: "late".into(),
            password: "late-user-password".into(),
            grants: vec![v1::Grant {
                role: v1::Role::ReadOnly as i32,
                space: None,
            }],
        })
        .await
        .expect("create user");
    let key = c
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: "late".into(),
            description: "reads".into(),
            expires_in_seconds: 0,
        })
        .await
        .expect("api key")
        .into_inner();
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;

    let session = f
        .login("late", "late-user-password")
        .await
        .expect("the new user logs in on the follower");
    let mut by_session = f.clients(&session).await;
    read(&mut by_session).await.expect("read with the session");
    let mut by_key = f.clients(&key.key).await;
    read(&mut by_key).await.expect("read with the key");

    c.users
        .revoke_api_key(v1::RevokeApiKeyRequest { id: key.id })
        .await
        .expect("revoke");
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    let e = read(&mut by_key).await.expect_err("a revoked key");
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    read(&mut by_session)
        .await
        .expect("the session still works");

    c.users
        .drop_user(v1::DropUserRequest {
            name: "late".into(),
        })
        .await
        .expect("drop user");
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    let e = read(&mut by_session).await.expect_err("a dropped user");
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
    let e = f
        .login("late", "late-user-password")
        .await
        .expect_err("a dropped user cannot log in");
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e}");
}
