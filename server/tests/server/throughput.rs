//! Throughput of point reads and writes: unary calls against the pipelined stream on one
//! connection. Ignored by default (it measures, it does not check behaviour); run with
//! `cargo test --release -p shinydb-server --test server throughput:: -- --ignored --nocapture`.

use std::time::Instant;

use crate::common::{Opts, Server, bson_bytes, iid};
use bson::doc;
use shinydb_proto::v1::{self, PipelineRequest, pipeline_request::Op};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const N: i64 = 20_000;

async fn pipelined(c: &mut crate::common::Clients, n: i64, make: impl Fn(i64) -> Op) -> f64 {
    let (tx, rx) = mpsc::channel(1024);
    let mut out = c
        .pipeline
        .stream(ReceiverStream::new(rx))
        .await
        .expect("open")
        .into_inner();
    let started = Instant::now();
    let reqs: Vec<Op> = (0..n).map(make).collect();
    tokio::spawn(async move {
        for (i, op) in reqs.into_iter().enumerate() {
            let r = PipelineRequest {
                id: i as u64,
                timeout_ms: 0,
                op: Some(op),
            };
            if tx.send(r).await.is_err() {
                break;
            }
        }
    });
    let mut got = 0;
    while let Some(r) = out.message().await.expect("answer") {
        assert!(
            !matches!(r.result, Some(v1::pipeline_response::Result::Error(_))),
            "{r:?}"
        );
        got += 1;
    }
    assert_eq!(got, n);
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run explicitly"]
async fn unary_and_pipelined_throughput() {
    for (durability, tls) in [("sync", true), ("none", true), ("none", false)] {
        let opts = if tls {
            Opts::default()
        } else {
            Opts::plaintext()
        };
        let server = Server::start(opts.config(&format!("storage:\n  durability: {durability}\n")));
        let mut c = server.admin().await;
        c.create_store("b", "t").await;
        let doc = |i: i64| doc! {"_id": i, "field0": "x".repeat(100), "field1": "y".repeat(100)};

        let ins = pipelined(&mut c, N, |i| {
            Op::Insert(v1::InsertRequest {
                space: "b".into(),
                store: "t".into(),
                documents: vec![bson_bytes(&doc(i))],
            })
        })
        .await;
        let gets = pipelined(&mut c, N, |i| {
            Op::Get(v1::GetRequest {
                space: "b".into(),
                store: "t".into(),
                id: Some(iid(i)),
            })
        })
        .await;
        let started = Instant::now();
        let unary_n = 2000;
        for i in 0..unary_n {
            c.docs
                .get(v1::GetRequest {
                    space: "b".into(),
                    store: "t".into(),
                    id: Some(iid(i)),
                })
                .await
                .expect("get");
        }
        let unary = unary_n as f64 / started.elapsed().as_secs_f64();
        println!(
            "durability={durability} tls={tls}: pipelined inserts {ins:.0}/s, pipelined gets \
             {gets:.0}/s, sequential unary gets {unary:.0}/s"
        );
    }
}
