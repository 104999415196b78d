//! A backup's life after it is written: a running backup is named by its tag; a backup cut
//! short by `kill -9` stays incomplete (no manifest), is never restored and is swept by the
//! next backup's retention pass (in a directory store, with the staging file of a chunk
//! upload it cut short); retention keeps the newest `min_backups`, listed with their stores'
//! document counts; `Verify` checks every chunk (and deep, opens a rebuilt copy) and names a
//! corrupt one; `Delete` removes a backup's objects.

use std::{path::Path, time::Duration};

use bson::doc;
use shinydb_proto::v1;
use tonic::Code;

use crate::common::{Clients, Grpc, Server, ServerOptions, bulky, eventually};

async fn backup(c: &mut Clients) -> v1::BackupSummary {
    c.backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("backup")
        .into_inner()
}

async fn list(c: &mut Clients) -> Vec<v1::BackupSummary> {
    c.backups
        .list(v1::ListBackupsRequest {})
        .await
        .expect("list")
        .into_inner()
        .backups
}

/// The objects under `base/<id>/` in a `file://` store.
fn objects(bucket: &Path, id: &str) -> Vec<String> {
    match std::fs::read_dir(bucket.join("base").join(id)) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_midway_is_incomplete_and_swept_by_the_next() {
    let bucket = tempfile::tempdir().expect("tempdir");
    // Slow on purpose: 1 MiB chunks uploaded at 1 MiB/s, so ~12 MiB take over ten seconds.
    let yaml = format!(
        "backup:\n  store: file://{}\n  chunk_size: 1MiB\n  parallelism: 1\n  \
         max_upload_rate: 1MiB\n  retention:\n    sweep_incomplete_after_seconds: 0\n",
        bucket.path().display()
    );
    let mut server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    c.create_store("app", "blobs").await;
    for batch in bulky(24, 512).chunks(4) {
        c.insert("app", "blobs", batch.to_vec()).await;
    }
    let mut running = c.backups.clone();
    let attempt = tokio::spawn(async move {
        running
            .create(v1::CreateBackupRequest {
                tag: "cut-short".into(),
            })
            .await
    });
    let base = bucket.path().join("base");
    let mut id = String::new();
    eventually(Duration::from_secs(60), "the backup's first chunk", || {
        let Ok(mut dirs) = std::fs::read_dir(&base) else {
            return false;
        };
        let Some(Ok(dir)) = dirs.next() else {
            return false;
        };
        id = dir.file_name().to_string_lossy().into_owned();
        objects(bucket.path(), &id)
            .iter()
            .any(|o| o.ends_with(".zst"))
    });
    // While it runs, the server names it by its tag.
    let status = c
        .backups
        .status(v1::BackupStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert!(status.backup_running, "{status:?}");
    assert_eq!(status.backup_tag, "cut-short", "{status:?}");
    server.kill();
    assert!(
        attempt.await.expect("task").is_err(),
        "the killed backup answered"
    );
    assert!(
        !objects(bucket.path(), &id).contains(&"MANIFEST.json".to_string()),
        "a killed backup has a manifest"
    );

    server.restart();
    let mut c = server.admin().await;
    let listed = list(&mut c).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].id.as_str(), listed[0].state.as_str()),
        (id.as_str(), "incomplete")
    );
    let restored = c
        .backups
        .verify(v1::VerifyBackupRequest {
            id: id.clone(),
            deep: false,
        })
        .await
        .expect_err("an incomplete backup cannot be verified");
    assert_eq!(restored.code(), Code::NotFound, "{restored}");

    let next = backup(&mut c).await;
    assert_eq!(next.state, "complete");
    let listed = list(&mut c).await;
    assert_eq!(
        listed,
        vec![next],
        "the interrupted backup was swept; log:\n{}",
        server.log()
    );
    assert!(
        objects(bucket.path(), &id).is_empty(),
        "its chunks are gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_upload_cut_short_in_a_directory_store_is_swept_too() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let yaml = format!(
        "backup:\n  store: file://{}\n  retention:\n    sweep_incomplete_after_seconds: 0\n",
        bucket.path().display()
    );
    // What a server killed while writing a chunk leaves: the store's staging file of the
    // upload (`<object>#<n>`), which its listing hides, beside a chunk that was written.
    let cut = bucket.path().join("base").join("20261203T120000000Z-7");
    std::fs::create_dir_all(&cut).expect("mkdir");
    std::fs::write(cut.join("data.db.0.zst"), b"chunk").expect("chunk");
    std::fs::write(cut.join("data.db.1.zst#1"), b"half a chunk").expect("staging file");
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    let listed = list(&mut c).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].state, "incomplete");

    let next = backup(&mut c).await;
    assert_eq!(list(&mut c).await, vec![next], "the cut backup was swept");
    assert!(!cut.exists(), "its directory is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_newest_min_backups_past_the_window() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let yaml = format!(
        "backup:\n  store: file://{}\n  retention:\n    recovery_window_seconds: 1\n    \
         min_backups: 2\n",
        bucket.path().display()
    );
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    let mut made = Vec::new();
    for i in 0..3 {
        c.insert("app", "items", vec![doc! {"_id": i}]).await;
        made.push(backup(&mut c).await);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let listed = list(&mut c).await;
    let ids: Vec<String> = listed.iter().map(|b| b.id.clone()).collect();
    assert_eq!(
        ids,
        vec![made[2].id.clone(), made[1].id.clone()],
        "the newest two stay"
    );
    // Each listed with its stores' document counts, from its manifest.
    let counts: Vec<Vec<(String, String, u64)>> = listed
        .iter()
        .map(|b| {
            b.stores
                .iter()
                .filter(|s| s.space == "app")
                .map(|s| (s.space.clone(), s.store.clone(), s.documents))
                .collect()
        })
        .collect();
    let items = |n| vec![("app".to_string(), "items".to_string(), n)];
    assert_eq!(counts, vec![items(3), items(2)]);
    assert!(
        objects(bucket.path(), &made[0].id).is_empty(),
        "the oldest is deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_every_chunk_and_delete_removes_the_backup() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let yaml = format!("backup:\n  store: file://{}\n", bucket.path().display());
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    c.insert(
        "app",
        "items",
        (0..50).map(|i| doc! {"_id": i, "n": i}).collect(),
    )
    .await;
    let b = backup(&mut c).await;
    for deep in [false, true] {
        let v = c
            .backups
            .verify(v1::VerifyBackupRequest {
                id: b.id.clone(),
                deep,
            })
            .await
            .expect("verify")
            .into_inner();
        assert!(v.chunks > 0 && v.raw_bytes == b.raw_bytes, "{v:?}");
        assert_eq!(v.opened, deep);
    }
    let chunk = bucket.path().join("base").join(&b.id).join("data.db.0.zst");
    let mut bytes = std::fs::read(&chunk).expect("chunk");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&chunk, bytes).expect("overwrite");
    let e = c
        .backups
        .verify(v1::VerifyBackupRequest {
            id: b.id.clone(),
            deep: false,
        })
        .await
        .expect_err("a corrupt chunk");
    assert_eq!(e.code(), Code::DataLoss, "{e}");
    assert!(e.message().contains("data.db.0.zst"), "{e}");

    let deleted = c
        .backups
        .delete(v1::DeleteBackupRequest { id: b.id.clone() })
        .await
        .expect("delete")
        .into_inner();
    assert!(deleted.objects >= 2, "{deleted:?}");
    assert!(list(&mut c).await.is_empty());
    assert!(objects(bucket.path(), &b.id).is_empty());
    let e = c
        .backups
        .delete(v1::DeleteBackupRequest {
            id: "../etc".into(),
        })
        .await
        .expect_err("not an id");
    assert_eq!(e.code(), Code::NotFound, "{e}");
}
