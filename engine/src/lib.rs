//! ShinyDB's embedded storage and query engine.

mod btree;
mod db;
mod error;
pub mod keys;
mod kv;
mod memtable;
mod options;
mod vlog;
mod wal;

pub use db::{
    Db, DocIter, IndexBound, IndexInfo, Snapshot, SpaceInfo, Stats, StoreInfo, Update, Write,
    WriteResult,
};
pub use error::{Error, Result};
pub use options::{Options, SyncMode};
