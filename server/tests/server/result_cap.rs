//! No find holds an unbounded result: past `limits.max_result_documents` a find is refused
//! with a message naming the setting and how to page; within it, and page by page with
//! `after(cursor)`, every document is still reachable; counts are not affected. A grouping past
//! `limits.max_result_groups` is refused the same way.

use shinydb_proto::v1::{self, query_chunk::Result as C, query_request::Query as Q};
use tonic::Code;

use crate::common::{Clients, Grpc, Server, ServerOptions, sample};

async fn run(c: &mut Clients, text: &str) -> Result<Vec<v1::QueryChunk>, tonic::Status> {
    let req = v1::QueryRequest {
        query: Some(Q::Yql(text.into())),
        chunk_size: 0,
    };
    let mut stream = c.query.query(req).await?.into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.message().await? {
        out.push(chunk);
    }
    Ok(out)
}

fn rows(chunks: &[v1::QueryChunk]) -> usize {
    chunks
        .iter()
        .map(|c| match &c.result {
            Some(C::Documents(d)) => d.documents.len(),
            other => panic!("not documents: {other:?}"),
        })
        .sum()
}

fn refused(e: tonic::Status) {
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    assert!(
        e.message().contains("limits.max_result_documents") && e.message().contains("after("),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_find_past_the_result_cap_is_refused_and_paging_reaches_everything() {
    let server =
        Server::start(ServerOptions::default().config("limits:\n  max_result_documents: 50\n"));
    let mut c = server.admin().await;
    c.create_store("s", "t").await;
    c.insert("s", "t", (0..120).map(sample).collect()).await;

    // Past the cap: without a limit, sorted or not, or with a larger limit.
    for text in [
        "s.t.all()",
        "s.t.orderBy(n)",
        "s.t.filter(n >= 0).limit(60)",
    ] {
        refused(run(&mut c, text).await.expect_err(text));
    }
    // Within it.
    let few = run(&mut c, "s.t.filter(n < 10)").await.expect("10 rows");
    assert_eq!(rows(&few), 10);
    let count = run(&mut c, "s.t.all().count()").await.expect("count");
    assert!(matches!(count[0].result, Some(C::Count(120))), "{count:?}");

    // Page by page: every document, each once.
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let text = match &after {
            None => "s.t.orderBy(n).limit(50)".to_string(),
            Some(cursor) => format!("s.t.orderBy(n).limit(50).after(\"{cursor}\")"),
        };
        let page = run(&mut c, &text).await.expect("page");
        seen += rows(&page);
        after = page.last().and_then(|c| c.cursor.clone());
        if after.is_none() {
            break;
        }
    }
    assert_eq!(seen, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouping_past_the_group_cap_is_refused_naming_the_setting() {
    let server =
        Server::start(ServerOptions::default().config("limits:\n  max_result_groups: 5\n"));
    let mut c = server.admin().await;
    c.create_store("s", "t").await;
    c.insert("s", "t", (0..20).map(sample).collect()).await;
    let e = run(&mut c, "s.t.groupBy(n).aggregate(c: count)")
        .await
        .expect_err("20 groups > 5");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    assert!(e.message().contains("limits.max_result_groups"), "{e}");
    let ok = run(&mut c, "s.t.filter(n < 5).groupBy(n).aggregate(c: count)")
        .await
        .expect("5 groups");
    assert!(
        matches!(&ok[0].result, Some(C::Groups(g)) if g.documents.len() == 5),
        "{ok:?}"
    );
}
