//! API keys do not outlive their limits: a key asked for without an expiry gets the longest
//! lifetime allowed (`auth.max_api_key_lifetime_seconds`), a longer one is refused naming the
//! setting, and a password change revokes the user's keys while other users' keys keep working.

use std::time::Duration;

use shinydb_proto::v1;
use tonic::Code;

use crate::common::{Clients, Grpc, Server, ServerOptions};

async fn create_kim(admin: &mut Clients) {
    admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "kim".into(),
            password: "kim-password".into(),
            grants: vec![v1::Grant {
                role: v1::Role::ReadWrite as i32,
                space: None,
            }],
        })
        .await
        .expect("create kim");
}

async fn key_for(
    admin: &mut Clients,
    user: &str,
    seconds: u64,
) -> Result<v1::CreateApiKeyResponse, tonic::Status> {
    admin
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: user.into(),
            description: String::new(),
            expires_in_seconds: seconds,
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn who(server: &Server, key: &str) -> Result<String, tonic::Status> {
    let mut c = server.clients(key).await;
    c.users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .map(|r| r.into_inner().user)
}

fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_an_expiry_lasts_the_longest_allowed_lifetime() {
    let server = Server::start(
        ServerOptions::default().config("auth:\n  max_api_key_lifetime_seconds: 3\n"),
    );
    let mut admin = server.admin().await;
    create_kim(&mut admin).await;
    let key = key_for(&mut admin, "kim", 0).await.expect("key");
    let left = key.expires_at_ms - now_ms();
    assert!((1_000..=3_500).contains(&left), "expires in {left} ms");
    assert_eq!(
        who(&server, &key.key).await.expect("a fresh key works"),
        "kim"
    );

    let refused = key_for(&mut admin, "kim", 10)
        .await
        .expect_err("10 s > 3 s");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused}");
    assert!(
        refused
            .message()
            .contains("auth.max_api_key_lifetime_seconds"),
        "{refused}"
    );

    tokio::time::sleep(Duration::from_millis(3_600)).await;
    let expired = who(&server, &key.key).await.expect_err("an expired key");
    assert_eq!(expired.code(), Code::Unauthenticated, "{expired}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_revokes_the_users_keys() {
    let server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    create_kim(&mut admin).await;
    let kims = key_for(&mut admin, "kim", 0).await.expect("kim's key");
    let admins = key_for(&mut admin, "", 0).await.expect("admin's key");
    assert_eq!(
        who(&server, &kims.key).await.expect("kim's key works"),
        "kim"
    );

    let changed = admin
        .users
        .change_password(v1::ChangePasswordRequest {
            name: "kim".into(),
            old_password: String::new(),
            new_password: "kim-new-password".into(),
        })
        .await
        .expect("change")
        .into_inner();
    assert_eq!(changed.revoked_api_keys, 1);
    let refused = who(&server, &kims.key).await.expect_err("kim's old key");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert_eq!(
        who(&server, &admins.key).await.expect("admin's key"),
        "admin"
    );
    let listed = admin
        .users
        .list_api_keys(v1::ListApiKeysRequest { user: "kim".into() })
        .await
        .expect("list")
        .into_inner();
    assert!(listed.keys.is_empty(), "{:?}", listed.keys);
}
