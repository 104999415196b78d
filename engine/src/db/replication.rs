//! What replicas need: the log by sequence number, and applying another engine's log.

use std::sync::Arc;

use super::{Db, ReadState, snapshot};
use crate::{
    error::{Error, Result},
    keys,
    kv::{KvOp, Seq},
    wal,
};

/// One committed batch, as shipped from a primary to a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    seq: Seq,
    ops: Vec<KvOp>,
}

impl LogRecord {
    /// The batch's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The record's wire form (the WAL record format, checksummed).
    pub fn to_bytes(&self) -> Vec<u8> {
        wal::encode_record(self.seq, &self.ops)
    }

    /// Reads a record from its wire form, checking its checksum.
    pub fn from_bytes(b: &[u8]) -> Result<LogRecord> {
        let (seq, ops) = wal::decode_record(b)?;
        Ok(LogRecord { seq, ops })
    }
}

impl Db {
    /// The sequence number of the newest visible batch.
    pub fn last_seq(&self) -> u64 {
        self.inner
            .visible
            .load(std::sync::atomic::Ordering::Acquire)
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
    /// `FailedPrecondition` once the log no longer holds `after + 1` (the replica must restart
    /// from a backup).
    pub fn read_log(&self, after: u64, limit: usize) -> Result<Vec<LogRecord>> {
        let visible = self.last_seq();
        if after >= visible {
            return Ok(Vec::new());
        }
        let records = wal::read_records(&self.inner.dir, after, limit)?;
        match records.first() {
            Some((seq, _)) if *seq == after + 1 => {}
            _ => {
                return Err(Error::FailedPrecondition(format!(
                    "the log no longer holds sequence number {}; restore from a backup first",
                    after + 1
                )));
            }
        }
        Ok(records
            .into_iter()
            .take_while(|(seq, _)| *seq <= visible)
            .map(|(seq, ops)| LogRecord { seq, ops })
            .collect())
    }

    /// Applies a batch from another engine's log. Batches must come in order; one already
    /// applied is skipped (returns false), a gap is an error.
    pub fn apply_log(&self, record: &LogRecord) -> Result<bool> {
        let inner = &self.inner;
        inner.wait_for_room()?;
        let mut w = inner.write.lock();
        if record.seq <= w.seq {
            return Ok(false);
        }
        if record.seq != w.seq + 1 {
            return Err(Error::FailedPrecondition(format!(
                "log record {} does not follow {}: records are missing",
                record.seq, w.seq
            )));
        }
        let seq = inner.append_locked(&mut w, &record.ops)?;
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
