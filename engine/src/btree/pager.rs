//! The data file: meta pages, page reads through the cache, page allocation and reuse.
//!
//! Pages 0 and 1 hold two copies of the meta record; a commit writes the copy for its
//! generation's parity after every new page is synced, so a crash leaves the previous
//! generation intact. Pages released by a commit are reused only once no reader holds a tree
//! version older than that commit.

#![warn(clippy::indexing_slicing)]

use std::{
    collections::{BTreeMap, HashSet},
    fs::{File, OpenOptions},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use parking_lot::Mutex;

use super::page::{PAGE_SIZE, Page, PageId};
use crate::{
    error::{Error, Result},
    kv::Seq,
};

const MAGIC: &[u8; 8] = b"SHNYDAT1";
/// The data-file format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
const META_LEN: usize = 52;
/// The first page that can hold tree nodes.
pub(crate) const FIRST_DATA_PAGE: PageId = 2;

/// One committed state of the tree, as recorded in a meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Commit counter.
    pub generation: u64,
    /// The root page (0 = empty tree).
    pub root: PageId,
    /// Pages in the file.
    pub page_count: u64,
    /// Every WAL record up to this sequence number is in the tree.
    pub checkpoint: Seq,
}

impl Meta {
    /// The meta page's bytes.
    #[expect(
        clippy::indexing_slicing,
        reason = "fixed offsets below META_LEN in a PAGE_SIZE buffer"
    )]
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; PAGE_SIZE];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(PAGE_SIZE as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.generation.to_le_bytes());
        b[24..32].copy_from_slice(&self.root.to_le_bytes());
        b[32..40].copy_from_slice(&self.page_count.to_le_bytes());
        b[40..48].copy_from_slice(&self.checkpoint.to_le_bytes());
        let crc = crc32fast::hash(&b[..48]);
        b[48..META_LEN].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[expect(
        clippy::indexing_slicing,
        reason = "the length is checked against META_LEN before any fixed offset below it is read"
    )]
    fn decode(b: &[u8], path: &Path) -> Result<Option<Meta>> {
        if b.len() < META_LEN || &b[..8] != MAGIC {
            return Ok(None);
        }
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[o..o + 8]);
            u64::from_le_bytes(a)
        };
        let crc = u32::from_le_bytes([b[48], b[49], b[50], b[51]]);
        if crc != crc32fast::hash(&b[..48]) {
            return Ok(None);
        }
        let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
                detail: format!(
                    "data file format version {version}; this build reads version {FORMAT_VERSION}"
                ),
            });
        }
        let page_size = u32::from_le_bytes([b[12], b[13], b[14], b[15]]) as usize;
        if page_size != PAGE_SIZE {
            return Err(Error::UnsupportedFormat {
                path: path.to_path_buf(),
                detail: format!("page size {page_size}; this build uses {PAGE_SIZE}"),
            });
        }
        Ok(Some(Meta {
            generation: u64_at(16),
            root: u64_at(24),
            page_count: u64_at(32),
            checkpoint: u64_at(40),
        }))
    }
}

struct Allocation {
    page_count: u64,
    free: Vec<PageId>,
    /// Pages released by the commit of each generation, not yet safe to reuse.
    pending: Vec<(u64, Vec<PageId>)>,
}

