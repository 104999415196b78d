//! Calls: `orderBy`, `skip`, `limit`, `count`, `pluck` and `get`, alone and chained.

use bson::Document;
use serde_json::{Value, json};
use shinydb_engine::sample::SampleData;

use super::{Case, Disagreements, agree_with_the_oracle, case, count_of, oid};
use crate::common::oracle::{self, rows};

/// orderBy, skip, limit, count, pluck, get.
pub(super) fn cases() -> Vec<Case> {
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

/// The oracle of a sorted read: the documents of `store` matching `pred`, ordered by `keys`
/// (`true` = descending), paged by `skip` and `limit`, whole or plucked to `pluck`.
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

/// Turns a count oracle into the oracle of the same count after a `skip(n)`.
trait PipeSub {
    /// A count result minus `n` (for `skip(n).count()`).
    fn pipe_sub(self, n: usize) -> Box<dyn Fn(&SampleData) -> Value>;
}

impl<F: Fn(&SampleData) -> Value + 'static> PipeSub for F {
    fn pipe_sub(self, n: usize) -> Box<dyn Fn(&SampleData) -> Value> {
        Box::new(move |d| {
            let c = self(d)["count"].as_u64().unwrap_or(0) as usize;
            oracle::count(c.saturating_sub(n))
        })
    }
}

#[test]
fn calls_agree_with_the_oracle() -> Result<(), Disagreements> {
    agree_with_the_oracle(&cases())
}
