//! Background work on the tree: memtable flushes, purging dropped stores, value-log GC.
//!
//! All of it runs under the tree lock, one transaction at a time, and publishes each new tree
//! version under the write lock. Every step is one atomic tree commit: a crash at any point
//! leaves either the old or the new version, never a mix.

use std::{collections::BTreeSet, ops::Bound, sync::Arc, sync::atomic::Ordering};

use tracing::{debug, info};

use super::{Inner, ReadState, TreeState, catalog::dropped_key, stored};
use crate::{
    btree::{Pager, TreeVersion, TreeWriter},
    error::{Error, Result},
    keys,
    kv::{KvOp, Seq},
    memtable::Memtable,
    options::{Options, SyncMode},
    vlog::ValueLog,
};

/// Documents relocated per GC transaction.
const GC_CHUNK: usize = 2048;
/// Keys purged per transaction when a dropped store is cleaned up.
const PURGE_CHUNK: usize = 4096;

/// Applies `ops` (sorted, unique keys) to `base`, keeping value-log statistics exact, and
/// commits with `checkpoint`.
pub(crate) fn commit_tree(
    pager: &Arc<Pager>,
    state: &mut TreeState,
    base: &TreeVersion,
    ops: &[KvOp],
    mut touched: BTreeSet<u32>,
    extra: Vec<KvOp>,
    checkpoint: Seq,
) -> Result<Arc<TreeVersion>> {
    let mut w = TreeWriter::new(pager, base.meta());
    let mut dead = Vec::new();
    w.apply(ops, &mut |k, old| {
        if k.first() == Some(&keys::DOC)
            && let Some(p) = stored::pointer(old)
        {
            dead.push(p);
        }
    })?;
    for p in dead {
        if let Some(s) = state.vlog_stats.get_mut(&p.segment) {
            s.dead += u64::from(p.len);
            touched.insert(p.segment);
        }
    }
    let mut stats_ops: Vec<KvOp> = touched
        .iter()
        .filter_map(|seg| state.vlog_stats.get(seg).map(|s| s.put_op(*seg)))
        .collect();
    stats_ops.extend(extra);
    stats_ops.sort_by(|a, b| a.key.cmp(&b.key));
    w.apply(&stats_ops, &mut |_, _| {})?;
    let meta = w.commit(checkpoint)?;
    Ok(TreeVersion::new(Arc::clone(pager), meta))
}

/// Writes the newest version of every key of `mem` into the tree.
pub(crate) fn flush_memtable(
    pager: &Arc<Pager>,
    vlog: &ValueLog,
    opts: &Options,
    state: &mut TreeState,
    tree: &TreeVersion,
    mem: &Memtable,
    compression: &mut stored::Compression,
) -> Result<Arc<TreeVersion>> {
    let mut ops = mem.latest();
    let mut touched = BTreeSet::new();
    for op in &mut ops {
        if op.key.first() != Some(&keys::DOC) {
            continue;
        }
        if let Some(v) = &op.value {
            let (s, pointer) = stored::encode(&op.key, v, opts, vlog, compression)?;
            if let Some(p) = pointer {
                state.vlog_stats.entry(p.segment).or_default().written += u64::from(p.len);
                touched.insert(p.segment);
            }
            op.value = Some(s.into());
        }
    }
    if !touched.is_empty() {
        vlog.sync()?;
    }
    commit_tree(pager, state, tree, &ops, touched, Vec::new(), mem.max_seq())
}

impl Inner {
    /// Replaces the published tree (callers hold the tree lock), dropping flushed memtables.
    fn publish_tree(&self, tree: Arc<TreeVersion>, flushed: Option<&Arc<Memtable>>) {
        let _w = self.write.lock();
        let cur = self.read.load();
        let frozen = cur
            .frozen
            .iter()
            .filter(|m| flushed.is_none_or(|f| !Arc::ptr_eq(m, f)))
            .cloned()
            .collect();
        self.read.store(Arc::new(ReadState {
            catalog: Arc::clone(&cur.catalog),
            active: Arc::clone(&cur.active),
            frozen,
            tree,
        }));
    }

