//! Wrong, malformed, missing and expired credentials are refused with UNAUTHENTICATED and a
//! message saying why; repeated failed logins are rate-limited per user and per address.

use std::time::Duration;

use crate::common::{ADMIN_PASSWORD, Grpc, Server, ServerOptions};
use shinydb_proto::v1::{self, users_client::UsersClient};
use tonic::{Code, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_and_wrong_credentials_are_refused() {
    let server = Server::start(ServerOptions::default());
    let channel = server.channel().await;
    let mut users = UsersClient::new(channel.clone());

    let e = users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("no credentials");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(
        e.message().contains("authorization: Bearer"),
        "{}",
        e.message()
    );

    for (header, why) in [
        ("Basic abc", "expected `Bearer <token>`"),
        ("Bearer nonsense", "not a ShinyDB token"),
        (
            "Bearer sdb_s_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "invalid session token",
        ),
        (
            "Bearer sdb_k_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "invalid or revoked API key",
        ),
    ] {
        let mut req = Request::new(v1::WhoAmIRequest {});
        req.metadata_mut()
            .insert("authorization", header.parse().expect("ascii"));
        let e = users.who_am_i(req).await.expect_err(header);
        assert_eq!(e.code(), Code::Unauthenticated, "{header}");
        assert!(e.message().contains(why), "{header}: {}", e.message());
    }

    // A tampered token (right id, wrong secret) is refused.
    let token = server.login("admin", ADMIN_PASSWORD).await.expect("login");
    let mut tampered = token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let mut c = server.clients(&tampered).await;
    let e = c
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("tampered");
    assert_eq!(e.code(), Code::Unauthenticated);

    // Wrong password and unknown user get the same answer.
    let wrong = server
        .login("admin", "not-the-password")
        .await
        .expect_err("wrong");
    let unknown = server
        .login("nobody", "not-the-password")
        .await
        .expect_err("unknown");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(wrong.message(), "invalid user name or password");

    // Health needs no credentials.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_api_keys_expire() {
    let server =
        Server::start(ServerOptions::default().config("auth:\n  session_lifetime_seconds: 1\n"));
    let token = server.login("admin", ADMIN_PASSWORD).await.expect("login");
    let mut c = server.clients(&token).await;
    c.users.who_am_i(v1::WhoAmIRequest {}).await.expect("fresh");
    let key = c
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: String::new(),
            description: "short-lived".into(),
            expires_in_seconds: 1,
        })
        .await
        .expect("key")
        .into_inner();
    let mut k = server.clients(&key.key).await;
    k.users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect("fresh key");

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let e = c
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("expired");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("expired"), "{}", e.message());
    let e = k
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("expired key");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("expired"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_rate_limited() {
    let server = Server::start(
        ServerOptions::default()
            .config("auth:\n  max_failed_logins: 3\n  failed_login_window_seconds: 2\n"),
    );
    for _ in 0..3 {
        let e = server.login("admin", "guess").await.expect_err("wrong");
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    // Locked out: even the right password is refused, and so is everyone from this address.
    let e = server
        .login("admin", ADMIN_PASSWORD)
        .await
        .expect_err("locked");
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message().contains("too many failed logins"),
        "{}",
        e.message()
    );
    let e = server
        .login("someone", "whatever-pass")
        .await
        .expect_err("address locked");
    assert_eq!(e.code(), Code::ResourceExhausted);

    let (_, metrics) = server.http_get("/metrics");
    assert!(
        metrics.contains("shinydb_failed_logins_total 3"),
        "{metrics}"
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    server
        .login("admin", ADMIN_PASSWORD)
        .await
        .expect("after the window");
}
