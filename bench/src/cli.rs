//! The command line: `load`, `run` and `echo` for single measurements, `suite` for the whole
//! comparison that `bench/run.sh` runs.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    driver::Plan,
    echo::EchoHost,
    error::BenchError,
    report, runner,
    services::shinydb::default_server_bin,
    suite::{self, Line, SuiteConfig, Tier},
    target::{Api, Check, TargetSpec, shinydb},
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
    /// The whole comparison: starts PostgreSQL and shinydb-server itself, runs every workload
    /// on every line at both durability tiers, writes the markdown report.
    Suite(SuiteArgs),
}

/// Which system to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// PostgreSQL (`--postgres`).
    Postgres,
    /// ShinyDB (`--shinydb`).
    Shinydb,
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
    /// ShinyDB endpoint, http:// or https://.
    #[arg(
        long,
        env = "SHINYDB_BENCH_SHINYDB",
        default_value = "http://127.0.0.1:23469"
    )]
    pub shinydb: String,
    /// PEM file of the CA that signed ShinyDB's certificate (https).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// ShinyDB admin password.
    #[arg(
        long,
        env = "SHINYDB_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub password: String,
    /// ShinyDB: pipelined stream through shinydb-client, or plain unary calls.
    #[arg(long, value_enum, default_value = "stream")]
    pub api: Api,
    /// ShinyDB: connections of the pipelined client.
    #[arg(long, default_value_t = 2)]
    pub connections: usize,
    /// ShinyDB: followers to spread reads over (comma-separated endpoints).
    #[arg(long, value_delimiter = ',')]
    pub followers: Vec<String>,
}

impl TargetArgs {
    fn spec(&self) -> Result<TargetSpec, BenchError> {
        Ok(match self.target {
            TargetKind::Postgres => TargetSpec::Postgres {
                conninfo: self.postgres.clone(),
                synchronous_commit: self.synchronous_commit == "on",
            },
            TargetKind::Shinydb => TargetSpec::ShinyDb {
                endpoint: shinydb::Endpoint {
                    uri: self.shinydb.clone(),
                    ca_pem: self
                        .ca_file
                        .as_ref()
                        .map(|p| std::fs::read_to_string(p).map_err(|e| BenchError::io(p, e)))
                        .transpose()?,
                    password: self.password.clone(),
                    connections: self.connections.max(1),
                    followers: self.followers.clone(),
                },
                api: self.api,
            },
        })
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

/// `suite`.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Records loaded in every database, per tier.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Fields per record.
    #[arg(long, default_value_t = 10)]
    field_count: usize,
    /// Characters per field.
    #[arg(long, default_value_t = 100)]
    field_length: usize,
    /// Thread counts.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    threads: Vec<usize>,
    /// Durability tiers.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fsync,relaxed"
    )]
    tiers: Vec<Tier>,
    /// Workloads, in run order (D and E add records; nothing is reloaded between them).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        ignore_case = true,
        default_value = "a,b,c,f,d,e"
    )]
    workloads: Vec<Letter>,
    /// Lines to measure.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "postgres,stream,stream-tls,unary,followers"
    )]
    lines: Vec<Line>,
    /// Longest scan.
    #[arg(long, default_value_t = 100)]
    scan_max: usize,
    /// Check every value read (not only that records and fields are there).
    #[arg(long)]
    verify_values: bool,
    /// The shinydb-server executable (default: next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Connections of ShinyDB's pipelined client (and of the echo).
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Threads loading records.
    #[arg(long, default_value_t = 4)]
    load_threads: usize,
    /// Records per load request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Bytes per echo message.
    #[arg(long, default_value_t = report::ECHO_SIZE)]
    echo_size: usize,
    /// Where to write the markdown report.
    #[arg(long, default_value = "bench/results/report.md")]
    out: PathBuf,
    /// The command line to state in the report.
    #[arg(long, default_value = "shinydb-bench suite")]
    command: String,
    /// A note for the report (such as what else ran on the machine).
    #[arg(long, default_value = "")]
    note: String,
}

async fn suite_cmd(a: SuiteArgs) -> Result<(), BenchError> {
    let shape = DataArgs {
        records: a.records,
        field_count: a.field_count,
        field_length: a.field_length,
        threads: a.threads.iter().copied().min().unwrap_or(0),
    }
    .shape()?;
    if a.records == 0 || a.scan_max == 0 || a.lines.is_empty() || a.tiers.is_empty() {
        return Err(BenchError::Usage(
            "--records, --scan-max, --lines and --tiers must not be zero or empty".into(),
        ));
    }
    let cfg = SuiteConfig {
        records: a.records,
        threads: a.threads,
        tiers: a.tiers,
        workloads: a.workloads,
        lines: a.lines,
        plan: a.plan.plan()?,
        shape,
        scan_max: a.scan_max,
        check: if a.verify_values {
            Check::Values
        } else {
            Check::Shape
        },
        server_bin: a.server_bin.unwrap_or_else(default_server_bin),
        connections: a.connections.max(1),
        load_threads: a.load_threads.max(1),
        batch: a.batch.max(1),
        echo_size: a.echo_size,
    };
    let results = suite::run(cfg).await?;
    let md = report::markdown(&results, &a.command, &a.note);
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir, e))?;
    }
    std::fs::write(&a.out, &md).map_err(|e| BenchError::io(&a.out, e))?;
    print!("{md}");
    Ok(())
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> Result<(), BenchError> {
    match cli.command {
        Command::Load(a) => {
            let shape = a.data.shape()?;
            let spec = a.target.spec()?;
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
            let spec = a.target.spec()?;
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
            let host = EchoHost::start(pki.as_ref())?;
            let uri = host.uri();
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
        Command::Suite(a) => suite_cmd(a).await,
    }
}
