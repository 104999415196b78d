//! Runs client threads (tokio tasks) closed-loop or open-loop and records latencies per
//! operation type in HdrHistograms. Open-loop threads follow a fixed schedule and measure each
//! operation from its intended start, so a stall counts against every operation that should have
//! been sent during it (no coordinated omission).

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use hdrhistogram::Histogram;
use tokio::{task::JoinSet, time::Instant};

use crate::error::BenchError;

/// The operation types latencies are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// A read of one record.
    Read,
    /// An update of one field.
    Update,
    /// An insert of one record.
    Insert,
    /// A short range scan.
    Scan,
    /// A read then an update of the same record (one latency for both).
    ReadModifyWrite,
    /// One echo round trip.
    Echo,
}

impl OpKind {
    /// YCSB's name for it.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "READ",
            OpKind::Update => "UPDATE",
            OpKind::Insert => "INSERT",
            OpKind::Scan => "SCAN",
            OpKind::ReadModifyWrite => "READ-MODIFY-WRITE",
            OpKind::Echo => "ECHO",
        }
    }
}

/// One client thread: performs the next operation and says which kind it was.
pub trait Worker: Send + 'static {
    /// Performs one operation; any error ends the whole run.
    fn step(&mut self) -> impl Future<Output = Result<OpKind, BenchError>> + Send;
}

/// How long and how fast to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Measured operations in total, over all threads (None: until `duration` is over).
    pub operations: Option<u64>,
    /// Measured time at most (None: until `operations` are done).
    pub duration: Option<Duration>,
    /// Operations run before measuring starts, not recorded.
    pub warmup: Duration,
    /// Open loop: operations per second over all threads, each measured from its intended start.
    pub target_rate: Option<f64>,
}

/// Latencies of one operation type, microseconds.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Operations measured.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        Latency {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Measured wall time.
    pub elapsed: Duration,
    /// Measured operations per second.
    pub throughput: f64,
    /// Latencies per operation type.
    pub per_op: BTreeMap<OpKind, Latency>,
    /// All operations together.
    pub overall: Latency,
}

fn histogram() -> Result<Histogram<u64>, BenchError> {
    // 1 µs to 100 s at three significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3).map_err(|e| BenchError::Histogram(e.to_string()))
}

struct Shared {
    measure_from: Instant,
    deadline: Option<Instant>,
    budget: Option<AtomicU64>,
    stop: AtomicBool,
}

