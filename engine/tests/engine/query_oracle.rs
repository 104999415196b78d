//! Every query here runs twice — on a store without indexes and on the same store with indexes —
//! and both results must equal what an independent oracle (plain iteration, tests/common/oracle.rs)
//! computes from the same sample data.

use std::collections::HashMap;

use bson::{Bson, Document, oid::ObjectId};
use serde_json::{Value, json};
use shinydb_engine::query::{QueryResult, execute, parse};
use shinydb_engine::sample::SampleData;

use crate::common::oracle::{self, Agg, CmpOp, json_eq, rows};
use crate::common::{Stores, run, store_of, stores};

type Expect = Box<dyn Fn(&SampleData) -> Value>;

struct Case {
    text: String,
    expect: Expect,
}

fn case(text: impl Into<String>, expect: impl Fn(&SampleData) -> Value + 'static) -> Case {
    Case {
        text: text.into(),
        expect: Box::new(expect),
    }
}

fn date(s: &str) -> Bson {
    Bson::DateTime(bson::DateTime::parse_rfc3339_str(s).expect("date"))
}

fn oid(s: &str) -> Bson {
    Bson::ObjectId(ObjectId::parse_str(s).expect("oid"))
}

/// `store.filter(path op literal)` for many fields, literals and every comparison operator.
fn comparison_cases() -> Vec<Case> {
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

fn ids_of(
    store: &'static str,
    pred: impl Fn(&Document) -> bool + 'static,
) -> impl Fn(&SampleData) -> Value {
    move |d| oracle::ids(&rows(d.store(store).expect("store"), &pred))
}

fn count_of(
    store: &'static str,
    pred: impl Fn(&Document) -> bool + 'static,
) -> impl Fn(&SampleData) -> Value {
    move |d| oracle::count(rows(d.store(store).expect("store"), &pred).len())
}

/// `in`, string operators, `exists`, null rules, literals and paths.
fn operator_cases() -> Vec<Case> {
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

/// Boolean logic, precedence, and index-friendly shapes (points, unions, merged ranges, compound
/// prefixes).
fn logic_cases() -> Vec<Case> {
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

fn sorted(
    store: &'static str,
    pred: impl Fn(&Document) -> bool + 'static,
    keys: Vec<(&'static str, bool)>,
    skip: usize,
    limit: Option<usize>,
    pluck: Vec<&'static str>,
) -> impl Fn(&SampleData) -> Value {
    move |d| {
        let mut r = rows(d.store(store).expect("store"), &pred);
        oracle::sort(&mut r, &keys);
        let r = oracle::page(r, skip, limit);
        if pluck.is_empty() {
            oracle::json(&r)
        } else {
            oracle::json(
                &r.iter()
                    .map(|x| oracle::pluck(x, &pluck))
                    .collect::<Vec<_>>(),
            )
        }
    }
}

/// orderBy, skip, limit, count, pluck, get.
fn call_cases() -> Vec<Case> {
    use oracle::{eq, gt};
    let all = |_: &Document| true;
    vec![
        case(
            "sales.orders.orderBy(TotalDue).limit(10).pluck(_id, TotalDue)",
            sorted(
                "orders",
                all,
                vec![("TotalDue", false)],
                0,
                Some(10),
                vec!["_id", "TotalDue"],
            ),
        ),
        case(
            "sales.orders.orderBy(TotalDue, desc).limit(10).pluck(_id, TotalDue)",
            sorted(
                "orders",
                all,
                vec![("TotalDue", true)],
                0,
                Some(10),
                vec!["_id", "TotalDue"],
            ),
        ),
        case(
            "sales.orders.orderBy(EmployeeID, desc).limit(20).pluck(_id, EmployeeID)",
            sorted(
                "orders",
                all,
                vec![("EmployeeID", true)],
                0,
                Some(20),
                vec!["_id", "EmployeeID"],
            ),
        ),
        case(
            "sales.orders.orderBy(EmployeeID).skip(3000).limit(50).pluck(_id, EmployeeID)",
            sorted(
                "orders",
                all,
                vec![("EmployeeID", false)],
                3000,
                Some(50),
                vec!["_id", "EmployeeID"],
            ),
        ),
        case(
            "sales.orders.orderBy(EmployeeID, desc).skip(3000).limit(50).pluck(_id)",
            sorted(
                "orders",
                all,
                vec![("EmployeeID", true)],
                3000,
                Some(50),
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.orderBy(EmployeeID).pluck(_id)",
            sorted(
                "orders",
                all,
                vec![("EmployeeID", false)],
                0,
                None,
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.orderBy(EmployeeID, asc).orderBy(TotalDue, desc).limit(30).pluck(_id)",
            sorted(
                "orders",
                all,
                vec![("EmployeeID", false), ("TotalDue", true)],
                0,
                Some(30),
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.orderBy(Status).orderBy(OnlineOrder, desc).orderBy(OrderDate).skip(7).limit(25).pluck(_id)",
            sorted(
                "orders",
                all,
                vec![
                    ("Status", false),
                    ("OnlineOrder", true),
                    ("OrderDate", false),
                ],
                7,
                Some(25),
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.orderBy(Priority).limit(60).pluck(_id, Priority)",
            sorted(
                "orders",
                all,
                vec![("Priority", false)],
                0,
                Some(60),
                vec!["_id", "Priority"],
            ),
        ),
        case(
            "sales.orders.orderBy(Priority, desc).limit(250).pluck(_id)",
            sorted(
                "orders",
                all,
                vec![("Priority", true)],
                0,
                Some(250),
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.orderBy(Comment, desc).limit(40).pluck(_id, Comment)",
            sorted(
                "orders",
                all,
                vec![("Comment", true)],
                0,
                Some(40),
                vec!["_id", "Comment"],
            ),
        ),
        case(
            "sales.orders.orderBy(Comment).skip(600).limit(10).pluck(_id)",
            sorted(
                "orders",
                all,
                vec![("Comment", false)],
                600,
                Some(10),
                vec!["_id"],
            ),
        ),
        case(
            "sales.vendors.orderBy(Score, desc).pluck(_id, Score)",
            sorted(
                "vendors",
                all,
                vec![("Score", true)],
                0,
                None,
                vec!["_id", "Score"],
            ),
        ),
        case(
            "sales.vendors.orderBy(Score).limit(3).pluck(_id, Score)",
            sorted(
                "vendors",
                all,
                vec![("Score", false)],
                0,
                Some(3),
                vec!["_id", "Score"],
            ),
        ),
        case(
            "sales.products.orderBy(ListPrice).skip(3).limit(5)",
            sorted(
                "products",
                all,
                vec![("ListPrice", false)],
                3,
                Some(5),
                vec![],
            ),
        ),
        case(
            "sales.products.orderBy(Rating, desc).limit(40).pluck(_id, Rating)",
            sorted(
                "products",
                all,
                vec![("Rating", true)],
                0,
                Some(40),
                vec!["_id", "Rating"],
            ),
        ),
        case(
            "sales.products.orderBy(Size).limit(300).pluck(_id)",
            sorted(
                "products",
                all,
                vec![("Size", false)],
                0,
                Some(300),
                vec!["_id"],
            ),
        ),
        case(
            "sales.customers.orderBy(Address.City).orderBy(LastName, desc).limit(15).pluck(_id, Address.City, LastName)",
            sorted(
                "customers",
                all,
                vec![("Address.City", false), ("LastName", true)],
                0,
                Some(15),
                vec!["_id", "Address.City", "LastName"],
            ),
        ),
        case(
            "sales.customers.orderBy(Points, desc).limit(12).pluck(_id, Points)",
            sorted(
                "customers",
                all,
                vec![("Points", true)],
                0,
                Some(12),
                vec!["_id", "Points"],
            ),
        ),
        case(
            "sales.customers.orderBy(Email).limit(5).pluck(_id)",
            sorted(
                "customers",
                all,
                vec![("Email", false)],
                0,
                Some(5),
                vec!["_id"],
            ),
        ),
        case(
            "sales.customers.orderBy(Email, desc).skip(600).pluck(_id)",
            sorted(
                "customers",
                all,
                vec![("Email", true)],
                600,
                None,
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.filter(EmployeeID = 289).orderBy(TotalDue).limit(7).pluck(_id, TotalDue)",
            sorted(
                "orders",
                |o| eq(o, "EmployeeID", 289),
                vec![("TotalDue", false)],
                0,
                Some(7),
                vec!["_id", "TotalDue"],
            ),
        ),
        case(
            "sales.orders.limit(7).orderBy(TotalDue, desc).filter(EmployeeID = 283).pluck(_id)",
            sorted(
                "orders",
                |o| eq(o, "EmployeeID", 283),
                vec![("TotalDue", true)],
                0,
                Some(7),
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.filter(TotalDue > 30000).orderBy(OrderDate, desc).limit(4).pluck(_id, OrderDate)",
            sorted(
                "orders",
                |o| gt(o, "TotalDue", 30_000),
                vec![("OrderDate", true)],
                0,
                Some(4),
                vec!["_id", "OrderDate"],
            ),
        ),
        case(
            "sales.orders.filter(OnlineOrder = true).orderBy(TotalDue).limit(5).pluck(_id)",
            sorted(
                "orders",
                |o| eq(o, "OnlineOrder", true),
                vec![("TotalDue", false)],
                0,
                Some(5),
                vec!["_id"],
            ),
        ),
        case(
            "sales.orders.orderBy(_id, desc).limit(3).pluck(_id)",
            sorted("orders", all, vec![("_id", true)], 0, Some(3), vec!["_id"]),
        ),
        case(
            "sales.orders.orderBy(_id).skip(2).limit(3).pluck(_id)",
            sorted("orders", all, vec![("_id", false)], 2, Some(3), vec!["_id"]),
        ),
        case(
            "sales.orders.orderBy(OrderDate).limit(5).pluck(OrderDate)",
            sorted(
                "orders",
                all,
                vec![("OrderDate", false)],
                0,
                Some(5),
                vec!["OrderDate"],
            ),
        ),
        case("sales.orders.skip(3800).count()", |_| oracle::count(6)),
        case("sales.orders.limit(10).count()", |_| oracle::count(10)),
        case("sales.orders.skip(3800).limit(3).count()", |_| {
            oracle::count(3)
        }),
        case("sales.orders.skip(5000).count()", |_| oracle::count(0)),
        case("sales.orders.count()", |d| oracle::count(d.orders.len())),
        case("sales.orders.orderBy(TotalDue).limit(10).count()", |_| {
            oracle::count(10)
        }),
        case(
            "sales.orders.filter(EmployeeID = 289).skip(10).count()",
            count_of("orders", |o| eq(o, "EmployeeID", 289)).pipe_sub(10),
        ),
        case(
            "sales.orders.skip(5).limit(3).pluck(_id)",
            sorted("orders", all, vec![], 5, Some(3), vec!["_id"]),
        ),
        case("sales.orders.limit(0)", |_| json!([])),
        case("sales.orders.skip(99999).pluck(_id)", |_| json!([])),
        case("sales.employees", |d| oracle::json(&d.employees)),
        case("sales.employees.pluck(FullName, Missing, Territory)", |d| {
            oracle::json(
                &d.employees
                    .iter()
                    .map(|e| oracle::pluck(e, &["FullName", "Missing", "Territory"]))
                    .collect::<Vec<_>>(),
            )
        }),
        case(
            "sales.orders.filter(_id < 43665).pluck(_id, LineItems)",
            sorted(
                "orders",
                |o| oracle::lt(o, "_id", 43_665),
                vec![],
                0,
                None,
                vec!["_id", "LineItems"],
            ),
        ),
        case(
            "sales.orders.filter(_id < 43662).pluck(ShipAddress.City, ShipAddress.State, _id)",
            sorted(
                "orders",
                |o| oracle::lt(o, "_id", 43_662),
                vec![],
                0,
                None,
                vec!["ShipAddress.City", "ShipAddress.State", "_id"],
            ),
        ),
        case("sales.orders.get(43700)", |d| {
            oracle::json(&rows(&d.orders, |o| eq(o, "_id", 43_700)))
        }),
        case("sales.orders.get(43700).pluck(TotalDue)", |d| {
            oracle::json(
                &rows(&d.orders, |o| eq(o, "_id", 43_700))
                    .iter()
                    .map(|o| oracle::pluck(o, &["TotalDue"]))
                    .collect::<Vec<_>>(),
            )
        }),
        case("sales.orders.get(99)", |_| json!([])),
        case("sales.orders.get(\"43700\")", |_| json!([])),
        case("sales.orders.get(43700).filter(TotalDue > 1e9)", |_| {
            json!([])
        }),
        case("sales.orders.get(43701).count()", |_| oracle::count(1)),
        case(
            r#"sales.vendors.get(oid("657e00000000000000000009")).pluck(_id, Name)"#,
            |d| {
                oracle::json(
                    &rows(&d.vendors, |v| {
                        eq(v, "_id", oid("657e00000000000000000009"))
                    })
                    .iter()
                    .map(|v| oracle::pluck(v, &["_id", "Name"]))
                    .collect::<Vec<_>>(),
                )
            },
        ),
        case("sales.products.all().count()", |d| {
            oracle::count(d.products.len())
        }),
    ]
}

trait PipeSub {
    fn pipe_sub(self, n: usize) -> Box<dyn Fn(&SampleData) -> Value>;
}

impl<F: Fn(&SampleData) -> Value + 'static> PipeSub for F {
    /// A count result minus `n` (for `skip(n).count()`).
    fn pipe_sub(self, n: usize) -> Box<dyn Fn(&SampleData) -> Value> {
        Box::new(move |d| {
            let c = self(d)["count"].as_u64().unwrap_or(0) as usize;
            oracle::count(c.saturating_sub(n))
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn groups(
    store: &'static str,
    pred: impl Fn(&Document) -> bool + 'static,
    keys: Vec<&'static str>,
    aggs: impl Fn() -> Vec<(&'static str, Agg<'static>)> + 'static,
    having: impl Fn(&Document) -> bool + 'static,
    order: Vec<(&'static str, bool)>,
    skip: usize,
    limit: Option<usize>,
) -> impl Fn(&SampleData) -> Value {
    move |d| {
        let r = rows(d.store(store).expect("store"), &pred);
        let mut g: Vec<Document> = oracle::group(&r, &keys, &aggs())
            .into_iter()
            .filter(|row| having(row))
            .collect();
        oracle::sort(&mut g, &order);
        let g = oracle::page(g, skip, limit);
        if keys.is_empty() {
            g.into_iter().next().map_or(Value::Null, |row| {
                Bson::Document(row).into_relaxed_extjson()
            })
        } else {
            oracle::json(&g)
        }
    }
}

/// groupBy, aggregate, having, and their interplay with orderBy / skip / limit / pluck / count.
fn aggregate_cases() -> Vec<Case> {
    use oracle::{eq, gt, lt};
    let all = |_: &Document| true;
    let yes = |_: &Document| true;
    vec![
        case(
            "sales.orders.aggregate(n: count, total: sum(TotalDue))",
            groups(
                "orders",
                all,
                vec![],
                || vec![("n", Agg::Count), ("total", Agg::Sum("TotalDue"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.filter(TotalDue > 100).groupBy(EmployeeID).aggregate(n: count, total: sum(TotalDue)).having(n > 10).orderBy(total, desc)",
            groups(
                "orders",
                |o| gt(o, "TotalDue", 100),
                vec!["EmployeeID"],
                || vec![("n", Agg::Count), ("total", Agg::Sum("TotalDue"))],
                |r| gt(r, "n", 10),
                vec![("total", true)],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("n", Agg::Count)],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(Priority).aggregate(n: count, s: sum(Priority), lo: min(Priority), hi: max(Priority))",
            groups(
                "orders",
                all,
                vec!["Priority"],
                || {
                    vec![
                        ("n", Agg::Count),
                        ("s", Agg::Sum("Priority")),
                        ("lo", Agg::Min("Priority")),
                        ("hi", Agg::Max("Priority")),
                    ]
                },
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(ShipAddress.State).aggregate(avg: avg(TotalDue), min: min(TotalDue), max: max(TotalDue))",
            groups(
                "orders",
                all,
                vec!["ShipAddress.State"],
                || {
                    vec![
                        ("avg", Agg::Avg("TotalDue")),
                        ("min", Agg::Min("TotalDue")),
                        ("max", Agg::Max("TotalDue")),
                    ]
                },
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.customers.groupBy(Address.State, Address.City).aggregate(n: count)",
            groups(
                "customers",
                all,
                vec!["Address.State", "Address.City"],
                || vec![("n", Agg::Count)],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.products.groupBy(Category).aggregate(n: count, withColor: count(Color), avgPrice: avg(ListPrice), w: sum(Weight))",
            groups(
                "products",
                all,
                vec!["Category"],
                || {
                    vec![
                        ("n", Agg::Count),
                        ("withColor", Agg::CountOf("Color")),
                        ("avgPrice", Agg::Avg("ListPrice")),
                        ("w", Agg::Sum("Weight")),
                    ]
                },
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.products.groupBy(Rating).aggregate(n: count)",
            groups(
                "products",
                all,
                vec!["Rating"],
                || vec![("n", Agg::Count)],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.products.groupBy(Size).aggregate(n: count, p: max(ListPrice))",
            groups(
                "products",
                all,
                vec!["Size"],
                || vec![("n", Agg::Count), ("p", Agg::Max("ListPrice"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.filter(TotalDue < 0).aggregate(n: count, s: sum(TotalDue), a: avg(TotalDue), mn: min(TotalDue), mx: max(TotalDue))",
            |_| json!({"n": 0, "s": 0, "a": null, "mn": null, "mx": null}),
        ),
        case(
            "sales.orders.filter(TotalDue < 0).groupBy(EmployeeID).aggregate(n: count)",
            |_| json!([]),
        ),
        case(
            "sales.orders.groupBy(Status)",
            groups(
                "orders",
                all,
                vec!["Status"],
                Vec::new,
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case("sales.orders.groupBy(Status).count()", |_| oracle::count(5)),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count).orderBy(n, desc).limit(3)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("n", Agg::Count)],
                yes,
                vec![("n", true)],
                0,
                Some(3),
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count).skip(2).limit(2)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("n", Agg::Count)],
                yes,
                vec![],
                2,
                Some(2),
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count).orderBy(EmployeeID, desc)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("n", Agg::Count)],
                yes,
                vec![("EmployeeID", true)],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.filter(EmployeeID = 289 or EmployeeID = 290).aggregate(n: count)",
            groups(
                "orders",
                |o| eq(o, "EmployeeID", 289) || eq(o, "EmployeeID", 290),
                vec![],
                || vec![("n", Agg::Count)],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.aggregate(s: sum(Status), n: count(EmployeeID), c: count(Comment))",
            groups(
                "orders",
                all,
                vec![],
                || {
                    vec![
                        ("s", Agg::Sum("Status")),
                        ("n", Agg::CountOf("EmployeeID")),
                        ("c", Agg::CountOf("Comment")),
                    ]
                },
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.customers.filter(Points > 9007199254740991).aggregate(s: sum(Points), n: count)",
            groups(
                "customers",
                |c| gt(c, "Points", 9_007_199_254_740_991_i64),
                vec![],
                || vec![("s", Agg::Sum("Points")), ("n", Agg::Count)],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.customers.filter(Points > 9007199254740992).aggregate(s: sum(Points), hi: max(Points))",
            groups(
                "customers",
                |c| gt(c, "Points", 9_007_199_254_740_992_i64),
                vec![],
                || vec![("s", Agg::Sum("Points")), ("hi", Agg::Max("Points"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.employees.aggregate(q: sum(Quota), n: count(Quota), a: avg(Quota))",
            groups(
                "employees",
                all,
                vec![],
                || {
                    vec![
                        ("q", Agg::Sum("Quota")),
                        ("n", Agg::CountOf("Quota")),
                        ("a", Agg::Avg("Quota")),
                    ]
                },
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.products.aggregate(mn: min(Rating), mx: max(Rating))",
            groups(
                "products",
                all,
                vec![],
                || vec![("mn", Agg::Min("Rating")), ("mx", Agg::Max("Rating"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.vendors.aggregate(mn: min(Score), mx: max(Score), avg: avg(Score))",
            groups(
                "vendors",
                all,
                vec![],
                || {
                    vec![
                        ("mn", Agg::Min("Score")),
                        ("mx", Agg::Max("Score")),
                        ("avg", Agg::Avg("Score")),
                    ]
                },
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.vendors.filter(Score < 1000).aggregate(avg: avg(Score), s: sum(Score))",
            groups(
                "vendors",
                |v| lt(v, "Score", 1000),
                vec![],
                || vec![("avg", Agg::Avg("Score")), ("s", Agg::Sum("Score"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(total: sum(TotalDue), n: count).having(total > 100000 and n >= 5).orderBy(total)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("total", Agg::Sum("TotalDue")), ("n", Agg::Count)],
                |r| gt(r, "total", 100_000) && oracle::gte(r, "n", 5),
                vec![("total", false)],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count).having(EmployeeID > 285)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("n", Agg::Count)],
                |r| gt(r, "EmployeeID", 285),
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count).having(EmployeeID = null)",
            groups(
                "orders",
                all,
                vec!["EmployeeID"],
                || vec![("n", Agg::Count)],
                |r| oracle::present(r, "EmployeeID").is_none(),
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count).having(n > 1000000)",
            |_| json!([]),
        ),
        case("sales.orders.aggregate(n: count).having(n < 10)", |_| {
            Value::Null
        }),
        case(
            "sales.orders.groupBy(EmployeeID).aggregate(n: count, total: sum(TotalDue)).pluck(EmployeeID)",
            |d| {
                let g = oracle::group(
                    &d.orders,
                    &["EmployeeID"],
                    &[("n", Agg::Count), ("total", Agg::Sum("TotalDue"))],
                );
                oracle::json(
                    &g.iter()
                        .map(|r| oracle::pluck(r, &["EmployeeID"]))
                        .collect::<Vec<_>>(),
                )
            },
        ),
        case(
            "sales.orders.aggregate(count: count, sum: sum(Freight))",
            groups(
                "orders",
                all,
                vec![],
                || vec![("count", Agg::Count), ("sum", Agg::Sum("Freight"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(OnlineOrder).aggregate(n: count, avg: avg(TotalDue))",
            groups(
                "orders",
                all,
                vec!["OnlineOrder"],
                || vec![("n", Agg::Count), ("avg", Agg::Avg("TotalDue"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.groupBy(OnlineOrder, Status).aggregate(n: count).orderBy(n, desc).orderBy(Status)",
            groups(
                "orders",
                all,
                vec!["OnlineOrder", "Status"],
                || vec![("n", Agg::Count)],
                yes,
                vec![("n", true), ("Status", false)],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.filter(Status = 5).groupBy(ShipAddress.State).aggregate(n: count, first: min(OrderDate), last: max(OrderDate)).orderBy(ShipAddress.State, desc).limit(5)",
            groups(
                "orders",
                |o| eq(o, "Status", 5),
                vec!["ShipAddress.State"],
                || {
                    vec![
                        ("n", Agg::Count),
                        ("first", Agg::Min("OrderDate")),
                        ("last", Agg::Max("OrderDate")),
                    ]
                },
                yes,
                vec![("ShipAddress.State", true)],
                0,
                Some(5),
            ),
        ),
        case(
            "sales.products.groupBy(VendorID).aggregate(n: count).orderBy(n, desc).limit(5)",
            groups(
                "products",
                all,
                vec!["VendorID"],
                || vec![("n", Agg::Count)],
                yes,
                vec![("n", true)],
                0,
                Some(5),
            ),
        ),
        case(
            "sales.customers.groupBy(`Loyalty Tier`).aggregate(n: count, pts: max(Points))",
            groups(
                "customers",
                all,
                vec!["Loyalty Tier"],
                || vec![("n", Agg::Count), ("pts", Agg::Max("Points"))],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.customers.groupBy(Tags).aggregate(n: count)",
            groups(
                "customers",
                all,
                vec!["Tags"],
                || vec![("n", Agg::Count)],
                yes,
                vec![],
                0,
                None,
            ),
        ),
        case(
            "sales.orders.filter(EmployeeID = 289).groupBy(Status).aggregate(n: count, sub: sum(SubTotal), tax: sum(TaxAmt)).orderBy(sub, desc).skip(1)",
            groups(
                "orders",
                |o| eq(o, "EmployeeID", 289),
                vec!["Status"],
                || {
                    vec![
                        ("n", Agg::Count),
                        ("sub", Agg::Sum("SubTotal")),
                        ("tax", Agg::Sum("TaxAmt")),
                    ]
                },
                yes,
                vec![("sub", true)],
                1,
                None,
            ),
        ),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut v = comparison_cases();
    v.extend(operator_cases());
    v.extend(logic_cases());
    v.extend(call_cases());
    v.extend(aggregate_cases());
    v
}

#[test]
fn the_engine_agrees_with_the_oracle_with_and_without_indexes() {
    let data = crate::common::sample_data();
    let cases = all_cases();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let mut by_store: HashMap<String, Stores> = HashMap::new();
    let engines = crate::common::engine_dbs(data);
    let mut engine_index_plans = 0;
    let mut failures = Vec::new();
    let mut index_plans = 0;
    for c in &cases {
        let name = store_of(&c.text);
        let s = by_store
            .entry(name.clone())
            .or_insert_with(|| stores(data, &name));
        let expected = (c.expect)(data);
        for (label, source) in [("without indexes", &s.plain), ("with indexes", &s.indexed)] {
            let got = run(source, &c.text).to_json();
            if !json_eq(&got, &expected) {
                let show = |v: &Value| {
                    let t = v.to_string();
                    if t.len() > 600 {
                        format!("{}...", &t[..600])
                    } else {
                        t
                    }
                };
                failures.push(format!(
                    "{} ({label})\n  got:      {}\n  expected: {}",
                    c.text,
                    show(&got),
                    show(&expected)
                ));
            }
        }
        for (label, db) in [
            ("engine without indexes", &engines.plain),
            ("engine with indexes", &engines.indexed),
        ] {
            match db.query_text(&c.text) {
                Ok(r) if json_eq(&r.to_json(), &expected) => {}
                Ok(r) => failures.push(format!(
                    "{} ({label})\n  got:      {}\n  expected: {}",
                    c.text,
                    r.to_json(),
                    expected
                )),
                Err(e) => failures.push(format!("{} ({label}): {e}", c.text)),
            }
        }
        let mut q = parse(&c.text).expect("parse");
        q.explain = true;
        if let Ok(QueryResult::Explain(e)) = engines.indexed.query(&q) {
            let json = e.access.to_json();
            if json["type"] == "index" || json["type"] == "union" {
                engine_index_plans += 1;
            }
        }
        if let Ok(QueryResult::Explain(e)) = execute(&s.indexed, None, &q) {
            let json = e.access.to_json();
            if json["type"] == "index" || json["type"] == "union" {
                index_plans += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(index_plans >= 60, "only {index_plans} cases used an index");
    assert!(
        engine_index_plans >= 60,
        "only {engine_index_plans} cases used an engine index"
    );
}
