//! Point-in-time recovery through the real binaries: a server archives its log to the store,
//! and `shinydb-server restore --target-time / --target-seq / --latest` brings back exactly the
//! state at that moment, from the newest backup before it and the archive; targets the
//! archive cannot reach are refused naming why, with nothing written.

use std::{path::Path, time::Duration};

use shinydb_proto::v1;

use crate::common::restore::{config_file, ids_served_from, restore, status, text, visible_seq};
use crate::common::{Clients, Grpc, Server, ServerOptions, iid, sample};

/// A `file://` store under `bucket` whose archive takes at most a second.
fn yaml(bucket: &Path) -> String {
    format!(
        "backup:\n  store: file://{}/store\n  archive:\n    timeout_seconds: 1\n",
        bucket.display()
    )
}

fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

fn rfc3339(ms: i64) -> String {
    bson::DateTime::from_millis(ms)
        .try_to_rfc3339_string()
        .expect("a time")
}

/// Waits until the archive holds every batch up to `seq`.
async fn archived_through(c: &mut Clients, seq: u64) -> v1::BackupStatusResponse {
    for _ in 0..300 {
        let s = status(c).await;
        if s.archived_seq >= seq {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the archive did not reach batch {seq}: {:?}",
        status(c).await
    );
}

async fn back_up(c: &mut Clients) -> v1::BackupSummary {
    c.backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("backup")
        .into_inner()
}

async fn delete(c: &mut Clients, id: i64) {
    c.docs
        .delete(v1::DeleteRequest {
            space: "app".into(),
            store: "items".into(),
            id: Some(iid(id)),
        })
        .await
        .expect("delete");
}

/// The ids a server on a directory restored with `args` serves.
async fn restored_ids(bucket: &Path, server: &Server, args: &[&str]) -> Vec<i64> {
    let target = tempfile::tempdir().expect("tempdir");
    let out = restore(
        &config_file(bucket, &yaml(bucket)),
        &target.path().join("data"),
        args,
        &[],
    );
    assert!(
        out.status.success(),
        "restore {args:?} failed: {}",
        text(&out.stderr)
    );
    ids_served_from(target, server).await
}

/// A refused restore from the archive under `bucket`: its message.
fn refused(bucket: &Path, args: &[&str]) -> String {
    crate::common::restore::refused(bucket, &yaml(bucket), args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_reaches_any_moment_after_the_backup_by_time_by_batch_or_the_latest() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServerOptions::default().config(&yaml(bucket.path())));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", (0..100).map(sample).collect())
        .await;
    let backup = back_up(&mut c).await;
    c.insert("app", "items", (100..150).map(sample).collect())
        .await;
    // The moment to come back to: after the inserts, before what follows.
    let seq_at = visible_seq(&mut c).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let time_at = now_ms();
    tokio::time::sleep(Duration::from_millis(30)).await;
    delete(&mut c, 5).await;
    c.insert("app", "items", (150..200).map(sample).collect())
        .await;
    let last = visible_seq(&mut c).await;
    let st = archived_through(&mut c, last).await;
    assert!(st.archiving && st.lineage.len() == 16, "{st:?}");
    assert_eq!(st.backups, 1, "{st:?}");
    assert!(
        st.first_recoverable_ms <= time_at && st.last_recoverable_ms > time_at,
        "{st:?}"
    );

    let (code, metrics) = server.http_get("/metrics");
    assert_eq!(code, 200);
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert_eq!(value("shinydb_backups_completed_total"), 1.0);
    assert!(value("shinydb_archive_slices_total") >= 1.0);
    assert!(value("shinydb_archive_archived_seq") >= last as f64);
    assert!(value("shinydb_backup_last_success_timestamp_seconds") > 1.7e9);

    let at_moment: Vec<i64> = (0..150).collect();
    let time = rfc3339(time_at);
    assert_eq!(
        restored_ids(bucket.path(), &server, &["--target-time", &time]).await,
        at_moment,
        "restored to {time}"
    );
    assert_eq!(
        restored_ids(
            bucket.path(),
            &server,
            &["--target-seq", &seq_at.to_string()]
        )
        .await,
        at_moment,
        "restored to batch {seq_at}"
    );
    let latest: Vec<i64> = (0..200).filter(|&i| i != 5).collect();
    assert_eq!(
        restored_ids(bucket.path(), &server, &["--latest"]).await,
        latest
    );
    assert_eq!(
        restored_ids(bucket.path(), &server, &["--backup", &backup.id]).await,
        (0..100).collect::<Vec<_>>(),
        "--backup is the backup alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_directory_starts_a_new_lineage_and_archives_there() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServerOptions::default().config(&yaml(bucket.path())));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", (0..10).map(sample).collect())
        .await;
    back_up(&mut c).await;
    let parent = status(&mut c).await.lineage;

    let target = tempfile::tempdir().expect("tempdir");
    let out = restore(
        &config_file(bucket.path(), &yaml(bucket.path())),
        &target.path().join("data"),
        &["--latest"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let restored = Server::start_in(
        std::sync::Arc::new(target),
        server.ca.clone(),
        None,
        ServerOptions::default().config(&yaml(bucket.path())),
    );
    let mut r = restored.admin().await;
    r.insert("app", "items", vec![sample(10)]).await;
    let seq = visible_seq(&mut r).await;
    let st = archived_through(&mut r, seq).await;
    assert_ne!(
        st.lineage, parent,
        "the restored copy writes its own history"
    );
    assert!(
        text(&out.stdout).contains(&st.lineage),
        "{}",
        text(&out.stdout)
    );
    let own = bucket.path().join("store/wal").join(&st.lineage);
    assert!(
        std::fs::read_dir(&own).expect("its archive").count() > 0,
        "nothing archived under {}",
        own.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_before_the_first_backup_or_past_the_archive_are_refused() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServerOptions::default().config(&yaml(bucket.path())));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    let before = now_ms() - 60_000;
    c.insert("app", "items", vec![sample(1)]).await;
    let backup = back_up(&mut c).await;
    let seq = visible_seq(&mut c).await;
    let seq = archived_through(&mut c, seq).await.archived_seq;

    let err = refused(bucket.path(), &["--target-time", &rfc3339(before)]);
    assert!(
        err.contains("no complete backup before time")
            && err.contains("the first recoverability point is")
            && err.contains(&backup.id),
        "{err}"
    );
    let later = rfc3339(now_ms() + 3_600_000);
    let err = refused(bucket.path(), &["--target-time", &later]);
    assert!(
        err.contains("the archive ends at batch") && err.contains("--latest"),
        "{err}"
    );
    let err = refused(bucket.path(), &["--target-seq", &(seq + 1000).to_string()]);
    assert!(err.contains(&format!("ends at batch {seq}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_in_the_archive_is_refused_naming_the_missing_batches() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServerOptions::default().config(&yaml(bucket.path())));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    back_up(&mut c).await;
    // Three slices: each batch archived before the next is written.
    let mut ends = Vec::new();
    for i in 0..3 {
        c.insert("app", "items", vec![sample(i)]).await;
        let seq = visible_seq(&mut c).await;
        ends.push(archived_through(&mut c, seq).await.archived_seq);
    }
    let lineage = status(&mut c).await.lineage;
    let dir = bucket.path().join("store/wal").join(&lineage);
    let middle = std::fs::read_dir(&dir)
        .expect("the archive")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(&format!("{:020}-", ends[0] + 1))
        })
        .expect("the middle slice");
    std::fs::remove_file(&middle).expect("delete the middle slice");
    // `<first>-<last>.zst`
    let name = middle.file_name().and_then(|n| n.to_str()).expect("a name");
    let last: u64 = name[21..41].parse().expect("the slice's last batch");

    let err = refused(bucket.path(), &["--target-seq", &ends[2].to_string()]);
    assert!(
        err.contains(&format!("has no batches {} to {last}", ends[0] + 1)),
        "{err}"
    );
    // `--check` finds the same without writing anything, and reports what a restore up to
    // the gap would write.
    let scratch = tempfile::tempdir().expect("tempdir");
    let config = config_file(scratch.path(), &yaml(bucket.path()));
    let data = scratch.path().join("data");
    let report = scratch.path().join("report.json");
    let report_arg = report.to_str().expect("a UTF-8 path");
    let check = |seq: u64| {
        let seq = seq.to_string();
        let args = ["--check", "--report", report_arg, "--target-seq", &seq];
        let out = restore(&config, &data, &args, &[]);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).expect("a report")).expect("JSON");
        (out, json)
    };
    let (out, json) = check(ends[2]);
    assert!(!out.status.success());
    assert_eq!(json["reason"], "ArchiveGap", "{json}");
    let (out, json) = check(ends[0]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("restorable"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        json["ok"] == true && json["seq"] == ends[0] && json["replayed"].as_u64() >= Some(1),
        "{json}"
    );
    assert!(json["bytes"].as_u64().is_some_and(|b| b > 0), "{json}");
    assert!(!data.exists(), "a check wrote {}", data.display());
    // Up to the gap is still reachable.
    assert_eq!(
        restored_ids(
            bucket.path(),
            &server,
            &["--target-seq", &ends[0].to_string()]
        )
        .await,
        vec![0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_archives_every_committed_batch_first() {
    let bucket = tempfile::tempdir().expect("tempdir");
    // An hour's timeout: only the stop itself archives these batches.
    let slow = format!(
        "backup:\n  store: file://{}/store\n  archive:\n    timeout_seconds: 3600\n",
        bucket.path().display()
    );
    let mut server = Server::start(ServerOptions::default().config(&slow));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    back_up(&mut c).await;
    c.insert("app", "items", (0..20).map(sample).collect())
        .await;
    let seq = visible_seq(&mut c).await;
    assert!(status(&mut c).await.archived_seq < seq, "not archived yet");
    drop(c);
    server.signal(15);
    assert_eq!(
        server.wait(Duration::from_secs(30)),
        Some(0),
        "{}",
        server.log()
    );

    assert_eq!(
        restored_ids(bucket.path(), &server, &["--target-seq", &seq.to_string()]).await,
        (0..20).collect::<Vec<_>>()
    );
}

/// The `(first, last)` batches of every archived slice of `lineage`.
fn slices(bucket: &Path, lineage: &str) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = std::fs::read_dir(bucket.join("store/wal").join(lineage))
        .expect("the archive")
        .map(|e| {
            let name = e.expect("entry").file_name().into_string().expect("utf-8");
            (
                name[..20].parse().expect("first"),
                name[21..41].parse().expect("last"),
            )
        })
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_window_base_and_deletes_the_log_no_kept_backup_needs() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "{}  retention:\n    recovery_window_seconds: 1\n    min_backups: 1\n",
        yaml(bucket.path())
    );
    let server = Server::start(ServerOptions::default().config(&config));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    let mut made = Vec::new();
    for i in 0..3 {
        c.insert("app", "items", vec![sample(i)]).await;
        let seq = visible_seq(&mut c).await;
        archived_through(&mut c, seq).await;
        made.push(back_up(&mut c).await);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let listed: Vec<String> = c
        .backups
        .list(v1::ListBackupsRequest {})
        .await
        .expect("list")
        .into_inner()
        .backups
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(
        listed,
        vec![made[2].id.clone(), made[1].id.clone()],
        "the newest, and the newest before the window (the base for its start)"
    );
    let lineage = status(&mut c).await.lineage;
    let left = slices(bucket.path(), &lineage);
    assert!(
        left.iter().all(|&(_, last)| last > made[1].seq),
        "slices ending at or before batch {} stay: {left:?}",
        made[1].seq
    );
    assert!(
        left.first()
            .is_some_and(|&(first, _)| first <= made[1].seq + 1),
        "the log after the oldest kept backup stays: {left:?}"
    );
    // From the window's base, every later moment is still reachable.
    assert_eq!(
        restored_ids(bucket.path(), &server, &["--latest"]).await,
        vec![0, 1, 2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_down_past_the_cap_costs_a_recorded_gap_never_the_servers_disk() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let store = bucket.path().join("store");
    let config = format!(
        "storage:\n  memtable_size: 256KiB\n  wal_segment_size: 128KiB\n\
         backup:\n  store: file://{}\n  archive:\n    timeout_seconds: 1\n    \
         max_pending_bytes: 1MiB\n",
        store.display()
    );
    let server = Server::start(ServerOptions::default().config(&config));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    let seq = visible_seq(&mut c).await;
    let before = archived_through(&mut c, seq).await.archived_seq;

    // The store goes away: a regular file where its directory was fails every attempt.
    let moved = bucket.path().join("store.away");
    std::fs::rename(&store, &moved).expect("move the store away");
    std::fs::write(&store, "not a directory").expect("blocker");
    let mut st = status(&mut c).await;
    for _ in 0..100 {
        if st.archive_errors > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        st = status(&mut c).await;
    }
    assert!(st.archive_errors > 0, "the store is down: {st:?}");
    // 8 MB over a few seconds: the archiver lets the log go once it passes the cap, and the
    // checkpoints after that trim it.
    let pad = "x".repeat(4000);
    for batch in 0..40 {
        let docs = (0..50)
            .map(|i| bson::doc! {"_id": batch * 50 + i, "pad": &pad})
            .collect();
        c.insert("app", "items", docs).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wal_bytes: u64 = std::fs::read_dir(server.data_dir())
        .expect("data dir")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_name().to_string_lossy().starts_with("wal-"))
        .map(|e| e.metadata().expect("metadata").len())
        .sum();
    assert!(
        wal_bytes < 2 << 20,
        "8 MB written, yet the log kept for the archive stays near its 1 MiB cap: \
         {wal_bytes} bytes"
    );

    // The store comes back: archiving resumes after a recorded gap; the server never stopped.
    std::fs::remove_file(&store).expect("unblock");
    std::fs::rename(&moved, &store).expect("move the store back");
    c.insert("app", "items", vec![sample(5000)]).await;
    let seq = visible_seq(&mut c).await;
    let st = archived_through(&mut c, seq).await;
    assert_eq!(st.gaps.len(), 1, "{st:?}");
    assert_eq!(st.gaps[0].from, before + 1, "{st:?}");
    assert!(st.gaps[0].to < seq, "{st:?}");
    let (_, metrics) = server.http_get("/metrics");
    assert!(
        metrics.contains("shinydb_archive_gaps_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_not_yet_archived_survive_a_crash_and_reach_the_archive_after_it() {
    let bucket = tempfile::tempdir().expect("tempdir");
    // Small memtables, so checkpoints cover batches the archive does not hold yet; an hour's
    // timeout, so only the restart's archiver ships them.
    let slow = format!(
        "storage:\n  memtable_size: 256KiB\n  wal_segment_size: 128KiB\n\
         backup:\n  store: file://{}/store\n  archive:\n    timeout_seconds: 3600\n",
        bucket.path().display()
    );
    let mut server = Server::start(ServerOptions::default().config(&slow));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    back_up(&mut c).await;
    let pad = "x".repeat(4000);
    for batch in 0..10i64 {
        let docs = (0..50i64)
            .map(|i| bson::doc! {"_id": batch * 50 + i, "pad": &pad})
            .collect();
        c.insert("app", "items", docs).await;
    }
    let seq = visible_seq(&mut c).await;
    let st = status(&mut c).await;
    assert!(st.archived_seq < seq, "not archived yet: {st:?}");
    drop(c);
    server.restart(); // SIGKILL, then the same directory and options

    // The restarted server still holds every batch the archive lacks; its clean stop ships
    // them, and a restore reaches the last batch acknowledged before the crash.
    server.signal(15);
    assert_eq!(
        server.wait(Duration::from_secs(30)),
        Some(0),
        "{}",
        server.log()
    );
    let ids = restored_ids(bucket.path(), &server, &["--target-seq", &seq.to_string()]).await;
    assert_eq!(ids, (0..500).collect::<Vec<_>>());
}
