//! YQL writes and reads through the real engine: results, atomicity, indexes kept exact.

use bson::doc;
use serde_json::json;
use shinydb_engine::{Db, Options, QueryFailure, SyncMode};

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        Options {
            sync: SyncMode::None,
            ..Options::default()
        },
    )
    .expect("open");
    db.create_space("shop").expect("space");
    db.create_store("shop", "items").expect("store");
    db.create_index("shop", "items", "by_sku", &["sku"], true)
        .expect("index");
    db.create_index("shop", "items", "by_price", &["price"], false)
        .expect("index");
    (dir, db)
}

fn q(db: &Db, text: &str) -> serde_json::Value {
    db.query_text(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .to_json()
}

#[test]
fn writes_return_counts_and_indexes_follow() {
    let (_dir, db) = db();
    let r = q(
        &db,
        r#"shop.items.insert([{"_id": 1, "sku": "a", "price": 5}, {"_id": 2, "sku": "b", "price": 7.5}, {"_id": 3, "sku": "c", "price": 12}])"#,
    );
    assert_eq!(r, json!({"inserted": 3, "ids": [1, 2, 3]}));
    let r = q(
        &db,
        "shop.items.filter(price > 6).set({\"price\": 1, \"meta.seen\": true})",
    );
    assert_eq!(r, json!({"matched": 2, "modified": 2}));
    assert_eq!(
        q(&db, "shop.items.filter(price = 1).count()"),
        json!({"count": 2})
    );
    assert_eq!(
        q(&db, "shop.items.filter(meta.seen exists).pluck(_id)"),
        json!([{"_id": 2}, {"_id": 3}])
    );
    let r = q(&db, "shop.items.get(1).unset(price)");
    assert_eq!(r, json!({"matched": 1, "modified": 1}));
    assert_eq!(
        q(&db, "shop.items.filter(price = null).pluck(_id)"),
        json!([{"_id": 1}])
    );
    let r = q(
        &db,
        r#"shop.items.get(3).replace({"sku": "c2", "price": 3})"#,
    );
    assert_eq!(r, json!({"matched": 1, "modified": 1}));
    assert_eq!(
        q(&db, "shop.items.orderBy(price).pluck(_id, price)"),
        json!([{"_id": 2, "price": 1}, {"_id": 3, "price": 3}, {"_id": 1}])
    );
    // The index on price answers exactly what a scan answers.
    let explain = q(&db, "shop.items.filter(price >= 1 and price < 3).explain()");
    assert_eq!(explain["access"]["type"], "index", "{explain}");
    assert_eq!(
        q(
            &db,
            "shop.items.filter(price >= 1 and price < 3).pluck(_id)"
        ),
        json!([{"_id": 2}])
    );
    assert_eq!(
        q(&db, "shop.items.filter(price > 100).delete()"),
        json!({"deleted": 0})
    );
    assert_eq!(
        q(&db, "shop.items.filter(price < 2 or sku = \"c2\").delete()"),
        json!({"deleted": 2})
    );
    assert_eq!(q(&db, "shop.items.count()"), json!({"count": 1}));
    assert_eq!(q(&db, "shop.items.all().delete()"), json!({"deleted": 1}));
    assert_eq!(db.snapshot().count("shop", "items").expect("count"), 0);
}

#[test]
fn a_write_that_breaks_a_unique_index_changes_nothing() {
    let (_dir, db) = db();
    q(
        &db,
        r#"shop.items.insert([{"_id": 1, "sku": "a"}, {"_id": 2, "sku": "b"}])"#,
    );
    let err = db
        .query_text(r#"shop.items.insert([{"_id": 3, "sku": "c"}, {"_id": 4, "sku": "a"}])"#)
        .expect_err("duplicate sku");
    assert!(
        matches!(
            err,
            QueryFailure::Engine(shinydb_engine::Error::UniqueViolation { .. })
        ),
        "{err}"
    );
    assert_eq!(
        q(&db, "shop.items.count()"),
        json!({"count": 2}),
        "nothing of the batch was applied"
    );
    let err = db
        .query_text(r#"shop.items.all().set({"sku": "same"})"#)
        .expect_err("duplicate sku");
    assert!(err.to_string().contains("by_sku"), "{err}");
    assert_eq!(
        q(&db, "shop.items.orderBy(sku).pluck(sku)"),
        json!([{"sku": "a"}, {"sku": "b"}])
    );
}

#[test]
fn unsafe_and_malformed_queries_are_refused() {
    let (_dir, db) = db();
    db.insert("shop", "items", doc! {"_id": 1, "sku": "a"})
        .expect("insert");
    let err = db.query_text("shop.items.delete()").expect_err("no filter");
    assert!(err.to_string().contains("all()"), "{err}");
    let err = db
        .query_text("shop.items.filter(sku = ")
        .expect_err("malformed");
    assert!(err.to_string().contains('^'), "a caret shows where: {err}");
    let err = db.query_text("items.count()").expect_err("no space");
    assert!(err.to_string().contains("space"), "{err}");
    let err = db.query_text("shop.nothing.count()").expect_err("no store");
    assert!(err.to_string().contains("shop.nothing"), "{err}");
    assert_eq!(q(&db, "shop.items.count()"), json!({"count": 1}));
}
