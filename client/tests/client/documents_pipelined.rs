//! Document operations through the pipelined stream: every operation, concurrent callers in
//! flight together on one connection, scans page by page, atomic batches and metrics.

use crate::common::{Connect, server};
use futures::future::join_all;
use shinydb_client::{DocId, bson::doc, proto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_document_operation_over_the_pipeline() {
    let s = server();
    let c = s.admin();
    c.create_space("app").await.expect("space");
    c.create_store("app", "users").await.expect("store");
    let users = c.store("app", "users");

    let id = users
        .insert(doc! {"_id": "u1", "name": "Ada", "age": 36})
        .await
        .expect("insert");
    assert_eq!(id, DocId::from("u1"));
    let assigned = users.insert(doc! {"name": "no id"}).await.expect("insert");
    assert!(matches!(assigned, DocId::ObjectId(_)), "{assigned:?}");

    let got = users.get("u1").await.expect("get").expect("present");
    assert_eq!(got.get_str("name").expect("name"), "Ada");
    assert_eq!(users.get("nobody").await.expect("get"), None);

    let u = users
        .update("u1", doc! {"age": 37, "address.city": "London"}, &["name"])
        .await
        .expect("update");
    assert!(u.matched && u.modified);
    let got = users.get("u1").await.expect("get").expect("present");
    assert_eq!(got.get_i32("age").expect("age"), 37);
    assert!(got.get("name").is_none());
    assert_eq!(
        got.get_document("address")
            .expect("address")
            .get_str("city")
            .expect("city"),
        "London"
    );
    let missing = users
        .update("nobody", doc! {"x": 1}, &[])
        .await
        .expect("update");
    assert!(!missing.matched);

    assert!(
        users
            .replace("u1", doc! {"name": "Ada L."})
            .await
            .expect("replace")
    );
    let got = users.get("u1").await.expect("get").expect("present");
    assert_eq!(got.get_str("name").expect("name"), "Ada L.");
    assert!(got.get("age").is_none());

    // A duplicate insert is refused with AlreadyExists and changes nothing.
    let e = users
        .insert(doc! {"_id": "u1"})
        .await
        .expect_err("duplicate");
    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e}");

    assert!(users.delete("u1").await.expect("delete"));
    assert!(!users.delete("u1").await.expect("delete again"));
    assert_eq!(users.get("u1").await.expect("get"), None);

    // A store that does not exist is named in the error.
    let e = c
        .store("app", "nope")
        .get(1)
        .await
        .expect_err("no such store");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e}");
    assert!(e.to_string().contains("nope"), "{e}");

    // An atomic batch: all or none.
    let op = |d: shinydb_client::bson::Document| proto::WriteOp {
        op: Some(proto::write_op::Op::Insert(proto::InsertRequest {
            space: "app".into(),
            store: "users".into(),
            documents: vec![{
                let mut v = Vec::new();
                d.to_writer(&mut v).expect("bson");
                v.into()
            }],
        })),
    };
    let out = c
        .batch(vec![op(doc! {"_id": 100}), op(doc! {"_id": 101})])
        .await
        .expect("batch");
    assert_eq!(out.len(), 2);
    let e = c
        .batch(vec![op(doc! {"_id": 102}), op(doc! {"_id": 100})])
        .await
        .expect_err("duplicate in batch");
    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e}");
    assert_eq!(users.get(102).await.expect("get"), None, "nothing applied");

    let m = c.metrics();
    assert!(
        m.ops["insert"].ok >= 2 && m.ops["insert"].errors >= 1,
        "{m:?}"
    );
    assert!(m.ops["get"].ok >= 5, "{m:?}");
    assert!(m.ops["get"].p50 > std::time::Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_stream_and_scans_page() {
    let s = server();
    let c = s
        .builder()
        .password("admin", crate::common::ADMIN_PASSWORD)
        .connections(1)
        .build()
        .expect("client");
    c.create_space("bench").await.expect("space");
    c.create_store("bench", "kv").await.expect("store");
    let kv = c.store("bench", "kv");

    // 500 concurrent inserts from 500 tasks over one connection.
    let tasks = (0..500).map(|i| {
        let kv = kv.clone();
        tokio::spawn(async move { kv.insert(doc! {"_id": i, "v": format!("value {i}")}).await })
    });
    for r in join_all(tasks).await {
        r.expect("task").expect("insert");
    }
    let reads = join_all((0..500).map(|i| kv.get(i))).await;
    for (i, r) in reads.into_iter().enumerate() {
        let d = r.expect("get").expect("present");
        assert_eq!(d.get_str("v").expect("v"), format!("value {i}"));
    }

    // Scan in pages of 120 in _id order, then backwards.
    let mut start = None;
    let mut seen = Vec::new();
    loop {
        let page = kv.scan(start, 120).await.expect("scan");
        assert!(page.documents.len() <= 120);
        seen.extend(page.documents.iter().map(|d| d.get_i32("_id").expect("id")));
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, (0..500).collect::<Vec<_>>());
    let back = kv.scan_reverse(None, 3).await.expect("scan back");
    let ids: Vec<i32> = back
        .documents
        .iter()
        .map(|d| d.get_i32("_id").expect("id"))
        .collect();
    assert_eq!(ids, vec![499, 498, 497]);
    assert_eq!(back.next, Some(DocId::Int32(496)));
}
