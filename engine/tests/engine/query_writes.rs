//! Writes: insert, set / unset, replace, delete, all(); counts, atomicity and refusals.

use bson::{Bson, Document, doc};
use serde_json::json;
use shinydb_engine::query::{QueryError, QueryResult, execute, parse};

use crate::common::oracle::{self, eq, gt, rows};
use crate::common::{MemStore, MemWriter};

/// Runs a write against `docs` (with and without indexes) and returns the result and the
/// documents afterwards; both runs must agree.
fn write(docs: &[Document], text: &str) -> Result<(serde_json::Value, Vec<Document>), String> {
    let q = parse(text).map_err(|e| e.to_string())?;
    let mut outcomes = Vec::new();
    for indexed in [false, true] {
        let mut store = MemStore::new(docs);
        if indexed {
            store = store
                .with_index("by_employee", &["EmployeeID"])
                .with_index("by_total", &["TotalDue"]);
        }
        let mut writer = MemWriter::new(store.documents());
        let outcome = execute(&store, Some(&mut writer), &q)
            .map(|r| (r.to_json(), writer.docs.clone()))
            .map_err(|e| e.to_string());
        outcomes.push(outcome);
    }
    let second = outcomes.pop().expect("two runs");
    let first = outcomes.pop().expect("two runs");
    assert_eq!(
        first.as_ref().map(|(j, d)| (j.clone(), bytes(d))),
        second.as_ref().map(|(j, d)| (j.clone(), bytes(d))),
        "indexed and unindexed writes differ: {text}"
    );
    first
}

fn bytes(docs: &[Document]) -> Vec<Vec<u8>> {
    docs.iter()
        .map(|d| bson::to_vec(d).expect("encode"))
        .collect()
}

fn orders() -> Vec<Document> {
    crate::common::sample_data().clone().orders
}

#[test]
fn insert_one_or_many_returns_ids() {
    let base = vec![doc! {"_id": 1, "a": 1}];
    let (result, after) = write(
        &base,
        r#"s.t.insert({"_id": 2, "a": 2, "when": date("2026-01-31T12:00:00Z")})"#,
    )
    .expect("insert");
    assert_eq!(result, json!({"inserted": 1, "ids": [2]}));
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[1].get_datetime("when").map(|d| d.timestamp_millis()),
        Ok(1_769_860_800_000)
    );
    let (result, after) = write(&base, r#"s.t.insert([{"b": 1}, {"b": 2}])"#).expect("insert");
    assert_eq!(result["inserted"], 2);
    assert_eq!(result["ids"].as_array().map(Vec::len), Some(2));
    assert!(result["ids"][0]["$oid"].is_string());
    assert_eq!(after.len(), 3);
}

