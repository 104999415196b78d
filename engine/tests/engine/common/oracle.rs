//! An independent oracle: the query semantics of the issue, written as plain iteration over
//! owned documents, sharing no code with the engine (no `value::compare`, no `lookup`).

use std::cmp::Ordering;

use bson::{Bson, Document};
use serde_json::Value;

/// The value at a dotted path, through sub-documents only.
pub fn get<'a>(d: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut cur: &Bson = d.get(parts.next()?)?;
    for p in parts {
        match cur {
            Bson::Document(inner) => cur = inner.get(p)?,
            _ => return None,
        }
    }
    Some(cur)
}

/// The value when present and not null.
pub fn present<'a>(d: &'a Document, path: &str) -> Option<&'a Bson> {
    get(d, path).filter(|v| !matches!(v, Bson::Null | Bson::Undefined))
}

/// Rank of the kinds in the documented order.
fn rank(v: &Bson) -> u8 {
    match v {
        Bson::MinKey => 0,
        Bson::Null | Bson::Undefined => 1,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 2,
        Bson::String(_) | Bson::Symbol(_) => 3,
        Bson::Document(_) => 4,
        Bson::Array(_) => 5,
        Bson::Binary(_) => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Timestamp(_) => 10,
        Bson::RegularExpression(_) => 11,
        _ => 12,
    }
}

enum N {
    I(i128),
    F(f64),
}

fn num(v: &Bson) -> Option<N> {
    match v {
        Bson::Int32(i) => Some(N::I(i128::from(*i))),
        Bson::Int64(i) => Some(N::I(i128::from(*i))),
        Bson::Double(f) => Some(N::F(*f)),
        _ => None,
    }
}

/// Exact numeric comparison; NaN below everything, NaN == NaN.
fn num_cmp(a: &N, b: &N) -> Ordering {
    match (a, b) {
        (N::I(x), N::I(y)) => x.cmp(y),
        (N::F(x), N::F(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => x.partial_cmp(y).expect("not NaN"),
        },
        (N::I(x), N::F(y)) => {
            if y.is_nan() {
                Ordering::Greater
            } else if y.is_infinite() {
                if *y > 0.0 {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            } else {
                // Scale by 2^k so the double becomes an integer: exact for the test data.
                let floor = y.floor();
                match x.cmp(&(floor as i128)) {
                    Ordering::Equal if *y > floor => Ordering::Less,
                    o => o,
                }
            }
        }
        (N::F(_), N::I(_)) => num_cmp(b, a).reverse(),
    }
}

/// The total order used for sorting (and for comparisons within a kind).
pub fn total_cmp(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return num_cmp(&x, &y);
    }
    match (a, b) {
        (Bson::String(x), Bson::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = total_cmp(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::Document(x), Bson::Document(y)) => {
            for ((kp, p), (kq, q)) in x.iter().zip(y) {
                let o = kp
                    .as_bytes()
                    .cmp(kq.as_bytes())
                    .then_with(|| total_cmp(p, q));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

/// The comparison of a field with a literal: `None` when missing, null or of another kind.
pub fn cmp(d: &Document, path: &str, lit: &Bson) -> Option<Ordering> {
    let v = present(d, path)?;
    (rank(v) == rank(lit)).then(|| total_cmp(v, lit))
}

/// The six comparison operators.
#[derive(Clone, Copy, Debug)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }

    pub fn all() -> [CmpOp; 6] {
        [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Gt,
            CmpOp::Gte,
            CmpOp::Lt,
            CmpOp::Lte,
        ]
    }
}

/// `path op lit` under the documented rules (null literals: `= null` / `!= null`).
pub fn test(d: &Document, path: &str, op: CmpOp, lit: &Bson) -> bool {
    if matches!(lit, Bson::Null) {
        return match op {
            CmpOp::Eq => present(d, path).is_none(),
            CmpOp::Ne => present(d, path).is_some(),
            _ => false,
        };
    }
    match (op, cmp(d, path, lit)) {
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Gte, Some(o)) => o != Ordering::Less,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Lte, Some(o)) => o != Ordering::Greater,
    }
}

pub fn eq(d: &Document, path: &str, lit: impl Into<Bson>) -> bool {
    test(d, path, CmpOp::Eq, &lit.into())
}

pub fn gt(d: &Document, path: &str, lit: impl Into<Bson>) -> bool {
    test(d, path, CmpOp::Gt, &lit.into())
}

pub fn lt(d: &Document, path: &str, lit: impl Into<Bson>) -> bool {
    test(d, path, CmpOp::Lt, &lit.into())
}

pub fn gte(d: &Document, path: &str, lit: impl Into<Bson>) -> bool {
    test(d, path, CmpOp::Gte, &lit.into())
}

pub fn lte(d: &Document, path: &str, lit: impl Into<Bson>) -> bool {
    test(d, path, CmpOp::Lte, &lit.into())
}

pub fn is_in(d: &Document, path: &str, lits: &[Bson]) -> bool {
    lits.iter().any(|l| test(d, path, CmpOp::Eq, l))
}

pub fn string<'a>(d: &'a Document, path: &str) -> Option<&'a str> {
    match present(d, path)? {
        Bson::String(s) => Some(s),
        _ => None,
    }
}

pub fn contains(d: &Document, path: &str, s: &str) -> bool {
    string(d, path).is_some_and(|x| x.contains(s))
}

pub fn starts(d: &Document, path: &str, s: &str) -> bool {
    string(d, path).is_some_and(|x| x.starts_with(s))
}

thread_local! {
    static REGEXES: std::cell::RefCell<std::collections::HashMap<String, regex::Regex>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

pub fn matches_re(d: &Document, path: &str, re: &str) -> bool {
    let Some(x) = string(d, path) else {
        return false;
    };
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let r = cache
            .entry(re.to_string())
            .or_insert_with(|| regex::Regex::new(re).expect("regex"));
        r.is_match(x)
    })
}

