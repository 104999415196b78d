//! An order-preserving byte encoding of BSON values.
//!
//! `memcmp` of two encodings orders them exactly as the engine's value order: type classes in
//! MongoDB's order (MinKey, null and missing, numbers, strings, documents, arrays, binary,
//! ObjectId, booleans, datetimes, timestamps, regular expressions, JavaScript, MaxKey), numbers
//! by exact value across int32, int64 and double, strings by their UTF-8 bytes. Index keys and
//! document keys are built from it, so B+tree order is value order and range scans are correct.
//!
//! Numbers are encoded as the nearest double (order-preserving bits) followed by the exact
//! integer difference between the value and that double, so `3`, `3i64` and `3.0` encode alike
//! while `2^53 + 1` still sorts above `2^53`.

use bson::{RawBsonRef, RawDocument};

/// Type-class tags: the first byte of every encoding is the value's class in the value order.
use crate::value::class as tag;

/// Appends the encoding of `value` (`None` = a missing field, which sorts as null).
pub fn encode_opt(value: Option<RawBsonRef<'_>>, out: &mut Vec<u8>) {
    match value {
        Some(v) => encode(v, out),
        None => out.push(tag::NULL),
    }
}

/// Appends the order-preserving encoding of `value` to `out`.
pub fn encode(value: RawBsonRef<'_>, out: &mut Vec<u8>) {
    match value {
        RawBsonRef::MinKey => out.push(tag::MIN_KEY),
        RawBsonRef::Null | RawBsonRef::Undefined => out.push(tag::NULL),
        RawBsonRef::Int32(i) => encode_i64(i64::from(i), out),
        RawBsonRef::Int64(i) => encode_i64(i, out),
        RawBsonRef::Double(d) => encode_f64(d, out),
        RawBsonRef::Decimal128(d) => {
            let approx = d.to_string().parse::<f64>().unwrap_or(f64::NAN);
            encode_f64(approx, out);
        }
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => {
            out.push(tag::STRING);
            escaped(s.as_bytes(), out);
        }
        RawBsonRef::Document(d) => {
            out.push(tag::DOCUMENT);
            encode_document(d, out);
        }
        RawBsonRef::Array(a) => {
            out.push(tag::ARRAY);
            for v in a {
                out.push(1);
                match v {
                    Ok(v) => encode(v, out),
                    Err(_) => out.push(tag::NULL),
                }
            }
            out.push(0);
        }
        RawBsonRef::Binary(b) => {
            out.push(tag::BINARY);
            out.push(u8::from(b.subtype));
            escaped(b.bytes, out);
        }
        RawBsonRef::ObjectId(oid) => {
            out.push(tag::OBJECT_ID);
            out.extend_from_slice(&oid.bytes());
        }
        RawBsonRef::Boolean(b) => {
            out.push(tag::BOOLEAN);
            out.push(u8::from(b));
        }
        RawBsonRef::DateTime(dt) => {
            out.push(tag::DATETIME);
            out.extend_from_slice(&sortable_i64(dt.timestamp_millis()));
        }
        RawBsonRef::Timestamp(ts) => {
            out.push(tag::TIMESTAMP);
            out.extend_from_slice(&ts.time.to_be_bytes());
            out.extend_from_slice(&ts.increment.to_be_bytes());
        }
        RawBsonRef::RegularExpression(re) => {
            out.push(tag::REGEX);
            escaped(re.pattern.as_bytes(), out);
            escaped(re.options.as_bytes(), out);
        }
        RawBsonRef::DbPointer(_) => out.push(tag::DB_POINTER),
        RawBsonRef::JavaScriptCode(code) => {
            out.push(tag::JAVASCRIPT);
            escaped(code.as_bytes(), out);
        }
        RawBsonRef::JavaScriptCodeWithScope(cws) => {
            out.push(tag::JAVASCRIPT);
            escaped(cws.code.as_bytes(), out);
        }
        RawBsonRef::MaxKey => out.push(tag::MAX_KEY),
    }
}

fn encode_document(d: &RawDocument, out: &mut Vec<u8>) {
    for item in d {
        out.push(1);
        match item {
            Ok((k, v)) => {
                escaped(k.as_bytes(), out);
                encode(v, out);
            }
            Err(_) => out.push(tag::NULL),
        }
    }
    out.push(0);
}

/// Writes `bytes` with `0x00` escaped as `0x00 0xFF`, then the terminator `0x00 0x00`, so a
/// proper prefix sorts first.
fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn sortable_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn sortable_f64(v: f64) -> [u8; 8] {
    let v = if v == 0.0 { 0.0 } else { v };
    let bits = v.to_bits();
    let flipped = if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    };
    flipped.to_be_bytes()
}

