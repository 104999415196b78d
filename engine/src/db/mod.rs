//! The engine handle: opening, the commit path, snapshots and the background workers.
//!
//! Writes: a batch is prepared and committed under one write lock (the WAL append and the
//! memtable insert happen there, in sequence order), then the writer waits outside the lock for
//! a group-commit sync. A batch becomes visible to readers only once it is durable, so readers
//! never see a write that a crash could take back.
//!
//! Reads: a [`Snapshot`] is the visible sequence number plus an immutable [`ReadState`]
//! (catalog, memtables, tree version). Taking one is two atomic loads; readers never wait.

mod backup;
mod catalog;
mod ddl;
mod iter;
mod lock;
mod maintenance;
mod open;
mod query;
mod replication;
mod snapshot;
mod stats;
mod stored;
mod txn;
mod vlog_stats;
mod write;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex, MutexGuard};
use tracing::{error, info};

pub use backup::{BackupFile, BackupInfo, BackupSource, StoreCount};
pub use catalog::{IndexInfo, SpaceInfo, StoreInfo};
pub use query::QueryFailure;
pub use replication::LogRecord;
pub use snapshot::{DocIter, Snapshot};
pub use stats::Stats;
pub use write::{Update, Write, WriteResult};

use crate::{
    btree::{Pager, TreeVersion},
    error::{Error, Result},
    kv::{KvOp, Seq},
    memtable::Memtable,
    options::{Options, SyncMode},
    vlog::ValueLog,
    wal::{self, Wal},
};
use catalog::Catalog;
use lock::DirLock;
use vlog_stats::SegmentStats;

/// A function told the new visible sequence number after batches become visible.
pub type VisibleHook = Box<dyn Fn(u64) + Send + Sync>;

/// What readers see: everything needed to read one consistent state.
pub(crate) struct ReadState {
    pub catalog: Arc<Catalog>,
    pub active: Arc<Memtable>,
    /// Frozen memtables waiting for their flush, newest first.
    pub frozen: Vec<Arc<Memtable>>,
    pub tree: Arc<TreeVersion>,
}

impl ReadState {
    /// Every memtable, newest first.
    pub fn memtables(&self) -> impl Iterator<Item = &Arc<Memtable>> {
        std::iter::once(&self.active).chain(self.frozen.iter())
    }
}

/// State only the writer holding the write lock touches.
pub(crate) struct WriteState {
    /// The last sequence number assigned.
    pub seq: Seq,
    /// The commit time of that batch, milliseconds since the Unix epoch: the next batch's is
    /// never earlier.
    pub commit_ms: u64,
}

/// Value-log bookkeeping, guarded with the tree: only flushes and GC change either.
pub(crate) struct TreeState {
    /// Per segment: bytes written and bytes no longer referenced.
    pub vlog_stats: BTreeMap<u32, SegmentStats>,
    /// Segments to delete once no reader holds a tree older than the generation.
    pub pending_removals: Vec<(u64, u32)>,
    /// Segments garbage collection found damaged: kept as they are and not collected again
    /// (their readable records are still served; the damage is reported once).
    pub damaged_segments: BTreeSet<u32>,
}

struct Background {
    flush_wanted: bool,
    shutdown: bool,
}

/// Everything the handle and the background threads share.
pub(crate) struct Inner {
    dir: PathBuf,
    opts: Options,
    wal: Wal,
    pager: Arc<Pager>,
    vlog: Arc<ValueLog>,
    write: Mutex<WriteState>,
    commits: Mutex<write::CommitQueue>,
    read: ArcSwap<ReadState>,
    visible: AtomicU64,
    /// WAL records after this sequence number are kept for replicas (`u64::MAX`: none).
    log_retention: AtomicU64,
    /// Named holds on the log (a replica's or the archive's position): `log_retention` is
    /// their minimum.
    log_holds: Mutex<BTreeMap<String, u64>>,
    /// Local writes are refused: only another engine's log is applied.
    read_only: AtomicBool,
    /// The newest batches in memory, for replicas near the tail ([`Db::keep_log_tail`]).
    tail: Mutex<replication::Tail>,
    /// Called with the new visible sequence number after batches become visible.
    on_visible: arc_swap::ArcSwapOption<VisibleHook>,
    tree: Mutex<TreeState>,
    failure: Mutex<Option<String>>,
    failed: AtomicBool,
    bg: Mutex<Background>,
    bg_cond: Condvar,
    stall: Mutex<()>,
    stall_cond: Condvar,
    counters: stats::Counters,
    distinct: query::DistinctCache,
    /// Last, so it is released after everything else has been closed.
    _lock: DirLock,
}

