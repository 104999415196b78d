//! Reads: filter → group/aggregate → having → orderBy → skip → limit → pluck.

use std::cell::Cell;
use std::cmp::Ordering;

use bson::{Bson, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};

use super::Limits;
use super::candidates::{in_id_order, open};
use crate::query::aggregate::Grouper;
use crate::query::cursor;
use crate::query::error::QueryError;
use crate::query::eval::Filter;
use crate::query::ir::{Direction, Query};
use crate::query::planner::Plan;
use crate::query::project::pluck;
use crate::query::result::QueryResult;
use crate::query::sort::{Ranked, RowOrder, TopK, compare_keys, key_refs, split_keys};
use crate::query::source::StoreSource;

/// Statistics of one read.
#[derive(Debug, Default)]
pub(super) struct ReadStats {
    pub examined: Cell<u64>,
    pub matched: u64,
    /// `"none"`, `"_id"`, `"index"`, `"top-k"` or `"sort"`.
    pub order: &'static str,
}

/// The documents matching the query's filter (and cursor), in no particular order; for writes.
pub(super) fn matching_documents(
    source: &dyn StoreSource,
    plan: &Plan,
    filter: Option<&Filter>,
    stats: &mut ReadStats,
) -> Result<Vec<RawDocumentBuf>, QueryError> {
    let mut out = Vec::new();
    for doc in open(source, &plan.access, &stats.examined, None)? {
        let doc = doc?;
        if filter.is_none_or(|f| f.matches(&doc)) {
            out.push(doc);
        }
    }
    stats.matched = out.len() as u64;
    Ok(out)
}

/// The position of an `after(...)` cursor, compiled.
struct After {
    keys: Vec<RawBson>,
    id: RawBson,
}

impl After {
    fn admits(&self, order: &RowOrder<'_>, doc: &RawDocument) -> bool {
        let keys: Vec<Option<RawBsonRef<'_>>> = self
            .keys
            .iter()
            .map(|k| Some(k.as_raw_bson_ref()))
            .collect();
        order.compare_position(doc, &keys, Some(self.id.as_raw_bson_ref())) == Ordering::Greater
    }
}

/// Runs a read query.
pub(super) fn run(
    source: &dyn StoreSource,
    query: &Query,
    plan: &Plan,
    filter: Option<&Filter>,
    stats: &mut ReadStats,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    if query.is_grouped() {
        return run_grouped(source, query, plan, filter, stats, limits);
    }
    let (paths, dirs) = split_keys(&query.order_by);
    let order = RowOrder {
        paths: &paths,
        dirs: &dirs,
    };
    let after = match &query.after {
        Some(text) => {
            let c = cursor::decode(text, &query.order_by).map_err(QueryError::Cursor)?;
            Some(After {
                keys: c.keys,
                id: c.id,
            })
        }
        None => None,
    };
    let need = query.limit.map(|l| l.saturating_add(query.skip));
    let skip = usize::try_from(query.skip).unwrap_or(usize::MAX);
    let candidates = open(source, &plan.access, &stats.examined, limits.deadline)?;
    let mut matched = 0u64;
    let mut accept = |doc: &RawDocument| {
        let ok = filter.is_none_or(|f| f.matches(doc))
            && after.as_ref().is_none_or(|a| a.admits(&order, doc));
        if ok {
            matched += 1;
        }
        ok
    };

    if query.count {
        stats.order = "none";
        let mut n = 0u64;
        for doc in candidates {
            if need.is_some_and(|need| n >= need) {
                break;
            }
            let doc = doc?;
            if accept(&doc) {
                n += 1;
            }
        }
        stats.matched = matched;
        let rows = n.saturating_sub(query.skip);
        let rows = query.limit.map_or(rows, |l| rows.min(l));
        return Ok(QueryResult::Count(rows));
    }

    let rows: Vec<RawDocumentBuf> = if plan.ordered {
        stats.order = "index";
        let first = [dirs.first().copied().unwrap_or(Direction::Asc)];
        let first_path: Vec<_> = paths.iter().take(1).cloned().collect();
        let unique_first = paths.first().is_some_and(crate::value::FieldPath::is_id);
        let mut buffer: Vec<RawDocumentBuf> = Vec::new();
        for doc in candidates {
            let doc = doc?;
            if !accept(&doc) {
                continue;
            }
            if let (Some(need), Some(last)) = (need, buffer.last())
                && buffer.len() as u64 >= need
            {
                let (a, _) = key_refs(&doc, &first_path);
                let (b, _) = key_refs(last, &first_path);
                if compare_keys(&first, &a, &b) != Ordering::Equal {
                    break;
                }
            }
            buffer.push(doc);
            // `_id` values are unique: no tie can follow.
            if unique_first && need.is_some_and(|need| buffer.len() as u64 >= need) {
                break;
            }
        }
        let mut ranked: Vec<Ranked<'_>> = buffer
            .into_iter()
            .enumerate()
            .map(|(i, d)| Ranked::new(&order, d, i as u64))
            .collect();
        ranked.sort();
        page(ranked.into_iter().map(|r| r.doc), skip, query.limit)
    } else if query.order_by.is_empty() && in_id_order(&plan.access) {
        stats.order = "_id";
        let mut out = Vec::new();
        let mut seen = 0u64;
        for doc in candidates {
            if need.is_some_and(|need| seen >= need) {
                break;
            }
            let doc = doc?;
            if !accept(&doc) {
                continue;
            }
            seen += 1;
            if seen > query.skip {
                out.push(doc);
            }
        }
        out
    } else if let Some(need) = need {
        stats.order = "top-k";
        let mut top = TopK::new(order, usize::try_from(need).unwrap_or(usize::MAX));
        for doc in candidates {
            let doc = doc?;
            if accept(&doc) {
                top.push(doc);
            }
        }
        page(
            top.into_sorted().into_iter().map(|r| r.doc),
            skip,
            query.limit,
        )
    } else {
        stats.order = "sort";
        let mut ranked = Vec::new();
        for (i, doc) in candidates.enumerate() {
            let doc = doc?;
            if accept(&doc) {
                ranked.push(Ranked::new(&order, doc, i as u64));
            }
        }
        ranked.sort();
        page(ranked.into_iter().map(|r| r.doc), skip, query.limit)
    };
    stats.matched = matched;

    let cursor = match (query.limit, rows.last()) {
        (Some(l), Some(last)) if l > 0 && rows.len() as u64 == l => {
            Some(cursor_of(query, &paths, last)?)
        }
        _ => None,
    };
    let documents = match &query.pluck {
        Some(paths) => rows
            .iter()
            .map(|d| pluck(d, paths))
            .collect::<Result<Vec<_>, _>>()?,
        None => rows,
    };
    Ok(QueryResult::Documents { documents, cursor })
}

