//! The planner: chooses how candidate documents are read.
//!
//! - `get(id)` reads one document by `_id`;
//! - a conjunction uses the index with the smallest estimated number of entries: equality and
//!   `in` become points, `>`/`>=`/`<`/`<=` on one field are merged into one range (kept within
//!   the literal's type class), `startsWith` becomes a string range, and a compound index takes
//!   points on its leading fields then one range; estimates come from the index statistics
//!   (entries / distinct first-field values per point);
//! - a disjunction is a union of index scans (duplicates removed by `_id`) when every branch can
//!   use an index;
//! - `orderBy(path) ... limit(n)` reads an index on `path` in order (after points on the index's
//!   leading fields) and stops early, when that is estimated to read fewer entries;
//! - otherwise the store is scanned.
//!
//! Every candidate is re-checked against the whole filter, so a plan only changes speed, never
//! results.

mod explain;
mod interval;

use std::collections::HashMap;

use bson::Bson;

use super::ir::{Direction, Expr, Query};
use super::source::{IndexBound, IndexSummary, StoreSource};
use crate::value::FieldPath;
use interval::{Interval, intersect_sets, op_intervals};

/// Most index ranges one plan may read (products of `in` lists are capped by this).
const MAX_RANGES: usize = 256;

/// One range of an index scan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Range {
    /// The lower bound (`None` = from the start).
    pub lower: Option<IndexBound>,
    /// The upper bound (`None` = to the end).
    pub upper: Option<IndexBound>,
}

/// How candidate documents are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every document, in `_id` order.
    Scan,
    /// One document by `_id`.
    Id(Bson),
    /// Nothing can match (contradictory bounds).
    Empty,
    /// Ranges of one index, read one after the other.
    Index {
        /// The index name.
        index: String,
        /// The ranges, in reading order.
        ranges: Vec<Range>,
        /// Whether each range is read backwards.
        reverse: bool,
    },
    /// The union of several accesses; a document found twice is returned once.
    Union(Vec<Access>),
}

/// The chosen plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// How documents are read.
    pub access: Access,
    /// Estimated number of documents read.
    pub estimated: u64,
    /// Whether the access returns documents in the order of the first `orderBy` key (an
    /// ordered index read that can stop early).
    pub ordered: bool,
}

/// Plans a read for `query` over `source`.
pub fn plan(query: &Query, source: &dyn StoreSource) -> Plan {
    if let Some(id) = &query.id {
        return Plan {
            access: Access::Id(id.clone()),
            estimated: 1,
            ordered: false,
        };
    }
    let total = source.count();
    let indexes = source.indexes();
    let filter_plan = query
        .filter
        .as_ref()
        .and_then(|f| plan_expr(f, &indexes))
        .filter(|(_, est)| *est < total.max(1) || total == 0);
    if !query.is_grouped() && query.limit.is_some() {
        // The store is read in `_id` order: ordering by `_id` needs no index.
        if filter_plan.is_none()
            && query
                .order_by
                .first()
                .is_some_and(|k| k.path.is_id() && k.direction == Direction::Asc)
        {
            return Plan {
                access: Access::Scan,
                estimated: total,
                ordered: true,
            };
        }
        if let Some((ordered, population)) = ordered_plan(query, &indexes, total) {
            let need = query.skip.saturating_add(query.limit.unwrap_or(0)).max(1);
            let matching = filter_plan
                .as_ref()
                .map_or(population, |(_, est)| *est)
                .clamp(1, population.max(1));
            // Entries read in order before `need` matches, if matches are spread evenly.
            let ordered_cost = need
                .saturating_mul(population.max(1))
                .checked_div(matching)
                .unwrap_or(u64::MAX)
                .min(population);
            if filter_plan
                .as_ref()
                .is_none_or(|(_, est)| ordered_cost <= *est)
            {
                return Plan {
                    access: ordered,
                    estimated: ordered_cost,
                    ordered: true,
                };
            }
        }
    }
    match filter_plan {
        Some((access, estimated)) => Plan {
            access,
            estimated,
            ordered: false,
        },
        None => Plan {
            access: Access::Scan,
            estimated: total,
            ordered: false,
        },
    }
}

