//! Continuous archiving of the write-ahead log: every committed batch reaches the store within
//! `backup.archive.timeout_seconds`, so a base backup plus the archive can be restored to any
//! moment since.
//!
//! ```text
//! wal/<lineage>/<first seq:020>-<last seq:020>.zst   one zstd frame of the batches first..=last,
//!                                                     each in the engine's checksummed record form
//! ```
//!
//! A lineage is one history of sequence numbers: a data directory keeps its lineage id in
//! [`LINEAGE_FILE`], and a restored directory gets a new one, so it never writes into the
//! history it was restored from. Slices are written create-only and never rewritten; a range no
//! slice covers is a gap that restores refuse to cross.
//!
//! The local log is kept until it is archived ([`shinydb_engine::Db::hold_log`]), up
//! to `max_pending_bytes`: past it the server lets the log go and records the gap, rather
//! than fill its own disk.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use parking_lot::Mutex;
use shinydb_engine::{Db, Error as EngineError, LogRecord};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{BackupError, Location, crypt};
use crate::{auth::now_ms, config::BackupConfig, metrics::Metrics};

/// The file in the data directory that holds its lineage id.
pub const LINEAGE_FILE: &str = "lineage";

/// The archiver's hold on the local log (beside each follower's).
const ARCHIVE_HOLD: &str = "archive";
/// Batches read from the engine per slice at most.
const SLICE_RECORDS: usize = 4096;
/// How often the archiver looks for new batches.
const TICK: Duration = Duration::from_millis(500);
/// How long a stopping server waits for the last slice.
const FINAL_PASS: Duration = Duration::from_secs(10);

