//! An index build killed half-way (SIGKILL during the backfill of a loaded store) leaves no
//! trace: at reopen the unfinished index is gone, so it is neither maintained nor holding its
//! name, and creating it again gives a complete index that queries use.

use std::{
    io::{BufRead, BufReader},
    time::Duration,
};

use bson::doc;
use shinydb_engine::{Db, Options, query::QueryResult};

use crate::common::spawn_child;

const CHILD_ENV: &str = "SHINYDB_INDEX_CRASH_CHILD_DIR";
const DOCS: i64 = 200_000;

/// The child: loads a store, says `building`, then builds an index until killed.
#[test]
fn index_build_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Db::open(&dir, Options::default()).expect("child open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    for chunk in (0..DOCS).collect::<Vec<_>>().chunks(10_000) {
        let docs = chunk
            .iter()
            .map(|i| doc! {"_id": *i, "v": *i % 100})
            .collect();
        db.insert_many("s", "t", docs).expect("load");
    }
    println!("building");
    db.create_index("s", "t", "by_v", &["v"], false)
        .expect("build");
    println!("built");
}

#[test]
fn an_interrupted_index_build_is_dropped_at_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_child(
        "index_build_crash::index_build_child",
        CHILD_ENV,
        dir.path(),
    );
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The harness prints `test <name> ... ` before the child's first line, on the same line.
    let first = lines.find_map(|l| l.ok().filter(|l| l.ends_with("building")));
    assert!(first.is_some(), "the child stopped before building");
    // Into the backfill of 200,000 documents (about 0.6 s in a debug build), not past it.
    std::thread::sleep(Duration::from_millis(100));
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let built = lines.map_while(Result::ok).any(|l| l == "built");
    assert!(
        !built,
        "the build finished before the kill: load more documents"
    );

    let db = Db::open(dir.path(), Options::default()).expect("reopen");
    let store = db.snapshot().store("s", "t").expect("store");
    assert!(
        store.indexes.iter().all(|i| i.ready),
        "an unfinished index survived the reopen: {:?}",
        store.indexes
    );
    if store.indexes.iter().any(|i| i.name == "by_v") {
        panic!(
            "the interrupted build was reported finished: {:?}",
            store.indexes
        );
    }
    // The name is free again, and the new build is complete.
    let index = db
        .create_index("s", "t", "by_v", &["v"], false)
        .expect("the name is free again");
    assert!(index.ready);
    let hits = db.query_text("s.t.filter(v = 7).count()").expect("count");
    assert!(matches!(hits, QueryResult::Count(2_000)), "{hits:?}");
}
