//! The total order over BSON values (see the module docs of [`crate::value`]).

use std::cmp::Ordering;

use bson::raw::{RawArrayIter, RawIter};
use bson::{Bson, RawBson, RawBsonRef};

/// Type-class tags, in ascending order. [`type_class`] returns one of these.
pub mod class {
    /// MinKey.
    pub const MIN_KEY: u8 = 0x05;
    /// Null and undefined (and a missing field, where one is ordered).
    pub const NULL: u8 = 0x10;
    /// int32, int64, double and decimal128.
    pub const NUMBER: u8 = 0x20;
    /// String and symbol.
    pub const STRING: u8 = 0x30;
    /// Embedded document.
    pub const DOCUMENT: u8 = 0x40;
    /// Array.
    pub const ARRAY: u8 = 0x50;
    /// Binary data.
    pub const BINARY: u8 = 0x60;
    /// ObjectId.
    pub const OBJECT_ID: u8 = 0x70;
    /// Boolean.
    pub const BOOLEAN: u8 = 0x80;
    /// UTC datetime.
    pub const DATETIME: u8 = 0x90;
    /// Timestamp.
    pub const TIMESTAMP: u8 = 0xA0;
    /// Regular expression.
    pub const REGEX: u8 = 0xB0;
    /// DBPointer.
    pub const DB_POINTER: u8 = 0xB8;
    /// JavaScript code, with or without scope.
    pub const JAVASCRIPT: u8 = 0xC0;
    /// MaxKey.
    pub const MAX_KEY: u8 = 0xF0;
}

/// The type classes in ascending order: `(tag, name, BSON types in the class)`.
pub const TYPE_ORDER: &[(u8, &str, &str)] = &[
    (class::MIN_KEY, "MinKey", "minKey"),
    (class::NULL, "Null", "null, undefined, missing"),
    (class::NUMBER, "Number", "int32, int64, double, decimal128"),
    (class::STRING, "String", "string, symbol"),
    (class::DOCUMENT, "Document", "embedded document"),
    (class::ARRAY, "Array", "array"),
    (class::BINARY, "Binary", "binary"),
    (class::OBJECT_ID, "ObjectId", "objectId"),
    (class::BOOLEAN, "Boolean", "bool"),
    (class::DATETIME, "DateTime", "date"),
    (class::TIMESTAMP, "Timestamp", "timestamp"),
    (class::REGEX, "RegularExpression", "regex"),
    (class::DB_POINTER, "DbPointer", "dbPointer"),
    (
        class::JAVASCRIPT,
        "JavaScript",
        "javascript, javascriptWithScope",
    ),
    (class::MAX_KEY, "MaxKey", "maxKey"),
];

/// The type class of a value: one of the tags in [`class`], ascending in the value order.
pub fn type_class(v: RawBsonRef<'_>) -> u8 {
    match v {
        RawBsonRef::MinKey => class::MIN_KEY,
        RawBsonRef::Null | RawBsonRef::Undefined => class::NULL,
        RawBsonRef::Int32(_)
        | RawBsonRef::Int64(_)
        | RawBsonRef::Double(_)
        | RawBsonRef::Decimal128(_) => class::NUMBER,
        RawBsonRef::String(_) | RawBsonRef::Symbol(_) => class::STRING,
        RawBsonRef::Document(_) => class::DOCUMENT,
        RawBsonRef::Array(_) => class::ARRAY,
        RawBsonRef::Binary(_) => class::BINARY,
        RawBsonRef::ObjectId(_) => class::OBJECT_ID,
        RawBsonRef::Boolean(_) => class::BOOLEAN,
        RawBsonRef::DateTime(_) => class::DATETIME,
        RawBsonRef::Timestamp(_) => class::TIMESTAMP,
        RawBsonRef::RegularExpression(_) => class::REGEX,
        RawBsonRef::DbPointer(_) => class::DB_POINTER,
        RawBsonRef::JavaScriptCode(_) | RawBsonRef::JavaScriptCodeWithScope(_) => class::JAVASCRIPT,
        RawBsonRef::MaxKey => class::MAX_KEY,
    }
}

