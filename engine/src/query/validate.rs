//! The rules a well-formed query must follow, checked on the typed representation (so queries
//! built without the parser are held to the same rules).

use bson::Bson;

use super::cursor;
use super::error::QueryError;
use super::ir::MAX_EXPR_DEPTH;
use super::ir::{Expr, Mutation, Op, Query};
use crate::value::FieldPath;

/// A broken rule: which call it concerns and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The call the parser points at.
    pub call: &'static str,
    /// The message.
    pub message: String,
}

fn violation(call: &'static str, message: impl Into<String>) -> Violation {
    Violation {
        call,
        message: message.into(),
    }
}

/// Checks every rule; `QueryError::Invalid` names the first one broken.
pub fn validate(query: &Query) -> Result<(), QueryError> {
    check(query).map_err(|v| QueryError::Invalid(v.message))
}

pub(crate) fn check(q: &Query) -> Result<(), Violation> {
    if q.store.is_empty() {
        return Err(violation("", "a query needs a store name"));
    }
    if let Some(f) = &q.filter {
        check_depth(f, "filter")?;
        check_expr(f, "filter")?;
    }
    if let Some(h) = &q.having {
        check_depth(h, "having")?;
        check_expr(h, "having")?;
        if !q.is_grouped() {
            return Err(violation(
                "having",
                "having(...) needs groupBy(...) or aggregate(...)",
            ));
        }
    }
    if q.all && (q.filter.is_some() || q.id.is_some()) {
        return Err(violation(
            "all",
            "all() cannot be combined with filter(...) or get(...)",
        ));
    }
    check_aggregates(q)?;
    if let Some(c) = &q.after {
        if q.is_grouped() {
            return Err(violation(
                "after",
                "after(...) cannot be combined with groupBy(...) or aggregate(...)",
            ));
        }
        cursor::decode(c, &q.order_by)
            .map_err(|e| violation("after", format!("invalid cursor: {e}")))?;
    }
    match &q.write {
        None => Ok(()),
        Some(w) => check_write(q, w),
    }
}

/// Checked once, before anything recurses over the expression.
fn check_depth(e: &Expr, call: &'static str) -> Result<(), Violation> {
    if e.depth() > MAX_EXPR_DEPTH + 1 {
        return Err(violation(
            call,
            format!("expressions nest at most {MAX_EXPR_DEPTH} levels deep"),
        ));
    }
    Ok(())
}

fn check_expr(e: &Expr, call: &'static str) -> Result<(), Violation> {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|x| check_expr(x, call)),
        Expr::Not(x) => check_expr(x, call),
        Expr::Pred(p) => match &p.op {
            Op::Gt(Bson::Null) | Op::Gte(Bson::Null) | Op::Lt(Bson::Null) | Op::Lte(Bson::Null) => {
                Err(violation(
                    call,
                    format!("{} cannot be ordered against null", p.path),
                ))
            }
            Op::Regex(r) => regex::Regex::new(r).map(|_| ()).map_err(|e| {
                violation(
                    call,
                    format!(
                        "invalid regular expression for {}: {}",
                        p.path,
                        super::error::regex_reason(&e)
                    ),
                )
            }),
            _ => Ok(()),
        },
    }
}

fn check_aggregates(q: &Query) -> Result<(), Violation> {
    for (i, a) in q.aggregates.iter().enumerate() {
        if a.alias.is_empty() || a.alias.contains('\0') {
            return Err(violation(
                "aggregate",
                format!("invalid alias {:?}", a.alias),
            ));
        }
        if q.aggregates.iter().take(i).any(|b| b.alias == a.alias) {
            return Err(violation(
                "aggregate",
                format!("alias `{}` is used twice", a.alias),
            ));
        }
        if q.group_by
            .iter()
            .any(|g| g.segments().first() == Some(&a.alias))
        {
            return Err(violation(
                "aggregate",
                format!("alias `{}` is also a groupBy field", a.alias),
            ));
        }
    }
    Ok(())
}

