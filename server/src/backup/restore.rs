//! Restoring a base backup into a data directory: resolve, download and check every chunk
//! into a staging directory beside the target, open the result, then swap it into place.
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

use super::{
    BackupError, Listing, ListingState, Location, Manifest, create::hex_sha256,
    manifest::ChunkEntry,
};

/// Which backup to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreTarget {
    /// The newest complete backup.
    Latest,
    /// The backup with this id.
    Id(String),
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    /// The backup restored.
    pub id: String,
    /// The restored directory holds exactly the batches up to this sequence number.
    pub seq: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Seconds it took.
    pub seconds: f64,
}

/// Restores `target` from `loc` into `data_dir` (which must be missing or empty unless
/// `replace`), downloading `parallel` chunks at once.
pub async fn restore(
    loc: &Location,
    target: &RestoreTarget,
    data_dir: &Path,
    replace: bool,
    parallel: usize,
) -> Result<RestoreSummary, BackupError> {
    let started = Instant::now();
    if !replace && holds_files(data_dir)? {
        return Err(BackupError::TargetNotEmpty(data_dir.to_path_buf()));
    }
    let manifest = resolve(loc, target).await?;
    let staging = sibling(data_dir, &format!("restore-{}", manifest.id))?;
    let result = download(loc, &manifest, &staging, parallel).await;
    let result = match result {
        Ok(()) => check_opens(&staging, &manifest).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    swap_into_place(&staging, data_dir, &manifest.id)?;
    let summary = RestoreSummary {
        id: manifest.id.clone(),
        seq: manifest.seq,
        bytes: manifest.raw_bytes(),
        seconds: started.elapsed().as_secs_f64(),
    };
    info!(id = summary.id, seq = summary.seq, bytes = summary.bytes,
        seconds = summary.seconds, dir = %data_dir.display(), "restore complete");
    Ok(summary)
}

/// The manifest of the backup `target` names.
async fn resolve(loc: &Location, target: &RestoreTarget) -> Result<Manifest, BackupError> {
    match target {
        RestoreTarget::Id(id) => match Manifest::load(loc, id).await {
            Err(BackupError::NotFound { .. }) => Err(BackupError::NoBackup {
                wanted: format!("with id {id}"),
                store: loc.url().into(),
            }),
            other => other,
        },
        RestoreTarget::Latest => Listing::all(loc)
            .await?
            .into_iter()
            .filter(|l| l.state == ListingState::Complete)
            .filter_map(|l| l.manifest)
            .max_by_key(|m| (m.ended_at_ms, m.seq))
            .ok_or_else(|| BackupError::NoBackup {
                wanted: "at all".into(),
                store: loc.url().into(),
            }),
    }
}

/// Downloads every chunk of `manifest` into `dir`, checking both hashes of each.
async fn download(
    loc: &Location,
    manifest: &Manifest,
    dir: &Path,
    parallel: usize,
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
                async move { fetch_chunk(loc, id, &c, file, path).await }
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
    let manifest = resolve(loc, &target).await?;
    if let Some(scratch) = deep {
        let data = scratch.join("data");
        let result = restore(loc, &target, &data, true, parallel).await;
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

/// Opens the restored copy once: it must recover to exactly the manifest's sequence number.
async fn check_opens(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let dir = dir.to_path_buf();
    let (id, want) = (manifest.id.clone(), manifest.seq);
    tokio::task::spawn_blocking(move || {
        let db = Db::open(&dir, Options::default())?;
        let got = db.snapshot().seq();
        db.close()?;
        if got == want {
            Ok(())
        } else {
            Err(BackupError::Mismatch {
                id,
                reason: format!("it opens at sequence number {got}, the backup holds {want}"),
            })
        }
    })
    .await
    .map_err(|e| BackupError::Mismatch {
        id: manifest.id.clone(),
        reason: format!("opening it failed: {e}"),
    })?
}

/// Moves `staging` to `target`; an existing `target` is moved aside first and removed after.
fn swap_into_place(staging: &Path, target: &Path, id: &str) -> Result<(), BackupError> {
    let old = sibling(target, &format!("replaced-by-{id}"))?;
    let had_old = target.exists();
    if had_old {
        fs::rename(target, &old).map_err(file_error("moving aside", target))?;
    }
    if let Err(e) = fs::rename(staging, target) {
        if had_old {
            let _ = fs::rename(&old, target);
        }
        return Err(file_error("moving the restored copy to", target)(e));
    }
    if let Some(parent) = target.parent() {
        let _ = File::open(parent).and_then(|d| d.sync_all());
    }
    if had_old {
        fs::remove_dir_all(&old).map_err(file_error("removing the replaced data in", &old))?;
    }
    Ok(())
}

/// `<parent>/.<name>.<suffix>`, on the same file system as `dir` (so renames are atomic).
fn sibling(dir: &Path, suffix: &str) -> Result<PathBuf, BackupError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BackupError::File {
            what: "restoring into",
            path: dir.to_path_buf(),
            source: std::io::Error::other("the data directory needs a name"),
        })?;
    let parent = dir.parent().unwrap_or(Path::new("."));
    let path = parent.join(format!(".{name}.{suffix}"));
    if path.exists() {
        fs::remove_dir_all(&path).map_err(|source| BackupError::File {
            what: "removing a leftover",
            path: path.clone(),
            source,
        })?;
    }
    Ok(path)
}

/// Whether `dir` exists and holds anything.
fn holds_files(dir: &Path) -> Result<bool, BackupError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(BackupError::File {
            what: "reading",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Wraps an I/O error on `path` while doing `what`.
fn file_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::File { what, path, source }
}