/// Whether two values are equal in the value order (`3 == 3.0`; `"3" != 3`).
pub fn values_equal(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> bool {
    compare(a, b) == Ordering::Equal
}

/// Compares two optional values; a missing value (`None`) orders as null.
pub fn compare_opt(a: Option<RawBsonRef<'_>>, b: Option<RawBsonRef<'_>>) -> Ordering {
    compare(a.unwrap_or(RawBsonRef::Null), b.unwrap_or(RawBsonRef::Null))
}

/// Compares two owned values (converts them to raw BSON first).
///
/// A value that cannot be converted (a document key holding a NUL byte) is compared by its type
/// class only.
pub fn compare_bson(a: &Bson, b: &Bson) -> Ordering {
    match (RawBson::try_from(a.clone()), RawBson::try_from(b.clone())) {
        (Ok(x), Ok(y)) => compare(x.as_raw_bson_ref(), y.as_raw_bson_ref()),
        _ => owned_class(a).cmp(&owned_class(b)),
    }
}

/// The type class of an owned value.
fn owned_class(v: &Bson) -> u8 {
    match v {
        Bson::Document(_) => class::DOCUMENT,
        Bson::Array(_) => class::ARRAY,
        Bson::JavaScriptCodeWithScope(_) => class::JAVASCRIPT,
        other => RawBson::try_from(other.clone())
            .map(|r| type_class(r.as_raw_bson_ref()))
            .unwrap_or(class::MAX_KEY),
    }
}

/// The total order over BSON values. Iterative, so deeply nested values cannot overflow the
/// stack. Malformed raw BSON inside documents or arrays ends the sequence at the bad element.
pub fn compare(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> Ordering {
    let mut stack: Vec<(Seq<'_>, Seq<'_>)> = Vec::new();
    let mut pending = Some((a, b));
    loop {
        if let Some((x, y)) = pending.take() {
            let (cx, cy) = (type_class(x), type_class(y));
            if cx != cy {
                return cx.cmp(&cy);
            }
            match (x, y) {
                (RawBsonRef::Document(dx), RawBsonRef::Document(dy)) => {
                    stack.push((Seq::Doc(dx.iter_elements()), Seq::Doc(dy.iter_elements())));
                }
                (RawBsonRef::Array(ax), RawBsonRef::Array(ay)) => {
                    stack.push((Seq::Arr(ax.into_iter()), Seq::Arr(ay.into_iter())));
                }
                _ => {
                    let o = compare_scalar(x, y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
            }
        }
        let Some((sx, sy)) = stack.last_mut() else {
            return Ordering::Equal;
        };
        match (sx.next_item(), sy.next_item()) {
            (None, None) => {
                stack.pop();
            }
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((kx, vx)), Some((ky, vy))) => {
                let o = kx.as_bytes().cmp(ky.as_bytes());
                if o != Ordering::Equal {
                    return o;
                }
                pending = Some((vx, vy));
            }
        }
    }
}

/// The elements of a document (with names) or of an array (with empty names).
enum Seq<'a> {
    Doc(RawIter<'a>),
    Arr(RawArrayIter<'a>),
}

impl<'a> Seq<'a> {
    fn next_item(&mut self) -> Option<(&'a str, RawBsonRef<'a>)> {
        match self {
            Seq::Doc(it) => {
                let el = it.next()?.ok()?;
                let v = el.value().ok()?;
                Some((el.key(), v))
            }
            Seq::Arr(it) => it.next()?.ok().map(|v| ("", v)),
        }
    }
}

/// Feeds a value to a hasher consistently with [`compare`]: values that compare `Equal` hash
/// equally (`3`, `3i64` and `3.0` alike; every NaN alike). Documents and arrays hash by their
/// type class only, so equal ones always collide and unequal ones may.
pub fn hash_value<H: std::hash::Hasher>(v: RawBsonRef<'_>, h: &mut H) {
    use std::hash::Hash;
    type_class(v).hash(h);
    if let Some(n) = as_num(v) {
        match n {
            Num::Int(i) => i.hash(h),
            Num::Float(f) if f.is_nan() => 0u8.hash(h),
            Num::Float(f) => {
                // Integral doubles in range hash as the integer they equal.
                const TWO_63: f64 = 9_223_372_036_854_775_808.0;
                if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
                    (f as i64).hash(h);
                } else {
                    f.to_bits().hash(h);
                }
            }
        }
        return;
    }
    match v {
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => s.as_bytes().hash(h),
        RawBsonRef::Binary(b) => {
            u8::from(b.subtype).hash(h);
            b.bytes.hash(h);
        }
        RawBsonRef::ObjectId(o) => o.bytes().hash(h),
        RawBsonRef::Boolean(b) => b.hash(h),
        RawBsonRef::DateTime(d) => d.timestamp_millis().hash(h),
        RawBsonRef::Timestamp(t) => (t.time, t.increment).hash(h),
        RawBsonRef::RegularExpression(r) => (r.pattern, r.options).hash(h),
        RawBsonRef::JavaScriptCode(c) => c.hash(h),
        RawBsonRef::JavaScriptCodeWithScope(c) => c.code.hash(h),
        _ => {}
    }
}

/// A number reduced to what its order needs.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn as_num(v: RawBsonRef<'_>) -> Option<Num> {
    match v {
        RawBsonRef::Int32(i) => Some(Num::Int(i64::from(i))),
        RawBsonRef::Int64(i) => Some(Num::Int(i)),
        RawBsonRef::Double(d) => Some(Num::Float(d)),
        RawBsonRef::Decimal128(d) => Some(Num::Float(decimal_to_f64(&d))),
        _ => None,
    }
}

/// The nearest double to a decimal128 (NaN for NaN).
fn decimal_to_f64(d: &bson::Decimal128) -> f64 {
    d.to_string().parse::<f64>().unwrap_or(f64::NAN)
}

/// A number as a double (int64 values beyond 2^53 are rounded); `None` for non-numbers.
pub fn number_as_f64(v: RawBsonRef<'_>) -> Option<f64> {
    match as_num(v)? {
        Num::Int(i) => Some(i as f64),
        Num::Float(f) => Some(f),
    }
}

fn compare_num(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Float(x), Num::Float(y)) => compare_f64(x, y),
        (Num::Int(x), Num::Float(y)) => compare_int_f64(x, y),
        (Num::Float(x), Num::Int(y)) => compare_int_f64(y, x).reverse(),
    }
}

