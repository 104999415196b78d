//! Random operation sequences, including index creation, checkpoints, GC and reopen, checked
//! against a plain in-memory model.

use std::{cmp::Ordering, collections::BTreeMap};

use bson::{Bson, Document, doc};
use proptest::prelude::*;
use shinydb_engine::{Db, IndexBound, Options, SyncMode, Update};

#[derive(Debug, Clone)]
enum Val {
    Missing,
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

impl Val {
    fn bson(&self) -> Option<Bson> {
        match self {
            Val::Missing => None,
            Val::Int(i) => Some(Bson::Int32(*i)),
            Val::Long(i) => Some(Bson::Int64(*i)),
            Val::Double(d) => Some(Bson::Double(*d)),
            Val::Str(s) => Some(Bson::String(s.clone())),
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(i64, Val, usize),
    Replace(i64, Val),
    Set(i64, Val),
    Unset(i64),
    Delete(i64),
    CreateIndex(bool),
    Checkpoint,
    Gc,
    Reopen,
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        Just(Val::Missing),
        (-20i32..20).prop_map(Val::Int),
        (-20i64..20).prop_map(Val::Long),
        (-40i32..40).prop_map(|h| Val::Double(f64::from(h) / 2.0)),
        "[a-c]{0,3}".prop_map(Val::Str),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0i64..60, val(), 0usize..400).prop_map(|(i, v, n)| Op::Insert(i, v, n)),
        3 => (0i64..60, val()).prop_map(|(i, v)| Op::Replace(i, v)),
        3 => (0i64..60, val()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => (0i64..60).prop_map(Op::Unset),
        3 => (0i64..60).prop_map(Op::Delete),
        1 => any::<bool>().prop_map(Op::CreateIndex),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Gc),
        1 => Just(Op::Reopen),
    ]
}

fn options() -> Options {
    Options {
        sync: SyncMode::None,
        memtable_bytes: 16 << 10,
        value_log_threshold: 200,
        compression_threshold: 300,
        vlog_segment_bytes: 32 << 10,
        wal_segment_bytes: 16 << 10,
        gc_interval: None,
        gc_dead_ratio: 0.3,
        cache_bytes: 1 << 20,
        ..Options::default()
    }
}

/// The value order the engine documents: missing/null, then numbers by value, then strings.
fn class_cmp(a: &Option<Bson>, b: &Option<Bson>) -> Ordering {
    fn rank(v: &Option<Bson>) -> (u8, f64, String) {
        match v {
            None | Some(Bson::Null) => (0, 0.0, String::new()),
            Some(Bson::Int32(i)) => (1, f64::from(*i), String::new()),
            Some(Bson::Int64(i)) => (1, *i as f64, String::new()),
            Some(Bson::Double(d)) => (1, *d, String::new()),
            Some(Bson::String(s)) => (2, 0.0, s.clone()),
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    let (ra, rb) = (rank(a), rank(b));
    ra.0.cmp(&rb.0)
        .then(ra.1.partial_cmp(&rb.1).unwrap_or(Ordering::Equal))
        .then(ra.2.as_bytes().cmp(rb.2.as_bytes()))
}

fn check(db: &Db, model: &BTreeMap<i64, Document>, indexed: bool) -> Result<(), TestCaseError> {
    let snap = db.snapshot();
    let got: Vec<Document> = snap
        .scan("s", "t", false)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .map(|d| Document::try_from(d.expect("doc")).expect("document"))
        .collect();
    let want: Vec<Document> = model.values().cloned().collect();
    prop_assert_eq!(&got, &want);
    prop_assert_eq!(snap.count("s", "t").expect("count"), model.len() as u64);
    let rev: Vec<Document> = snap
        .scan("s", "t", true)
        .expect("scan")
        .map(|d| Document::try_from(d.expect("doc")).expect("document"))
        .collect();
    prop_assert_eq!(rev, want.iter().rev().cloned().collect::<Vec<_>>());
    if indexed {
        let mut expected: Vec<(Option<Bson>, i64)> = model
            .iter()
            .map(|(id, d)| (d.get("v").cloned(), *id))
            .collect();
        expected.sort_by(|a, b| class_cmp(&a.0, &b.0).then(a.1.cmp(&b.1)));
        let got: Vec<i64> = snap
            .index_scan("s", "t", "by_v", None, None, false)
            .expect("index scan")
            .map(|d| d.expect("doc").get_i64("_id").expect("id"))
            .collect();
        prop_assert_eq!(&got, &expected.iter().map(|e| e.1).collect::<Vec<_>>());
        // A numeric range: -3 <= v < 4.5, mixing int32, int64 and double bounds.
        let lo = IndexBound {
            values: vec![Bson::Int64(-3)],
            inclusive: true,
        };
        let hi = IndexBound {
            values: vec![Bson::Double(4.5)],
            inclusive: false,
        };
        let got: Vec<i64> = snap
            .index_scan("s", "t", "by_v", Some(&lo), Some(&hi), true)
            .expect("range")
            .map(|d| d.expect("doc").get_i64("_id").expect("id"))
            .collect();
        let in_range = |v: &Option<Bson>| {
            let x = match v {
                Some(Bson::Int32(i)) => f64::from(*i),
                Some(Bson::Int64(i)) => *i as f64,
                Some(Bson::Double(d)) => *d,
                _ => return false,
            };
            (-3.0..4.5).contains(&x)
        };
        let want: Vec<i64> = expected
            .iter()
            .rev()
            .filter(|e| in_range(&e.0))
            .map(|e| e.1)
            .collect();
        prop_assert_eq!(got, want);
    }
    Ok(())
}

fn body(id: i64, v: &Val, pad: usize) -> Document {
    let mut d = doc! {"_id": id};
    if let Some(b) = v.bson() {
        d.insert("v", b);
    }
    d.insert("pad", "x".repeat(pad));
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut db = Db::open(dir.path(), options()).expect("open");
        db.create_space("s").expect("space");
        db.create_store("s", "t").expect("store");
        let mut model: BTreeMap<i64, Document> = BTreeMap::new();
        let mut indexed = false;
        for op in ops {
            match op {
                Op::Insert(id, v, pad) => {
                    let r = db.insert("s", "t", body(id, &v, pad));
                    prop_assert_eq!(r.is_ok(), !model.contains_key(&id));
                    model.entry(id).or_insert_with(|| body(id, &v, pad));
                }
                Op::Replace(id, v) => {
                    let replaced = db.replace("s", "t", Bson::Int64(id), body(id, &v, 10)).expect("replace");
                    prop_assert_eq!(replaced, model.contains_key(&id));
                    if replaced { model.insert(id, body(id, &v, 10)); }
                }
                Op::Set(id, v) => {
                    let Some(b) = v.bson() else { continue };
                    let matched = db.update("s", "t", Bson::Int64(id), Update { set: vec![("v".into(), b.clone())], unset: vec![] }).expect("update");
                    prop_assert_eq!(matched, model.contains_key(&id));
                    if let Some(d) = model.get_mut(&id) { d.insert("v", b); }
                }
                Op::Unset(id) => {
                    let matched = db.update("s", "t", Bson::Int64(id), Update { set: vec![], unset: vec!["v".into()] }).expect("update");
                    prop_assert_eq!(matched, model.contains_key(&id));
                    if let Some(d) = model.get_mut(&id) { d.remove("v"); }
                }
                Op::Delete(id) => {
                    let deleted = db.delete("s", "t", Bson::Int64(id)).expect("delete");
                    prop_assert_eq!(deleted, model.remove(&id).is_some());
                }
                Op::CreateIndex(compound) => {
                    if !indexed {
                        db.create_index("s", "t", "by_v", &["v"], false).expect("index");
                        if compound { db.create_index("s", "t", "by_v_pad", &["v", "pad"], false).expect("index"); }
                        indexed = true;
                    }
                }
                Op::Checkpoint => db.checkpoint().expect("checkpoint"),
                Op::Gc => { db.gc().expect("gc"); }
                Op::Reopen => {
                    drop(db);
                    db = Db::open(dir.path(), options()).expect("reopen");
                }
            }
        }
        check(&db, &model, indexed)?;
        drop(db);
        let db = Db::open(dir.path(), options()).expect("reopen");
        check(&db, &model, indexed)?;
    }
}
