//! Opens a planned access as a stream of candidate documents, counting what it reads.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BTreeSet;

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

/// Opens `access`; every document read adds one to `examined`.
pub(super) fn open<'s>(
    source: &'s dyn StoreSource,
    access: &'s Access,
    examined: &'s Cell<u64>,
) -> Result<DocStream<'s>, QueryError> {
    let inner = open_uncounted(source, access)?;
    Ok(Box::new(
        inner.inspect(move |_| examined.set(examined.get() + 1)),
    ))
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
