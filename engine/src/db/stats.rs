//! Engine statistics for the server's metrics.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use super::Inner;

/// Counters updated by the engine's workers.
#[derive(Default)]
pub(crate) struct Counters {
    pub flushes: AtomicU64,
    pub gc_runs: AtomicU64,
    pub gc_reclaimed_bytes: AtomicU64,
    pub compressed_raw_bytes: AtomicU64,
    pub compressed_stored_bytes: AtomicU64,
    pub writes: AtomicU64,
}

/// A point-in-time copy of the engine's counters and sizes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// The newest visible sequence number.
    pub visible_seq: u64,
    /// Every batch up to this sequence number is in the B+tree.
    pub checkpoint_seq: u64,
    /// Documents, over every store.
    pub documents: u64,
    /// Committed write batches since open.
    pub write_batches: u64,
    /// WAL syncs since open.
    pub wal_syncs: u64,
    /// Batches covered by those syncs (their ratio is the mean group-commit size).
    pub wal_synced_batches: u64,
    /// Bytes held in memtables.
    pub memtable_bytes: u64,
    /// Memtables waiting for their flush.
    pub frozen_memtables: u64,
    /// Memtable flushes since open.
    pub flushes: u64,
    /// Page-cache hits and misses since open.
    pub cache_hits: u64,
    /// Page-cache misses since open.
    pub cache_misses: u64,
    /// Size of the data file in bytes.
    pub data_file_bytes: u64,
    /// Free pages in the data file, reused before it grows.
    pub free_pages: u64,
    /// Bytes in value-log segments.
    pub vlog_bytes: u64,
    /// Of those, bytes no longer referenced (reclaimed by GC).
    pub vlog_dead_bytes: u64,
    /// GC passes and bytes they reclaimed since open.
    pub gc_runs: u64,
    /// Bytes reclaimed by GC since open.
    pub gc_reclaimed_bytes: u64,
    /// Bytes before compression, of bodies stored compressed since open.
    pub compressed_raw_bytes: u64,
    /// Bytes after compression, of the same bodies.
    pub compressed_stored_bytes: u64,
    /// Whether the engine has failed and refuses writes until it is reopened.
    pub failed: bool,
}

impl Stats {
    /// Cache hit rate in [0, 1].
    pub fn cache_hit_rate(&self) -> f64 {
        let total = self.cache_hits + self.cache_misses;
        if total == 0 {
            1.0
        } else {
            self.cache_hits as f64 / total as f64
        }
    }

    /// Compression ratio (raw / stored) of compressed bodies; 1 when nothing was compressed.
    pub fn compression_ratio(&self) -> f64 {
        if self.compressed_stored_bytes == 0 {
            1.0
        } else {
            self.compressed_raw_bytes as f64 / self.compressed_stored_bytes as f64
        }
    }
}

impl Inner {
    pub(crate) fn stats(self: &Arc<Self>) -> Stats {
        let state = self.read.load_full();
        let pages = self.pager.stats();
        let syncs = self.wal.sync_stats();
        let (vlog_bytes, vlog_dead_bytes) = self
            .tree
            .lock()
            .vlog_stats
            .values()
            .fold((0, 0), |(t, d), s| (t + s.written, d + s.dead));
        let snap = self.snapshot();
        let documents = state
            .catalog
            .all_stores()
            .filter_map(|s| snap.count(&s.space, &s.name).ok())
            .sum();
        let c = &self.counters;
        Stats {
            visible_seq: self.visible.load(Ordering::Acquire),
            checkpoint_seq: state.tree.meta().checkpoint,
            documents,
            write_batches: c.writes.load(Ordering::Relaxed),
            wal_syncs: syncs.syncs,
            wal_synced_batches: syncs.records,
            memtable_bytes: state.memtables().map(|m| m.bytes() as u64).sum(),
            frozen_memtables: state.frozen.len() as u64,
            flushes: c.flushes.load(Ordering::Relaxed),
            cache_hits: pages.cache_hits,
            cache_misses: pages.cache_misses,
            data_file_bytes: pages.page_count * crate::btree::PAGE_SIZE as u64,
            free_pages: pages.free_pages,
            vlog_bytes,
            vlog_dead_bytes,
            gc_runs: c.gc_runs.load(Ordering::Relaxed),
            gc_reclaimed_bytes: c.gc_reclaimed_bytes.load(Ordering::Relaxed),
            compressed_raw_bytes: c.compressed_raw_bytes.load(Ordering::Relaxed),
            compressed_stored_bytes: c.compressed_stored_bytes.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Acquire),
        }
    }
}
