//! Intervals of values of one field, in the value order, and the intervals each predicate allows.

use std::cmp::Ordering;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, RawBson, Timestamp};

use crate::query::ir::Op;
use crate::value::{class, compare_bson, type_class};

/// One end of an interval: a value and whether it is included.
pub(crate) type End = Option<(Bson, bool)>;

/// A contiguous set of values: `lo` .. `hi` (`None` = unbounded).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Interval {
    /// The lower end.
    pub lo: End,
    /// The upper end.
    pub hi: End,
}

impl Interval {
    /// The interval holding exactly `v`.
    pub fn point(v: Bson) -> Self {
        Interval {
            lo: Some((v.clone(), true)),
            hi: Some((v, true)),
        }
    }

    /// The value, when the interval is a single point.
    pub fn as_point(&self) -> Option<&Bson> {
        match (&self.lo, &self.hi) {
            (Some((a, true)), Some((b, true))) if compare_bson(a, b) == Ordering::Equal => Some(a),
            _ => None,
        }
    }

    /// The intersection, or `None` when it is empty.
    pub fn intersect(&self, other: &Interval) -> Option<Interval> {
        let lo = if cmp_lower(&self.lo, &other.lo) == Ordering::Less {
            other.lo.clone()
        } else {
            self.lo.clone()
        };
        let hi = if cmp_upper(&self.hi, &other.hi) == Ordering::Greater {
            other.hi.clone()
        } else {
            self.hi.clone()
        };
        let i = Interval { lo, hi };
        (!i.is_empty()).then_some(i)
    }

    fn is_empty(&self) -> bool {
        match (&self.lo, &self.hi) {
            (Some((a, ai)), Some((b, bi))) => match compare_bson(a, b) {
                Ordering::Greater => true,
                Ordering::Equal => !(*ai && *bi),
                Ordering::Less => false,
            },
            _ => false,
        }
    }
}

/// Orders lower ends: unbounded first; at equal values an inclusive end starts earlier.
fn cmp_lower(a: &End, b: &End) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some((x, xi)), Some((y, yi))) => compare_bson(x, y).then_with(|| yi.cmp(xi)),
    }
}

/// Orders upper ends: unbounded last; at equal values an inclusive end ends later.
fn cmp_upper(a: &End, b: &End) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some((x, xi)), Some((y, yi))) => compare_bson(x, y).then_with(|| xi.cmp(yi)),
    }
}

/// Sorts intervals and merges the ones that overlap or touch, so scanning them returns each
/// entry once, in order.
pub(crate) fn normalize(mut v: Vec<Interval>) -> Vec<Interval> {
    v.sort_by(|a, b| cmp_lower(&a.lo, &b.lo));
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for next in v {
        if let Some(cur) = out.last_mut() {
            let touches = match (&cur.hi, &next.lo) {
                (None, _) | (_, None) => true,
                (Some((h, hi)), Some((l, li))) => match compare_bson(l, h) {
                    Ordering::Less => true,
                    Ordering::Equal => *hi || *li,
                    Ordering::Greater => false,
                },
            };
            if touches {
                if cmp_upper(&next.hi, &cur.hi) == Ordering::Greater {
                    cur.hi = next.hi;
                }
                continue;
            }
        }
        out.push(next);
    }
    out
}

/// The intersection of two unions of intervals.
pub(crate) fn intersect_sets(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            if let Some(i) = x.intersect(y) {
                out.push(i);
            }
        }
    }
    normalize(out)
}

/// The smallest value of each type class (`None` for classes without a constructible value).
fn class_min(c: u8) -> Option<Bson> {
    Some(match c {
        class::MIN_KEY => Bson::MinKey,
        class::NULL => Bson::Null,
        class::NUMBER => Bson::Double(f64::NAN),
        class::STRING => Bson::String(String::new()),
        class::DOCUMENT => Bson::Document(Document::new()),
        class::ARRAY => Bson::Array(Vec::new()),
        class::BINARY => Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: Vec::new(),
        }),
        class::OBJECT_ID => Bson::ObjectId(ObjectId::from_bytes([0; 12])),
        class::BOOLEAN => Bson::Boolean(false),
        class::DATETIME => Bson::DateTime(bson::DateTime::from_millis(i64::MIN)),
        class::TIMESTAMP => Bson::Timestamp(Timestamp {
            time: 0,
            increment: 0,
        }),
        class::REGEX => Bson::RegularExpression(bson::Regex {
            pattern: String::new(),
            options: String::new(),
        }),
        class::JAVASCRIPT => Bson::JavaScriptCode(String::new()),
        class::MAX_KEY => Bson::MaxKey,
        _ => return None,
    })
}