/// Page I/O, the page cache and page allocation.
pub(crate) struct Pager {
    file: File,
    path: PathBuf,
    cache: quick_cache::sync::Cache<PageId, Page>,
    alloc: Mutex<Allocation>,
    /// Tree generations held by readers, with their counts.
    live: Mutex<BTreeMap<u64, usize>>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

impl Pager {
    /// Opens or creates the data file; returns the pager and the newest valid meta.
    #[expect(
        clippy::indexing_slicing,
        reason = "a prefix of the bytes read_up_to says it read"
    )]
    pub fn open(path: &Path, cache_bytes: u64) -> Result<(Arc<Pager>, Meta)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(format!("reading metadata of {}", path.display()), e))?
            .len();
        let meta = if len == 0 {
            let meta = Meta {
                generation: 1,
                root: 0,
                page_count: FIRST_DATA_PAGE,
                checkpoint: 0,
            };
            file.write_all_at(&meta.encode(), 0)
                .and_then(|()| file.write_all_at(&meta.encode(), PAGE_SIZE as u64))
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io(format!("initialising {}", path.display()), e))?;
            meta
        } else {
            let mut best: Option<Meta> = None;
            for slot in 0..2u64 {
                let mut b = vec![0u8; PAGE_SIZE];
                let n = read_up_to(&file, &mut b, slot * PAGE_SIZE as u64)
                    .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                if let Some(m) = Meta::decode(&b[..n], path)?
                    && best.is_none_or(|b| m.generation > b.generation)
                {
                    best = Some(m);
                }
            }
            let meta = best.ok_or_else(|| {
                Error::corruption(
                    path,
                    "neither meta page is valid: not a ShinyDB data file, or damaged",
                )
            })?;
            if meta.page_count * PAGE_SIZE as u64 > len {
                return Err(Error::corruption(
                    path,
                    format!(
                        "meta says {} pages but the file holds {} bytes",
                        meta.page_count, len
                    ),
                ));
            }
            meta
        };
        let items = (cache_bytes / PAGE_SIZE as u64).max(64) as usize;
        let pager = Pager {
            file,
            path: path.to_path_buf(),
            cache: quick_cache::sync::Cache::new(items),
            alloc: Mutex::new(Allocation {
                page_count: meta.page_count,
                free: Vec::new(),
                pending: Vec::new(),
            }),
            live: Mutex::new(BTreeMap::new()),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
        };
        Ok((Arc::new(pager), meta))
    }

    /// The data file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads a page through the cache, checking its checksum.
    pub fn read(&self, id: PageId) -> Result<Page> {
        if let Some(p) = self.cache.get(&id) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(p);
        }
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        if id < FIRST_DATA_PAGE {
            return Err(Error::corruption(
                &self.path,
                format!("a tree node points at meta page {id}"),
            ));
        }
        let mut buf = vec![0u8; PAGE_SIZE];
        let n = read_up_to(&self.file, &mut buf, id * PAGE_SIZE as u64)
            .map_err(|e| Error::io(format!("reading page {id} of {}", self.path.display()), e))?;
        if n < PAGE_SIZE {
            return Err(Error::corruption(
                &self.path,
                format!("page {id} lies past the end of the file"),
            ));
        }
        let page = Page::parse(Bytes::from(buf))
            .map_err(|d| Error::corruption(&self.path, format!("page {id}: {d}")))?;
        self.cache.insert(id, page.clone());
        Ok(page)
    }

    /// Takes a page number for a new page.
    pub fn allocate(&self) -> PageId {
        let mut a = self.alloc.lock();
        if let Some(id) = a.free.pop() {
            id
        } else {
            a.page_count += 1;
            a.page_count - 1
        }
    }

    /// Returns pages that were allocated but never committed.
    pub fn release_uncommitted(&self, ids: impl IntoIterator<Item = PageId>) {
        self.alloc.lock().free.extend(ids);
    }

    /// Writes new pages, syncs, then writes and syncs the meta for `meta.generation`.
    /// `released` are the pages the new generation no longer uses.
    pub fn commit(
        &self,
        pages: &[(PageId, Page)],
        meta: Meta,
        released: Vec<PageId>,
    ) -> Result<()> {
        for (id, page) in pages {
            self.file
                .write_all_at(page.bytes(), id * PAGE_SIZE as u64)
                .map_err(|e| {
                    Error::io(format!("writing page {id} of {}", self.path.display()), e)
                })?;
        }
        self.file
            .sync_data()
            .map_err(|e| Error::io(format!("syncing {}", self.path.display()), e))?;
        let slot = meta.generation % 2;
        self.file
            .write_all_at(&meta.encode(), slot * PAGE_SIZE as u64)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| {
                Error::io(
                    format!("writing the meta page of {}", self.path.display()),
                    e,
                )
            })?;
        for (id, page) in pages {
            self.cache.insert(*id, page.clone());
        }
        let mut a = self.alloc.lock();
        for id in &released {
            self.cache.remove(id);
        }
        a.pending.push((meta.generation, released));
        drop(a);
        self.reclaim();
        Ok(())
    }

    /// The page count to record in the next meta.
    pub fn page_count(&self) -> u64 {
        self.alloc.lock().page_count
    }

    /// After opening: every page below the page count that the tree does not reach is free.
    pub fn set_free_from_reachable(&self, reachable: &HashSet<PageId>) {
        let mut a = self.alloc.lock();
        a.free = (FIRST_DATA_PAGE..a.page_count)
            .filter(|p| !reachable.contains(p))
            .rev()
            .collect();
    }

    /// Registers a reader of generation `generation`.
    pub fn pin(&self, generation: u64) {
        *self.live.lock().entry(generation).or_insert(0) += 1;
    }

    /// Unregisters a reader of generation `generation`.
    pub fn unpin(&self, generation: u64) {
        let mut live = self.live.lock();
        if let Some(c) = live.get_mut(&generation) {
            *c -= 1;
            if *c == 0 {
                live.remove(&generation);
            }
        }
        drop(live);
        self.reclaim();
    }

    /// The oldest generation a reader holds (`None`: no readers).
    pub fn oldest_pinned(&self) -> Option<u64> {
        self.live.lock().keys().next().copied()
    }

    /// Moves released pages to the free list once no reader can still see them.
    #[expect(
        clippy::indexing_slicing,
        reason = "the index is checked against the length in the loop condition"
    )]
    fn reclaim(&self) {
        let oldest = self.oldest_pinned();
        let mut a = self.alloc.lock();
        let mut i = 0;
        while i < a.pending.len() {
            if oldest.is_none_or(|o| o >= a.pending[i].0) {
                let (_, ids) = a.pending.swap_remove(i);
                a.free.extend(ids);
            } else {
                i += 1;
            }
        }
    }

    /// The page cache's and the file's counters.
    pub fn stats(&self) -> PagerStats {
        let a = self.alloc.lock();
        PagerStats {
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            free_pages: a.free.len() as u64,
            page_count: a.page_count,
        }
    }
}

/// A pager's counters, from [`Pager::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagerStats {
    /// Page reads served from the cache.
    pub cache_hits: u64,
    /// Page reads that went to the file.
    pub cache_misses: u64,
    /// Pages free for reuse.
    pub free_pages: u64,
    /// Pages in the file.
    pub page_count: u64,
}

#[expect(
    clippy::indexing_slicing,
    reason = "the loop runs while done < buf.len()"
)]
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
