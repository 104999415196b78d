//! Grouping and aggregate functions.
//!
//! - group keys keep their types (an int stays an int; a missing field is null); keys that
//!   compare equal (`3` and `3.0`) form one group, and the group shows the representative that
//!   is smallest by (BSON type number, bytes), so the result does not depend on arrival order;
//! - `count` counts documents, `count(path)` non-null values;
//! - `sum` is an int64 while only integers were added and the sum fits, else a double (see
//!   [`sum`]); non-numbers are ignored;
//! - `avg` is a double (null when no numbers were seen);
//! - `min` / `max` use the value order over present, non-null values and return the original
//!   value (among equal values, the same representative rule as group keys);
//! - without `groupBy` there is always exactly one row, even when no document matched.

mod sum;

use std::cmp::Ordering;
use std::collections::HashMap;

use bson::{Bson, Document, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};

use super::error::QueryError;
use super::ir::{AggFn, Aggregate};
use crate::value::{FieldPath, class, compare, hash_value, lookup, set_path, type_class};
use sum::ExactSum;

/// A group key: one value per `groupBy` path; equal, ordered and hashed by the value order.
#[derive(Debug, Clone)]
struct GroupKey(Vec<RawBson>);

impl GroupKey {
    fn order(&self, other: &Self) -> Ordering {
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            let o = compare(a.as_raw_bson_ref(), b.as_raw_bson_ref());
            if o != Ordering::Equal {
                return o;
            }
        }
        self.0.len().cmp(&other.0.len())
    }
}

impl PartialEq for GroupKey {
    fn eq(&self, other: &Self) -> bool {
        self.order(other) == Ordering::Equal
    }
}

impl Eq for GroupKey {}

impl std::hash::Hash for GroupKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for v in &self.0 {
            hash_value(v.as_raw_bson_ref(), state);
        }
    }
}

/// The bytes that break ties between equal values: BSON type number, then the encoding.
fn representative_bytes(v: RawBsonRef<'_>) -> Vec<u8> {
    let mut d = RawDocumentBuf::new();
    d.append_ref("v", v);
    let mut out = vec![v.element_type() as u8];
    out.extend_from_slice(d.as_bytes());
    out
}

/// Whether `candidate` should replace `current` as the representative of two equal values.
fn better_representative(candidate: RawBsonRef<'_>, current: RawBsonRef<'_>) -> bool {
    let (tc, tu) = (candidate.element_type() as u8, current.element_type() as u8);
    if tc != tu {
        return tc < tu;
    }
    match (candidate, current) {
        (RawBsonRef::Double(a), RawBsonRef::Double(b)) => a.to_bits() < b.to_bits(),
        // Equal values of these types may still differ in their bytes.
        (
            RawBsonRef::Document(_)
            | RawBsonRef::Array(_)
            | RawBsonRef::Decimal128(_)
            | RawBsonRef::DbPointer(_)
            | RawBsonRef::JavaScriptCodeWithScope(_),
            _,
        ) => representative_bytes(candidate) < representative_bytes(current),
        // Equal values of the other types have identical bytes.
        _ => false,
    }
}

#[derive(Debug, Clone)]
enum Acc {
    Count(u64),
    Sum(ExactSum),
    Avg(ExactSum),
    Min(Option<RawBson>),
    Max(Option<RawBson>),
}

struct Group {
    key: Vec<RawBson>,
    accs: Vec<Acc>,
}

/// Accumulates documents into groups.
pub(crate) struct Grouper<'q> {
    group_by: &'q [FieldPath],
    aggregates: &'q [Aggregate],
    /// Group position by key.
    index: HashMap<GroupKey, usize>,
    /// Groups in arrival order (sorted by key when finished).
    groups: Vec<Group>,
    probe: GroupKey,
    /// The distinct paths the aggregates read.
    paths: Vec<FieldPath>,
    /// For each aggregate, the position of its path in `paths`.
    slots: Vec<Option<usize>>,
    /// Groups allowed.
    max_groups: usize,
}

fn new_accs(aggregates: &[Aggregate]) -> Vec<Acc> {
    aggregates
        .iter()
        .map(|a| match a.function {
            AggFn::Count | AggFn::CountField(_) => Acc::Count(0),
            AggFn::Sum(_) => Acc::Sum(ExactSum::default()),
            AggFn::Avg(_) => Acc::Avg(ExactSum::default()),
            AggFn::Min(_) => Acc::Min(None),
            AggFn::Max(_) => Acc::Max(None),
        })
        .collect()
}