/// An open ShinyDB engine. Cheap to share: clone the `Arc` it lives in.
pub struct Db {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Db {
    /// Opens (or creates) the engine in directory `dir`, recovering from the WAL.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let dir = dir.as_ref().to_path_buf();
        let started = Instant::now();
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let lock = DirLock::acquire(&dir)?;

        let loaded = open::load(&dir, &opts)?;
        let open::Recovered {
            pager,
            vlog,
            tree,
            memtable,
            state,
            wal,
            outcome,
        } = open::replay(&dir, &opts, loaded)?;

        let read = ReadState {
            catalog: Arc::new(Catalog::default()),
            active: memtable,
            frozen: Vec::new(),
            tree,
        };
        let catalog = snapshot::load_catalog(&read, &vlog)?;
        let read = ReadState {
            catalog: Arc::new(catalog),
            ..read
        };
        let inner = Arc::new(Inner {
            dir,
            wal,
            pager,
            vlog,
            write: Mutex::new(WriteState {
                seq: outcome.last_seq,
                commit_ms: outcome.last_commit_ms,
            }),
            commits: Mutex::new(write::CommitQueue::default()),
            read: ArcSwap::from_pointee(read),
            visible: AtomicU64::new(outcome.last_seq),
            log_retention: AtomicU64::new(if opts.retain_log { 0 } else { u64::MAX }),
            log_holds: Mutex::new(BTreeMap::new()),
            read_only: AtomicBool::new(opts.read_only),
            on_visible: arc_swap::ArcSwapOption::empty(),
            tail: Mutex::new(replication::Tail::default()),
            tree: Mutex::new(state),
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
            bg: Mutex::new(Background {
                flush_wanted: false,
                shutdown: false,
            }),
            bg_cond: Condvar::new(),
            stall: Mutex::new(()),
            stall_cond: Condvar::new(),
            counters: stats::Counters::default(),
            distinct: query::DistinctCache::default(),
            opts,
            _lock: lock,
        });
        info!(
            dir = %inner.dir.display(),
            replayed = outcome.applied,
            truncated_bytes = outcome.truncated_bytes,
            last_seq = outcome.last_seq,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "engine opened"
        );
        let db = Db {
            threads: Mutex::new(Vec::new()),
            inner,
        };
        db.start_background()?;
        if db.inner.opts.drop_unfinished_indexes && !db.inner.opts.read_only {
            db.drop_unfinished_indexes()?;
        }
        Ok(db)
    }

    fn start_background(&self) -> Result<()> {
        let mut threads = self.threads.lock();
        let inner = Arc::clone(&self.inner);
        threads.push(spawn("shinydb-flush", move || inner.flush_loop())?);
        if let Some(every) = self.inner.opts.gc_interval {
            let inner = Arc::clone(&self.inner);
            threads.push(spawn("shinydb-gc", move || {
                inner.periodic(every, Inner::gc_tick);
            })?);
        }
        if let SyncMode::Interval(every) = self.inner.opts.sync {
            let inner = Arc::clone(&self.inner);
            threads.push(spawn("shinydb-sync", move || {
                inner.periodic(every, |i| {
                    if let Err(e) = i.wal.sync_all_written() {
                        i.fail(&e);
                    }
                });
            })?);
        }
        Ok(())
    }

    /// A consistent read-only view of the current state.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }

    /// Flushes every memtable into the B+tree (a checkpoint), so the WAL can be trimmed.
    pub fn checkpoint(&self) -> Result<()> {
        self.inner.check_failed()?;
        let upto = {
            let w = self.inner.write.lock();
            self.inner.rotate_memtable();
            w.seq
        };
        self.inner.flush_upto(upto)
    }

