//! The typed query builder: one method per YQL call, producing the engine's typed query
//! ([`shinydb_engine::query::Query`]), which the server accepts as JSON.
//!
//! ```
//! use shinydb_client::query::{Direction, QueryBuilder, agg, field};
//!
//! let built = QueryBuilder::on("sales", "orders")
//!     .filter(field("EmployeeID").eq(289).and(field("TotalDue").gt(1000)))
//!     .order_by("TotalDue", Direction::Desc)
//!     .limit(5)
//!     .build()?;
//! let text = shinydb_engine::query::parse(
//!     "sales.orders.filter(EmployeeID = 289 and TotalDue > 1000).orderBy(TotalDue, desc).limit(5)",
//! )?;
//! assert_eq!(built, text);
//!
//! let per_city = QueryBuilder::on("sales", "customers")
//!     .group_by(["Address.City"])
//!     .aggregate([("n", agg::count()), ("spent", agg::sum("Spent"))])
//!     .having(field("n").gte(2))
//!     .build()?;
//! assert_eq!(per_city.group_by.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use bson::{Bson, Document};
use shinydb_engine::{
    query::{AggFn, Aggregate, Direction, Expr, Mutation, Op, Query, SortKey, validate},
    value::FieldPath,
};

use crate::error::{Error, Result};

fn path(text: &str) -> Result<FieldPath> {
    FieldPath::dotted(text).map_err(|e| Error::Invalid(format!("field path {text:?}: {e}")))
}

/// A field to test in a filter: `field("Address.City").eq("Paris")`. Dots separate
/// sub-document fields, as in YQL.
pub fn field(path: &str) -> Field {
    Field(path.to_string())
}

/// A field named in a filter; its methods are the YQL operators.
#[derive(Debug, Clone)]
pub struct Field(String);

impl Field {
    fn op(self, op: Op) -> Filter {
        Filter(path(&self.0).map(|p| Expr::pred(p, op)))
    }

    /// `= v` (`= null` holds for null or missing).
    pub fn eq(self, v: impl Into<Bson>) -> Filter {
        self.op(Op::Eq(v.into()))
    }

    /// `!= v`.
    pub fn ne(self, v: impl Into<Bson>) -> Filter {
        self.op(Op::Ne(v.into()))
    }

    /// `> v`.
    pub fn gt(self, v: impl Into<Bson>) -> Filter {
        self.op(Op::Gt(v.into()))
    }

    /// `>= v`.
    pub fn gte(self, v: impl Into<Bson>) -> Filter {
        self.op(Op::Gte(v.into()))
    }

    /// `< v`.
    pub fn lt(self, v: impl Into<Bson>) -> Filter {
        self.op(Op::Lt(v.into()))
    }

    /// `<= v`.
    pub fn lte(self, v: impl Into<Bson>) -> Filter {
        self.op(Op::Lte(v.into()))
    }

    /// `in [v, ...]`.
    pub fn is_in<V: Into<Bson>>(self, values: impl IntoIterator<Item = V>) -> Filter {
        self.op(Op::In(values.into_iter().map(Into::into).collect()))
    }

    /// `contains "s"`.
    pub fn contains(self, s: &str) -> Filter {
        self.op(Op::Contains(s.to_string()))
    }

    /// `startsWith "s"`.
    pub fn starts_with(self, s: &str) -> Filter {
        self.op(Op::StartsWith(s.to_string()))
    }

    /// `~ "regex"`.
    pub fn matches(self, regex: &str) -> Filter {
        self.op(Op::Regex(regex.to_string()))
    }

    /// `exists` (`true`) or `exists false`.
    pub fn exists(self, present: bool) -> Filter {
        self.op(Op::Exists(present))
    }
}

/// A boolean expression for `filter` and `having`; combine with [`Filter::and`],
/// [`Filter::or`] and [`Filter::not`] (chained calls stay flat, like `a and b and c`; a
/// filter passed as an argument is a parenthesised group).
#[derive(Debug, Clone)]
pub struct Filter(Result<Expr>);

