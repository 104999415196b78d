//! The JSON shapes every interface prints.

use bson::doc;
use serde_json::json;

use crate::common::{MemStore, run};

fn store() -> MemStore {
    MemStore::new(&[
        doc! {"_id": 1, "name": "a", "oid": bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid"),
        "at": bson::DateTime::from_millis(1_769_860_800_000), "big": 9_007_199_254_740_993_i64, "f": 1.5,
        "nan": f64::NAN, "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2] },
        "addr": {"city": "Austin", "zip": "78701"}},
        doc! {"_id": 2, "name": "b", "n": 3},
        doc! {"_id": 3, "name": "c", "n": 4.5},
    ])
}

#[test]
fn finds_are_arrays_of_relaxed_extended_json() {
    let got = run(&store(), "s.t.get(1)").to_json();
    assert_eq!(
        got,
        json!([{
            "_id": 1, "name": "a", "oid": {"$oid": "65a1b2c3d4e5f60718293a4b"},
            "at": {"$date": "2026-01-31T12:00:00Z"}, "big": 9_007_199_254_740_993_i64, "f": 1.5,
            "nan": {"$numberDouble": "NaN"},
            "bin": {"$binary": {"base64": "AQI=", "subType": "00"}},
            "addr": {"city": "Austin", "zip": "78701"}
        }])
    );
    assert_eq!(
        run(&store(), "s.t.filter(_id = 1).pluck(addr.city, name)").to_json(),
        json!([{"addr": {"city": "Austin"}, "name": "a"}])
    );
}

#[test]
fn counts_aggregates_and_groups() {
    assert_eq!(run(&store(), "s.t.count()").to_json(), json!({"count": 3}));
    assert_eq!(
        run(
            &store(),
            "s.t.aggregate(n: count, s: sum(n), a: avg(n), lo: min(n), hi: max(n), c: count(n))"
        )
        .to_json(),
        json!({"n": 3, "s": 7.5, "a": 3.75, "lo": 3, "hi": 4.5, "c": 2})
    );
    assert_eq!(
        run(
            &store(),
            "s.t.filter(n exists).groupBy(name).aggregate(n: count).orderBy(name, desc)"
        )
        .to_json(),
        json!([{"name": "c", "n": 1}, {"name": "b", "n": 1}])
    );
    assert_eq!(
        run(&store(), "s.t.groupBy(addr.city).aggregate(n: count)").to_json(),
        json!([{"addr": {"city": null}, "n": 2}, {"addr": {"city": "Austin"}, "n": 1}])
    );
    assert_eq!(
        run(
            &store(),
            "s.t.filter(_id > 9).aggregate(n: count, s: sum(n), a: avg(n), lo: min(n), hi: max(n))"
        )
        .to_json(),
        json!({"n": 0, "s": 0, "a": null, "lo": null, "hi": null})
    );
}

#[test]
fn explain_reports_plan_and_statistics() {
    let got = run(
        &store(),
        "s.t.filter(n > 3).orderBy(n, desc).limit(1).explain()",
    )
    .to_json();
    assert_eq!(
        got,
        json!({
            "access": {"type": "scan"},
            "order": "top-k",
            "estimated_docs": 3,
            "docs_examined": 3,
            "docs_matched": 1,
            "returned": 1
        })
    );
}