/// The lineage id of the data directory `dir`, created on first use.
pub fn lineage(dir: &Path) -> Result<String, BackupError> {
    let path = dir.join(LINEAGE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if valid_lineage(text.trim()) => Ok(text.trim().to_string()),
        Ok(_) => Err(BackupError::File {
            what: "reading the lineage id in",
            path,
            source: std::io::Error::other("it is not 16 hexadecimal digits"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_lineage(dir),
        Err(source) => Err(BackupError::File {
            what: "reading",
            path,
            source,
        }),
    }
}

/// Gives the data directory `dir` a new lineage id (after a restore), durably.
pub fn new_lineage(dir: &Path) -> Result<String, BackupError> {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).map_err(|e| BackupError::File {
        what: "drawing a lineage id for",
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let id = hex::encode(raw);
    let path = dir.join(LINEAGE_FILE);
    let tmp = dir.join(format!("{LINEAGE_FILE}.tmp"));
    let file_error = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::File { what, path, source }
    };
    std::fs::write(&tmp, format!("{id}\n")).map_err(file_error("writing", &tmp))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(file_error("syncing", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(file_error("renaming", &path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(file_error("syncing", dir))?;
    Ok(id)
}

fn valid_lineage(id: &str) -> bool {
    id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// One archived slice of a lineage's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// Its first batch.
    pub first: u64,
    /// Its last batch.
    pub last: u64,
    /// Its object name (under `wal/<lineage>/`).
    pub name: String,
}

impl Slice {
    fn new(first: u64, last: u64) -> Slice {
        Slice {
            first,
            last,
            name: format!("{first:020}-{last:020}.zst"),
        }
    }

    fn parse(name: &str) -> Option<Slice> {
        let (first, last) = name.strip_suffix(".zst")?.split_once('-')?;
        let slice = Slice::new(first.parse().ok()?, last.parse().ok()?);
        (slice.name == name && slice.first <= slice.last).then_some(slice)
    }

    /// Downloads the slice and decodes its batches, checking every record's checksum and that
    /// they are exactly `first..=last`.
    pub async fn fetch(
        &self,
        loc: &Location,
        lineage: &str,
    ) -> Result<Vec<LogRecord>, BackupError> {
        let key = loc.key(&["wal", lineage, &self.name]);
        let stored = loc.get(&key).await?;
        let (first, last) = (self.first, self.last);
        let key_text = key.to_string();
        let sealed_as = format!("wal/{lineage}/{}", self.name);
        let sealer = loc.sealer().cloned();
        tokio::task::spawn_blocking(move || {
            let corrupt = |reason: String| BackupError::CorruptArchive {
                key: key_text.clone(),
                reason,
            };
            let stored = crypt::open(sealer.as_deref(), &sealed_as, &stored)?;
            let raw = zstd::stream::decode_all(&stored[..])
                .map_err(|e| corrupt(format!("it does not decompress: {e}")))?;
            let records = LogRecord::all_from_bytes(&raw).map_err(|e| corrupt(e.to_string()))?;
            let (got_first, got_last) = match (records.first(), records.last()) {
                (Some(a), Some(b)) => (a.seq(), b.seq()),
                _ => return Err(corrupt("it holds no batches".into())),
            };
            if (got_first, got_last) != (first, last) {
                return Err(corrupt(format!(
                    "it holds batches {got_first} to {got_last}, its name says {first} to {last}"
                )));
            }
            Ok(records)
        })
        .await
        .map_err(|e| BackupError::Store {
            store: loc.url().into(),
            detail: format!("a download task failed: {e}"),
        })?
    }
}

/// Every slice of `lineage` in the store, by first batch.
pub async fn slices(loc: &Location, lineage: &str) -> Result<Vec<Slice>, BackupError> {
    let mut out: Vec<Slice> = loc
        .objects(&["wal", lineage])
        .await?
        .iter()
        .filter_map(|(key, _)| key.filename().and_then(Slice::parse))
        .collect();
    out.sort_by_key(|s| (s.first, s.last));
    Ok(out)
}

/// What the archiver has done, for `shinydb backup status` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStatus {
    /// The data directory's lineage.
    pub lineage: String,
    /// Every batch up to this one is in the archive (or in a recorded gap).
    pub archived_seq: u64,
    /// The commit time of that batch, ms since the epoch (0: none yet, or unknown).
    pub archived_commit_ms: u64,
    /// When the last slice was written, ms since the epoch (0: none by this process).
    pub last_upload_ms: i64,
    /// Slices written by this process.
    pub slices_written: u64,
    /// Bytes stored by this process.
    pub bytes_written: u64,
    /// Failed attempts by this process.
    pub errors: u64,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    /// Ranges of batches the archive will never hold (the local log was let go first).
    pub gaps: Vec<(u64, u64)>,
    /// Since when batches have been waiting to be archived, ms since the epoch (0: none wait).
    pub pending_since_ms: i64,
}

/// Lets go of the log the archiver held (once it has stopped, on a server that no longer
/// leads: the new leader archives from where this one stopped).
pub fn release_hold(db: &Db) {
    db.hold_log(ARCHIVE_HOLD, None);
}

/// The background task that archives the log.
pub struct Archiver {
    status: Arc<Mutex<ArchiveStatus>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Archiver {
    /// Starts archiving `db`'s log to `cfg.store`, as lineage `lineage`, counting in
    /// `metrics`. Until the archive's position is known, the whole local log is kept.
    pub fn start(
        db: Arc<Db>,
        cfg: BackupConfig,
        lineage: String,
        metrics: Arc<Metrics>,
    ) -> Archiver {
        db.hold_log(ARCHIVE_HOLD, Some(0));
        let status = Arc::new(Mutex::new(ArchiveStatus {
            lineage: lineage.clone(),
            ..ArchiveStatus::default()
        }));
        let stop = CancellationToken::new();
        let run = Run {
            db,
            cfg,
            lineage,
            status: Arc::clone(&status),
            metrics,
            archived: None,
            released: false,
            last_upload_took_ms: 0,
        };
        let task = tokio::spawn(run.run(stop.clone()));
        Archiver { status, stop, task }
    }

    /// What the archiver has done so far.
    pub fn status(&self) -> ArchiveStatus {
        self.status.lock().clone()
    }

    /// Archives what is left (waiting up to 10 s for the store) and stops.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            warn!(error = %e, "the archiver task failed");
        }
    }
}

/// The archiver's own state, owned by its task.
struct Run {
    db: Arc<Db>,
    cfg: BackupConfig,
    lineage: String,
    status: Arc<Mutex<ArchiveStatus>>,
    metrics: Arc<Metrics>,
    /// Every batch up to this one is archived; `None` until the store has been asked.
    archived: Option<u64>,
    /// The local log past the archive was let go (over `max_pending_bytes`).
    released: bool,
    /// How long the last slice took to write, ms (the margin before the timeout).
    last_upload_took_ms: i64,
}

impl Run {
    async fn run(mut self, stop: CancellationToken) {
        info!(
            lineage = self.lineage,
            store = self.cfg.store.as_deref().unwrap_or(""),
            "archiving the log"
        );
        let mut backoff = Duration::ZERO;
        let mut next_try = Instant::now();
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                () = tokio::time::sleep(TICK) => false,
            };
            if stopping {
                let last = tokio::time::timeout(FINAL_PASS, self.pass(true)).await;
                match last {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn!(error = %e, "the last archive pass failed"),
                    Err(_) => warn!("the store did not take the last slice in time"),
                }
                return;
            }
            if Instant::now() < next_try {
                continue;
            }
            match self.pass(false).await {
                Ok(()) => backoff = Duration::ZERO,
                Err(e) => {
                    backoff = (backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
                    next_try = Instant::now() + backoff;
                    warn!(error = %e, retry_in_seconds = backoff.as_secs(), "archiving the log failed");
                    self.metrics.backup.archive_errors.inc();
                    let mut st = self.status.lock();
                    st.errors += 1;
                    st.last_error = Some(e.to_string());
                }
            }
            self.update_lag();
            if let Err(e) = self.check_local_log().await {
                warn!(error = %e, "measuring the local log failed");
            }
        }
    }

    /// One look: archive what is due (everything, if `all`).
    async fn pass(&mut self, all: bool) -> Result<(), BackupError> {
        let loc = Location::open(&self.cfg)?;
        let archived = match self.archived {
            Some(a) => a,
            None => self.position(&loc).await?,
        };
        let last = self.db.last_seq();
        if last <= archived {
            self.status.lock().pending_since_ms = 0;
            return Ok(());
        }
        let now = now_ms();
        let since = {
            let mut st = self.status.lock();
            if st.pending_since_ms == 0 {
                st.pending_since_ms = now;
            }
            st.pending_since_ms
        };
        let timeout_ms = i64::try_from(self.cfg.archive.timeout_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        // Ship early enough that the upload ends inside the timeout: the batch may have waited
        // a tick before it was seen, and the upload takes about as long as the last one, or
        // (the store or the machine slowed down) longer: never later than half the timeout,
        // which leaves the other half to an upload slower than the last.
        let tick_ms = i64::try_from(TICK.as_millis()).unwrap_or(i64::MAX);
        let margin_ms = 2 * tick_ms + self.last_upload_took_ms;
        let due_after_ms = timeout_ms.saturating_sub(margin_ms).min(timeout_ms / 2);
        let due = all
            || self.released
            || now.saturating_sub(since) >= due_after_ms
            || last - archived >= SLICE_RECORDS as u64;
        if !due {
            return Ok(());
        }
        // Everything committed up to now goes; batches committed meanwhile wait for the next.
        while self.archived.unwrap_or(archived) < last {
            self.upload_one(&loc, last).await?;
        }
        let mut st = self.status.lock();
        st.pending_since_ms = 0;
        st.last_error = None;
        Ok(())
    }

    /// Where the archive of this lineage ends: the last slice, or (an empty archive) just
    /// before the oldest batch the local log holds. A local log that starts later than the
    /// archive ends is a gap.
    async fn position(&mut self, loc: &Location) -> Result<u64, BackupError> {
        let slices = slices(loc, &self.lineage).await?;
        let db = Arc::clone(&self.db);
        let (first_local, last_local) =
            blocking(move || Ok::<_, EngineError>((db.first_log_seq()?, db.last_seq()))).await?;
        let local_start = first_local.map_or(last_local, |f| f - 1);
        let archived = match slices.last() {
            None => local_start,
            Some(s) if s.last > last_local => {
                // Another directory wrote this lineage further: this one must not continue it.
                let old = std::mem::take(&mut self.lineage);
                self.lineage = new_lineage(self.db.dir())?;
                warn!(
                    old,
                    new = self.lineage,
                    archived = s.last,
                    local = last_local,
                    "the archive of this lineage is ahead of the data directory: starting a new lineage"
                );
                self.status.lock().lineage = self.lineage.clone();
                local_start
            }
            Some(s) if s.last < local_start => {
                self.record_gap(s.last + 1, local_start);
                local_start
            }
            Some(s) => s.last,
        };
        self.archived = Some(archived);
        self.db.hold_log(ARCHIVE_HOLD, Some(archived));
        self.status.lock().archived_seq = archived;
        Ok(archived)
    }

    /// Archives one slice of the batches after the archive's end, up to `last`.
    async fn upload_one(&mut self, loc: &Location, last: u64) -> Result<(), BackupError> {
        let after = self.archived.unwrap_or_default();
        let db = Arc::clone(&self.db);
        let records = match blocking(move || db.read_log(after, SLICE_RECORDS)).await {
            Ok(r) => r,
            Err(BackupError::Engine(EngineError::LogTruncated { .. })) => {
                // The log was let go past the cap: the archive resumes at the oldest batch
                // still here, and the batches in between are a gap.
                let db = Arc::clone(&self.db);
                let first = blocking(move || db.first_log_seq()).await?;
                let resume = first.map_or(self.db.last_seq(), |f| f - 1);
                self.record_gap(after + 1, resume);
                self.archived = Some(resume);
                self.released = false;
                self.db.hold_log(ARCHIVE_HOLD, Some(resume));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let limit = usize::try_from(self.cfg.chunk_size.0).unwrap_or(usize::MAX);
        let mut raw = Vec::new();
        let mut end = after;
        let mut end_ms = 0;
        for r in records.iter().take_while(|r| r.seq() <= last) {
            if !raw.is_empty() && raw.len() >= limit {
                break;
            }
            r.encode_into(&mut raw);
            end = r.seq();
            end_ms = r.commit_time_ms();
        }
        if end == after {
            return Ok(());
        }
        let slice = Slice::new(after + 1, end);
        let level = self.cfg.compression_level;
        let dir = self.db.dir().to_path_buf();
        let sealed_as = format!("wal/{}/{}", self.lineage, slice.name);
        let sealer = loc.sealer().cloned();
        let stored = blocking(move || {
            let compressed =
                zstd::bulk::compress(&raw, level).map_err(|source| BackupError::File {
                    what: "compressing the log of",
                    path: dir,
                    source,
                })?;
            match sealer {
                Some(s) => s.seal(&sealed_as, &compressed),
                None => Ok(compressed),
            }
        })
        .await?;
        let bytes = stored.len() as u64;
        let key = loc.key(&["wal", &self.lineage, &slice.name]);
        let started = Instant::now();
        match loc.put_new(&key, Bytes::from(stored)).await {
            // Already there: written by an earlier attempt whose answer was lost (slices are
            // never rewritten).
            Ok(()) | Err(BackupError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
        self.last_upload_took_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // The store takes slices again: hold the log for the archive again, also after it
        // was let go past the cap.
        self.archived = Some(end);
        self.released = false;
        self.db.hold_log(ARCHIVE_HOLD, Some(end));
        self.metrics.backup.archived_slices.inc();
        self.metrics.backup.archived_bytes.inc_by(bytes);
        self.metrics
            .backup
            .archived_seq
            .set(i64::try_from(end).unwrap_or(i64::MAX));
        let mut st = self.status.lock();
        st.archived_seq = end;
        st.archived_commit_ms = end_ms;
        st.last_upload_ms = now_ms();
        st.slices_written += 1;
        st.bytes_written += bytes;
        Ok(())
    }

    /// The lag gauges, from the status and the engine's newest batch.
    fn update_lag(&self) {
        let st = self.status.lock();
        let m = &self.metrics.backup;
        let lag = if st.pending_since_ms > 0 {
            now_ms().saturating_sub(st.pending_since_ms) as f64 / 1000.0
        } else {
            0.0
        };
        m.archive_lag.set(lag);
        m.archived_seq
            .set(i64::try_from(st.archived_seq).unwrap_or(i64::MAX));
        let pending = self.db.last_seq().saturating_sub(st.archived_seq);
        m.archive_pending_batches
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Lets the local log go once it holds more than `max_pending_bytes` for the archive.
    async fn check_local_log(&mut self) -> Result<(), BackupError> {
        // Before the store has answered, the whole log is held: the cap applies to that too.
        if self.released || self.archived.is_some_and(|a| a >= self.db.last_seq()) {
            return Ok(());
        }
        let db = Arc::clone(&self.db);
        let bytes = blocking(move || db.log_bytes()).await?;
        if bytes > self.cfg.archive.max_pending_bytes.0 {
            warn!(
                bytes,
                cap = self.cfg.archive.max_pending_bytes.0,
                "the store has not taken the log for too long: letting the local log go; the archive will have a gap"
            );
            self.db.hold_log(ARCHIVE_HOLD, None);
            self.released = true;
        }
        Ok(())
    }

    fn record_gap(&self, from: u64, to: u64) {
        if from > to {
            return;
        }
        warn!(
            from,
            to,
            lineage = self.lineage,
            "the archive has a gap: these batches were never archived"
        );
        self.metrics.backup.archive_gaps.inc();
        self.status.lock().gaps.push((from, to));
    }
}

/// Runs blocking engine work off the async threads.
async fn blocking<T, E>(f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, BackupError>
where
    T: Send + 'static,
    E: Into<BackupError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BackupError::Store {
            store: String::new(),
            detail: format!("a background task failed: {e}"),
        })?
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_names_sort_by_sequence_and_parse_back() {
        let s = Slice::new(7, 12);
        assert_eq!(s.name, "00000000000000000007-00000000000000000012.zst");
        assert_eq!(Slice::parse(&s.name), Some(s));
        for bad in [
            "7-12.zst",
            "00000000000000000012-00000000000000000007.zst",
            "x.zst",
        ] {
            assert_eq!(Slice::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_data_directory_keeps_its_lineage_until_given_a_new_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lineage(dir.path()).expect("created");
        assert!(valid_lineage(&first), "{first}");
        assert_eq!(lineage(dir.path()).expect("read"), first);
        let second = new_lineage(dir.path()).expect("new");
        assert_ne!(first, second);
        assert_eq!(lineage(dir.path()).expect("read"), second);
        std::fs::write(dir.path().join(LINEAGE_FILE), "not hex").expect("write");
        assert!(lineage(dir.path()).is_err());
    }
}
