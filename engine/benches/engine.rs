//! Engine benchmarks over ~1 KB documents: bulk load, point gets, durable inserts with group
//! commit, secondary-index lookups, and value-log GC under write load.
//!
//! `cargo bench -p shinydb-engine --bench engine -- [--docs N]` (default 1,000,000).
//! Results go to stdout as a markdown table; `engine/BENCHMARKS.md` records them.

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at the first broken step, saying which"
)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bson::{Bson, Document, doc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shinydb_engine::{Db, IndexBound, Options, SyncMode, Update, query::QueryResult};

// Servers built on the engine use mimalloc; glibc malloc fragments under this allocation pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn document(i: i64, docs: i64) -> Document {
    let mut d = doc! {
        "_id": i,
        "email": format!("user{i}@example.com"),
        "age": i % 100,
        "g": i % (docs / 10).max(1),
        "score": (i * 7919) % 1_000_003,
    };
    for f in 0..9 {
        d.insert(format!("field{f}"), format!("{i:020}-{f}").repeat(5));
    }
    d
}

struct Row {
    name: &'static str,
    result: String,
    target: &'static str,
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let docs: i64 = args
        .iter()
        .position(|a| a == "--docs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut rows = Vec::new();
    let dir =
        tempfile::tempdir_in(std::env::var("SHINYDB_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("tempdir");
    let opts = Options {
        sync: SyncMode::Sync,
        cache_bytes: 3 << 30,
        gc_interval: None,
        ..Options::default()
    };
    let db = Arc::new(Db::open(dir.path().join("main"), opts.clone()).expect("open"));
    db.create_space("b").expect("space");
    db.create_store("b", "users").expect("store");

    // Bulk load in atomic batches of 1,000 (durable: one fsync per batch).
    let started = Instant::now();
    let mut i = 0;
    while i < docs {
        let batch: Vec<Document> = (i..(i + 1000).min(docs))
            .map(|i| document(i, docs))
            .collect();
        db.insert_many("b", "users", batch).expect("load");
        i += 1000;
    }
    db.checkpoint().expect("checkpoint");
    let load = started.elapsed();
    rows.push(Row {
        name: "bulk load, batches of 1,000, sync, incl. checkpoint",
        result: format!(
            "{:.0} docs/s ({docs} in {:.1} s)",
            rate(docs as u64, load),
            load.as_secs_f64()
        ),
        target: ">= 150,000/s",
    });
    let started = Instant::now();
    for (name, field, unique) in [
        ("by_email", "email", true),
        ("by_age", "age", false),
        ("by_g", "g", false),
        ("by_score", "score", false),
    ] {
        db.create_index("b", "users", name, &[field], unique)
            .expect("index");
    }
    db.checkpoint().expect("checkpoint");
    let build = started.elapsed();
    rows.push(Row {
        name: "build 4 secondary indexes on the loaded store",
        result: format!(
            "{:.1} s ({:.0} entries/s)",
            build.as_secs_f64(),
            rate(4 * docs as u64, build)
        ),
        target: "(reference)",
    });

    // Point gets by _id, hot cache, one thread.
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..docs.min(2_000_000) {
        let _ = db
            .get("b", "users", &Bson::Int64(rng.random_range(0..docs)))
            .expect("warm");
    }
    let n = 2_000_000u64;
    let snap = db.snapshot();
    let started = Instant::now();
    let mut found = 0u64;
    for _ in 0..n {
        if snap
            .get("b", "users", &Bson::Int64(rng.random_range(0..docs)))
            .expect("get")
            .is_some()
        {
            found += 1;
        }
    }
    let gets = started.elapsed();
    assert_eq!(found, n);
    rows.push(Row {
        name: "point get by _id, hot cache, 1 thread",
        result: format!(
            "{:.0} gets/s ({:.2} µs each)",
            rate(n, gets),
            gets.as_secs_f64() * 1e6 / n as f64
        ),
        target: ">= 500,000/s",
    });
    let threads = 2;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let snap = &snap;
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(t);
                for _ in 0..n / threads {
                    let _ = snap
                        .get("b", "users", &Bson::Int64(rng.random_range(0..docs)))
                        .expect("get");
                }
            });
        }
    });
    let par = started.elapsed();
    rows.push(Row {
        name: "point get by _id, hot cache, 2 threads",
        result: format!("{:.0} gets/s", rate(n, par)),
        target: "scales with cores",
    });

    // Unique secondary index: equality lookup returning one document.
    let n = 500_000u64;
    let started = Instant::now();
    for _ in 0..n {
        let email = format!("user{}@example.com", rng.random_range(0..docs));
        let b = IndexBound {
            values: vec![Bson::String(email)],
            inclusive: true,
        };
        let mut it = snap
            .index_scan("b", "users", "by_email", Some(&b), Some(&b), false)
            .expect("scan");
        assert!(it.next().is_some());
    }
    let idx = started.elapsed();
    rows.push(Row {
        name: "secondary-index equality lookup returning 1 document",
        result: format!("{:.2} µs each", idx.as_secs_f64() * 1e6 / n as f64),
        target: "<= 10 µs",
    });
    drop(snap);

    // YQL on the same store, through the planner and executor.
    let mut yql = |name: &'static str,
                   target: &'static str,
                   reps: u32,
                   text: &dyn Fn(&mut StdRng) -> String| {
        let mut rng = StdRng::seed_from_u64(11);
        let _ = db.query_text(&text(&mut rng)).expect("warm-up");
        let started = Instant::now();
        let mut rows_out = 0usize;
        for _ in 0..reps {
            rows_out += match db.query_text(&text(&mut rng)).expect("query") {
                QueryResult::Documents { documents, .. } => documents.len(),
                QueryResult::Groups(g) => g.len(),
                _ => 1,
            };
        }
        let each = started.elapsed() / reps;
        let shown = if each < Duration::from_millis(1) {
            format!("{:.1} µs", each.as_secs_f64() * 1e6)
        } else {
            format!("{:.0} ms", each.as_secs_f64() * 1e3)
        };
        rows.push(Row {
            name,
            result: format!("{shown} per query ({} rows)", rows_out / reps as usize),
            target,
        });
    };
    let groups = (docs / 10).max(1);
    yql(
        "YQL indexed equality returning 10 documents",
        "<= 50 µs",
        2000,
        &|r| format!("b.users.filter(g = {})", r.random_range(0..groups)),
    );
    yql(
        "YQL indexed `in` over 3 values (30 documents)",
        "<= 100 µs",
        2000,
        &|r| {
            format!(
                "b.users.filter(g in [{}, {}, {}])",
                r.random_range(0..groups),
                r.random_range(0..groups),
                r.random_range(0..groups)
            )
        },
    );
    yql(
        "YQL full-scan filter over every document",
        "<= 500 ms",
        3,
        &|_| "b.users.filter(field0 contains \"zz\").count()".to_string(),
    );
    yql(
        "YQL groupBy into 100 groups with count and sum",
        "<= 1 s",
        3,
        &|_| "b.users.groupBy(age).aggregate(n: count, total: sum(score))".to_string(),
    );
    yql(
        "YQL orderBy(x, desc).limit(10) without an index",
        "<= 600 ms",
        3,
        &|_| "b.users.orderBy(field1, desc).limit(10).pluck(_id)".to_string(),
    );
    yql(
        "YQL orderBy(x, desc).limit(10) with an index",
        "<= 1 ms",
        2000,
        &|_| "b.users.orderBy(score, desc).limit(10).pluck(_id)".to_string(),
    );

    // Durable inserts: 1 writer, then 16 writers sharing fsyncs.
    for writers in [1u64, 16] {
        let next = Arc::new(AtomicU64::new(docs as u64 + writers * 10_000_000));
        let per = if writers == 1 { 3_000 } else { 10_000 };
        let before = db.stats();
        let started = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..writers {
                let db = &db;
                let next = &next;
                s.spawn(move || {
                    for _ in 0..per {
                        let id = next.fetch_add(1, Ordering::Relaxed) as i64;
                        db.insert("b", "users", document(id, docs)).expect("insert");
                    }
                });
            }
        });
        let took = started.elapsed();
        let after = db.stats();
        let syncs = after.wal_syncs - before.wal_syncs;
        let total = writers * per;
        rows.push(Row {
            name: if writers == 1 {
                "durable inserts (sync), 1 writer"
            } else {
                "durable inserts (sync), 16 writers"
            },
            result: format!(
                "{:.0} inserts/s, {syncs} fsyncs, {:.1} inserts per fsync",
                rate(total, took),
                total as f64 / syncs.max(1) as f64
            ),
            target: if writers == 1 {
                ">= 1 / fsync latency"
            } else {
                ">= 30,000/s"
            },
        });
    }
    let fsync = {
        let f = std::fs::File::create(dir.path().join("fsync-probe")).expect("probe");
        let started = Instant::now();
        for _ in 0..200 {
            use std::io::Write;
            (&f).write_all(b"x").expect("write");
            f.sync_data().expect("sync");
        }
        started.elapsed() / 200
    };
    rows.push(Row {
        name: "fdatasync of a 1-byte append on this disk",
        result: format!("{:.0} µs", fsync.as_secs_f64() * 1e6),
        target: "(reference)",
    });
    drop(db);

    // Value-log GC: 4 KB documents in the value log, every one rewritten, then collected while
    // a writer keeps inserting.
    let gc_opts = Options {
        sync: SyncMode::None,
        vlog_segment_bytes: 64 << 20,
        compression_threshold: 1 << 20,
        ..opts
    };
    let gdb = Arc::new(Db::open(dir.path().join("gc"), gc_opts).expect("open"));
    gdb.create_space("g").expect("space");
    gdb.create_store("g", "blobs").expect("store");
    let blobs = 100_000i64;
    let blob =
        |i: i64, v: i64| doc! {"_id": i, "v": v, "data": format!("{i:016}{v:016}").repeat(128)};
    for chunk in (0..blobs).collect::<Vec<_>>().chunks(1000) {
        gdb.insert_many("g", "blobs", chunk.iter().map(|i| blob(*i, 0)).collect())
            .expect("load");
    }
    for i in 0..blobs {
        gdb.update(
            "g",
            "blobs",
            Bson::Int64(i),
            Update {
                set: vec![(
                    "data".into(),
                    Bson::String(format!("{i:016}{:016}", 1).repeat(128)),
                )],
                unset: vec![],
            },
        )
        .expect("update");
    }
    gdb.checkpoint().expect("checkpoint");
    let measure_writes = |gdb: &Arc<Db>, stop: &AtomicBool, base: i64| {
        let mut n = 0i64;
        let started = Instant::now();
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(30) {
            gdb.insert("g", "other", doc! {"_id": base + n, "x": "y".repeat(1000)})
                .expect("insert");
            n += 1;
        }
        rate(n as u64, started.elapsed())
    };
    gdb.create_store("g", "other").expect("store");
    let stop = AtomicBool::new(false);
    let baseline = std::thread::scope(|s| {
        let h = s.spawn(|| measure_writes(&gdb, &stop, 0));
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Relaxed);
        h.join().expect("join")
    });
    let stop = AtomicBool::new(false);
    let (reclaimed, gc_time, during) = std::thread::scope(|s| {
        let h = s.spawn(|| measure_writes(&gdb, &stop, 1 << 40));
        let started = Instant::now();
        let reclaimed = gdb.gc().expect("gc");
        let gc_time = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        (reclaimed, gc_time, h.join().expect("join"))
    });
    rows.push(Row {
        name: "value-log GC of 100,000 rewritten 4 KB documents",
        result: format!(
            "{:.0} MB/s reclaimed ({:.0} MB in {:.2} s)",
            reclaimed as f64 / 1e6 / gc_time.as_secs_f64(),
            reclaimed as f64 / 1e6,
            gc_time.as_secs_f64()
        ),
        target: ">= 100 MB/s",
    });
    rows.push(Row {
        name: "foreground inserts without / during GC",
        result: format!(
            "{baseline:.0}/s vs {during:.0}/s ({:.2}x slower)",
            baseline / during.max(1.0)
        ),
        target: "<= 2x slower",
    });

    println!("| benchmark | result | target |\n|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} |", r.name, r.result, r.target);
    }
}