impl Filter {
    /// `self and other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter(self.0.and_then(|a| {
            let b = other.0?;
            Ok(match a {
                Expr::And(mut v) => {
                    v.push(b);
                    Expr::And(v)
                }
                a => Expr::And(vec![a, b]),
            })
        }))
    }

    /// `self or other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter(self.0.and_then(|a| {
            let b = other.0?;
            Ok(match a {
                Expr::Or(mut v) => {
                    v.push(b);
                    Expr::Or(v)
                }
                a => Expr::Or(vec![a, b]),
            })
        }))
    }

    /// `not self`.
    #[expect(
        clippy::should_implement_trait,
        reason = "YQL's `not` by its YQL name; `!filter` would read as a Rust boolean"
    )]
    pub fn not(self) -> Filter {
        Filter(self.0.map(|e| Expr::Not(Box::new(e))))
    }

    /// The expression, or the error of a malformed field path in it.
    pub fn into_expr(self) -> Result<Expr> {
        self.0
    }
}

/// Aggregate functions for [`QueryBuilder::aggregate`].
pub mod agg {
    use super::*;

    /// A function over the rows of a group (build one with the functions of this module).
    #[derive(Debug, Clone)]
    pub struct Function(pub(super) Result<AggFn>);

    /// `count`: the number of documents.
    pub fn count() -> Function {
        Function(Ok(AggFn::Count))
    }

    /// `count(path)`: documents where the path is present and not null.
    pub fn count_field(p: &str) -> Function {
        Function(path(p).map(AggFn::CountField))
    }

    /// `sum(path)`.
    pub fn sum(p: &str) -> Function {
        Function(path(p).map(AggFn::Sum))
    }

    /// `avg(path)`.
    pub fn avg(p: &str) -> Function {
        Function(path(p).map(AggFn::Avg))
    }

    /// `min(path)`.
    pub fn min(p: &str) -> Function {
        Function(path(p).map(AggFn::Min))
    }

    /// `max(path)`.
    pub fn max(p: &str) -> Function {
        Function(path(p).map(AggFn::Max))
    }
}

/// Builds a typed query call by call, as YQL text would (`space.store.call(...).call(...)`);
/// [`QueryBuilder::build`] validates it with the same rules as the parser.
#[derive(Debug, Clone)]
pub struct QueryBuilder {
    query: Query,
    filters: Vec<Expr>,
    havings: Vec<Expr>,
    set: Option<Vec<(FieldPath, Bson)>>,
    unset: Option<Vec<FieldPath>>,
    writes: Vec<&'static str>,
    error: Option<Error>,
}

impl QueryBuilder {
    /// A query on `space.store`.
    pub fn on(space: &str, store: &str) -> QueryBuilder {
        QueryBuilder {
            query: Query {
                space: Some(space.to_string()),
                store: store.to_string(),
                ..Query::default()
            },
            filters: Vec::new(),
            havings: Vec::new(),
            set: None,
            unset: None,
            writes: Vec::new(),
            error: None,
        }
    }

