//! Running YQL against the engine: the query executor reads one store of one snapshot and writes
//! one atomic batch.

use std::{collections::HashMap, sync::Arc, time::Instant};

use bson::{Bson, RawBson, RawDocumentBuf};
use parking_lot::Mutex;

use super::{
    Db, Inner,
    catalog::StoreInfo,
    snapshot::Snapshot,
    write::{Write, WriteResult},
};
use crate::{
    error::Error,
    kv::Seq,
    query::{
        self, DocStream, IndexBound, IndexSummary, Query, QueryError, QueryResult, StoreSource,
        StoreWriter, WriteOp,
    },
    value::FieldPath,
};

/// Index entries read to estimate how many distinct values an index's first field holds.
const DISTINCT_SAMPLE: usize = 4096;

impl From<Error> for QueryError {
    fn from(e: Error) -> Self {
        QueryError::Storage(e.to_string())
    }
}

/// Distinct-value estimates per index id: (estimate, document count when estimated).
#[derive(Default)]
pub(crate) struct DistinctCache(Mutex<HashMap<u32, (u64, u64)>>);

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryFailure {
    /// The query itself is wrong (malformed, invalid, a refused write).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The engine refused (no such store, a unique index, a failed engine …).
    #[error(transparent)]
    Engine(#[from] Error),
}

impl Inner {
    /// What one query may hold, from the options, and when a read must stop.
    fn query_limits(&self, deadline: Option<Instant>) -> query::Limits {
        query::Limits {
            max_groups: self.opts.max_query_groups,
            deadline,
        }
    }
}

impl Db {
    /// Parses and runs a YQL query.
    pub fn query_text(&self, text: &str) -> Result<QueryResult, QueryFailure> {
        let q = query::parse(text)?;
        self.query(&q)
    }

    /// Runs a typed query. Reads see one snapshot; a write reads its selection and commits its
    /// batch under the write lock, so nothing changes in between, and returns once durable.
    pub fn query(&self, q: &Query) -> Result<QueryResult, QueryFailure> {
        self.query_until(q, None)
    }

    /// [`Db::query`], where a read still running at `deadline` stops with
    /// [`QueryError::DeadlineExceeded`] (a write always runs to its end, or not at all).
    pub fn query_until(
        &self,
        q: &Query,
        deadline: Option<Instant>,
    ) -> Result<QueryResult, QueryFailure> {
        query::validate(q)?;
        let space = q.space.as_deref().ok_or_else(|| {
            QueryError::Invalid(format!("name the space of store {0}: space.{0}", q.store))
        })?;
        let inner = &self.inner;
        if q.write.is_none() || q.explain {
            let snap = self.snapshot();
            let source = EngineStore::new(inner, &snap, space, &q.store)?;
            return Ok(query::execute_with(
                &source,
                None,
                q,
                &inner.query_limits(deadline),
            )?);
        }
        inner.wait_for_room()?;
        let mut w = inner.write.lock();
        let latest = inner.latest(&w);
        let source = EngineStore::new(inner, &latest, space, &q.store)?;
        let mut writer = EngineWriter {
            db: self,
            space,
            store: &q.store,
            guard: &mut w,
            committed: None,
            error: None,
        };
        let result = query::execute_with(&source, Some(&mut writer), q, &inner.query_limits(None));
        let (committed, engine_error) = (writer.committed, writer.error.take());
        drop(w);
        if let Some(e) = engine_error {
            return Err(QueryFailure::Engine(e));
        }
        let result = result?;
        if let Some(seq) = committed {
            inner.complete_commit(seq)?;
        }
        Ok(result)
    }
}

/// One store of one snapshot, as the executor sees it.
struct EngineStore<'a> {
    inner: &'a Arc<Inner>,
    snap: &'a Snapshot,
    info: StoreInfo,
}

impl<'a> EngineStore<'a> {
    fn new(
        inner: &'a Arc<Inner>,
        snap: &'a Snapshot,
        space: &str,
        store: &str,
    ) -> Result<Self, Error> {
        Ok(EngineStore {
            inner,
            snap,
            info: snap.store(space, store)?,
        })
    }

    fn docs<I>(iter: I) -> DocStream<'a>
    where
        I: Iterator<Item = Result<RawDocumentBuf, Error>> + 'a,
    {
        Box::new(iter.map(|r| r.map_err(QueryError::from)))
    }

