//! The executor: runs a validated [`Query`] against a [`StoreSource`] (and a [`StoreWriter`] for
//! writes).

mod candidates;
mod read;
mod write;

use super::error::QueryError;
use super::eval::Filter;
use super::ir::{Expr, Mutation, Op, Query};
use super::planner::{self, Access, Plan};
use super::result::{Explain, QueryResult};
use super::source::{StoreSource, StoreWriter};
use super::validate::validate;
use crate::value::FieldPath;
use read::ReadStats;

/// Runs a query: validates it, plans it, reads the store and, for a write, applies the changes
/// through `writer` as one batch. A write with `writer = None` fails with
/// [`QueryError::ReadOnly`] (after `explain()`, a write is planned and counted but not applied).
pub fn execute(
    source: &dyn StoreSource,
    writer: Option<&mut dyn StoreWriter>,
    query: &Query,
) -> Result<QueryResult, QueryError> {
    execute_with(source, writer, query, &Limits::default())
}

/// Bounds on what one query may hold in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Groups one grouped query may make; past it the query fails with
    /// [`QueryError::TooManyGroups`].
    pub max_groups: usize,
    /// A read still running at this time stops with [`QueryError::DeadlineExceeded`].
    pub deadline: Option<std::time::Instant>,
}

impl Default for Limits {
    /// No bound.
    fn default() -> Self {
        Limits {
            max_groups: usize::MAX,
            deadline: None,
        }
    }
}

/// [`execute`] within `limits`.
pub fn execute_with(
    source: &dyn StoreSource,
    writer: Option<&mut dyn StoreWriter>,
    query: &Query,
    limits: &Limits,
) -> Result<QueryResult, QueryError> {
    validate(query)?;
    let span = tracing::debug_span!("query.execute", store = %query.store);
    let _enter = span.enter();
    let filter = selection_filter(query)
        .as_ref()
        .map(Filter::compile)
        .transpose()?;
    let plan = match &query.write {
        Some(Mutation::Insert(_)) => Plan {
            access: Access::Empty,
            estimated: 0,
            ordered: false,
        },
        _ => planner::plan(query, source),
    };
    tracing::debug!(access = ?plan.access, estimated = plan.estimated, "planned");
    let mut stats = ReadStats::default();
    match &query.write {
        None => {
            let result = read::run(source, query, &plan, filter.as_ref(), &mut stats, limits)?;
            if !query.explain {
                return Ok(result);
            }
            let returned = match &result {
                QueryResult::Documents { documents, .. } => documents.len() as u64,
                QueryResult::Groups(rows) => rows.len() as u64,
                QueryResult::Aggregate(row) => u64::from(row.is_some()),
                QueryResult::Count(n) => *n,
                _ => 0,
            };
            Ok(explain(plan, &stats, returned))
        }
        Some(w) => {
            let wp = write::plan_write(source, w, &plan, filter.as_ref(), &mut stats)?;
            if query.explain {
                let returned = wp.ops.len() as u64;
                return Ok(explain(plan, &stats, returned));
            }
            let writer = writer.ok_or(QueryError::ReadOnly)?;
            write::apply(writer, wp)
        }
    }
}

fn explain(plan: Plan, stats: &ReadStats, returned: u64) -> QueryResult {
    QueryResult::Explain(Explain {
        access: plan.access,
        order: stats.order,
        estimated_docs: plan.estimated,
        docs_examined: stats.examined.get(),
        docs_matched: stats.matched,
        returned,
    })
}

/// The filter that selects documents: `filter(...)` and `get(id)` together.
fn selection_filter(query: &Query) -> Option<Expr> {
    let id = query
        .id
        .as_ref()
        .map(|id| Expr::pred(FieldPath::id(), Op::Eq(id.clone())));
    match (id, &query.filter) {
        (None, None) => None,
        (Some(i), None) => Some(i),
        (None, Some(f)) => Some(f.clone()),
        (Some(i), Some(f)) => Some(Expr::And(vec![i, f.clone()])),
    }
}
