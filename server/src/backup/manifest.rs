//! The manifest: what a complete backup holds, and how to check every byte of it.

use serde::{Deserialize, Serialize};

use super::{BackupError, Location};

/// The manifest format this server writes and reads.
pub const FORMAT: u32 = 1;

/// A complete backup's description, stored as `base/<id>/MANIFEST.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The backup's id: `<UTC start>-<seq>`.
    pub id: String,
    /// The server version that wrote it.
    pub server_version: String,
    /// The backup holds exactly the batches up to this sequence number.
    pub seq: u64,
    /// When the backup started and ended, milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// See `started_at_ms`.
    pub ended_at_ms: i64,
    /// When the engine's copy was pinned (every batch in the backup committed before it), ms
    /// since the epoch; 0 in manifests written before it was recorded.
    #[serde(default)]
    pub pinned_at_ms: i64,
    /// The lineage (history of sequence numbers) of the backed-up directory: the archive
    /// under `wal/<lineage>/` continues it. Empty in manifests written before archiving.
    #[serde(default)]
    pub lineage: String,
    /// The id of the key its chunks are encrypted with (`None`: not encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_id: Option<String>,
    /// zstd level of the chunks.
    pub compression_level: i32,
    /// The data directory's files, data file first.
    pub files: Vec<FileEntry>,
    /// Every store's document count in the backup: a restore checks the copy against them.
    /// Empty in manifests written before they were recorded.
    #[serde(default)]
    pub stores: Vec<StoreEntry>,
    /// The label the backup was asked with (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
}

/// How many documents one store holds in a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreEntry {
    /// The space.
    pub space: String,
    /// The store.
    pub store: String,
    /// Its documents.
    pub documents: u64,
}

/// One file of the data directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name in the data directory.
    pub name: String,
    /// Its length in bytes.
    pub len: u64,
    /// Its chunks, in order.
    pub chunks: Vec<ChunkEntry>,
}

/// One uploaded chunk: `len` raw bytes from `offset`, compressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// The object's name inside the backup's directory.
    pub object: String,
    /// Where the chunk starts in its file.
    pub offset: u64,
    /// Raw bytes.
    pub len: u64,
    /// Bytes stored (compressed).
    pub stored_len: u64,
    /// SHA-256 of the raw bytes, hex.
    pub sha256: String,
    /// SHA-256 of the stored bytes, hex.
    pub stored_sha256: String,
}

impl Manifest {
    /// When the copy was pinned, or (older manifests) an upper bound: the backup's end.
    pub fn pinned_at(&self) -> i64 {
        if self.pinned_at_ms > 0 {
            self.pinned_at_ms
        } else {
            self.ended_at_ms
        }
    }

    /// Bytes of the database files.
    pub fn raw_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }

    /// Bytes stored.
    pub fn stored_bytes(&self) -> u64 {
        self.files
            .iter()
            .flat_map(|f| &f.chunks)
            .map(|c| c.stored_len)
            .sum()
    }

    /// Reads the manifest of backup `id`.
    pub async fn load(loc: &Location, id: &str) -> Result<Manifest, BackupError> {
        check_id(loc, id)?;
        let key = loc.key(&["base", id, MANIFEST]);
        let bytes = loc.get(&key).await?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| BackupError::BadManifest {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
        if m.format != FORMAT || m.id != id {
            return Err(BackupError::BadManifest {
                key: key.to_string(),
                reason: format!(
                    "format {} for backup {:?}; this server reads format {FORMAT}",
                    m.format, m.id
                ),
            });
        }
        Ok(m)
    }
}

/// Whether `id` can be a backup id (`<UTC start>-<seq>`: ASCII letters, digits and `-`), so
/// that no id reaches outside `base/`.
pub(crate) fn check_id(loc: &Location, id: &str) -> Result<(), BackupError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(BackupError::NoBackup {
            wanted: format!("with id {id:?} (ids hold only letters, digits and '-')"),
            store: loc.url().into(),
        })
    }
}

/// The manifest's object name.
pub(crate) const MANIFEST: &str = "MANIFEST.json";

/// Whether a backup in the store is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingState {
    /// Its manifest is written.
    Complete,
    /// It has chunks but no manifest: interrupted, never restored.
    Incomplete,
}

/// One backup found in the store.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The backup's id.
    pub id: String,
    /// Complete or not.
    pub state: ListingState,
    /// The manifest, when complete.
    pub manifest: Option<Manifest>,
}

impl Listing {
    /// Every backup in the store, newest first (ids start with their UTC start time).
    pub async fn all(loc: &Location) -> Result<Vec<Listing>, BackupError> {
        let mut ids = loc.children(&["base"]).await?;
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let listing = match Manifest::load(loc, &id).await {
                Ok(m) => Listing {
                    id,
                    state: ListingState::Complete,
                    manifest: Some(m),
                },
                Err(BackupError::NotFound { .. }) => Listing {
                    id,
                    state: ListingState::Incomplete,
                    manifest: None,
                },
                Err(e) => return Err(e),
            };
            out.push(listing);
        }
        Ok(out)
    }
}
