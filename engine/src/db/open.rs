//! Opening, after the directory is locked: load the files as of the last checkpoint, then
//! replay the WAL on top of them. [`Db::open`](super::Db::open) assembles the engine from what
//! these steps return.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::Arc,
};

use super::{
    TreeState, maintenance, stored,
    vlog_stats::{self, SegmentStats},
};
use crate::{
    btree::{Pager, TreeVersion},
    error::Result,
    memtable::Memtable,
    options::Options,
    vlog::{self, ValueLog},
    wal::{self, ReplayOutcome, Wal},
};

/// The files as of the last checkpoint.
pub(super) struct Loaded {
    pager: Arc<Pager>,
    tree: Arc<TreeVersion>,
    vlog: Arc<ValueLog>,
    vlog_stats: BTreeMap<u32, SegmentStats>,
}

/// The state after replaying the WAL, ready to serve.
pub(super) struct Recovered {
    /// The page file.
    pub pager: Arc<Pager>,
    /// The value log.
    pub vlog: Arc<ValueLog>,
    /// The tree, including what replay flushed.
    pub tree: Arc<TreeVersion>,
    /// Replayed records not yet flushed.
    pub memtable: Arc<Memtable>,
    /// Value-log bookkeeping.
    pub state: TreeState,
    /// The WAL, open for appending after the last replayed record.
    pub wal: Wal,
    /// What replay found.
    pub outcome: ReplayOutcome,
}

/// Opens the page file and the value log, and drops value-log segments that hold nothing
/// committed (their statistics live in the tree; a segment without them was never flushed).
pub(super) fn load(dir: &Path, opts: &Options) -> Result<Loaded> {
    let (pager, meta) = Pager::open(&dir.join("data.db"), opts.cache_bytes)?;
    let tree = TreeVersion::new(Arc::clone(&pager), meta);
    pager.set_free_from_reachable(&tree.reachable_pages()?);
    let vlog = Arc::new(ValueLog::open(
        dir,
        opts.vlog_segment_bytes,
        opts.compression_level,
    )?);
    let vlog_stats = vlog_stats::load(&tree, pager.path())?;
    for seg in vlog::list_segments(dir)? {
        if seg != vlog.active_segment() && !vlog_stats.contains_key(&seg) {
            vlog.remove(seg)?;
        }
    }
    Ok(Loaded {
        pager,
        tree,
        vlog,
        vlog_stats,
    })
}

/// Replays the WAL after the checkpoint into a memtable, flushing it into the tree as it fills
/// so memory stays bounded, then opens the WAL for appending.
pub(super) fn replay(dir: &Path, opts: &Options, loaded: Loaded) -> Result<Recovered> {
    let Loaded {
        pager,
        mut tree,
        vlog,
        vlog_stats,
    } = loaded;
    let checkpoint = tree.meta().checkpoint;
    let mut memtable = Arc::new(Memtable::default());
    let mut state = TreeState {
        vlog_stats,
        pending_removals: Vec::new(),
        damaged_segments: BTreeSet::new(),
    };
    let outcome = wal::replay(dir, checkpoint, |record| {
        memtable.insert(record.seq, &record.ops);
        if memtable.bytes() >= opts.memtable_bytes {
            let mut c = stored::Compression::default();
            tree = maintenance::flush_memtable(
                &pager, &vlog, opts, &mut state, &tree, &memtable, &mut c,
            )?;
            memtable = Arc::new(Memtable::default());
        }
        Ok(())
    })?;
    let wal = Wal::create(dir, outcome.last_seq, opts.wal_segment_bytes)?;
    if !opts.retain_log {
        wal.remove_covered(tree.meta().checkpoint)?;
    }
    Ok(Recovered {
        pager,
        vlog,
        tree,
        memtable,
        state,
        wal,
        outcome,
    })
}
