//! ShinyDB's embedded storage and query engine.
//!
//! Documents are BSON, grouped in stores inside spaces. [`Db::open`] recovers from the
//! write-ahead log; writes are atomic batches ([`Db::write`]) that maintain secondary indexes in
//! the same step; reads go through a consistent [`Snapshot`]. `engine/DESIGN.md` explains the
//! architecture.
//!
//! ```
//! use shinydb_engine::{Db, Options};
//! use bson::{doc, Bson};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.create_space("sales")?;
//! db.create_store("sales", "orders")?;
//! db.create_index("sales", "orders", "by_customer", &["customer"], false)?;
//! db.insert("sales", "orders", doc! {"_id": 1, "customer": "Ann", "total": 12.5})?;
//! let doc = db.get("sales", "orders", &Bson::Int32(1))?.expect("stored");
//! assert_eq!(doc.get_str("customer")?, "Ann");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod btree;
mod db;
mod error;
mod keys;
mod kv;
mod memtable;
mod options;
pub mod query;
pub mod sample;
pub mod value;
mod vlog;
mod wal;

pub use db::{
    BackupFile, BackupInfo, BackupSource, Db, DocIter, IndexInfo, LogRecord, QueryFailure,
    Snapshot, SpaceInfo, Stats, StoreCount, StoreInfo, Update, VisibleHook, Write, WriteResult,
};
pub use error::{Error, Result};
pub use options::{Options, SyncMode};
pub use query::IndexBound;