/// A call as written in messages: `delete()`, `count()`, `set(...)`.
fn shown(call: &str) -> String {
    match call {
        "delete" | "count" | "all" | "explain" => format!("{call}()"),
        _ => format!("{call}(...)"),
    }
}

/// The read-shaping calls a query has, by call name.
fn read_calls(q: &Query) -> Vec<&'static str> {
    let mut v = Vec::new();
    if !q.order_by.is_empty() {
        v.push("orderBy");
    }
    if q.skip > 0 {
        v.push("skip");
    }
    if q.limit.is_some() {
        v.push("limit");
    }
    if q.after.is_some() {
        v.push("after");
    }
    if q.pluck.is_some() {
        v.push("pluck");
    }
    if !q.group_by.is_empty() {
        v.push("groupBy");
    }
    if !q.aggregates.is_empty() {
        v.push("aggregate");
    }
    if q.having.is_some() {
        v.push("having");
    }
    if q.count {
        v.push("count");
    }
    v
}

fn check_write(q: &Query, w: &Mutation) -> Result<(), Violation> {
    let name: &'static str = match w {
        Mutation::Insert(_) => "insert",
        Mutation::Update { set, .. } if !set.is_empty() => "set",
        Mutation::Update { .. } => "unset",
        Mutation::Replace(_) => "replace",
        Mutation::Delete => "delete",
    };
    if let Some(other) = read_calls(q).first() {
        return Err(violation(
            name,
            format!("{} cannot be combined with {}", shown(name), shown(other)),
        ));
    }
    match w {
        Mutation::Insert(docs) => {
            if q.filter.is_some() || q.id.is_some() || q.all {
                return Err(violation(
                    "insert",
                    "insert(...) cannot be combined with filter(...), get(...) or all()",
                ));
            }
            if q.explain {
                return Err(violation(
                    "explain",
                    "explain() cannot be combined with insert(...)",
                ));
            }
            if docs.is_empty() {
                return Err(violation(
                    "insert",
                    "insert(...) needs at least one document",
                ));
            }
            Ok(())
        }
        Mutation::Replace(_) => {
            if q.id.is_none() {
                return Err(violation(
                    "replace",
                    "replace(...) needs get(id) to choose the document",
                ));
            }
            Ok(())
        }
        Mutation::Update { set, unset } => {
            need_selection(q, name)?;
            if set.is_empty() && unset.is_empty() {
                return Err(violation(name, "set(...) needs at least one field"));
            }
            check_update_paths(set, unset)
        }
        Mutation::Delete => need_selection(q, "delete"),
    }
}

fn need_selection(q: &Query, name: &'static str) -> Result<(), Violation> {
    if q.filter.is_none() && q.id.is_none() && !q.all {
        return Err(violation(
            name,
            format!(
                "{} needs filter(...) or get(...) to choose documents, or all() to {} every document",
                shown(name),
                if name == "delete" { "delete" } else { "change" }
            ),
        ));
    }
    Ok(())
}

fn check_update_paths(set: &[(FieldPath, Bson)], unset: &[FieldPath]) -> Result<(), Violation> {
    for p in unset {
        if p.segments().first().is_some_and(|s| s == "_id") {
            return Err(violation("unset", "unset(...) cannot remove _id"));
        }
    }
    for (p, _) in set {
        if p.segments().len() > 1 && p.segments().first().is_some_and(|s| s == "_id") {
            return Err(violation(
                "set",
                format!("set(...) cannot change {p} inside _id"),
            ));
        }
    }
    let all: Vec<(&'static str, &FieldPath)> = set
        .iter()
        .map(|(p, _)| ("set", p))
        .chain(unset.iter().map(|p| ("unset", p)))
        .collect();
    for (i, (call, a)) in all.iter().enumerate() {
        for (_, b) in all.iter().take(i) {
            if a.is_prefix_of(b) || b.is_prefix_of(a) {
                return Err(violation(
                    call,
                    format!("the field paths {b} and {a} overlap"),
                ));
            }
        }
    }
    Ok(())
}