fn present(v: Option<RawBsonRef<'_>>) -> Option<RawBsonRef<'_>> {
    v.filter(|x| type_class(*x) != class::NULL)
}

/// Keeps the min (`want = Less`) or max (`want = Greater`) of the values seen.
fn keep_extreme(slot: &mut Option<RawBson>, v: RawBsonRef<'_>, want: Ordering) {
    let replace = match slot {
        None => true,
        Some(cur) => {
            let o = compare(v, cur.as_raw_bson_ref());
            o == want || (o == Ordering::Equal && better_representative(v, cur.as_raw_bson_ref()))
        }
    };
    if replace {
        *slot = Some(v.to_raw_bson());
    }
}

impl<'q> Grouper<'q> {
    /// An empty grouping of at most `max_groups` groups.
    pub fn new(group_by: &'q [FieldPath], aggregates: &'q [Aggregate], max_groups: usize) -> Self {
        let mut paths: Vec<FieldPath> = Vec::new();
        let slots = aggregates
            .iter()
            .map(|a| {
                a.function.path().map(|p| {
                    if let Some(i) = paths.iter().position(|q| q == p) {
                        i
                    } else {
                        paths.push(p.clone());
                        paths.len() - 1
                    }
                })
            })
            .collect();
        Grouper {
            group_by,
            aggregates,
            index: HashMap::new(),
            groups: Vec::new(),
            probe: GroupKey(Vec::new()),
            paths,
            slots,
            max_groups,
        }
    }

    /// Adds one (matching) document; fails when it would start a group past the limit.
    pub fn add(&mut self, doc: &RawDocument) -> Result<(), QueryError> {
        // The probe key is reused from document to document: no allocation for scalar keys of an
        // existing group.
        self.probe.0.clear();
        self.probe.0.extend(
            self.group_by
                .iter()
                .map(|p| lookup(doc, p).map_or(RawBson::Null, bson::RawBsonRef::to_raw_bson)),
        );
        let aggregates = self.aggregates;
        let index = if let Some(&i) = self.index.get(&self.probe) {
            i
        } else {
            let i = self.groups.len();
            if i >= self.max_groups {
                return Err(QueryError::TooManyGroups {
                    max: self.max_groups,
                });
            }
            self.index.insert(self.probe.clone(), i);
            self.groups.push(Group {
                key: self.probe.0.clone(),
                accs: new_accs(aggregates),
            });
            i
        };
        let Some(group) = self.groups.get_mut(index) else {
            return Ok(());
        };
        for (slot, v) in group.key.iter_mut().zip(self.probe.0.iter()) {
            if better_representative(v.as_raw_bson_ref(), slot.as_raw_bson_ref()) {
                *slot = v.clone();
            }
        }
        // Each distinct path is looked up once per document.
        let values: Vec<Option<RawBsonRef<'_>>> =
            self.paths.iter().map(|p| lookup(doc, p)).collect();
        for ((acc, agg), slot) in group.accs.iter_mut().zip(aggregates).zip(&self.slots) {
            let value = slot.and_then(|i| values.get(i).copied().flatten());
            match (acc, &agg.function) {
                (Acc::Count(n), AggFn::Count) => *n += 1,
                (Acc::Count(n), _) => {
                    if present(value).is_some() {
                        *n += 1;
                    }
                }
                (Acc::Sum(s) | Acc::Avg(s), _) => {
                    if let Some(v) = value {
                        s.add(v);
                    }
                }
                (Acc::Min(slot), _) => {
                    if let Some(v) = present(value) {
                        keep_extreme(slot, v, Ordering::Less);
                    }
                }
                (Acc::Max(slot), _) => {
                    if let Some(v) = present(value) {
                        keep_extreme(slot, v, Ordering::Greater);
                    }
                }
            }
        }
        Ok(())
    }

    /// The group rows in group-key order: the group fields (re-nested) then the aliases.
    /// Without `groupBy` there is exactly one row.
    pub fn finish(self) -> Result<Vec<Document>, QueryError> {
        let mut groups = self.groups;
        groups.sort_by(|a, b| {
            a.key
                .iter()
                .zip(b.key.iter())
                .map(|(x, y)| compare(x.as_raw_bson_ref(), y.as_raw_bson_ref()))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        if groups.is_empty() && self.group_by.is_empty() {
            groups.push(Group {
                key: Vec::new(),
                accs: new_accs(self.aggregates),
            });
        }
        let mut rows = Vec::with_capacity(groups.len());
        for g in groups {
            let mut row = Document::new();
            for (path, value) in self.group_by.iter().zip(g.key) {
                let v = Bson::try_from(value).map_err(|e| QueryError::Bson(e.to_string()))?;
                // A path under another group field that is not a document cannot be shown.
                let _ = set_path(&mut row, path, v);
            }
            for (agg, acc) in self.aggregates.iter().zip(g.accs) {
                let v = match acc {
                    Acc::Count(n) => Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
                    Acc::Sum(s) => s.finish(),
                    Acc::Avg(s) => {
                        if s.count == 0 {
                            Bson::Null
                        } else {
                            Bson::Double(s.total_f64() / s.count as f64)
                        }
                    }
                    Acc::Min(v) | Acc::Max(v) => match v {
                        None => Bson::Null,
                        Some(v) => {
                            Bson::try_from(v).map_err(|e| QueryError::Bson(e.to_string()))?
                        }
                    },
                };
                row.insert(agg.alias.clone(), v);
            }
            rows.push(row);
        }
        Ok(rows)
    }
}
