//! The systems under test behind one interface: a session per client thread that reads,
//! updates, inserts and scans records, and the YCSB worker that drives a session and checks
//! what it reads.

pub mod postgres;
pub mod shinydb;

use std::sync::Arc;

use rand::{SeedableRng, rngs::SmallRng};

use crate::{
    driver::{OpKind, Worker},
    error::BenchError,
    workload::{Chooser, InsertCounter, Mismatch, Op, Shape, record},
};

/// A record's fields: `(name, value)`.
pub type Fields = Vec<(String, String)>;

/// A key and its record.
pub type Row = (String, Fields);

/// One client thread's connection to a target.
pub enum Session {
    /// PostgreSQL.
    Postgres(postgres::PgSession),
    /// ShinyDB through `shinydb-client`'s pipelined stream.
    Stream(shinydb::StreamSession),
    /// ShinyDB through plain unary calls.
    Unary(shinydb::UnarySession),
}

impl Session {
    /// The target's name, for errors.
    pub fn target(&self) -> &'static str {
        match self {
            Session::Postgres(_) => "postgres",
            Session::Stream(_) | Session::Unary(_) => "shinydb",
        }
    }

    async fn read(&mut self, key: &str) -> Result<Option<Fields>, BenchError> {
        match self {
            Session::Postgres(s) => s.read(key).await,
            Session::Stream(s) => s.read(key).await,
            Session::Unary(s) => s.read(key).await,
        }
    }

    async fn update(&mut self, key: &str, field: &str, value: &str) -> Result<bool, BenchError> {
        match self {
            Session::Postgres(s) => s.update(key, field, value).await,
            Session::Stream(s) => s.update(key, field, value).await,
            Session::Unary(s) => s.update(key, field, value).await,
        }
    }

    async fn insert(&mut self, key: &str, fields: &Fields) -> Result<(), BenchError> {
        match self {
            Session::Postgres(s) => s.insert(key, fields).await,
            Session::Stream(s) => s.insert(key, fields).await,
            Session::Unary(s) => s.insert_many(&[(key.to_string(), fields.clone())]).await,
        }
    }

    /// Inserts many records at once (the load phase).
    pub async fn insert_many(&mut self, rows: &[Row]) -> Result<(), BenchError> {
        match self {
            Session::Postgres(s) => s.insert_many(rows).await,
            Session::Stream(s) => s.insert_many(rows).await,
            Session::Unary(s) => s.insert_many(rows).await,
        }
    }

    async fn scan(&mut self, start: &str, len: usize) -> Result<Vec<Row>, BenchError> {
        match self {
            Session::Postgres(s) => s.scan(start, len).await,
            Session::Stream(s) => s.scan(start, len).await,
            Session::Unary(s) => s.scan(start, len).await,
        }
    }
}

/// How thoroughly reads are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The record exists, with every field, and scans come back in order from their start key.
    Shape,
    /// Also every value: it must be one the driver wrote for that key and field.
    Values,
}

/// One YCSB client thread.
pub struct YcsbWorker {
    session: Session,
    chooser: Chooser,
    counter: Arc<InsertCounter>,
    shape: Shape,
    check: Check,
    rng: SmallRng,
}

