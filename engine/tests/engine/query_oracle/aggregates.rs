//! Aggregates: `groupBy`, `aggregate` and `having`, and how they combine with `orderBy`,
//! `skip`, `limit`, `pluck` and `count`.

use bson::{Bson, Document};
use serde_json::{Value, json};
use shinydb_engine::sample::SampleData;

use super::{Case, Disagreements, agree_with_the_oracle, case};
use crate::common::oracle::{self, Agg, rows};

/// groupBy, aggregate, having, and their interplay with orderBy / skip / limit / pluck / count.
pub(super) fn cases() -> Vec<Case> {
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

/// The oracle of a grouped read: the documents of `store` matching `pred`, grouped by `keys`
/// with the aggregates `aggs`, kept when `having` holds, ordered by `order`, paged by `skip` and
/// `limit`; without keys, the single row (or null).
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per part of the grouped read: filter, keys, aggregates, having, order, skip, limit"
)]
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

#[test]
fn aggregates_agree_with_the_oracle() -> Result<(), Disagreements> {
    agree_with_the_oracle(&cases())
}
