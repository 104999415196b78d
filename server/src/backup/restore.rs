//! Restoring into a data directory: resolve the base backup the target needs, download and
//! check every chunk into a staging directory beside the target, replay the archived log up
//! to exactly the target, open the result, give it a new lineage, then swap it into place.
//! Any failure before the swap leaves the target as it was.

use std::{
    fs::{self, File},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use futures::{StreamExt, TryStreamExt};
use shinydb_engine::{Db, Options};
use tracing::info;

use crate::staging::{self, Staging};

use super::{
    BackupError, Listing, ListingState, Location, Manifest, Progress,
    archive::{self, Slice},
    create::hex_sha256,
    crypt,
    manifest::{ChunkEntry, StoreEntry},
};

/// What to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget {
    /// The newest complete backup, then every batch archived after it (up to a gap, if the
    /// archive has one).
    Latest,
    /// Exactly the backup with this id, without the archive.
    Id(String),
    /// The state at this time (ms since the epoch): every batch committed at or before it.
    Time(i64),
    /// The state right after this batch (sequence number).
    Seq(u64),
}

impl std::fmt::Display for RestoreTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreTarget::Latest => write!(f, "the latest point"),
            RestoreTarget::Id(id) => write!(f, "backup {id}"),
            RestoreTarget::Time(ms) => write!(f, "time {}", rfc3339(*ms)),
            RestoreTarget::Seq(n) => write!(f, "batch {n}"),
        }
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    /// The base backup restored.
    pub id: String,
    /// The restored directory holds exactly the batches up to this sequence number.
    pub seq: u64,
    /// The commit time of that batch, ms since the epoch (0: the backup's own last batch,
    /// whose time the manifest does not hold).
    pub commit_time_ms: u64,
    /// Batches replayed from the archive on top of the backup.
    pub replayed: u64,
    /// The restored directory's new lineage.
    pub lineage: String,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// How a restore goes about it.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Replace a data directory that holds data (otherwise it must be missing or empty).
    pub replace: bool,
    /// Chunks and archive slices downloaded at once.
    pub parallel: usize,
    /// Only backups of this lineage (one instance's history) are considered.
    pub lineage: Option<String>,
}

