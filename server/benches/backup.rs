//! Backup and restore throughput against a real S3-compatible server (moto's, started here),
//! beside the floor: plain `object_store` puts and gets of the same bytes in the same chunks
//! and parallelism, measured in the same run. Also the rate of durable foreground writes with
//! and without a backup running.
//!
//! `cargo bench -p shinydb-server --bench backup` (needs `moto_server` on PATH, as the tests
//! do). `SHINYDB_BENCH_BYTES` sets the store's size (default 1 GiB); `SHINYDB_BENCH_DIR` where
//! the data goes (default `.`); `SHINYDB_BENCH_PACE_MIB` the paced run's `max_upload_rate`
//! in MiB/s (default 32). Results go to stdout as a markdown table; `bench/results/`
//! records them.

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

use bson::doc;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStoreExt, PutPayload, aws::AmazonS3Builder, path::Path};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shinydb_engine::{Db, Options, SyncMode};
use shinydb_server::{
    Metrics,
    backup::{Backups, Location, Progress, RestoreOptions, RestoreTarget, create, delete, restore},
    config::BackupConfig,
};
use shinydb_testkit::S3Server;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BUCKET: &str = "bench";

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Durable single-document inserts from 4 threads until `until` returns: inserts per second.
fn durable_write_rate(db: &Arc<Db>, base: i64, until: impl FnOnce()) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (db, stop, done) = (Arc::clone(db), Arc::clone(&stop), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let id = base + t * 100_000_000 + i;
                    db.insert("b", "fg", doc! {"_id": id, "v": "w".repeat(200)})
                        .expect("insert");
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    let started = Instant::now();
    until();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("writer");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Durable inserts per second without a backup just before and after one, and while it ran.
struct Foreground {
    before: f64,
    during: f64,
    after: f64,
    /// How long the backup took under that load.
    took: Duration,
}

impl Foreground {
    /// The rate without a backup: the mean of the rates before and after.
    fn without(&self) -> f64 {
        f64::midpoint(self.before, self.after)
    }
}

fn main() {
    // As the server's main does: reqwest (under object_store) uses rustls with ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bytes: u64 = std::env::var("SHINYDB_BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let root = std::env::var("SHINYDB_BENCH_DIR").unwrap_or_else(|_| ".".into());
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let key_id = dir.path().join("key-id");
    let secret = dir.path().join("secret");
    std::fs::write(&key_id, "test").expect("key id");
    std::fs::write(&secret, "test").expect("secret");
    let cfg = BackupConfig {
        store: Some(format!("s3://{BUCKET}/db")),
        endpoint: Some(s3.endpoint()),
        allow_http: true,
        path_style: true,
        access_key_id_file: Some(key_id),
        secret_access_key_file: Some(secret),
        ..BackupConfig::default()
    };

    // A store of ~`bytes` on disk: 8 KiB documents, 6 KiB of them random (they stay ~6 KiB in
    // the value log after its zstd pass), so the backup moves about `bytes`.
    let db = Arc::new(
        Db::open(
            dir.path().join("data"),
            Options {
                sync: SyncMode::Sync,
                gc_interval: None,
                ..Options::default()
            },
        )
        .expect("open"),
    );
    db.create_space("b").expect("space");
    db.create_store("b", "docs").expect("store");
    db.create_store("b", "fg").expect("store");
    let mut rng = StdRng::seed_from_u64(7);
    let started = Instant::now();
    let docs = bytes / 6300;
    let mut i = 0u64;
    while i < docs {
        let batch = (i..(i + 500).min(docs))
            .map(|n| {
                let mut random = vec![0u8; 6144];
                rng.fill(&mut random[..]);
                let random = bson::Binary {
                    subtype: bson::spec::BinarySubtype::Generic,
                    bytes: random,
                };
                doc! {"_id": n as i64, "r": random, "p": "p".repeat(2048)}
            })
            .collect();
        db.insert_many("b", "docs", batch).expect("load");
        i += 500;
    }
    db.checkpoint().expect("checkpoint");
    let load = started.elapsed();
    let source_bytes = db.backup_source().expect("source").total_bytes();

    let loc = Location::open(&cfg).expect("store");
    let (backup, backup_time) = runtime.block_on(async {
        let started = Instant::now();
        let m = create(
            Arc::clone(&db),
            &loc,
            &cfg,
            "0000000000000000".into(),
            String::new(),
            &Progress::default(),
        )
        .await
        .expect("backup");
        (m, started.elapsed())
    });
    let stored = backup.stored_bytes();

    // The floor: the same number of objects of the same sizes, put and got with the same
    // parallelism, without reading, hashing or compressing anything.
    let store = Arc::new(
        AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_endpoint(s3.endpoint())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .expect("object store"),
    );
    let sizes: Vec<u64> = backup
        .files
        .iter()
        .flat_map(|f| f.chunks.iter().map(|c| c.stored_len))
        .collect();
    let parallel = usize::try_from(cfg.parallelism).expect("parallelism");
    let (put_time, get_time) = runtime.block_on(async {
        let payload = |n: u64| {
            let mut v = vec![0u8; usize::try_from(n).expect("size")];
            StdRng::seed_from_u64(n).fill(&mut v[..]);
            bytes::Bytes::from(v)
        };
        let started = Instant::now();
        futures::stream::iter(sizes.iter().enumerate())
            .map(|(i, &n)| {
                let store = Arc::clone(&store);
                let body = payload(n);
                async move {
                    store
                        .put(&Path::from(format!("floor/{i}")), PutPayload::from(body))
                        .await
                }
            })
            .buffer_unordered(parallel)
            .try_collect::<Vec<_>>()
            .await
            .expect("floor puts");
        let put = started.elapsed();
        let started = Instant::now();
        futures::stream::iter(0..sizes.len())
            .map(|i| {
                let store = Arc::clone(&store);
                async move {
                    store
                        .get(&Path::from(format!("floor/{i}")))
                        .await?
                        .bytes()
                        .await
                }
            })
            .buffer_unordered(parallel)
            .try_collect::<Vec<_>>()
            .await
            .expect("floor gets");
        (put, started.elapsed())
    });

    let restore_time = runtime.block_on(async {
        let started = Instant::now();
        restore(
            &loc,
            &RestoreTarget::Id(backup.id.clone()),
            &dir.path().join("restored"),
            &RestoreOptions {
                replace: false,
                parallel,
                lineage: None,
            },
            &Progress::default(),
        )
        .await
        .expect("restore");
        started.elapsed()
    });

    // moto keeps every object in its memory: let the first backup and the floor's go.
    runtime.block_on(async {
        delete(&loc, &backup.id)
            .await
            .expect("delete the first backup");
        for i in 0..sizes.len() {
            store
                .delete(&Path::from(format!("floor/{i}")))
                .await
                .expect("delete a floor object");
        }
    });

    // Foreground durable writes while a backup runs from start to end, beside their rate
    // without one just before and just after (the VM disk's fsync time drifts between
    // minutes, so one baseline taken earlier is not the rate the backup competed with). Three
    // stores: moto's (sharing the two cores), a `file://` directory in memory (no moto: the
    // backup's own reading, hashing and zstd), and moto paced by `backup.max_upload_rate`.
    let mut base = 0;
    let mut under_backup = |cfg: &BackupConfig| {
        let window = backup_time.max(Duration::from_secs(5));
        let mut next = || {
            base += 100_000_000_000;
            base
        };
        let before = durable_write_rate(&db, next(), || std::thread::sleep(window));
        let mut took = Duration::ZERO;
        let during = durable_write_rate(&db, next(), || {
            runtime.block_on(async {
                let started = Instant::now();
                let loc = Location::open(cfg).expect("store");
                let m = create(
                    Arc::clone(&db),
                    &loc,
                    cfg,
                    "0000000000000000".into(),
                    String::new(),
                    &Progress::default(),
                )
                .await
                .expect("backup under load");
                took = started.elapsed();
                // moto keeps every object in its memory: let this one go.
                delete(&loc, &m.id).await.expect("delete the backup");
            });
        });
        let after = durable_write_rate(&db, next(), || std::thread::sleep(window));
        Foreground {
            before,
            during,
            after,
            took,
        }
    };
    let with_moto = under_backup(&cfg);
    let memory = tempfile::tempdir_in(
        ["/dev/shm", "/tmp"]
            .into_iter()
            .find(|d| std::path::Path::new(d).is_dir())
            .expect("a scratch directory"),
    )
    .expect("in-memory store");
    let with_file = under_backup(&BackupConfig {
        store: Some(format!("file://{}", memory.path().display())),
        ..cfg.clone()
    });
    drop(memory);
    let paced_rate = std::env::var("SHINYDB_BENCH_PACE_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(32)
        << 20;
    let with_pace = under_backup(&BackupConfig {
        max_upload_rate: Some(shinydb_server::config::ByteSize(paced_rate)),
        ..cfg.clone()
    });

    // Archive lag under a steady durable write load: 4 writers for 30 s with a 5 s timeout;
    // the lag is how long the oldest batch not yet archived has waited, sampled every 100 ms.
    let timeout = Duration::from_secs(5);
    let (max_lag, mean_lag, slices) = {
        let mut acfg = cfg.clone();
        acfg.store = Some(format!("s3://{BUCKET}/lag"));
        acfg.archive.timeout_seconds = timeout.as_secs();
        let metrics = Arc::new(Metrics::new().expect("metrics"));
        let _guard = runtime.enter();
        let backups = Arc::new(Backups::new(
            Arc::clone(&db),
            acfg,
            "1111111111111111".into(),
            metrics,
        ));
        let samples = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let sampler = {
            let (backups, samples) = (Arc::clone(&backups), Arc::clone(&samples));
            runtime.spawn(async move {
                loop {
                    if let Some(s) = backups.archive_status() {
                        let now = bson::DateTime::now().timestamp_millis();
                        let lag = if s.pending_since_ms > 0 {
                            now - s.pending_since_ms
                        } else {
                            0
                        };
                        samples.lock().push(lag);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        durable_write_rate(&db, 2_000_000_000, || {
            std::thread::sleep(Duration::from_secs(30));
        });
        sampler.abort();
        let slices = backups.archive_status().map_or(0, |s| s.slices_written);
        runtime.block_on(backups.stop());
        let samples = samples.lock();
        let max = samples.iter().copied().max().unwrap_or(0);
        let mean = samples.iter().sum::<i64>() as f64 / samples.len().max(1) as f64;
        (max, mean, slices)
    };

    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| load ({docs} docs of 8 KiB, sync batches of 500) | {:.0} MB/s on disk, {:.1} s | - |",
        mb_per_s(source_bytes, load),
        load.as_secs_f64()
    );
    println!(
        "| base backup of {:.0} MB ({:.0} MB stored, {} chunks) | {:.1} MB/s, {:.1} s | within 1.5x of the floor |",
        source_bytes as f64 / 1e6,
        stored as f64 / 1e6,
        sizes.len(),
        mb_per_s(source_bytes, backup_time),
        backup_time.as_secs_f64()
    );
    println!(
        "| floor: put of the stored bytes | {:.1} MB/s stored, {:.1} s ({:.2}x of the backup's time) | - |",
        mb_per_s(stored, put_time),
        put_time.as_secs_f64(),
        backup_time.as_secs_f64() / put_time.as_secs_f64()
    );
    println!(
        "| restore of it | {:.1} MB/s, {:.1} s | within 1.5x of the floor |",
        mb_per_s(source_bytes, restore_time),
        restore_time.as_secs_f64()
    );
    println!(
        "| floor: get of the stored bytes | {:.1} MB/s stored, {:.1} s ({:.2}x of the restore's time) | - |",
        mb_per_s(stored, get_time),
        get_time.as_secs_f64(),
        restore_time.as_secs_f64() / get_time.as_secs_f64()
    );
    for (store, f) in [
        ("moto", &with_moto),
        ("a file:// directory in memory", &with_file),
        (
            &*format!("moto, max_upload_rate {} MiB/s", paced_rate >> 20),
            &with_pace,
        ),
    ] {
        println!(
            "| durable inserts (4 threads) during a backup to {store} ({:.1} s) | {:.0}/s, {:.0} % of {:.0}/s before and {:.0}/s after | >= 80 % |",
            f.took.as_secs_f64(),
            f.during,
            100.0 * f.during / f.without(),
            f.before,
            f.after
        );
    }
    println!(
        "| archive lag, 4 durable writers for 30 s, timeout {} s | max {:.1} s, mean {:.1} s, {slices} slices | below the timeout |",
        timeout.as_secs(),
        max_lag as f64 / 1000.0,
        mean_lag / 1000.0
    );
}
