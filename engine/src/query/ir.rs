//! The typed query representation: what the parser (and the client's builder) produce, what the
//! server ships (it is `serde`-serialisable) and what the executor runs.
//!
//! BSON literals inside serialise as canonical extended JSON (see `serde_ext`), so every type
//! survives JSON as well as BSON.
//!
//! A [`Query`] is order-free: however its calls were written, it executes as
//! filter → group/aggregate → having → orderBy → skip → limit → pluck.

use bson::{Bson, Document};
use serde::{Deserialize, Serialize};

use crate::value::FieldPath;

/// The deepest nesting of parentheses, `not`, arrays and documents a query may hold.
pub const MAX_EXPR_DEPTH: usize = 64;

/// One query against one store.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Query {
    /// The space (`sales` in `sales.orders`); `None` when the query named only a store.
    pub space: Option<String>,
    /// The store (`orders`).
    pub store: String,
    /// Every `filter(...)` joined by `and`; `None` = every document.
    pub filter: Option<Expr>,
    /// `get(id)`: only the document with this `_id`.
    #[serde(with = "super::serde_ext::opt_bson")]
    pub id: Option<Bson>,
    /// `all()`: an explicit "every document" (required for writes without filter or get).
    pub all: bool,
    /// `orderBy(...)` calls, in order; missing and null sort last; ties break by `_id`.
    pub order_by: Vec<SortKey>,
    /// `skip(n)`.
    pub skip: u64,
    /// `limit(n)`.
    pub limit: Option<u64>,
    /// `after(cursor)`: resume after the last row of a previous page.
    pub after: Option<String>,
    /// `pluck(...)`: only these paths, re-nested.
    pub pluck: Option<Vec<FieldPath>>,
    /// `groupBy(...)`.
    pub group_by: Vec<FieldPath>,
    /// `aggregate(...)`: output aliases and their functions.
    pub aggregates: Vec<Aggregate>,
    /// `having(...)`: a filter over the group rows (group fields and aliases).
    pub having: Option<Expr>,
    /// `count()`: return the number of rows instead of the rows.
    pub count: bool,
    /// `explain()`: return the plan and its statistics instead of the result (a write is not
    /// applied).
    pub explain: bool,
    /// The write, for `insert`, `set`/`unset`, `replace` and `delete`.
    pub write: Option<Mutation>,
}

impl Query {
    /// Whether rows are groups (`groupBy` or `aggregate` was given).
    pub fn is_grouped(&self) -> bool {
        !self.group_by.is_empty() || !self.aggregates.is_empty()
    }
}

/// A boolean expression over one document's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    /// Every operand holds (an empty list holds).
    And(Vec<Expr>),
    /// Some operand holds (an empty list does not hold).
    Or(Vec<Expr>),
    /// The operand does not hold.
    Not(Box<Expr>),
    /// One test on one field.
    Pred(Predicate),
}

impl Expr {
    /// A predicate expression.
    pub fn pred(path: FieldPath, op: Op) -> Expr {
        Expr::Pred(Predicate { path, op })
    }

    /// How deeply the expression nests (a predicate is 1). Iterative, so any depth is safe.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((e, d)) = stack.pop() {
            deepest = deepest.max(d);
            match e {
                Expr::And(v) | Expr::Or(v) => stack.extend(v.iter().map(|x| (x, d + 1))),
                Expr::Not(x) => stack.push((x, d + 1)),
                Expr::Pred(_) => {}
            }
        }
        deepest
    }
}

/// A test on the value at a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predicate {
    /// The field tested.
    pub path: FieldPath,
    /// The test.
    pub op: Op,
}

/// The tests. A missing field or a null fails every comparison (including `!=`); values of
/// different type classes are never equal nor ordered (see [`crate::value`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `= v`; `= null` holds for null or missing.
    Eq(#[serde(with = "super::serde_ext::bson_value")] Bson),
    /// `!= v`: present, not null, same class, not equal; `!= null`: present and not null.
    Ne(#[serde(with = "super::serde_ext::bson_value")] Bson),
    /// `> v`.
    Gt(#[serde(with = "super::serde_ext::bson_value")] Bson),
    /// `>= v`.
    Gte(#[serde(with = "super::serde_ext::bson_value")] Bson),
    /// `< v`.
    Lt(#[serde(with = "super::serde_ext::bson_value")] Bson),
    /// `<= v`.
    Lte(#[serde(with = "super::serde_ext::bson_value")] Bson),
    /// `in [v, ...]`: some element is `=`.
    In(#[serde(with = "super::serde_ext::vec_bson")] Vec<Bson>),
    /// `contains "s"`: a string field holding the substring (case-sensitive).
    Contains(String),
    /// `startsWith "s"`: a string field with this prefix (case-sensitive).
    StartsWith(String),
    /// `~ "regex"`: a string field matched by the regular expression (Rust `regex` syntax,
    /// unanchored).
    Regex(String),
    /// `exists` / `exists true`: present and not null; `exists false`: missing or null.
    Exists(bool),
}

/// One `orderBy` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    /// The field sorted on.
    pub path: FieldPath,
    /// Ascending or descending.
    pub direction: Direction,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Direction {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// One output column of `aggregate(...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    /// The output name.
    pub alias: String,
    /// What is computed.
    pub function: AggFn,
}

/// Aggregate functions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggFn {
    /// `count`: the number of documents.
    Count,
    /// `count(path)`: the number of documents where the path is present and not null.
    CountField(FieldPath),
    /// `sum(path)`: the sum of the numbers (others ignored); an int64 while exact, else a double.
    Sum(FieldPath),
    /// `avg(path)`: the mean of the numbers as a double; null when there are none.
    Avg(FieldPath),
    /// `min(path)`: the smallest present non-null value in the value order; null when none.
    Min(FieldPath),
    /// `max(path)`: the largest present non-null value in the value order; null when none.
    Max(FieldPath),
}

impl AggFn {
    /// The path the function reads, if any.
    pub fn path(&self) -> Option<&FieldPath> {
        match self {
            AggFn::Count => None,
            AggFn::CountField(p)
            | AggFn::Sum(p)
            | AggFn::Avg(p)
            | AggFn::Min(p)
            | AggFn::Max(p) => Some(p),
        }
    }
}

/// What a query writes to the documents it selects (its last stage, when it writes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Mutation {
    /// `insert({...})` / `insert([{...}, ...])`.
    Insert(#[serde(with = "super::serde_ext::vec_document")] Vec<Document>),
    /// `set({...})` and/or `unset(path, ...)` on every selected document.
    Update {
        /// Fields to set (dotted keys reach into sub-documents, created when missing).
        #[serde(with = "super::serde_ext::set_fields")]
        set: Vec<(FieldPath, Bson)>,
        /// Fields to remove.
        unset: Vec<FieldPath>,
    },
    /// `get(id).replace({...})`: the whole document (its `_id` is kept).
    Replace(#[serde(with = "super::serde_ext::document")] Document),
    /// `delete()` every selected document.
    Delete,
}
