//! Deleting backups: one on request, and after each new backup what `backup.retention` says
//! is no longer kept, with the archived log no kept backup needs.

use std::collections::BTreeMap;

use tracing::info;

use super::{
    BackupError, Listing, ListingState, Location, archive,
    manifest::{MANIFEST, check_id},
};
use crate::config::RetentionConfig;

/// What a retention pass deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Complete backups outside the recovery window.
    pub complete: Vec<String>,
    /// Interrupted backups.
    pub incomplete: Vec<String>,
    /// Archived log slices older than every kept backup of their lineage.
    pub slices: u64,
}

/// Deletes backup `id`: its manifest first (from then on it is never restored), then every
/// other object. Returns the number of objects deleted.
pub async fn delete(loc: &Location, id: &str) -> Result<u64, BackupError> {
    check_id(loc, id)?;
    let manifest = loc.key(&["base", id, MANIFEST]);
    let objects = loc.objects(&["base", id]).await?;
    loc.delete(&manifest).await?;
    for (key, _) in objects.iter().filter(|(k, _)| *k != manifest) {
        loc.delete(key).await?;
    }
    loc.remove_hidden(id)?;
    Ok(objects.len() as u64)
}

/// Applies `cfg` at time `now_ms`: complete backups that ended before the window go, except
/// the newest `min_backups` and the newest one before the window (the base a restore to the
/// window's start needs); interrupted ones older than the sweep age go; then archived log
/// slices that end before the oldest kept backup of their lineage. The archive of a lineage
/// with no kept backup is left alone: no restore starts from it, and it may be a restored
/// directory's history before its first backup.
pub async fn apply(
    loc: &Location,
    cfg: &RetentionConfig,
    now_ms: i64,
) -> Result<Pruned, BackupError> {
    let window_ms =
        i64::try_from(cfg.recovery_window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let sweep_ms =
        i64::try_from(cfg.sweep_incomplete_after_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let mut pruned = Pruned::default();
    let mut complete_seen = 0u32;
    let mut window_base_kept = false;
    // Per lineage, the oldest batch a kept backup holds.
    let mut kept_from: BTreeMap<String, u64> = BTreeMap::new();
    // Newest first.
    for listing in Listing::all(loc).await? {
        if let (ListingState::Complete, Some(m)) = (listing.state, &listing.manifest) {
            complete_seen += 1;
            let expired =
                cfg.recovery_window_seconds > 0 && now_ms.saturating_sub(m.ended_at_ms) > window_ms;
            let keep = !expired || complete_seen <= cfg.min_backups || !window_base_kept;
            window_base_kept |= expired && keep;
            if keep {
                let from = kept_from.entry(m.lineage.clone()).or_insert(m.seq);
                *from = (*from).min(m.seq);
            } else {
                delete(loc, &listing.id).await?;
                pruned.complete.push(listing.id);
            }
        } else {
            let newest = loc
                .objects(&["base", &listing.id])
                .await?
                .iter()
                .map(|(_, at)| *at)
                .max()
                .unwrap_or(0);
            if now_ms.saturating_sub(newest) > sweep_ms {
                delete(loc, &listing.id).await?;
                pruned.incomplete.push(listing.id);
            }
        }
    }
    for (lineage, from) in kept_from.iter().filter(|(l, _)| !l.is_empty()) {
        for slice in archive::slices(loc, lineage).await? {
            if slice.last <= *from {
                loc.delete(&loc.key(&["wal", lineage, &slice.name])).await?;
                pruned.slices += 1;
            }
        }
    }
    if pruned != Pruned::default() {
        info!(complete = ?pruned.complete, incomplete = ?pruned.incomplete,
            slices = pruned.slices, store = loc.url(), "retention deleted backups");
    }
    Ok(pruned)
}
