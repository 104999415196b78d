//! ShinyDB's embedded storage and query engine.

mod btree;
mod error;
pub mod keys;
mod kv;
mod memtable;
mod options;
mod wal;

pub use error::{Error, Result};
pub use options::{Options, SyncMode};
