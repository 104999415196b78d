//! Operators: `in`, the string operators, `exists`, the null rules, literals and paths.

use bson::Bson;

use super::{Case, Disagreements, agree_with_the_oracle, case, count_of, date, ids_of, oid};
use crate::common::oracle::{self, rows};

/// `in`, string operators, `exists`, null rules, literals and paths.
pub(super) fn cases() -> Vec<Case> {
    use oracle::{contains, eq, exists, is_in, matches_re, present, starts};
    vec![
        case(
            "sales.orders.filter(EmployeeID in [289, 290, 275.0]).pluck(_id)",
            ids_of("orders", |o| {
                is_in(
                    o,
                    "EmployeeID",
                    &[Bson::Int32(289), Bson::Int32(290), Bson::Double(275.0)],
                )
            }),
        ),
        case(
            "sales.orders.filter(EmployeeID in [null]).count()",
            count_of("orders", |o| present(o, "EmployeeID").is_none()),
        ),
        case(
            "sales.orders.filter(EmployeeID in [null, 289]).pluck(_id)",
            ids_of("orders", |o| {
                present(o, "EmployeeID").is_none() || eq(o, "EmployeeID", 289)
            }),
        ),
        case("sales.orders.filter(EmployeeID in []).count()", |_| {
            oracle::count(0)
        }),
        case(
            "sales.orders.filter(Priority in [\"3\", 1]).pluck(_id)",
            ids_of("orders", |o| {
                is_in(o, "Priority", &[Bson::from("3"), Bson::Int32(1)])
            }),
        ),
        case(
            r#"sales.customers.filter(Address.State in ["CA", "TX"]).pluck(FullName, Address.City)"#,
            |d| {
                let r = rows(&d.customers, |c| {
                    is_in(c, "Address.State", &[Bson::from("CA"), Bson::from("TX")])
                });
                oracle::json(
                    &r.iter()
                        .map(|c| oracle::pluck(c, &["FullName", "Address.City"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            r#"sales.products.filter(ProductName contains "Road").pluck(_id)"#,
            ids_of("products", |p| contains(p, "ProductName", "Road")),
        ),
        case(
            r#"sales.products.filter(ProductName contains "road").count()"#,
            count_of("products", |p| contains(p, "ProductName", "road")),
        ),
        case(
            r#"sales.products.filter(ProductName startsWith "Road-").pluck(_id)"#,
            ids_of("products", |p| starts(p, "ProductName", "Road-")),
        ),
        case(
            r#"sales.products.filter(ProductName startsWith "").count()"#,
            count_of("products", |p| starts(p, "ProductName", "")),
        ),
        case(
            r#"sales.products.filter(ProductName startsWith "ML Mountain Frame - B").pluck(_id, ProductName)"#,
            |d| {
                let r = rows(&d.products, |p| {
                    starts(p, "ProductName", "ML Mountain Frame - B")
                });
                oracle::json(
                    &r.iter()
                        .map(|p| oracle::pluck(p, &["_id", "ProductName"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            r#"sales.products.filter(ProductName ~ "^Mountain-[0-9]+ Black").pluck(_id)"#,
            ids_of("products", |p| {
                matches_re(p, "ProductName", "^Mountain-[0-9]+ Black")
            }),
        ),
        case(
            r#"sales.products.filter(ProductName ~ "Frame").count()"#,
            count_of("products", |p| matches_re(p, "ProductName", "Frame")),
        ),
        case(
            r#"sales.orders.filter(Comment ~ "(?i)rush").pluck(_id)"#,
            ids_of("orders", |o| matches_re(o, "Comment", "(?i)rush")),
        ),
        case(
            r#"sales.orders.filter(Comment ~ "").count()"#,
            count_of("orders", |o| matches_re(o, "Comment", "")),
        ),
        case(
            r#"sales.orders.filter(Comment contains "Rush").pluck(_id)"#,
            ids_of("orders", |o| contains(o, "Comment", "Rush")),
        ),
        case(
            r#"sales.products.filter(Rating contains "n").count()"#,
            count_of("products", |p| contains(p, "Rating", "n")),
        ),
        case(
            r#"sales.products.filter(Size startsWith "X").pluck(_id)"#,
            ids_of("products", |p| starts(p, "Size", "X")),
        ),
        case(
            "sales.customers.filter(Email exists).count()",
            count_of("customers", |c| exists(c, "Email")),
        ),
        case(
            "sales.customers.filter(Email exists true).pluck(_id)",
            ids_of("customers", |c| exists(c, "Email")),
        ),
        case(
            "sales.customers.filter(Email exists false).pluck(_id)",
            ids_of("customers", |c| !exists(c, "Email")),
        ),
        case(
            "sales.customers.filter(Email = null).pluck(_id)",
            ids_of("customers", |c| present(c, "Email").is_none()),
        ),
        case(
            "sales.customers.filter(Email != null).count()",
            count_of("customers", |c| present(c, "Email").is_some()),
        ),
        case(
            "sales.orders.filter(EmployeeID = null).count()",
            count_of("orders", |o| present(o, "EmployeeID").is_none()),
        ),
        case(
            "sales.orders.filter(EmployeeID != null).count()",
            count_of("orders", |o| present(o, "EmployeeID").is_some()),
        ),
        case(
            "sales.products.filter(Color exists false).pluck(_id)",
            ids_of("products", |p| !exists(p, "Color")),
        ),
        case(
            "sales.employees.filter(ManagerID = null).pluck(_id, FullName)",
            |d| {
                let r = rows(&d.employees, |e| present(e, "ManagerID").is_none());
                oracle::json(
                    &r.iter()
                        .map(|e| oracle::pluck(e, &["_id", "FullName"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            "sales.customers.filter(`Loyalty Tier` = \"Gold\").pluck(_id, `Loyalty Tier`)",
            |d| {
                let r = rows(&d.customers, |c| eq(c, "Loyalty Tier", "Gold"));
                oracle::json(
                    &r.iter()
                        .map(|c| oracle::pluck(c, &["_id", "Loyalty Tier"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            r#"sales.customers.filter(Tags = ["retail"]).pluck(_id)"#,
            ids_of("customers", |c| {
                eq(c, "Tags", Bson::Array(vec!["retail".into()]))
            }),
        ),
        case(
            r#"sales.customers.filter(Tags = []).count()"#,
            count_of("customers", |c| eq(c, "Tags", Bson::Array(vec![]))),
        ),
        case(
            r#"sales.customers.filter(AccountId = oid("65c000000000000000000005")).pluck(_id)"#,
            ids_of("customers", |c| {
                eq(c, "AccountId", oid("65c000000000000000000005"))
            }),
        ),
        case(
            r#"sales.customers.filter(AccountId = {"$oid": "65c000000000000000000007"}).pluck(_id)"#,
            ids_of("customers", |c| {
                eq(c, "AccountId", oid("65c000000000000000000007"))
            }),
        ),
        case(
            r#"sales.orders.filter(OrderDate >= date("2024-01-01T00:00:00Z") and OrderDate < date("2024-02-01T00:00:00Z")).pluck(_id)"#,
            ids_of("orders", |o| {
                oracle::gte(o, "OrderDate", date("2024-01-01T00:00:00Z"))
                    && oracle::lt(o, "OrderDate", date("2024-02-01T00:00:00Z"))
            }),
        ),
        case(
            "sales.orders.filter(TotalDue > 1e4).count()",
            count_of("orders", |o| oracle::gt(o, "TotalDue", 10_000.0)),
        ),
        case("sales.orders.filter(TotalDue < -1).count()", |_| {
            oracle::count(0)
        }),
        case(
            "sales.orders.filter(TotalDue >= -1.5e-3).count()",
            count_of("orders", |o| oracle::gte(o, "TotalDue", -0.0015)),
        ),
        case(
            r#"sales.customers.filter(LastName = 'O\'Brien').pluck(_id)"#,
            ids_of("customers", |c| eq(c, "LastName", "O'Brien")),
        ),
        case(
            r#"sales.customers.filter(LastName = "O'Brien").count()"#,
            count_of("customers", |c| eq(c, "LastName", "O'Brien")),
        ),
        case(
            r#"sales.customers.filter(FirstName = "Jos\u00e9").pluck(_id)"#,
            ids_of("customers", |c| eq(c, "FirstName", "José")),
        ),
        case(
            r#"sales.customers.filter(Email contains "\u00e9").count()"#,
            count_of("customers", |c| contains(c, "Email", "é")),
        ),
        case(
            r#"sales.orders.filter(ShipAddress.City = "San Francisco").pluck(_id, ShipAddress)"#,
            |d| {
                let r = rows(&d.orders, |o| eq(o, "ShipAddress.City", "San Francisco"));
                oracle::json(
                    &r.iter()
                        .map(|o| oracle::pluck(o, &["_id", "ShipAddress"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            "sales.orders.filter(LineItems.ProductID = 700).count()",
            |_| oracle::count(0),
        ),
        case(
            "sales.orders.filter(LineItems.ProductID = null).count()",
            |d| oracle::count(d.orders.len()),
        ),
        case(
            "sales.orders.filter(ShipAddress.City.Name exists).count()",
            |_| oracle::count(0),
        ),
        case(
            r#"sales.vendors.filter(Address = {"City": "Seattle", "State": "WA", "PostalCode": "98100"}).count()"#,
            count_of("vendors", |v| {
                eq(
                    v,
                    "Address",
                    Bson::Document(
                        bson::doc! {"City": "Seattle", "State": "WA", "PostalCode": "98100"},
                    ),
                )
            }),
        ),
        case(
            "sales.vendors.filter(WebsiteURL = null).pluck(_id)",
            ids_of("vendors", |v| present(v, "WebsiteURL").is_none()),
        ),
        case(
            "sales.vendors.filter(Score >= 0).count()",
            count_of("vendors", |v| oracle::gte(v, "Score", 0)),
        ),
        case(
            "sales.vendors.filter(Score < 0).pluck(_id)",
            ids_of("vendors", |v| oracle::lt(v, "Score", 0)),
        ),
        case(
            "sales.employees.filter(Quota exists).pluck(_id, Quota)",
            |d| {
                let r = rows(&d.employees, |e| exists(e, "Quota"));
                oracle::json(
                    &r.iter()
                        .map(|e| oracle::pluck(e, &["_id", "Quota"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            "sales.employees.filter(Active = false).pluck(_id)",
            ids_of("employees", |e| eq(e, "Active", false)),
        ),
    ]
}

#[test]
fn operators_agree_with_the_oracle() -> Result<(), Disagreements> {
    agree_with_the_oracle(&cases())
}
