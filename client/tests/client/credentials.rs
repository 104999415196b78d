//! Wrong, expired and revoked credentials; API keys; a session that expires is renewed by
//! logging in again.

use std::time::Duration;

use crate::common::{ADMIN_PASSWORD, Ca, Connect, server, server_with};
use shinydb_client::{Error, RetryPolicy, bson::doc, proto};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_no_credentials_are_refused() {
    let s = server();
    let e = s
        .builder()
        .password("admin", "not-the-password")
        .connect()
        .await
        .expect_err("wrong password");
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    let e = s
        .builder()
        .password("nobody", "whatever-password")
        .connect()
        .await
        .expect_err("unknown user");
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    let anonymous = s.builder().build().expect("client");
    anonymous.ping().await.expect("ping needs no credentials");
    let e = anonymous.list_spaces().await.expect_err("no credentials");
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    let e = s
        .builder()
        .api_key("sdbk_not_a_real_key")
        .build()
        .expect("client")
        .store("a", "b")
        .get(1)
        .await
        .expect_err("bad API key");
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    // A client that trusts another CA cannot connect.
    let other = Ca::new("another CA");
    let e = shinydb_client::Client::builder(&s.endpoint_uri())
        .ca_cert_pem(other.pem.into_bytes())
        .password("admin", ADMIN_PASSWORD)
        .retry(RetryPolicy::never())
        .connect()
        .await
        .expect_err("untrusted server certificate");
    assert_eq!(e.code(), Code::Unavailable, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_log_in_again_and_expired_keys_fail() {
    let s = server_with("auth:\n  session_lifetime_seconds: 1\n");
    let c = s.admin();
    c.create_space("app").await.expect("space");
    c.create_store("app", "t").await.expect("store");
    let t = c.store("app", "t");
    t.insert(doc! {"_id": 1}).await.expect("insert");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // Both the unary path and the open pipelined stream notice the expiry and log in again.
    assert_eq!(c.list_stores("app").await.expect("list").len(), 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(t.get(1).await.expect("get after expiry").is_some());

    // API keys: one that works, one that expires, one revoked.
    let key = c
        .create_api_key("", "test key", None)
        .await
        .expect("api key");
    let by_key = s.builder().api_key(&key.key).build().expect("client");
    assert!(
        by_key
            .store("app", "t")
            .get(1)
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(by_key.whoami().await.expect("whoami").method, "api_key");
    let listed = c.list_api_keys("").await.expect("list keys");
    assert!(listed.iter().any(|k| k.id == key.id));
    c.revoke_api_key(&key.id).await.expect("revoke");
    let e = by_key
        .store("app", "t")
        .get(1)
        .await
        .expect_err("revoked key");
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");

    let short = c
        .create_api_key("", "short", Some(Duration::from_secs(1)))
        .await
        .expect("api key");
    let by_short = s.builder().api_key(&short.key).build().expect("client");
    by_short.whoami().await.expect("fresh key works");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = by_short.whoami().await.expect_err("expired key");
    assert!(
        matches!(&e, Error::Server { code: Code::Unauthenticated, message, .. } if message.contains("expired")),
        "{e}"
    );

    // A user with a read-only role cannot write.
    c.create_user(
        "reader",
        "reader-password",
        vec![proto::Grant {
            role: proto::Role::ReadOnly as i32,
            space: Some("app".into()),
        }],
    )
    .await
    .expect("user");
    let reader = s
        .builder()
        .password("reader", "reader-password")
        .connect()
        .await
        .expect("reader");
    assert!(
        reader
            .store("app", "t")
            .get(1)
            .await
            .expect("read")
            .is_some()
    );
    let e = reader
        .store("app", "t")
        .insert(doc! {"_id": 2})
        .await
        .expect_err("read-only");
    assert_eq!(e.code(), Code::PermissionDenied, "{e}");
}
