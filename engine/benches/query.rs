//! Query-engine benchmarks over an in-memory store (no storage cost): full-scan filter, groupBy
//! into 100 groups, and orderBy + limit with and without an index.
//!
//! `SHINYDB_BENCH_DOCS` sets the number of documents (default 1,000,000).

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at the first broken step, saying which"
)]
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::cmp::Ordering;
use std::hint::black_box;

use bson::{Bson, RawBson, RawDocumentBuf, doc};
use criterion::{Criterion, criterion_group, criterion_main};
use shinydb_engine::query::{
    DocStream, IndexBound, IndexSummary, QueryError, StoreSource, execute, parse,
};
use shinydb_engine::value::{FieldPath, compare, lookup};

/// Documents in `_id` order, and one index on `TotalDue` (entries in value order, then `_id`).
struct Mem {
    docs: Vec<RawDocumentBuf>,
    by_total: Vec<(RawBson, usize)>,
}

fn build(n: usize) -> Mem {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let docs: Vec<RawDocumentBuf> = (0..n)
        .map(|i| {
            let r = next();
            let d = doc! {
                "_id": i as i64,
                "EmployeeID": 200 + (r % 100) as i32,
                "TotalDue": (r % 10_000_000) as f64 / 100.0,
                "Status": (r % 5) as i32,
                "Name": format!("customer {}", r % 50_000),
                "Ship": {"City": "Austin", "State": "TX"},
            };
            RawDocumentBuf::from_document(&d).expect("raw")
        })
        .collect();
    let total = FieldPath::field("TotalDue").expect("path");
    let mut by_total: Vec<(RawBson, usize)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                lookup(d, &total).map_or(RawBson::Null, bson::RawBsonRef::to_raw_bson),
                i,
            )
        })
        .collect();
    by_total
        .sort_by(|a, b| compare(a.0.as_raw_bson_ref(), b.0.as_raw_bson_ref()).then(a.1.cmp(&b.1)));
    Mem { docs, by_total }
}

fn in_bound(v: &RawBson, b: &IndexBound, lower: bool) -> bool {
    let Some(first) = b.values.first() else {
        return true;
    };
    let Ok(bv) = RawBson::try_from(first.clone()) else {
        return false;
    };
    let c = compare(v.as_raw_bson_ref(), bv.as_raw_bson_ref());
    match (lower, b.inclusive) {
        (true, true) => c != Ordering::Less,
        (true, false) => c == Ordering::Greater,
        (false, true) => c != Ordering::Greater,
        (false, false) => c == Ordering::Less,
    }
}

impl StoreSource for Mem {
    fn scan(&self) -> Result<DocStream<'_>, QueryError> {
        Ok(Box::new(self.docs.iter().cloned().map(Ok)))
    }
    fn get(&self, _: &Bson) -> Result<Option<RawDocumentBuf>, QueryError> {
        Ok(None)
    }
    fn indexes(&self) -> Vec<IndexSummary> {
        vec![IndexSummary {
            name: "by_total".into(),
            fields: vec![FieldPath::field("TotalDue").expect("path")],
            unique: false,
            entries: self.docs.len() as u64,
            distinct_first: self.docs.len() as u64,
        }]
    }
    fn index_scan(
        &self,
        _: &str,
        lower: Option<&IndexBound>,
        upper: Option<&IndexBound>,
        reverse: bool,
    ) -> Result<DocStream<'_>, QueryError> {
        let lower = lower.cloned();
        let upper = upper.cloned();
        let ok = move |e: &&(RawBson, usize)| {
            lower.as_ref().is_none_or(|b| in_bound(&e.0, b, true))
                && upper.as_ref().is_none_or(|b| in_bound(&e.0, b, false))
        };
        let docs = &self.docs;
        if reverse {
            Ok(Box::new(
                self.by_total
                    .iter()
                    .rev()
                    .filter(ok)
                    .filter_map(move |e| docs.get(e.1).cloned())
                    .map(Ok),
            ))
        } else {
            Ok(Box::new(
                self.by_total
                    .iter()
                    .filter(ok)
                    .filter_map(move |e| docs.get(e.1).cloned())
                    .map(Ok),
            ))
        }
    }
    fn count(&self) -> u64 {
        self.docs.len() as u64
    }
}

/// The same store without its index.
struct NoIndex<'a>(&'a Mem);

impl StoreSource for NoIndex<'_> {
    fn scan(&self) -> Result<DocStream<'_>, QueryError> {
        self.0.scan()
    }
    fn get(&self, id: &Bson) -> Result<Option<RawDocumentBuf>, QueryError> {
        self.0.get(id)
    }
    fn indexes(&self) -> Vec<IndexSummary> {
        Vec::new()
    }
    fn index_scan(
        &self,
        i: &str,
        l: Option<&IndexBound>,
        u: Option<&IndexBound>,
        r: bool,
    ) -> Result<DocStream<'_>, QueryError> {
        self.0.index_scan(i, l, u, r)
    }
    fn count(&self) -> u64 {
        self.0.count()
    }
}

fn benches(c: &mut Criterion) {
    let n: usize = std::env::var("SHINYDB_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mem = build(n);
    let plain = NoIndex(&mem);
    let mut g = c.benchmark_group(format!("query_{n}_docs"));
    g.sample_size(10);
    let cases: [(&str, &dyn StoreSource, &str); 6] = [
        (
            "scan_filter",
            &plain,
            "s.t.filter(Status = 3 and TotalDue > 50000 and Name startsWith \"customer 1\").count()",
        ),
        ("scan_only", &plain, "s.t.filter(Ship.City = \"Nowhere\")"),
        (
            "group_100_count",
            &plain,
            "s.t.groupBy(EmployeeID).aggregate(n: count)",
        ),
        (
            "group_100",
            &plain,
            "s.t.groupBy(EmployeeID).aggregate(n: count, total: sum(TotalDue), avg: avg(TotalDue))",
        ),
        (
            "top10_no_index",
            &plain,
            "s.t.orderBy(TotalDue, desc).limit(10)",
        ),
        ("top10_index", &mem, "s.t.orderBy(TotalDue, desc).limit(10)"),
    ];
    for (name, source, text) in cases {
        let q = parse(text).expect("parse");
        g.bench_function(name, |b| {
            b.iter(|| black_box(execute(source, None, &q).expect("run")));
        });
    }
    g.finish();
}

criterion_group!(query, benches);
criterion_main!(query);
