//! Replication on loopback with real processes: how far a follower falls behind the leader's
//! full durable write rate, what `sync_replicas: 1` adds to a write's latency over
//! asynchronous replication in the same run, and how fast an empty follower seeds.
//!
//! `cargo bench -p shinydb-server --bench replication`. `SHINYDB_BENCH_SECONDS` sets each
//! write phase's length (default 10), `SHINYDB_BENCH_SEED_BYTES` the store seeded (default
//! 1 GiB), `SHINYDB_BENCH_DIR` where the data goes (default the system's temporary
//! directory). Results go to stdout as markdown; `bench/results/` records them.

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at the first broken step, saying which"
)]

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng, rngs::StdRng};
use shinydb_client::{Client, bson::doc};
use shinydb_testkit::{ADMIN_PASSWORD, Ca, Server, ServerOptions};

/// Concurrent writers: one (a write's latency alone) and 16 (the full durable write rate,
/// as the issue's target says).
const WRITERS: [usize; 2] = [1, 16];

/// Servers sharing one CA and the replica set's peer key, under one directory.
struct Cluster {
    ca: Arc<Ca>,
    root: PathBuf,
}

impl Cluster {
    fn credential(&self) -> PathBuf {
        self.root.join("replication.key")
    }

    fn start(&self, yaml: &str) -> Server {
        let dir = Arc::new(tempfile::tempdir_in(&self.root).expect("tempdir"));
        Server::start_in(
            dir,
            Some(Arc::clone(&self.ca)),
            None,
            ServerOptions::default().config(&format!("storage:\n  durability: sync\n{yaml}")),
        )
    }

    /// A leader (`extra` under `replication:`) accepting the peer key, with a store to write
    /// to once `followers` (when `extra` asks for synchronous ones) have joined.
    async fn leader(&self, extra: &str, followers: &[&str]) -> (Server, Vec<Server>) {
        let s = self.start(&format!(
            "replication:\n  role: leader\n  name: leader\n  credential_file: {}\n{extra}",
            self.credential().display()
        ));
        let fs: Vec<Server> = followers.iter().map(|n| self.follower(&s, n)).collect();
        let admin = client(&s);
        admin.create_space("b").await.expect("space");
        admin.create_store("b", "docs").await.expect("store");
        (s, fs)
    }

    fn follower(&self, leader: &Server, name: &str) -> Server {
        self.start(&format!(
            "replication:\n  role: follower\n  name: {name}\n  leader: {}\n  credential_file: {}\n  \
             ca_file: {}\n  heartbeat_ms: 200\n",
            leader.endpoint_uri(),
            self.credential().display(),
            leader.ca_path().display()
        ))
    }
}

fn builder(s: &Server) -> shinydb_client::ClientBuilder {
    let ca = s.ca.as_ref().expect("TLS");
    Client::builder(&s.endpoint_uri())
        .ca_cert_pem(ca.pem.clone().into_bytes())
        .connections(4)
}

fn client(s: &Server) -> Client {
    builder(s)
        .password("admin", ADMIN_PASSWORD)
        .build()
        .expect("client")
}

/// Waits until `follower` streams with every batch `leader` has; returns how long it took.
async fn caught_up(follower: &Server, leader: &Server, timeout: Duration) -> Duration {
    let (f, l) = (client(follower), client(leader));
    let started = Instant::now();
    loop {
        let want = l.replica_status().await.expect("leader status").last_seq;
        if let Ok(got) = f.replica_status().await
            && got.state == "streaming"
            && got.last_seq >= want
        {
            return started.elapsed();
        }
        assert!(started.elapsed() < timeout, "the follower did not catch up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What one write phase measured.
struct Phase {
    writes_per_s: f64,
    latency_us: Histogram<u64>,
    /// The leader's last batch minus the follower's durable one, sampled every 50 ms.
    lag_batches: Histogram<u64>,
    /// The follower's own lag estimate in milliseconds, sampled likewise.
    lag_ms: Histogram<u64>,
    catch_up: Duration,
}

/// `writers` tasks inserting one ~200-byte document each, durably, for `seconds`, while the
/// follower's lag is sampled.
async fn write_phase(leader: &Server, follower: &Server, writers: usize, seconds: u64) -> Phase {
    let c = client(leader);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers: Vec<_> = (0..writers)
        .map(|w| {
            let (c, stop) = (c.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let store = c.store("b", "docs");
                let mut h = Histogram::<u64>::new(3).expect("histogram");
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let id = (w as i64) * 100_000_000 + i;
                    let t = Instant::now();
                    store
                        .insert(doc! {"_id": id, "v": "w".repeat(200)})
                        .await
                        .expect("insert");
                    h.record(t.elapsed().as_micros() as u64).expect("record");
                    i += 1;
                }
                h
            })
        })
        .collect();
    let (l, f) = (client(leader), client(follower));
    let mut lag_batches = Histogram::<u64>::new(3).expect("histogram");
    let mut lag_ms = Histogram::<u64>::new(3).expect("histogram");
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let st = l.replica_status().await.expect("leader status");
        if let Some(fs) = st.followers.first() {
            lag_batches
                .record(st.last_seq.saturating_sub(fs.durable_seq))
                .expect("record");
        }
        let fs = f.replica_status().await.expect("follower status");
        lag_ms
            .record((fs.lag_seconds * 1000.0) as u64)
            .expect("record");
    }
    stop.store(true, Ordering::Relaxed);
    let mut latency_us = Histogram::<u64>::new(3).expect("histogram");
    for w in writers {
        latency_us.add(w.await.expect("writer")).expect("merge");
    }
    let elapsed = started.elapsed();
    let catch_up = caught_up(follower, leader, Duration::from_secs(120)).await;
    Phase {
        writes_per_s: latency_us.len() as f64 / elapsed.as_secs_f64(),
        latency_us,
        lag_batches,
        lag_ms,
        catch_up,
    }
}