    /// Flushes frozen memtables, oldest first, until none holds a batch at or below `upto`.
    pub(crate) fn flush_upto(&self, upto: Seq) -> Result<()> {
        loop {
            let mut ts = self.tree.lock();
            let cur = self.read.load_full();
            let Some(mem) = cur.frozen.last().cloned() else {
                return Ok(());
            };
            if cur.tree.meta().checkpoint >= upto {
                return Ok(());
            }
            if self.opts.sync == SyncMode::Sync {
                self.wal.wait_durable(mem.max_seq())?;
            }
            let mut c = stored::Compression::default();
            let tree = flush_memtable(
                &self.pager,
                &self.vlog,
                &self.opts,
                &mut ts,
                &cur.tree,
                &mem,
                &mut c,
            )?;
            let checkpoint = tree.meta().checkpoint;
            self.publish_tree(tree, Some(&mem));
            self.counters.flushes.fetch_add(1, Ordering::Relaxed);
            self.counters
                .compressed_raw_bytes
                .fetch_add(c.raw, Ordering::Relaxed);
            self.counters
                .compressed_stored_bytes
                .fetch_add(c.stored, Ordering::Relaxed);
            self.stall_cond.notify_all();
            debug!(checkpoint, "memtable flushed");
            let keep_after = self.log_retention.load(Ordering::Acquire);
            self.wal.remove_covered(checkpoint.min(keep_after))?;
            self.remove_dead_segments(&mut ts)?;
        }
    }

    /// Deletes the keys of dropped stores and indexes once the tree holds everything written
    /// before the drop, then forgets the drop.
    pub(crate) fn purge_dropped(&self) -> Result<()> {
        let state = self.read.load_full();
        let checkpoint = state.tree.meta().checkpoint;
        let ready: Vec<_> = state
            .catalog
            .dropped
            .iter()
            .filter(|d| d.seq <= checkpoint)
            .cloned()
            .collect();
        drop(state);
        for d in ready {
            let hi = keys::prefix_successor(&d.prefix).map_or(Bound::Unbounded, Bound::Excluded);
            let mut purged = 0usize;
            loop {
                let mut ts = self.tree.lock();
                let cur = self.read.load_full();
                let batch = cur.tree.range(
                    Bound::Included(&d.prefix),
                    hi.as_ref().map(std::vec::Vec::as_slice),
                    false,
                    PURGE_CHUNK,
                )?;
                if batch.is_empty() {
                    break;
                }
                purged += batch.len();
                let ops: Vec<KvOp> = batch.into_iter().map(|(k, _)| KvOp::delete(k)).collect();
                let tree = commit_tree(
                    &self.pager,
                    &mut ts,
                    &cur.tree,
                    &ops,
                    BTreeSet::new(),
                    Vec::new(),
                    checkpoint,
                )?;
                self.publish_tree(tree, None);
            }
            // A replica forgets the drop when the leader's own record of it arrives: its log
            // holds only the leader's batches.
            if self.read_only.load(Ordering::Acquire) {
                continue;
            }
            let mut w = self.write.lock();
            let mut catalog = (*self.read.load().catalog).clone();
            catalog.dropped.retain(|x| x.prefix != d.prefix);
            self.commit_catalog(&mut w, &[KvOp::delete(dropped_key(&d.prefix))], catalog)?;
            info!(keys = purged, "purged a dropped store or index");
        }
        Ok(())
    }