fn compare_f64(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        // Neither is NaN, so partial_cmp is total here; -0.0 == 0.0.
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Compares an integer and a double exactly.
fn compare_int_f64(i: i64, f: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return Ordering::Greater;
    }
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    // |t| < 2^63 (or t == -2^63), so the conversion is exact.
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            let frac = f - t;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

/// Compares two non-container values of the same type class.
fn compare_scalar(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> Ordering {
    use RawBsonRef as R;
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return compare_num(x, y);
    }
    match (a, b) {
        (R::String(x) | R::Symbol(x), R::String(y) | R::Symbol(y)) => {
            x.as_bytes().cmp(y.as_bytes())
        }
        (R::Binary(x), R::Binary(y)) => u8::from(x.subtype)
            .cmp(&u8::from(y.subtype))
            .then_with(|| x.bytes.cmp(y.bytes)),
        (R::ObjectId(x), R::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (R::Boolean(x), R::Boolean(y)) => x.cmp(&y),
        (R::DateTime(x), R::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (R::Timestamp(x), R::Timestamp(y)) => x
            .time
            .cmp(&y.time)
            .then_with(|| x.increment.cmp(&y.increment)),
        (R::RegularExpression(x), R::RegularExpression(y)) => x
            .pattern
            .as_bytes()
            .cmp(y.pattern.as_bytes())
            .then_with(|| x.options.as_bytes().cmp(y.options.as_bytes())),
        (
            R::JavaScriptCode(x)
            | R::JavaScriptCodeWithScope(bson::raw::RawJavaScriptCodeWithScopeRef {
                code: x, ..
            }),
            R::JavaScriptCode(y)
            | R::JavaScriptCodeWithScope(bson::raw::RawJavaScriptCodeWithScopeRef {
                code: y, ..
            }),
        ) => x.as_bytes().cmp(y.as_bytes()),
        // MinKey, Null/Undefined, DbPointer, MaxKey: all members of the class are equal.
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests;
