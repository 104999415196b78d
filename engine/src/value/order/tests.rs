use std::cmp::Ordering;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Timestamp, doc};
use proptest::prelude::*;

use super::*;

fn cmp(a: Bson, b: Bson) -> Ordering {
    compare_bson(&a, &b)
}

#[test]
fn type_classes_follow_mongodb_order() {
    let ordered = vec![
        Bson::MinKey,
        Bson::Null,
        Bson::Double(f64::NAN),
        Bson::Double(f64::NEG_INFINITY),
        Bson::Int64(i64::MIN),
        Bson::Int32(5),
        Bson::Double(f64::INFINITY),
        Bson::String(String::new()),
        Bson::Symbol("x".into()),
        Bson::Document(doc! {}),
        Bson::Document(doc! {"a": 1}),
        Bson::Array(vec![]),
        Bson::Array(vec![Bson::Int32(1)]),
        Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![],
        }),
        Bson::ObjectId(ObjectId::from_bytes([0; 12])),
        Bson::Boolean(false),
        Bson::Boolean(true),
        Bson::DateTime(bson::DateTime::from_millis(i64::MIN)),
        Bson::DateTime(bson::DateTime::from_millis(0)),
        Bson::Timestamp(Timestamp {
            time: 0,
            increment: 0,
        }),
        Bson::RegularExpression(bson::Regex {
            pattern: "a".into(),
            options: String::new(),
        }),
        Bson::JavaScriptCode("x".into()),
        Bson::MaxKey,
    ];
    for w in ordered.windows(2) {
        assert_eq!(
            cmp(w[0].clone(), w[1].clone()),
            Ordering::Less,
            "{:?} < {:?}",
            w[0],
            w[1]
        );
        assert_eq!(cmp(w[1].clone(), w[0].clone()), Ordering::Greater);
    }
    let classes: Vec<u8> = TYPE_ORDER.iter().map(|t| t.0).collect();
    let mut sorted = classes.clone();
    sorted.sort_unstable();
    assert_eq!(classes, sorted);
}

#[test]
fn numbers_compare_exactly_across_types() {
    assert_eq!(cmp(Bson::Int32(3), Bson::Double(3.0)), Ordering::Equal);
    assert_eq!(cmp(Bson::Int64(3), Bson::Int32(3)), Ordering::Equal);
    let two53 = (1u64 << 53) as f64;
    assert_eq!(
        cmp(Bson::Int64((1 << 53) + 1), Bson::Double(two53)),
        Ordering::Greater
    );
    assert_eq!(
        cmp(Bson::Double(two53), Bson::Int64((1 << 53) + 1)),
        Ordering::Less
    );
    assert_eq!(
        cmp(Bson::Int64(1 << 53), Bson::Double(two53)),
        Ordering::Equal
    );
    assert_eq!(cmp(Bson::Double(2.5), Bson::Int32(2)), Ordering::Greater);
    assert_eq!(cmp(Bson::Double(2.5), Bson::Int32(3)), Ordering::Less);
    assert_eq!(cmp(Bson::Int32(-1), Bson::Double(-0.5)), Ordering::Less);
    assert_eq!(cmp(Bson::Int32(-3), Bson::Double(-2.5)), Ordering::Less);
    assert_eq!(cmp(Bson::Double(-0.0), Bson::Double(0.0)), Ordering::Equal);
    assert_eq!(cmp(Bson::Double(-0.0), Bson::Int32(0)), Ordering::Equal);
    assert_eq!(
        cmp(Bson::Int64(i64::MAX), Bson::Double(9.223372036854776e18)),
        Ordering::Less
    );
    assert_eq!(
        cmp(Bson::Int64(i64::MIN), Bson::Double(-9.223372036854776e18)),
        Ordering::Equal
    );
    assert_eq!(
        cmp(Bson::Int64(i64::MIN), Bson::Double(-1e19)),
        Ordering::Greater
    );
    assert_eq!(
        cmp(Bson::Int64(i64::MAX), Bson::Double(f64::INFINITY)),
        Ordering::Less
    );
    assert_eq!(
        cmp(Bson::Int64(i64::MIN), Bson::Double(f64::NEG_INFINITY)),
        Ordering::Greater
    );
}