/// The class of an owned value.
fn class_of(v: &Bson) -> Option<u8> {
    RawBson::try_from(v.clone())
        .ok()
        .map(|r| type_class(r.as_raw_bson_ref()))
}

/// The inclusive lower end of `v`'s class.
fn class_floor(v: &Bson) -> End {
    class_of(v).and_then(class_min).map(|m| (m, true))
}

/// The exclusive upper end of `v`'s class: the smallest value of the next class.
fn class_ceiling(v: &Bson) -> End {
    let c = class_of(v)?;
    crate::value::TYPE_ORDER
        .iter()
        .map(|t| t.0)
        .filter(|&t| t > c)
        .find_map(class_min)
        .map(|m| (m, false))
}

/// The smallest string greater than every string starting with `prefix`, if there is one.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn is_null(v: &Bson) -> bool {
    matches!(v, Bson::Null | Bson::Undefined)
}

/// The values of one field that a predicate can accept, as a union of intervals; `None` when the
/// predicate cannot be answered from an index (`!=`, `contains`, `~`, `exists`, `not`).
/// Missing fields are indexed as null, so `= null` and `exists false` are the null point.
pub(crate) fn op_intervals(op: &Op) -> Option<Vec<Interval>> {
    let range = |lo: End, hi: End| Some(vec![Interval { lo, hi }]);
    match op {
        Op::Eq(v) if is_null(v) => Some(vec![Interval::point(Bson::Null)]),
        Op::Exists(false) => Some(vec![Interval::point(Bson::Null)]),
        Op::Eq(v) => Some(vec![Interval::point(v.clone())]),
        Op::In(vs) => Some(normalize(
            vs.iter()
                .map(|v| Interval::point(if is_null(v) { Bson::Null } else { v.clone() }))
                .collect(),
        )),
        Op::Gt(v) | Op::Gte(v) | Op::Lt(v) | Op::Lte(v) if is_null(v) => None,
        Op::Gt(v) => range(Some((v.clone(), false)), class_ceiling(v)),
        Op::Gte(v) => range(Some((v.clone(), true)), class_ceiling(v)),
        Op::Lt(v) => range(class_floor(v), Some((v.clone(), false))),
        Op::Lte(v) => range(class_floor(v), Some((v.clone(), true))),
        Op::StartsWith(s) => {
            let hi = match prefix_successor(s) {
                Some(next) => (Bson::String(next), false),
                None => (Bson::Document(Document::new()), false),
            };
            range(Some((Bson::String(s.clone()), true)), Some(hi))
        }
        Op::Ne(_) | Op::Contains(_) | Op::Regex(_) | Op::Exists(true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_stay_within_the_class_and_merge() {
        let gt = op_intervals(&Op::Gt(Bson::Int32(5))).expect("indexable");
        assert_eq!(gt[0].hi, Some((Bson::String(String::new()), false)));
        let lt = op_intervals(&Op::Lt(Bson::Int32(10))).expect("indexable");
        let both = intersect_sets(&gt, &lt);
        assert_eq!(
            both,
            vec![Interval {
                lo: Some((Bson::Int32(5), false)),
                hi: Some((Bson::Int32(10), false))
            }]
        );
        let none = intersect_sets(&gt, &op_intervals(&Op::Lt(Bson::Int32(3))).expect("ok"));
        assert!(none.is_empty());
        let pts = op_intervals(&Op::In(vec![
            Bson::Int32(2),
            Bson::Double(2.0),
            Bson::Int32(1),
        ]))
        .expect("ok");
        assert_eq!(pts.len(), 2);
        assert_eq!(prefix_successor("Ro").as_deref(), Some("Rp"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor(""), None);
        assert!(op_intervals(&Op::Ne(Bson::Int32(1))).is_none());
    }
}
