//! A store many times larger than the page cache and the memtable still reads back whole.

use bson::{Bson, doc};
use shinydb_engine::{Db, Options, SyncMode};

#[test]
fn a_store_ten_times_the_cache_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        sync: SyncMode::None,
        memtable_bytes: 256 << 10,
        cache_bytes: 512 << 10,
        gc_interval: None,
        ..Options::default()
    };
    let db = Db::open(dir.path(), opts.clone()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    db.create_index("s", "t", "by_k", &["k"], false)
        .expect("index");
    let n = 8000i64; // ~8 MB of documents: 16x the cache, 32x the memtable
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let docs = chunk
            .iter()
            .map(|i| doc! {"_id": *i, "k": i % 97, "pad": format!("{i:010}").repeat(100)})
            .collect();
        db.insert_many("s", "t", docs).expect("insert");
    }
    drop(db);
    let db = Db::open(dir.path(), opts).expect("reopen");
    let stats = db.stats();
    assert!(
        stats.data_file_bytes > 8 * (512 << 10),
        "data file is {} bytes",
        stats.data_file_bytes
    );
    for i in (0..n).step_by(7) {
        let d = db
            .get("s", "t", &Bson::Int64(i))
            .expect("get")
            .expect("present");
        assert_eq!(
            d.get_str("pad").expect("pad"),
            format!("{i:010}").repeat(100)
        );
    }
    let scanned = db.snapshot().scan("s", "t", false).expect("scan").count();
    assert_eq!(scanned as i64, n);
    let bound = shinydb_engine::IndexBound {
        values: vec![Bson::Int32(5)],
        inclusive: true,
    };
    let hits = db
        .snapshot()
        .index_scan("s", "t", "by_k", Some(&bound), Some(&bound), false)
        .expect("index")
        .map(|d| d.expect("doc").get_i64("_id").expect("id"))
        .collect::<Vec<_>>();
    assert_eq!(hits, (0..n).filter(|i| i % 97 == 5).collect::<Vec<_>>());
    let stats = db.stats();
    assert!(stats.cache_misses > 1000, "reads went to disk: {stats:?}");
}