    fn keep<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    fn paths<'a>(&mut self, paths: impl IntoIterator<Item = &'a str>) -> Vec<FieldPath> {
        let r: Result<Vec<FieldPath>> = paths.into_iter().map(path).collect();
        self.keep(r).unwrap_or_default()
    }

    /// `filter(expr)`; several are joined by `and`.
    pub fn filter(mut self, f: Filter) -> Self {
        if let Some(e) = self.keep(f.0) {
            self.filters.push(e);
        }
        self
    }

    /// `orderBy(path, asc|desc)`; several sort by the first, then the next.
    pub fn order_by(mut self, p: &str, direction: Direction) -> Self {
        if let Some(path) = self.keep(path(p)) {
            self.query.order_by.push(SortKey { path, direction });
        }
        self
    }

    /// `limit(n)`.
    pub fn limit(mut self, n: u64) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// `skip(n)`.
    pub fn skip(mut self, n: u64) -> Self {
        self.query.skip = n;
        self
    }

    /// `pluck(path, ...)`.
    pub fn pluck<'a>(mut self, paths: impl IntoIterator<Item = &'a str>) -> Self {
        let p = self.paths(paths);
        self.query.pluck = Some(p);
        self
    }

    /// `count()`.
    pub fn count(mut self) -> Self {
        self.query.count = true;
        self
    }

    /// `groupBy(path, ...)`.
    pub fn group_by<'a>(mut self, paths: impl IntoIterator<Item = &'a str>) -> Self {
        self.query.group_by = self.paths(paths);
        self
    }

    /// `aggregate(alias: fn, ...)`.
    pub fn aggregate<'a>(
        mut self,
        columns: impl IntoIterator<Item = (&'a str, agg::Function)>,
    ) -> Self {
        let r: Result<Vec<Aggregate>> = columns
            .into_iter()
            .map(|(alias, f)| {
                f.0.map(|function| Aggregate {
                    alias: alias.to_string(),
                    function,
                })
            })
            .collect();
        self.query.aggregates = self.keep(r).unwrap_or_default();
        self
    }

    /// `having(expr)` over group rows; several are joined by `and`.
    pub fn having(mut self, f: Filter) -> Self {
        if let Some(e) = self.keep(f.0) {
            self.havings.push(e);
        }
        self
    }

    /// `get(id)`: only the document with this `_id`.
    pub fn get(mut self, id: impl Into<crate::DocId>) -> Self {
        self.query.id = Some(id.into().to_bson());
        self
    }

    /// `after(cursor)`: the page after a previous page's cursor.
    pub fn after(mut self, cursor: &str) -> Self {
        self.query.after = Some(cursor.to_string());
        self
    }

    /// `explain()`.
    pub fn explain(mut self) -> Self {
        self.query.explain = true;
        self
    }

    /// `all()`: every document (writes without `filter` or `get` need it).
    pub fn all(mut self) -> Self {
        self.query.all = true;
        self
    }

    /// `insert([...])`: documents to insert; several calls add up.
    pub fn insert(mut self, docs: impl IntoIterator<Item = Document>) -> Self {
        self.writes.push("insert");
        let mut add: Vec<Document> = docs.into_iter().collect();
        match &mut self.query.write {
            Some(Mutation::Insert(v)) => v.append(&mut add),
            _ => self.query.write = Some(Mutation::Insert(add)),
        }
        self
    }

    /// `set({...})`: dotted keys to new values.
    pub fn set(mut self, fields: Document) -> Self {
        self.writes.push("set");
        let r: Result<Vec<(FieldPath, Bson)>> = fields
            .into_iter()
            .map(|(k, v)| path(&k).map(|p| (p, v)))
            .collect();
        if let Some(mut v) = self.keep(r) {
            self.set.get_or_insert_with(Vec::new).append(&mut v);
        }
        self
    }

    /// `unset(path, ...)`.
    pub fn unset<'a>(mut self, paths: impl IntoIterator<Item = &'a str>) -> Self {
        self.writes.push("unset");
        let mut p = self.paths(paths);
        self.unset.get_or_insert_with(Vec::new).append(&mut p);
        self
    }

    /// `replace({...})`: the whole new body of the selected document.
    pub fn replace(mut self, doc: Document) -> Self {
        self.writes.push("replace");
        self.query.write = Some(Mutation::Replace(doc));
        self
    }

    /// `delete()`.
    pub fn delete(mut self) -> Self {
        self.writes.push("delete");
        self.query.write = Some(Mutation::Delete);
        self
    }

    /// The typed query, validated by the engine's rules.
    pub fn build(self) -> Result<Query> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut q = self.query;
        let update = self.set.is_some() || self.unset.is_some();
        let mut kinds: Vec<&str> = self.writes.clone();
        kinds.dedup();
        let kinds_n = {
            let mut k: Vec<&str> = kinds
                .iter()
                .map(|k| if *k == "unset" { "set" } else { *k })
                .collect();
            k.sort_unstable();
            k.dedup();
            k.len()
        };
        if kinds_n > 1 {
            return Err(Error::Invalid(format!(
                "a query makes one kind of write, but this one has {}",
                kinds.join(" and ")
            )));
        }
        if update {
            q.write = Some(Mutation::Update {
                set: self.set.unwrap_or_default(),
                unset: self.unset.unwrap_or_default(),
            });
        }
        q.filter = join(self.filters);
        q.having = join(self.havings);
        validate(&q).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(q)
    }
}

