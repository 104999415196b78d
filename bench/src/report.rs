//! Text and markdown output: a YCSB-like summary of one run, and the suite's report.

use std::fmt::Write as _;

use crate::{
    driver::Measurement,
    suite::{Line, SuiteResults, Tier},
    workload::Letter,
};

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

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown memory".into(),
            |kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0),
        )
}

fn ops(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn find(
    r: &SuiteResults,
    tier: Tier,
    w: Letter,
    threads: usize,
    line: Line,
) -> Option<&Measurement> {
    r.entries
        .iter()
        .find(|e| e.tier == tier && e.workload == w && e.threads == threads && e.line == line)
        .map(|e| &e.measurement)
}

fn echo_of(r: &SuiteResults, tls: bool, threads: usize) -> Option<&Measurement> {
    r.echo
        .iter()
        .find(|e| e.tls == tls && e.threads == threads)
        .map(|e| &e.measurement)
}

/// The suite's markdown report: setup and machine, one table per tier (throughput and p99 of
/// PostgreSQL and ShinyDB's pipelined stream, with their ratio), every line's numbers, the
/// echo floor, and how each target came out.
pub fn markdown(r: &SuiteResults, command: &str, note: &str) -> String {
    let c = &r.config;
    let mut s = String::new();
    let date = r.started.get(..10).unwrap_or(&r.started);
    let _ = writeln!(s, "# YCSB: ShinyDB against PostgreSQL, {date}\n");
    let _ = writeln!(
        s,
        "Command: `{command}` (started {}, took {:.0} s).\n",
        r.started,
        r.wall.as_secs_f64()
    );
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let _ = writeln!(
        s,
        "- Machine: {cores} cores ({}), {}; client, servers and echo share these cores over \
         loopback. Load average (1/5/15 min) before: {}, after: {}.",
        cpu_model(),
        memory(),
        r.loadavg_before,
        r.loadavg_after
    );
    if !note.is_empty() {
        let _ = writeln!(s, "- Note: {note}");
    }
    let _ = writeln!(
        s,
        "- {}; shinydb-server release build, default configuration except \
        `storage.durability`.",
        r.postgres_version
    );
    let plan = match (c.plan.operations, c.plan.duration) {
        (Some(n), Some(d)) => format!(
            "{n} operations or {:.1} s, whichever first",
            d.as_secs_f64()
        ),
        (Some(n), None) => format!("{n} operations"),
        (None, Some(d)) => format!("{:.1} s", d.as_secs_f64()),
        (None, None) => "nothing".into(),
    };
    let loop_kind = match c.plan.target_rate {
        Some(rate) => format!("open loop at {rate:.0} operations/s (latency from intended start)"),
        None => "closed loop".into(),
    };
    let _ = writeln!(
        s,
        "- Data: {} records of {} fields × {} characters (keys `user<fnv(n)>`), loaded afresh \
         per tier; workloads run in the order {} without reloading (D and E add records). \
         Scans: uniform 1..={} records.",
        ops(c.records as f64),
        c.shape.field_count,
        c.shape.field_length,
        c.workloads
            .iter()
            .map(|w| w.name())
            .collect::<Vec<_>>()
            .join(", "),
        c.scan_max
    );
    let _ = writeln!(
        s,
        "- Each run: {:.1} s warm-up, then {plan}, {loop_kind}; threads {}; ShinyDB's client \
         pools {} connection(s), each with one pipelined stream shared by all threads; \
         PostgreSQL and the unary line use one connection per thread. Every read is checked \
         ({}); any error fails the run.",
        c.plan.warmup.as_secs_f64(),
        c.threads
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
        c.connections,
        match c.check {
            crate::target::Check::Values => "records, fields and every value",
            crate::target::Check::Shape => "record found, every field present, scan order",
        }
    );
    let _ = writeln!(
        s,
        "- Latencies in µs, over all operation types of the run (HdrHistogram).\n"
    );

    for &tier in &c.tiers {
        let _ = writeln!(s, "## {}\n", tier.title());
        let _ = writeln!(
            s,
            "| workload | threads | PostgreSQL ops/s | PostgreSQL p99 | ShinyDB ops/s | ShinyDB p99 | ShinyDB/PostgreSQL |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
        for &w in &c.workloads {
            for &t in &c.threads {
                let pg = find(r, tier, w, t, Line::Postgres);
                let sh = find(r, tier, w, t, Line::Stream);
                let cell = |m: Option<&Measurement>| {
                    m.map_or(("–".to_string(), "–".to_string()), |m| {
                        (ops(m.throughput), m.overall.p99.to_string())
                    })
                };
                let (pt, pp) = cell(pg);
                let (st, sp) = cell(sh);
                let ratio = match (pg, sh) {
                    (Some(p), Some(q)) => format!("{:.2}×", q.throughput / p.throughput),
                    _ => "–".into(),
                };
                let _ = writeln!(
                    s,
                    "| {} | {t} | {pt} | {pp} | {st} | {sp} | {ratio} |",
                    w.name()
                );
            }
        }
        let _ = writeln!(s, "\nEvery line, ops/s (p50 / p99 µs):\n");
        let _ = write!(s, "| workload | threads |");
        for l in &c.lines {
            let _ = write!(s, " {} |", l.title());
        }
        let _ = write!(s, "\n|---|---:|");
        for _ in &c.lines {
            let _ = write!(s, "---:|");
        }
        let _ = writeln!(s);
        for &w in &c.workloads {
            for &t in &c.threads {
                let _ = write!(s, "| {} | {t} |", w.name());
                for &l in &c.lines {
                    match find(r, tier, w, t, l) {
                        Some(m) => {
                            let _ = write!(
                                s,
                                " {} ({} / {}) |",
                                ops(m.throughput),
                                m.overall.p50,
                                m.overall.p99
                            );
                        }
                        None => {
                            let _ = write!(s, " – |");
                        }
                    }
                }
                let _ = writeln!(s);
            }
        }
        let _ = writeln!(s);
    }

    let _ = writeln!(s, "## Echo floor\n");
    let _ = writeln!(
        s,
        "A bidirectional-streaming tonic echo hosted by the benchmark on loopback, on a runtime \
         of its own (two worker threads), {} bytes each way, one message in flight per thread, \
         each thread on its own stream; shinydb-server's HTTP/2 windows and TCP_NODELAY. It \
         skips what a separate server process adds (a second process's scheduling) and all of \
         the database's own work.\n",
        c.echo_size
    );
    let _ = writeln!(s, "| TLS | threads | round trips/s | p50 | p99 | p99.9 |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for e in &r.echo {
        let m = &e.measurement;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            if e.tls { "on" } else { "off" },
            e.threads,
            ops(m.throughput),
            m.overall.p50,
            m.overall.p99,
            m.overall.p999
        );
    }

    let _ = writeln!(s, "\n## Targets\n");
    let most = c.threads.iter().copied().max().unwrap_or(1);
    let least = c.threads.iter().copied().min().unwrap_or(1);
    for &tier in &c.tiers {
        let _ = writeln!(
            s,
            "- {tier:?} tier, {most} threads, ShinyDB ≥ 2× PostgreSQL throughput:"
        );
        for &w in &c.workloads {
            if let (Some(p), Some(q)) = (
                find(r, tier, w, most, Line::Postgres),
                find(r, tier, w, most, Line::Stream),
            ) {
                let ratio = q.throughput / p.throughput;
                let verdict = if ratio >= 2.0 {
                    "met".to_string()
                } else {
                    format!("missed: {:.0}% of the target", ratio / 2.0 * 100.0)
                };
                let _ = writeln!(s, "  - {}: {ratio:.2}×, {verdict}", w.name());
            }
        }
        let _ = writeln!(
            s,
            "- {tier:?} tier, {least} thread(s), ShinyDB p50 below PostgreSQL's:"
        );
        for &w in c.workloads.iter().filter(|w| **w != Letter::E) {
            if let (Some(p), Some(q)) = (
                find(r, tier, w, least, Line::Postgres),
                find(r, tier, w, least, Line::Stream),
            ) {
                let verdict = if q.overall.p50 < p.overall.p50 {
                    "met".to_string()
                } else {
                    format!(
                        "missed by {:.0}%",
                        (q.overall.p50 as f64 / p.overall.p50.max(1) as f64 - 1.0) * 100.0
                    )
                };
                let _ = writeln!(
                    s,
                    "  - {}: {} µs against {} µs, {verdict}",
                    w.name(),
                    q.overall.p50,
                    p.overall.p50
                );
            }
        }
        if let (Some(q), Some(e)) = (
            find(r, tier, Letter::C, least, Line::Stream),
            echo_of(r, false, least),
        ) {
            let ratio = q.overall.p50 as f64 / e.overall.p50.max(1) as f64;
            let verdict = if ratio <= 1.3 { "met" } else { "missed" };
            let _ = writeln!(
                s,
                "- {tier:?} tier, C with {least} thread(s): ShinyDB p50 {} µs is \
                {ratio:.2}× the echo's {} µs (target ≤ 1.3×): {verdict}",
                q.overall.p50, e.overall.p50
            );
        }
    }

    let _ = writeln!(s, "\n## Loads\n");
    let _ = writeln!(s, "| tier | target | seconds | records/s |");
    let _ = writeln!(s, "|---|---|---:|---:|");
    for l in &r.loads {
        let _ = writeln!(
            s,
            "| {:?} | {} | {:.1} | {} |",
            l.tier,
            l.what,
            l.took.as_secs_f64(),
            ops(c.records as f64 / l.took.as_secs_f64().max(1e-9))
        );
    }
    s
}
