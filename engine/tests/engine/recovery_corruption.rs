//! Damaged files: a torn WAL tail is cut off, damage anywhere else is refused with an error
//! naming the file, never silently accepted.

use std::{
    fs,
    path::{Path, PathBuf},
};

use bson::{Bson, doc};
use shinydb_engine::{Db, Error, Options, SyncMode};

fn options() -> Options {
    Options {
        sync: SyncMode::Sync,
        value_log_threshold: 500,
        gc_interval: None,
        ..Options::default()
    }
}

/// Writes `n` documents and returns a copy of the directory as a crash would leave it (the
/// engine still open, nothing checkpointed).
fn crash_image(n: i64, pad: usize) -> (tempfile::TempDir, tempfile::TempDir) {
    let live = tempfile::tempdir().expect("tempdir");
    let db = Db::open(live.path(), options()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    for i in 0..n {
        db.insert("s", "t", doc! {"_id": i, "pad": "z".repeat(pad)})
            .expect("insert");
    }
    let image = tempfile::tempdir().expect("tempdir");
    for entry in fs::read_dir(live.path()).expect("list") {
        let entry = entry.expect("entry");
        if entry.file_name() != "LOCK" {
            fs::copy(entry.path(), image.path().join(entry.file_name())).expect("copy");
        }
    }
    drop(db);
    (live, image)
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    v.sort();
    v
}

fn count(dir: &Path) -> u64 {
    let db = Db::open(dir, options()).expect("open");
    db.snapshot().count("s", "t").expect("count")
}

fn flip(path: &Path, offset: u64) {
    let mut b = fs::read(path).expect("read");
    let i = offset as usize;
    b[i] ^= 0x10;
    fs::write(path, b).expect("write");
}

#[test]
fn a_torn_wal_tail_is_truncated() {
    let (_live, image) = crash_image(20, 10);
    let wal = files(image.path(), "wal-").pop().expect("wal");
    let len = fs::metadata(&wal).expect("meta").len();
    // Cut the last record in half.
    fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open")
        .set_len(len - 7)
        .expect("truncate");
    assert_eq!(count(image.path()), 19, "only the torn record is lost");
    // Reopening again is stable.
    assert_eq!(count(image.path()), 19);
}

#[test]
fn garbage_after_the_last_record_is_truncated() {
    let (_live, image) = crash_image(10, 10);
    let wal = files(image.path(), "wal-").pop().expect("wal");
    let mut b = fs::read(&wal).expect("read");
    b.extend_from_slice(&[0xAB; 100]);
    fs::write(&wal, b).expect("write");
    assert_eq!(count(image.path()), 10);
}

#[test]
fn a_damaged_record_in_the_middle_of_the_wal_is_an_error() {
    let (_live, image) = crash_image(30, 10);
    let wal = files(image.path(), "wal-").pop().expect("wal");
    let len = fs::metadata(&wal).expect("meta").len();
    flip(&wal, len / 2);
    match Db::open(image.path(), options()) {
        Err(Error::Corruption { path, detail }) => {
            assert_eq!(path, wal);
            assert!(detail.contains("valid records follow"), "{detail}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a damaged WAL was accepted"),
    }
}

#[test]
fn an_unknown_wal_version_is_refused() {
    let (_live, image) = crash_image(3, 10);
    let wal = files(image.path(), "wal-").pop().expect("wal");
    let mut b = fs::read(&wal).expect("read");
    b[8] = 99;
    let crc = crc32fast::hash(&b[..20]);
    b[20..24].copy_from_slice(&crc.to_le_bytes());
    fs::write(&wal, b).expect("write");
    match Db::open(image.path(), options()) {
        Err(Error::UnsupportedFormat { detail, .. }) => {
            assert!(detail.contains("version 99"), "{detail}");
        }
        other => panic!("expected UnsupportedFormat, got {:?}", other.err()),
    }
}

/// A checkpointed directory: everything in data.db and the value log.
fn checkpointed(n: i64, pad: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    for i in 0..n {
        db.insert("s", "t", doc! {"_id": i, "pad": "q".repeat(pad)})
            .expect("insert");
    }
    db.close().expect("close");
    dir
}

#[test]
fn a_damaged_data_page_is_an_error() {
    let dir = checkpointed(400, 100);
    let data = dir.path().join("data.db");
    let pages = fs::metadata(&data).expect("meta").len() / 8192;
    assert!(pages > 4);
    // Damage every page after the meta pages: the root or a leaf, either way reads must fail.
    for p in 2..pages {
        flip(&data, p * 8192 + 200);
    }
    let result = Db::open(dir.path(), options()).and_then(|db| {
        let snap = db.snapshot();
        snap.scan("s", "t", false)?.collect::<Result<Vec<_>, _>>()
    });
    match result {
        Err(Error::Corruption { path, detail }) => {
            assert!(path.ends_with("data.db"), "{path:?}");
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("expected corruption, got {:?}", other.map(|v| v.len())),
    }
}

#[test]
fn damaged_meta_pages_are_an_error() {
    let dir = checkpointed(10, 10);
    let data = dir.path().join("data.db");
    flip(&data, 20);
    flip(&data, 8192 + 20);
    match Db::open(dir.path(), options()) {
        Err(Error::Corruption { detail, .. }) => assert!(detail.contains("meta"), "{detail}"),
        other => panic!("expected corruption, got {:?}", other.err()),
    }
}

#[test]
fn one_damaged_meta_page_falls_back_to_the_other() {
    let dir = checkpointed(10, 10);
    let data = dir.path().join("data.db");
    // The newest meta is damaged; the previous commit is still complete.
    let b = fs::read(&data).expect("read");
    let gen0 = u64::from_le_bytes(b[16..24].try_into().expect("8"));
    let gen1 = u64::from_le_bytes(b[8192 + 16..8192 + 24].try_into().expect("8"));
    flip(&data, if gen0 > gen1 { 20 } else { 8192 + 20 });
    let db = Db::open(dir.path(), options()).expect("open from the older meta");
    drop(db);
}

#[test]
fn a_damaged_value_log_record_is_an_error() {
    let dir = checkpointed(5, 2000);
    let vlog = files(dir.path(), "vlog-")
        .into_iter()
        .find(|p| fs::metadata(p).expect("meta").len() > 1000)
        .expect("a value-log segment with records");
    flip(&vlog, 100);
    let db = Db::open(dir.path(), options()).expect("open");
    let errors: Vec<Error> = (0..5i64)
        .filter_map(|i| db.get("s", "t", &Bson::Int64(i)).err())
        .collect();
    assert!(!errors.is_empty(), "a damaged record was read as valid");
    assert!(
        errors.iter().all(|e| matches!(e, Error::Corruption { .. })),
        "{errors:?}"
    );
}

#[test]
fn garbage_instead_of_a_data_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("data.db"), vec![7u8; 3 * 8192]).expect("write");
    assert!(matches!(
        Db::open(dir.path(), options()),
        Err(Error::Corruption { .. })
    ));
}
