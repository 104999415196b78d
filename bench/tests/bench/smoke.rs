//! A short run of every workload against both targets through the real binary: it starts a
//! real PostgreSQL (initdb/pg_ctl under /usr/lib/postgresql, as the `postgres` user when run
//! as root) and real shinydb-server processes (plaintext and TLS) itself, loads a few hundred
//! records, runs workloads A–F on every line at both durability tiers with every read value
//! checked against what the driver wrote, and writes the report. Any failed operation or wrong
//! read fails the binary, and so this test.
//!
//! Needs `shinydb-server` built next to `shinydb-bench` (`cargo test --workspace` builds it;
//! alone: `cargo build -p shinydb-server` first).

use std::process::Command;

#[test]
fn every_workload_on_every_line_succeeds_and_reads_what_was_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report.md");
    let run = Command::new(env!("CARGO_BIN_EXE_shinydb-bench"))
        .args([
            "suite",
            "--records",
            "300",
            "--operations",
            "150",
            "--threads",
            "1,4",
            "--tiers",
            "fsync,relaxed",
            "--lines",
            "postgres,stream,stream-tls,unary,followers",
            "--scan-max",
            "20",
            "--verify-values",
            "--load-threads",
            "2",
            "--batch",
            "50",
            "--command",
            "smoke test",
        ])
        .arg("--out")
        .arg(&out)
        .env("SHINYDB_BENCH_LOG", "warn")
        .output()
        .expect("run shinydb-bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "shinydb-bench failed: {stderr}");
    let report = std::fs::read_to_string(&out).expect("report written");
    for heading in [
        "## fsync on commit",
        "## relaxed",
        "## Echo floor",
        "## Targets",
    ] {
        assert!(report.contains(heading), "no {heading:?} in:\n{report}");
    }
    // Every workload at both thread counts has numbers for every line in both tiers.
    for w in ["A", "B", "C", "D", "E", "F"] {
        for t in [1, 4] {
            let prefix = format!("| {w} | {t} |");
            let rows: Vec<&str> = report.lines().filter(|l| l.starts_with(&prefix)).collect();
            // Per tier: the PostgreSQL/ShinyDB table and the every-line table.
            assert_eq!(rows.len(), 4, "{prefix} rows: {rows:?}");
            // The followers line runs B and C only.
            let missing = usize::from(!matches!(w, "B" | "C"));
            for row in rows {
                assert!(
                    row.matches('–').count() <= missing,
                    "a line without numbers: {row}"
                );
            }
        }
    }
}
