//! Encrypted backups through the real binaries: with `backup.encryption_key_file`, nothing
//! the store holds (chunks, archived log) is readable without the key; a restore with the key
//! brings everything back, and one without it, or with another key, is refused naming why.

use std::path::Path;
use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::restore::{config_file, ids_served_from, refused, restore, text};
use crate::common::{Clients, Grpc, Server, ServerOptions};

const MARKER: &str = "a-secret-nobody-outside-may-read";

fn yaml(bucket: &Path, key: Option<&Path>) -> String {
    let mut y = format!(
        "backup:\n  store: file://{}/store\n  archive:\n    timeout_seconds: 1\n",
        bucket.display()
    );
    if let Some(k) = key {
        y.push_str(&format!("  encryption_key_file: {}\n", k.display()));
    }
    y
}

fn key_file(dir: &Path, name: &str, byte: u8) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", hex::encode([byte; 32]))).expect("key file");
    path
}

async fn archived_through(c: &mut Clients, seq: u64) {
    for _ in 0..300 {
        let s = c
            .backups
            .status(v1::BackupStatusRequest {})
            .await
            .expect("status")
            .into_inner();
        if s.archived_seq >= seq {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the archive did not reach batch {seq}");
}

/// Every object in the store except manifests.
fn stored_objects(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("list") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n != "MANIFEST.json") {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_backups_restore_only_with_their_key() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let key = key_file(bucket.path(), "key", 7);
    let server = Server::start(ServerOptions::default().config(&yaml(bucket.path(), Some(&key))));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    let docs = |from: i64| {
        (from..from + 50)
            .map(|i| doc! {"_id": i, "s": MARKER})
            .collect()
    };
    c.insert("app", "items", docs(0)).await;
    c.backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("backup");
    c.insert("app", "items", docs(50)).await;
    let seq = c
        .server
        .stats(v1::StatsRequest {})
        .await
        .expect("stats")
        .into_inner()
        .visible_seq;
    archived_through(&mut c, seq).await;

    let objects = stored_objects(&bucket.path().join("store"));
    assert!(
        objects
            .iter()
            .any(|p| p.to_string_lossy().contains("/wal/"))
            && objects
                .iter()
                .any(|p| p.to_string_lossy().contains("/base/")),
        "chunks and slices: {objects:?}"
    );
    for p in &objects {
        let bytes = std::fs::read(p).expect("read");
        assert!(
            bytes.starts_with(b"SHNYENC1"),
            "{} is not sealed",
            p.display()
        );
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "{} holds the plaintext",
            p.display()
        );
        assert!(
            zstd::stream::decode_all(&bytes[..]).is_err(),
            "{} decompresses without the key",
            p.display()
        );
    }

    let target = tempfile::tempdir().expect("tempdir");
    let with_key = config_file(bucket.path(), &yaml(bucket.path(), Some(&key)));
    let out = restore(&with_key, &target.path().join("data"), &["--latest"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        ids_served_from(target, &server).await,
        (0..100).collect::<Vec<_>>()
    );

    for (config, why) in [
        (yaml(bucket.path(), None), "set backup.encryption_key_file"),
        (
            yaml(bucket.path(), Some(&key_file(bucket.path(), "other", 8))),
            "the configured key is",
        ),
    ] {
        let err = refused(bucket.path(), &config, &["--latest"]);
        assert!(
            err.contains("cannot be decrypted") && err.contains(why),
            "{err}"
        );
    }
}