pub fn exists(d: &Document, path: &str) -> bool {
    present(d, path).is_some()
}

/// The documents of a store that satisfy `pred`, in `_id` order.
pub fn rows(store: &[Document], pred: impl Fn(&Document) -> bool) -> Vec<&Document> {
    let mut v: Vec<&Document> = store.iter().filter(|d| pred(d)).collect();
    v.sort_by(|a, b| {
        total_cmp(
            a.get("_id").unwrap_or(&Bson::Null),
            b.get("_id").unwrap_or(&Bson::Null),
        )
    });
    v
}

/// Compares two rows by sort keys `(path, descending)`: missing and null last either way.
pub fn key_cmp(a: &Document, b: &Document, keys: &[(&str, bool)]) -> Ordering {
    for (path, desc) in keys {
        let o = match (present(a, path), present(b, path)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let o = total_cmp(x, y);
                if *desc { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Sorts rows by keys, ties by `_id` (stable for rows without `_id`).
pub fn sort<D: std::borrow::Borrow<Document>>(v: &mut [D], keys: &[(&str, bool)]) {
    v.sort_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        key_cmp(a, b, keys).then_with(|| match (a.get("_id"), b.get("_id")) {
            (Some(x), Some(y)) => total_cmp(x, y),
            _ => Ordering::Equal,
        })
    });
}

/// skip / limit.
pub fn page<D>(v: Vec<D>, skip: usize, limit: Option<usize>) -> Vec<D> {
    let it = v.into_iter().skip(skip);
    match limit {
        Some(l) => it.take(l).collect(),
        None => it.collect(),
    }
}

/// Keeps only `paths`, re-nested.
pub fn pluck(d: &Document, paths: &[&str]) -> Document {
    let mut out = Document::new();
    for p in paths {
        if let Some(v) = get(d, p) {
            put(&mut out, p, v.clone());
        }
    }
    out
}

/// Sets a dotted path, creating sub-documents.
pub fn put(d: &mut Document, path: &str, v: Bson) {
    match path.split_once('.') {
        None => {
            d.insert(path, v);
        }
        Some((head, rest)) => {
            if !matches!(d.get(head), Some(Bson::Document(_))) {
                d.insert(head, Document::new());
            }
            if let Some(Bson::Document(inner)) = d.get_mut(head) {
                put(inner, rest, v);
            }
        }
    }
}

pub fn json<D: std::borrow::Borrow<Document>>(v: &[D]) -> Value {
    Value::Array(
        v.iter()
            .map(|d| Bson::Document(d.borrow().clone()).into_relaxed_extjson())
            .collect(),
    )
}

pub fn ids(v: &[&Document]) -> Value {
    json(&v.iter().map(|d| pluck(d, &["_id"])).collect::<Vec<_>>())
}

pub fn count(n: usize) -> Value {
    serde_json::json!({ "count": n })
}

/// Aggregates over a set of rows.
pub enum Agg<'a> {
    Count,
    CountOf(&'a str),
    Sum(&'a str),
    Avg(&'a str),
    Min(&'a str),
    Max(&'a str),
}

/// The BSON type number, which picks the representative among equal values.
fn type_number(v: &Bson) -> u8 {
    v.element_type() as u8
}

fn pick_extreme(rows: &[&Document], path: &str, want: Ordering) -> Bson {
    let mut best: Option<&Bson> = None;
    for r in rows {
        if let Some(v) = present(r, path) {
            best = match best {
                None => Some(v),
                Some(b) => {
                    let o = total_cmp(v, b);
                    if o == want || (o == Ordering::Equal && type_number(v) < type_number(b)) {
                        Some(v)
                    } else {
                        Some(b)
                    }
                }
            };
        }
    }
    best.cloned().unwrap_or(Bson::Null)
}

/// One aggregate over rows: exact integer sums, double otherwise.
pub fn aggregate(rows: &[&Document], agg: &Agg<'_>) -> Bson {
    match agg {
        Agg::Count => Bson::Int64(rows.len() as i64),
        Agg::CountOf(p) => {
            Bson::Int64(rows.iter().filter(|r| present(r, p).is_some()).count() as i64)
        }
        Agg::Sum(p) | Agg::Avg(p) => {
            let mut ints: i128 = 0;
            let mut floats = 0.0f64;
            let mut any_float = false;
            let mut n = 0u64;
            for r in rows {
                match get(r, p) {
                    Some(Bson::Int32(i)) => {
                        ints += i128::from(*i);
                        n += 1;
                    }
                    Some(Bson::Int64(i)) => {
                        ints += i128::from(*i);
                        n += 1;
                    }
                    Some(Bson::Double(f)) => {
                        floats += f;
                        any_float = true;
                        n += 1;
                    }
                    _ => {}
                }
            }
            let total = ints as f64 + floats;
            match agg {
                Agg::Sum(_) if !any_float => match i64::try_from(ints) {
                    Ok(i) => Bson::Int64(i),
                    Err(_) => Bson::Double(total),
                },
                Agg::Sum(_) => Bson::Double(total),
                _ if n == 0 => Bson::Null,
                _ => Bson::Double(total / n as f64),
            }
        }
        Agg::Min(p) => pick_extreme(rows, p, Ordering::Less),
        Agg::Max(p) => pick_extreme(rows, p, Ordering::Greater),
    }
}

/// Groups rows by `keys` (missing as null; equal values one group, shown by the smallest type
/// number) in key order, and computes `aggs` per group.
pub fn group<D: std::borrow::Borrow<Document>>(
    rows: &[D],
    keys: &[&str],
    aggs: &[(&str, Agg<'_>)],
) -> Vec<Document> {
    let key_of = |r: &Document| -> Vec<Bson> {
        keys.iter()
            .map(|k| get(r, k).cloned().unwrap_or(Bson::Null))
            .collect()
    };
    let mut groups: Vec<(Vec<Bson>, Vec<&Document>)> = Vec::new();
    for r in rows {
        let r = r.borrow();
        let k = key_of(r);
        match groups.iter_mut().find(|(g, _)| {
            g.iter()
                .zip(&k)
                .all(|(a, b)| total_cmp(a, b) == Ordering::Equal)
        }) {
            Some((g, members)) => {
                for (slot, v) in g.iter_mut().zip(&k) {
                    if type_number(v) < type_number(slot) {
                        *slot = v.clone();
                    }
                }
                members.push(r);
            }
            None => groups.push((k, vec![r])),
        }
    }
    groups.sort_by(|(a, _), (b, _)| {
        a.iter()
            .zip(b)
            .map(|(x, y)| total_cmp(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    if groups.is_empty() && keys.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    groups
        .into_iter()
        .map(|(k, members)| {
            let mut row = Document::new();
            for (path, v) in keys.iter().zip(k) {
                put(&mut row, path, v);
            }
            for (alias, agg) in aggs {
                row.insert(*alias, aggregate(&members, agg));
            }
            row
        })
        .collect()
}

/// Compares JSON values; doubles within a relative 1e-9 (the engine sums doubles exactly, the
/// oracle naively), integers exactly, and an integer never equals a double.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() != y.is_f64() {
                return false;
            }
            if x.is_f64() {
                let (p, q) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                p == q || (p - q).abs() <= 1e-9 * p.abs().max(q.abs())
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((kx, vx), (ky, vy))| kx == ky && json_eq(vx, vy))
        }
        _ => a == b,
    }
}
