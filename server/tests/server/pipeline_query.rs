//! Queries on the pipelined stream: a result larger than the page limit comes back as several
//! responses with the request's id, `more` set on all but the last; a bad query is one error
//! response and the stream stays open.

use crate::common::{Grpc, Server, ServerOptions, doc_of};
use bson::doc;
use shinydb_proto::v1::{
    self, PipelineRequest, pipeline_request::Op, pipeline_response::Result as R, query_chunk,
    query_request,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

fn query(id: u64, yql: &str) -> PipelineRequest {
    PipelineRequest {
        id,
        timeout_ms: 0,
        op: Some(Op::Query(v1::QueryRequest {
            query: Some(query_request::Query::Yql(yql.into())),
            chunk_size: 0,
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_results_come_back_in_chunks_tagged_with_the_id() {
    let server =
        Server::start(ServerOptions::default().config("limits:\n  max_page_documents: 10\n"));
    let mut c = server.admin().await;
    c.create_store("p", "t").await;
    c.insert("p", "t", (0..35).map(|i| doc! {"_id": i, "v": i}).collect())
        .await;

    let (tx, rx) = mpsc::channel(16);
    let mut responses = c
        .pipeline
        .stream(ReceiverStream::new(rx))
        .await
        .expect("open")
        .into_inner();
    tx.send(query(7, "p.t.orderBy(v).limit(35)"))
        .await
        .expect("send");
    let mut rows = Vec::new();
    let mut chunks = 0;
    loop {
        let r = responses.message().await.expect("read").expect("open");
        assert_eq!(r.id, 7);
        chunks += 1;
        match r.result {
            Some(R::Query(v1::QueryChunk {
                result: Some(query_chunk::Result::Documents(l)),
                ..
            })) => rows.extend(
                l.documents
                    .iter()
                    .map(|b| doc_of(b).get_i32("v").expect("v")),
            ),
            other => panic!("expected documents, got {other:?}"),
        }
        if !r.more {
            break;
        }
    }
    assert_eq!(chunks, 4, "35 rows in chunks of at most 10");
    assert_eq!(rows, (0..35).collect::<Vec<_>>());

    // A count is one response; a parse error is one error response; the stream goes on.
    tx.send(query(8, "p.t.filter(v >)")).await.expect("send");
    tx.send(query(9, "p.t.count()")).await.expect("send");
    for _ in 0..2 {
        let r = responses.message().await.expect("read").expect("open");
        assert!(!r.more);
        match (r.id, r.result) {
            (8, Some(R::Error(e))) => {
                assert_eq!(e.code, Code::InvalidArgument as i32);
                assert!(e.message.contains('^'), "{}", e.message);
            }
            (
                9,
                Some(R::Query(v1::QueryChunk {
                    result: Some(query_chunk::Result::Count(n)),
                    ..
                })),
            ) => assert_eq!(n, 35),
            other => panic!("unexpected {other:?}"),
        }
    }
}