#[test]
fn nan_sorts_below_every_number_and_equals_nan() {
    assert_eq!(
        cmp(Bson::Double(f64::NAN), Bson::Double(f64::NAN)),
        Ordering::Equal
    );
    assert_eq!(
        cmp(Bson::Double(f64::NAN), Bson::Double(f64::NEG_INFINITY)),
        Ordering::Less
    );
    assert_eq!(
        cmp(Bson::Double(f64::NAN), Bson::Int64(i64::MIN)),
        Ordering::Less
    );
    assert_eq!(
        cmp(Bson::Int32(0), Bson::Double(f64::NAN)),
        Ordering::Greater
    );
    assert_eq!(cmp(Bson::Double(f64::NAN), Bson::Null), Ordering::Greater);
}

#[test]
fn decimal128_compares_by_its_nearest_double() {
    let d = |s: &str| Bson::Decimal128(s.parse::<Decimal128>().expect("decimal"));
    assert_eq!(cmp(d("2.5"), Bson::Double(2.5)), Ordering::Equal);
    assert_eq!(cmp(d("3"), Bson::Int32(3)), Ordering::Equal);
    assert_eq!(cmp(d("-1E+3"), Bson::Int32(-999)), Ordering::Less);
    assert_eq!(
        cmp(d("NaN"), Bson::Double(f64::NEG_INFINITY)),
        Ordering::Less
    );
    assert_eq!(cmp(d("Infinity"), Bson::Int64(i64::MAX)), Ordering::Greater);
    assert_eq!(number_as_f64(RawBsonRef::Int32(4)), Some(4.0));
    assert_eq!(number_as_f64(RawBsonRef::String("4")), None);
}

#[test]
fn strings_compare_by_utf8_bytes_prefix_first() {
    let s = |x: &str| Bson::String(x.to_string());
    assert_eq!(cmp(s("a"), s("a\0")), Ordering::Less);
    assert_eq!(cmp(s("a\0"), s("ab")), Ordering::Less);
    assert_eq!(cmp(s("B"), s("a")), Ordering::Less);
    assert_eq!(cmp(s("z"), s("é")), Ordering::Less);
    assert_eq!(cmp(s("x"), Bson::Symbol("x".into())), Ordering::Equal);
}

#[test]
fn documents_compare_field_by_field() {
    let d = Bson::Document;
    assert_eq!(
        cmp(d(doc! {"a": 1}), d(doc! {"a": 1, "b": 0})),
        Ordering::Less
    );
    assert_eq!(
        cmp(d(doc! {"a": 2}), d(doc! {"a": 1, "b": 0})),
        Ordering::Greater
    );
    assert_eq!(cmp(d(doc! {"a": 1}), d(doc! {"b": 0})), Ordering::Less);
    assert_eq!(cmp(d(doc! {"a": 1}), d(doc! {"a": 1.0})), Ordering::Equal);
    assert_eq!(
        cmp(d(doc! {"a": {"b": 1}}), d(doc! {"a": {"b": 2}})),
        Ordering::Less
    );
    assert_eq!(cmp(d(doc! {"a": "x"}), d(doc! {"a": 5})), Ordering::Greater);
}

#[test]
fn arrays_compare_element_by_element() {
    let a = |v: Vec<Bson>| Bson::Array(v);
    assert_eq!(cmp(a(vec![]), a(vec![Bson::Null])), Ordering::Less);
    assert_eq!(
        cmp(
            a(vec![Bson::Int32(1)]),
            a(vec![Bson::Int32(1), Bson::Int32(0)])
        ),
        Ordering::Less
    );
    assert_eq!(
        cmp(
            a(vec![Bson::Int32(2)]),
            a(vec![Bson::Int32(1), Bson::Int32(9)])
        ),
        Ordering::Greater
    );
    assert_eq!(
        cmp(a(vec![Bson::Int32(2)]), a(vec![Bson::Double(2.0)])),
        Ordering::Equal
    );
}

