//! Garbage collection never deletes a value-log segment it could not read to the end: one
//! flipped bit in a dead record in the middle of a segment makes GC report the segment as
//! damaged and keep it, and every live document stored after the damage stays readable.

use std::fs;

use bson::{Bson, doc};
use shinydb_engine::{Db, Error, Options, SyncMode};

fn options() -> Options {
    Options {
        sync: SyncMode::None,
        value_log_threshold: 256,
        compression_threshold: 1 << 20,
        vlog_segment_bytes: 4 << 20,
        gc_interval: None,
        gc_dead_ratio: 0.3,
        ..Options::default()
    }
}

fn body(id: i64) -> bson::Document {
    doc! {"_id": id, "pad": format!("{id:08}").repeat(100)}
}

#[test]
fn a_segment_damaged_in_the_middle_is_kept_and_reported_not_collected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    for id in 0..300 {
        db.insert("s", "t", body(id)).expect("insert");
    }
    // Bodies reach the value log when the memtable is flushed.
    db.checkpoint().expect("checkpoint");
    // The first half goes: enough dead bytes for GC to pick the segment.
    for id in 0..150 {
        db.delete("s", "t", Bson::Int64(id)).expect("delete");
    }
    db.checkpoint().expect("checkpoint");
    let segment = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vlog-"))
        })
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a value-log segment");
    // One bit, a fifth of the way in: inside a deleted document's record.
    let mut bytes = fs::read(&segment).expect("read");
    let at = bytes.len() / 5;
    bytes[at] ^= 0x10;
    fs::write(&segment, &bytes).expect("write");

    match db.gc() {
        Err(Error::Corruption { path, detail }) => {
            assert_eq!(path, segment);
            assert!(detail.contains("kept and not collected"), "{detail}");
        }
        other => panic!("expected the damage to be reported, got {other:?}"),
    }
    assert!(segment.exists(), "the damaged segment was deleted");
    for id in 150..300 {
        let d = db
            .get("s", "t", &Bson::Int64(id))
            .expect("a live document after the damage")
            .expect("present");
        assert_eq!(d.to_document().expect("doc"), body(id));
    }
    // Reported once; later runs skip the segment, and writes go on.
    assert!(db.gc().is_ok());
    db.insert("s", "t", body(1000)).expect("writes continue");
}
