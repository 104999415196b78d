//! Deeply nested input from a logged-in client (a BSON document, a `set` path, a cursor) is
//! refused with INVALID_ARGUMENT naming what was too deep, and the server keeps serving: none of
//! them may overflow a stack and abort the process.

use crate::common::{Grpc, Server, ServerOptions, iid, sample};
use bson::{RawDocumentBuf, doc};
use shinydb_proto::v1::{self, query_request::Query as Q};
use tonic::Code;

/// Far past what a recursive decoder survives on a 2 MiB worker stack.
const DEEP: usize = 20_000;

/// `{"a": {"a": … {"x": 1} …}}`, `levels` deep, built as bytes without recursion.
fn nested_bytes(levels: usize) -> Vec<u8> {
    let mut inner = RawDocumentBuf::from_document(&doc! {"x": 1})
        .expect("leaf")
        .into_bytes();
    for _ in 1..levels {
        let mut next = Vec::with_capacity(inner.len() + 8);
        next.extend_from_slice(&((inner.len() + 8) as i32).to_le_bytes());
        next.extend_from_slice(&[0x03, b'a', 0]);
        next.extend_from_slice(&inner);
        next.push(0);
        inner = next;
    }
    inner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_documents_paths_and_cursors_are_refused_and_the_server_keeps_serving() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("s", "t").await;
    c.insert("s", "t", vec![sample(1)]).await;

    // A document nested 20,000 levels in a unary Insert.
    let err = c
        .docs
        .insert(v1::InsertRequest {
            space: "s".into(),
            store: "t".into(),
            documents: vec![nested_bytes(DEEP).into()],
        })
        .await
        .expect_err("a 20,000-level document");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(
        err.message()
            .contains("documents[0] is nested deeper than 100 levels"),
        "{err}"
    );

    // An update whose `set` key is a 20,000-segment path on a missing field.
    let path = vec!["a"; DEEP].join(".");
    let err = c
        .docs
        .update(v1::UpdateRequest {
            space: "s".into(),
            store: "t".into(),
            id: Some(iid(1)),
            set: bson::to_vec(&doc! {path: 1}).expect("bson").into(),
            unset: vec![],
        })
        .await
        .expect_err("a 20,000-segment path");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("at most 100"), "{err}");

    // A cursor nested 20,000 levels.
    let hex: String = nested_bytes(DEEP)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let err = c
        .query
        .query(v1::QueryRequest {
            query: Some(Q::Yql(format!("s.t.orderBy(n).limit(2).after(\"{hex}\")"))),
            chunk_size: 0,
        })
        .await
        .expect_err("a nested cursor");
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("cursor"), "{err}");

    // Still alive, and nothing was written.
    let doc = c.get("s", "t", iid(1)).await.expect("the first document");
    assert_eq!(doc, sample(1));
    assert!(c.get("s", "t", iid(2)).await.is_none());
}
