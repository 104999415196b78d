//! Queries: YQL text and the typed builder give the same results; results stream in chunks
//! (over the pipeline and over the Query RPC); explain; errors carry the caret message.

use crate::common::{Connect, Server, server, server_with};
use futures::StreamExt;
use serde_json::json;
use shinydb_client::{
    QueryOutput,
    bson::doc,
    query::{Direction, QueryBuilder, agg, field},
};

async fn seeded(s: &Server) -> shinydb_client::Client {
    let c = s.admin();
    c.create_space("sales").await.expect("space");
    c.create_store("sales", "orders").await.expect("store");
    let orders = c.store("sales", "orders");
    let docs: Vec<_> = (1..=60)
        .map(|i| {
            doc! {
                "_id": i,
                "customer": format!("c{}", i % 6),
                "total": f64::from(i) * 2.5,
                "city": if i % 2 == 0 { "Paris" } else { "Lyon" },
            }
        })
        .collect();
    orders.insert_many(&docs).await.expect("insert");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_queries_equal_their_yql() {
    // A small page limit makes every larger find come back in several chunks.
    let s = server_with("limits:\n  max_page_documents: 7\n");
    let c = seeded(&s).await;
    let cases: Vec<(QueryBuilder, &str)> = vec![
        (
            QueryBuilder::on("sales", "orders")
                .filter(field("total").gt(100.0).and(field("city").eq("Paris")))
                .order_by("total", Direction::Desc)
                .limit(5),
            "sales.orders.filter(total > 100.0 and city = \"Paris\").orderBy(total, desc).limit(5)",
        ),
        (
            QueryBuilder::on("sales", "orders")
                .filter(field("customer").is_in(["c1", "c2"]))
                .count(),
            "sales.orders.filter(customer in [\"c1\", \"c2\"]).count()",
        ),
        (
            QueryBuilder::on("sales", "orders")
                .group_by(["city"])
                .aggregate([("n", agg::count()), ("sum", agg::sum("total"))])
                .order_by("city", Direction::Asc),
            "sales.orders.groupBy(city).aggregate(n: count, sum: sum(total)).orderBy(city)",
        ),
        (
            QueryBuilder::on("sales", "orders").aggregate([("hi", agg::max("total"))]),
            "sales.orders.aggregate(hi: max(total))",
        ),
        (
            QueryBuilder::on("sales", "orders")
                .filter(field("city").starts_with("Ly"))
                .pluck(["_id"])
                .skip(2)
                .limit(20),
            "sales.orders.filter(city startsWith \"Ly\").pluck(_id).skip(2).limit(20)",
        ),
    ];
    for (b, text) in cases {
        let typed = c
            .query_typed(&b.build().expect("builds"))
            .await
            .expect(text);
        let yql = c.query(text).await.expect(text);
        assert_eq!(typed, yql, "{text}");
    }
    // Pages: the cursor of a full page, passed to `after`, gives the next page.
    let QueryOutput::Documents {
        cursor: Some(cursor),
        ..
    } = c
        .query("sales.orders.orderBy(total).limit(25)")
        .await
        .expect("page 1")
    else {
        panic!("a full page has a cursor")
    };
    let typed = QueryBuilder::on("sales", "orders")
        .order_by("total", Direction::Asc)
        .limit(25)
        .after(&cursor)
        .build()
        .expect("builds");
    let page2 = c.query_typed(&typed).await.expect("page 2");
    let text = format!("sales.orders.orderBy(total).limit(25).after(\"{cursor}\")");
    assert_eq!(page2, c.query(&text).await.expect("page 2 as text"));
    assert_eq!(page2.rows()[0].get_i32("_id").expect("id"), 26);

    // A find larger than the page limit arrives in chunks but whole.
    let all = c.query("sales.orders.limit(60)").await.expect("find");
    assert_eq!(all.rows().len(), 60);
    let out = c
        .query("sales.orders.filter(total > 100.0).count()")
        .await
        .expect("count");
    assert_eq!(out.to_json(), json!({"count": 20}));

    // The Query RPC streams the same rows chunk by chunk.
    let mut chunks = c
        .query_stream("sales.orders.limit(60)", 25)
        .await
        .expect("stream");
    let mut sizes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        sizes.push(chunk.expect("chunk").rows().len());
    }
    assert!(sizes.len() >= 9, "chunks of at most 7 rows: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_explain_and_errors() {
    let s = server();
    let c = seeded(&s).await;
    let ins = c
        .query_typed(
            &QueryBuilder::on("sales", "orders")
                .insert([doc! {"_id": 1000, "total": 1.0}])
                .build()
                .expect("builds"),
        )
        .await
        .expect("insert");
    assert_eq!(ins.to_json(), json!({"inserted": 1, "ids": [1000]}));
    let up = c
        .query("sales.orders.filter(city = \"Lyon\").set({flag: true})")
        .await
        .expect("update");
    assert_eq!(
        up,
        QueryOutput::Updated {
            matched: 30,
            modified: 30
        }
    );
    let del = c
        .query_typed(
            &QueryBuilder::on("sales", "orders")
                .get(1000)
                .delete()
                .build()
                .expect("builds"),
        )
        .await
        .expect("delete");
    assert_eq!(del.to_json(), json!({"deleted": 1}));

    let plan = c
        .explain("sales.orders.filter(total > 10.0).limit(3)")
        .await
        .expect("explain");
    assert_eq!(plan.returned, 3);
    assert!(plan.docs_examined >= 3);

    let e = c
        .query("sales.orders.filter(total >)")
        .await
        .expect_err("parse error");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.to_string().contains('^'), "caret message: {e}");
    let e = c.query("orders.limit(1)").await.expect_err("no space");
    assert!(e.to_string().contains("space"), "{e}");
}
