//! The Query service: YQL text and the typed query, every result shape, chunked streaming,
//! Explain, and parse errors answered with the caret message.

use crate::common::{Grpc, Server, ServerOptions, doc_of, sample};
use shinydb_engine::query;
use shinydb_proto::v1::{self, query_chunk::Result as C, query_request::Query as Q};
use tonic::Code;

fn yql(text: &str, chunk_size: u32) -> v1::QueryRequest {
    v1::QueryRequest {
        query: Some(Q::Yql(text.into())),
        chunk_size,
    }
}

async fn collect(c: &mut crate::common::Clients, req: v1::QueryRequest) -> Vec<v1::QueryChunk> {
    let mut stream = c.query.query(req).await.expect("query").into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.message().await.expect("chunk") {
        out.push(chunk);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_stream_every_result_shape() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("s", "t").await;
    c.insert("s", "t", (0..25).map(sample).collect()).await;

    // A find streamed in chunks of 10.
    let chunks = collect(&mut c, yql("s.t.filter(n >= 3).orderBy(n)", 10)).await;
    let sizes: Vec<usize> = chunks
        .iter()
        .map(|ch| match &ch.result {
            Some(C::Documents(d)) => d.documents.len(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(sizes, vec![10, 10, 2]);
    let first = match &chunks[0].result {
        Some(C::Documents(d)) => doc_of(&d.documents[0]),
        _ => unreachable!(),
    };
    assert_eq!(first.get_i64("n").expect("n"), 3);

    // A page with a cursor for the next one.
    let chunks = collect(&mut c, yql("s.t.orderBy(n).limit(5)", 0)).await;
    let cursor = chunks
        .last()
        .and_then(|ch| ch.cursor.clone())
        .expect("cursor");
    let next = collect(
        &mut c,
        yql(&format!("s.t.orderBy(n).limit(5).after(\"{cursor}\")"), 0),
    )
    .await;
    match &next[0].result {
        Some(C::Documents(d)) => assert_eq!(doc_of(&d.documents[0]).get_i64("n").expect("n"), 5),
        other => panic!("unexpected {other:?}"),
    }

    // Count, aggregate, groups.
    let ch = collect(&mut c, yql("s.t.filter(n < 10).count()", 0)).await;
    assert_eq!(ch[0].result, Some(C::Count(10)));
    let ch = collect(&mut c, yql("s.t.aggregate(total: sum(n), k: count)", 0)).await;
    match &ch[0].result {
        Some(C::Aggregate(a)) => {
            let row = doc_of(a.document.as_ref().expect("row"));
            assert_eq!(row.get("k").and_then(bson::Bson::as_i64).unwrap_or(-1), 25);
        }
        other => panic!("unexpected {other:?}"),
    }
    let ch = collect(
        &mut c,
        yql("s.t.filter(n < 4).groupBy(n).aggregate(k: count)", 0),
    )
    .await;
    match &ch[0].result {
        Some(C::Groups(g)) => assert_eq!(g.documents.len(), 4),
        other => panic!("unexpected {other:?}"),
    }

    // Writes: insert, set, delete.
    let ch = collect(&mut c, yql(r#"s.t.insert([{"_id": 100, "n": 100}])"#, 0)).await;
    match &ch[0].result {
        Some(C::Inserted(i)) => assert_eq!(i.ids.len(), 1),
        other => panic!("unexpected {other:?}"),
    }
    let ch = collect(&mut c, yql(r#"s.t.filter(n >= 20).set({"big": true})"#, 0)).await;
    assert_eq!(
        ch[0].result,
        Some(C::Updated(v1::Updated {
            matched: 6,
            modified: 6
        }))
    );
    let ch = collect(&mut c, yql("s.t.filter(n >= 20).delete()", 0)).await;
    assert_eq!(ch[0].result, Some(C::Deleted(v1::Deleted { deleted: 6 })));

    // The typed query, as the client's builder ships it.
    let typed = query::parse("s.t.filter(n < 2).count()").expect("parse");
    let ch = collect(
        &mut c,
        v1::QueryRequest {
            query: Some(Q::TypedJson(serde_json::to_string(&typed).expect("json"))),
            chunk_size: 0,
        },
    )
    .await;
    assert_eq!(ch[0].result, Some(C::Count(2)));

    // Explain.
    let plan = c
        .query
        .explain(yql("s.t.filter(n = 3)", 0))
        .await
        .expect("explain")
        .into_inner();
    assert_eq!(plan.returned, 1);
    assert!(plan.access_json.contains("scan"), "{}", plan.access_json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_errors_carry_the_caret_message() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("s", "t").await;

    let e = c
        .query
        .query(yql("s.t.filter(n > )", 0))
        .await
        .expect_err("syntax");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("line 1, column"), "{}", e.message());
    assert!(e.message().contains('^'), "{}", e.message());

    let e = c
        .query
        .query(yql("s.nothing.count()", 0))
        .await
        .expect_err("no store");
    assert_eq!(e.code(), Code::NotFound, "{e}");

    let e = c
        .query
        .query(v1::QueryRequest {
            query: Some(Q::TypedJson("{\"not\": \"a query\"}".into())),
            chunk_size: 0,
        })
        .await
        .expect_err("bad typed");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("typed_json"), "{}", e.message());

    let e = c
        .query
        .query(v1::QueryRequest {
            query: None,
            chunk_size: 0,
        })
        .await
        .expect_err("empty");
    assert_eq!(e.code(), Code::InvalidArgument);
}