    /// Estimated distinct values of an index's first field, sampled from the index and cached
    /// until the store's size changes by a tenth.
    fn distinct_first(&self, index: &crate::db::IndexInfo, count: u64) -> u64 {
        let cache = &self.inner.distinct;
        if let Some((d, at)) = cache.0.lock().get(&index.id)
            && at.abs_diff(count) <= at / 10
        {
            return *d;
        }
        let Ok(path) = FieldPath::dotted(&index.fields[0]) else {
            return count.max(1);
        };
        let Ok(iter) = self.snap.index_scan(
            &self.info.space,
            &self.info.name,
            &index.name,
            None,
            None,
            false,
        ) else {
            return count.max(1);
        };
        let mut distinct = 0u64;
        let mut seen = 0usize;
        // Index order keeps equal first values together: count the changes.
        let mut last: Option<Option<RawBson>> = None;
        for doc in iter.take(DISTINCT_SAMPLE) {
            let Ok(doc) = doc else { break };
            let v = crate::value::lookup(&doc, &path).map(bson::RawBsonRef::to_raw_bson);
            let same = last.as_ref().is_some_and(|prev| {
                crate::value::compare_opt(
                    prev.as_ref().map(RawBson::as_raw_bson_ref),
                    v.as_ref().map(RawBson::as_raw_bson_ref),
                ) == std::cmp::Ordering::Equal
            });
            if !same {
                distinct += 1;
            }
            last = Some(v);
            seen += 1;
        }
        let estimate = if seen < DISTINCT_SAMPLE {
            distinct
        } else {
            (distinct as f64 * count as f64 / seen as f64).ceil() as u64
        }
        .clamp(1, count.max(1));
        cache.0.lock().insert(index.id, (estimate, count));
        estimate
    }
}

impl StoreSource for EngineStore<'_> {
    fn scan(&self) -> Result<DocStream<'_>, QueryError> {
        Ok(Self::docs(self.snap.scan(
            &self.info.space,
            &self.info.name,
            false,
        )?))
    }

    fn get(&self, id: &Bson) -> Result<Option<RawDocumentBuf>, QueryError> {
        // Only the four _id types can name a document; any other value matches nothing.
        let id = match id {
            Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Bson::Int64(*d as i64),
            Bson::String(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::ObjectId(_) => id.clone(),
            _ => return Ok(None),
        };
        Ok(self.snap.get(&self.info.space, &self.info.name, &id)?)
    }

    fn indexes(&self) -> Vec<IndexSummary> {
        let count = self.count();
        self.info
            .indexes
            .iter()
            .filter(|i| i.ready)
            .filter_map(|i| {
                let fields = i
                    .fields
                    .iter()
                    .map(|f| FieldPath::dotted(f).ok())
                    .collect::<Option<Vec<_>>>()?;
                Some(IndexSummary {
                    name: i.name.clone(),
                    fields,
                    unique: i.unique,
                    entries: count,
                    distinct_first: self.distinct_first(i, count),
                })
            })
            .collect()
    }

    fn index_scan(
        &self,
        index: &str,
        lower: Option<&IndexBound>,
        upper: Option<&IndexBound>,
        reverse: bool,
    ) -> Result<DocStream<'_>, QueryError> {
        let iter = self.snap.index_scan(
            &self.info.space,
            &self.info.name,
            index,
            lower,
            upper,
            reverse,
        )?;
        Ok(Self::docs(iter))
    }

    fn count(&self) -> u64 {
        self.snap
            .count(&self.info.space, &self.info.name)
            .unwrap_or(0)
    }
}

/// Applies a query's writes as one batch under the write lock the query already holds.
struct EngineWriter<'a, 'g> {
    db: &'a Db,
    space: &'a str,
    store: &'a str,
    guard: &'a mut parking_lot::MutexGuard<'g, super::WriteState>,
    committed: Option<Seq>,
    error: Option<Error>,
}

impl StoreWriter for EngineWriter<'_, '_> {
    fn apply(&mut self, ops: Vec<WriteOp>) -> Result<Vec<Bson>, QueryError> {
        let (space, store) = (self.space.to_string(), self.store.to_string());
        let batch = ops
            .into_iter()
            .map(|op| match op {
                WriteOp::Insert(doc) => Write::Insert {
                    space: space.clone(),
                    store: store.clone(),
                    doc,
                },
                WriteOp::Replace { id, document } => Write::Replace {
                    space: space.clone(),
                    store: store.clone(),
                    id,
                    doc: document,
                },
                WriteOp::Delete { id } => Write::Delete {
                    space: space.clone(),
                    store: store.clone(),
                    id,
                },
            })
            .collect();
        match self.db.write_locked(self.guard, batch) {
            Ok((results, seq)) => {
                self.committed = seq.or(self.committed);
                Ok(results
                    .into_iter()
                    .filter_map(|r| match r {
                        WriteResult::Inserted(id) => Some(id),
                        _ => None,
                    })
                    .collect())
            }
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(e);
                Err(QueryError::Write(msg))
            }
        }
    }
}
