//! Taking a base backup: the engine's pinned copy, cut into chunks, compressed, hashed and
//! uploaded in parallel; the manifest last.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use shinydb_engine::{BackupSource, Db};
use tracing::{info, warn};

use super::{
    BackupError, Listing, Location, Progress, Verified,
    archive::{ArchiveStatus, Archiver},
    crypt::Sealer,
    manifest::{ChunkEntry, FORMAT, FileEntry, MANIFEST, Manifest, StoreEntry},
    pace::Pace,
    restore::verify,
    retention,
};
use crate::{auth::now_ms, config::BackupConfig, metrics::Metrics};

/// A base backup that runs: raw bytes read of bytes to read, and the tag it was asked with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    /// Raw bytes read.
    pub done: u64,
    /// Raw bytes to read.
    pub total: u64,
    /// Its tag.
    pub tag: String,
}

/// The server's backups: one base backup at a time, and the log's archiver, to the configured
/// store.
pub struct Backups {
    db: Arc<Db>,
    cfg: BackupConfig,
    lineage: String,
    running: tokio::sync::Mutex<()>,
    progress: Progress,
    /// The running backup's tag.
    running_tag: parking_lot::Mutex<String>,
    archiver: parking_lot::Mutex<Option<Archiver>>,
    metrics: Arc<Metrics>,
}

impl Backups {
    /// Backups of `db` (whose data directory has lineage `lineage`) as `cfg` configures them,
    /// counted in `metrics`; starts archiving the log when a store is set and
    /// `backup.archive.enabled`.
    pub fn new(db: Arc<Db>, cfg: BackupConfig, lineage: String, metrics: Arc<Metrics>) -> Backups {
        let b = Backups::standby(db, cfg, lineage, metrics);
        b.resume_archiving();
        b
    }

    /// Backups as [`Backups::new`] makes them, without archiving yet (a follower's: its log is
    /// its leader's, which the leader archives) until [`Backups::resume_archiving`].
    pub fn standby(
        db: Arc<Db>,
        cfg: BackupConfig,
        lineage: String,
        metrics: Arc<Metrics>,
    ) -> Backups {
        Backups {
            db,
            cfg,
            lineage,
            running: tokio::sync::Mutex::new(()),
            progress: Progress::default(),
            running_tag: parking_lot::Mutex::new(String::new()),
            archiver: parking_lot::Mutex::new(None),
            metrics,
        }
    }

    /// Starts archiving the log, when a store is set and `backup.archive.enabled`, unless it
    /// runs already (a follower promoted to leader).
    pub fn resume_archiving(&self) {
        if self.cfg.store.is_none() || !self.cfg.archive.enabled {
            return;
        }
        let mut a = self.archiver.lock();
        if a.is_none() {
            *a = Some(Archiver::start(
                Arc::clone(&self.db),
                self.cfg.clone(),
                self.lineage.clone(),
                Arc::clone(&self.metrics),
            ));
        }
    }

    /// The running base backup, if one runs.
    pub fn running(&self) -> Option<Running> {
        self.running.try_lock().is_err().then(|| {
            let (done, total) = self.progress.get();
            Running {
                done,
                total,
                tag: self.running_tag.lock().clone(),
            }
        })
    }

    /// The configured store's URL, if any.
    pub fn store(&self) -> Option<&str> {
        self.cfg.store.as_deref()
    }

    /// The newest visible batch.
    pub fn visible_seq(&self) -> u64 {
        self.db.last_seq()
    }

    /// What the archiver has done, if it runs.
    pub fn archive_status(&self) -> Option<ArchiveStatus> {
        self.archiver.lock().as_ref().map(Archiver::status)
    }

    /// Stops archiving when this server stops leading: archives what it can, then lets the
    /// log go (the new leader archives from where this one stopped).
    pub async fn stop_archiving(&self) {
        self.stop().await;
        super::archive::release_hold(&self.db);
    }

    /// Archives what is left of the log and stops the archiver (at shutdown).
    pub async fn stop(&self) {
        let archiver = self.archiver.lock().take();
        if let Some(a) = archiver {
            a.stop().await;
        }
    }

    /// The lineage new backups record: the archiver's (it starts a new one if it finds the
    /// archive ahead of the data directory).
    fn lineage(&self) -> String {
        self.archive_status()
            .map_or_else(|| self.lineage.clone(), |s| s.lineage)
    }

