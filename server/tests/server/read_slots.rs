//! Reads cannot take every thread: past `limits.max_concurrent_reads` running scans and
//! queries, another waits `limits.read_queue_ms` for a slot and is then refused, naming the
//! setting; once the running read ends, reads are served again.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1::{self, query_request::Query as Q};
use tonic::Code;

use crate::common::{Clients, Grpc, Server, ServerOptions};

async fn query(c: &mut Clients, text: &str) -> Result<usize, tonic::Status> {
    let req = v1::QueryRequest {
        query: Some(Q::Yql(text.into())),
        chunk_size: 0,
    };
    let mut stream = c.query.query(req).await?.into_inner();
    let mut chunks = 0;
    while stream.message().await?.is_some() {
        chunks += 1;
    }
    Ok(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_past_the_concurrent_read_cap_is_refused_naming_it() {
    let server = Server::start(
        ServerOptions::default()
            .config("limits:\n  max_concurrent_reads: 1\n  read_queue_ms: 20\n"),
    );
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    for batch in 0..30i64 {
        let docs = (0..10_000i64)
            .map(|i| doc! {"_id": batch * 10_000 + i, "n": (i * 7919) % 10_007, "s": format!("v{i}")})
            .collect();
        c.insert("app", "items", docs).await;
    }
    // A read that takes a while: every one of 300,000 documents, filtered by a regex, grouped.
    let mut slow_client = server.admin().await;
    // It may itself meet a quick read in the slot: then it tries again.
    let slow = tokio::spawn(async move {
        loop {
            match query(
                &mut slow_client,
                r#"app.items.filter(s ~ "^v.*[0-9].*[0-9]").groupBy(n).aggregate(c: count)"#,
            )
            .await
            {
                Err(e) if e.code() == Code::ResourceExhausted => continue,
                other => break other,
            }
        }
    });
    let mut refused = None;
    while !slow.is_finished() {
        match query(&mut c, "app.items.filter(_id = 1)").await {
            Err(e) if e.code() == Code::ResourceExhausted => {
                refused = Some(e);
                break;
            }
            Err(e) => panic!("unexpected: {e}"),
            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
    let Some(e) = refused else {
        panic!(
            "the slow read ended before a second read was refused: {:?}",
            slow.await
        );
    };
    assert!(
        e.message().contains("limits.max_concurrent_reads")
            && e.message().contains("limits.read_queue_ms"),
        "{e}"
    );
    slow.await
        .expect("slow read task")
        .expect("the slow read itself is served");
    query(&mut c, "app.items.filter(_id = 1)")
        .await
        .expect("served again once the slot is free");
}