    /// Runs garbage collection now: purges dropped stores and rewrites value-log segments that
    /// are mostly garbage. Returns the bytes reclaimed.
    pub fn gc(&self) -> Result<u64> {
        self.inner.check_failed()?;
        self.inner.purge_dropped()?;
        self.inner.collect_vlog()
    }

    /// Why the engine failed, if it did: it then refuses writes until it is reopened (a write
    /// or sync error it could not make durable).
    pub fn failure(&self) -> Option<String> {
        if !self.inner.failed.load(Ordering::Acquire) {
            return None;
        }
        Some(self.inner.failure.lock().clone().unwrap_or_default())
    }

    /// Counters and sizes, for metrics.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// The directory the engine lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops the background workers, checkpoints, and syncs everything.
    pub fn close(self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<()> {
        {
            let mut bg = self.inner.bg.lock();
            bg.shutdown = true;
            self.inner.bg_cond.notify_all();
        }
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
        if self.inner.failed.load(Ordering::Acquire) {
            return self.inner.check_failed();
        }
        self.inner.wal.sync_all_written()?;
        let upto = {
            let w = self.inner.write.lock();
            self.inner.rotate_memtable();
            w.seq
        };
        self.inner.flush_upto(upto)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            error!(error = %e, "closing the engine failed");
        }
    }
}

/// The wall clock in milliseconds since the Unix epoch (0 before it).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| Error::io(format!("starting thread {name}"), e))
}

impl Inner {
    pub(crate) fn snapshot(self: &Arc<Self>) -> Snapshot {
        // Load the sequence number first: the state loaded after it holds every batch up to it.
        let seq = self.visible.load(Ordering::Acquire);
        let state = self.read.load_full();
        Snapshot::new(Arc::clone(self), state, seq)
    }

    /// A view of the newest state including batches not yet durable: for writers holding the
    /// write lock (index maintenance, uniqueness checks).
    pub(crate) fn latest(self: &Arc<Self>, _w: &MutexGuard<'_, WriteState>) -> Snapshot {
        Snapshot::new(Arc::clone(self), self.read.load_full(), Seq::MAX)
    }

    pub(crate) fn check_failed(&self) -> Result<()> {
        if self.failed.load(Ordering::Acquire) {
            let why = self.failure.lock().clone().unwrap_or_default();
            return Err(Error::Failed(why));
        }
        Ok(())
    }

    /// Puts the engine into the failed state: it refuses writes until reopened.
    pub(crate) fn fail(&self, e: &Error) {
        let mut f = self.failure.lock();
        if f.is_none() {
            error!(error = %e, "the engine failed and now refuses writes");
            *f = Some(e.to_string());
        }
        self.failed.store(true, Ordering::Release);
        self.stall_cond.notify_all();
    }

    /// Holds writers back while too many memtables wait for their flush.
    pub(crate) fn wait_for_room(&self) -> Result<()> {
        loop {
            self.check_failed()?;
            if self.read.load().frozen.len() <= self.opts.max_frozen_memtables {
                return Ok(());
            }
            let mut g = self.stall.lock();
            self.stall_cond.wait_for(&mut g, Duration::from_millis(10));
        }
    }

    /// Appends `ops` as the next batch under the write lock, committed now or, for a batch
    /// from another engine's log, at `commit_ms`. The batch is not yet durable.
    pub(crate) fn append_locked(
        &self,
        w: &mut MutexGuard<'_, WriteState>,
        ops: &[KvOp],
        commit_ms: Option<u64>,
    ) -> Result<Seq> {
        self.check_failed()?;
        // The record format's length field and the reader's sanity bound: a batch past it would
        // be acknowledged and then read back as damage at the next open.
        let bytes = wal::payload_len(ops);
        if bytes > wal::MAX_PAYLOAD {
            return Err(Error::LimitExceeded(format!(
                "a batch of {bytes} bytes exceeds the log's record limit of {} bytes",
                wal::MAX_PAYLOAD
            )));
        }
        if commit_ms.is_none() && self.read_only.load(Ordering::Acquire) {
            return Err(Error::ReadOnly);
        }
        let seq = w.seq + 1;
        let commit_ms = commit_ms.unwrap_or_else(now_ms).max(w.commit_ms);
        if let Err(e) = self.wal.append(seq, commit_ms, ops) {
            self.fail(&e);
            return Err(e);
        }
        self.tail.lock().push(seq, commit_ms, ops);
        let state = self.read.load();
        state.active.insert(seq, ops);
        w.seq = seq;
        w.commit_ms = commit_ms;
        if self.opts.sync != SyncMode::Sync {
            self.make_visible(seq);
        }
        if state.active.bytes() >= self.opts.memtable_bytes {
            drop(state);
            self.rotate_memtable();
        }
        Ok(seq)
    }

