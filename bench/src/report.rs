//! Text and markdown output: a YCSB-like summary of one run, and the suite's report.

use std::fmt::Write as _;

use crate::driver::Measurement;

/// Bytes of one echo message: a record of 10 fields of 100 characters, with its key and field
/// names, about what a ShinyDB read returns.
pub const ECHO_SIZE: usize = 1_100;

/// YCSB-style lines: overall throughput, then count and percentiles (µs) per operation type.
pub fn text_summary(m: &Measurement) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "[OVERALL] RunTime(ms), {:.0}",
        m.elapsed.as_secs_f64() * 1000.0
    );
    let _ = writeln!(s, "[OVERALL] Throughput(ops/sec), {:.1}", m.throughput);
    for (kind, l) in &m.per_op {
        let n = kind.name();
        let _ = writeln!(s, "[{n}] Operations, {}", l.count);
        let _ = writeln!(s, "[{n}] AverageLatency(us), {:.1}", l.mean);
        let _ = writeln!(s, "[{n}] 50thPercentileLatency(us), {}", l.p50);
        let _ = writeln!(s, "[{n}] 95thPercentileLatency(us), {}", l.p95);
        let _ = writeln!(s, "[{n}] 99thPercentileLatency(us), {}", l.p99);
        let _ = writeln!(s, "[{n}] 99.9PercentileLatency(us), {}", l.p999);
        let _ = writeln!(s, "[{n}] MaxLatency(us), {}", l.max);
    }
    s
}
