//! Garbage collection: space of updated, deleted and dropped data comes back while reads and
//! writes go on, and nothing live is lost. (Crashes during GC are covered by `crash.rs`, whose
//! child runs GC every 20 ms.)

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bson::{Bson, doc};
use shinydb_engine::{Db, Options, SyncMode};

fn options() -> Options {
    Options {
        sync: SyncMode::None,
        memtable_bytes: 256 << 10,
        value_log_threshold: 256,
        compression_threshold: 1 << 20,
        vlog_segment_bytes: 512 << 10,
        gc_interval: None,
        gc_dead_ratio: 0.3,
        ..Options::default()
    }
}

fn body(id: i64, version: i64) -> bson::Document {
    // The padding is derived from the version so a reader can check a document is whole.
    doc! {"_id": id, "version": version, "pad": format!("{version:08}").repeat(100)}
}

fn check_whole(d: &bson::RawDocumentBuf) {
    let version = d.get_i64("version").expect("version");
    assert_eq!(
        d.get_str("pad").expect("pad"),
        format!("{version:08}").repeat(100)
    );
}

#[test]
fn gc_reclaims_space_under_concurrent_reads_and_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(dir.path(), options()).expect("open"));
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    for id in 0..500 {
        db.insert("s", "t", body(id, 0)).expect("insert");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut version = 1;
            while !stop.load(Ordering::Relaxed) {
                for id in 0..500 {
                    db.replace("s", "t", Bson::Int64(id), body(id, version))
                        .expect("replace");
                }
                version += 1;
            }
            version
        })
    };
    let reader = {
        let (db, stop) = (Arc::clone(&db), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let snap = db.snapshot();
                let mut n = 0;
                for d in snap.scan("s", "t", false).expect("scan") {
                    check_whole(&d.expect("doc"));
                    n += 1;
                }
                assert_eq!(n, 500, "a snapshot sees every document once");
                reads += n;
            }
            reads
        })
    };
    let mut reclaimed = 0;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(50));
        db.checkpoint().expect("checkpoint");
        reclaimed += db.gc().expect("gc");
    }
    stop.store(true, Ordering::Relaxed);
    let versions = writer.join().expect("writer");
    let reads = reader.join().expect("reader");
    assert!(versions > 2 && reads > 0);
    assert!(reclaimed > 0, "GC reclaimed nothing");
    db.checkpoint().expect("checkpoint");
    db.gc().expect("gc");
    let stats = db.stats();
    // Live data is 500 documents of ~850 bytes; after GC the log holds little more than that.
    assert!(
        stats.vlog_bytes < 4 * 500 * 1000 + (512 << 10),
        "value log still holds {} bytes ({} dead)",
        stats.vlog_bytes,
        stats.vlog_dead_bytes
    );
    let latest: Vec<i64> = db
        .snapshot()
        .scan("s", "t", false)
        .expect("scan")
        .map(|d| {
            let d = d.expect("doc");
            check_whole(&d);
            d.get_i64("version").expect("version")
        })
        .collect();
    assert_eq!(latest.len(), 500);
    drop(db);
    let db = Db::open(dir.path(), options()).expect("reopen");
    for (id, version) in latest.iter().enumerate() {
        let d = db
            .get("s", "t", &Bson::Int64(id as i64))
            .expect("get")
            .expect("present");
        check_whole(&d);
        assert_eq!(d.get_i64("version").expect("version"), *version);
    }
}

#[test]
fn dropping_a_store_gives_its_space_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "big").expect("store");
    db.create_store("s", "keep").expect("store");
    db.create_index("s", "big", "by_version", &["version"], false)
        .expect("index");
    for id in 0..2000 {
        db.insert(
            "s",
            "big",
            doc! {"_id": id, "version": id, "pad": "b".repeat(100)},
        )
        .expect("insert");
    }
    db.insert("s", "keep", doc! {"_id": 1}).expect("insert");
    db.checkpoint().expect("checkpoint");
    let before = db.stats();
    db.drop_store("s", "big").expect("drop");
    assert!(db.snapshot().store("s", "big").is_err(), "gone at once");
    db.checkpoint().expect("checkpoint");
    db.gc().expect("gc");
    let after = db.stats();
    assert!(
        after.free_pages > before.free_pages + 20,
        "pages freed: {} -> {}",
        before.free_pages,
        after.free_pages
    );
    assert_eq!(after.documents, 1);
    // A new store of the same name starts empty.
    db.create_store("s", "big").expect("store again");
    assert_eq!(db.snapshot().count("s", "big").expect("count"), 0);
    assert!(db.get("s", "big", &Bson::Int32(5)).expect("get").is_none());
    assert!(db.get("s", "keep", &Bson::Int32(1)).expect("get").is_some());
    let err = db.drop_space("s", false).expect_err("non-empty space");
    assert!(err.to_string().contains("cascade"), "{err}");
    db.drop_space("s", true).expect("cascade");
    assert!(db.snapshot().spaces().is_empty());
}
