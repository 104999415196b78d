//! Row order: the `orderBy` keys (missing and null last in both directions), then `_id`
//! ascending, then arrival order; and the top-k heap used for `orderBy` + `limit`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use bson::{RawBson, RawBsonRef, RawDocument, RawDocumentBuf};

use super::ir::{Direction, SortKey};
use crate::value::{FieldPath, class, compare, compare_opt, lookup, lookup_id, type_class};

/// Compares sort-key values under `dirs`: missing and null sort last in both directions.
pub(crate) fn compare_keys(
    dirs: &[Direction],
    a: &[Option<RawBsonRef<'_>>],
    b: &[Option<RawBsonRef<'_>>],
) -> Ordering {
    compare_key_iters(dirs, a.iter().copied(), b.iter().copied())
}

/// [`compare_keys`] over iterators (no allocation).
fn compare_key_iters<'x, 'y>(
    dirs: &[Direction],
    mut a: impl Iterator<Item = Option<RawBsonRef<'x>>>,
    mut b: impl Iterator<Item = Option<RawBsonRef<'y>>>,
) -> Ordering {
    for dir in dirs {
        let x = a.next().flatten().filter(|v| type_class(*v) != class::NULL);
        let y = b.next().flatten().filter(|v| type_class(*v) != class::NULL);
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => match dir {
                Direction::Asc => compare(x, y),
                Direction::Desc => compare(x, y).reverse(),
            },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// The sort-key values and `_id` of a document, borrowed.
pub(crate) fn key_refs<'a>(
    doc: &'a RawDocument,
    paths: &[FieldPath],
) -> (Vec<Option<RawBsonRef<'a>>>, Option<RawBsonRef<'a>>) {
    let keys = paths.iter().map(|p| lookup(doc, p)).collect();
    (keys, lookup_id(doc))
}

/// A row with its sort keys extracted, ordered by (keys, `_id`, arrival).
#[derive(Debug)]
pub(crate) struct Ranked<'d> {
    dirs: &'d [Direction],
    /// The sort-key values (`None` = missing).
    pub keys: Vec<Option<RawBson>>,
    /// The row's `_id` (`None` for group rows).
    pub id: Option<RawBson>,
    /// Arrival order, the last tie-break.
    pub seq: u64,
    /// The row.
    pub doc: RawDocumentBuf,
}

impl<'d> Ranked<'d> {
    /// Extracts the keys of `doc`.
    pub fn new(order: &RowOrder<'d>, doc: RawDocumentBuf, seq: u64) -> Self {
        let (keys, id) = {
            let (k, id) = key_refs(&doc, order.paths);
            (
                k.into_iter()
                    .map(|v| v.map(bson::RawBsonRef::to_raw_bson))
                    .collect(),
                id.map(bson::RawBsonRef::to_raw_bson),
            )
        };
        Ranked {
            dirs: order.dirs,
            keys,
            id,
            seq,
            doc,
        }
    }

    /// The keys as borrowed values.
    fn key_iter(&self) -> impl Iterator<Item = Option<RawBsonRef<'_>>> {
        self.keys
            .iter()
            .map(|k| k.as_ref().map(RawBson::as_raw_bson_ref))
    }

    fn id_ref(&self) -> Option<RawBsonRef<'_>> {
        self.id.as_ref().map(RawBson::as_raw_bson_ref)
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked<'_> {}

impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_key_iters(self.dirs, self.key_iter(), other.key_iter())
            .then_with(|| compare_opt_id(self.id_ref(), other.id_ref()))
            .then_with(|| self.seq.cmp(&other.seq))
    }
}

/// `_id` order; rows without an `_id` (groups) tie.
fn compare_opt_id(a: Option<RawBsonRef<'_>>, b: Option<RawBsonRef<'_>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        _ => compare_opt(a, b),
    }
}

/// The order of a query's rows: paths and directions of its `orderBy` keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowOrder<'d> {
    /// The key paths.
    pub paths: &'d [FieldPath],
    /// Their directions.
    pub dirs: &'d [Direction],
}