#[test]
fn a_failed_batch_writes_nothing() {
    let base = vec![doc! {"_id": 1}];
    let err = write(&base, r#"s.t.insert([{"_id": 5}, {"_id": 1}])"#).expect_err("duplicate");
    assert_eq!(err, "write refused: duplicate _id 1");
}

#[test]
fn set_counts_matched_and_modified_and_reaches_into_sub_documents() {
    let data = orders();
    let (result, after) = write(&data, r#"sales.orders.filter(EmployeeID = 289 and TotalDue > 20000).set({"Status": 9, "ShipAddress.Country": "US", "Review.By": "auditor"})"#).expect("set");
    let expected: Vec<&Document> = rows(&data, |o| {
        eq(o, "EmployeeID", 289) && gt(o, "TotalDue", 20_000)
    });
    assert!(!expected.is_empty());
    assert_eq!(
        result,
        json!({"matched": expected.len(), "modified": expected.len()})
    );
    for o in &after {
        let hit = expected.iter().any(|e| e.get("_id") == o.get("_id"));
        assert_eq!(eq(o, "Status", 9), hit);
        assert_eq!(
            oracle::get(o, "ShipAddress.Country") == Some(&Bson::from("US")),
            hit
        );
        assert_eq!(
            oracle::get(o, "Review.By") == Some(&Bson::from("auditor")),
            hit
        );
    }
    // Setting what is already there modifies nothing.
    let (again, _) = write(
        &after,
        r#"sales.orders.filter(Status = 9).set({"Status": 9})"#,
    )
    .expect("set");
    assert_eq!(again, json!({"matched": expected.len(), "modified": 0}));
}

#[test]
fn unset_removes_fields() {
    let base = vec![
        doc! {"_id": 1, "a": {"b": 1, "c": 2}, "d": 3},
        doc! {"_id": 2, "d": 4},
    ];
    let (result, after) = write(&base, "s.t.all().unset(a.b, d)").expect("unset");
    assert_eq!(result, json!({"matched": 2, "modified": 2}));
    assert_eq!(after, vec![doc! {"_id": 1, "a": {"c": 2}}, doc! {"_id": 2}]);
    let (result, _) = write(&after, "s.t.get(2).unset(zzz)").expect("unset");
    assert_eq!(result, json!({"matched": 1, "modified": 0}));
}

#[test]
fn replace_keeps_the_id() {
    let base = vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 2, "a": 2}];
    let (result, after) = write(&base, r#"s.t.get(2).replace({"b": "new"})"#).expect("replace");
    assert_eq!(result, json!({"matched": 1, "modified": 1}));
    assert_eq!(after[1], doc! {"_id": 2, "b": "new"});
    // An equal _id (2.0 = 2) is accepted; the stored _id is kept, so nothing changes.
    let (result, _) = write(&base, r#"s.t.get(2).replace({"_id": 2.0, "a": 2})"#).expect("replace");
    assert_eq!(result, json!({"matched": 1, "modified": 0}));
    let (result, _) = write(&base, r#"s.t.get(3).replace({"a": 1})"#).expect("replace");
    assert_eq!(result, json!({"matched": 0, "modified": 0}));
    let err = write(&base, r#"s.t.get(2).replace({"_id": 7})"#).expect_err("id change");
    assert_eq!(
        err,
        "write refused: replace(...) cannot change _id from 2 to 7"
    );
}

#[test]
fn updates_that_cannot_apply_are_refused_whole() {
    let base = vec![doc! {"_id": 1, "a": {"x": 1}}, doc! {"_id": 2, "a": 5}];
    let err = write(&base, r#"s.t.all().set({"a.y": 1})"#).expect_err("a is a number in doc 2");
    assert_eq!(err, "write refused: cannot set a.y: a is not a document");
    let err = write(&base, r#"s.t.get(1).set({"_id": 3})"#).expect_err("id change");
    assert_eq!(err, "write refused: set(...) cannot change _id from 1 to 3");
    let (ok, _) = write(&base, r#"s.t.get(1).set({"_id": 1})"#).expect("same id");
    assert_eq!(ok, json!({"matched": 1, "modified": 0}));
}

#[test]
fn delete_uses_the_same_filter_as_finds() {
    let data = orders();
    let text = "sales.orders.filter(EmployeeID = 289 or TotalDue > 50000).delete()";
    let (result, after) = write(&data, text).expect("delete");
    let gone = rows(&data, |o| {
        eq(o, "EmployeeID", 289) || gt(o, "TotalDue", 50_000)
    })
    .len();
    assert_eq!(result, json!({"deleted": gone}));
    assert_eq!(after.len(), data.len() - gone);
    assert!(
        after
            .iter()
            .all(|o| !(eq(o, "EmployeeID", 289) || gt(o, "TotalDue", 50_000)))
    );
    let (result, after) = write(&data, "sales.orders.get(43700).delete()").expect("delete");
    assert_eq!(result, json!({"deleted": 1}));
    assert_eq!(after.len(), data.len() - 1);
    let (result, after) = write(&data, "sales.orders.all().delete()").expect("delete");
    assert_eq!(result, json!({"deleted": data.len()}));
    assert!(after.is_empty());
    let (result, _) = write(&data, "sales.orders.filter(TotalDue < 0).delete()").expect("delete");
    assert_eq!(result, json!({"deleted": 0}));
}

#[test]
fn all_set_changes_every_document() {
    let base = vec![doc! {"_id": 1}, doc! {"_id": 2, "flag": true}];
    let (result, after) = write(&base, r#"s.t.all().set({"flag": true})"#).expect("set");
    assert_eq!(result, json!({"matched": 2, "modified": 1}));
    assert!(after.iter().all(|d| d.get_bool("flag") == Ok(true)));
}

#[test]
fn writes_need_a_writer() {
    let store = MemStore::new(&[doc! {"_id": 1}]);
    let q = parse("s.t.get(1).delete()").expect("parse");
    let err = execute(&store, None, &q).expect_err("read-only");
    assert!(matches!(err, QueryError::ReadOnly));
    assert_eq!(
        err.to_string(),
        "write refused: this query writes, but it was run read-only"
    );
    // explain() plans a write without a writer and changes nothing.
    let q = parse("s.t.get(1).delete().explain()").expect("parse");
    assert!(matches!(
        execute(&store, None, &q),
        Ok(QueryResult::Explain(_))
    ));
}

#[test]
fn queries_built_without_the_parser_are_validated() {
    let store = MemStore::new(&[doc! {"_id": 1}]);
    let mut writer = MemWriter::new(store.documents());
    let mut q = parse("s.t.get(1).delete()").expect("parse");
    q.id = None;
    let err = execute(&store, Some(&mut writer), &q).expect_err("no selection");
    assert_eq!(
        err.to_string(),
        "invalid query: delete() needs filter(...) or get(...) to choose documents, or all() to delete every document"
    );
    assert_eq!(writer.docs.len(), 1);
}