/// The best index access for an expression and its estimated size, if one exists.
fn plan_expr(e: &Expr, indexes: &[IndexSummary]) -> Option<(Access, u64)> {
    match e {
        Expr::Pred(_) => plan_and(std::slice::from_ref(e), indexes),
        Expr::And(items) => {
            let mut flat = Vec::new();
            flatten_and(items, &mut flat);
            plan_and(&flat, indexes)
        }
        Expr::Or(items) => {
            let mut branches = Vec::with_capacity(items.len());
            let mut total: u64 = 0;
            for item in items {
                let (access, est) = plan_expr(item, indexes)?;
                total = total.saturating_add(est);
                match access {
                    Access::Empty => {}
                    Access::Union(inner) => branches.extend(inner),
                    other => branches.push(other),
                }
            }
            Some(match branches.len() {
                0 => (Access::Empty, 0),
                1 => (branches.pop().unwrap_or(Access::Empty), total),
                _ => (Access::Union(branches), total),
            })
        }
        Expr::Not(_) => None,
    }
}

fn flatten_and<'e>(items: &'e [Expr], out: &mut Vec<&'e Expr>) {
    for i in items {
        match i {
            Expr::And(inner) => flatten_and(inner, out),
            other => out.push(other),
        }
    }
}

/// Per-path allowed intervals implied by the predicates of a conjunction.
fn constraints<'e>(items: impl IntoIterator<Item = &'e Expr>) -> HashMap<FieldPath, Vec<Interval>> {
    let mut map: HashMap<FieldPath, Vec<Interval>> = HashMap::new();
    for item in items {
        let Expr::Pred(p) = item else { continue };
        let Some(ivs) = op_intervals(&p.op) else {
            continue;
        };
        let merged = match map.remove(&p.path) {
            Some(prev) => intersect_sets(&prev, &ivs),
            None => ivs,
        };
        map.insert(p.path.clone(), merged);
    }
    map
}

fn plan_and<E: std::borrow::Borrow<Expr>>(
    items: &[E],
    indexes: &[IndexSummary],
) -> Option<(Access, u64)> {
    let cons = constraints(items.iter().map(std::borrow::Borrow::borrow));
    let mut best: Option<(Access, u64, usize)> = None;
    let mut consider = |access: Access, est: u64, fields: usize| {
        let better = match &best {
            None => true,
            Some((_, b_est, b_fields)) => est < *b_est || (est == *b_est && fields > *b_fields),
        };
        if better {
            best = Some((access, est, fields));
        }
    };
    for index in indexes {
        if let Some((access, est, fields)) = index_access(index, &cons) {
            consider(access, est, fields);
        }
    }
    for item in items {
        if let Expr::Or(_) = item.borrow()
            && let Some((access, est)) = plan_expr(item.borrow(), indexes)
        {
            consider(access, est, 0);
        }
    }
    best.map(|(a, e, _)| (a, e))
}

/// The bound on an index built from point values of leading fields and one interval end.
fn bound(prefix: &[Bson], end: &interval::End) -> Option<IndexBound> {
    match end {
        Some((v, inclusive)) => {
            let mut values = prefix.to_vec();
            values.push(v.clone());
            Some(IndexBound {
                values,
                inclusive: *inclusive,
            })
        }
        None if prefix.is_empty() => None,
        None => Some(IndexBound {
            values: prefix.to_vec(),
            inclusive: true,
        }),
    }
}

fn ranges_for(prefixes: &[Vec<Bson>], ivs: &[Interval]) -> Vec<Range> {
    let mut out = Vec::new();
    for p in prefixes {
        for iv in ivs {
            out.push(Range {
                lower: bound(p, &iv.lo),
                upper: bound(p, &iv.hi),
            });
        }
    }
    out
}

