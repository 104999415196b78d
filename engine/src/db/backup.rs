//! Online backups: a consistent copy of the files at one sequence number, read while writes,
//! flushes and garbage collection go on.
//!
//! [`Db::backup_source`] pins the current tree (its pages are not reused and the value-log
//! segments it points into are not removed while the source lives) and notes exactly what a
//! copy needs: the data file up to the tree's last page (with meta pages that open at this
//! tree), every value-log segment up to its committed length, and the WAL records the tree
//! does not cover yet, as one segment. Opening a directory holding these files gives exactly
//! the state at [`BackupSource::seq`]. [`Db::backup_to`] writes them into a local directory;
//! the server streams them to object storage.

use std::{
    fs::{self, File},
    io::Write as _,
    os::unix::fs::FileExt,
    path::Path,
    sync::Arc,
};

use super::{Db, Snapshot};
use crate::{
    btree::{PAGE_SIZE, TreeVersion},
    error::{Error, Result},
    kv::Seq,
    wal,
};

/// A consistent set of files to copy, pinned at one sequence number.
pub struct BackupSource {
    /// Held so that the copied pages and segments stay as they are.
    _tree: Arc<TreeVersion>,
    seq: Seq,
    files: Vec<BackupFile>,
    counts: Vec<StoreCount>,
}

/// How many documents one store holds in a [`BackupSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCount {
    /// The space.
    pub space: String,
    /// The store.
    pub store: String,
    /// Its documents at the source's sequence number.
    pub documents: u64,
}

/// One file of a backup.
pub struct BackupFile {
    name: String,
    len: u64,
    content: Content,
}

enum Content {
    /// The data file: its first `len` bytes, with both meta pages replaced by `meta`.
    Data { file: File, meta: Vec<u8> },
    /// A value-log segment: its first `len` bytes.
    Segment { file: File },
    /// Bytes made for the backup (the WAL tail).
    Memory(Vec<u8>),
}

/// What [`Db::backup_to`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupInfo {
    /// The copy holds exactly the batches up to this sequence number.
    pub seq: u64,
    /// Bytes written.
    pub bytes: u64,
}

impl BackupFile {
    /// The file's name in the data directory.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl BackupSource {
    /// The copy holds exactly the batches up to this sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The files, in the order they are best restored (data file first).
    pub fn files(&self) -> &[BackupFile] {
        &self.files
    }

    /// Every store's document count at [`BackupSource::seq`], by space and store.
    pub fn store_counts(&self) -> &[StoreCount] {
        &self.counts
    }

    /// The sum of the files' lengths.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }

    /// Fills `buf` from `file` at `offset` (less only at the file's end); returns the bytes
    /// read.
    pub fn read_at(&self, file: &BackupFile, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let want = usize::try_from(file.len.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let buf = &mut buf[..want];
        match &file.content {
            Content::Memory(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(want).min(bytes.len());
                buf[..end - start].copy_from_slice(&bytes[start..end]);
                Ok(end - start)
            }
            Content::Data { file: f, meta } => {
                read_exact_at(f, &file.name, buf, offset)?;
                // Meta pages are the first two pages of the data file.
                for slot in 0..2u64 {
                    let start = slot * PAGE_SIZE as u64;
                    let end = start + meta.len() as u64;
                    let (lo, hi) = (start.max(offset), end.min(offset + want as u64));
                    if lo < hi {
                        let (b0, b1) = ((lo - offset) as usize, (hi - offset) as usize);
                        let (m0, m1) = ((lo - start) as usize, (hi - start) as usize);
                        buf[b0..b1].copy_from_slice(&meta[m0..m1]);
                    }
                }
                Ok(want)
            }
            Content::Segment { file: f } => {
                read_exact_at(f, &file.name, buf, offset)?;
                Ok(want)
            }
        }
    }
}

fn read_exact_at(f: &File, name: &str, buf: &mut [u8], offset: u64) -> Result<()> {
    f.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corruption(
                name,
                format!("shorter than the backup expected at {offset}"),
            )
        } else {
            Error::io(format!("reading {name} for a backup"), e)
        }
    })
}

impl Db {
    /// A consistent copy of the database as of now, to read while writes continue.
    pub fn backup_source(&self) -> Result<BackupSource> {
        let inner = &self.inner;
        // Under the tree lock nothing flushes or collects: pin the tree, note the value-log
        // extent, and read the log the tree does not cover yet.
        let (tree, segments, records, seq, snapshot) = {
            let ts = inner.tree.lock();
            let seq = self.last_seq();
            // Loaded after `seq`: it holds every batch up to it, and reads at `seq` see no later.
            let snapshot = Snapshot::new(Arc::clone(inner), inner.read.load_full(), seq);
            let tree = Arc::clone(&inner.read.load().tree);
            let (active, active_size) = inner.vlog.active_position();
            let segments: Vec<(u32, Option<u64>)> = ts
                .vlog_stats
                .keys()
                .map(|s| (*s, (*s == active).then_some(active_size)))
                .collect();
            let checkpoint = tree.meta().checkpoint;
            let records: Vec<wal::LogRecord> =
                wal::read_records(&inner.dir, checkpoint, usize::MAX)?
                    .into_iter()
                    .take_while(|r| r.seq <= seq)
                    .collect();
            (tree, segments, records, seq, snapshot)
        };
        let mut counts = Vec::new();
        for space in snapshot.spaces() {
            for store in snapshot.stores(&space.name)? {
                counts.push(StoreCount {
                    documents: snapshot.count(&space.name, &store.name)?,
                    space: space.name.clone(),
                    store: store.name,
                });
            }
        }
        drop(snapshot);
        let meta = tree.meta();
        let open = |path: &Path| {
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))
        };
        let mut files = vec![BackupFile {
            name: "data.db".into(),
            len: meta.page_count * PAGE_SIZE as u64,
            content: Content::Data {
                file: open(&inner.dir.join("data.db"))?,
                meta: meta.encode(),
            },
        }];
        for (seg, active_len) in segments {
            let path = inner.vlog.segment_path(seg);
            let file = open(&path)?;
            let len = match active_len {
                Some(l) => l,
                None => file
                    .metadata()
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
                    .len(),
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(BackupFile {
                name,
                len,
                content: Content::Segment { file },
            });
        }
        let first = meta.checkpoint + 1;
        let wal = wal::encode_segment(first, &records);
        files.push(BackupFile {
            name: wal::segment_name(first),
            len: wal.len() as u64,
            content: Content::Memory(wal),
        });
        Ok(BackupSource {
            _tree: tree,
            seq,
            files,
            counts,
        })
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
        let source = self.backup_source()?;
        let mut buf = vec![0u8; 1 << 20];
        for file in source.files() {
            let path = dest.join(file.name());
            let ctx = |e| Error::io(format!("writing {}", path.display()), e);
            let mut out = File::create(&path).map_err(ctx)?;
            let mut offset = 0;
            while offset < file.len() {
                let n = source.read_at(file, offset, &mut buf)?;
                out.write_all(&buf[..n]).map_err(ctx)?;
                offset += n as u64;
            }
            out.sync_all().map_err(ctx)?;
        }
        wal::sync_dir(dest)?;
        Ok(BackupInfo {
            seq: source.seq(),
            bytes: source.total_bytes(),
        })
    }
}
