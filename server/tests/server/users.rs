//! Every Users RPC: login and logout, who-am-i, users, passwords, roles and API keys, one
//! behaviour per test, each on its own server; users and keys survive a restart, sessions do not.

use std::sync::Arc;

use crate::common::{
    ADMIN_PASSWORD, Clients, Grpc, Server, ServerOptions, bson_bytes, iid, sample,
};
use shinydb_proto::v1;
use tonic::{Code, Status};

/// A grant of `role` in `space` (`None`: every space).
fn grant(role: v1::Role, space: Option<&str>) -> v1::Grant {
    v1::Grant {
        role: role as i32,
        space: space.map(String::from),
    }
}

/// A server with space `a` (store `t` holding document 1) and user `ann` (password
/// `ann-password`, read-only in `a`); its admin's clients.
async fn with_ann() -> (Server, Clients) {
    let server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    admin.create_store("a", "t").await;
    admin.insert("a", "t", vec![sample(1)]).await;
    admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "ann".into(),
            password: "ann-password".into(),
            grants: vec![grant(v1::Role::ReadOnly, Some("a"))],
        })
        .await
        .expect("create");
    (server, admin)
}

/// Logs in as `ann` with `password`; her clients.
async fn ann(server: &Server, password: &str) -> Clients {
    let token = server.login("ann", password).await.expect("login");
    server.clients(&token).await
}

/// Inserts an empty document into `a.t` as `c`.
async fn write(c: &Clients) -> Result<tonic::Response<v1::InsertResponse>, Status> {
    let mut docs = c.docs.clone();
    docs.insert(v1::InsertRequest {
        space: "a".into(),
        store: "t".into(),
        documents: vec![bson_bytes(&bson::doc! {})],
    })
    .await
}

/// Ann creates an API key of her own, `laptop`, with the default lifetime.
async fn laptop_key(ann: &mut Clients) -> v1::CreateApiKeyResponse {
    ann.users
        .create_api_key(v1::CreateApiKeyRequest {
            user: String::new(),
            description: "laptop".into(),
            expires_in_seconds: 0,
        })
        .await
        .expect("key")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_am_i_names_the_caller_its_method_grants_and_expiry() {
    let server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    let me = admin
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect("whoami")
        .into_inner();
    assert_eq!(me.user, "admin");
    assert_eq!(me.method, "session");
    assert_eq!(me.grants, vec![grant(v1::Role::Admin, None)]);
    assert!(me.expires_at_ms > 0);
}

/// A user is created once; a duplicate name, a short password, a name with spaces and a grant
/// without a role are refused and create nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_user_refuses_duplicates_and_bad_names_passwords_and_roles() {
    let server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "ann".into(),
            password: "ann-password".into(),
            grants: vec![grant(v1::Role::ReadOnly, Some("a"))],
        })
        .await
        .expect("create");
    let e = admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "ann".into(),
            password: "ann-password".into(),
            grants: vec![],
        })
        .await
        .expect_err("exists");
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "bob".into(),
            password: "short".into(),
            grants: vec![],
        })
        .await
        .expect_err("short password");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("at least 8"), "{}", e.message());
    let e = admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "no spaces allowed".into(),
            password: "long-enough".into(),
            grants: vec![],
        })
        .await
        .expect_err("bad name");
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "carl".into(),
            password: "long-enough".into(),
            grants: vec![v1::Grant {
                role: 0,
                space: None,
            }],
        })
        .await
        .expect_err("no role");
    assert_eq!(e.code(), Code::InvalidArgument);

    let users = admin
        .users
        .list_users(v1::ListUsersRequest {})
        .await
        .expect("list")
        .into_inner();
    let names: Vec<&str> = users.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, vec!["admin", "ann"]);
}