fn encode_i64(v: i64, out: &mut Vec<u8>) {
    // The nearest double, then the exact remainder: orders exactly against doubles.
    let nearest = v as f64;
    let delta = i128::from(v) - nearest as i128;
    out.push(tag::NUMBER);
    out.push(1);
    out.extend_from_slice(&sortable_f64(nearest));
    out.extend_from_slice(&sortable_i64(delta as i64));
}

fn encode_f64(v: f64, out: &mut Vec<u8>) {
    out.push(tag::NUMBER);
    if v.is_nan() {
        // NaN sorts below every other number.
        out.push(0);
        return;
    }
    out.push(1);
    out.extend_from_slice(&sortable_f64(v));
    out.extend_from_slice(&sortable_i64(0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{Bson, RawBson, oid::ObjectId};

    fn enc(b: Bson) -> Vec<u8> {
        let raw = RawBson::try_from(b).expect("raw");
        let mut out = Vec::new();
        encode(raw.as_raw_bson_ref(), &mut out);
        out
    }

    #[test]
    fn numbers_compare_exactly_across_types() {
        assert_eq!(enc(Bson::Int32(3)), enc(Bson::Double(3.0)));
        assert_eq!(enc(Bson::Int64(3)), enc(Bson::Int32(3)));
        assert!(enc(Bson::Int64((1 << 53) + 1)) > enc(Bson::Double((1u64 << 53) as f64)));
        assert!(enc(Bson::Int64(1 << 53)) == enc(Bson::Double((1u64 << 53) as f64)));
        assert!(enc(Bson::Double(2.5)) > enc(Bson::Int32(2)));
        assert!(enc(Bson::Double(2.5)) < enc(Bson::Int32(3)));
        assert!(enc(Bson::Int32(-1)) < enc(Bson::Double(-0.5)));
        assert!(enc(Bson::Double(f64::NAN)) < enc(Bson::Double(f64::NEG_INFINITY)));
        assert_eq!(enc(Bson::Double(-0.0)), enc(Bson::Double(0.0)));
        assert!(enc(Bson::Int64(i64::MAX)) > enc(Bson::Int64(i64::MAX - 1)));
        assert!(enc(Bson::Int64(i64::MIN)) < enc(Bson::Int64(i64::MIN + 1)));
    }

    #[test]
    fn strings_by_bytes_and_prefix_first() {
        assert!(enc(Bson::String("a".into())) < enc(Bson::String("a\0".into())));
        assert!(enc(Bson::String("a\0".into())) < enc(Bson::String("ab".into())));
        assert!(enc(Bson::String("B".into())) < enc(Bson::String("a".into())));
        assert!(enc(Bson::String(String::new())) < enc(Bson::String("\0".into())));
    }

    #[test]
    fn type_classes_in_order() {
        let ordered = vec![
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(5),
            Bson::String("x".into()),
            Bson::Document(bson::doc! {"a": 1}),
            Bson::Array(vec![Bson::Int32(1)]),
            Bson::ObjectId(ObjectId::new()),
            Bson::Boolean(false),
            Bson::Boolean(true),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            assert!(
                enc(w[0].clone()) < enc(w[1].clone()),
                "{:?} < {:?}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn documents_and_arrays_prefix_first() {
        assert!(enc(Bson::Array(vec![])) < enc(Bson::Array(vec![Bson::Null])));
        assert!(
            enc(Bson::Array(vec![Bson::Int32(1)]))
                < enc(Bson::Array(vec![Bson::Int32(1), Bson::Int32(0)]))
        );
        assert!(
            enc(Bson::Document(bson::doc! {"a": 1}))
                < enc(Bson::Document(bson::doc! {"a": 1, "b": 0}))
        );
    }

    proptest::proptest! {
        #[test]
        fn integer_and_double_order_matches_exact_arithmetic(a in proptest::num::i64::ANY, b in proptest::num::f64::NORMAL) {
            let ea = enc(Bson::Int64(a));
            let eb = enc(Bson::Double(b));
            // Exact comparison: an i64 against a finite double.
            let exact = if b >= 9.3e18 { std::cmp::Ordering::Less }
                else if b <= -9.3e18 { std::cmp::Ordering::Greater }
                else {
                    let bi = b.trunc() as i128;
                    match i128::from(a).cmp(&bi) {
                        std::cmp::Ordering::Equal => 0.0f64.partial_cmp(&b.fract()).unwrap_or(std::cmp::Ordering::Equal),
                        o => o,
                    }
                };
            proptest::prop_assert_eq!(ea.cmp(&eb), exact);
        }

        #[test]
        fn integers_order(a in proptest::num::i64::ANY, b in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(enc(Bson::Int64(a)).cmp(&enc(Bson::Int64(b))), a.cmp(&b));
        }

        #[test]
        fn strings_order(a in ".{0,8}", b in ".{0,8}") {
            proptest::prop_assert_eq!(enc(Bson::String(a.clone())).cmp(&enc(Bson::String(b.clone()))), a.as_bytes().cmp(b.as_bytes()));
        }
    }
}