impl YcsbWorker {
    /// A worker drawing operations from `chooser`, seeded with `seed`.
    pub fn new(
        session: Session,
        chooser: Chooser,
        counter: Arc<InsertCounter>,
        shape: Shape,
        check: Check,
        seed: u64,
    ) -> YcsbWorker {
        YcsbWorker {
            session,
            chooser,
            counter,
            shape,
            check,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    fn verify(&self, key: &str, fields: &Fields) -> Result<(), BenchError> {
        let target = self.session.target();
        let r = match self.check {
            Check::Values => self
                .shape
                .check_record(key, fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            Check::Shape if fields.len() == self.shape.field_count => Ok(()),
            Check::Shape => Err(Mismatch::Fields {
                key: key.into(),
                found: fields.iter().map(|(k, _)| k.clone()).collect(),
                last: self.shape.field_count.saturating_sub(1),
            }),
        };
        r.map_err(|mismatch| BenchError::Verify { target, mismatch })
    }

    async fn read_checked(&mut self, key: &str) -> Result<(), BenchError> {
        match self.session.read(key).await? {
            Some(f) => self.verify(key, &f),
            None => Err(BenchError::Verify {
                target: self.session.target(),
                mismatch: Mismatch::Missing { key: key.into() },
            }),
        }
    }

    async fn update_one(&mut self, key: &str, field: usize) -> Result<(), BenchError> {
        let name = record::field_name(field);
        let value = self.shape.value(key, &name, &mut self.rng);
        if self.session.update(key, &name, &value).await? {
            Ok(())
        } else {
            Err(BenchError::Verify {
                target: self.session.target(),
                mismatch: Mismatch::Missing { key: key.into() },
            })
        }
    }

    async fn scan_checked(&mut self, start: &str, len: usize) -> Result<(), BenchError> {
        let rows = self.session.scan(start, len).await?;
        // The start key exists, so it comes first; keys ascend; no more than asked for.
        let ordered = rows.first().is_some_and(|(k, _)| k == start)
            && rows.windows(2).all(|w| w[0].0 < w[1].0)
            && rows.len() <= len;
        if !ordered {
            return Err(BenchError::Verify {
                target: self.session.target(),
                mismatch: Mismatch::Scan {
                    start: start.into(),
                    limit: len,
                    got: rows.into_iter().map(|(k, _)| k).collect(),
                },
            });
        }
        rows.iter().try_for_each(|(k, f)| self.verify(k, f))
    }
}

impl Worker for YcsbWorker {
    async fn step(&mut self) -> Result<OpKind, BenchError> {
        let op = self.chooser.next(&self.counter, &mut self.rng);
        match op {
            Op::Read { key } => {
                self.read_checked(&record::key(key)).await?;
                Ok(OpKind::Read)
            }
            Op::Update { key, field } => {
                self.update_one(&record::key(key), field).await?;
                Ok(OpKind::Update)
            }
            Op::Insert { key: n } => {
                let key = record::key(n);
                let fields = self.shape.record(&key, &mut self.rng);
                self.session.insert(&key, &fields).await?;
                self.counter.acknowledge(n);
                Ok(OpKind::Insert)
            }
            Op::Scan { key, len } => {
                self.scan_checked(&record::key(key), len).await?;
                Ok(OpKind::Scan)
            }
            Op::ReadModifyWrite { key, field } => {
                let key = record::key(key);
                self.read_checked(&key).await?;
                self.update_one(&key, field).await?;
                Ok(OpKind::ReadModifyWrite)
            }
        }
    }
}

/// Loads records `0..records` through `sessions` (one task each), `batch` records per request.
pub async fn load(
    sessions: Vec<Session>,
    records: u64,
    batch: usize,
    shape: Shape,
) -> Result<(), BenchError> {
    let threads = sessions.len().max(1) as u64;
    let mut set = tokio::task::JoinSet::new();
    for (t, mut s) in sessions.into_iter().enumerate() {
        let t = t as u64;
        set.spawn(async move {
            let mut rng = SmallRng::seed_from_u64(t);
            let (from, to) = (records * t / threads, records * (t + 1) / threads);
            let mut rows = Vec::with_capacity(batch);
            for n in from..to {
                let key = record::key(n);
                let fields = shape.record(&key, &mut rng);
                rows.push((key, fields));
                if rows.len() >= batch || n + 1 == to {
                    s.insert_many(&rows).await?;
                    rows.clear();
                }
            }
            Ok::<(), BenchError>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| BenchError::Task(e.to_string()))??;
    }
    Ok(())
}

/// How to reach a target.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// PostgreSQL at `conninfo`, with `synchronous_commit` on or off for every session.
    Postgres {
        /// libpq connection string.
        conninfo: String,
        /// `synchronous_commit = on` (fsync on commit) or `off` (relaxed).
        synchronous_commit: bool,
    },
    /// ShinyDB.
    ShinyDb {
        /// Where and how.
        endpoint: shinydb::Endpoint,
        /// Pipelined stream or unary calls.
        api: Api,
    },
}

/// How ShinyDB is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// `shinydb-client`: operations of all threads share pipelined streams.
    Stream,
    /// Plain unary `Documents` calls, one connection per thread.
    Unary,
}

impl TargetSpec {
    /// The name of this line in reports.
    pub fn label(&self) -> String {
        match self {
            TargetSpec::Postgres { .. } => "postgres".into(),
            TargetSpec::ShinyDb { endpoint, api } => {
                let api = match api {
                    Api::Stream => "stream",
                    Api::Unary => "unary",
                };
                let tls = if endpoint.ca_pem.is_some() {
                    ", TLS"
                } else {
                    ""
                };
                format!("shinydb ({api}{tls})")
            }
        }
    }

    /// Creates the table (or store) the workload uses, empty.
    pub async fn prepare(&self) -> Result<(), BenchError> {
        match self {
            TargetSpec::Postgres { conninfo, .. } => postgres::create_table(conninfo).await,
            TargetSpec::ShinyDb { endpoint, .. } => shinydb::create_store(endpoint).await,
        }
    }

    /// One session per client thread.
    pub async fn sessions(&self, threads: usize) -> Result<Vec<Session>, BenchError> {
        let mut out = Vec::with_capacity(threads);
        // Every thread of the pipelined line shares one client (and its streams); the unary
        // threads share one login.
        let (client, token) = match self {
            TargetSpec::ShinyDb {
                endpoint,
                api: Api::Stream,
            } => (Some(shinydb::client(endpoint).await?), None),
            TargetSpec::ShinyDb {
                endpoint,
                api: Api::Unary,
            } => (None, Some(shinydb::login(endpoint).await?)),
            TargetSpec::Postgres { .. } => (None, None),
        };
        for _ in 0..threads {
            out.push(match self {
                TargetSpec::Postgres {
                    conninfo,
                    synchronous_commit,
                } => Session::Postgres(
                    postgres::PgSession::open(conninfo, *synchronous_commit).await?,
                ),
                TargetSpec::ShinyDb { endpoint, .. } => match (&client, &token) {
                    (Some(c), _) => Session::Stream(shinydb::StreamSession::new(c)),
                    (None, t) => Session::Unary(
                        shinydb::UnarySession::open(endpoint, t.as_deref().unwrap_or_default())
                            .await?,
                    ),
                },
            });
        }
        Ok(out)
    }
}
