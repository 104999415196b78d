//! The command line: `load`, `run` and `echo` for single measurements, `suite` for the whole
//! comparison that `bench/run.sh` runs.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    driver::Plan,
    echo::EchoHost,
    error::BenchError,
    report, runner,
    target::{Check, TargetSpec},
    tls::Pki,
    workload::{Distribution, Letter, Shape, record::NONCE_LEN},
};

/// YCSB workloads A–F against ShinyDB and PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "shinydb-bench", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates the table (or store) and loads records `0..--records`.
    Load(LoadArgs),
    /// Runs one workload against records loaded before.
    Run(RunArgs),
    /// Measures the transport's floor: echo round trips against an echo server hosted here.
    Echo(EchoArgs),
}

/// Which system to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// PostgreSQL (`--postgres`).
    Postgres,
}

/// Where the target is and how to reach it.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The system under test.
    #[arg(long)]
    pub target: TargetKind,
    /// PostgreSQL connection string.
    #[arg(
        long,
        env = "SHINYDB_BENCH_POSTGRES",
        default_value = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    )]
    pub postgres: String,
    /// PostgreSQL `synchronous_commit` for every session: on (fsync on commit) or off.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub synchronous_commit: String,
}

impl TargetArgs {
    fn spec(&self) -> TargetSpec {
        match self.target {
            TargetKind::Postgres => TargetSpec::Postgres {
                conninfo: self.postgres.clone(),
                synchronous_commit: self.synchronous_commit == "on",
            },
        }
    }
}

/// Record shape and count.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Records loaded (keys `user<fnv(0..records)>`).
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    /// Fields per record.
    #[arg(long, default_value_t = 10)]
    pub field_count: usize,
    /// Characters per field (at least 16: values start with a 16-digit check nonce).
    #[arg(long, default_value_t = 100)]
    pub field_length: usize,
    /// Client threads (each with its own connection or session).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

impl DataArgs {
    /// The record shape, validated.
    pub fn shape(&self) -> Result<Shape, BenchError> {
        if self.field_count == 0 {
            return Err(BenchError::Usage("--field-count must be at least 1".into()));
        }
        if self.field_length < NONCE_LEN {
            return Err(BenchError::Usage(format!(
                "--field-length must be at least {NONCE_LEN} (values start with a \
                 {NONCE_LEN}-digit check nonce), not {}",
                self.field_length
            )));
        }
        if self.threads == 0 {
            return Err(BenchError::Usage("--threads must be at least 1".into()));
        }
        Ok(Shape {
            field_count: self.field_count,
            field_length: self.field_length,
        })
    }
}

/// `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    data: DataArgs,
    /// Records per insert request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
}

/// How long and how fast to run.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Measured operations over all threads.
    #[arg(long)]
    pub operations: Option<u64>,
    /// Measured seconds at most.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds of unmeasured operations first.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Open loop: operations per second over all threads, latency measured from each
    /// operation's intended start (no coordinated omission). Without it: closed loop.
    #[arg(long)]
    pub target_rate: Option<f64>,
}

fn seconds(name: &str, s: f64) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| BenchError::Usage(format!("{name} must be a number of seconds, not {s}")))
}

impl PlanArgs {
    /// The plan, validated.
    pub fn plan(&self) -> Result<Plan, BenchError> {
        if self.operations.is_none() && self.duration.is_none() {
            return Err(BenchError::Usage(
                "give --operations, --duration or both".into(),
            ));
        }
        Ok(Plan {
            operations: self.operations,
            duration: self
                .duration
                .map(|d| seconds("--duration", d))
                .transpose()?,
            warmup: seconds("--warmup", self.warmup)?,
            target_rate: self.target_rate,
        })
    }
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// YCSB core workload.
    #[arg(long, value_enum, ignore_case = true)]
    workload: Letter,
    /// Request distribution (default: the workload's own).
    #[arg(long, value_enum)]
    distribution: Option<Distribution>,
    /// Longest scan (lengths uniform in 1..=scan-max).
    #[arg(long, default_value_t = 100)]
    scan_max: usize,
    /// Check every value read (not only that records and fields are there).
    #[arg(long)]
    verify_values: bool,
    /// Seed of the key and value generators.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// `echo`.
#[derive(Debug, Args)]
pub struct EchoArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Client threads, each on a stream of its own.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Connections the streams are spread over.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Bytes per message (default: a 10 × 100 byte record with its key and field names).
    #[arg(long, default_value_t = report::ECHO_SIZE)]
    size: usize,
    /// TLS (rustls, a throwaway certificate).
    #[arg(long)]
    tls: bool,
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> Result<(), BenchError> {
    match cli.command {
        Command::Load(a) => {
            let shape = a.data.shape()?;
            let spec = a.target.spec();
            let took = runner::load(&spec, a.data.records, a.data.threads, a.batch, shape).await?;
            println!(
                "[LOAD] {}: {} records in {:.1} s ({:.0} records/s)",
                spec.label(),
                a.data.records,
                took.as_secs_f64(),
                a.data.records as f64 / took.as_secs_f64().max(1e-9)
            );
            Ok(())
        }
        Command::Run(a) => {
            let shape = a.data.shape()?;
            if a.scan_max == 0 {
                return Err(BenchError::Usage("--scan-max must be at least 1".into()));
            }
            let spec = a.target.spec();
            let out = runner::run(
                &spec,
                runner::RunConfig {
                    workload: a.workload,
                    distribution: a.distribution,
                    records: a.data.records,
                    threads: a.data.threads,
                    shape,
                    scan_max: a.scan_max,
                    plan: a.plan.plan()?,
                    check: if a.verify_values {
                        Check::Values
                    } else {
                        Check::Shape
                    },
                    seed: a.seed,
                },
            )
            .await?;
            print!("{}", report::text_summary(&out.measurement));
            Ok(())
        }
        Command::Echo(a) => {
            if a.threads == 0 {
                return Err(BenchError::Usage("--threads must be at least 1".into()));
            }
            let pki = if a.tls { Some(Pki::new()?) } else { None };
            let host = EchoHost::start(pki.as_ref()).await?;
            let uri = echo_uri(&host);
            let m = runner::echo(
                &uri,
                pki.as_ref().map(|p| p.ca_pem.as_str()),
                a.threads,
                a.connections,
                a.size,
                a.plan.plan()?,
            )
            .await?;
            print!("{}", report::text_summary(&m));
            Ok(())
        }
    }
}

/// The URI of an echo server.
pub fn echo_uri(host: &EchoHost) -> String {
    if host.tls {
        format!("https://{}:{}", crate::tls::SERVER_NAME, host.addr.port())
    } else {
        format!("http://{}", host.addr)
    }
}

/// Where `suite` writes its report unless told.
pub fn default_report_path() -> PathBuf {
    PathBuf::from("bench/results/report.md")
}
