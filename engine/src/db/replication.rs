//! What replicas need: the log by sequence number, and applying another engine's log.

use std::sync::Arc;

use super::{Db, ReadState, snapshot};
use crate::{
    error::{Error, Result},
    keys, wal,
};

pub use crate::wal::LogRecord;

impl Db {
    /// The sequence number of the newest visible batch.
    pub fn last_seq(&self) -> u64 {
        self.inner
            .visible
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The sequence number of the oldest batch the local log still holds, if any: what
    /// [`Db::read_log`] can start from (`first - 1`).
    pub fn first_log_seq(&self) -> Result<Option<u64>> {
        Ok(wal::read_records(&self.inner.dir, 0, 1)?
            .first()
            .map(LogRecord::seq))
    }

    /// Bytes of log on the local disk (every segment, including those a checkpoint covers but
    /// [`Db::retain_log_after`] keeps).
    pub fn log_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for (_, path) in wal::list_segments(&self.inner.dir)? {
            match std::fs::metadata(&path) {
                Ok(m) => total += m.len(),
                // A checkpoint removed it since the listing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
            }
        }
        Ok(total)
    }

    /// Keeps every log record after `seq` for [`Db::read_log`], or lets checkpoints trim the
    /// log freely again (`None`): the one-holder form of [`Db::hold_log`].
    pub fn retain_log_after(&self, seq: Option<u64>) {
        self.hold_log("", seq);
    }

    /// Holds the log after `seq` for holder `name` (a replica, the archive), or releases the
    /// hold (`None`). Checkpoints keep every record after the lowest hold. With
    /// [`crate::Options::retain_log`] the whole log is kept until the first hold is set.
    pub fn hold_log(&self, name: &str, seq: Option<u64>) {
        let mut holds = self.inner.log_holds.lock();
        match seq {
            Some(s) => holds.insert(name.to_string(), s),
            None => holds.remove(name),
        };
        self.set_log_floor(&holds);
    }

    /// Up to `limit` committed batches after sequence number `after`, oldest first. Fails with
    /// [`Error::LogTruncated`] once the log no longer holds `after + 1` (the replica must
    /// restart from a backup).
    pub fn read_log(&self, after: u64, limit: usize) -> Result<Vec<LogRecord>> {
        let visible = self.last_seq();
        if after >= visible {
            return Ok(Vec::new());
        }
        if let Some(records) = self.inner.tail.lock().after(after, visible, limit) {
            return Ok(records);
        }
        let records = wal::read_records(&self.inner.dir, after, limit)?;
        match records.first() {
            Some(r) if r.seq == after + 1 => {}
            _ => {
                return Err(Error::LogTruncated { seq: after + 1 });
            }
        }
        Ok(records
            .into_iter()
            .take_while(|r| r.seq <= visible)
            .collect())
    }

    /// Applies a batch from another engine's log. Batches must come in order; one already
    /// applied is skipped (returns false), a gap is [`Error::LogGap`].
    pub fn apply_log(&self, record: &LogRecord) -> Result<bool> {
        let before = self.last_seq();
        Ok(self.apply_logs(std::slice::from_ref(record))? > before)
    }

    /// Applies consecutive batches from another engine's log with one sync for all of them;
    /// those already applied are skipped, a gap is [`Error::LogGap`]. Returns the last
    /// sequence number applied here (durable and visible).
    pub fn apply_logs(&self, records: &[LogRecord]) -> Result<u64> {
        let inner = &self.inner;
        inner.wait_for_room()?;
        let mut w = inner.write.lock();
        let mut last = None;
        let mut catalog_changed = false;
        for record in records {
            if record.seq <= w.seq {
                continue;
            }
            if record.seq != w.seq + 1 {
                return Err(Error::LogGap {
                    seq: record.seq,
                    applied: w.seq,
                });
            }
            last = Some(inner.append_locked(&mut w, &record.ops, Some(record.commit_ms))?);
            catalog_changed |= record
                .ops
                .iter()
                .any(|op| op.key.first() == Some(&keys::CATALOG));
        }
        let Some(seq) = last else {
            return Ok(w.seq);
        };
        inner.complete_commit(seq)?;
        if catalog_changed {
            let cur = inner.read.load_full();
            let catalog = snapshot::load_catalog(&cur, &inner.vlog)?;
            inner.read.store(Arc::new(ReadState {
                catalog: Arc::new(catalog),
                active: Arc::clone(&cur.active),
                frozen: cur.frozen.clone(),
                tree: Arc::clone(&cur.tree),
            }));
        }
        drop(w);
        Ok(seq)
    }

