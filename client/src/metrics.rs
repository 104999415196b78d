//! Client-side metrics: operations, errors, retries and latency, per operation name.

use std::{collections::BTreeMap, time::Duration};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Latency is recorded in microseconds, up to an hour, with 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug)]
struct Op {
    ok: u64,
    errors: u64,
    latency: Histogram<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    ops: BTreeMap<&'static str, Op>,
    retries: u64,
    rejected: u64,
}

/// The counters of one client (shared by its clones).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Counters and latency of one operation name (`get`, `insert`, `query`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct OpMetrics {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed (after their retries).
    pub errors: u64,
    /// Median latency, including retries.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Largest latency.
    pub max: Duration,
    /// Mean latency.
    pub mean: Duration,
}

/// A copy of a client's metrics at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsSnapshot {
    /// Per operation name.
    pub ops: BTreeMap<&'static str, OpMetrics>,
    /// Attempts made again after a transient error.
    pub retries: u64,
    /// Calls refused at once because the circuit breaker was open.
    pub rejected_by_breaker: u64,
}

impl MetricsSnapshot {
    /// Operations in all (successful and failed).
    pub fn total(&self) -> u64 {
        self.ops.values().map(|o| o.ok + o.errors).sum()
    }

    /// Failed operations in all.
    pub fn errors(&self) -> u64 {
        self.ops.values().map(|o| o.errors).sum()
    }
}

impl Metrics {
    /// Records one finished operation.
    #[expect(
        clippy::expect_used,
        reason = "constant bounds new_with_bounds accepts (1 <= low, high >= 2 * low, 3 figures)"
    )]
    pub(crate) fn observe(&self, name: &'static str, took: Duration, ok: bool) {
        let mut g = self.inner.lock();
        let op = g.ops.entry(name).or_insert_with(|| Op {
            ok: 0,
            errors: 0,
            latency: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("the histogram bounds are valid constants"),
        });
        if ok {
            op.ok += 1;
        } else {
            op.errors += 1;
        }
        let micros = u64::try_from(took.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        op.latency.saturating_record(micros);
    }

    pub(crate) fn retried(&self) {
        self.inner.lock().retries += 1;
    }

    pub(crate) fn rejected(&self) {
        self.inner.lock().rejected += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = self.inner.lock();
        let us = Duration::from_micros;
        MetricsSnapshot {
            ops: g
                .ops
                .iter()
                .map(|(name, o)| {
                    (
                        *name,
                        OpMetrics {
                            ok: o.ok,
                            errors: o.errors,
                            p50: us(o.latency.value_at_quantile(0.5)),
                            p99: us(o.latency.value_at_quantile(0.99)),
                            max: us(o.latency.max()),
                            mean: Duration::from_secs_f64(o.latency.mean() / 1e6),
                        },
                    )
                })
                .collect(),
            retries: g.retries,
            rejected_by_breaker: g.rejected,
        }
    }
}
