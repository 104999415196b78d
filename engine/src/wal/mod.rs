//! The write-ahead log: every committed batch is appended here before it is acknowledged.
//!
//! Writers append under the engine's write lock (one `write` call per batch), then wait for a
//! sync that covers their record. The first waiter that finds no sync in progress becomes the
//! leader: it syncs once for every record written so far and wakes the others (group commit).
//! Segments are closed past a size and deleted once a checkpoint covers every record in them.

mod record;
mod replay;

pub use record::LogRecord;
pub(crate) use record::{MAX_PAYLOAD, payload_len};
pub(crate) use replay::{ReplayOutcome, read_records, replay};

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread::Thread,
};

use parking_lot::Mutex;

use crate::{
    error::{Error, Result},
    kv::{KvOp, Seq},
};

/// The file name of the segment whose first record is `first_seq`.
pub(crate) fn segment_name(first_seq: Seq) -> String {
    format!("wal-{first_seq:020}.log")
}

/// Every WAL segment in `dir`, as (first sequence number, path), oldest first.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(Seq, PathBuf)>> {
    let mut out = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(num) = name
            .strip_prefix("wal-")
            .and_then(|n| n.strip_suffix(".log"))
            && let Ok(seq) = num.parse::<Seq>()
        {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Syncs a directory so that file creations and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))
}

struct Segment {
    file: Arc<File>,
    path: PathBuf,
    bytes: u64,
}

struct SyncState {
    syncing: bool,
    synced: Seq,
    error: Option<String>,
    /// Writers parked until a sync covers their record.
    waiters: Vec<(Seq, Thread)>,
}

/// The appending side of the WAL.
pub(crate) struct Wal {
    dir: PathBuf,
    segment_limit: u64,
    current: Mutex<Segment>,
    written: AtomicU64,
    sync: Mutex<SyncState>,
    syncs: AtomicU64,
    synced_records: AtomicU64,
    buf: Mutex<Vec<u8>>,
}

/// The WAL's sync counters, from [`Wal::sync_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStats {
    /// Syncs run.
    pub syncs: u64,
    /// Records those syncs made durable.
    pub records: u64,
}

