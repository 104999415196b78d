//! How an engine is opened: durability, memory budgets, compression and garbage collection.

use std::time::Duration;

/// When an acknowledged write reaches stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `fdatasync` before acknowledging; concurrent writers share one sync (group commit).
    /// An acknowledged write survives `kill -9` and power loss.
    Sync,
    /// Writes reach the operating system before they are acknowledged and are synced in the
    /// background at this interval. Survives `kill -9`; power loss can lose up to one interval.
    Interval(Duration),
    /// Writes reach the operating system before they are acknowledged and are never synced by
    /// the engine (only at checkpoints). Survives `kill -9`; power loss can lose anything not
    /// yet checkpointed.
    None,
}

/// Options for [`crate::Db::open`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Durability of acknowledged writes.
    pub sync: SyncMode,
    /// Bytes of writes held in one memtable before it is frozen and flushed to the B+tree.
    pub memtable_bytes: usize,
    /// How many frozen memtables may wait for their flush before writers are held back.
    pub max_frozen_memtables: usize,
    /// Bytes of B+tree pages kept in the page cache.
    pub cache_bytes: u64,
    /// Documents whose stored size exceeds this many bytes go to the value log; smaller ones
    /// stay inline in B+tree leaves.
    pub value_log_threshold: usize,
    /// Stored bodies larger than this many bytes are compressed with zstd.
    pub compression_threshold: usize,
    /// The zstd level (1 fast … 19 small).
    pub compression_level: i32,
    /// A write-ahead-log segment is closed and a new one started past this size.
    pub wal_segment_bytes: u64,
    /// A value-log segment is closed and a new one started past this size.
    pub vlog_segment_bytes: u64,
    /// Garbage collection runs in the background at this interval (`None`: only on request).
    pub gc_interval: Option<Duration>,
    /// A value-log segment is rewritten once this fraction of it is garbage.
    pub gc_dead_ratio: f64,
    /// The most bytes one atomic batch may write to the log, on every write path (a YQL write
    /// over a whole store is one batch); a larger batch is refused whole with
    /// [`crate::Error::LimitExceeded`]. The log's own record limit (1 GiB) applies on top.
    pub max_batch_bytes: usize,
    /// At open, drop the indexes whose build never finished (the process stopped during
    /// [`crate::Db::create_index`], so no caller was told it succeeded): they would be
    /// maintained on every write, never used, and would hold their names. A replica, whose
    /// catalog comes from its primary's log, leaves them to the primary.
    pub drop_unfinished_indexes: bool,
    /// Keep the whole log from open on, until [`crate::Db::retain_log_after`] says how much: for
    /// a log archiver or a replica's source, which must see every batch, including those a
    /// checkpoint before a restart covered. Off: checkpoints (and open) trim the log freely.
    pub retain_log: bool,
    /// Open read-only: local writes fail with [`crate::Error::ReadOnly`] and only
    /// [`crate::Db::apply_log`] changes the data (a replica), until
    /// [`crate::Db::set_read_only`] says otherwise. Nothing is written at open either (no
    /// unfinished index is dropped).
    pub read_only: bool,
    /// Groups one grouped query may make; past it the query fails with
    /// [`crate::query::QueryError::TooManyGroups`] instead of growing without bound.
    pub max_query_groups: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sync: SyncMode::Sync,
            memtable_bytes: 64 << 20,
            max_frozen_memtables: 2,
            cache_bytes: 256 << 20,
            value_log_threshold: 2048,
            compression_threshold: 4096,
            compression_level: 3,
            wal_segment_bytes: 64 << 20,
            vlog_segment_bytes: 256 << 20,
            gc_interval: Some(Duration::from_secs(30)),
            gc_dead_ratio: 0.5,
            max_batch_bytes: 256 << 20,
            drop_unfinished_indexes: true,
            retain_log: false,
            read_only: false,
            max_query_groups: 1_000_000,
        }
    }
}