/// Applies skip and limit to rows already in order.
fn page(
    rows: impl Iterator<Item = RawDocumentBuf>,
    skip: usize,
    limit: Option<u64>,
) -> Vec<RawDocumentBuf> {
    let rows = rows.skip(skip);
    match limit {
        Some(l) => rows
            .take(usize::try_from(l).unwrap_or(usize::MAX))
            .collect(),
        None => rows.collect(),
    }
}

fn cursor_of(
    query: &Query,
    paths: &[crate::value::FieldPath],
    last: &RawDocument,
) -> Result<String, QueryError> {
    let (keys, id) = key_refs(last, paths);
    let to_bson = |v: RawBsonRef<'_>| {
        Bson::try_from(v.to_raw_bson()).map_err(|e| QueryError::Bson(e.to_string()))
    };
    let keys = keys
        .into_iter()
        .map(|k| k.map(to_bson).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    let id = id.map(to_bson).transpose()?.unwrap_or(Bson::Null);
    Ok(cursor::encode(&query.order_by, &keys, id))
}

fn run_grouped(
    source: &dyn StoreSource,
    query: &Query,
    plan: &Plan,
    filter: Option<&Filter>,
    stats: &mut ReadStats,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    let mut grouper = Grouper::new(&query.group_by, &query.aggregates, limits.max_groups);
    let mut matched = 0u64;
    for doc in open(source, &plan.access, &stats.examined, limits.deadline)? {
        let doc = doc?;
        if filter.is_none_or(|f| f.matches(&doc)) {
            matched += 1;
            grouper.add(&doc)?;
        }
    }
    stats.matched = matched;
    let having = query.having.as_ref().map(Filter::compile).transpose()?;
    let mut rows: Vec<RawDocumentBuf> = Vec::new();
    for row in grouper.finish()? {
        let raw = RawDocumentBuf::from_document(&row)?;
        if having.as_ref().is_none_or(|h| h.matches(&raw)) {
            rows.push(raw);
        }
    }
    let (paths, dirs) = split_keys(&query.order_by);
    let order = RowOrder {
        paths: &paths,
        dirs: &dirs,
    };
    stats.order = if query.order_by.is_empty() {
        "none"
    } else {
        "sort"
    };
    if !query.order_by.is_empty() {
        let mut ranked: Vec<Ranked<'_>> = rows
            .into_iter()
            .enumerate()
            .map(|(i, d)| Ranked::new(&order, d, i as u64))
            .collect();
        ranked.sort();
        rows = ranked.into_iter().map(|r| r.doc).collect();
    }
    let rows = page(
        rows.into_iter(),
        usize::try_from(query.skip).unwrap_or(usize::MAX),
        query.limit,
    );
    if query.count {
        return Ok(QueryResult::Count(rows.len() as u64));
    }
    let rows = match &query.pluck {
        Some(paths) => rows
            .iter()
            .map(|d| pluck(d, paths))
            .collect::<Result<Vec<_>, _>>()?,
        None => rows,
    };
    let docs = rows
        .iter()
        .map(bson::RawDocumentBuf::to_document)
        .collect::<Result<Vec<_>, _>>()?;
    if query.group_by.is_empty() {
        Ok(QueryResult::Aggregate(docs.into_iter().next()))
    } else {
        Ok(QueryResult::Groups(docs))
    }
}
