//! One load, one workload run or one echo run, as the command line and the suite use them.

use std::{sync::Arc, time::Duration};

use crate::{
    driver::{self, Measurement, Plan},
    echo::EchoWorker,
    error::BenchError,
    target::{self, Check, TargetSpec, YcsbWorker},
    transport,
    workload::{Chooser, Distribution, InsertCounter, Letter, Shape},
};

/// What a workload run needs besides the target.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// The workload.
    pub workload: Letter,
    /// Overrides the workload's request distribution.
    pub distribution: Option<Distribution>,
    /// Records present before the run (keys `0..records`); inserts continue from there.
    pub records: u64,
    /// Client threads.
    pub threads: usize,
    /// Record shape.
    pub shape: Shape,
    /// Longest scan.
    pub scan_max: usize,
    /// How long and how fast.
    pub plan: Plan,
    /// How thoroughly reads are checked.
    pub check: Check,
    /// Seed of the first thread's generator (thread i uses seed + i).
    pub seed: u64,
}

/// A run's measurement and how many records it inserted.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Throughput and latencies.
    pub measurement: Measurement,
    /// Records inserted (workloads D and E): the next run starts with this many more.
    pub inserted: u64,
}

/// Loads `records` records into a freshly created table or store.
pub async fn load(
    spec: &TargetSpec,
    records: u64,
    threads: usize,
    batch: usize,
    shape: Shape,
) -> Result<Duration, BenchError> {
    spec.prepare().await?;
    let sessions = spec.sessions(threads).await?;
    let started = std::time::Instant::now();
    target::load(sessions, records, batch.max(1), shape).await?;
    Ok(started.elapsed())
}

/// Runs one workload.
pub async fn run(spec: &TargetSpec, cfg: RunConfig) -> Result<RunOutcome, BenchError> {
    if cfg.records == 0 {
        return Err(BenchError::Usage("--records must be at least 1".into()));
    }
    let mut mix = cfg.workload.spec();
    if let Some(d) = cfg.distribution {
        mix.distribution = d;
    }
    let counter = Arc::new(InsertCounter::new(cfg.records));
    // YCSB sizes the Zipfian key space for twice the inserts it expects.
    let expected_inserts = cfg
        .plan
        .operations
        .map_or(0, |n| (n as f64 * mix.insert * 2.0) as u64);
    let sessions = spec.sessions(cfg.threads).await?;
    let workers = sessions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            YcsbWorker::new(
                s,
                Chooser::new(
                    mix,
                    cfg.records,
                    expected_inserts,
                    cfg.shape.field_count,
                    cfg.scan_max,
                ),
                Arc::clone(&counter),
                cfg.shape,
                cfg.check,
                cfg.seed.wrapping_add(i as u64),
            )
        })
        .collect();
    let measurement = driver::drive(workers, cfg.plan).await?;
    Ok(RunOutcome {
        measurement,
        inserted: counter.allocated() - cfg.records,
    })
}

/// Runs echo round trips of `size` bytes against the echo server at `uri`, one stream per
/// thread over `connections` connections.
pub async fn echo(
    uri: &str,
    ca_pem: Option<&str>,
    threads: usize,
    connections: usize,
    size: usize,
    plan: Plan,
) -> Result<Measurement, BenchError> {
    let ep = transport::endpoint(uri, ca_pem)?;
    let mut channels = Vec::new();
    for _ in 0..connections.max(1) {
        channels.push(transport::connect(&ep).await?);
    }
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        let ch = channels[i % channels.len()].clone();
        workers.push(EchoWorker::open(ch, size).await?);
    }
    driver::drive(workers, plan).await
}
