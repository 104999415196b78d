//! `backup.max_upload_rate` paces a base backup: its stored bytes leave the server no faster
//! than the rate (after a first second's burst), and the backup still completes.

use std::time::Instant;

use shinydb_proto::v1;

use crate::common::{Grpc, Server, ServerOptions, bulky};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_backup_uploads_no_faster_than_the_rate() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let rate: u64 = 1 << 20;
    let yaml = format!(
        "backup:\n  store: file://{}\n  chunk_size: 1MiB\n  max_upload_rate: 1MiB\n",
        bucket.path().display()
    );
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    c.create_store("app", "blobs").await;
    for batch in bulky(8, 512).chunks(4) {
        c.insert("app", "blobs", batch.to_vec()).await;
    }
    let start = Instant::now();
    let summary = c
        .backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("a paced backup completes")
        .into_inner();
    let took = start.elapsed().as_secs_f64();
    assert_eq!(summary.state, "complete");
    assert!(summary.stored_bytes > 3 * rate, "{summary:?}");
    // A second's worth passes at once; the rest at the rate.
    let least = (summary.stored_bytes - rate) as f64 / rate as f64;
    assert!(
        took >= least * 0.95,
        "{} stored bytes at 1 MiB/s took {took:.2} s, under {least:.2} s",
        summary.stored_bytes
    );
}
