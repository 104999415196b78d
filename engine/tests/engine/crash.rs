//! Crash safety: a child process writes with several threads and reports every acknowledged
//! write; the parent kills it with SIGKILL at random moments, reopens the data directory and
//! checks that every acknowledged write is there, nothing deleted came back, and the index
//! agrees with the documents.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write as _},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bson::{Bson, doc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shinydb_engine::{Db, Options, SyncMode, Update};

use crate::common::spawn_child;

const CHILD_ENV: &str = "SHINYDB_CRASH_CHILD_DIR";
const THREADS: u64 = 4;

fn options() -> Options {
    Options {
        sync: SyncMode::Sync,
        memtable_bytes: 64 << 10,
        value_log_threshold: 300,
        vlog_segment_bytes: 128 << 10,
        wal_segment_bytes: 64 << 10,
        gc_interval: Some(Duration::from_millis(20)),
        gc_dead_ratio: 0.2,
        ..Options::default()
    }
}

/// What the parent knows about one document.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Absent,
    Value(i64),
}

/// The child: writes until killed, printing `try` before and `ack` after every write.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Arc::new(Db::open(&dir, options()).expect("child open"));
    let _ = db.create_space("c");
    let _ = db.create_store("c", "docs");
    let _ = db.create_index("c", "docs", "by_v", &["v"], false);
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let say = |out: &Arc<Mutex<std::io::Stdout>>, line: String| {
        let mut o = out.lock().expect("stdout");
        writeln!(o, "{line}").expect("write");
        o.flush().expect("flush");
    };
    say(&out, "ready".into());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = Arc::clone(&db);
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(std::process::id() as u64 * 31 + t);
                let base = (i64::from(std::process::id()) << 32) | ((t as i64) << 28);
                let mut live: Vec<i64> = Vec::new();
                for n in 0i64.. {
                    let value = rng.random_range(0..1000i64);
                    let pad = "p".repeat(rng.random_range(0..600));
                    let choice = rng.random_range(0..10);
                    if live.is_empty() || choice < 5 {
                        let id = base + n;
                        say(&out, format!("try {id} {value}"));
                        db.insert("c", "docs", doc! {"_id": id, "v": value, "pad": pad})
                            .expect("insert");
                        say(&out, format!("ack {id} {value}"));
                        live.push(id);
                    } else if choice < 8 {
                        let id = live[rng.random_range(0..live.len())];
                        say(&out, format!("try {id} {value}"));
                        let set = vec![
                            ("v".to_string(), Bson::Int64(value)),
                            ("pad".to_string(), Bson::String(pad)),
                        ];
                        db.update("c", "docs", Bson::Int64(id), Update { set, unset: vec![] })
                            .expect("update");
                        say(&out, format!("ack {id} {value}"));
                    } else {
                        let id = live.swap_remove(rng.random_range(0..live.len()));
                        say(&out, format!("try {id} -"));
                        db.delete("c", "docs", Bson::Int64(id)).expect("delete");
                        say(&out, format!("ack {id} -"));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}

fn parse(line: &str) -> Option<(&str, i64, State)> {
    let mut parts = line.split(' ');
    let kind = parts.next()?;
    let id = parts.next()?.parse().ok()?;
    let state = match parts.next()? {
        "-" => State::Absent,
        v => State::Value(v.parse().ok()?),
    };
    Some((kind, id, state))
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let rounds: usize = std::env::var("SHINYDB_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = StdRng::seed_from_u64(0x5eed);
    // id -> (acknowledged state, state of a write in flight)
    let mut known: HashMap<i64, (State, Option<State>)> = HashMap::new();
    let mut acked_total = 0usize;
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = spawn_child("crash::crash_child", CHILD_ENV, dir.path());
        let stdout = child.stdout.take().expect("stdout");
        let kill_after = Duration::from_millis(rng.random_range(5..150));
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // Wait for the child to be ready, then let it write for a random while.
        std::thread::sleep(Duration::from_millis(30) + kill_after);
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let lines = reader.join().expect("reader");
        for line in &lines {
            if let Some((kind, id, state)) = parse(line) {
                let entry = known.entry(id).or_insert((State::Absent, None));
                if kind == "try" {
                    entry.1 = Some(state);
                } else {
                    entry.0 = state;
                    entry.1 = None;
                    acked_total += 1;
                }
            }
        }

        let db = Db::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let snap = db.snapshot();
        if snap.store("c", "docs").is_err() {
            continue; // killed before the store existed
        }
        let mut on_disk: HashMap<i64, i64> = HashMap::new();
        for d in snap.scan("c", "docs", false).expect("scan") {
            let d = d.expect("doc");
            on_disk.insert(d.get_i64("_id").expect("id"), d.get_i64("v").expect("v"));
        }
        for (id, (acked, in_flight)) in &mut known {
            let actual = on_disk.get(id).map_or(State::Absent, |v| State::Value(*v));
            let ok = actual == *acked || in_flight.as_ref() == Some(&actual);
            assert!(
                ok,
                "round {round}: document {id} is {actual:?}; acknowledged {acked:?}, in flight {in_flight:?}"
            );
            // Whatever survived is now the acknowledged state.
            *acked = actual;
            *in_flight = None;
        }
        assert_eq!(
            snap.count("c", "docs").expect("count"),
            on_disk.len() as u64,
            "round {round}: count"
        );
        if snap
            .store("c", "docs")
            .expect("store")
            .indexes
            .iter()
            .any(|i| i.ready)
        {
            let mut last = i64::MIN;
            let mut via_index = 0;
            for d in snap
                .index_scan("c", "docs", "by_v", None, None, false)
                .expect("index")
            {
                let d = d.expect("doc");
                let v = d.get_i64("v").expect("v");
                assert!(v >= last, "round {round}: index out of order");
                assert_eq!(
                    on_disk.get(&d.get_i64("_id").expect("id")),
                    Some(&v),
                    "round {round}: index entry disagrees"
                );
                last = v;
                via_index += 1;
            }
            assert_eq!(
                via_index,
                on_disk.len(),
                "round {round}: index holds every document once"
            );
        }
        drop(snap);
        db.close().expect("close");
    }
    eprintln!(
        "{rounds} crash rounds, {acked_total} acknowledged writes checked in {:?}",
        started.elapsed()
    );
    assert!(acked_total > rounds, "the child made progress");
}