#[test]
fn other_scalars_order_within_their_class() {
    let bin = |st: u8, b: &[u8]| {
        Bson::Binary(Binary {
            subtype: BinarySubtype::from(st),
            bytes: b.to_vec(),
        })
    };
    assert_eq!(cmp(bin(0, &[9, 9]), bin(1, &[0])), Ordering::Less);
    assert_eq!(cmp(bin(0, &[1]), bin(0, &[1, 0])), Ordering::Less);
    let oid = |b: u8| Bson::ObjectId(ObjectId::from_bytes([b; 12]));
    assert_eq!(cmp(oid(1), oid(2)), Ordering::Less);
    let ts = |t, i| {
        Bson::Timestamp(Timestamp {
            time: t,
            increment: i,
        })
    };
    assert_eq!(cmp(ts(1, 9), ts(2, 0)), Ordering::Less);
    assert_eq!(cmp(ts(1, 1), ts(1, 2)), Ordering::Less);
    let re = |p: &str, o: &str| {
        Bson::RegularExpression(bson::Regex {
            pattern: p.into(),
            options: o.into(),
        })
    };
    assert_eq!(cmp(re("a", "z"), re("b", "")), Ordering::Less);
    assert_eq!(cmp(Bson::Undefined, Bson::Null), Ordering::Equal);
    assert_eq!(cmp(Bson::MaxKey, Bson::MaxKey), Ordering::Equal);
    assert_eq!(
        cmp(
            Bson::JavaScriptCode("f".into()),
            Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
                code: "f".into(),
                scope: doc! {"x": 1},
            })
        ),
        Ordering::Equal
    );
}

#[test]
fn values_equal_is_compare_equal() {
    let r = |b: Bson| bson::RawBson::try_from(b).expect("raw");
    assert!(values_equal(
        r(Bson::Int32(3)).as_raw_bson_ref(),
        r(Bson::Double(3.0)).as_raw_bson_ref()
    ));
    assert!(!values_equal(
        r(Bson::String("3".into())).as_raw_bson_ref(),
        r(Bson::Int32(3)).as_raw_bson_ref()
    ));
    assert_eq!(compare_opt(None, Some(RawBsonRef::Null)), Ordering::Equal);
    assert_eq!(
        compare_opt(None, Some(RawBsonRef::Int32(0))),
        Ordering::Less
    );
    assert_eq!(compare_opt(Some(RawBsonRef::MinKey), None), Ordering::Less);
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let a = nested_raw_document(100_000, 1);
    let b = nested_raw_document(100_000, 2);
    assert_eq!(
        compare(a.as_raw_bson_ref(), b.as_raw_bson_ref()),
        Ordering::Less
    );
    assert_eq!(
        compare(a.as_raw_bson_ref(), a.as_raw_bson_ref()),
        Ordering::Equal
    );
}

/// `{"0": {"0": ... {"0": v}}}`, built as raw bytes without recursion.
fn nested_raw_document(depth: usize, v: i32) -> bson::RawBson {
    let mut body = vec![0x10, b'0', 0];
    body.extend_from_slice(&v.to_le_bytes());
    let mut inner = Vec::new();
    inner.extend_from_slice(&((body.len() + 5) as i32).to_le_bytes());
    inner.extend_from_slice(&body);
    inner.push(0);
    for _ in 0..depth {
        let mut next = Vec::with_capacity(inner.len() + 8);
        next.extend_from_slice(&((inner.len() + 8) as i32).to_le_bytes());
        next.extend_from_slice(&[0x03, b'0', 0]);
        next.extend_from_slice(&inner);
        next.push(0);
        inner = next;
    }
    bson::RawBson::Document(bson::RawDocumentBuf::from_bytes(inner).expect("valid"))
}

/// Exact comparison of an integer and a finite or infinite double through i128 arithmetic.
fn exact_int_f64(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Greater;
    }
    if f >= 1.9e19 {
        return Ordering::Less;
    }
    if f <= -1.9e19 {
        return Ordering::Greater;
    }
    let t = f.trunc() as i128;
    match i128::from(i).cmp(&t) {
        Ordering::Equal => 0.0f64.partial_cmp(&f.fract()).unwrap_or(Ordering::Equal),
        o => o,
    }
}

