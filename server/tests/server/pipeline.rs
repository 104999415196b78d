//! The pipelined stream: many requests in flight on one stream, each answered once with its
//! id, in completion order; per-operation errors leave the stream open; a slow operation does
//! not hold back the fast ones behind it.

use std::collections::HashSet;

use crate::common::{ADMIN_PASSWORD, Grpc, Server, ServerOptions, bson_bytes, doc_of, iid};
use bson::doc;
use shinydb_proto::v1::{
    self, PipelineRequest, pipeline_request::Op, pipeline_response::Result as R,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

fn get(id: u64, key: i64) -> PipelineRequest {
    PipelineRequest {
        id,
        timeout_ms: 0,
        op: Some(Op::Get(v1::GetRequest {
            space: "p".into(),
            store: "t".into(),
            id: Some(iid(key)),
        })),
    }
}

fn insert(id: u64, docs: Vec<bson::Document>) -> PipelineRequest {
    PipelineRequest {
        id,
        timeout_ms: 0,
        op: Some(Op::Insert(v1::InsertRequest {
            space: "p".into(),
            store: "t".into(),
            documents: docs.iter().map(bson_bytes).collect(),
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_requests_in_flight_are_each_answered_once() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("p", "t").await;

    let (tx, rx) = mpsc::channel(4096);
    let mut responses = c
        .pipeline
        .stream(ReceiverStream::new(rx))
        .await
        .expect("open")
        .into_inner();
    let n: u64 = 2000;
    let sender = tokio::spawn(async move {
        for i in 0..n {
            let req = if i % 2 == 0 {
                insert(i, vec![doc! {"_id": i as i64, "v": i as i64}])
            } else {
                get(i, (i - 1) as i64)
            };
            tx.send(req).await.expect("send");
        }
        // Half-close: the server answers what is in flight, then ends the stream.
    });
    let mut seen = HashSet::new();
    let mut inserted = 0;
    while let Some(r) = responses.message().await.expect("response") {
        assert!(seen.insert(r.id), "id {} answered twice", r.id);
        match r.result.expect("result") {
            R::Insert(ins) => {
                assert_eq!(ins.ids, vec![iid(r.id as i64)]);
                inserted += 1;
            }
            R::Get(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    sender.await.expect("sender");
    assert_eq!(
        seen.len() as u64,
        n,
        "every request answered, then the stream ended"
    );
    assert_eq!(inserted, n / 2);
    let stats = c
        .catalog
        .store_stats(v1::StoreStatsRequest {
            space: "p".into(),
            store: "t".into(),
        })
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(stats.documents, n / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_operation_does_not_hold_back_the_fast_ones() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("p", "t").await;
    c.insert("p", "t", vec![doc! {"_id": 1_i64, "v": 1}]).await;

    let big: Vec<bson::Document> = (1000..6000_i64)
        .map(|i| doc! {"_id": i, "payload": "x".repeat(200)})
        .collect();
    let mut reqs = vec![insert(0, big)];
    reqs.extend((1..=20).map(|i| get(i, 1)));
    let mut responses = c
        .pipeline
        .stream(futures::stream::iter(reqs))
        .await
        .expect("open")
        .into_inner();
    let mut order = Vec::new();
    while let Some(r) = responses.message().await.expect("response") {
        if let Some(R::Get(g)) = &r.result {
            assert_eq!(
                doc_of(g.document.as_ref().expect("found"))
                    .get_i32("v")
                    .expect("v"),
                1
            );
        }
        order.push(r.id);
    }
    assert_eq!(order.len(), 21);
    let slow_at = order.iter().position(|&id| id == 0).expect("slow answered");
    assert!(
        slow_at > 0,
        "fast reads overtook the slow insert: {order:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_per_operation_and_the_stream_goes_on() {
    let server = Server::start(ServerOptions::default());
    let mut c = server.admin().await;
    c.create_store("p", "t").await;
    let reqs = vec![
        PipelineRequest {
            id: 1,
            timeout_ms: 0,
            op: Some(Op::Get(v1::GetRequest {
                space: "p".into(),
                store: "missing".into(),
                id: Some(iid(1)),
            })),
        },
        PipelineRequest {
            id: 2,
            timeout_ms: 0,
            op: None,
        },
        insert(3, vec![doc! {"_id": 7_i64}]),
        insert(4, vec![]),
        PipelineRequest {
            id: 5,
            timeout_ms: 0,
            op: Some(Op::Scan(v1::ScanRequest {
                space: "p".into(),
                store: "t".into(),
                start: None,
                limit: 10,
                reverse: false,
            })),
        },
    ];
    let mut responses = c
        .pipeline
        .stream(futures::stream::iter(reqs))
        .await
        .expect("open")
        .into_inner();
    let mut got = std::collections::BTreeMap::new();
    while let Some(r) = responses.message().await.expect("response") {
        got.insert(r.id, r.result.expect("result"));
    }
    let code = |r: &R| match r {
        R::Error(e) => Code::from_i32(e.code),
        _ => Code::Ok,
    };
    assert_eq!(code(&got[&1]), Code::NotFound);
    assert_eq!(code(&got[&2]), Code::InvalidArgument);
    assert_eq!(code(&got[&3]), Code::Ok);
    assert_eq!(code(&got[&4]), Code::InvalidArgument);
    match &got[&5] {
        // Operations of one stream run concurrently: the scan may or may not see the insert.
        R::Scan(s) => assert!(s.documents.len() <= 1, "{s:?}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_needs_credentials_and_checks_them_per_operation() {
    let server =
        Server::start(ServerOptions::default().config("auth:\n  session_lifetime_seconds: 1\n"));
    let channel = server.channel().await;
    let mut anonymous = v1::pipeline_client::PipelineClient::new(channel);
    let e = anonymous
        .stream(futures::stream::iter(vec![get(1, 1)]))
        .await
        .expect_err("no credentials");
    assert_eq!(e.code(), Code::Unauthenticated);

    let token = server.login("admin", ADMIN_PASSWORD).await.expect("login");
    let mut c = server.clients(&token).await;
    c.create_store("p", "t").await;
    let (tx, rx) = mpsc::channel(8);
    let mut responses = c
        .pipeline
        .stream(ReceiverStream::new(rx))
        .await
        .expect("open")
        .into_inner();
    tx.send(get(1, 1)).await.expect("send");
    let r = responses.message().await.expect("ok").expect("answer");
    assert!(matches!(r.result, Some(R::Get(_))));
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    tx.send(get(2, 1)).await.expect("send");
    let r = responses.message().await.expect("ok").expect("answer");
    match r.result {
        Some(R::Error(e)) => assert_eq!(Code::from_i32(e.code), Code::Unauthenticated),
        other => panic!("expired session still served: {other:?}"),
    }
}
