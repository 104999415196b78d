//! The planner's choices, seen through `explain()`.

use serde_json::{Value, json};
use shinydb_engine::query::QueryResult;

use crate::common::{MemStore, run, stores};

fn explain(store: &MemStore, text: &str) -> Value {
    match run(store, text) {
        r @ QueryResult::Explain(_) => r.to_json(),
        other => panic!("{text}: not an explain: {other:?}"),
    }
}

fn orders() -> crate::common::Stores {
    stores(crate::common::sample_data(), "orders")
}

#[test]
fn equality_uses_the_index_as_a_point() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.filter(EmployeeID = 289).explain()",
    );
    assert_eq!(e["access"]["type"], "index");
    assert_eq!(e["access"]["index"], "by_employee");
    assert_eq!(
        e["access"]["ranges"],
        json!([{"lower": {"values": [289], "inclusive": true}, "upper": {"values": [289], "inclusive": true}}])
    );
    // Only the matching documents are read.
    assert_eq!(e["docs_examined"], e["docs_matched"]);
    assert_eq!(e["order"], "sort");
    let scan = explain(&s.plain, "sales.orders.filter(EmployeeID = 289).explain()");
    assert_eq!(scan["access"], json!({"type": "scan"}));
    assert_eq!(scan["docs_examined"], 3806);
    assert_eq!(scan["docs_matched"], e["docs_matched"]);
    assert_eq!(scan["order"], "_id");
}

#[test]
fn in_becomes_sorted_distinct_points() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.filter(Status in [3, 1, 3.0]).explain()",
    );
    assert_eq!(e["access"]["index"], "by_status");
    let ranges = e["access"]["ranges"].as_array().expect("ranges");
    assert_eq!(ranges.len(), 2);
    assert_eq!(ranges[0]["lower"]["values"], json!([1]));
    assert_eq!(ranges[1]["lower"]["values"], json!([3]));
}

#[test]
fn range_bounds_on_one_field_are_merged_within_the_type_class() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.filter(TotalDue > 1000 and TotalDue <= 2000 and TotalDue > 500).explain()",
    );
    assert_eq!(e["access"]["index"], "by_total");
    assert_eq!(
        e["access"]["ranges"],
        json!([{"lower": {"values": [1000], "inclusive": false}, "upper": {"values": [2000], "inclusive": true}}])
    );
    let open = explain(
        &s.indexed,
        "sales.orders.filter(TotalDue > 50000).explain()",
    );
    // The upper end stops before the strings.
    assert_eq!(
        open["access"]["ranges"][0]["upper"],
        json!({"values": [""], "inclusive": false})
    );
    let none = explain(
        &s.indexed,
        "sales.orders.filter(TotalDue > 5000 and TotalDue < 1000).explain()",
    );
    assert_eq!(none["access"]["type"], "empty");
    assert_eq!(none["docs_examined"], 0);
}

#[test]
fn starts_with_is_a_string_range() {
    let s = stores(crate::common::sample_data(), "products");
    let e = explain(
        &s.indexed,
        r#"sales.products.filter(ProductName startsWith "Road-").explain()"#,
    );
    assert_eq!(e["access"]["index"], "by_name");
    assert_eq!(
        e["access"]["ranges"],
        json!([{"lower": {"values": ["Road-"], "inclusive": true}, "upper": {"values": ["Road."], "inclusive": false}}])
    );
    assert_eq!(e["docs_examined"], e["docs_matched"]);
}

#[test]
fn compound_indexes_take_points_then_a_range() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.filter(EmployeeID = 281 and TotalDue >= 2000 and TotalDue < 4000).explain()",
    );
    assert_eq!(e["access"]["index"], "by_employee_total");
    assert_eq!(
        e["access"]["ranges"],
        json!([{"lower": {"values": [281, 2000], "inclusive": true}, "upper": {"values": [281, 4000], "inclusive": false}}])
    );
    assert_eq!(e["docs_examined"], e["docs_matched"]);
    let c = stores(crate::common::sample_data(), "customers");
    let e = explain(
        &c.indexed,
        r#"sales.customers.filter(Address.State in ["CA", "TX"] and Address.City = "Austin").explain()"#,
    );
    assert_eq!(e["access"]["index"], "by_state_city");
    assert_eq!(e["access"]["ranges"].as_array().map(Vec::len), Some(2));
    assert_eq!(e["docs_examined"], e["docs_matched"]);
}

#[test]
fn the_most_selective_index_wins() {
    let s = orders();
    // CustomerID has ~640 distinct values, Status 5: the customer index is chosen.
    let e = explain(
        &s.indexed,
        "sales.orders.filter(Status = 3 and CustomerID = 11005).explain()",
    );
    assert_eq!(e["access"]["index"], "by_customer");
    assert!(e["estimated_docs"].as_u64().expect("estimate") < 20);
}