    /// Takes a base backup labelled `tag` now, then applies `backup.retention`;
    /// [`BackupError::Busy`] while another backup runs. A failed retention pass is logged:
    /// the backup stands.
    pub async fn create(&self, tag: String) -> Result<Manifest, BackupError> {
        let _running = self.running.try_lock().map_err(|_| BackupError::Busy)?;
        self.running_tag.lock().clone_from(&tag);
        let loc = Location::open(&self.cfg)?;
        let m = &self.metrics.backup;
        let manifest = match create(
            Arc::clone(&self.db),
            &loc,
            &self.cfg,
            self.lineage(),
            tag,
            &self.progress,
        )
        .await
        {
            Ok(manifest) => manifest,
            Err(e) => {
                m.failed.inc();
                return Err(e);
            }
        };
        m.completed.inc();
        m.last_success.set(manifest.ended_at_ms as f64 / 1000.0);
        m.last_duration
            .set((manifest.ended_at_ms - manifest.started_at_ms) as f64 / 1000.0);
        m.last_stored_bytes
            .set(i64::try_from(manifest.stored_bytes()).unwrap_or(i64::MAX));
        if let Err(e) = retention::apply(&loc, &self.cfg.retention, now_ms()).await {
            warn!(error = %e, store = loc.url(), "retention after a backup failed");
        }
        Ok(manifest)
    }

    /// Checks every chunk of backup `id`; `deep` also rebuilds and opens it beside the data
    /// directory (removed afterwards).
    pub async fn verify(&self, id: &str, deep: bool) -> Result<Verified, BackupError> {
        let loc = Location::open(&self.cfg)?;
        let scratch = deep.then(|| {
            let dir = self.db.dir();
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "data".into());
            dir.with_file_name(format!(".{name}.verify-{id}"))
        });
        let parallel = usize::try_from(self.cfg.parallelism).unwrap_or(1);
        verify(&loc, id, scratch.as_deref(), parallel).await
    }

    /// Deletes backup `id`; returns the objects deleted.
    pub async fn delete(&self, id: &str) -> Result<u64, BackupError> {
        let loc = Location::open(&self.cfg)?;
        match retention::delete(&loc, id).await? {
            0 => Err(BackupError::NoBackup {
                wanted: format!("with id {id}"),
                store: loc.url().into(),
            }),
            n => Ok(n),
        }
    }

    /// The backups in the store, newest first.
    pub async fn list(&self) -> Result<Vec<Listing>, BackupError> {
        Listing::all(&Location::open(&self.cfg)?).await
    }
}

/// One chunk to upload: `len` bytes of file `file` from `offset`.
struct Job {
    file: usize,
    index: u64,
    offset: u64,
    len: u64,
}

