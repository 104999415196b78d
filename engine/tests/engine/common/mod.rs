//! Test support: an in-memory store implementing the executor's traits (with real secondary
//! index semantics: entries ordered by value then `_id`, prefix bounds) and an independent oracle.

#![allow(dead_code)]

pub mod oracle;

use std::cmp::Ordering;

use bson::{Bson, Document, RawBson, RawDocumentBuf, oid::ObjectId};
use shinydb_engine::query::{
    DocStream, IndexBound, IndexSummary, QueryError, QueryResult, StoreSource, StoreWriter,
    WriteOp, execute, parse,
};
use shinydb_engine::value::{FieldPath, compare, compare_bson, lookup};

/// One secondary index: entries (key values, `_id`, document position) in index order.
struct MemIndex {
    info: IndexSummary,
    entries: Vec<(Vec<RawBson>, RawBson, usize)>,
}

/// A store held in memory, in `_id` order.
pub struct MemStore {
    docs: Vec<RawDocumentBuf>,
    indexes: Vec<MemIndex>,
}

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::from_document(d).expect("raw document")
}

fn id_of(d: &RawDocumentBuf) -> RawBson {
    lookup(d, &FieldPath::id()).expect("_id").to_raw_bson()
}

impl MemStore {
    /// A store holding `docs` (sorted by `_id`), without indexes.
    pub fn new(docs: &[Document]) -> Self {
        let mut docs: Vec<RawDocumentBuf> = docs.iter().map(raw).collect();
        docs.sort_by(|a, b| compare(id_of(a).as_raw_bson_ref(), id_of(b).as_raw_bson_ref()));
        MemStore {
            docs,
            indexes: Vec::new(),
        }
    }

    /// Adds a secondary index on `fields` (dotted paths).
    pub fn with_index(mut self, name: &str, fields: &[&str]) -> Self {
        let paths: Vec<FieldPath> = fields
            .iter()
            .map(|f| FieldPath::dotted(f).expect("path"))
            .collect();
        let mut entries: Vec<(Vec<RawBson>, RawBson, usize)> = self
            .docs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let key = paths
                    .iter()
                    .map(|p| lookup(d, p).map_or(RawBson::Null, bson::RawBsonRef::to_raw_bson))
                    .collect();
                (key, id_of(d), i)
            })
            .collect();
        entries.sort_by(|a, b| {
            key_cmp(&a.0, &b.0).then_with(|| compare(a.1.as_raw_bson_ref(), b.1.as_raw_bson_ref()))
        });
        let mut distinct = 0u64;
        for (i, e) in entries.iter().enumerate() {
            let first =
                |x: &(Vec<RawBson>, RawBson, usize)| x.0.first().cloned().unwrap_or(RawBson::Null);
            if i == 0
                || compare(
                    first(e).as_raw_bson_ref(),
                    first(&entries[i - 1]).as_raw_bson_ref(),
                ) != Ordering::Equal
            {
                distinct += 1;
            }
        }
        self.indexes.push(MemIndex {
            info: IndexSummary {
                name: name.to_string(),
                fields: paths,
                unique: false,
                entries: entries.len() as u64,
                distinct_first: distinct,
            },
            entries,
        });
        self
    }

    /// The documents, in `_id` order.
    pub fn documents(&self) -> Vec<Document> {
        self.docs
            .iter()
            .map(|d| d.to_document().expect("doc"))
            .collect()
    }
}