    /// Rewrites value-log segments that are mostly garbage; returns the bytes reclaimed.
    pub(crate) fn collect_vlog(&self) -> Result<u64> {
        self.counters.gc_runs.fetch_add(1, Ordering::Relaxed);
        let candidates: Vec<u32> = {
            let ts = self.tree.lock();
            let ratio = self.opts.gc_dead_ratio;
            let picked: Vec<u32> = ts
                .vlog_stats
                .iter()
                .filter(|(_, s)| s.written > 0 && s.dead as f64 >= ratio * s.written as f64)
                .map(|(s, _)| *s)
                .filter(|s| !ts.damaged_segments.contains(s))
                .collect();
            if picked.contains(&self.vlog.active_segment()) {
                self.vlog.rotate()?;
            }
            picked
        };
        let mut reclaimed = 0;
        let mut damage = None;
        for seg in candidates {
            let records = self.vlog.records(seg)?;
            // Reading stops at the first record that does not parse (a torn, uncommitted tail
            // is normal). If the records read hold fewer bytes than were committed to the
            // segment, the damage is in the middle and live records may follow it: removing the
            // segment would lose them, so it is kept and never collected.
            let readable: u64 = records.iter().map(|r| u64::from(r.pointer.len)).sum();
            let committed = self
                .tree
                .lock()
                .vlog_stats
                .get(&seg)
                .map_or(0, |s| s.written);
            if readable < committed {
                let at = records
                    .last()
                    .map_or(0, |r| r.pointer.offset + u64::from(r.pointer.len));
                self.tree.lock().damaged_segments.insert(seg);
                damage.get_or_insert(Error::corruption(
                    self.vlog.segment_path(seg),
                    format!(
                        "value-log segment {seg} is damaged after offset {at}: {readable} of its \
                         {committed} committed bytes are readable; it is kept and not collected"
                    ),
                ));
                continue;
            }
            for chunk in records.chunks(GC_CHUNK) {
                let mut ts = self.tree.lock();
                let cur = self.read.load_full();
                let w = TreeWriter::new(&self.pager, cur.tree.meta());
                let mut ops = Vec::new();
                let mut touched = BTreeSet::new();
                for rec in chunk {
                    let live = w
                        .get(&rec.key)?
                        .is_some_and(|v| stored::pointer(&v) == Some(rec.pointer));
                    if live {
                        let p = self.vlog.append_raw(&rec.raw)?;
                        ts.vlog_stats.entry(p.segment).or_default().written += u64::from(p.len);
                        touched.insert(p.segment);
                        ops.push(KvOp::put(rec.key.clone(), stored::with_pointer(p)));
                    }
                }
                drop(w);
                if ops.is_empty() {
                    continue;
                }
                self.vlog.sync()?;
                ops.sort_by(|a, b| a.key.cmp(&b.key));
                let checkpoint = cur.tree.meta().checkpoint;
                let tree = commit_tree(
                    &self.pager,
                    &mut ts,
                    &cur.tree,
                    &ops,
                    touched,
                    Vec::new(),
                    checkpoint,
                )?;
                self.publish_tree(tree, None);
            }
            let mut ts = self.tree.lock();
            let cur = self.read.load_full();
            let gone = ts.vlog_stats.remove(&seg).unwrap_or_default();
            let forget = vec![KvOp::delete(keys::vlog_stats_key(seg))];
            let checkpoint = cur.tree.meta().checkpoint;
            let tree = commit_tree(
                &self.pager,
                &mut ts,
                &cur.tree,
                &[],
                BTreeSet::new(),
                forget,
                checkpoint,
            )?;
            let generation = tree.meta().generation;
            self.publish_tree(tree, None);
            ts.pending_removals.push((generation, seg));
            reclaimed += gone.dead.min(gone.written);
            self.remove_dead_segments(&mut ts)?;
        }
        self.counters
            .gc_reclaimed_bytes
            .fetch_add(reclaimed, Ordering::Relaxed);
        if reclaimed > 0 {
            info!(bytes = reclaimed, "value-log garbage collected");
        }
        match damage {
            Some(e) => Err(e),
            None => Ok(reclaimed),
        }
    }

    /// Deletes segments no reader can reach any more.
    fn remove_dead_segments(&self, ts: &mut TreeState) -> Result<()> {
        let oldest = self.pager.oldest_pinned();
        let (ready, waiting): (Vec<_>, Vec<_>) = ts
            .pending_removals
            .drain(..)
            .partition(|(generation, _)| oldest.is_none_or(|o| o >= *generation));
        ts.pending_removals = waiting;
        for (_, seg) in ready {
            self.vlog.remove(seg)?;
        }
        Ok(())
    }
}
