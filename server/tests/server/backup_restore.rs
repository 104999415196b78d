//! Base backups and restores through the real binaries: `Backups/Create` on a running server,
//! `shinydb-server restore` into a new directory, then a server on the restored data. Stores:
//! a local directory (`file://`) and a real S3-compatible server (moto's).

use shinydb_proto::v1;
use tonic::Code;

use crate::common::restore::{config_file, ids_served_from, refused, restore, text};
use crate::common::{Clients, Grpc, S3Server, Server, ServerOptions, iid, sample};

/// 100 documents in `app.items`, then a backup; returns its summary.
async fn fill_and_back_up(c: &mut Clients) -> v1::BackupSummary {
    c.create_store("app", "items").await;
    c.insert("app", "items", (0..100).map(sample).collect())
        .await;
    c.backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("backup")
        .into_inner()
}

/// Writes after the backup that a restore must not bring back.
async fn change_after_backup(c: &mut Clients) {
    c.insert("app", "items", (100..150).map(sample).collect())
        .await;
    c.docs
        .delete(v1::DeleteRequest {
            space: "app".into(),
            store: "items".into(),
            id: Some(iid(5)),
        })
        .await
        .expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_brings_back_exactly_the_backed_up_state() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let yaml = format!(
        "backup:\n  store: file://{}/backups\n",
        bucket.path().display()
    );
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    let backup = fill_and_back_up(&mut c).await;
    assert_eq!(backup.state, "complete");
    assert!(
        backup.seq > 0 && backup.raw_bytes > 0 && backup.stored_bytes > 0,
        "{backup:?}"
    );
    change_after_backup(&mut c).await;
    let listed = c
        .backups
        .list(v1::ListBackupsRequest {})
        .await
        .expect("list")
        .into_inner()
        .backups;
    assert_eq!(listed, vec![backup.clone()]);

    let target = tempfile::tempdir().expect("tempdir");
    let config = config_file(bucket.path(), &yaml);
    let out = restore(
        &config,
        &target.path().join("data"),
        &["--backup", &backup.id],
        &[],
    );
    assert!(
        out.status.success(),
        "restore failed: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(&backup.id),
        "{}",
        text(&out.stdout)
    );

    // A second restore into the now filled directory is refused and changes nothing.
    let again = restore(
        &config,
        &target.path().join("data"),
        &["--backup", &backup.id],
        &[],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("is not empty"),
        "{}",
        text(&again.stderr)
    );

    let ids = ids_served_from(target, &server).await;
    assert_eq!(
        ids,
        (0..100).collect::<Vec<_>>(),
        "the state at the backup, nothing after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_chunk_fails_the_restore_naming_it_and_writes_nothing() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let yaml = format!("backup:\n  store: file://{}\n", bucket.path().display());
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    let backup = fill_and_back_up(&mut c).await;
    let chunk = bucket
        .path()
        .join("base")
        .join(&backup.id)
        .join("data.db.0.zst");
    let mut bytes = std::fs::read(&chunk).expect("the data file's first chunk");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&chunk, bytes).expect("overwrite the chunk");

    let target = tempfile::tempdir().expect("tempdir");
    let data = target.path().join("data");
    let out = restore(
        &config_file(bucket.path(), &yaml),
        &data,
        &["--backup", &backup.id],
        &[],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is corrupt") && err.contains("data.db.0.zst"),
        "{err}"
    );
    assert!(!data.exists(), "a failed restore wrote {}", data.display());
    let leftovers: Vec<_> = std::fs::read_dir(target.path()).expect("list").collect();
    assert!(leftovers.is_empty(), "a failed restore left {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_go_to_a_real_s3_server_and_come_back() {
    let s3 = S3Server::start();
    s3.create_bucket("shiny");
    let yaml = format!(
        "backup:\n  store: s3://shiny/prod/db\n  endpoint: {}\n  allow_http: true\n  \
         path_style: true\n  chunk_size: 1MiB\n",
        s3.endpoint()
    );
    let creds = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let mut opts = ServerOptions::default().config(&yaml);
    opts.env = creds
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let server = Server::start(opts);
    let mut c = server.admin().await;
    let backup = fill_and_back_up(&mut c).await;
    assert_eq!(backup.state, "complete");
    change_after_backup(&mut c).await;

    let work = tempfile::tempdir().expect("tempdir");
    let target = tempfile::tempdir().expect("tempdir");
    let out = restore(
        &config_file(work.path(), &yaml),
        &target.path().join("data"),
        &["--backup", &backup.id, "--parallel", "8"],
        &creds,
    );
    assert!(
        out.status.success(),
        "restore failed: {}",
        text(&out.stderr)
    );
    let ids = ids_served_from(target, &server).await;
    assert_eq!(ids, (0..100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_a_clear_error_and_the_server_keeps_serving() {
    let s3 = S3Server::start();
    let yaml = format!(
        "backup:\n  store: s3://no-such-bucket/x\n  endpoint: {}\n  allow_http: true\n  \
         path_style: true\n",
        s3.endpoint()
    );
    let mut opts = ServerOptions::default().config(&yaml);
    opts.env = vec![
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
    ];
    let server = Server::start(opts);
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    let e = c
        .backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect_err("no bucket");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
    assert!(
        e.message().contains("s3://no-such-bucket/x") && e.message().contains("not found"),
        "{e}"
    );
    let ids = c.insert("app", "items", vec![sample(1)]).await;
    assert_eq!(ids.len(), 1, "the server still serves writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_disagrees_with_its_manifests_counts_is_refused() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let yaml = format!("backup:\n  store: file://{}\n", bucket.path().display());
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    let backup = fill_and_back_up(&mut c).await;
    let path = bucket
        .path()
        .join("base")
        .join(&backup.id)
        .join("MANIFEST.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("json");
    let stores = manifest["stores"].as_array_mut().expect("per-store counts");
    let items = stores
        .iter_mut()
        .find(|s| s["store"] == "items")
        .expect("app.items is counted");
    assert_eq!(items["documents"], 100);
    items["documents"] = 101.into();
    std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("write");

    let err = refused(bucket.path(), &yaml, &["--backup", &backup.id]);
    assert!(
        err.contains("app.items: 100") && err.contains("app.items: 101"),
        "{err}"
    );
}