/// Points on leading fields then at most one range: the access, its estimate and how many
/// fields it uses. `None` when the first field is unconstrained.
fn index_access(
    index: &IndexSummary,
    cons: &HashMap<FieldPath, Vec<Interval>>,
) -> Option<(Access, u64, usize)> {
    let entries = index.entries;
    let per_point = entries
        .checked_div(index.distinct_first.max(1))
        .unwrap_or(0)
        .max(1);
    let mut prefixes: Vec<Vec<Bson>> = vec![Vec::new()];
    let mut used = 0;
    let mut estimate = entries;
    let mut ranges = None;
    for (i, field) in index.fields.iter().enumerate() {
        let Some(ivs) = cons.get(field) else { break };
        if ivs.is_empty() {
            return Some((Access::Empty, 0, used + 1));
        }
        let points: Option<Vec<&Bson>> = ivs.iter().map(Interval::as_point).collect();
        let n = ivs.len() as u64;
        used += 1;
        match points {
            Some(points) if prefixes.len().saturating_mul(points.len()) <= MAX_RANGES => {
                prefixes = prefixes
                    .iter()
                    .flat_map(|p| {
                        points.iter().map(move |v| {
                            let mut next = p.clone();
                            next.push((*v).clone());
                            next
                        })
                    })
                    .collect();
                estimate = if i == 0 {
                    n.saturating_mul(per_point)
                } else {
                    (estimate / 10).saturating_mul(n).max(1)
                };
            }
            _ => {
                if prefixes.len().saturating_mul(ivs.len()) > MAX_RANGES {
                    used -= 1;
                    break;
                }
                estimate = if i == 0 {
                    (entries / 4).saturating_mul(n)
                } else {
                    (estimate / 4).saturating_mul(n).max(1)
                };
                ranges = Some(ranges_for(&prefixes, ivs));
                break;
            }
        }
    }
    if used == 0 {
        return None;
    }
    let ranges = ranges.unwrap_or_else(|| {
        prefixes
            .iter()
            .map(|p| Range {
                lower: Some(IndexBound {
                    values: p.clone(),
                    inclusive: true,
                }),
                upper: Some(IndexBound {
                    values: p.clone(),
                    inclusive: true,
                }),
            })
            .collect()
    });
    if index.unique && used == index.fields.len() {
        estimate = estimate.min(ranges.len() as u64);
    }
    Some((
        Access::Index {
            index: index.name.clone(),
            ranges,
            reverse: false,
        },
        estimate.min(entries),
        used,
    ))
}

/// An ordered read of an index whose leading fields are fixed by equalities and whose next field
/// is the first `orderBy` path (the candidate with the most fixed fields wins), with the number
/// of entries it covers. Missing and null come last in both directions.
fn ordered_plan(query: &Query, indexes: &[IndexSummary], total: u64) -> Option<(Access, u64)> {
    let key = query.order_by.first()?;
    let cons = match &query.filter {
        Some(Expr::And(items)) => {
            let mut flat = Vec::new();
            flatten_and(items, &mut flat);
            constraints(flat)
        }
        Some(e @ Expr::Pred(_)) => constraints([e]),
        _ => HashMap::new(),
    };
    let mut best: Option<(&IndexSummary, Vec<Bson>)> = None;
    for index in indexes {
        let Some(pos) = index.fields.iter().position(|f| *f == key.path) else {
            continue;
        };
        let mut prefix = Vec::with_capacity(pos);
        for field in index.fields.iter().take(pos) {
            match cons.get(field).map(Vec::as_slice) {
                Some([only]) => match only.as_point() {
                    Some(v) => prefix.push(v.clone()),
                    None => break,
                },
                _ => break,
            }
        }
        if prefix.len() != pos {
            continue;
        }
        if best.as_ref().is_none_or(|(_, p)| prefix.len() > p.len()) {
            best = Some((index, prefix));
        }
    }
    let (index, prefix) = best?;
    let population = if prefix.is_empty() {
        total
    } else {
        let per_point = index
            .entries
            .checked_div(index.distinct_first.max(1))
            .unwrap_or(0);
        let deeper = u32::try_from(prefix.len() - 1).unwrap_or(u32::MAX);
        per_point
            .checked_div(10u64.saturating_pow(deeper))
            .unwrap_or(0)
            .max(1)
    };
    let allowed = cons.get(&key.path);
    let restrict = |seg: Interval| -> Vec<Interval> {
        match allowed {
            Some(ivs) => intersect_sets(&[seg], ivs),
            None => vec![seg],
        }
    };
    let min_key = restrict(Interval::point(Bson::MinKey));
    let values = restrict(Interval {
        lo: Some((Bson::Null, false)),
        hi: None,
    });
    let nulls = restrict(Interval::point(Bson::Null));
    let prefixes = [prefix];
    let (reverse, segments) = match key.direction {
        Direction::Asc => (false, [min_key, values, nulls]),
        Direction::Desc => {
            let mut values = values;
            values.reverse();
            let mut min_key = min_key;
            min_key.reverse();
            (true, [values, min_key, nulls])
        }
    };
    let ranges: Vec<Range> = segments
        .iter()
        .flat_map(|ivs| ranges_for(&prefixes, ivs))
        .collect();
    let access = if ranges.is_empty() {
        Access::Empty
    } else {
        Access::Index {
            index: index.name.clone(),
            ranges,
            reverse,
        }
    };
    Some((access, population))
}

#[cfg(test)]
mod tests;
