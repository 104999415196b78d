//! Comparisons: `store.filter(path op literal)` for many fields and literals (numbers of
//! every width, dates, booleans, strings, ObjectIds) and every comparison operator, counted or
//! plucked.

use bson::Bson;

use super::{Case, Disagreements, agree_with_the_oracle, case, date, oid};
use crate::common::oracle::{self, CmpOp, rows};

/// `store.filter(path op literal)` for many fields, literals and every comparison operator.
pub(super) fn cases() -> Vec<Case> {
    // (store, YQL path, dotted path, YQL literal, literal)
    let specs: Vec<(&str, &str, &str, &str, Bson)> = vec![
        ("orders", "TotalDue", "TotalDue", "1000", Bson::Int32(1000)),
        (
            "orders",
            "TotalDue",
            "TotalDue",
            "2616.52",
            Bson::Double(2616.52),
        ),
        (
            "orders",
            "EmployeeID",
            "EmployeeID",
            "289",
            Bson::Int32(289),
        ),
        (
            "orders",
            "EmployeeID",
            "EmployeeID",
            "289.0",
            Bson::Double(289.0),
        ),
        ("orders", "Status", "Status", "3", Bson::Int32(3)),
        (
            "orders",
            "OrderDate",
            "OrderDate",
            "date(\"2024-06-01T00:00:00Z\")",
            date("2024-06-01T00:00:00Z"),
        ),
        (
            "orders",
            "OnlineOrder",
            "OnlineOrder",
            "true",
            Bson::Boolean(true),
        ),
        ("orders", "Priority", "Priority", "2", Bson::Int32(2)),
        (
            "orders",
            "ShipAddress.City",
            "ShipAddress.City",
            "\"Denver\"",
            Bson::String("Denver".into()),
        ),
        (
            "customers",
            "Address.State",
            "Address.State",
            "'TX'",
            Bson::String("TX".into()),
        ),
        (
            "customers",
            "Points",
            "Points",
            "9007199254740992",
            Bson::Int64(9_007_199_254_740_992),
        ),
        (
            "customers",
            "Points",
            "Points",
            "9007199254740993",
            Bson::Int64(9_007_199_254_740_993),
        ),
        (
            "customers",
            "Points",
            "Points",
            "9007199254740992.0",
            Bson::Double(9_007_199_254_740_992.0),
        ),
        (
            "customers",
            "FullName",
            "FullName",
            "\"Linda Mitchell\"",
            Bson::String("Linda Mitchell".into()),
        ),
        (
            "products",
            "ListPrice",
            "ListPrice",
            "100.5",
            Bson::Double(100.5),
        ),
        ("products", "Rating", "Rating", "3", Bson::Int32(3)),
        (
            "products",
            "Rating",
            "Rating",
            "\"n/a\"",
            Bson::String("n/a".into()),
        ),
        ("products", "Size", "Size", "44", Bson::Int32(44)),
        (
            "vendors",
            "_id",
            "_id",
            "oid(\"657e00000000000000000005\")",
            oid("657e00000000000000000005"),
        ),
        ("vendors", "Score", "Score", "50", Bson::Int32(50)),
        (
            "employees",
            "Salary",
            "Salary",
            "6e4",
            Bson::Double(60_000.0),
        ),
    ];
    let mut out = Vec::new();
    for (i, (store, path, dotted, lit_text, lit)) in specs.into_iter().enumerate() {
        for (j, op) in CmpOp::all().into_iter().enumerate() {
            let as_count = (i + j) % 4 == 0;
            let text = format!(
                "sales.{store}.filter({path} {} {lit_text}){}",
                op.text(),
                if as_count { ".count()" } else { ".pluck(_id)" }
            );
            let (store, dotted, lit) = (store.to_string(), dotted.to_string(), lit.clone());
            out.push(case(text, move |d| {
                let r = rows(d.store(&store).expect("store"), |x| {
                    oracle::test(x, &dotted, op, &lit)
                });
                if as_count {
                    oracle::count(r.len())
                } else {
                    oracle::ids(&r)
                }
            }));
        }
    }
    out
}

#[test]
fn comparisons_agree_with_the_oracle() -> Result<(), Disagreements> {
    agree_with_the_oracle(&cases())
}