impl Shared {
    /// Takes one measured operation from the budget; false once it is spent.
    fn take(&self) -> bool {
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

struct Outcome {
    hists: BTreeMap<OpKind, Histogram<u64>>,
    last: Option<Instant>,
}

async fn run_one<W: Worker>(
    mut w: W,
    shared: Arc<Shared>,
    interval: Option<Duration>,
    offset: Duration,
    start: Instant,
) -> Result<Outcome, BenchError> {
    let mut hists: BTreeMap<OpKind, Histogram<u64>> = BTreeMap::new();
    let mut last = None;
    let mut intended = start + offset;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let begin = match interval {
            Some(iv) => {
                tokio::time::sleep_until(intended).await;
                let i = intended;
                intended += iv;
                i
            }
            None => Instant::now(),
        };
        if shared.deadline.is_some_and(|d| begin >= d) {
            break;
        }
        let measured = begin >= shared.measure_from;
        if measured && !shared.take() {
            break;
        }
        let kind = match w.step().await {
            Ok(k) => k,
            Err(e) => {
                shared.stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        };
        if measured {
            let done = Instant::now();
            let us = u64::try_from(done.duration_since(begin).as_micros()).unwrap_or(u64::MAX);
            let h = match hists.entry(kind) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => v.insert(histogram()?),
            };
            h.saturating_record(us.max(1));
            last = Some(done);
        }
    }
    Ok(Outcome { hists, last })
}

/// Runs every worker (one per client thread) to the plan; the first error stops them all.
pub async fn drive<W: Worker>(workers: Vec<W>, plan: Plan) -> Result<Measurement, BenchError> {
    if plan.operations.is_none() && plan.duration.is_none() {
        return Err(BenchError::Usage(
            "give --operations, --duration or both".into(),
        ));
    }
    let threads = workers.len().max(1);
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let shared = Arc::new(Shared {
        measure_from,
        deadline: plan.duration.map(|d| measure_from + d),
        budget: plan.operations.map(AtomicU64::new),
        stop: AtomicBool::new(false),
    });
    let interval = match plan.target_rate {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            return Err(BenchError::Usage(format!(
                "--target-rate must be a positive number of operations per second, not {r}"
            )));
        }
        Some(r) => Some(Duration::from_secs_f64(threads as f64 / r)),
        None => None,
    };
    let mut set = JoinSet::new();
    for (i, w) in workers.into_iter().enumerate() {
        // Open-loop threads are staggered evenly across one interval.
        let offset = interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / threads as f64));
        set.spawn(run_one(w, Arc::clone(&shared), interval, offset, start));
    }
    let mut merged: BTreeMap<OpKind, Histogram<u64>> = BTreeMap::new();
    let mut overall = histogram()?;
    let mut last: Option<Instant> = None;
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(out)) => {
                for (k, h) in out.hists {
                    overall
                        .add(&h)
                        .map_err(|e| BenchError::Histogram(e.to_string()))?;
                    match merged.get_mut(&k) {
                        Some(m) => m
                            .add(&h)
                            .map_err(|e| BenchError::Histogram(e.to_string()))?,
                        None => {
                            merged.insert(k, h);
                        }
                    }
                }
                last = last.max(out.last);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(BenchError::Task(e.to_string()));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let elapsed = last.map_or(Duration::ZERO, |l| {
        l.saturating_duration_since(measure_from)
    });
    let total = overall.len();
    if total == 0 {
        return Err(BenchError::NothingMeasured);
    }
    Ok(Measurement {
        elapsed,
        throughput: total as f64 / elapsed.as_secs_f64().max(1e-9),
        per_op: merged.iter().map(|(k, h)| (*k, Latency::of(h))).collect(),
        overall: Latency::of(&overall),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes 1 ms per operation, except one 200 ms stall.
    struct Stalling {
        n: u32,
    }

    impl Worker for Stalling {
        async fn step(&mut self) -> Result<OpKind, BenchError> {
            self.n += 1;
            let d = if self.n == 10 { 200 } else { 1 };
            tokio::time::sleep(Duration::from_millis(d)).await;
            Ok(OpKind::Read)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_charges_a_stall_to_every_operation_it_delayed() {
        let plan = |rate| Plan {
            operations: None,
            duration: Some(Duration::from_secs(1)),
            warmup: Duration::ZERO,
            target_rate: rate,
        };
        let closed = drive(vec![Stalling { n: 0 }], plan(None))
            .await
            .expect("closed");
        let open = drive(vec![Stalling { n: 0 }], plan(Some(200.0)))
            .await
            .expect("open");
        // Closed loop: one slow operation, so p95 stays near 1 ms.
        assert!(closed.overall.p95 < 5_000, "{:?}", closed.overall);
        // Open loop at one operation per 5 ms: the ~40 operations scheduled during the stall
        // all waited, so well over 5% of operations are slow.
        assert!(open.overall.p95 > 50_000, "{:?}", open.overall);
        assert!(
            open.overall.count > 150 && open.overall.count <= 201,
            "{:?}",
            open.overall
        );
    }

    struct Failing;

    impl Worker for Failing {
        async fn step(&mut self) -> Result<OpKind, BenchError> {
            Err(BenchError::Task("boom".into()))
        }
    }

    #[tokio::test]
    async fn an_error_fails_the_run() {
        let plan = Plan {
            operations: Some(10),
            duration: None,
            warmup: Duration::ZERO,
            target_rate: None,
        };
        assert!(drive(vec![Failing], plan).await.is_err());
    }
}