/// Restores `target` from `loc` into `data_dir`, counting the backup's raw bytes written in
/// `progress`. The data directory may be a mount point: the copy is built inside it.
pub async fn restore(
    loc: &Location,
    target: &RestoreTarget,
    data_dir: &Path,
    options: &RestoreOptions,
    progress: &Progress,
) -> Result<RestoreSummary, BackupError> {
    let started = Instant::now();
    let parallel = options.parallel;
    let lineage = options.lineage.as_deref();
    staging::finish_interrupted(data_dir)?;
    if !options.replace && staging::holds_data(data_dir)? {
        return Err(BackupError::TargetNotEmpty(data_dir.to_path_buf()));
    }
    let manifest = resolve(loc, target, lineage).await?;
    let staged = Staging::new(data_dir, "restore")?;
    progress.start(manifest.raw_bytes());
    let result = rebuild(loc, &manifest, target, staged.path(), parallel, progress).await;
    let (reached, lineage) = match result {
        Ok(r) => r,
        Err(e) => {
            staged.discard();
            return Err(e);
        }
    };
    staged.swap()?;
    let summary = RestoreSummary {
        id: manifest.id.clone(),
        seq: reached.seq,
        commit_time_ms: reached.commit_ms,
        replayed: reached.replayed,
        lineage,
        bytes: manifest.raw_bytes() + reached.bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    info!(id = summary.id, seq = summary.seq, replayed = summary.replayed,
        bytes = summary.bytes, seconds = summary.seconds, dir = %data_dir.display(),
        "restore complete");
    Ok(summary)
}

/// What restoring `target` from `loc` would reach, found without writing anything: the base
/// backup it starts from (its manifest read, its format checked) and the archive walked up to
/// the target (every slice downloaded and checked, nothing applied). Fails as the restore
/// would: no backup before the target, a gap in the archive, a target past its end, a
/// corrupt slice. The summary's `bytes` is what the restore would write; its lineage is empty.
pub async fn check(
    loc: &Location,
    target: &RestoreTarget,
    options: &RestoreOptions,
) -> Result<RestoreSummary, BackupError> {
    let started = Instant::now();
    let manifest = resolve(loc, target, options.lineage.as_deref()).await?;
    let reached = match target {
        RestoreTarget::Id(_) => Reached::base(&manifest),
        _ => replay_archive(loc, &manifest, target, None, options.parallel).await?,
    };
    Ok(RestoreSummary {
        id: manifest.id.clone(),
        seq: reached.seq,
        commit_time_ms: reached.commit_ms,
        replayed: reached.replayed,
        lineage: String::new(),
        bytes: manifest.raw_bytes() + reached.bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Builds the restored directory in `staging`: the base backup, the archive replayed on it,
/// opened once, a new lineage. Returns where it ended and the lineage.
async fn rebuild(
    loc: &Location,
    manifest: &Manifest,
    target: &RestoreTarget,
    staging: &Path,
    parallel: usize,
    progress: &Progress,
) -> Result<(Reached, String), BackupError> {
    download(loc, manifest, staging, parallel, progress).await?;
    check_base(staging, manifest).await?;
    let reached = match target {
        RestoreTarget::Id(_) => Reached::base(manifest),
        _ => replay_archive(loc, manifest, target, Some(staging), parallel).await?,
    };
    if reached.replayed > 0 {
        check_opens(staging, &manifest.id, reached.seq).await?;
    }
    let lineage = archive::new_lineage(staging)?;
    Ok((reached, lineage))
}

/// Where a restore ended.
#[derive(Debug, Clone, Copy)]
struct Reached {
    seq: u64,
    commit_ms: u64,
    replayed: u64,
    bytes: u64,
}

impl Reached {
    fn base(m: &Manifest) -> Reached {
        Reached {
            seq: m.seq,
            commit_ms: 0,
            replayed: 0,
            bytes: 0,
        }
    }
}

/// Replays the archive of the backup's lineage on the copy in `dir` (`None`: only walks it),
/// from the batch after the backup up to the target, checking that the archive is continuous
/// up to it.
async fn replay_archive(
    loc: &Location,
    manifest: &Manifest,
    target: &RestoreTarget,
    dir: Option<&Path>,
    parallel: usize,
) -> Result<Reached, BackupError> {
    let mut reached = Reached::base(manifest);
    let lineage = manifest.lineage.as_str();
    // The slices that continue the backup without a hole, and the first hole after them.
    let mut run: Vec<Slice> = Vec::new();
    let mut gap = None;
    if !lineage.is_empty() {
        let mut next = manifest.seq + 1;
        for s in archive::slices(loc, lineage).await? {
            if s.last < next {
                continue;
            }
            if s.first > next {
                gap = Some((next, s.first - 1));
                break;
            }
            next = s.last + 1;
            run.push(s);
        }
    }
    let beyond = |r: &shinydb_engine::LogRecord| match target {
        RestoreTarget::Time(t) => i64::try_from(r.commit_time_ms()).unwrap_or(i64::MAX) > *t,
        RestoreTarget::Seq(n) => r.seq() > *n,
        RestoreTarget::Latest | RestoreTarget::Id(_) => false,
    };
    let done = |reached: &Reached| matches!(target, RestoreTarget::Seq(n) if reached.seq >= *n);

    let db = match dir {
        Some(dir) => {
            let path = dir.to_path_buf();
            let db = tokio::task::spawn_blocking(move || Db::open(&path, Options::default()))
                .await
                .map_err(|e| task_failed(loc, &e))??;
            Some(Arc::new(db))
        }
        None => None,
    };
    let mut passed = done(&reached);
    let mut slices = futures::stream::iter(run)
        .map(|s| async move { s.fetch(loc, lineage).await })
        .buffered(parallel.max(1));
    while !passed && let Some(records) = slices.try_next().await? {
        let take: Vec<_> = records
            .into_iter()
            .filter(|r| r.seq() > reached.seq)
            .collect();
        let keep = take.iter().take_while(|r| !beyond(r)).count();
        passed = keep < take.len();
        let apply: Vec<_> = take.into_iter().take(keep).collect();
        if let Some(last) = apply.last() {
            reached.seq = last.seq();
            reached.commit_ms = last.commit_time_ms();
            reached.replayed += apply.len() as u64;
            reached.bytes += apply.iter().map(|r| r.to_bytes().len() as u64).sum::<u64>();
        }
        if let Some(db) = &db {
            let db = Arc::clone(db);
            tokio::task::spawn_blocking(move || {
                apply.iter().try_for_each(|r| db.apply_log(r).map(drop))
            })
            .await
            .map_err(|e| task_failed(loc, &e))??;
        }
        passed = passed || done(&reached);
    }
    drop(slices);
    if let Some(db) = db {
        let db = Arc::into_inner(db).ok_or_else(|| BackupError::Mismatch {
            id: manifest.id.clone(),
            reason: "the replayed copy is still in use".into(),
        })?;
        tokio::task::spawn_blocking(move || db.close())
            .await
            .map_err(|e| task_failed(loc, &e))??;
    }

    match (target, passed, gap) {
        (RestoreTarget::Latest, _, Some((from, to))) => {
            tracing::warn!(
                from,
                to,
                lineage,
                "the archive has a gap: restored up to it"
            );
            Ok(reached)
        }
        (RestoreTarget::Latest, _, None) | (_, true, _) => Ok(reached),
        (_, false, Some((from, to))) => Err(BackupError::ArchiveGap {
            lineage: lineage.into(),
            from,
            to,
        }),
        (_, false, None) => Err(BackupError::TargetBeyondArchive {
            target: target.to_string(),
            reached_seq: reached.seq,
            reached_time: if reached.commit_ms == 0 {
                format!(
                    "at or before the backup's end, {}",
                    rfc3339(manifest.pinned_at())
                )
            } else {
                rfc3339(i64::try_from(reached.commit_ms).unwrap_or(i64::MAX))
            },
        }),
    }
}

fn task_failed(loc: &Location, e: &tokio::task::JoinError) -> BackupError {
    BackupError::Store {
        store: loc.url().into(),
        detail: format!("a restore task failed: {e}"),
    }
}

/// RFC 3339 for a time in ms since the epoch.
pub(crate) fn rfc3339(ms: i64) -> String {
    bson::DateTime::from_millis(ms)
        .try_to_rfc3339_string()
        .unwrap_or_else(|_| format!("{ms} ms since the epoch"))
}

/// The manifest of the base backup `target` needs: the one it names, or the newest that
/// holds nothing after the target.
async fn resolve(
    loc: &Location,
    target: &RestoreTarget,
    lineage: Option<&str>,
) -> Result<Manifest, BackupError> {
    let of_lineage = |m: &Manifest| lineage.is_none_or(|l| m.lineage == l);
    let scope = lineage
        .map(|l| format!("of lineage {l} "))
        .unwrap_or_default();
    if let RestoreTarget::Id(id) = target {
        return match Manifest::load(loc, id).await {
            Err(BackupError::NotFound { .. }) => Err(BackupError::NoBackup {
                wanted: format!("with id {id}"),
                store: loc.url().into(),
            }),
            Ok(m) if !of_lineage(&m) => Err(BackupError::NoBackup {
                wanted: format!("with id {id} {scope}(it is of lineage {})", m.lineage),
                store: loc.url().into(),
            }),
            other => other,
        };
    }
    let complete: Vec<Manifest> = Listing::all(loc)
        .await?
        .into_iter()
        .filter(|l| l.state == ListingState::Complete)
        .filter_map(|l| l.manifest)
        .filter(of_lineage)
        .collect();
    let first = complete.iter().min_by_key(|m| m.pinned_at()).map(|m| {
        format!(
            "; the first recoverability point is {} (batch {}, backup {})",
            rfc3339(m.pinned_at()),
            m.seq,
            m.id
        )
    });
    let usable = |m: &Manifest| match target {
        RestoreTarget::Time(t) => m.pinned_at() <= *t,
        RestoreTarget::Seq(n) => m.seq <= *n,
        RestoreTarget::Latest | RestoreTarget::Id(_) => true,
    };
    complete
        .iter()
        .filter(|m| usable(m))
        .max_by_key(|m| (m.pinned_at(), m.seq))
        .cloned()
        .ok_or_else(|| BackupError::NoBackup {
            wanted: match target {
                RestoreTarget::Latest | RestoreTarget::Id(_) => format!("{scope}at all"),
                _ => format!("{scope}before {target}{}", first.unwrap_or_default()),
            },
            store: loc.url().into(),
        })
}

/// Downloads every chunk of `manifest` into `dir`, checking both hashes of each.
async fn download(
    loc: &Location,
    manifest: &Manifest,
    dir: &Path,
    parallel: usize,
    progress: &Progress,
) -> Result<(), BackupError> {
    fs::create_dir_all(dir).map_err(file_error("creating", dir))?;
    for entry in &manifest.files {
        let path = dir.join(&entry.name);
        let file = File::create(&path).map_err(file_error("creating", &path))?;
        file.set_len(entry.len)
            .map_err(file_error("sizing", &path))?;
        let file = Arc::new(file);
        // Owned items: the stream's future stays `Send` for any caller.
        let id = manifest.id.as_str();
        futures::stream::iter(entry.chunks.clone())
            .map(|c| {
                let (file, path) = (Arc::clone(&file), path.clone());
                async move {
                    fetch_chunk(loc, id, &c, file, path).await?;
                    progress.add(c.len);
                    Ok::<_, BackupError>(())
                }
            })
            .buffer_unordered(parallel.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        file.sync_all().map_err(file_error("syncing", &path))?;
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(file_error("syncing", dir))
}

async fn fetch_chunk(
    loc: &Location,
    id: &str,
    c: &ChunkEntry,
    file: Arc<File>,
    path: PathBuf,
) -> Result<(), BackupError> {
    let raw = fetch_checked(loc, id, c).await?;
    let offset = c.offset;
    tokio::task::spawn_blocking(move || {
        file.write_all_at(&raw, offset)
            .map_err(|source| BackupError::File {
                what: "writing",
                path,
                source,
            })
    })
    .await
    .map_err(|e| BackupError::Store {
        store: loc.url().into(),
        detail: format!("a write task failed: {e}"),
    })?
}

/// Downloads chunk `c` of backup `id` and returns its raw bytes, after checking the hash of
/// what was stored and of what it decompresses to.
pub(crate) async fn fetch_checked(
    loc: &Location,
    id: &str,
    c: &ChunkEntry,
) -> Result<Vec<u8>, BackupError> {
    let key = loc.key(&["base", id, &c.object]);
    let stored = loc.get(&key).await?;
    let c = c.clone();
    let sealed_as = format!("base/{id}/{}", c.object);
    let sealer = loc.sealer().cloned();
    tokio::task::spawn_blocking(move || {
        let corrupt = |expected: &str, found: String| BackupError::Corrupt {
            key: key.to_string(),
            expected: expected.into(),
            found,
        };
        let found = hex_sha256(&stored);
        if found != c.stored_sha256 {
            return Err(corrupt(&c.stored_sha256, found));
        }
        let stored = crypt::open(sealer.as_deref(), &sealed_as, &stored)?;
        let raw = zstd::bulk::decompress(&stored, usize::try_from(c.len).unwrap_or(usize::MAX))
            .map_err(|e| corrupt(&c.sha256, format!("bytes that do not decompress ({e})")))?;
        let found = hex_sha256(&raw);
        if found != c.sha256 || raw.len() as u64 != c.len {
            return Err(corrupt(&c.sha256, found));
        }
        Ok(raw)
    })
    .await
    .map_err(|e| BackupError::Store {
        store: loc.url().into(),
        detail: format!("a download task failed: {e}"),
    })?
}

/// What [`verify`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Chunks downloaded and checked.
    pub chunks: u64,
    /// Raw bytes they hold.
    pub raw_bytes: u64,
    /// Whether the copy was rebuilt in `scratch` and opened.
    pub opened: bool,
}

/// Checks backup `id`: every chunk's two hashes; with `deep` also rebuilds it under
/// `scratch` (removed afterwards) and opens it.
pub async fn verify(
    loc: &Location,
    id: &str,
    deep: Option<&Path>,
    parallel: usize,
) -> Result<Verified, BackupError> {
    let target = RestoreTarget::Id(id.to_string());
    let manifest = resolve(loc, &target, None).await?;
    if let Some(scratch) = deep {
        let data = scratch.join("data");
        let options = RestoreOptions {
            replace: true,
            parallel,
            lineage: None,
        };
        let result = restore(loc, &target, &data, &options, &Progress::default()).await;
        let _ = fs::remove_dir_all(scratch);
        result?;
    } else {
        let chunks: Vec<ChunkEntry> = manifest
            .files
            .iter()
            .flat_map(|f| f.chunks.iter().cloned())
            .collect();
        let id = manifest.id.as_str();
        futures::stream::iter(chunks)
            .map(|c| async move { fetch_checked(loc, id, &c).await.map(drop) })
            .buffer_unordered(parallel.max(1))
            .try_collect::<Vec<()>>()
            .await?;
    }
    Ok(Verified {
        chunks: manifest.files.iter().map(|f| f.chunks.len() as u64).sum(),
        raw_bytes: manifest.raw_bytes(),
        opened: deep.is_some(),
    })
}

/// Opens the downloaded backup once: it must recover to exactly the manifest's sequence
/// number, with the document count the manifest records for every store.
async fn check_base(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let dir = dir.to_path_buf();
    let m = manifest.clone();
    tokio::task::spawn_blocking(move || {
        let db = Db::open(&dir, Options::default())?;
        let found = base_differs(&db, &m);
        db.close()?;
        match found? {
            None => Ok(()),
            Some(reason) => Err(BackupError::Mismatch { id: m.id, reason }),
        }
    })
    .await
    .map_err(|e| BackupError::Mismatch {
        id: manifest.id.clone(),
        reason: format!("opening it failed: {e}"),
    })?
}

/// How the opened copy differs from its manifest, if it does.
fn base_differs(db: &Db, m: &Manifest) -> Result<Option<String>, BackupError> {
    let snap = db.snapshot();
    if snap.seq() != m.seq {
        return Ok(Some(format!(
            "it opens at sequence number {}, the backup holds {}",
            snap.seq(),
            m.seq
        )));
    }
    if m.stores.is_empty() {
        return Ok(None);
    }
    let mut found = Vec::new();
    for space in snap.spaces() {
        for store in snap.stores(&space.name)? {
            let documents = snap.count(&space.name, &store.name)?;
            found.push(StoreEntry {
                space: space.name.clone(),
                store: store.name,
                documents,
            });
        }
    }
    let key = |e: &StoreEntry| (e.space.clone(), e.store.clone());
    let mut want = m.stores.clone();
    want.sort_by_key(key);
    found.sort_by_key(key);
    if want == found {
        return Ok(None);
    }
    let show = |v: &[StoreEntry]| {
        v.iter()
            .map(|e| format!("{}.{}: {}", e.space, e.store, e.documents))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Some(format!(
        "its stores hold {} documents, the manifest says {}",
        show(&found),
        show(&want)
    )))
}

/// Opens the restored copy once: it must recover to exactly sequence number `want`.
async fn check_opens(dir: &Path, id: &str, want: u64) -> Result<(), BackupError> {
    let dir = dir.to_path_buf();
    let id = id.to_string();
    let task_id = id.clone();
    tokio::task::spawn_blocking(move || {
        let id = task_id;
        let db = Db::open(&dir, Options::default())?;
        let got = db.snapshot().seq();
        db.close()?;
        if got == want {
            Ok(())
        } else {
            Err(BackupError::Mismatch {
                id,
                reason: format!("it opens at sequence number {got}, the restore reached {want}"),
            })
        }
    })
    .await
    .map_err(|e| BackupError::Mismatch {
        id,
        reason: format!("opening it failed: {e}"),
    })?
}

/// Wraps an I/O error on `path` while doing `what`.
fn file_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::File { what, path, source }
}