/// Splits sort keys into paths and directions.
pub(crate) fn split_keys(keys: &[SortKey]) -> (Vec<FieldPath>, Vec<Direction>) {
    keys.iter().map(|k| (k.path.clone(), k.direction)).unzip()
}

impl RowOrder<'_> {
    /// Compares a document (borrowed) with a ranked row, in row order.
    pub fn compare_doc(&self, doc: &RawDocument, seq: u64, ranked: &Ranked<'_>) -> Ordering {
        let keys = self.paths.iter().map(|p| lookup(doc, p));
        compare_key_iters(self.dirs, keys, ranked.key_iter())
            .then_with(|| compare_opt_id(lookup_id(doc), ranked.id_ref()))
            .then_with(|| seq.cmp(&ranked.seq))
    }

    /// Compares the position of a document with a (keys, id) position; used by cursors.
    pub fn compare_position(
        &self,
        doc: &RawDocument,
        keys: &[Option<RawBsonRef<'_>>],
        id: Option<RawBsonRef<'_>>,
    ) -> Ordering {
        let (dk, did) = key_refs(doc, self.paths);
        compare_keys(self.dirs, &dk, keys).then_with(|| compare_opt_id(did, id))
    }
}

/// Keeps the `k` first rows of a stream in row order, in O(n log k).
pub(crate) struct TopK<'d> {
    order: RowOrder<'d>,
    k: usize,
    heap: BinaryHeap<Ranked<'d>>,
    seq: u64,
}

impl<'d> TopK<'d> {
    /// An empty heap keeping `k` rows.
    pub fn new(order: RowOrder<'d>, k: usize) -> Self {
        TopK {
            order,
            k,
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Offers a row; it is kept only while it is among the `k` first.
    pub fn push(&mut self, doc: RawDocumentBuf) {
        let seq = self.seq;
        self.seq += 1;
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(Ranked::new(&self.order, doc, seq));
            return;
        }
        let better = self
            .heap
            .peek()
            .is_some_and(|worst| self.order.compare_doc(&doc, seq, worst) == Ordering::Less);
        if better {
            self.heap.pop();
            self.heap.push(Ranked::new(&self.order, doc, seq));
        }
    }

    /// The kept rows, in row order.
    pub fn into_sorted(self) -> Vec<Ranked<'d>> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn raw(d: bson::Document) -> RawDocumentBuf {
        RawDocumentBuf::from_document(&d).expect("raw")
    }

    #[test]
    fn nulls_and_missing_sort_last_both_ways_and_ties_break_by_id() {
        let docs = vec![
            doc! {"_id": 1, "x": 2},
            doc! {"_id": 2, "x": null},
            doc! {"_id": 3},
            doc! {"_id": 4, "x": 1},
            doc! {"_id": 5, "x": 2.0},
            doc! {"_id": 0, "x": "s"},
        ];
        let paths = vec!["x".parse().expect("path")];
        for (dir, expected) in [
            (Direction::Asc, vec![4, 1, 5, 0, 2, 3]),
            (Direction::Desc, vec![0, 1, 5, 4, 2, 3]),
        ] {
            let dirs = vec![dir];
            let order = RowOrder {
                paths: &paths,
                dirs: &dirs,
            };
            let mut rows: Vec<Ranked<'_>> = docs
                .iter()
                .enumerate()
                .map(|(i, d)| Ranked::new(&order, raw(d.clone()), i as u64))
                .collect();
            rows.sort();
            let ids: Vec<i32> = rows
                .iter()
                .map(|r| r.doc.get_i32("_id").expect("id"))
                .collect();
            assert_eq!(ids, expected);
            for k in 0..=docs.len() + 1 {
                let mut top = TopK::new(order, k);
                for d in &docs {
                    top.push(raw(d.clone()));
                }
                let got: Vec<i32> = top
                    .into_sorted()
                    .iter()
                    .map(|r| r.doc.get_i32("_id").expect("id"))
                    .collect();
                assert_eq!(got, expected.iter().take(k).copied().collect::<Vec<_>>());
            }
        }
    }
}