/// Takes a base backup of `db` (of lineage `lineage`) labelled `tag` into `loc`, counting the
/// raw bytes read in `progress`; returns its manifest once written.
pub async fn create(
    db: Arc<Db>,
    loc: &Location,
    cfg: &BackupConfig,
    lineage: String,
    tag: String,
    progress: &Progress,
) -> Result<Manifest, BackupError> {
    let started_at_ms = now_ms();
    let source = tokio::task::spawn_blocking(move || db.backup_source())
        .await
        .map_err(|e| BackupError::Store {
            store: loc.url().into(),
            detail: format!("the backup task failed: {e}"),
        })??;
    let pinned_at_ms = now_ms();
    let source = Arc::new(source);
    progress.start(source.total_bytes());
    let id = format!("{}-{}", utc_stamp(started_at_ms), source.seq());
    info!(
        id,
        seq = source.seq(),
        bytes = source.total_bytes(),
        store = loc.url(),
        "backup started"
    );

    let chunk = cfg.chunk_size.0.max(1);
    let jobs: Vec<Job> = source
        .files()
        .iter()
        .enumerate()
        .flat_map(|(file, f)| {
            let n = f.len().div_ceil(chunk).max(1);
            (0..n).map(move |index| Job {
                file,
                index,
                offset: index * chunk,
                len: chunk.min(f.len() - (index * chunk).min(f.len())),
            })
        })
        .collect();
    let level = cfg.compression_level;
    let parallel = usize::try_from(cfg.parallelism).unwrap_or(1).max(1);
    // Uploads overlap `parallel` at a time; reading, hashing and compressing a chunk is CPU
    // work, kept to half the cores so foreground writes keep theirs.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cpu = Arc::new(tokio::sync::Semaphore::new((cores / 2).max(1)));
    let id_ref = id.as_str();
    let pace = Pace::new(cfg.max_upload_rate.map(|r| r.0));
    let pace = &pace;
    let chunks: Vec<(usize, ChunkEntry)> = futures::stream::iter(jobs)
        .map(|job| {
            let source = Arc::clone(&source);
            let cpu = Arc::clone(&cpu);
            async move {
                let permit = cpu.acquire_owned().await.map_err(|e| BackupError::Store {
                    store: loc.url().into(),
                    detail: format!("the chunk limiter closed: {e}"),
                })?;
                let name = source.files()[job.file].name().to_string();
                let object = format!("{name}.{}.zst", job.index);
                let sealed_as = format!("base/{id_ref}/{object}");
                let sealer = loc.sealer().cloned();
                let (raw_sha, stored, stored_sha) = in_background(move || {
                    let seal = sealer.as_deref().map(|s| (s, sealed_as.as_str()));
                    read_chunk(&source, job.file, job.offset, job.len, level, seal)
                })
                .await
                .map_err(|e| BackupError::Store {
                    store: loc.url().into(),
                    detail: format!("a chunk task failed: {e}"),
                })??;
                drop(permit);
                progress.add(job.len);
                let stored_len = stored.len() as u64;
                pace.admit(stored_len).await;
                loc.put(&loc.key(&["base", id_ref, &object]), stored)
                    .await?;
                Ok::<_, BackupError>((
                    job.file,
                    ChunkEntry {
                        object,
                        offset: job.offset,
                        len: job.len,
                        stored_len,
                        sha256: raw_sha,
                        stored_sha256: stored_sha,
                    },
                ))
            }
        })
        .buffered(parallel)
        .try_collect()
        .await?;

    let mut files: Vec<FileEntry> = source
        .files()
        .iter()
        .map(|f| FileEntry {
            name: f.name().to_string(),
            len: f.len(),
            chunks: Vec::new(),
        })
        .collect();
    for (file, c) in chunks {
        files[file].chunks.push(c);
    }
    let manifest = Manifest {
        format: FORMAT,
        id: id.clone(),
        server_version: env!("CARGO_PKG_VERSION").into(),
        seq: source.seq(),
        started_at_ms,
        ended_at_ms: now_ms(),
        pinned_at_ms,
        lineage,
        encryption_key_id: loc.sealer().map(|s| s.id()),
        stores: source
            .store_counts()
            .iter()
            .map(|c| StoreEntry {
                space: c.space.clone(),
                store: c.store.clone(),
                documents: c.documents,
            })
            .collect(),
        compression_level: level,
        files,
        tag,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::BadManifest {
        key: MANIFEST.into(),
        reason: e.to_string(),
    })?;
    loc.put_new(&loc.key(&["base", &id, MANIFEST]), Bytes::from(json))
        .await?;
    drop(source);
    info!(
        id,
        seq = manifest.seq,
        raw_bytes = manifest.raw_bytes(),
        stored_bytes = manifest.stored_bytes(),
        seconds = (manifest.ended_at_ms - started_at_ms) as f64 / 1000.0,
        "backup complete"
    );
    Ok(manifest)
}

/// The nice value of a backup's chunk threads: below foreground work (requests, group commit).
const CHUNK_NICENESS: i32 = 10;

/// Runs `f` on a thread of its own at [`CHUNK_NICENESS`], so a backup's hashing and
/// compression take only the CPU foreground work leaves.
async fn in_background<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, std::io::Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("shinydb-backup-chunk".into())
        .spawn(move || {
            // On Linux the nice value is per thread; failing to lower it only costs priority.
            let _ = rustix::process::setpriority_process(
                Some(rustix::thread::gettid()),
                CHUNK_NICENESS,
            );
            let _ = tx.send(f());
        })?;
    rx.await
        .map_err(|_| std::io::Error::other("the chunk thread ended without an answer"))
}

/// Reads, hashes, compresses and (with a key) seals one chunk as the object `seal.1`:
/// (raw SHA-256, stored bytes, stored SHA-256).
fn read_chunk(
    source: &BackupSource,
    file: usize,
    offset: u64,
    len: u64,
    level: i32,
    seal: Option<(&Sealer, &str)>,
) -> Result<(String, Bytes, String), BackupError> {
    let f = &source.files()[file];
    let mut raw = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut done = 0;
    while done < raw.len() {
        let n = source.read_at(f, offset + done as u64, &mut raw[done..])?;
        if n == 0 {
            return Err(BackupError::File {
                what: "backing up",
                path: f.name().into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file ended before the length the backup pinned",
                ),
            });
        }
        done += n;
    }
    let stored = zstd::bulk::compress(&raw, level).map_err(|source| BackupError::File {
        what: "compressing a chunk of",
        path: f.name().into(),
        source,
    })?;
    let stored = match seal {
        Some((sealer, name)) => sealer.seal(name, &stored)?,
        None => stored,
    };
    let stored_sha = hex_sha256(&stored);
    Ok((hex_sha256(&raw), Bytes::from(stored), stored_sha))
}

/// SHA-256, lower-case hex.
pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `20261201T101500123Z` for a time in milliseconds since the epoch.
fn utc_stamp(ms: i64) -> String {
    bson::DateTime::from_millis(ms)
        .try_to_rfc3339_string()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}
