//! Running `shinydb-server restore` and serving what it restored.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Arc,
};

use shinydb_proto::v1;

use super::{Clients, Grpc, Server, ServerOptions, all_ids, bin, write_file};

/// `shinydb-server restore --config CONFIG --data-dir DIR ARGS...`.
pub fn restore(config: &Path, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("restore")
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("SHINYDB_LOG_LEVEL", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run shinydb-server restore")
}

/// Lossy UTF-8, for a process's output.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Starts a server on `dir/data` and returns the ids in `app.items`.
pub async fn ids_served_from(dir: tempfile::TempDir, like: &Server) -> Vec<i64> {
    let server = Server::start_in(
        Arc::new(dir),
        like.ca.clone(),
        None,
        ServerOptions::default(),
    );
    let mut c = server.admin().await;
    all_ids(&mut c, "app", "items").await
}

/// Writes `yaml` as `dir/restore.yaml` and returns its path.
pub fn config_file(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("restore.yaml");
    write_file(&path, yaml);
    path
}

/// Runs a restore with the configuration `yaml` (written under `dir`) that must be refused;
/// checks it exits 1 and writes nothing, and returns its message.
pub fn refused(dir: &Path, yaml: &str, args: &[&str]) -> String {
    let target = tempfile::tempdir().expect("tempdir");
    let data = target.path().join("data");
    let out = restore(&config_file(dir, yaml), &data, args, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "restore {args:?}: {err}");
    assert!(!data.exists(), "a refused restore wrote {}", data.display());
    let leftovers: Vec<_> = std::fs::read_dir(target.path()).expect("list").collect();
    assert!(leftovers.is_empty(), "a refused restore left {leftovers:?}");
    err
}

/// The server's newest visible batch.
pub async fn visible_seq(c: &mut Clients) -> u64 {
    c.server
        .stats(v1::StatsRequest {})
        .await
        .expect("stats")
        .into_inner()
        .visible_seq
}

/// The server's backup and archive status.
pub async fn status(c: &mut Clients) -> v1::BackupStatusResponse {
    c.backups
        .status(v1::BackupStatusRequest {})
        .await
        .expect("backup status")
        .into_inner()
}