fn join(mut v: Vec<Expr>) -> Option<Expr> {
    match v.len() {
        0 => None,
        1 => v.pop(),
        _ => Some(Expr::And(v)),
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use shinydb_engine::query::parse;

    use super::*;

    fn same(b: QueryBuilder, text: &str) {
        assert_eq!(
            b.build().expect("builds"),
            parse(text).expect("parses"),
            "{text}"
        );
    }

    #[test]
    fn every_call_matches_its_yql() {
        let on = || QueryBuilder::on("s", "t");
        same(
            on().filter(
                field("a")
                    .eq(1)
                    .and(field("b").ne("x"))
                    .and(field("c.d").gt(2.5)),
            ),
            "s.t.filter(a = 1 and b != \"x\" and c.d > 2.5)",
        );
        same(
            on().filter(
                field("a")
                    .gte(1)
                    .or(field("b").lt(2).and(field("c").lte(3))),
            ),
            "s.t.filter(a >= 1 or (b < 2 and c <= 3))",
        );
        same(
            on().filter(field("a").is_in([1, 2]))
                .filter(field("n").contains("x").not())
                .filter(field("n").starts_with("A"))
                .filter(field("n").matches("^a.*z$"))
                .filter(field("e").exists(false)),
            "s.t.filter(a in [1, 2]).filter(not n contains \"x\").filter(n startsWith \"A\")\
             .filter(n ~ \"^a.*z$\").filter(e exists false)",
        );
        same(
            on().order_by("a", Direction::Desc)
                .order_by("b", Direction::Asc)
                .skip(3)
                .limit(4)
                .pluck(["a", "b.c"]),
            "s.t.orderBy(a, desc).orderBy(b).skip(3).limit(4).pluck(a, b.c)",
        );
        same(
            on().filter(field("a").eq(1)).count(),
            "s.t.filter(a = 1).count()",
        );
        same(
            on().group_by(["city"])
                .aggregate([
                    ("n", agg::count()),
                    ("m", agg::count_field("x")),
                    ("s", agg::sum("x")),
                    ("a", agg::avg("x")),
                    ("lo", agg::min("x")),
                    ("hi", agg::max("x")),
                ])
                .having(field("n").gt(1)),
            "s.t.groupBy(city).aggregate(n: count, m: count(x), s: sum(x), a: avg(x), \
             lo: min(x), hi: max(x)).having(n > 1)",
        );
        same(on().get("k").explain(), "s.t.get(\"k\").explain()");
        same(
            on().insert([doc! {"_id": 1, "a": "x"}, doc! {"b": true}]),
            "s.t.insert([{_id: 1, a: \"x\"}, {b: true}])",
        );
        same(
            on().filter(field("a").eq(1))
                .set(doc! {"b.c": 2})
                .unset(["d"]),
            "s.t.filter(a = 1).set({\"b.c\": 2}).unset(d)",
        );
        same(
            on().get(7).replace(doc! {"x": 1}),
            "s.t.get(7).replace({x: 1})",
        );
        same(on().all().delete(), "s.t.all().delete()");
    }

    #[test]
    fn builder_errors_name_the_problem() {
        let e = QueryBuilder::on("s", "t")
            .filter(field("a..b").eq(1))
            .build()
            .expect_err("bad path");
        assert!(e.to_string().contains("a..b"), "{e}");
        let e = QueryBuilder::on("s", "t")
            .all()
            .delete()
            .insert([doc! {}])
            .build()
            .expect_err("two writes");
        assert!(e.to_string().contains("one kind of write"), "{e}");
        let e = QueryBuilder::on("s", "t")
            .delete()
            .build()
            .expect_err("delete needs a selection");
        assert!(!e.to_string().is_empty());
    }
}
