//! The value log: large document bodies, appended to segment files and referenced from the
//! B+tree by pointer, so leaves stay small.
//!
//! A segment starts with magic `SHNYVLG1`, the format version and its number. Each record is
//! `crc32 u32 | flags u8 (1 = zstd) | key_len u32 | data_len u32 | key | data`; the key lets
//! garbage collection ask the tree whether the record is still the live version.

#![warn(clippy::indexing_slicing)]

use std::{
    collections::HashMap,
    fs::{self, File, OpenOptions},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"SHNYVLG1";
const VERSION: u32 = 1;
const HEADER_LEN: u64 = 16;
const RECORD_HEADER: usize = 13;
const FLAG_ZSTD: u8 = 1;

/// Where a record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pointer {
    /// Segment number.
    pub segment: u32,
    /// Byte offset of the record.
    pub offset: u64,
    /// Bytes the whole record occupies.
    pub len: u32,
}

impl Pointer {
    /// Bytes of an encoded pointer.
    pub const ENCODED_LEN: usize = 16;

    /// Appends the pointer's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.segment.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }

    /// Reads an encoded pointer.
    #[expect(
        clippy::indexing_slicing,
        reason = "the length is checked to be ENCODED_LEN first"
    )]
    pub fn decode(b: &[u8]) -> Option<Pointer> {
        if b.len() != Self::ENCODED_LEN {
            return None;
        }
        Some(Pointer {
            segment: u32::from_le_bytes(b[0..4].try_into().ok()?),
            offset: u64::from_le_bytes(b[4..12].try_into().ok()?),
            len: u32::from_le_bytes(b[12..16].try_into().ok()?),
        })
    }
}

/// One record read back during garbage collection.
pub(crate) struct Record {
    /// Where it is.
    pub pointer: Pointer,
    /// The key it was written for.
    pub key: Vec<u8>,
    /// The whole record as stored (to copy it without recompressing).
    pub raw: Vec<u8>,
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("vlog-{segment:08}.dat"))
}

/// Every segment number present in `dir`.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for entry in
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
    {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("vlog-"))
            .and_then(|n| n.strip_suffix(".dat"))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

struct Active {
    segment: u32,
    file: Arc<File>,
    size: u64,
}

/// Reads and appends value-log records.
pub(crate) struct ValueLog {
    dir: PathBuf,
    segment_limit: u64,
    active: Mutex<Active>,
    open_files: Mutex<HashMap<u32, Arc<File>>>,
    compression_level: i32,
}

impl ValueLog {
    /// Opens the value log in `dir`, starting a fresh segment after the newest one.
    pub fn open(dir: &Path, segment_limit: u64, compression_level: i32) -> Result<ValueLog> {
        let next = list_segments(dir)?.last().map_or(1, |n| n + 1);
        let active = create_segment(dir, next)?;
        Ok(ValueLog {
            dir: dir.to_path_buf(),
            segment_limit,
            active: Mutex::new(active),
            open_files: Mutex::new(HashMap::new()),
            compression_level,
        })
    }

    /// The active segment and its size.
    pub fn active_position(&self) -> (u32, u64) {
        let a = self.active.lock();
        (a.segment, a.size)
    }

    /// The path of a segment.
    pub fn segment_path(&self, segment: u32) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    /// The segment new records go to.
    pub fn active_segment(&self) -> u32 {
        self.active.lock().segment
    }

