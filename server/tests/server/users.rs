//! Every Users RPC: login and logout, who-am-i, users, passwords, roles and API keys; users and
//! keys survive a restart, sessions do not.

use std::sync::Arc;

use crate::common::{ADMIN_PASSWORD, Grpc, Server, ServerOptions, sample};
use shinydb_proto::v1;
use tonic::Code;

fn grant(role: v1::Role, space: Option<&str>) -> v1::Grant {
    v1::Grant {
        role: role as i32,
        space: space.map(String::from),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_roles_passwords_and_api_keys() {
    let server = Server::start(ServerOptions::default());
    let mut admin = server.admin().await;
    admin.create_store("a", "t").await;
    admin.insert("a", "t", vec![sample(1)]).await;

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

    // Ann reads a but may not write until granted read_write; revoking takes effect at once.
    let ann_token = server.login("ann", "ann-password").await.expect("login");
    let mut ann = server.clients(&ann_token).await;
    assert!(ann.get("a", "t", crate::common::iid(1)).await.is_some());
    let write = |c: &mut crate::common::Clients| {
        let mut docs = c.docs.clone();
        async move {
            docs.insert(v1::InsertRequest {
                space: "a".into(),
                store: "t".into(),
                documents: vec![crate::common::bson_bytes(&bson::doc! {})],
            })
            .await
        }
    };
    assert_eq!(
        write(&mut ann).await.expect_err("ro").code(),
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
    write(&mut ann).await.expect("now allowed");
    admin
        .users
        .revoke_role(v1::RevokeRoleRequest {
            name: "ann".into(),
            grant: Some(grant(v1::Role::ReadWrite, Some("a"))),
        })
        .await
        .expect("revoke");
    assert_eq!(
        write(&mut ann).await.expect_err("revoked").code(),
        Code::PermissionDenied
    );
    let e = admin
        .users
        .revoke_role(v1::RevokeRoleRequest {
            name: "ann".into(),
            grant: Some(grant(v1::Role::Admin, None)),
        })
        .await
        .expect_err("not held");
    assert_eq!(e.code(), Code::NotFound);

    // Own password: needs the old one; other sessions end, this one stays.
    let other_session = server.login("ann", "ann-password").await.expect("login");
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
    // An admin sets another user's password without the old one.
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

    // API keys: created once with their secret, listed without it, usable, revocable.
    let ann_token = server
        .login("ann", "ann-third-password")
        .await
        .expect("login");
    let mut ann = server.clients(&ann_token).await;
    let key = ann
        .users
        .create_api_key(v1::CreateApiKeyRequest {
            user: String::new(),
            description: "laptop".into(),
            expires_in_seconds: 0,
        })
        .await
        .expect("key")
        .into_inner();
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
    let mut by_key = server.clients(&key.key).await;
    let who = by_key
        .users
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .expect("key works")
        .into_inner();
    assert_eq!((who.user.as_str(), who.method.as_str()), ("ann", "api_key"));
    let e = by_key
        .users
        .logout(v1::LogoutRequest {})
        .await
        .expect_err("not a session");
    assert_eq!(e.code(), Code::FailedPrecondition);
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

    // Logout ends the session.
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

    // An admin's key for ann; dropping ann ends her sessions and keys.
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
    let ann_token = server
        .login("ann", "ann-third-password")
        .await
        .expect("login");
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
