//! Base backups to object storage, and restoring them.
//!
//! A backup streams the engine's pinned, consistent copy ([`shinydb_engine::BackupSource`])
//! to the store in chunks, without a local staging copy. Under the configured prefix:
//!
//! ```text
//! base/<id>/<file>.<n>.zst    one zstd frame per `backup.chunk_size` raw bytes of <file>
//! base/<id>/MANIFEST.json     written last, create-only: the commit point of the backup
//!
//! wal/<lineage>/<first>-<last>.zst  the archived log, continuously (see `archive`)
//! ```
//!
//! A backup without its manifest is incomplete (interrupted) and is never restored. The
//! manifest lists every chunk with the SHA-256 of its raw and of its stored bytes, so a
//! restore (and `verify`) checks everything it downloads before anything reaches the data
//! directory. After each backup, `backup.retention` decides what is deleted: complete backups
//! past the recovery window (never the newest `min_backups`) and interrupted ones past the
//! sweep age. A deletion removes the manifest first, so a half-deleted backup is incomplete.

mod archive;
mod create;
mod crypt;
mod error;
mod location;
mod manifest;
mod pace;
mod progress;
pub(crate) mod restore;
mod retention;

pub use archive::{ArchiveStatus, LINEAGE_FILE, lineage};
pub use create::{Backups, Running, create};
pub use error::BackupError;
pub use location::Location;
pub use manifest::{Listing, ListingState, Manifest};
pub use progress::Progress;
pub use restore::{
    RestoreOptions, RestoreSummary, RestoreTarget, Verified, check, restore, verify,
};
pub use retention::{Pruned, delete};