    /// Appends `data` for `key`, zstd-compressed when `compress`; returns where it went.
    #[expect(
        clippy::indexing_slicing,
        reason = "offsets inside the record just built, which holds at least its header"
    )]
    pub fn append(&self, key: &[u8], data: &[u8], compress: bool) -> Result<Pointer> {
        let (flags, body) = if compress {
            let c = zstd::bulk::compress(data, self.compression_level)
                .map_err(|e| Error::io("compressing a value with zstd", e))?;
            (FLAG_ZSTD, c)
        } else {
            (0, data.to_vec())
        };
        let mut rec = Vec::with_capacity(RECORD_HEADER + key.len() + body.len());
        rec.extend_from_slice(&[0u8; 4]);
        rec.push(flags);
        rec.extend_from_slice(&(key.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(key);
        rec.extend_from_slice(&body);
        let crc = crc32fast::hash(&rec[4..]);
        rec[..4].copy_from_slice(&crc.to_le_bytes());
        self.append_raw(&rec)
    }

    /// Appends a record exactly as read from another segment (garbage collection).
    pub fn append_raw(&self, rec: &[u8]) -> Result<Pointer> {
        let mut a = self.active.lock();
        if a.size >= self.segment_limit {
            a.file
                .sync_data()
                .map_err(|e| Error::io(format!("syncing value-log segment {}", a.segment), e))?;
            *a = create_segment(&self.dir, a.segment + 1)?;
        }
        let offset = a.size;
        a.file
            .write_all_at(rec, offset)
            .map_err(|e| Error::io(format!("appending to value-log segment {}", a.segment), e))?;
        a.size += rec.len() as u64;
        Ok(Pointer {
            segment: a.segment,
            offset,
            len: rec.len() as u32,
        })
    }

    /// Closes the active segment and starts the next one.
    pub fn rotate(&self) -> Result<()> {
        let mut a = self.active.lock();
        a.file
            .sync_data()
            .map_err(|e| Error::io(format!("syncing value-log segment {}", a.segment), e))?;
        *a = create_segment(&self.dir, a.segment + 1)?;
        Ok(())
    }

    /// Makes every appended record durable.
    pub fn sync(&self) -> Result<()> {
        let a = self.active.lock();
        a.file
            .sync_data()
            .map_err(|e| Error::io(format!("syncing value-log segment {}", a.segment), e))
    }

    fn file(&self, segment: u32) -> Result<Arc<File>> {
        {
            let a = self.active.lock();
            if a.segment == segment {
                return Ok(Arc::clone(&a.file));
            }
        }
        let mut files = self.open_files.lock();
        if let Some(f) = files.get(&segment) {
            return Ok(Arc::clone(f));
        }
        let path = segment_path(&self.dir, segment);
        let f = Arc::new(
            File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?,
        );
        files.insert(segment, Arc::clone(&f));
        Ok(f)
    }

    /// Reads the value a pointer names, checking its checksum and decompressing it.
    pub fn read(&self, p: Pointer) -> Result<Bytes> {
        let file = self.file(p.segment)?;
        let mut rec = vec![0u8; p.len as usize];
        file.read_exact_at(&mut rec, p.offset).map_err(|e| {
            Error::io(
                format!(
                    "reading value-log segment {} at offset {}",
                    p.segment, p.offset
                ),
                e,
            )
        })?;
        let (flags, _key, body) = self.parse(&rec, p)?;
        if flags & FLAG_ZSTD != 0 {
            let out = zstd::stream::decode_all(body).map_err(|e| {
                Error::corruption(
                    segment_path(&self.dir, p.segment),
                    format!("offset {}: zstd: {e}", p.offset),
                )
            })?;
            Ok(Bytes::from(out))
        } else {
            Ok(Bytes::copy_from_slice(body))
        }
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "the header length, then the record length against the header's sizes, are checked first"
    )]
    fn parse<'r>(&self, rec: &'r [u8], p: Pointer) -> Result<(u8, &'r [u8], &'r [u8])> {
        let bad = |d: &str| {
            Error::corruption(
                segment_path(&self.dir, p.segment),
                format!("offset {}: {d}", p.offset),
            )
        };
        if rec.len() < RECORD_HEADER {
            return Err(bad("record shorter than its header"));
        }
        let crc = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let klen = u32::from_le_bytes([rec[5], rec[6], rec[7], rec[8]]) as usize;
        let dlen = u32::from_le_bytes([rec[9], rec[10], rec[11], rec[12]]) as usize;
        if RECORD_HEADER + klen + dlen != rec.len() {
            return Err(bad("record length does not match its pointer"));
        }
        if crc != crc32fast::hash(&rec[4..]) {
            return Err(bad("record checksum mismatch"));
        }
        Ok((
            rec[4],
            &rec[RECORD_HEADER..RECORD_HEADER + klen],
            &rec[RECORD_HEADER + klen..],
        ))
    }

    /// Every record of a closed segment, in order, for garbage collection.
    #[expect(
        clippy::indexing_slicing,
        reason = "each record header and body is checked to lie inside the file before it is read"
    )]
    pub fn records(&self, segment: u32) -> Result<Vec<Record>> {
        let path = segment_path(&self.dir, segment);
        let buf =
            fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        check_header(&buf, segment, &path)?;
        let mut out = Vec::new();
        let mut pos = HEADER_LEN as usize;
        while pos + RECORD_HEADER <= buf.len() {
            let klen = u32::from_le_bytes([buf[pos + 5], buf[pos + 6], buf[pos + 7], buf[pos + 8]])
                as usize;
            let dlen =
                u32::from_le_bytes([buf[pos + 9], buf[pos + 10], buf[pos + 11], buf[pos + 12]])
                    as usize;
            let len = RECORD_HEADER + klen + dlen;
            if pos + len > buf.len() {
                break; // a record whose flush never committed: nothing points at it
            }
            let p = Pointer {
                segment,
                offset: pos as u64,
                len: len as u32,
            };
            let raw = buf[pos..pos + len].to_vec();
            match self.parse(&raw, p) {
                Ok((_, key, _)) => out.push(Record {
                    pointer: p,
                    key: key.to_vec(),
                    raw: raw.clone(),
                }),
                // Damage after the last committed record is a torn, uncommitted append.
                Err(_) => break,
            }
            pos += len;
        }
        Ok(out)
    }

    /// Removes a segment whose records are all dead.
    pub fn remove(&self, segment: u32) -> Result<()> {
        self.open_files.lock().remove(&segment);
        let path = segment_path(&self.dir, segment);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
        }
    }
}

#[expect(
    clippy::indexing_slicing,
    reason = "the length is checked against HEADER_LEN first"
)]
fn check_header(buf: &[u8], segment: u32, path: &Path) -> Result<()> {
    if buf.len() < HEADER_LEN as usize || &buf[..8] != MAGIC {
        return Err(Error::corruption(
            path,
            "not a value-log segment (bad magic number)",
        ));
    }
    let version = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if version != VERSION {
        return Err(Error::UnsupportedFormat {
            path: path.to_path_buf(),
            detail: format!(
                "value-log format version {version}; this build reads version {VERSION}"
            ),
        });
    }
    let n = u32::from_le_bytes([buf[12], buf[13], buf[14], buf[15]]);
    if n != segment {
        return Err(Error::corruption(path, format!("segment header says {n}")));
    }
    Ok(())
}

fn create_segment(dir: &Path, segment: u32) -> Result<Active> {
    let path = segment_path(dir, segment);
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&segment.to_le_bytes());
    file.write_all_at(&header, 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    crate::wal::sync_dir(dir)?;
    Ok(Active {
        segment,
        file: Arc::new(file),
        size: HEADER_LEN,
    })
}
