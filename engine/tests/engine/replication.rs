//! Online backups and log shipping: a consistent copy while writes go on, and a replica that
//! follows the primary's log, in order and idempotently.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use bson::{Bson, Document, doc};
use shinydb_engine::{Db, Error, LogRecord, Options, SyncMode};

fn options() -> Options {
    Options {
        sync: SyncMode::Sync,
        memtable_bytes: 64 << 10,
        wal_segment_bytes: 16 << 10,
        value_log_threshold: 300,
        gc_interval: None,
        ..Options::default()
    }
}

fn all_docs(db: &Db, store: &str) -> Vec<Document> {
    db.snapshot()
        .scan("s", store, false)
        .expect("scan")
        .map(|d| Document::try_from(d.expect("doc")).expect("document"))
        .collect()
}

#[test]
fn an_online_backup_is_consistent_and_a_replica_catches_up_from_it() {
    let primary_dir = tempfile::tempdir().expect("tempdir");
    let primary = Arc::new(Db::open(primary_dir.path(), options()).expect("open"));
    primary.retain_log_after(Some(0));
    primary.create_space("s").expect("space");
    primary.create_store("s", "t").expect("store");
    primary
        .create_index("s", "t", "by_n", &["n"], false)
        .expect("index");
    let acked = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, acked, stop) = (Arc::clone(&primary), Arc::clone(&acked), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                db.insert(
                    "s",
                    "t",
                    doc! {"_id": i, "n": i % 10, "pad": "p".repeat((i % 700) as usize)},
                )
                .expect("insert");
                acked.store(i, Ordering::Release);
                i += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    primary.checkpoint().expect("checkpoint");
    std::thread::sleep(Duration::from_millis(50));
    let backup_dir = tempfile::tempdir().expect("tempdir");
    let acked_before = acked.load(Ordering::Acquire);
    let info = primary
        .backup_to(backup_dir.path().join("b"))
        .expect("backup");
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    primary
        .create_store("s", "later")
        .expect("a catalog change after the backup");
    primary
        .insert("s", "later", doc! {"_id": "x"})
        .expect("insert");

    // The backup holds exactly the batches up to its sequence number: a prefix of the inserts.
    let replica = Db::open(backup_dir.path().join("b"), options()).expect("open backup");
    assert_eq!(replica.last_seq(), info.seq);
    let docs = all_docs(&replica, "t");
    assert!(
        docs.len() as i64 > acked_before,
        "every write acknowledged before the backup is in it"
    );
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(
            d.get_i64("_id").expect("id"),
            i as i64,
            "the backup is a prefix of the writes"
        );
    }
    let by_index = replica
        .snapshot()
        .index_scan("s", "t", "by_n", None, None, false)
        .expect("index")
        .count();
    assert_eq!(by_index, docs.len());

    // The replica follows the primary's log from the backup's position.
    let mut applied = 0;
    loop {
        let batch = primary.read_log(replica.last_seq(), 100).expect("read log");
        if batch.is_empty() {
            break;
        }
        for rec in batch {
            let shipped = LogRecord::from_bytes(&rec.to_bytes()).expect("wire form");
            assert!(replica.apply_log(&shipped).expect("apply"));
            applied += 1;
        }
    }
    assert!(applied > 0);
    assert_eq!(replica.last_seq(), primary.last_seq());
    assert_eq!(all_docs(&replica, "t"), all_docs(&primary, "t"));
    assert_eq!(
        all_docs(&replica, "later"),
        all_docs(&primary, "later"),
        "catalog changes replicate too"
    );

    // Applying again is a no-op; a gap is refused.
    let last = primary.read_log(primary.last_seq() - 1, 1).expect("read");
    assert!(!replica.apply_log(&last[0]).expect("idempotent"));
    primary
        .insert("s", "later", doc! {"_id": "y"})
        .expect("insert");
    primary
        .insert("s", "later", doc! {"_id": "z"})
        .expect("insert");
    let newer = primary.read_log(primary.last_seq() - 1, 1).expect("read");
    assert!(matches!(
        replica.apply_log(&newer[0]),
        Err(Error::LogGap { seq, applied }) if seq == applied + 2
    ));

    // Once the replica's position no longer needs it, a checkpoint trims the log and an old
    // position is refused with a clear error.
    primary.retain_log_after(Some(replica.last_seq()));
    primary.checkpoint().expect("checkpoint");
    // Enough writes to fill several 16 KiB WAL segments, so older ones can go.
    for i in 0..100 {
        primary
            .insert(
                "s",
                "later",
                doc! {"_id": Bson::Int32(i), "pad": "w".repeat(500)},
            )
            .expect("insert");
    }
    primary.checkpoint().expect("checkpoint");
    let err = primary.read_log(1, 10).expect_err("trimmed");
    assert!(matches!(err, Error::LogTruncated { seq: 2 }), "{err}");
    assert!(err.to_string().contains("backup"), "{err}");
}

#[test]
fn a_damaged_shipped_record_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.create_space("s").expect("space");
    let rec = db.read_log(0, 1).expect("log").pop().expect("record");
    let mut bytes = rec.to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(LogRecord::from_bytes(&bytes).is_err());
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

