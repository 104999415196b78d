//! Every Documents RPC against the real server over TLS: insert, get, update, replace, delete,
//! atomic batch and scan, with their results and their errors.

use crate::common::{Grpc, Server, ServerOptions, bson_bytes, doc_of, iid, sample, sid};
use bson::{Bson, doc};
use shinydb_proto::v1::{self, write_op::Op, write_outcome::Outcome};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_round_trip_through_every_rpc() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("shop", "items").await;

    // Insert: given ids and a generated ObjectId.
    let ids = c
        .insert(
            "shop",
            "items",
            vec![sample(1), sample(2), doc! {"name": "no id"}],
        )
        .await;
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], iid(1));
    assert!(matches!(ids[2].kind, Some(v1::id::Kind::ObjectId(ref b)) if b.len() == 12));
    let generated = c
        .get("shop", "items", ids[2].clone())
        .await
        .expect("stored");
    assert_eq!(generated.get_str("name").expect("name"), "no id");

    // Get: present and absent.
    let one = c.get("shop", "items", iid(1)).await.expect("found");
    assert_eq!(one.get_str("name").expect("name"), "item 1");
    assert!(c.get("shop", "items", iid(99)).await.is_none());

    // Update: set and unset.
    let up = c
        .docs
        .update(v1::UpdateRequest {
            space: "shop".into(),
            store: "items".into(),
            id: ids.first().cloned(),
            set: bson_bytes(&doc! {"price": 9.5, "tags.first": "x"}),
            unset: vec!["n".into()],
        })
        .await
        .expect("update")
        .into_inner();
    assert!(up.matched && up.modified);
    let one = c.get("shop", "items", ids[0].clone()).await.expect("found");
    assert_eq!(one.get_f64("price").expect("price"), 9.5);
    assert!(one.get("n").is_none());
    assert_eq!(
        one.get_document("tags")
            .expect("tags")
            .get_str("first")
            .expect("first"),
        "x"
    );
    let missing = c
        .docs
        .update(v1::UpdateRequest {
            space: "shop".into(),
            store: "items".into(),
            id: Some(iid(404)),
            set: bson_bytes(&doc! {"a": 1}),
            unset: vec![],
        })
        .await
        .expect("update")
        .into_inner();
    assert!(!missing.matched);

    // Replace.
    let rep = c
        .docs
        .replace(v1::ReplaceRequest {
            space: "shop".into(),
            store: "items".into(),
            id: ids.get(1).cloned(),
            document: bson_bytes(&doc! {"name": "replaced"}),
        })
        .await
        .expect("replace")
        .into_inner();
    assert!(rep.replaced);
    let two = c.get("shop", "items", ids[1].clone()).await.expect("found");
    assert_eq!(two.get_str("name").expect("name"), "replaced");
    assert_eq!(two.get("_id"), Some(&Bson::Int64(2)));

    // Delete.
    let del = c
        .docs
        .delete(v1::DeleteRequest {
            space: "shop".into(),
            store: "items".into(),
            id: ids.get(1).cloned(),
        })
        .await
        .expect("delete")
        .into_inner();
    assert!(del.deleted);
    assert!(c.get("shop", "items", ids[1].clone()).await.is_none());

    // Batch: all outcomes, in order.
    let ins = |d: bson::Document| v1::WriteOp {
        op: Some(Op::Insert(v1::InsertRequest {
            space: "shop".into(),
            store: "items".into(),
            documents: vec![bson_bytes(&d)],
        })),
    };
    let out = c
        .docs
        .batch(v1::BatchRequest {
            ops: vec![
                ins(doc! {"_id": "a", "v": 1}),
                ins(doc! {"_id": "b", "v": 2}),
                v1::WriteOp {
                    op: Some(Op::Delete(v1::DeleteRequest {
                        space: "shop".into(),
                        store: "items".into(),
                        id: Some(sid("a")),
                    })),
                },
            ],
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(out.outcomes.len(), 3);
    assert_eq!(out.outcomes[0].outcome, Some(Outcome::Inserted(sid("a"))));
    assert_eq!(out.outcomes[2].outcome, Some(Outcome::Deleted(true)));
    assert!(c.get("shop", "items", sid("a")).await.is_none());
    assert!(c.get("shop", "items", sid("b")).await.is_some());

    // A failing batch applies nothing: the duplicate _id refuses the whole batch.
    let err = c
        .docs
        .batch(v1::BatchRequest {
            ops: vec![ins(doc! {"_id": "c"}), ins(doc! {"_id": "b"})],
        })
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists, "{err}");
    assert!(c.get("shop", "items", sid("c")).await.is_none());

    // Scan in pages, forwards and backwards.
    c.create_store("shop", "numbers").await;
    c.insert("shop", "numbers", (0..25).map(sample).collect())
        .await;
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .docs
            .scan(v1::ScanRequest {
                space: "shop".into(),
                store: "numbers".into(),
                start: start.clone(),
                limit: 10,
                reverse: false,
            })
            .await
            .expect("scan")
            .into_inner();
        assert!(page.documents.len() <= 10);
        seen.extend(
            page.documents
                .iter()
                .map(|d| doc_of(d).get_i64("_id").expect("id")),
        );
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, (0..25).collect::<Vec<_>>());
    let back = c
        .docs
        .scan(v1::ScanRequest {
            space: "shop".into(),
            store: "numbers".into(),
            start: Some(iid(5)),
            limit: 3,
            reverse: true,
        })
        .await
        .expect("scan")
        .into_inner();
    let ids: Vec<i64> = back
        .documents
        .iter()
        .map(|d| doc_of(d).get_i64("_id").expect("id"))
        .collect();
    assert_eq!(ids, vec![5, 4, 3]);
    assert_eq!(back.next, Some(iid(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_errors_name_what_was_wrong() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("shop", "items").await;

    let e = c
        .docs
        .get(v1::GetRequest {
            space: "shop".into(),
            store: "nothing".into(),
            id: Some(iid(1)),
        })
        .await
        .expect_err("no store");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("shop.nothing"), "{}", e.message());

    c.insert("shop", "items", vec![sample(1)]).await;
    let e = c
        .docs
        .insert(v1::InsertRequest {
            space: "shop".into(),
            store: "items".into(),
            documents: vec![bson_bytes(&sample(1))],
        })
        .await
        .expect_err("duplicate");
    assert_eq!(e.code(), Code::AlreadyExists, "{e}");

    let e = c
        .docs
        .insert(v1::InsertRequest {
            space: "shop".into(),
            store: "items".into(),
            documents: vec![bson_bytes(&sample(2)), b"\x05\x00\x00".to_vec().into()],
        })
        .await
        .expect_err("bad bson");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("documents[1]"), "{}", e.message());
    assert!(
        c.get("shop", "items", iid(2)).await.is_none(),
        "nothing half-inserted"
    );

    let e = c
        .docs
        .get(v1::GetRequest {
            space: "shop".into(),
            store: "items".into(),
            id: None,
        })
        .await
        .expect_err("no id");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("id is missing"), "{}", e.message());

    let e = c
        .docs
        .update(v1::UpdateRequest {
            space: "shop".into(),
            store: "items".into(),
            id: Some(iid(1)),
            set: Default::default(),
            unset: vec![],
        })
        .await
        .expect_err("empty update");
    assert_eq!(e.code(), Code::InvalidArgument);

    let e = c
        .docs
        .get(v1::GetRequest {
            space: "_system".into(),
            store: "users".into(),
            id: Some(sid("admin")),
        })
        .await
        .expect_err("system space");
    assert_eq!(e.code(), Code::PermissionDenied, "{e}");
}