impl Wal {
    /// Starts a new segment after `last_seq` (the last record already in the log).
    pub fn create(dir: &Path, last_seq: Seq, segment_limit: u64) -> Result<Wal> {
        let segment = new_segment(dir, last_seq + 1)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_limit,
            current: Mutex::new(segment),
            written: AtomicU64::new(last_seq),
            sync: Mutex::new(SyncState {
                syncing: false,
                synced: last_seq,
                error: None,
                waiters: Vec::new(),
            }),
            syncs: AtomicU64::new(0),
            synced_records: AtomicU64::new(0),
            buf: Mutex::new(Vec::with_capacity(1 << 16)),
        })
    }

    /// Appends the record `seq`, committed at `commit_ms`, to the OS. Callers hold the engine's
    /// write lock, so records are appended in sequence order.
    pub fn append(&self, seq: Seq, commit_ms: u64, ops: &[KvOp]) -> Result<()> {
        let mut buf = self.buf.lock();
        buf.clear();
        record::encode_record(seq, commit_ms, ops, &mut buf);
        let mut seg = self.current.lock();
        if seg.bytes > self.segment_limit {
            // Close the full segment: sync it, so a leader that syncs only the newest segment
            // still covers every record.
            seg.file
                .sync_data()
                .map_err(|e| Error::io(format!("syncing {}", seg.path.display()), e))?;
            *seg = new_segment(&self.dir, seq)?;
        }
        (&*seg.file)
            .write_all(&buf)
            .map_err(|e| Error::io(format!("appending to {}", seg.path.display()), e))?;
        seg.bytes += buf.len() as u64;
        self.written.store(seq, Ordering::Release);
        Ok(())
    }

    /// Returns once every record up to `seq` is on stable storage, syncing if no one else is.
    ///
    /// Leader/follower group commit: the first writer that finds no sync in progress syncs
    /// everything written so far; the others park. The leader then wakes exactly the writers its
    /// sync covered, and hands leadership to one writer still waiting, if any. No thundering
    /// herd: every wake-up is one that has work to do.
    pub fn wait_durable(&self, seq: Seq) -> Result<()> {
        let mut st = self.sync.lock();
        loop {
            if st.synced >= seq {
                return Ok(());
            }
            if let Some(e) = &st.error {
                return Err(Error::Failed(e.clone()));
            }
            if st.syncing {
                st.waiters.push((seq, std::thread::current()));
                drop(st);
                std::thread::park();
                st = self.sync.lock();
                continue;
            }
            st.syncing = true;
            let from = st.synced;
            // Read `written` before taking the file: a rotation in between already synced the
            // older segment.
            let target = self.written.load(Ordering::Acquire);
            let (file, path) = {
                let seg = self.current.lock();
                (Arc::clone(&seg.file), seg.path.clone())
            };
            drop(st);
            let result = file.sync_data();
            st = self.sync.lock();
            st.syncing = false;
            match result {
                Ok(()) => {
                    st.synced = st.synced.max(target);
                    self.syncs.fetch_add(1, Ordering::Relaxed);
                    self.synced_records
                        .fetch_add(target.saturating_sub(from), Ordering::Relaxed);
                }
                Err(e) => {
                    st.error = Some(format!("fdatasync of {} failed: {e}", path.display()));
                }
            }
            // Wake the covered writers (all of them on error), and one more to lead next.
            let synced = st.synced;
            let failed = st.error.is_some();
            let (mut wake, mut rest): (Vec<_>, Vec<_>) = std::mem::take(&mut st.waiters)
                .into_iter()
                .partition(|(s, _)| failed || *s <= synced);
            if let Some(i) = (0..rest.len()).min_by_key(|&i| rest[i].0) {
                wake.push(rest.swap_remove(i));
            }
            st.waiters = rest;
            drop(st);
            for (_, t) in wake {
                t.unpark();
            }
            st = self.sync.lock();
        }
    }

    /// Syncs everything written so far (used by the interval syncer and at shutdown).
    pub fn sync_all_written(&self) -> Result<()> {
        self.wait_durable(self.written.load(Ordering::Acquire))
    }

    /// How many syncs ran and how many records they covered (the ratio is the average group).
    pub fn sync_stats(&self) -> SyncStats {
        SyncStats {
            syncs: self.syncs.load(Ordering::Relaxed),
            records: self.synced_records.load(Ordering::Relaxed),
        }
    }

    /// Deletes segments all of whose records are at or below `checkpoint`.
    pub fn remove_covered(&self, checkpoint: Seq) -> Result<usize> {
        let current = self.current.lock().path.clone();
        let segments = list_segments(&self.dir)?;
        let mut removed = 0;
        for pair in segments.windows(2) {
            let (_, path) = &pair[0];
            let (next_first, _) = pair[1];
            if next_first <= checkpoint + 1 && *path != current {
                fs::remove_file(path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

/// A whole segment holding `records` (which start at `first_seq`): its header and records.
pub(crate) fn encode_segment(first_seq: Seq, records: &[LogRecord]) -> Vec<u8> {
    let mut buf = record::encode_header(first_seq).to_vec();
    for r in records {
        r.encode_into(&mut buf);
    }
    buf
}

impl LogRecord {
    /// Reads one record from its wire form, checking its checksum.
    pub fn from_bytes(b: &[u8]) -> Result<LogRecord> {
        match decode_record(b)? {
            (record, len) if len == b.len() => Ok(record),
            _ => Err(Error::InvalidArgument(
                "a log record has trailing bytes".into(),
            )),
        }
    }

    /// Reads records concatenated in their wire form (an archived slice of the log), checking
    /// each checksum and that their sequence numbers follow one another.
    pub fn all_from_bytes(mut b: &[u8]) -> Result<Vec<LogRecord>> {
        let mut out: Vec<LogRecord> = Vec::new();
        while !b.is_empty() {
            let (record, len) = decode_record(b)?;
            if let Some(prev) = out.last()
                && record.seq != prev.seq + 1
            {
                return Err(Error::InvalidArgument(format!(
                    "log record {} follows {}: records are missing",
                    record.seq, prev.seq
                )));
            }
            out.push(record);
            b = &b[len..];
        }
        Ok(out)
    }
}

/// Decodes the record at the start of `buf` (wire form, [`LogRecord::to_bytes`]) and the bytes
/// it took.
fn decode_record(buf: &[u8]) -> Result<(LogRecord, usize)> {
    match record::decode_record(buf, record::VERSION) {
        record::Decoded::Record { record, len } => Ok((record, len)),
        record::Decoded::Truncated => {
            Err(Error::InvalidArgument("a log record is cut short".into()))
        }
        record::Decoded::Damaged(d) => Err(Error::InvalidArgument(format!(
            "a log record is damaged: {d}"
        ))),
    }
}

fn new_segment(dir: &Path, first_seq: Seq) -> Result<Segment> {
    let path = dir.join(segment_name(first_seq));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    file.write_all(&record::encode_header(first_seq))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    sync_dir(dir)?;
    Ok(Segment {
        file: Arc::new(file),
        path,
        bytes: record::HEADER_LEN as u64,
    })
}
