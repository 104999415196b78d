//! Inputs nested far deeper than a thread's stack (cursors, dotted paths, documents) are refused
//! with an error that names them; none of them overflows the stack, and nothing is written.

use bson::{Bson, Document, RawDocumentBuf, doc};
use shinydb_engine::{Db, Error, Options, Update};

/// Nested far past what any recursive walk survives on a test thread's 2 MiB stack.
const DEEP: usize = 20_000;

fn open(dir: &std::path::Path) -> Db {
    let db = Db::open(dir, Options::default()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    db.insert("s", "t", doc! {"_id": 1, "n": 1})
        .expect("insert");
    db
}

/// `{"a": {"a": … {"x": 1} …}}`, `levels` documents deep, built as bytes (building a `Document`
/// that deep and encoding it would itself recurse).
fn nested_bytes(levels: usize) -> Vec<u8> {
    let mut inner = RawDocumentBuf::from_document(&doc! {"x": 1})
        .expect("leaf")
        .into_bytes();
    for _ in 1..levels {
        let mut next = Vec::with_capacity(inner.len() + 8);
        next.extend_from_slice(&((inner.len() + 8) as i32).to_le_bytes());
        next.extend_from_slice(&[0x03, b'a', 0]);
        next.extend_from_slice(&inner);
        next.push(0);
        inner = next;
    }
    inner
}

/// A document `levels` deep, built level by level.
fn nested_doc(levels: usize) -> Document {
    let mut d = doc! {"x": 1};
    for _ in 1..levels {
        d = doc! {"a": d};
    }
    d
}

#[test]
fn a_cursor_nested_past_the_stack_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let hex: String = nested_bytes(DEEP)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let err = db
        .query_text(&format!("s.t.orderBy(n).limit(5).after(\"{hex}\")"))
        .expect_err("a nested cursor");
    assert!(err.to_string().contains("cursor"), "{err}");
}

#[test]
fn a_set_through_a_path_of_thousands_of_segments_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    let path = vec!["a"; DEEP].join(".");
    let err = db
        .update(
            "s",
            "t",
            Bson::Int32(1),
            Update {
                set: vec![(path.clone(), Bson::Int32(1))],
                unset: vec![],
            },
        )
        .expect_err("a 20,000-segment path");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("at most 100"), "{err}");
    let err = db
        .query_text(&format!("s.t.all().set({{\"{path}\": 1}})"))
        .expect_err("the same through YQL");
    assert!(err.to_string().contains("at most 100"), "{err}");
    let stored = db
        .get("s", "t", &Bson::Int32(1))
        .expect("get")
        .expect("doc");
    assert_eq!(
        stored.to_document().expect("doc"),
        doc! {"_id": 1, "n": 1},
        "the document is untouched"
    );
}

#[test]
fn documents_nest_at_most_one_hundred_levels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    // The top-level document is level 1, so `v` may hold 99 more.
    db.insert("s", "t", doc! {"_id": 2, "v": nested_doc(99)})
        .expect("100 levels are accepted");
    let err = db
        .insert("s", "t", doc! {"_id": 3, "v": nested_doc(100)})
        .expect_err("101 levels");
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
    assert!(err.to_string().contains("nested deeper than 100"), "{err}");
    // An update that would push a stored document past the limit is refused the same way.
    let err = db
        .update(
            "s",
            "t",
            Bson::Int32(2),
            Update {
                set: vec![("v.a".to_string(), Bson::Document(nested_doc(99)))],
                unset: vec![],
            },
        )
        .expect_err("an update past the limit");
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");
    assert_eq!(db.snapshot().count("s", "t").expect("count"), 2);
}