#[test]
fn disjunctions_are_unions_when_every_branch_is_indexed() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.filter(EmployeeID = 289 or TotalDue > 50000).explain()",
    );
    assert_eq!(e["access"]["type"], "union");
    let branches = e["access"]["branches"].as_array().expect("branches");
    assert_eq!(branches.len(), 2);
    assert_eq!(branches[0]["index"], "by_employee");
    assert_eq!(branches[1]["index"], "by_total");
    let scan = explain(
        &s.indexed,
        r#"sales.orders.filter(EmployeeID = 289 or Comment contains "Rush").explain()"#,
    );
    assert_eq!(scan["access"]["type"], "scan");
    // An `or` inside an `and` can drive the plan too.
    let nested = explain(
        &s.indexed,
        "sales.orders.filter(OnlineOrder = false and (EmployeeID = 289 or EmployeeID = 280)).explain()",
    );
    assert_eq!(nested["access"]["type"], "union");
}

#[test]
fn order_by_with_limit_reads_the_index_in_order_and_stops_early() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.orderBy(TotalDue, desc).limit(10).explain()",
    );
    assert_eq!(e["order"], "index");
    assert_eq!(e["access"]["index"], "by_total");
    assert_eq!(e["access"]["reverse"], true);
    assert!(e["docs_examined"].as_u64().expect("n") <= 12, "{e}");
    assert_eq!(e["returned"], 10);
    let plain = explain(
        &s.plain,
        "sales.orders.orderBy(TotalDue, desc).limit(10).explain()",
    );
    assert_eq!(plain["order"], "top-k");
    assert_eq!(plain["docs_examined"], 3806);
    // Missing and null come last: reading them needs the null segment at the end.
    let nulls = explain(
        &s.indexed,
        "sales.orders.orderBy(EmployeeID).limit(5).explain()",
    );
    let ranges = nulls["access"]["ranges"].as_array().expect("ranges");
    assert_eq!(
        ranges.last().map(|r| r["lower"].clone()),
        Some(json!({"values": [null], "inclusive": true}))
    );
    // With an equality on the leading field of a compound index.
    let prefix = explain(
        &s.indexed,
        "sales.orders.filter(EmployeeID = 289).orderBy(TotalDue).limit(3).explain()",
    );
    assert_eq!(prefix["order"], "index");
    assert_eq!(prefix["access"]["index"], "by_employee_total");
    assert!(
        prefix["docs_examined"].as_u64().expect("n") <= 4,
        "{prefix}"
    );
    // _id order needs no index.
    let by_id = explain(&s.plain, "sales.orders.orderBy(_id).limit(3).explain()");
    assert_eq!(by_id["order"], "index");
    assert_eq!(by_id["docs_examined"], 3);
}

#[test]
fn limits_stop_scans_early_and_counts_do_not_sort() {
    let s = orders();
    let e = explain(
        &s.plain,
        "sales.orders.filter(Status = 2).limit(5).explain()",
    );
    assert!(e["docs_examined"].as_u64().expect("n") < 100);
    assert_eq!(e["returned"], 5);
    let c = explain(
        &s.plain,
        "sales.orders.orderBy(TotalDue).skip(3800).count().explain()",
    );
    assert_eq!(c["order"], "none");
    assert_eq!(c["returned"], 6);
}

#[test]
fn get_reads_one_document() {
    let s = orders();
    let e = explain(&s.plain, "sales.orders.get(43700).explain()");
    assert_eq!(e["access"], json!({"type": "id", "id": 43700}));
    assert_eq!(e["docs_examined"], 1);
}

#[test]
fn unindexable_filters_scan() {
    let s = orders();
    for text in [
        "sales.orders.filter(EmployeeID != 289).explain()",
        "sales.orders.filter(not EmployeeID = 289).explain()",
        r#"sales.orders.filter(Comment ~ "^Rush").explain()"#,
        "sales.orders.filter(OnlineOrder = true).explain()",
    ] {
        assert_eq!(
            explain(&s.indexed, text)["access"]["type"],
            "scan",
            "{text}"
        );
    }
}

#[test]
fn explain_of_a_write_counts_without_writing() {
    let s = orders();
    let e = explain(
        &s.indexed,
        "sales.orders.filter(EmployeeID = 289).delete().explain()",
    );
    assert_eq!(e["access"]["index"], "by_employee");
    assert_eq!(e["returned"], e["docs_matched"]);
    assert_eq!(
        run(&s.indexed, "sales.orders.count()").to_json(),
        json!({"count": 3806})
    );
}