fn key_cmp(a: &[RawBson], b: &[RawBson]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = compare(x.as_raw_bson_ref(), y.as_raw_bson_ref());
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Compares the first `bound.len()` key values with the bound.
fn prefix_cmp(key: &[RawBson], bound: &[RawBson]) -> Ordering {
    for (i, b) in bound.iter().enumerate() {
        let o = match key.get(i) {
            Some(k) => compare(k.as_raw_bson_ref(), b.as_raw_bson_ref()),
            None => compare(bson::RawBsonRef::Null, b.as_raw_bson_ref()),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl StoreSource for MemStore {
    fn scan(&self) -> Result<DocStream<'_>, QueryError> {
        Ok(Box::new(self.docs.iter().cloned().map(Ok)))
    }

    fn get(&self, id: &Bson) -> Result<Option<RawDocumentBuf>, QueryError> {
        let id = RawBson::try_from(id.clone()).expect("id");
        Ok(self
            .docs
            .iter()
            .find(|d| compare(id_of(d).as_raw_bson_ref(), id.as_raw_bson_ref()) == Ordering::Equal)
            .cloned())
    }

    fn indexes(&self) -> Vec<IndexSummary> {
        self.indexes.iter().map(|i| i.info.clone()).collect()
    }

    fn index_scan(
        &self,
        index: &str,
        lower: Option<&IndexBound>,
        upper: Option<&IndexBound>,
        reverse: bool,
    ) -> Result<DocStream<'_>, QueryError> {
        let idx = self
            .indexes
            .iter()
            .find(|i| i.info.name == index)
            .ok_or_else(|| QueryError::Storage(format!("no index {index}")))?;
        let to_raw = |b: &IndexBound| -> (Vec<RawBson>, bool) {
            (
                b.values
                    .iter()
                    .map(|v| RawBson::try_from(v.clone()).expect("bound"))
                    .collect(),
                b.inclusive,
            )
        };
        let (lower, upper) = (lower.map(to_raw), upper.map(to_raw));
        let mut out: Vec<RawDocumentBuf> = idx
            .entries
            .iter()
            .filter(|(key, _, _)| {
                lower.as_ref().is_none_or(|(values, inclusive)| {
                    let c = prefix_cmp(key, values);
                    if *inclusive {
                        c != Ordering::Less
                    } else {
                        c == Ordering::Greater
                    }
                }) && upper.as_ref().is_none_or(|(values, inclusive)| {
                    let c = prefix_cmp(key, values);
                    if *inclusive {
                        c != Ordering::Greater
                    } else {
                        c == Ordering::Less
                    }
                })
            })
            .map(|(_, _, i)| self.docs[*i].clone())
            .collect();
        if reverse {
            out.reverse();
        }
        Ok(Box::new(out.into_iter().map(Ok)))
    }

    fn count(&self) -> u64 {
        self.docs.len() as u64
    }
}

/// A writer over owned documents; applies a batch all-or-nothing.
pub struct MemWriter {
    pub docs: Vec<Document>,
    next_id: u64,
}

impl MemWriter {
    /// A writer holding `docs`.
    pub fn new(docs: Vec<Document>) -> Self {
        MemWriter { docs, next_id: 1 }
    }

    fn position(docs: &[Document], id: &Bson) -> Option<usize> {
        docs.iter().position(|d| {
            d.get("_id")
                .is_some_and(|x| compare_bson(x, id) == Ordering::Equal)
        })
    }
}

impl StoreWriter for MemWriter {
    fn apply(&mut self, ops: Vec<WriteOp>) -> Result<Vec<Bson>, QueryError> {
        let mut docs = self.docs.clone();
        let mut ids = Vec::new();
        for op in ops {
            match op {
                WriteOp::Insert(mut d) => {
                    let id = if let Some(id) = d.get("_id") {
                        id.clone()
                    } else {
                        let mut b = [0u8; 12];
                        b[4..].copy_from_slice(&self.next_id.to_be_bytes());
                        self.next_id += 1;
                        let id = Bson::ObjectId(ObjectId::from_bytes(b));
                        let mut with_id = Document::new();
                        with_id.insert("_id", id.clone());
                        with_id.extend(d);
                        d = with_id;
                        id
                    };
                    if Self::position(&docs, &id).is_some() {
                        return Err(QueryError::Write(format!("duplicate _id {id}")));
                    }
                    docs.push(d);
                    ids.push(id);
                }
                WriteOp::Replace { id, document } => {
                    let i = Self::position(&docs, &id)
                        .ok_or_else(|| QueryError::Write("no such document".into()))?;
                    docs[i] = document;
                }
                WriteOp::Delete { id } => {
                    let i = Self::position(&docs, &id)
                        .ok_or_else(|| QueryError::Write("no such document".into()))?;
                    docs.remove(i);
                }
            }
        }
        self.docs = docs;
        Ok(ids)
    }
}

/// The sample dataset (seed 42), generated once per test binary.
pub fn sample_data() -> &'static shinydb_engine::sample::SampleData {
    static DATA: std::sync::OnceLock<shinydb_engine::sample::SampleData> =
        std::sync::OnceLock::new();
    DATA.get_or_init(|| shinydb_engine::sample::generate(42))
}

/// The sample stores with and without indexes.
pub struct Stores {
    pub plain: MemStore,
    pub indexed: MemStore,
}

/// The secondary indexes the "with indexes" runs create on each sample store.
pub fn index_specs(name: &str) -> &'static [(&'static str, &'static [&'static str])] {
    match name {
        "orders" => &[
            ("by_employee", &["EmployeeID"]),
            ("by_total", &["TotalDue"]),
            ("by_date", &["OrderDate"]),
            ("by_employee_total", &["EmployeeID", "TotalDue"]),
            ("by_status", &["Status"]),
            ("by_customer", &["CustomerID"]),
            ("by_ship_state", &["ShipAddress.State"]),
            ("by_priority", &["Priority"]),
            ("by_comment", &["Comment"]),
        ],
        "customers" => &[
            ("by_state_city", &["Address.State", "Address.City"]),
            ("by_points", &["Points"]),
            ("by_email", &["Email"]),
            ("by_last", &["LastName"]),
            ("by_full", &["FullName"]),
        ],
        "products" => &[
            ("by_name", &["ProductName"]),
            ("by_price", &["ListPrice"]),
            ("by_category", &["Category", "SubCategory"]),
            ("by_rating", &["Rating"]),
            ("by_color", &["Color"]),
            ("by_size", &["Size"]),
        ],
        "vendors" => &[
            ("by_rating", &["CreditRating"]),
            ("by_score", &["Score"]),
            ("by_name", &["Name"]),
        ],
        "employees" => &[("by_manager", &["ManagerID"]), ("by_salary", &["Salary"])],
        _ => &[],
    }
}

