//! Seeding a follower: the leader streams a consistent copy of its files
//! ([`shinydb_engine::Db::backup_source`]) with a SHA-256 per chunk; the follower writes it
//! into a staging directory beside its data directory, checks every chunk and every file's
//! length, opens the copy once, and swaps it into place before its engine opens. A failure
//! before the swap leaves the data directory as it was.

use std::{
    fs::{self, File},
    os::unix::fs::FileExt,
    path::Path,
    sync::Arc,
    time::Instant,
};

use sha2::{Digest, Sha256};
use shinydb_engine::{Db, Options};
use shinydb_proto::v1::{
    SnapshotChunk, SnapshotData, SnapshotFile, SnapshotHeader, SnapshotRequest,
    replication_client::ReplicationClient, snapshot_chunk,
};
use tokio::sync::mpsc;
use tonic::Status;
use tracing::info;

use super::{
    Replication, ReplicationError,
    follower::{self, ROLLBACK_DIR, SEED_MARKER},
    role_file,
};
use crate::{backup::LINEAGE_FILE, config::Config, staging::Staging};

/// Raw bytes per snapshot chunk.
const CHUNK_BYTES: usize = 1 << 20;

/// Streams a snapshot of the leader's data into `tx` (the leader's side of
/// `Replication.Snapshot`).
pub async fn serve(
    r: Arc<Replication>,
    tx: mpsc::Sender<Result<SnapshotChunk, Status>>,
) -> Result<(), Status> {
    let db = Arc::clone(r.db());
    let source = crate::state::blocking_engine(move || db.backup_source())
        .await
        .map_err(crate::error::engine_status)?;
    let epoch = r.epoch().map_err(|e| e.status())?;
    let header = SnapshotHeader {
        seq: source.seq(),
        lineage: r.lineage().to_string(),
        epoch,
        files: source
            .files()
            .iter()
            .map(|f| SnapshotFile {
                name: f.name().to_string(),
                len: f.len(),
            })
            .collect(),
    };
    info!(
        seq = header.seq,
        bytes = source.total_bytes(),
        "serving a seeding snapshot"
    );
    if tx
        .send(Ok(SnapshotChunk {
            kind: Some(snapshot_chunk::Kind::Header(header)),
        }))
        .await
        .is_err()
    {
        return Ok(());
    }
    let source = Arc::new(source);
    for index in 0..source.files().len() {
        let len = source
            .files()
            .get(index)
            .map_or(0, shinydb_engine::BackupFile::len);
        let mut offset = 0u64;
        while offset < len {
            let src = Arc::clone(&source);
            let want =
                usize::try_from((len - offset).min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
            let data = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; want];
                let file = src
                    .files()
                    .get(index)
                    .ok_or_else(|| shinydb_engine::Error::Internal("no such file".into()))?;
                let mut done = 0;
                while done < want {
                    let n = src.read_at(
                        file,
                        offset + done as u64,
                        buf.get_mut(done..).unwrap_or_default(),
                    )?;
                    if n == 0 {
                        return Err(shinydb_engine::Error::Internal(format!(
                            "{} ended at {} of {} bytes",
                            file.name(),
                            offset + done as u64,
                            file.len()
                        )));
                    }
                    done += n;
                }
                Ok(buf)
            })
            .await
            .map_err(|e| Status::internal(format!("a snapshot task failed: {e}")))?
            .map_err(crate::error::engine_status)?;
            let sha = Sha256::digest(&data).to_vec();
            let chunk = SnapshotChunk {
                kind: Some(snapshot_chunk::Kind::Data(SnapshotData {
                    file: u32::try_from(index).unwrap_or(u32::MAX),
                    offset,
                    sha256: sha.into(),
                    data: data.into(),
                })),
            };
            offset += want as u64;
            if tx.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// What a seed brought.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The copy holds exactly the batches up to this one.
    pub seq: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// Seeds `cfg.data_dir` from `cfg.replication.leader` (a follower whose directory holds no
/// data yet, or that was marked for seeding).
pub async fn seed(cfg: &Config) -> Result<Seeded, ReplicationError> {
    let started = Instant::now();
    let leader = cfg.replication.leader.clone().unwrap_or_default();
    let channel = follower::connect(&cfg.replication, &cfg.tls, &leader).await?;
    let bearer = follower::bearer(&cfg.replication)?;
    let mut req = tonic::Request::new(SnapshotRequest {});
    follower::authorize(&mut req, bearer.as_deref());
    let refused = |status: Status| ReplicationError::Leader {
        endpoint: leader.clone(),
        status,
    };
    let mut chunks = ReplicationClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .snapshot(req)
        .await
        .map_err(refused)?
        .into_inner();
    let bad = |m: String| ReplicationError::BadSnapshot(m);
    let Some(SnapshotChunk {
        kind: Some(snapshot_chunk::Kind::Header(header)),
    }) = chunks.message().await.map_err(refused)?
    else {
        return Err(bad("it does not start with its header".into()));
    };
    let dir = &cfg.data_dir;
    let staged = Staging::new(dir, "seed")?;
    let staging = staged.path().to_path_buf();
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| ReplicationError::File { what, path, source }
    };
    let result = async {
        let mut files = Vec::new();
        for f in &header.files {
            if f.name.contains('/') || f.name.starts_with('.') {
                return Err(bad(format!("it names a file {:?}", f.name)));
            }
            let path = staging.join(&f.name);
            let file = File::create(&path).map_err(io("creating", &path))?;
            files.push((file, path, f.len, 0u64));
        }
        let mut bytes = 0u64;
        while let Some(chunk) = chunks.message().await.map_err(refused)? {
            let Some(snapshot_chunk::Kind::Data(d)) = chunk.kind else {
                return Err(bad("a second header".into()));
            };
            if Sha256::digest(&d.data).as_slice() != d.sha256.as_ref() {
                return Err(bad(format!(
                    "a chunk of file {} at offset {} does not match its SHA-256",
                    d.file, d.offset
                )));
            }
            let Some((file, path, len, got)) =
                files.get_mut(usize::try_from(d.file).unwrap_or(usize::MAX))
            else {
                return Err(bad(format!(
                    "a chunk names file {}, which it does not hold",
                    d.file
                )));
            };
            if d.offset + d.data.len() as u64 > *len {
                return Err(bad(format!(
                    "a chunk runs past the end of {}",
                    path.display()
                )));
            }
            file.write_all_at(&d.data, d.offset)
                .map_err(io("writing", path))?;
            *got += d.data.len() as u64;
            bytes += d.data.len() as u64;
        }
        for (file, path, len, got) in &files {
            if got != len {
                return Err(bad(format!(
                    "{} has {got} of its {len} bytes: the stream ended early",
                    path.display()
                )));
            }
            file.sync_all().map_err(io("syncing", path))?;
        }
        let lineage = staging.join(LINEAGE_FILE);
        fs::write(&lineage, format!("{}\n", header.lineage)).map_err(io("writing", &lineage))?;
        let check = staging.clone();
        let want = header.seq;
        let opened = crate::state::blocking_engine(move || {
            let db = Db::open(
                &check,
                Options {
                    read_only: true,
                    drop_unfinished_indexes: false,
                    ..Options::default()
                },
            )?;
            let seq = db.last_seq();
            db.close()?;
            Ok(seq)
        })
        .await?;
        if opened != want {
            return Err(bad(format!(
                "the copy opens at batch {opened}, not at the snapshot's {want}"
            )));
        }
        // Diverged tails set aside earlier and a role given at run time stay with the data
        // (moved only now: a failed seed removes the staging directory).
        let rollback = dir.join(ROLLBACK_DIR);
        if rollback.is_dir() {
            let to = staging.join(ROLLBACK_DIR);
            fs::rename(&rollback, &to).map_err(io("keeping", &rollback))?;
        }
        let role = dir.join(role_file::ROLE_FILE);
        if role.is_file() {
            fs::copy(&role, staging.join(role_file::ROLE_FILE)).map_err(io("keeping", &role))?;
        }
        Ok(bytes)
    }
    .await;
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            staged.discard();
            return Err(e);
        }
    };
    staged.swap()?;
    let _ = fs::remove_file(dir.join(SEED_MARKER));
    let seeded = Seeded {
        seq: header.seq,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    info!(
        leader,
        seq = seeded.seq,
        bytes,
        seconds = seeded.seconds,
        mb_per_second = bytes as f64 / 1e6 / seeded.seconds.max(1e-9),
        "seeded from the leader"
    );
    Ok(seeded)
}
