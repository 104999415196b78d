//! One atomic batch writes at most `max_batch_bytes` on every write path: a YQL write over a
//! whole store and a many-document insert past it are refused whole, naming the setting, and
//! nothing of them is applied, before or after a restart. (Without the limit such a batch grew
//! to any size, and past the log's 1 GiB record limit it was acknowledged and then read back as
//! damage at the next open.)

use bson::{Bson, doc};
use shinydb_engine::{Db, Error, Options, SyncMode};

fn options() -> Options {
    Options {
        sync: SyncMode::None,
        max_batch_bytes: 64 << 10,
        ..Options::default()
    }
}

fn body(id: i64) -> bson::Document {
    doc! {"_id": id, "n": id, "pad": "x".repeat(1000)}
}

#[test]
fn a_batch_past_the_limit_is_refused_whole_on_every_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    for id in 0..100 {
        db.insert("s", "t", body(id))
            .expect("one document per batch");
    }

    // 100 documents of ~2 KB rewritten in one batch: ~200 KB > 64 KiB.
    let err = db
        .query_text(&format!("s.t.all().set({{pad: \"{}\"}})", "z".repeat(2000)))
        .expect_err("a store-wide update past the limit");
    assert!(err.to_string().contains("max_batch_size"), "{err}");
    let err = db
        .insert_many("s", "t", (100..200).map(body).collect())
        .expect_err("a 100 KB insert");
    assert!(matches!(err, Error::LimitExceeded(_)), "{err}");

    // A batch under the limit still goes through.
    db.query_text("s.t.filter(n < 10).set({pad: \"y\"})")
        .expect("ten documents");

    let check = |db: &Db| {
        assert_eq!(db.snapshot().count("s", "t").expect("count"), 100);
        for id in 0..100i64 {
            let d = db
                .get("s", "t", &Bson::Int64(id))
                .expect("get")
                .expect("doc");
            let want = if id < 10 {
                "y".to_string()
            } else {
                "x".repeat(1000)
            };
            assert_eq!(d.get_str("pad").expect("pad"), want, "document {id}");
        }
    };
    check(&db);
    db.close().expect("close");
    let db = Db::open(dir.path(), options()).expect("reopen");
    check(&db);
}