    /// Waits until batch `seq` is durable (in `Sync` mode), then makes it visible.
    pub(crate) fn complete_commit(&self, seq: Seq) -> Result<()> {
        if self.opts.sync == SyncMode::Sync
            && let Err(e) = self.wal.wait_durable(seq)
        {
            self.fail(&e);
            return Err(e);
        }
        self.make_visible(seq);
        Ok(())
    }

    /// Makes every batch up to `seq` visible and tells the hook.
    fn make_visible(&self, seq: Seq) {
        let before = self.visible.fetch_max(seq, Ordering::AcqRel);
        if seq > before
            && let Some(hook) = &*self.on_visible.load()
        {
            hook(seq);
        }
    }

    /// Commits a catalog change: durable and visible, with the new catalog published, before the
    /// write lock is released.
    pub(crate) fn commit_catalog(
        &self,
        w: &mut MutexGuard<'_, WriteState>,
        ops: &[KvOp],
        catalog: Catalog,
    ) -> Result<Seq> {
        let seq = self.append_locked(w, ops, None)?;
        self.complete_commit(seq)?;
        let cur = self.read.load();
        self.read.store(Arc::new(ReadState {
            catalog: Arc::new(catalog),
            active: Arc::clone(&cur.active),
            frozen: cur.frozen.clone(),
            tree: Arc::clone(&cur.tree),
        }));
        Ok(seq)
    }

    /// Freezes the active memtable (callers hold the write lock) and wakes the flusher.
    pub(crate) fn rotate_memtable(&self) {
        let cur = self.read.load();
        if cur.active.is_empty() {
            return;
        }
        let mut frozen = Vec::with_capacity(cur.frozen.len() + 1);
        frozen.push(Arc::clone(&cur.active));
        frozen.extend(cur.frozen.iter().cloned());
        self.read.store(Arc::new(ReadState {
            catalog: Arc::clone(&cur.catalog),
            active: Arc::new(Memtable::default()),
            frozen,
            tree: Arc::clone(&cur.tree),
        }));
        let mut bg = self.bg.lock();
        bg.flush_wanted = true;
        self.bg_cond.notify_all();
    }

    fn flush_loop(self: Arc<Self>) {
        loop {
            {
                let mut bg = self.bg.lock();
                if !bg.flush_wanted && !bg.shutdown {
                    self.bg_cond.wait_for(&mut bg, Duration::from_millis(500));
                }
                if bg.shutdown {
                    return;
                }
                bg.flush_wanted = false;
            }
            if self.failed.load(Ordering::Acquire) {
                continue;
            }
            if let Err(e) = self
                .flush_upto(Seq::MAX)
                .and_then(|()| self.purge_dropped())
            {
                self.fail(&e);
            }
        }
    }

    fn periodic(self: Arc<Self>, every: Duration, f: impl Fn(&Arc<Inner>)) {
        loop {
            {
                let mut bg = self.bg.lock();
                if !bg.shutdown {
                    self.bg_cond.wait_for(&mut bg, every);
                }
                if bg.shutdown {
                    return;
                }
            }
            if !self.failed.load(Ordering::Acquire) {
                f(&self);
            }
        }
    }

    fn gc_tick(self: &Arc<Self>) {
        match self.collect_vlog() {
            Ok(_) => {}
            // A damaged segment is kept and skipped from now on; the rest goes on.
            Err(e @ Error::Corruption { .. }) => error!(error = %e, "garbage collection"),
            Err(e) => self.fail(&e),
        }
    }
}
