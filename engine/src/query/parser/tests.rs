use bson::{Bson, doc, oid::ObjectId};

use super::*;
use crate::query::ir::{AggFn, Aggregate, Direction, Expr, Op, SortKey};

fn q(text: &str) -> Query {
    match parse(text) {
        Ok(q) => q,
        Err(e) => panic!("{text}: {e}"),
    }
}

/// The first line of the error: position and message.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(q) => panic!("{text} parsed: {q:?}"),
        Err(e) => e.to_string().lines().next().unwrap_or_default().to_string(),
    }
}

fn p(s: &str) -> FieldPath {
    s.parse().expect("path")
}

fn pred(path: &str, op: Op) -> Expr {
    Expr::pred(p(path), op)
}

fn filter(text: &str) -> Expr {
    q(&format!("s.t.filter({text})")).filter.expect("filter")
}

#[test]
fn the_issue_examples_parse() {
    let c = q("sales.orders.count()");
    assert_eq!(c.space.as_deref(), Some("sales"));
    assert_eq!(c.store, "orders");
    assert!(c.count);

    let f = q(
        "sales.orders.filter(EmployeeID = 289 and TotalDue > 1000).orderBy(TotalDue, desc).limit(5)",
    );
    assert_eq!(
        f.filter,
        Some(Expr::And(vec![
            pred("EmployeeID", Op::Eq(Bson::Int32(289))),
            pred("TotalDue", Op::Gt(Bson::Int32(1000))),
        ]))
    );
    assert_eq!(
        f.order_by,
        vec![SortKey {
            path: p("TotalDue"),
            direction: Direction::Desc
        }]
    );
    assert_eq!(f.limit, Some(5));

    let c =
        q(r#"sales.customers.filter(Address.State in ["CA", "TX"]).pluck(FullName, Address.City)"#);
    assert_eq!(
        c.filter,
        Some(pred(
            "Address.State",
            Op::In(vec!["CA".into(), "TX".into()])
        ))
    );
    assert_eq!(c.pluck, Some(vec![p("FullName"), p("Address.City")]));

    let g = q(
        "sales.orders.filter(TotalDue > 100).groupBy(EmployeeID).aggregate(n: count, total: sum(TotalDue)).having(n > 10).orderBy(total, desc)",
    );
    assert_eq!(g.group_by, vec![p("EmployeeID")]);
    assert_eq!(
        g.aggregates,
        vec![
            Aggregate {
                alias: "n".into(),
                function: AggFn::Count
            },
            Aggregate {
                alias: "total".into(),
                function: AggFn::Sum(p("TotalDue"))
            },
        ]
    );
    assert_eq!(g.having, Some(pred("n", Op::Gt(Bson::Int32(10)))));

    let e = q(
        r#"sales.products.filter(not (ProductName contains "Road") or ListPrice >= 1000).explain()"#,
    );
    assert!(e.explain);
    assert_eq!(
        e.filter,
        Some(Expr::Or(vec![
            Expr::Not(Box::new(pred("ProductName", Op::Contains("Road".into())))),
            pred("ListPrice", Op::Gte(Bson::Int32(1000))),
        ]))
    );
}

#[test]
fn namespaces_and_calls_are_told_apart_by_the_parenthesis() {
    let one = q("orders.count()");
    assert_eq!((one.space, one.store.as_str()), (None, "orders"));
    let limit_store = q("sales.limit.count()");
    assert_eq!(limit_store.space.as_deref(), Some("sales"));
    assert_eq!(limit_store.store, "limit");
    let bare = q("sales.orders");
    assert_eq!(bare.store, "orders");
    assert!(bare.filter.is_none());
    let quoted = q("`my space`.`my.store`.count()");
    assert_eq!(quoted.space.as_deref(), Some("my space"));
    assert_eq!(quoted.store, "my.store");
}

#[test]
fn call_order_does_not_matter_and_filters_are_joined() {
    assert_eq!(
        q("s.t.limit(5).filter(x = 1).skip(2)"),
        q("s.t.filter(x = 1).skip(2).limit(5)")
    );
    assert_eq!(
        q("s.t.filter(a = 1).filter(b = 2 or c = 3)").filter,
        Some(Expr::And(vec![
            pred("a", Op::Eq(Bson::Int32(1))),
            Expr::Or(vec![
                pred("b", Op::Eq(Bson::Int32(2))),
                pred("c", Op::Eq(Bson::Int32(3)))
            ]),
        ]))
    );
    let multi = q("s.t.orderBy(a).orderBy(b, desc).orderBy(c, asc)");
    assert_eq!(
        multi
            .order_by
            .iter()
            .map(|k| k.direction)
            .collect::<Vec<_>>(),
        vec![Direction::Asc, Direction::Desc, Direction::Asc]
    );
    // limit and skip: the last one wins, as in the original.
    assert_eq!(q("s.t.limit(5).limit(7)").limit, Some(7));
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    let a = pred("a", Op::Eq(Bson::Int32(1)));
    let b = pred("b", Op::Eq(Bson::Int32(2)));
    let c = pred("c", Op::Eq(Bson::Int32(3)));
    assert_eq!(
        filter("a = 1 or b = 2 and c = 3"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        filter("not a = 1 and b = 2"),
        Expr::And(vec![Expr::Not(Box::new(a.clone())), b.clone()])
    );
    assert_eq!(
        filter("(a = 1 or b = 2) and c = 3"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        filter("not not a = 1"),
        Expr::Not(Box::new(Expr::Not(Box::new(a))))
    );
}

#[test]
fn keywords_are_contextual() {
    assert_eq!(filter("count = 1"), pred("count", Op::Eq(Bson::Int32(1))));
    assert_eq!(filter("not = 1"), pred("not", Op::Eq(Bson::Int32(1))));
    assert_eq!(filter("not exists"), pred("not", Op::Exists(true)));
    assert_eq!(
        filter("and in [1]"),
        pred("and", Op::In(vec![Bson::Int32(1)]))
    );
    assert_eq!(
        filter("or.and >= 2"),
        pred("or.and", Op::Gte(Bson::Int32(2)))
    );
    assert_eq!(
        filter("`first name` = 'Ann' and `a``b`.c != 1"),
        Expr::And(vec![
            Expr::pred(
                FieldPath::field("first name").expect("path"),
                Op::Eq("Ann".into())
            ),
            Expr::pred(
                FieldPath::new(vec!["a`b".into(), "c".into()]).expect("path"),
                Op::Ne(Bson::Int32(1))
            ),
        ])
    );
    let agg = q("s.t.aggregate(count: count, avg: avg(x), sum: count(sum))");
    assert_eq!(agg.aggregates.len(), 3);
    assert_eq!(agg.aggregates[2].function, AggFn::CountField(p("sum")));
    assert_eq!(
        q("s.t.filter(AND = 1)").filter,
        Some(pred("AND", Op::Eq(Bson::Int32(1))))
    );
}

#[test]
fn every_operator_parses() {
    assert_eq!(filter("x != 'a'"), pred("x", Op::Ne("a".into())));
    assert_eq!(filter("x < 1"), pred("x", Op::Lt(Bson::Int32(1))));
    assert_eq!(filter("x <= 1"), pred("x", Op::Lte(Bson::Int32(1))));
    assert_eq!(filter("x>=1"), pred("x", Op::Gte(Bson::Int32(1))));
    assert_eq!(
        filter("x startsWith \"Ro\""),
        pred("x", Op::StartsWith("Ro".into()))
    );
    assert_eq!(
        filter("x ~ '^R.*d$'"),
        pred("x", Op::Regex("^R.*d$".into()))
    );
    assert_eq!(filter("x exists true"), pred("x", Op::Exists(true)));
    assert_eq!(filter("x exists false"), pred("x", Op::Exists(false)));
    assert_eq!(
        filter("x exists and y = 1"),
        Expr::And(vec![
            pred("x", Op::Exists(true)),
            pred("y", Op::Eq(Bson::Int32(1)))
        ])
    );
    assert_eq!(filter("x = null"), pred("x", Op::Eq(Bson::Null)));
    assert_eq!(filter("x in []"), pred("x", Op::In(vec![])));
}

#[test]
fn literals_parse_to_typed_values() {
    let v = |text: &str| match filter(&format!("x = {text}")) {
        Expr::Pred(p) => match p.op {
            Op::Eq(v) => v,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(v("5"), Bson::Int32(5));
    assert_eq!(v("-2147483649"), Bson::Int64(-2_147_483_649));
    assert_eq!(v("9223372036854775807"), Bson::Int64(i64::MAX));
    assert_eq!(v("1.5183"), Bson::Double(1.5183));
    assert_eq!(v("2e3"), Bson::Double(2000.0));
    assert_eq!(v("-1.25E-2"), Bson::Double(-0.0125));
    assert_eq!(v("true"), Bson::Boolean(true));
    assert_eq!(v("false"), Bson::Boolean(false));
    assert_eq!(v(r#""a\"b\\c\n\u00e9""#), Bson::String("a\"b\\c\né".into()));
    assert_eq!(
        v(r#"'say "hi" it\'s'"#),
        Bson::String("say \"hi\" it's".into())
    );
    let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").expect("oid");
    assert_eq!(v(r#"oid("65a1b2c3d4e5f60718293a4b")"#), Bson::ObjectId(oid));
    assert_eq!(
        v(r#"{"$oid": "65a1b2c3d4e5f60718293a4b"}"#),
        Bson::ObjectId(oid)
    );
    let date = bson::DateTime::parse_rfc3339_str("2026-01-31T12:00:00Z").expect("date");
    assert_eq!(v(r#"date("2026-01-31T12:00:00Z")"#), Bson::DateTime(date));
    assert_eq!(
        v(r#"{"$date": "2026-01-31T12:00:00Z"}"#),
        Bson::DateTime(date)
    );
    assert_eq!(
        v(r#"[1, "a", [true], {"k": null}]"#),
        Bson::Array(vec![
            Bson::Int32(1),
            "a".into(),
            Bson::Array(vec![Bson::Boolean(true)]),
            Bson::Document(doc! {"k": null})
        ])
    );
    assert_eq!(
        v(r#"{a: 1, 'b': 2, `c d`: 3}"#),
        Bson::Document(doc! {"a": 1, "b": 2, "c d": 3})
    );
}

#[test]
fn reads_calls_parse() {
    let r = q(r#"s.t.get(oid("65a1b2c3d4e5f60718293a4b"))"#);
    assert!(matches!(r.id, Some(Bson::ObjectId(_))));
    assert_eq!(q("s.t.get(42)").id, Some(Bson::Int32(42)));
    assert_eq!(q("s.t.get('k1')").id, Some(Bson::String("k1".into())));
    assert_eq!(q("s.t.skip(3800).count()").skip, 3800);
    assert_eq!(q("s.t.limit(0)").limit, Some(0));
    let g = q("s.t.groupBy(a, b.c).aggregate(n: count(), m: min(x.y), M: max(x), a2: avg(z))");
    assert_eq!(g.group_by, vec![p("a"), p("b.c")]);
    assert_eq!(g.aggregates[0].function, AggFn::Count);
    assert_eq!(g.aggregates[1].function, AggFn::Min(p("x.y")));
    assert_eq!(g.aggregates[2].function, AggFn::Max(p("x")));
    assert_eq!(g.aggregates[3].function, AggFn::Avg(p("z")));
    assert!(q("s.t.all().count()").all);
}

#[test]
fn write_calls_parse() {
    let i = q(r#"s.t.insert({"a": 1, "b": {"c": [1, 2]}})"#);
    assert_eq!(
        i.write,
        Some(Mutation::Insert(vec![doc! {"a": 1, "b": {"c": [1, 2]}}]))
    );
    let many = q(r#"s.t.insert([{"a": 1}, {"a": 2}])"#);
    assert_eq!(
        many.write,
        Some(Mutation::Insert(vec![doc! {"a": 1}, doc! {"a": 2}]))
    );
    let s = q(r#"s.t.filter(x = 1).set({"Address.City": "Austin", "n": 2}).unset(old, a.b)"#);
    assert_eq!(
        s.write,
        Some(Mutation::Update {
            set: vec![
                (p("Address.City"), "Austin".into()),
                (p("n"), Bson::Int32(2))
            ],
            unset: vec![p("old"), p("a.b")],
        })
    );
    assert_eq!(
        q("s.t.get(1).unset(x)").write,
        Some(Mutation::Update {
            set: vec![],
            unset: vec![p("x")]
        })
    );
    assert_eq!(
        q(r#"s.t.get(1).replace({"a": 1})"#).write,
        Some(Mutation::Replace(doc! {"a": 1}))
    );
    assert_eq!(
        q("s.t.filter(x = 1).delete()").write,
        Some(Mutation::Delete)
    );
    assert_eq!(q("s.t.get(1).delete()").write, Some(Mutation::Delete));
    assert_eq!(q("s.t.all().delete()").write, Some(Mutation::Delete));
    assert!(q(r#"s.t.all().set({"x": 1})"#).all);
    assert!(q("s.t.filter(x = 1).delete().explain()").explain);
}

#[test]
fn queries_serialize_and_round_trip() {
    let text = r#"sales.orders.filter(a = 1 and (b in [2, "x"] or not c ~ "^z")).orderBy(d, desc).skip(1).limit(2).pluck(e.f)"#;
    let query = q(text);
    let json = serde_json::to_string(&query).expect("json");
    let back: Query = serde_json::from_str(&json).expect("from json");
    assert_eq!(back, query);
    let bson = bson::to_document(&query).expect("bson");
    let back: Query = bson::from_document(bson).expect("from bson");
    assert_eq!(back, query);
    // Every literal type survives JSON and BSON.
    for text in [
        r#"s.t.filter(a = -1 and b = 5000000000 and c = -2.5 and d = date("2026-01-31T12:00:00Z") and e = oid("65a1b2c3d4e5f60718293a4b") and f in [1, -1, 2.0, "x", null, true])"#,
        r#"s.t.insert([{"a": -1, "b": {"c": [1, 2.5, date("1969-12-31T23:59:59Z")]}}, {"_id": "k"}])"#,
        r#"s.t.get(-7).set({"a.b": -1, "c": {"d": 2}}).unset(e)"#,
        r#"s.t.get(oid("65a1b2c3d4e5f60718293a4b")).replace({"x": -3})"#,
    ] {
        let query = q(text);
        let json = serde_json::to_string(&query).expect("json");
        assert_eq!(
            serde_json::from_str::<Query>(&json).expect("from json"),
            query,
            "{text}"
        );
        let bson = bson::to_document(&query).expect("bson");
        assert_eq!(
            bson::from_document::<Query>(bson).expect("from bson"),
            query,
            "{text}"
        );
    }
}

#[test]
fn syntax_errors_have_exact_messages() {
    let cases = [
        (
            "sales.orders.filter(TotalDue > )",
            "line 1, column 32: expected a value, found `)`",
        ),
        (
            "sales.orders.count() extra",
            "line 1, column 22: expected `.` and a call, or the end of the query, found `extra`",
        ),
        (
            "sales.orders.fitler(x = 1)",
            "line 1, column 14: expected a call (filter, orderBy, limit, skip, pluck, count, groupBy, aggregate, having, get, after, explain, insert, set, unset, replace, delete or all), found `fitler`",
        ),
        (
            "sales.orders.filter(x = 1",
            "line 1, column 26: expected `and`, `or` or `)`, found end of input",
        ),
        (
            "sales.orders.filter()",
            "line 1, column 21: expected a field path, found `)`",
        ),
        (
            "sales.orders.filter(x = 'abc)",
            "line 1, column 25: expected a closing `'`, found end of input",
        ),
        (
            r#"sales.orders.filter(x = "a\qb")"#,
            r#"line 1, column 27: expected an escape (\" \' \\ \/ \b \f \n \r \t or \uXXXX), found `\q`"#,
        ),
        (
            "sales.orders.filter(x ! 1)",
            "line 1, column 23: expected `!=`, found `!`",
        ),
        (
            "sales.orders.filter(x = 1 and)",
            "line 1, column 30: expected a field path, found `)`",
        ),
        (
            "sales.orders.filter(x 5)",
            "line 1, column 23: expected an operator (=, !=, >, >=, <, <=, in, contains, startsWith, ~ or exists), found `5`",
        ),
        (
            "sales.orders.filter((x = 1)",
            "line 1, column 28: expected `and`, `or` or `)`, found end of input",
        ),
        (
            "sales.orders.filter(x = 1 y = 2)",
            "line 1, column 27: expected `and`, `or` or `)`, found `y`",
        ),
        (
            "sales.orders.filter(x = 1))",
            "line 1, column 27: expected `.` and a call, or the end of the query, found `)`",
        ),
        (
            "sales.orders.filter(x = [1, 2)",
            "line 1, column 30: expected `,` or `]`, found `)`",
        ),
        (
            "sales.orders.filter(x = {\"a\" 1})",
            "line 1, column 30: expected `:`, found `1`",
        ),
        (
            "sales.orders.filter(x = 1 # 2)",
            "line 1, column 27: expected a name, a literal, an operator or punctuation, found `#`",
        ),
        (
            "sales.orders.filter(x = 99999999999999999999)",
            "line 1, column 25: expected an integer within the range of a 64-bit integer, found `99999999999999999999`",
        ),
        (
            "sales.orders.filter(x = 1e999)",
            "line 1, column 25: expected a number within the range of a double, found `1e999`",
        ),
        (
            "sales.orders.filter(x = - 1)",
            "line 1, column 25: expected a digit right after `-`, found `-`",
        ),
        (
            "sales.orders.filter(`open = 1)",
            "line 1, column 21: expected a closing backquote, found end of input",
        ),
        (
            "sales.orders.filter",
            "line 1, column 20: expected `(`, found end of input",
        ),
        (
            "sales.orders.x.y",
            "line 1, column 15: expected `(`, found `.`",
        ),
        (
            ".count()",
            "line 1, column 1: expected a space or store name, found `.`",
        ),
        (
            "",
            "line 1, column 1: expected a space or store name, found end of input",
        ),
        (
            "sales.orders.orderBy(x, up)",
            "line 1, column 25: expected `asc` or `desc`, found `up`",
        ),
        (
            "sales.orders.aggregate(n: count, n: sum(x))",
            "line 1, column 34: expected an alias not used before in this aggregate, found `n`",
        ),
        (
            "sales.orders.aggregate(n: sum)",
            "line 1, column 30: expected `(` and a field path, found `)`",
        ),
        (
            "sales.orders.aggregate(n: median(x))",
            "line 1, column 27: expected an aggregate function (count, count(path), sum(path), avg(path), min(path) or max(path)), found `median`",
        ),
        (
            "sales.orders.count(x)",
            "line 1, column 20: expected `)`, found `x`",
        ),
        (
            "sales.orders.after(5)",
            "line 1, column 20: expected a cursor string, found `5`",
        ),
        (
            "sales.orders.insert({\"a\": 1, \"a\": 2})",
            "line 1, column 30: expected a key not already in this document, found `\"a\"`",
        ),
        (
            "sales.orders.insert({\"a\\u0000\": 1})",
            "line 1, column 22: expected a key without NUL characters, found `\"a\\u0000\"`",
        ),
        (
            "sales.orders.set({})",
            "line 1, column 18: expected a non-empty document, found `{`",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text}");
    }
}

#[test]
fn type_errors_are_found_at_parse_time() {
    let cases = [
        (
            "sales.orders.filter(x in 5)",
            "line 1, column 26: expected an array after `in`, found `5`",
        ),
        (
            "sales.orders.filter(x ~ 3)",
            "line 1, column 25: expected a regular expression string after `~`, found `3`",
        ),
        (
            "sales.orders.filter(x ~ \"(\")",
            "line 1, column 25: expected a valid regular expression (unclosed group), found `\"(\"`",
        ),
        (
            "sales.orders.filter(x contains 5)",
            "line 1, column 32: expected a string after `contains`, found `5`",
        ),
        (
            "sales.orders.filter(x startsWith [\"a\"])",
            "line 1, column 34: expected a string after `startsWith`, found `[`",
        ),
        (
            "sales.orders.filter(x > null)",
            "line 1, column 25: expected a value other than null after `>` (null is never ordered; use `exists`), found `null`",
        ),
        (
            "sales.orders.limit(-1)",
            "line 1, column 20: expected a non-negative integer, found `-1`",
        ),
        (
            "sales.orders.skip(1.5)",
            "line 1, column 19: expected a non-negative integer, found `1.5`",
        ),
        (
            "sales.orders.limit(\"3\")",
            "line 1, column 20: expected a non-negative integer, found `\"3\"`",
        ),
        (
            "sales.orders.insert(5)",
            "line 1, column 21: expected a document or an array of documents, found `5`",
        ),
        (
            "sales.orders.insert([{\"a\": 1}, 2])",
            "line 1, column 21: expected a document or an array of documents, found `[`",
        ),
        (
            "sales.orders.filter(x = oid(\"123\"))",
            "line 1, column 29: expected 24 hexadecimal digits in oid(\"...\"), found `\"123\"`",
        ),
        (
            "sales.orders.filter(x = date(\"yesterday\"))",
            "line 1, column 30: expected an RFC 3339 date such as \"2026-01-31T12:00:00Z\", found `\"yesterday\"`",
        ),
        (
            "sales.orders.filter(x = {\"$oid\": 5})",
            "line 1, column 25: expected 24 hexadecimal digits in oid(\"...\"), found `{`",
        ),
        (
            "sales.orders.get([1])",
            "line 1, column 18: expected a document id (a string, an integer or oid(...)), found `[`",
        ),
        (
            "sales.orders.get(1.5)",
            "line 1, column 18: expected a document id (a string, an integer or oid(...)), found `1.5`",
        ),
        (
            "sales.orders.filter(x = 1)\n  .limit(-5)",
            "line 2, column 10: expected a non-negative integer, found `-5`",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text}");
    }
}

#[test]
fn rule_errors_point_at_the_call() {
    let cases = [
        (
            "sales.orders.delete()",
            "line 1, column 14: delete() needs filter(...) or get(...) to choose documents, or all() to delete every document",
        ),
        (
            "sales.orders.set({\"a\": 1})",
            "line 1, column 14: set(...) needs filter(...) or get(...) to choose documents, or all() to change every document",
        ),
        (
            "sales.orders.unset(a)",
            "line 1, column 14: unset(...) needs filter(...) or get(...) to choose documents, or all() to change every document",
        ),
        (
            "sales.orders.replace({\"a\": 1})",
            "line 1, column 14: replace(...) needs get(id) to choose the document",
        ),
        (
            "sales.orders.filter(a = 1).delete().limit(3)",
            "line 1, column 28: delete() cannot be combined with limit(...)",
        ),
        (
            "sales.orders.filter(a = 1).count().delete()",
            "line 1, column 36: delete() cannot be combined with count()",
        ),
        (
            "sales.orders.having(n > 1)",
            "line 1, column 14: having(...) needs groupBy(...) or aggregate(...)",
        ),
        (
            "sales.orders.all().filter(x = 1).delete()",
            "line 1, column 14: all() cannot be combined with filter(...) or get(...)",
        ),
        (
            "sales.orders.insert({\"a\": 1}).filter(x = 1)",
            "line 1, column 14: insert(...) cannot be combined with filter(...), get(...) or all()",
        ),
        (
            "sales.orders.insert({\"a\": 1}).explain()",
            "line 1, column 31: explain() cannot be combined with insert(...)",
        ),
        (
            "sales.orders.after(\"zz\")",
            "line 1, column 14: invalid cursor: not a cursor returned by a previous page",
        ),
        (
            "sales.orders.groupBy(a).after(\"00\")",
            "line 1, column 25: after(...) cannot be combined with groupBy(...) or aggregate(...)",
        ),
        (
            "sales.orders.filter(x=1).set({\"a\": 1}).delete()",
            "line 1, column 40: a query makes one kind of write, but this one has set(...) and delete()",
        ),
        (
            "sales.orders.groupBy(a).aggregate(a: count)",
            "line 1, column 25: alias `a` is also a groupBy field",
        ),
        (
            "sales.orders.unset(_id).all()",
            "line 1, column 14: unset(...) cannot remove _id",
        ),
        (
            "sales.orders.all().set({\"a\": 1, \"a.b\": 2})",
            "line 1, column 20: the field paths a and a.b overlap",
        ),
        (
            "sales.orders.all().set({\"_id.x\": 1})",
            "line 1, column 20: set(...) cannot change _id.x inside _id",
        ),
        (
            "sales.orders.all().set({\"a..b\": 1})",
            "line 1, column 24: expected keys that are dotted field paths, found `a..b` (field path \"a..b\" has an empty segment)",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text}");
    }
}

#[test]
fn errors_show_the_line_and_a_caret() {
    let e = parse("sales.orders\n\t.filter(TotalDue > )").expect_err("error");
    assert_eq!(
        e.to_string(),
        "line 2, column 21: expected a value, found `)`\n\t.filter(TotalDue > )\n\t                   ^"
    );
    let QueryError::Parse(pe) = e else {
        panic!("not a parse error")
    };
    assert_eq!(pe.line, 2);
    assert_eq!(pe.column, 21);
    assert_eq!(pe.expected.as_deref(), Some("a value"));
    assert_eq!(pe.caret_line(), "\t                   ^");
}

#[test]
fn a_long_line_is_cut_around_the_error() {
    let text = format!("s.t.filter({}x = )", "x = 1 or ".repeat(5_000));
    let e = parse(&text).expect_err("error");
    let QueryError::Parse(pe) = e else {
        panic!("not a parse error")
    };
    assert_eq!(pe.column, text.chars().count());
    assert!(pe.source_line.starts_with("..."), "{}", pe.source_line);
    assert!(pe.source_line.ends_with("or x = )"), "{}", pe.source_line);
    assert_eq!(pe.source_line.chars().count(), 3 + EXCERPT_CHARS + 1);
    // The caret still points at the `)`.
    assert_eq!(
        pe.caret_line().chars().count(),
        pe.source_line.chars().count()
    );
    assert!(pe.to_string().len() < 400, "{pe}");
}

#[test]
fn nesting_is_limited_and_never_overflows() {
    let deep = format!("s.t.filter({}x = 1{})", "(".repeat(64), ")".repeat(64));
    assert!(parse(&deep).is_ok());
    let too_deep = format!("s.t.filter({}x = 1{})", "(".repeat(65), ")".repeat(65));
    assert_eq!(
        err(&too_deep),
        "line 1, column 77: expected at most 64 levels of nesting, found `x`"
    );
    let nots = format!("s.t.filter({}x = 1)", "not ".repeat(100_000));
    assert!(parse(&nots).is_err());
    let arrays = format!(
        "s.t.filter(x = {}1{})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse(&arrays).is_err());
}

#[test]
fn nothing_malformed_matches_everything() {
    // Every malformed filter is an error; none silently becomes "no filter".
    for bad in [
        "s.t.filter(x = )",
        "s.t.filter(= 1)",
        "s.t.filter(x = 1 or)",
        "s.t.filter(x in \"a\")",
        "s.t.filter(x = 1 y = 2)",
        "s.t.filter(x = 1,)",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn deep_expressions_built_without_the_parser_are_refused() {
    let mut e = pred("x", Op::Eq(Bson::Int32(1)));
    for _ in 0..100 {
        e = Expr::Not(Box::new(e));
    }
    let mut query = q("s.t.count()");
    query.filter = Some(e);
    assert_eq!(
        crate::query::validate(&query)
            .expect_err("too deep")
            .to_string(),
        "invalid query: expressions nest at most 64 levels deep"
    );
}
