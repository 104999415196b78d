//! Every Catalog RPC: spaces, stores and indexes are created, listed, described and dropped,
//! and the errors say what was wrong.

use crate::common::{Grpc, Server, ServerOptions, bson_bytes, sample};
use bson::doc;
use shinydb_proto::v1;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spaces_stores_and_indexes_have_a_full_lifecycle() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    let cat = &mut c.catalog;

    cat.create_space(v1::CreateSpaceRequest {
        name: "sales".into(),
    })
    .await
    .expect("create space");
    cat.create_space(v1::CreateSpaceRequest { name: "hr".into() })
        .await
        .expect("create space");
    let e = cat
        .create_space(v1::CreateSpaceRequest {
            name: "sales".into(),
        })
        .await
        .expect_err("exists");
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = cat
        .create_space(v1::CreateSpaceRequest {
            name: "bad name!".into(),
        })
        .await
        .expect_err("bad name");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("bad name!"), "{}", e.message());
    let e = cat
        .create_space(v1::CreateSpaceRequest {
            name: "_mine".into(),
        })
        .await
        .expect_err("reserved");
    assert_eq!(e.code(), Code::InvalidArgument);

    let spaces: Vec<String> = cat
        .list_spaces(v1::ListSpacesRequest {})
        .await
        .expect("list")
        .into_inner()
        .spaces
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(spaces, vec!["hr", "sales"], "system spaces are hidden");

    cat.create_store(v1::CreateStoreRequest {
        space: "sales".into(),
        name: "orders".into(),
    })
    .await
    .expect("create store");
    cat.create_store(v1::CreateStoreRequest {
        space: "sales".into(),
        name: "customers".into(),
    })
    .await
    .expect("create store");
    let e = cat
        .create_store(v1::CreateStoreRequest {
            space: "nowhere".into(),
            name: "x".into(),
        })
        .await
        .expect_err("no space");
    assert_eq!(e.code(), Code::NotFound);
    let stores: Vec<String> = cat
        .list_stores(v1::ListStoresRequest {
            space: "sales".into(),
        })
        .await
        .expect("list")
        .into_inner()
        .stores
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(stores, vec!["customers", "orders"]);

    c.insert("sales", "orders", (0..5).map(sample).collect())
        .await;
    let cat = &mut c.catalog;
    cat.create_index(v1::CreateIndexRequest {
        space: "sales".into(),
        store: "orders".into(),
        name: "by_name".into(),
        fields: vec!["name".into()],
        unique: true,
    })
    .await
    .expect("create index");
    let e = cat
        .create_index(v1::CreateIndexRequest {
            space: "sales".into(),
            store: "orders".into(),
            name: "empty".into(),
            fields: vec![],
            unique: false,
        })
        .await
        .expect_err("no fields");
    assert_eq!(e.code(), Code::InvalidArgument);
    let idx = cat
        .list_indexes(v1::ListIndexesRequest {
            space: "sales".into(),
            store: "orders".into(),
        })
        .await
        .expect("list")
        .into_inner()
        .indexes;
    assert_eq!(idx.len(), 1);
    assert_eq!(idx[0].name, "by_name");
    assert!(idx[0].unique && idx[0].ready);

    // The unique index refuses a duplicate name.
    let e = c
        .docs
        .insert(v1::InsertRequest {
            space: "sales".into(),
            store: "orders".into(),
            documents: vec![bson_bytes(&doc! {"_id": 100, "name": "item 1"})],
        })
        .await
        .expect_err("unique");
    assert_eq!(e.code(), Code::AlreadyExists);
    assert!(e.message().contains("by_name"), "{}", e.message());

    let cat = &mut c.catalog;
    let stats = cat
        .store_stats(v1::StoreStatsRequest {
            space: "sales".into(),
            store: "orders".into(),
        })
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(stats.documents, 5);
    assert_eq!(stats.store.expect("store").name, "orders");
    assert_eq!(stats.indexes.len(), 1);

    cat.drop_index(v1::DropIndexRequest {
        space: "sales".into(),
        store: "orders".into(),
        name: "by_name".into(),
    })
    .await
    .expect("drop index");
    let e = cat
        .drop_index(v1::DropIndexRequest {
            space: "sales".into(),
            store: "orders".into(),
            name: "by_name".into(),
        })
        .await
        .expect_err("gone");
    assert_eq!(e.code(), Code::NotFound);

    cat.drop_store(v1::DropStoreRequest {
        space: "sales".into(),
        name: "customers".into(),
    })
    .await
    .expect("drop store");
    let e = cat
        .drop_space(v1::DropSpaceRequest {
            name: "sales".into(),
            cascade: false,
        })
        .await
        .expect_err("not empty");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("cascade"), "{}", e.message());
    cat.drop_space(v1::DropSpaceRequest {
        name: "sales".into(),
        cascade: true,
    })
    .await
    .expect("drop space");
    let e = cat
        .list_stores(v1::ListStoresRequest {
            space: "sales".into(),
        })
        .await
        .expect_err("gone");
    assert_eq!(e.code(), Code::NotFound);
    let e = cat
        .drop_space(v1::DropSpaceRequest {
            name: "_system".into(),
            cascade: true,
        })
        .await
        .expect_err("system");
    assert_eq!(e.code(), Code::PermissionDenied);
}