/// Builds the store `name` of the sample data twice: without and with indexes.
pub fn stores(data: &shinydb_engine::sample::SampleData, name: &str) -> Stores {
    let docs = data.store(name).expect("store");
    let plain = MemStore::new(docs);
    let mut indexed = MemStore::new(docs);
    for (n, fields) in index_specs(name) {
        indexed = indexed.with_index(n, fields);
    }
    Stores { plain, indexed }
}

/// The sample data loaded into real engines in space `sales`: one without secondary indexes
/// and one with every index of [`index_specs`] (half created before loading, half built on the
/// loaded store).
pub struct EngineDbs {
    _dir: tempfile::TempDir,
    /// No secondary indexes.
    pub plain: shinydb_engine::Db,
    /// Every index of [`index_specs`].
    pub indexed: shinydb_engine::Db,
}

/// Loads the sample data into two fresh engines.
pub fn engine_dbs(data: &shinydb_engine::sample::SampleData) -> EngineDbs {
    use shinydb_engine::{Db, Options, SyncMode};
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options {
        sync: SyncMode::None,
        memtable_bytes: 1 << 20,
        value_log_threshold: 1024,
        compression_threshold: 1500,
        ..Options::default()
    };
    let open = |name: &str| {
        let db = Db::open(dir.path().join(name), opts.clone()).expect("open");
        db.create_space("sales").expect("space");
        db
    };
    let (plain, indexed) = (open("plain"), open("indexed"));
    for store in ["employees", "customers", "vendors", "products", "orders"] {
        let docs = data.store(store).expect("store").to_vec();
        let specs = index_specs(store);
        for db in [&plain, &indexed] {
            db.create_store("sales", store).expect("store");
        }
        for (i, (n, fields)) in specs.iter().enumerate() {
            if i % 2 == 0 {
                indexed
                    .create_index("sales", store, n, fields, false)
                    .expect("index");
            }
        }
        for db in [&plain, &indexed] {
            for chunk in docs.chunks(500) {
                db.insert_many("sales", store, chunk.to_vec())
                    .expect("load");
            }
        }
        for (i, (n, fields)) in specs.iter().enumerate() {
            if i % 2 == 1 {
                indexed
                    .create_index("sales", store, n, fields, false)
                    .expect("index");
            }
        }
    }
    // Part of the data flushed into the B+tree, part still in memtables.
    indexed.checkpoint().expect("checkpoint");
    EngineDbs {
        _dir: dir,
        plain,
        indexed,
    }
}

/// Parses and runs a read query.
pub fn run(source: &MemStore, text: &str) -> QueryResult {
    let q = parse(text).unwrap_or_else(|e| panic!("{text}:\n{e}"));
    execute(source, None, &q).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The store name in `space.store....`.
pub fn store_of(text: &str) -> String {
    parse(text).expect("parse").store
}

/// Runs test `name` of this test binary in a child process (the crash tests' writer) with
/// `env=dir` set, its stdout piped and its stderr discarded.
pub fn spawn_child(name: &str, env: &str, dir: &std::path::Path) -> std::process::Child {
    let exe = std::env::current_exe().expect("test binary");
    std::process::Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child")
}
