//! Logic: `and`, `or`, `not`, precedence, and the shapes the planner turns into index reads
//! (points, unions, merged ranges, compound prefixes).

use bson::Bson;

use super::{Case, Disagreements, agree_with_the_oracle, case, count_of, ids_of};
use crate::common::oracle::{self, rows};

/// Boolean logic, precedence, and index-friendly shapes (points, unions, merged ranges, compound
/// prefixes).
pub(super) fn cases() -> Vec<Case> {
    use oracle::{contains, eq, gt, gte, is_in, lt, lte, present, starts};
    vec![
        case(
            "sales.orders.filter(EmployeeID = 289 and TotalDue > 1000).orderBy(TotalDue, desc).limit(5)",
            |d| {
                let mut r = rows(&d.orders, |o| {
                    eq(o, "EmployeeID", 289) && gt(o, "TotalDue", 1000)
                });
                oracle::sort(&mut r, &[("TotalDue", true)]);
                oracle::json(&oracle::page(r, 0, Some(5)))
            },
        ),
        case(
            r#"sales.products.filter(not (ProductName contains "Road") or ListPrice >= 1000).pluck(_id)"#,
            ids_of("products", |p| {
                !contains(p, "ProductName", "Road") || gte(p, "ListPrice", 1000)
            }),
        ),
        case(
            "sales.orders.filter(EmployeeID = 289 or EmployeeID = 290).pluck(_id)",
            ids_of("orders", |o| {
                eq(o, "EmployeeID", 289) || eq(o, "EmployeeID", 290)
            }),
        ),
        case(
            "sales.orders.filter(EmployeeID = 289 or TotalDue > 50000).pluck(_id)",
            ids_of("orders", |o| {
                eq(o, "EmployeeID", 289) || gt(o, "TotalDue", 50_000)
            }),
        ),
        case(
            "sales.orders.filter(EmployeeID = 289 or TotalDue > 20000 or Status = 5).count()",
            count_of("orders", |o| {
                eq(o, "EmployeeID", 289) || gt(o, "TotalDue", 20_000) || eq(o, "Status", 5)
            }),
        ),
        case(
            r#"sales.orders.filter(EmployeeID = 289 or Comment contains "Rush").pluck(_id)"#,
            ids_of("orders", |o| {
                eq(o, "EmployeeID", 289) || contains(o, "Comment", "Rush")
            }),
        ),
        case(
            "sales.orders.filter(Status = 1 and (EmployeeID = 289 or EmployeeID = 280)).pluck(_id)",
            ids_of("orders", |o| {
                eq(o, "Status", 1) && (eq(o, "EmployeeID", 289) || eq(o, "EmployeeID", 280))
            }),
        ),
        case(
            "sales.orders.filter(not EmployeeID = 289).count()",
            count_of("orders", |o| !eq(o, "EmployeeID", 289)),
        ),
        case(
            "sales.orders.filter(not (TotalDue > 100)).pluck(_id)",
            ids_of("orders", |o| !gt(o, "TotalDue", 100)),
        ),
        case(
            "sales.orders.filter(not not Status = 2).count()",
            count_of("orders", |o| eq(o, "Status", 2)),
        ),
        case(
            "sales.orders.filter(Status = 1 or Status = 2 and OnlineOrder = true).count()",
            count_of("orders", |o| {
                eq(o, "Status", 1) || (eq(o, "Status", 2) && eq(o, "OnlineOrder", true))
            }),
        ),
        case(
            "sales.orders.filter((Status = 1 or Status = 2) and OnlineOrder = true).count()",
            count_of("orders", |o| {
                (eq(o, "Status", 1) || eq(o, "Status", 2)) && eq(o, "OnlineOrder", true)
            }),
        ),
        case(
            "sales.orders.filter(Status = 3).filter(OnlineOrder = false).filter(TotalDue < 500).pluck(_id)",
            ids_of("orders", |o| {
                eq(o, "Status", 3) && eq(o, "OnlineOrder", false) && lt(o, "TotalDue", 500)
            }),
        ),
        case(
            "sales.orders.filter(TotalDue > 1000 and TotalDue <= 2000 and TotalDue != 1500).pluck(_id)",
            ids_of("orders", |o| {
                gt(o, "TotalDue", 1000)
                    && lte(o, "TotalDue", 2000)
                    && !eq(o, "TotalDue", 1500)
                    && present(o, "TotalDue").is_some()
            }),
        ),
        case(
            "sales.orders.filter(TotalDue > 5000 and TotalDue < 1000).count()",
            |_| oracle::count(0),
        ),
        case(
            "sales.orders.filter(TotalDue >= 3000 and TotalDue <= 3000.0).pluck(_id)",
            ids_of("orders", |o| eq(o, "TotalDue", 3000)),
        ),
        case(
            "sales.orders.filter(EmployeeID in [289, 290] and TotalDue > 10000).pluck(_id)",
            ids_of("orders", |o| {
                is_in(o, "EmployeeID", &[Bson::Int32(289), Bson::Int32(290)])
                    && gt(o, "TotalDue", 10_000)
            }),
        ),
        case(
            "sales.orders.filter(EmployeeID = 281 and TotalDue >= 2000 and TotalDue < 4000).pluck(_id)",
            ids_of("orders", |o| {
                eq(o, "EmployeeID", 281) && gte(o, "TotalDue", 2000) && lt(o, "TotalDue", 4000)
            }),
        ),
        case(
            r#"sales.customers.filter(Address.State = "TX" and Address.City startsWith "Da").pluck(_id)"#,
            ids_of("customers", |c| {
                eq(c, "Address.State", "TX") && starts(c, "Address.City", "Da")
            }),
        ),
        case(
            r#"sales.customers.filter(Address.State = "CA" and Address.City = "San Diego").count()"#,
            count_of("customers", |c| {
                eq(c, "Address.State", "CA") && eq(c, "Address.City", "San Diego")
            }),
        ),
        case(
            r#"sales.customers.filter(Address.City = "Austin").count()"#,
            count_of("customers", |c| eq(c, "Address.City", "Austin")),
        ),
        case(
            r#"sales.products.filter(Category = "Bikes" and SubCategory = "Road Bikes").pluck(_id)"#,
            ids_of("products", |p| {
                eq(p, "Category", "Bikes") && eq(p, "SubCategory", "Road Bikes")
            }),
        ),
        case(
            r#"sales.products.filter(Category in ["Bikes", "Clothing"] and SubCategory in ["Road Bikes", "Vests", "Jerseys"]).pluck(_id)"#,
            ids_of("products", |p| {
                is_in(p, "Category", &["Bikes".into(), "Clothing".into()])
                    && is_in(
                        p,
                        "SubCategory",
                        &["Road Bikes".into(), "Vests".into(), "Jerseys".into()],
                    )
            }),
        ),
        case(
            r#"sales.products.filter(Color = "Red" or Color = null).pluck(_id)"#,
            ids_of("products", |p| {
                eq(p, "Color", "Red") || present(p, "Color").is_none()
            }),
        ),
        case(
            "sales.orders.filter(EmployeeID > 285 and EmployeeID < 288 or CustomerID = 11005).pluck(_id)",
            ids_of("orders", |o| {
                (gt(o, "EmployeeID", 285) && lt(o, "EmployeeID", 288)) || eq(o, "CustomerID", 11005)
            }),
        ),
        case(
            "sales.orders.filter(not (EmployeeID = 289 or EmployeeID = null)).count()",
            count_of("orders", |o| {
                !(eq(o, "EmployeeID", 289) || present(o, "EmployeeID").is_none())
            }),
        ),
        case(
            "sales.orders.filter(_id >= 45000 and _id < 45010).pluck(_id)",
            ids_of("orders", |o| gte(o, "_id", 45_000) && lt(o, "_id", 45_010)),
        ),
        case(
            r#"sales.customers.filter(Points > 9007199254740991 and Points < 9007199254740994).pluck(_id, Points)"#,
            |d| {
                let r = rows(&d.customers, |c| {
                    gt(c, "Points", 9_007_199_254_740_991_i64)
                        && lt(c, "Points", 9_007_199_254_740_994_i64)
                });
                oracle::json(
                    &r.iter()
                        .map(|c| oracle::pluck(c, &["_id", "Points"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
    ]
}

#[test]
fn logic_agrees_with_the_oracle() -> Result<(), Disagreements> {
    agree_with_the_oracle(&cases())
}
