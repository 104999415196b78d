//! The unary services through the library: catalog (spaces, stores, indexes, store
//! statistics), users and roles (own password change, revoke, logout) and the server (info,
//! statistics without the system space, log level).

use crate::common::{Connect, server};
use shinydb_client::{bson::doc, proto};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_users_and_server_calls() {
    let s = server();
    let c = s.admin();
    c.create_space("inv").await.expect("space");
    c.create_store("inv", "parts").await.expect("store");
    c.create_store("inv", "bins").await.expect("store");
    let names = |v: Vec<proto::Store>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(c.list_stores("inv").await.expect("stores")),
        ["bins", "parts"]
    );
    let spaces: Vec<String> = c
        .list_spaces()
        .await
        .expect("spaces")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(spaces, ["inv"]);

    let parts = c.store("inv", "parts");
    parts
        .insert_many(&[doc! {"_id": 1, "sku": "a"}, doc! {"_id": 2, "sku": "b"}])
        .await
        .expect("insert");
    c.create_index("inv", "parts", "by_sku", &["sku"], true)
        .await
        .expect("index");
    let idx = c.list_indexes("inv", "parts").await.expect("indexes");
    assert_eq!(idx.len(), 1);
    assert!(idx[0].unique && idx[0].ready && idx[0].fields == ["sku"]);
    let st = c.store_stats("inv", "parts").await.expect("stats");
    assert_eq!(st.documents, 2);
    let e = parts.insert(doc! {"sku": "a"}).await.expect_err("unique");
    assert_eq!(e.code(), Code::AlreadyExists, "{e}");
    c.drop_index("inv", "parts", "by_sku")
        .await
        .expect("drop index");
    assert!(
        c.list_indexes("inv", "parts")
            .await
            .expect("indexes")
            .is_empty()
    );
    c.drop_store("inv", "bins").await.expect("drop store");
    let e = c.drop_space("inv", false).await.expect_err("not empty");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");

    let info = c.server_info().await.expect("info");
    assert_eq!(info.role, "standalone");
    assert!(info.tls);
    let stats = c.server_stats().await.expect("stats");
    assert_eq!(
        stats.documents, 2,
        "the system space's users are not counted"
    );
    assert_eq!(c.set_log_level("debug").await.expect("log level"), "debug");

    // A user changes its own password, loses a role, logs out and logs in again.
    c.create_user(
        "eve",
        "eve-password-1",
        vec![proto::Grant {
            role: proto::Role::ReadWrite as i32,
            space: Some("inv".into()),
        }],
    )
    .await
    .expect("user");
    let eve = s
        .builder()
        .password("eve", "eve-password-1")
        .connect()
        .await
        .expect("eve");
    eve.change_password("", "eve-password-1", "eve-password-2")
        .await
        .expect("own password");
    let e = s
        .builder()
        .password("eve", "eve-password-1")
        .connect()
        .await
        .expect_err("old password");
    assert_eq!(e.code(), Code::Unauthenticated);
    let eve = s
        .builder()
        .password("eve", "eve-password-2")
        .connect()
        .await
        .expect("new password");
    eve.store("inv", "parts")
        .update(1, doc! {"qty": 3}, &[])
        .await
        .expect("read_write");
    c.revoke_role("eve", proto::Role::ReadWrite, Some("inv"))
        .await
        .expect("revoke");
    let e = eve
        .store("inv", "parts")
        .get(1)
        .await
        .expect_err("no role left");
    assert_eq!(e.code(), Code::PermissionDenied, "{e}");
    c.grant_role("eve", proto::Role::ReadOnly, None)
        .await
        .expect("grant");
    eve.logout().await.expect("logout");
    // The next call logs in again by itself.
    assert!(
        eve.store("inv", "parts")
            .get(1)
            .await
            .expect("get")
            .is_some()
    );
    let users: Vec<String> = c
        .list_users()
        .await
        .expect("users")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(users, ["admin", "eve"]);
    c.drop_user("eve").await.expect("drop user");
    let e = s
        .builder()
        .password("eve", "eve-password-2")
        .connect()
        .await
        .expect_err("dropped");
    assert_eq!(e.code(), Code::Unauthenticated);
}
