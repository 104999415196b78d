//! What backups and replicas need: the log by sequence number, applying another engine's log,
//! and a consistent online copy of the files.

use std::{
    fs::{self, File},
    io::{Read, Write as _},
    path::Path,
    sync::Arc,
};

use super::{Db, ReadState, snapshot};
use crate::{
    btree::PAGE_SIZE,
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

/// What [`Db::backup_to`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupInfo {
    /// The copy holds exactly the batches up to this sequence number.
    pub seq: u64,
    /// Bytes written.
    pub bytes: u64,
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

    /// Writes a consistent copy of the database into the empty directory `dest` while writes
    /// continue. Opening `dest` gives exactly the state at the returned sequence number.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<BackupInfo> {
        let dest = dest.as_ref();
        fs::create_dir_all(dest)
            .map_err(|e| Error::io(format!("creating {}", dest.display()), e))?;
        if fs::read_dir(dest)
            .map_err(|e| Error::io(format!("listing {}", dest.display()), e))?
            .next()
            .is_some()
        {
            return Err(Error::FailedPrecondition(format!(
                "backup target {} is not empty",
                dest.display()
            )));
        }
        let inner = &self.inner;
        // Under the tree lock nothing flushes or collects: pin the tree, note the value-log
        // extent, and read the log the tree does not cover yet.
        let (tree, segments, records, seq) = {
            let ts = inner.tree.lock();
            let seq = self.last_seq();
            let tree = Arc::clone(&inner.read.load().tree);
            let (active, active_size) = inner.vlog.active_position();
            let segments: Vec<(u32, Option<u64>)> = ts
                .vlog_stats
                .keys()
                .map(|s| (*s, (*s == active).then_some(active_size)))
                .collect();
            let checkpoint = tree.meta().checkpoint;
            let records: Vec<(Seq, Vec<KvOp>)> =
                wal::read_records(&inner.dir, checkpoint, usize::MAX)?
                    .into_iter()
                    .take_while(|(s, _)| *s <= seq)
                    .collect();
            (tree, segments, records, seq)
        };
        let meta = tree.meta();
        let mut bytes = 0;
        // The tree's pages are not reused while `tree` is pinned; the meta is rewritten so the
        // copy opens at exactly this version.
        let data_len = meta.page_count * PAGE_SIZE as u64;
        bytes += copy_prefix(
            &inner.dir.join("data.db"),
            &dest.join("data.db"),
            data_len,
            Some(&meta.encode()),
        )?;
        for (seg, len) in segments {
            let src = inner.vlog.segment_path(seg);
            let name = src
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default();
            let len = match len {
                Some(l) => l,
                None => fs::metadata(&src)
                    .map_err(|e| Error::io(format!("reading {}", src.display()), e))?
                    .len(),
            };
            bytes += copy_prefix(&src, &dest.join(name), len, None)?;
        }
        wal::write_segment(dest, meta.checkpoint + 1, &records)?;
        wal::sync_dir(dest)?;
        drop(tree);
        Ok(BackupInfo { seq, bytes })
    }
}

/// Copies the first `len` bytes of `src`; `meta`, if given, replaces both meta pages.
fn copy_prefix(src: &Path, dst: &Path, len: u64, meta: Option<&[u8]>) -> Result<u64> {
    let ctx = |e| Error::io(format!("copying {} to {}", src.display(), dst.display()), e);
    let mut input = File::open(src).map_err(ctx)?.take(len);
    let mut out = File::create(dst).map_err(ctx)?;
    let mut copied = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).map_err(ctx)?;
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        if let Some(m) = meta {
            // Meta pages are the first two pages of the data file.
            for slot in 0..2u64 {
                let start = slot * PAGE_SIZE as u64;
                if start >= copied && start < copied + n as u64 {
                    let off = (start - copied) as usize;
                    let end = (off + m.len()).min(n);
                    chunk[off..end].copy_from_slice(&m[..end - off]);
                }
            }
        }
        out.write_all(chunk).map_err(ctx)?;
        copied += n as u64;
    }
    if copied != len {
        return Err(Error::corruption(
            src,
            format!("expected {len} bytes, found {copied}"),
        ));
    }
    out.sync_all().map_err(ctx)?;
    Ok(copied)
}
