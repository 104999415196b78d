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

    /// Keeps every log record after `seq` for [`Db::read_log`] (a replica's position), or
    /// lets checkpoints trim the log freely again (`None`).
    pub fn retain_log_after(&self, seq: Option<u64>) {
        self.inner.log_retention.store(
            seq.unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Release,
        );
    }

    /// Up to `limit` committed batches after sequence number `after`, oldest first. Fails with
    /// [`Error::LogTruncated`] once the log no longer holds `after + 1` (the replica must
    /// restart from a backup).
    pub fn read_log(&self, after: u64, limit: usize) -> Result<Vec<LogRecord>> {
        let visible = self.last_seq();
        if after >= visible {
            return Ok(Vec::new());
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
        let inner = &self.inner;
        inner.wait_for_room()?;
        let mut w = inner.write.lock();
        if record.seq <= w.seq {
            return Ok(false);
        }
        if record.seq != w.seq + 1 {
            return Err(Error::LogGap {
                seq: record.seq,
                applied: w.seq,
            });
        }
        let seq = inner.append_locked(&mut w, &record.ops, Some(record.commit_ms))?;
        inner.complete_commit(seq)?;
        if record
            .ops
            .iter()
            .any(|op| op.key.first() == Some(&keys::CATALOG))
        {
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
        Ok(true)
    }
}
