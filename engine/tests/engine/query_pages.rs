//! Keyset pagination with `after(cursor)`: pages concatenate to the full ordered result, with
//! and without indexes, across ties and nulls.

use serde_json::Value;
use shinydb_engine::query::{QueryResult, execute, parse};

use crate::common::{MemStore, run, stores};

/// Reads every page of `base` (a query without limit) with `limit(size)` and `after(...)`.
fn all_pages(store: &MemStore, base: &str, size: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let text = match &cursor {
            None => format!("{base}.limit({size})"),
            Some(c) => format!("{base}.limit({size}).after(\"{c}\")"),
        };
        let q = parse(&text).expect("parse");
        match execute(store, None, &q).expect("run") {
            QueryResult::Documents {
                documents,
                cursor: next,
            } => {
                let page = QueryResult::Documents {
                    documents: documents.clone(),
                    cursor: None,
                }
                .to_json();
                out.extend(page.as_array().cloned().unwrap_or_default());
                assert!(documents.len() as u64 <= size);
                match next {
                    Some(c) => {
                        assert_eq!(documents.len() as u64, size);
                        cursor = Some(c);
                    }
                    None => return out,
                }
            }
            other => panic!("{other:?}"),
        }
    }
    panic!("too many pages")
}

#[test]
fn pages_concatenate_to_the_full_result() {
    let data = crate::common::sample_data();
    let s = stores(data, "orders");
    for base in [
        "sales.orders.orderBy(EmployeeID, desc).pluck(_id, EmployeeID)",
        "sales.orders.orderBy(EmployeeID).orderBy(TotalDue, desc).pluck(_id)",
        "sales.orders.orderBy(Priority).pluck(_id)",
        "sales.orders.filter(Status = 2).pluck(_id)",
        "sales.orders.filter(TotalDue > 2000).orderBy(Comment).pluck(_id)",
    ] {
        let full = run(&s.plain, base).to_json();
        let full = full.as_array().cloned().unwrap_or_default();
        for store in [&s.plain, &s.indexed] {
            for size in [1, 13, 250] {
                if (size as usize) * 60 < full.len() {
                    continue;
                }
                assert_eq!(
                    all_pages(store, base, size),
                    full,
                    "{base} in pages of {size}"
                );
            }
        }
    }
}

#[test]
fn a_cursor_belongs_to_its_ordering() {
    let data = crate::common::sample_data();
    let s = stores(data, "orders");
    let q = parse("sales.orders.orderBy(TotalDue).limit(5)").expect("parse");
    let Ok(QueryResult::Documents {
        cursor: Some(c), ..
    }) = execute(&s.plain, None, &q)
    else {
        panic!("expected a cursor")
    };
    let err = parse(&format!(
        "sales.orders.orderBy(TotalDue, desc).limit(5).after(\"{c}\")"
    ))
    .expect_err("other ordering");
    assert_eq!(
        err.to_string().lines().next(),
        Some(
            "line 1, column 47: invalid cursor: it was returned by a query with a different orderBy"
        )
    );
    // A page that is not full has no cursor.
    let q = parse("sales.orders.filter(_id < 43662).limit(5)").expect("parse");
    assert!(matches!(
        execute(&s.plain, None, &q),
        Ok(QueryResult::Documents { cursor: None, .. })
    ));
}