    /// Refuses local writes ([`Error::ReadOnly`]) while `on`: a replica, whose data changes
    /// only by [`Db::apply_log`]. Off, the engine takes writes again (a promotion).
    pub fn set_read_only(&self, on: bool) {
        self.inner
            .read_only
            .store(on, std::sync::atomic::Ordering::Release);
    }

    /// Whether local writes are refused ([`Db::set_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.inner
            .read_only
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Releases every hold whose holder's name starts with `prefix`.
    pub fn release_log_holds(&self, prefix: &str) {
        let mut holds = self.inner.log_holds.lock();
        holds.retain(|name, _| !name.starts_with(prefix));
        self.set_log_floor(&holds);
    }

    /// Checkpoints keep every record after the lowest of `holds`.
    fn set_log_floor(&self, holds: &std::collections::BTreeMap<String, u64>) {
        let floor = holds.values().copied().min().unwrap_or(u64::MAX);
        self.inner
            .log_retention
            .store(floor, std::sync::atomic::Ordering::Release);
    }

    /// Keeps the newest batches, up to `bytes` of operations, in memory, so that
    /// [`Db::read_log`] serves replicas near the tail without reading the log's files
    /// (0: none kept).
    pub fn keep_log_tail(&self, bytes: usize) {
        let mut t = self.inner.tail.lock();
        t.cap = bytes;
        t.trim();
    }

    /// Calls `hook` with the new visible sequence number each time batches become visible
    /// (from the committing thread, so it must be quick: a notification); `None` removes it.
    pub fn on_visible(&self, hook: Option<super::VisibleHook>) {
        self.inner.on_visible.store(hook.map(Arc::new));
    }
}

/// The newest committed batches, oldest first, within a byte budget.
#[derive(Default)]
pub(crate) struct Tail {
    records: std::collections::VecDeque<(LogRecord, usize)>,
    bytes: usize,
    cap: usize,
}

impl Tail {
    /// Adds the batch just appended (a copy; nothing when no budget is set).
    pub(crate) fn push(&mut self, seq: u64, commit_ms: u64, ops: &[crate::kv::KvOp]) {
        if self.cap == 0 {
            return;
        }
        if self.records.back().is_some_and(|(r, _)| r.seq + 1 != seq) {
            // A rolled-back or reopened sequence: start over rather than keep a gap.
            self.records.clear();
            self.bytes = 0;
        }
        let size = wal::payload_len(ops);
        self.records.push_back((
            LogRecord {
                seq,
                commit_ms,
                ops: ops.to_vec(),
            },
            size,
        ));
        self.bytes += size;
        self.trim();
    }

    fn trim(&mut self) {
        while self.bytes > self.cap
            && let Some((_, size)) = self.records.pop_front()
        {
            self.bytes -= size;
        }
    }

    /// Up to `limit` batches after `after` and at most `visible`, if the tail reaches back to
    /// `after + 1`.
    fn after(&self, after: u64, visible: u64, limit: usize) -> Option<Vec<LogRecord>> {
        let first = self.records.front()?.0.seq;
        if first > after + 1 {
            return None;
        }
        let skip = usize::try_from(after + 1 - first).ok()?;
        if skip >= self.records.len() {
            return None;
        }
        Some(
            self.records
                .iter()
                .skip(skip)
                .take(limit)
                .take_while(|(r, _)| r.seq <= visible)
                .map(|(r, _)| r.clone())
                .collect(),
        )
    }
}
