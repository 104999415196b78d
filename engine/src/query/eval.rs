//! Filter evaluation on raw BSON: each predicate looks up only its own field (no document is
//! deserialised) and compares it with a literal converted to raw BSON once, when the filter is
//! compiled.
//!
//! The rules (one place decides finds, counts, aggregations, `having` and writes):
//! - a missing field or a null fails every comparison, including `!=`;
//! - `= null` holds for null or missing, `!= null` for present and not null;
//! - values of different type classes are never equal nor ordered (`"3" = 3` and `"3" != 3` are
//!   both false); within a class the order is [`crate::value::compare`] (so `3 = 3.0`);
//! - `in` holds when some element is `=`;
//! - `contains`, `startsWith` and `~` hold only for strings (and symbols), case-sensitively;
//! - `exists` means present and not null;
//! - `not e` is the plain negation of `e` (so `not (x > 5)` holds when `x` is missing).

use std::cmp::Ordering;

use bson::{Bson, RawBson, RawBsonRef, RawDocument};
use regex::Regex;

use super::error::QueryError;
use super::ir::{Expr, Op};
use crate::value::{FieldPath, class, compare, lookup, type_class};

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Test(FieldPath, Test),
}

#[derive(Debug, Clone)]
enum Test {
    /// `= null`: null or missing.
    IsNull,
    /// `!= null`: present and not null.
    NotNull,
    /// A comparison with a non-null value: holds when the field is in the same class and the
    /// comparison result is accepted (`[less, equal, greater]`).
    Cmp {
        value: RawBson,
        class: u8,
        accept: [bool; 3],
    },
    In {
        values: Vec<(RawBson, u8)>,
        null: bool,
    },
    Contains(String),
    StartsWith(String),
    Regex(Box<Regex>),
}

impl Filter {
    /// Compiles an expression (regular expressions are built here).
    pub fn compile(expr: &Expr) -> Result<Filter, QueryError> {
        Ok(Filter {
            root: compile(expr)?,
        })
    }

    /// Whether the document satisfies the filter.
    pub fn matches(&self, doc: &RawDocument) -> bool {
        eval(&self.root, doc)
    }
}

fn to_raw(v: &Bson) -> Result<RawBson, QueryError> {
    RawBson::try_from(v.clone()).map_err(|e| QueryError::Invalid(format!("literal {v}: {e}")))
}

fn is_null(v: &Bson) -> bool {
    matches!(v, Bson::Null | Bson::Undefined)
}

fn cmp_test(v: &Bson, accept: [bool; 3]) -> Result<Test, QueryError> {
    let value = to_raw(v)?;
    let class = type_class(value.as_raw_bson_ref());
    Ok(Test::Cmp {
        value,
        class,
        accept,
    })
}

fn compile(expr: &Expr) -> Result<Node, QueryError> {
    Ok(match expr {
        Expr::And(v) => Node::And(v.iter().map(compile).collect::<Result<_, _>>()?),
        Expr::Or(v) => Node::Or(v.iter().map(compile).collect::<Result<_, _>>()?),
        Expr::Not(e) => Node::Not(Box::new(compile(e)?)),
        Expr::Pred(p) => {
            let test = match &p.op {
                Op::Eq(v) if is_null(v) => Test::IsNull,
                Op::Ne(v) if is_null(v) => Test::NotNull,
                Op::Exists(true) => Test::NotNull,
                Op::Exists(false) => Test::IsNull,
                Op::Eq(v) => cmp_test(v, [false, true, false])?,
                Op::Ne(v) => cmp_test(v, [true, false, true])?,
                Op::Gt(v) => cmp_test(v, [false, false, true])?,
                Op::Gte(v) => cmp_test(v, [false, true, true])?,
                Op::Lt(v) => cmp_test(v, [true, false, false])?,
                Op::Lte(v) => cmp_test(v, [true, true, false])?,
                Op::In(vs) => {
                    let mut values = Vec::with_capacity(vs.len());
                    let mut null = false;
                    for v in vs {
                        if is_null(v) {
                            null = true;
                        } else {
                            let raw = to_raw(v)?;
                            let c = type_class(raw.as_raw_bson_ref());
                            values.push((raw, c));
                        }
                    }
                    Test::In { values, null }
                }
                Op::Contains(s) => Test::Contains(s.clone()),
                Op::StartsWith(s) => Test::StartsWith(s.clone()),
                Op::Regex(r) => Test::Regex(Box::new(Regex::new(r).map_err(|e| {
                    QueryError::Invalid(format!("invalid regular expression {r:?}: {e}"))
                })?)),
            };
            Node::Test(p.path.clone(), test)
        }
    })
}

fn eval(node: &Node, doc: &RawDocument) -> bool {
    match node {
        Node::And(v) => v.iter().all(|n| eval(n, doc)),
        Node::Or(v) => v.iter().any(|n| eval(n, doc)),
        Node::Not(n) => !eval(n, doc),
        Node::Test(path, test) => test_value(test, lookup(doc, path)),
    }
}

fn is_null_ref(v: RawBsonRef<'_>) -> bool {
    type_class(v) == class::NULL
}

fn as_str(v: RawBsonRef<'_>) -> Option<&str> {
    match v {
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => Some(s),
        _ => None,
    }
}

fn accepted(accept: &[bool; 3], o: Ordering) -> bool {
    match o {
        Ordering::Less => accept[0],
        Ordering::Equal => accept[1],
        Ordering::Greater => accept[2],
    }
}

/// Applies one test to the looked-up value (`None` = missing).
fn test_value(test: &Test, v: Option<RawBsonRef<'_>>) -> bool {
    let present = v.filter(|x| !is_null_ref(*x));
    match test {
        Test::IsNull => present.is_none(),
        Test::NotNull => present.is_some(),
        Test::Cmp {
            value,
            class,
            accept,
        } => present.is_some_and(|x| {
            type_class(x) == *class && accepted(accept, compare(x, value.as_raw_bson_ref()))
        }),
        Test::In { values, null } => match present {
            None => *null,
            Some(x) => {
                let c = type_class(x);
                values.iter().any(|(value, vc)| {
                    *vc == c && compare(x, value.as_raw_bson_ref()) == Ordering::Equal
                })
            }
        },
        Test::Contains(s) => present
            .and_then(as_str)
            .is_some_and(|x| x.contains(s.as_str())),
        Test::StartsWith(s) => present
            .and_then(as_str)
            .is_some_and(|x| x.starts_with(s.as_str())),
        Test::Regex(r) => present.and_then(as_str).is_some_and(|x| r.is_match(x)),
    }
}

#[cfg(test)]
mod tests;