#[test]
fn every_batch_carries_its_commit_time_through_the_log_a_reopen_and_a_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = now_ms();
    let times = {
        let db = Db::open(dir.path(), options()).expect("open");
        db.retain_log_after(Some(0));
        db.create_space("s").expect("space");
        db.create_store("s", "t").expect("store");
        for i in 0..5 {
            db.insert("s", "t", doc! {"_id": i}).expect("insert");
            std::thread::sleep(Duration::from_millis(3));
        }
        let log = db.read_log(0, 100).expect("log");
        assert_eq!(log.len(), 7, "two catalog batches and five inserts");
        log.iter()
            .map(LogRecord::commit_time_ms)
            .collect::<Vec<_>>()
    };
    let after = now_ms();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "commit times never go back: {times:?}"
    );
    assert!(
        times[0] >= before && times[6] <= after,
        "{times:?} within {before}..{after}"
    );
    assert!(
        times[6] > times[2],
        "the inserts were milliseconds apart: {times:?}"
    );

    // The times are in the log on disk: a reopened engine reads the same ones, and a replica
    // applying the batches keeps the primary's times rather than its own clock's.
    let db = Db::open(
        dir.path(),
        Options {
            retain_log: true,
            ..options()
        },
    )
    .expect("reopen");
    let log = db.read_log(0, 100).expect("log");
    assert_eq!(
        log.iter()
            .map(LogRecord::commit_time_ms)
            .collect::<Vec<_>>(),
        times
    );
    let replica_dir = tempfile::tempdir().expect("tempdir");
    let replica = Db::open(replica_dir.path(), options()).expect("open");
    replica.retain_log_after(Some(0));
    std::thread::sleep(Duration::from_millis(5));
    for r in &log {
        let shipped = LogRecord::from_bytes(&r.to_bytes()).expect("wire form");
        assert!(replica.apply_log(&shipped).expect("apply"));
    }
    let copied = replica.read_log(0, 100).expect("log");
    assert_eq!(
        copied
            .iter()
            .map(LogRecord::commit_time_ms)
            .collect::<Vec<_>>(),
        times
    );
    let mut slice = Vec::new();
    for r in &log {
        slice.extend(r.to_bytes());
    }
    assert_eq!(LogRecord::all_from_bytes(&slice).expect("slice"), log);
    slice.drain(..log[0].to_bytes().len() + log[1].to_bytes().len());
    let mut gap = log[0].to_bytes();
    gap.extend(&slice);
    let err = LogRecord::all_from_bytes(&gap).expect_err("a gap");
    assert!(err.to_string().contains("records are missing"), "{err}");
}

#[test]
fn a_read_only_replica_takes_only_the_primarys_log_in_batches_served_from_the_tail() {
    let (pd, rd) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let primary = Db::open(pd.path(), options()).expect("open");
    primary.retain_log_after(Some(0));
    primary.keep_log_tail(1 << 20);
    let replica = Db::open(
        rd.path(),
        Options {
            read_only: true,
            ..options()
        },
    )
    .expect("open replica");
    assert!(replica.is_read_only());
    assert!(matches!(replica.create_space("x"), Err(Error::ReadOnly)));

    let seen = Arc::new(AtomicI64::new(0));
    {
        let seen = Arc::clone(&seen);
        primary.on_visible(Some(Box::new(move |seq| {
            seen.store(i64::try_from(seq).expect("seq"), Ordering::Release);
        })));
    }
    primary.create_space("s").expect("space");
    primary.create_store("s", "t").expect("store");
    for i in 0..200 {
        primary.insert("s", "t", doc! {"_id": i}).expect("insert");
    }
    let last = primary.last_seq();
    assert_eq!(
        seen.load(Ordering::Acquire),
        i64::try_from(last).expect("seq")
    );
    // Reading from the tail and from the files gives the same records.
    let from_tail = primary.read_log(0, 10_000).expect("read");
    primary.keep_log_tail(0);
    let from_files = primary.read_log(0, 10_000).expect("read");
    assert_eq!(from_tail, from_files);
    assert_eq!(from_tail.len() as u64, last);

    let applied = replica.apply_logs(&from_tail).expect("apply");
    assert_eq!(applied, last);
    assert_eq!(replica.last_seq(), last);
    assert_eq!(all_docs(&replica, "t").len(), 200);
    // Applying them again changes nothing; a local write is still refused.
    assert_eq!(replica.apply_logs(&from_tail).expect("again"), last);
    assert!(matches!(
        replica.insert("s", "t", doc! {"_id": 1000}),
        Err(Error::ReadOnly)
    ));
    // Promoted, it takes writes and numbers them after the primary's.
    replica.set_read_only(false);
    replica
        .insert("s", "t", doc! {"_id": 1000})
        .expect("insert");
    assert_eq!(replica.last_seq(), last + 1);
}

#[test]
fn a_shipped_batch_says_which_stores_it_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options()).expect("open");
    db.retain_log_after(Some(0));
    db.create_space("s").expect("space");
    db.create_store("s", "a").expect("store a");
    db.create_store("s", "b").expect("store b");
    let (a, b) = (
        db.snapshot().store("s", "a").expect("a").id,
        db.snapshot().store("s", "b").expect("b").id,
    );
    let before = db.last_seq();
    db.insert("s", "a", doc! {"_id": 1}).expect("insert");
    db.delete("s", "b", Bson::Int32(7))
        .expect("delete of nothing");
    db.insert("s", "b", doc! {"_id": 2}).expect("insert");
    db.delete("s", "a", Bson::Int32(1)).expect("delete");
    let records = db.read_log(before, 100).expect("read");
    let writes: Vec<(bool, bool)> = records
        .iter()
        .map(|r| (r.writes_store(a), r.writes_store(b)))
        .collect();
    // A delete of a missing document writes nothing, so it logs no batch.
    assert_eq!(writes, [(true, false), (false, true), (true, false)]);
}