/// Ann reads `a` but may not write until granted read_write; revoking takes effect at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granting_and_revoking_a_role_take_effect_at_once() {
    let (server, mut admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    assert!(ann.get("a", "t", iid(1)).await.is_some());
    assert_eq!(
        write(&ann).await.expect_err("ro").code(),
        Code::PermissionDenied
    );
    admin
        .users
        .grant_role(v1::GrantRoleRequest {
            name: "ann".into(),
            grant: Some(grant(v1::Role::ReadWrite, Some("a"))),
        })
        .await
        .expect("grant");
    write(&ann).await.expect("now allowed");
    admin
        .users
        .revoke_role(v1::RevokeRoleRequest {
            name: "ann".into(),
            grant: Some(grant(v1::Role::ReadWrite, Some("a"))),
        })
        .await
        .expect("revoke");
    assert_eq!(
        write(&ann).await.expect_err("revoked").code(),
        Code::PermissionDenied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_role_the_user_does_not_hold_is_not_found() {
    let (_server, mut admin) = with_ann().await;
    let e = admin
        .users
        .revoke_role(v1::RevokeRoleRequest {
            name: "ann".into(),
            grant: Some(grant(v1::Role::Admin, None)),
        })
        .await
        .expect_err("not held");
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_own_password_needs_the_old_one() {
    let (server, _admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    let e = ann
        .users
        .change_password(v1::ChangePasswordRequest {
            name: String::new(),
            old_password: "wrong-password".into(),
            new_password: "ann-new-password".into(),
        })
        .await
        .expect_err("wrong old");
    assert_eq!(e.code(), Code::PermissionDenied);
}

/// After a change of one's own password the session that made it stays, every other session
/// ends, and only the new password logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_own_password_ends_the_other_sessions_and_the_old_password() {
    let (server, _admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    let other_session = server.login("ann", "ann-password").await.expect("login");
    ann.users
        .change_password(v1::ChangePasswordRequest {
            name: String::new(),
            old_password: "ann-password".into(),
            new_password: "ann-new-password".into(),
        })
        .await
        .expect("change");
    ann.users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect("this session stays");
    let mut stale = server.clients(&other_session).await;
    let e = stale
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("ended");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert_eq!(
        server
            .login("ann", "ann-password")
            .await
            .expect_err("old")
            .code(),
        Code::Unauthenticated
    );
    server
        .login("ann", "ann-new-password")
        .await
        .expect("new password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_another_users_password_without_the_old_one() {
    let (server, mut admin) = with_ann().await;
    admin
        .users
        .change_password(v1::ChangePasswordRequest {
            name: "ann".into(),
            old_password: String::new(),
            new_password: "ann-third-password".into(),
        })
        .await
        .expect("admin sets");
    server
        .login("ann", "ann-third-password")
        .await
        .expect("third");
}

/// An API key's secret is in the answer that creates it and in no listing; every key expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_shown_once_and_listed_without_its_secret() {
    let (server, _admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    let key = laptop_key(&mut ann).await;
    assert!(key.key.starts_with("sdb_k_"));
    assert!(key.expires_at_ms > 0, "every key expires");
    let listed = ann
        .users
        .list_api_keys(v1::ListApiKeysRequest {
            user: String::new(),
        })
        .await
        .expect("list")
        .into_inner()
        .keys;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, key.id);
    assert_eq!(listed[0].description, "laptop");
    assert!(
        !format!("{listed:?}").contains(&key.key[6..]),
        "no secret in listings"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_authenticates_as_its_user_until_revoked() {
    let (server, _admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    let key = laptop_key(&mut ann).await;
    let mut by_key = server.clients(&key.key).await;
    let who = by_key
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect("key works")
        .into_inner();
    assert_eq!((who.user.as_str(), who.method.as_str()), ("ann", "api_key"));
    ann.users
        .revoke_api_key(v1::RevokeApiKeyRequest { id: key.id.clone() })
        .await
        .expect("revoke");
    let e = by_key
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("revoked");
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_is_not_a_session_and_cannot_log_out() {
    let (server, _admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    let key = laptop_key(&mut ann).await;
    let mut by_key = server.clients(&key.key).await;
    let e = by_key
        .users
        .logout(v1::LogoutRequest {})
        .await
        .expect_err("not a session");
    assert_eq!(e.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_ends_the_session() {
    let (server, _admin) = with_ann().await;
    let mut ann = ann(&server, "ann-password").await;
    ann.users
        .logout(v1::LogoutRequest {})
        .await
        .expect("logout");
    let e = ann
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("logged out");
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_and_lists_api_keys_of_other_users() {
    let (_server, mut admin) = with_ann().await;
    let key = admin
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: "ann".into(),
            description: "service".into(),
            expires_in_seconds: 3600,
        })
        .await
        .expect("key for ann")
        .into_inner();
    assert!(key.expires_at_ms > 0);
    let all = admin
        .users
        .list_api_keys(v1::ListApiKeysRequest { user: "*".into() })
        .await
        .expect("list all")
        .into_inner()
        .keys;
    assert_eq!(all.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_user_ends_their_sessions_and_api_keys() {
    let (server, mut admin) = with_ann().await;
    let key = admin
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: "ann".into(),
            description: "service".into(),
            expires_in_seconds: 3600,
        })
        .await
        .expect("key for ann")
        .into_inner();
    let ann_token = server.login("ann", "ann-password").await.expect("login");
    admin
        .users
        .drop_user(v1::DropUserRequest { name: "ann".into() })
        .await
        .expect("drop");
    for token in [ann_token, key.key] {
        let mut c = server.clients(&token).await;
        let e = c
            .users
            .who_am_i(v1::WhoAmIRequest {})
            .await
            .expect_err("gone");
        assert_eq!(e.code(), Code::Unauthenticated);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_oneself_or_a_user_that_does_not_exist_is_refused() {
    let server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    let e = admin
        .users
        .drop_user(v1::DropUserRequest {
            name: "admin".into(),
        })
        .await
        .expect_err("not oneself");
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = admin
        .users
        .drop_user(v1::DropUserRequest {
            name: "nobody".into(),
        })
        .await
        .expect_err("no such user");
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_keys_survive_a_restart_sessions_do_not() {
    let mut server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    admin
        .users
        .create_user(v1::CreateUserRequest {
            name: "dora".into(),
            password: "dora-password".into(),
            grants: vec![grant(v1::Role::ReadWrite, None)],
        })
        .await
        .expect("create");
    let key = admin
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: "dora".into(),
            description: String::new(),
            expires_in_seconds: 0,
        })
        .await
        .expect("key")
        .into_inner();
    let session = server.login("dora", "dora-password").await.expect("login");
    drop(admin);
    server.signal(15);
    assert_eq!(server.wait(std::time::Duration::from_secs(30)), Some(0));

    let dir = Arc::clone(&server.dir);
    let ca = server.ca.clone();
    let server = Server::start_in(dir, ca, None, ServerOptions::default());
    server
        .login("dora", "dora-password")
        .await
        .expect("user persisted");
    server
        .login("admin", ADMIN_PASSWORD)
        .await
        .expect("admin persisted");
    let mut by_key = server.clients(&key.key).await;
    let who = by_key
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect("key persisted")
        .into_inner();
    assert_eq!(who.grants, vec![grant(v1::Role::ReadWrite, None)]);
    let mut by_session = server.clients(&session).await;
    let e = by_session
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect_err("sessions end");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("log in again"), "{}", e.message());
}
