//! Opens a planned access as a stream of candidate documents, counting what it reads.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::Instant;

use bson::RawBson;

use crate::query::error::QueryError;
use crate::query::planner::Access;
use crate::query::source::{DocStream, StoreSource};
use crate::value::{compare, lookup_id};

/// An `_id`, ordered by the value order (for duplicate removal).
struct IdKey(RawBson);

impl PartialEq for IdKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for IdKey {}

impl PartialOrd for IdKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.0.as_raw_bson_ref(), other.0.as_raw_bson_ref())
    }
}

/// How many documents are read between two looks at the clock.
const DEADLINE_EVERY: u64 = 256;

/// Opens `access`; every document read adds one to `examined`. Past `deadline` (looked at every
/// [`DEADLINE_EVERY`] documents, and at the first) the stream yields
/// [`QueryError::DeadlineExceeded`] and ends, so the work stops with the caller's patience.
pub(super) fn open<'s>(
    source: &'s dyn StoreSource,
    access: &'s Access,
    examined: &'s Cell<u64>,
    deadline: Option<Instant>,
) -> Result<DocStream<'s>, QueryError> {
    let mut inner = open_uncounted(source, access)?;
    let mut expired = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if expired {
            return None;
        }
        let item = inner.next()?;
        let n = examined.get() + 1;
        examined.set(n);
        if n % DEADLINE_EVERY == 1 && deadline.is_some_and(|d| Instant::now() >= d) {
            expired = true;
            return Some(Err(QueryError::DeadlineExceeded));
        }
        Some(item)
    })))
}

fn open_uncounted<'s>(
    source: &'s dyn StoreSource,
    access: &'s Access,
) -> Result<DocStream<'s>, QueryError> {
    Ok(match access {
        Access::Scan => source.scan()?,
        Access::Empty => Box::new(std::iter::empty()),
        Access::Id(id) => Box::new(source.get(id)?.into_iter().map(Ok)),
        Access::Index {
            index,
            ranges,
            reverse,
        } => Box::new(ranges.iter().flat_map(move |r| {
            match source.index_scan(index, r.lower.as_ref(), r.upper.as_ref(), *reverse) {
                Ok(it) => it,
                Err(e) => Box::new(std::iter::once(Err(e))),
            }
        })),
        Access::Union(branches) => {
            let mut seen: BTreeSet<IdKey> = BTreeSet::new();
            let all = branches
                .iter()
                .flat_map(move |b| match open_uncounted(source, b) {
                    Ok(it) => it,
                    Err(e) => Box::new(std::iter::once(Err(e))),
                });
            Box::new(all.filter(move |item| match item {
                Ok(doc) => match lookup_id(doc) {
                    Some(v) => seen.insert(IdKey(v.to_raw_bson())),
                    None => true,
                },
                Err(_) => true,
            }))
        }
    })
}

/// Whether the access returns documents in `_id` order.
pub(super) fn in_id_order(access: &Access) -> bool {
    matches!(access, Access::Scan | Access::Id(_) | Access::Empty)
}