/// Bytes of the files under `dir`.
fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => size_of(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Loads ~`bytes` into a new leader (8 KiB documents, 6 KiB of them random so that they stay
/// that large), then starts an empty follower: the seed's size, time and rate.
async fn seed_phase(cluster: &Cluster, bytes: u64) -> (u64, Duration) {
    let (leader, _) = cluster.leader("", &[]).await;
    let c = client(&leader);
    let mut rng = StdRng::seed_from_u64(7);
    let docs = bytes / 8192;
    let batch = 64u64;
    let store = c.store("b", "docs");
    for first in (0..docs).step_by(batch as usize) {
        let chunk: Vec<_> = (first..(first + batch).min(docs))
            .map(|i| {
                let random: String = (0..6144)
                    .map(|_| char::from(rng.random_range(b'!'..=b'~')))
                    .collect();
                doc! {"_id": i as i64, "r": random, "p": "p".repeat(2048)}
            })
            .collect();
        store.insert_many(&chunk).await.expect("load");
    }
    let on_disk = size_of(&leader.data_dir());
    let started = Instant::now();
    let follower = cluster.follower(&leader, "seeded");
    caught_up(&follower, &leader, Duration::from_secs(600)).await;
    (on_disk, started.elapsed())
}

/// How long appending 4 KiB and `fdatasync` take on the disk under `dir` (1,000 times): the
/// follower's sync that `sync_replicas: 1` adds to a write, by itself.
fn fsync_probe(dir: &Path) -> Histogram<u64> {
    use std::io::Write as _;
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).expect("probe file");
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..1000 {
        let t = Instant::now();
        f.write_all(&[7u8; 4096]).expect("write");
        f.sync_data().expect("fdatasync");
        h.record(t.elapsed().as_micros() as u64).expect("record");
    }
    drop(f);
    std::fs::remove_file(path).expect("remove the probe");
    h
}

fn us(h: &Histogram<u64>, q: f64) -> u64 {
    h.value_at_quantile(q)
}

fn main() {
    let seconds: u64 = std::env::var("SHINYDB_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let seed_bytes: u64 = std::env::var("SHINYDB_BENCH_SEED_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let root =
        std::env::var("SHINYDB_BENCH_DIR").map_or_else(|_| std::env::temp_dir(), PathBuf::from);
    let root = tempfile::tempdir_in(root).expect("tempdir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cluster = Cluster {
            ca: Arc::new(Ca::new("ShinyDB replication bench CA")),
            root: root.path().to_path_buf(),
        };
        let key: String = (0..40)
            .map(|_| char::from(rand::rng().random_range(b'a'..=b'z')))
            .collect();
        std::fs::write(cluster.credential(), key).expect("peer key");
        let mut rows = Vec::new();
        // Twice each, alternating: a virtual disk's fsync time drifts over a minute, and the
        // comparison should not be between two different disks.
        let lines = [
            ("asynchronous", ""),
            ("sync_replicas: 1", "  sync_replicas: 1\n"),
        ];
        for writers in WRITERS {
            for (name, extra) in lines.into_iter().chain(lines) {
                let (leader, mut followers) = cluster.leader(extra, &["f1"]).await;
                let follower = followers.pop().expect("one follower");
                caught_up(&follower, &leader, Duration::from_secs(60)).await;
                let p = write_phase(&leader, &follower, writers, seconds).await;
                rows.push((writers, name, p));
            }
        }
        let (seed_size, seed_time) = seed_phase(&cluster, seed_bytes).await;
        let fsync = fsync_probe(root.path());

        println!(
            "Writers each doing one durable single-document insert at a time, {seconds} s per \
             line, the two kinds of line alternating twice; one follower; lag sampled every 50 \
             ms.\n"
        );
        println!(
            "| writers | replication | writes/s | p50 µs | p99 µs | lag p50 / p99 / max (batches) | \
             follower lag p99 / max (ms) | catch-up after the writers stop |"
        );
        println!("|---:|---|---:|---:|---:|---|---|---:|");
        for (writers, name, p) in &rows {
            println!(
                "| {writers} | {name} | {:.0} | {} | {} | {} / {} / {} | {} / {} | {} ms |",
                p.writes_per_s,
                us(&p.latency_us, 0.5),
                us(&p.latency_us, 0.99),
                us(&p.lag_batches, 0.5),
                us(&p.lag_batches, 0.99),
                p.lag_batches.max(),
                us(&p.lag_ms, 0.99),
                p.lag_ms.max(),
                p.catch_up.as_millis()
            );
        }
        println!(
            "\nOne 4 KiB append + fdatasync on this disk, alone: p50 {} µs, p99 {} µs.",
            us(&fsync, 0.5),
            us(&fsync, 0.99)
        );
        println!(
            "\nSeeding an empty follower from a leader holding {:.0} MB on disk: {:.1} s from \
             the follower's start to streaming at the leader's position, {:.0} MB/s.",
            seed_size as f64 / 1e6,
            seed_time.as_secs_f64(),
            seed_size as f64 / 1e6 / seed_time.as_secs_f64()
        );
    });
}
