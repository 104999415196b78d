//! Documents through the public API: insert, get, replace, update, delete, batches, reopen.

use bson::{Bson, doc, oid::ObjectId};
use shinydb_engine::{Db, Error, Options, Update, Write, WriteResult};

fn open(dir: &std::path::Path) -> Db {
    Db::open(dir, Options::default()).expect("open")
}

fn setup(db: &Db) {
    db.create_space("sales").expect("space");
    db.create_store("sales", "orders").expect("store");
}

#[test]
fn crud_round_trip_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    setup(&db);
    let id = db
        .insert(
            "sales",
            "orders",
            doc! {"n": 1, "customer": {"name": "Ann"}},
        )
        .expect("insert");
    assert!(matches!(id, Bson::ObjectId(_)));
    db.insert("sales", "orders", doc! {"_id": "a", "n": 2})
        .expect("insert string id");
    db.insert("sales", "orders", doc! {"_id": 7i64, "n": 3})
        .expect("insert int id");
    let err = db
        .insert("sales", "orders", doc! {"_id": 7i32})
        .expect_err("duplicate");
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    let err = db
        .insert("sales", "orders", doc! {"_id": 1.5})
        .expect_err("bad id type");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    let got = db.get("sales", "orders", &id).expect("get").expect("found");
    assert_eq!(got.get_i32("n").expect("n"), 1);
    assert_eq!(
        got.get("_id")
            .expect("id")
            .and_then(bson::RawBsonRef::as_object_id),
        id.as_object_id()
    );

    assert!(
        db.update(
            "sales",
            "orders",
            id.clone(),
            Update {
                set: vec![("customer.city".into(), Bson::from("Oslo"))],
                unset: vec!["n".into()]
            }
        )
        .expect("update")
    );
    let got = db.get("sales", "orders", &id).expect("get").expect("found");
    let d = bson::Document::try_from(got).expect("doc");
    assert_eq!(
        d.get_document("customer")
            .expect("customer")
            .get_str("city")
            .expect("city"),
        "Oslo"
    );
    assert!(d.get("n").is_none());

    assert!(
        db.replace("sales", "orders", Bson::from("a"), doc! {"n": 20})
            .expect("replace")
    );
    assert!(
        !db.replace("sales", "orders", Bson::from("zz"), doc! {"n": 20})
            .expect("replace missing")
    );
    assert!(
        db.delete("sales", "orders", Bson::Int64(7))
            .expect("delete")
    );
    assert!(
        !db.delete("sales", "orders", Bson::Int64(7))
            .expect("delete again")
    );
    assert_eq!(db.snapshot().count("sales", "orders").expect("count"), 2);
    drop(db);

    let db = open(dir.path());
    assert_eq!(db.snapshot().count("sales", "orders").expect("count"), 2);
    let a = db
        .get("sales", "orders", &Bson::from("a"))
        .expect("get")
        .expect("a");
    assert_eq!(a.get_i32("n").expect("n"), 20);
    assert!(
        db.get("sales", "orders", &Bson::Int32(7))
            .expect("get")
            .is_none()
    );
    let ids: Vec<Bson> = db
        .snapshot()
        .scan("sales", "orders", false)
        .expect("scan")
        .map(|d| {
            d.expect("doc")
                .get("_id")
                .expect("id")
                .expect("id")
                .to_raw_bson()
                .try_into()
                .expect("bson")
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], Bson::from("a"), "strings sort before ObjectIds");
}

#[test]
fn a_batch_is_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    setup(&db);
    db.insert("sales", "orders", doc! {"_id": 1})
        .expect("insert");
    let err = db
        .write(vec![
            Write::Insert {
                space: "sales".into(),
                store: "orders".into(),
                doc: doc! {"_id": 2},
            },
            Write::Insert {
                space: "sales".into(),
                store: "orders".into(),
                doc: doc! {"_id": 1},
            },
        ])
        .expect_err("second insert collides");
    assert!(matches!(err, Error::AlreadyExists { .. }));
    assert!(
        db.get("sales", "orders", &Bson::Int32(2))
            .expect("get")
            .is_none(),
        "nothing of the batch applied"
    );
    let res = db
        .write(vec![
            Write::Insert {
                space: "sales".into(),
                store: "orders".into(),
                doc: doc! {"_id": 2},
            },
            Write::Delete {
                space: "sales".into(),
                store: "orders".into(),
                id: Bson::Int32(1),
            },
            Write::Update {
                space: "sales".into(),
                store: "orders".into(),
                id: Bson::Int32(2),
                update: Update {
                    set: vec![("x".into(), Bson::Int32(1))],
                    unset: vec![],
                },
            },
        ])
        .expect("batch");
    assert_eq!(
        res[2],
        WriteResult::Updated {
            matched: true,
            modified: true
        }
    );
    assert_eq!(db.snapshot().count("sales", "orders").expect("count"), 1);
}

#[test]
fn object_ids_are_time_ordered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    setup(&db);
    let ids: Vec<ObjectId> = (0..50)
        .map(|i| {
            db.insert("sales", "orders", doc! {"i": i})
                .expect("insert")
                .as_object_id()
                .expect("oid")
        })
        .collect();
    let scanned: Vec<i32> = db
        .snapshot()
        .scan("sales", "orders", false)
        .expect("scan")
        .map(|d| d.expect("doc").get_i32("i").expect("i"))
        .collect();
    assert_eq!(
        scanned,
        (0..50).collect::<Vec<_>>(),
        "natural order is insertion order"
    );
    assert_eq!(ids.len(), 50);
}
