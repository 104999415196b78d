//! What a Kubernetes restore Job relies on, through the real binaries: the data directory is
//! an existing volume (a mount point, with the file system's `lost+found`), so the copy is
//! built inside it; `--report` leaves the outcome as JSON (the Job's termination message);
//! `--lineage` keeps the restore to one instance's history.

use std::path::Path;

use shinydb_proto::v1;

use crate::common::restore::{config_file, ids_served_from, restore, status, text};
use crate::common::{Grpc, Server, ServerOptions, sample};

/// A `file://` store under `bucket`, archiving.
fn yaml(bucket: &Path) -> String {
    format!(
        "backup:\n  store: file://{}/store\n  archive:\n    timeout_seconds: 1\n",
        bucket.display()
    )
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("the report")).expect("JSON")
}

/// A server with 100 documents in `app.items` and one backup of them.
async fn backed_up(bucket: &Path) -> (Server, v1::BackupSummary, String) {
    let server = Server::start(ServerOptions::default().config(&yaml(bucket)));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", (0..100).map(sample).collect())
        .await;
    let backup = c
        .backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("backup")
        .into_inner();
    let lineage = status(&mut c).await.lineage;
    (server, backup, lineage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_fills_an_empty_volume_and_reports_what_it_restored() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let (server, backup, lineage) = backed_up(bucket.path()).await;
    let target = tempfile::tempdir().expect("tempdir");
    let volume = target.path().join("data");
    std::fs::create_dir_all(volume.join("lost+found")).expect("mkdir");
    let report_file = target.path().join("report.json");

    let out = restore(
        &config_file(bucket.path(), &yaml(bucket.path())),
        &volume,
        &[
            "--latest",
            "--lineage",
            &lineage,
            "--report",
            &report_file.display().to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = report(&report_file);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["id"], backup.id.as_str(), "{r}");
    assert!(r["seq"].as_u64() >= Some(backup.seq), "{r}");
    let new_lineage = r["lineage"].as_str().expect("a lineage");
    assert!(new_lineage.len() == 16 && new_lineage != lineage, "{r}");
    assert!(
        !entries(&volume)
            .iter()
            .any(|e| e.starts_with(".staging") || e.starts_with(".replaced") || e == ".swap"),
        "the volume keeps no staging: {:?}",
        entries(&volume)
    );
    assert!(entries(&volume).contains(&"lost+found".to_string()));
    assert_eq!(
        ids_served_from(target, &server).await,
        (0..100).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_reports_its_reason_and_leaves_the_volume_as_it_was() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let (_server, backup, _) = backed_up(bucket.path()).await;
    let chunk = bucket
        .path()
        .join("store/base")
        .join(&backup.id)
        .join("data.db.0.zst");
    let mut bytes = std::fs::read(&chunk).expect("the data file's first chunk");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&chunk, bytes).expect("overwrite the chunk");

    let target = tempfile::tempdir().expect("tempdir");
    let volume = target.path().join("data");
    std::fs::create_dir_all(&volume).expect("mkdir");
    std::fs::write(volume.join("old-data"), "kept").expect("write");
    let report_file = target.path().join("report.json");
    let out = restore(
        &config_file(bucket.path(), &yaml(bucket.path())),
        &volume,
        &[
            "--latest",
            "--replace",
            "--report",
            &report_file.display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let r = report(&report_file);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["reason"], "ChecksumMismatch", "{r}");
    assert!(
        r["message"]
            .as_str()
            .is_some_and(|m| m.contains("data.db.0.zst")),
        "{r}"
    );
    assert_eq!(entries(&volume), ["old-data"], "the volume is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_another_lineage_finds_no_backup_and_says_which() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let (_server, _backup, _) = backed_up(bucket.path()).await;
    let target = tempfile::tempdir().expect("tempdir");
    let report_file = target.path().join("report.json");
    let out = restore(
        &config_file(bucket.path(), &yaml(bucket.path())),
        &target.path().join("data"),
        &[
            "--latest",
            "--lineage",
            "0000000000000000",
            "--report",
            &report_file.display().to_string(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let r = report(&report_file);
    assert_eq!(r["reason"], "NoBackup", "{r}");
    assert!(
        text(&out.stderr).contains("no complete backup of lineage 0000000000000000 at all"),
        "{}",
        text(&out.stderr)
    );
}