fn arb_number() -> impl Strategy<Value = Bson> {
    prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        (-5i64..5).prop_map(Bson::Int64),
        ((1i64 << 53) - 3..(1i64 << 53) + 3).prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        (-5i32..5).prop_map(|i| Bson::Double(f64::from(i) / 2.0)),
        Just(Bson::Double(f64::NAN)),
        Just(Bson::Double(-0.0)),
        Just(Bson::Double((1u64 << 53) as f64)),
        Just(Bson::Double(9.223372036854776e18)),
    ]
}

fn arb_value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        arb_number(),
        "[a-c]{0,3}".prop_map(Bson::String),
        any::<bool>().prop_map(Bson::Boolean),
        Just(Bson::Null),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
        (-3i64..3).prop_map(|m| Bson::DateTime(bson::DateTime::from_millis(m))),
        (0u8..3).prop_map(|b| Bson::ObjectId(ObjectId::from_bytes([b; 12]))),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
            proptest::collection::vec(("[ab]", inner), 0..3)
                .prop_map(|kv| { Bson::Document(kv.into_iter().collect()) }),
        ]
    })
}

proptest! {
    #[test]
    fn compare_is_antisymmetric(a in arb_value(), b in arb_value()) {
        prop_assert_eq!(cmp(a.clone(), b.clone()), cmp(b, a).reverse());
    }

    #[test]
    fn compare_is_transitive(a in arb_value(), b in arb_value(), c in arb_value()) {
        let mut v = [a, b, c];
        v.sort_by(compare_bson);
        prop_assert_ne!(cmp(v[0].clone(), v[1].clone()), Ordering::Greater);
        prop_assert_ne!(cmp(v[1].clone(), v[2].clone()), Ordering::Greater);
        prop_assert_ne!(cmp(v[0].clone(), v[2].clone()), Ordering::Greater);
        // Equality is transitive too.
        if cmp(v[0].clone(), v[1].clone()) == Ordering::Equal && cmp(v[1].clone(), v[2].clone()) == Ordering::Equal {
            prop_assert_eq!(cmp(v[0].clone(), v[2].clone()), Ordering::Equal);
        }
    }

    #[test]
    fn equal_values_hash_equally(a in arb_value(), b in arb_value()) {
        use std::hash::{BuildHasher, Hasher};
        let state = std::collections::hash_map::RandomState::new();
        let h = |v: &Bson| {
            let raw = bson::RawBson::try_from(v.clone()).expect("raw");
            let mut hasher = state.build_hasher();
            hash_value(raw.as_raw_bson_ref(), &mut hasher);
            hasher.finish()
        };
        if cmp(a.clone(), b.clone()) == Ordering::Equal {
            prop_assert_eq!(h(&a), h(&b));
        }
        prop_assert_eq!(h(&Bson::Int64(3)), h(&Bson::Double(3.0)));
    }

    #[test]
    fn compare_is_reflexive(a in arb_value()) {
        prop_assert_eq!(cmp(a.clone(), a), Ordering::Equal);
    }

    #[test]
    fn integers_match_i128_arithmetic(a in any::<i64>(), b in any::<i32>()) {
        prop_assert_eq!(cmp(Bson::Int64(a), Bson::Int32(b)), i128::from(a).cmp(&i128::from(b)));
        prop_assert_eq!(cmp(Bson::Int64(a), Bson::Int64(i64::from(b))), a.cmp(&i64::from(b)));
    }

    #[test]
    fn integer_against_double_is_exact(a in any::<i64>(), f in any::<f64>()) {
        prop_assert_eq!(cmp(Bson::Int64(a), Bson::Double(f)), exact_int_f64(a, f));
        prop_assert_eq!(cmp(Bson::Double(f), Bson::Int64(a)), exact_int_f64(a, f).reverse());
    }

    #[test]
    fn nearby_integer_against_its_double(a in any::<i64>(), d in -2i64..=2) {
        let f = a as f64;
        let b = a.saturating_add(d);
        prop_assert_eq!(cmp(Bson::Int64(b), Bson::Double(f)), exact_int_f64(b, f));
    }

    #[test]
    fn doubles_match_ieee_order_except_nan(x in any::<f64>(), y in any::<f64>()) {
        prop_assume!(!x.is_nan() && !y.is_nan());
        prop_assert_eq!(Some(cmp(Bson::Double(x), Bson::Double(y))), x.partial_cmp(&y));
    }
}
