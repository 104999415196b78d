//! The whole comparison in one go: starts PostgreSQL and shinydb-server (plaintext and TLS) in
//! temporary directories, measures the echo floor, then for each durability tier loads the
//! same records into every system and runs every workload at every thread count on every line.

use std::{
    collections::HashMap,
    path::PathBuf,
    time::{Duration, Instant, SystemTime},
};

use tracing::info;

use crate::{
    driver::{Measurement, Plan},
    echo::EchoHost,
    error::BenchError,
    runner::{self, RunConfig},
    services::{
        postgres::{PgCluster, PgSettings},
        shinydb::{ADMIN_PASSWORD, Durability, ShinyServer},
    },
    target::{Api, Check, TargetSpec, shinydb},
    tls::Pki,
    workload::{Letter, Shape},
};

/// Durability tiers: the two systems at equal durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Tier {
    /// Acknowledged after fsync: PostgreSQL `synchronous_commit=on`, ShinyDB `sync`.
    Fsync,
    /// Acknowledged once the OS has it: PostgreSQL `synchronous_commit=off`, ShinyDB
    /// `interval` (synced every 100 ms).
    Relaxed,
}

impl Tier {
    /// A heading for reports.
    pub fn title(self) -> &'static str {
        match self {
            Tier::Fsync => {
                "fsync on commit (PostgreSQL synchronous_commit=on, ShinyDB durability sync)"
            }
            Tier::Relaxed => {
                "relaxed (PostgreSQL synchronous_commit=off, ShinyDB durability interval, 100 ms)"
            }
        }
    }
}

/// The measured lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Line {
    /// PostgreSQL, one connection per thread.
    Postgres,
    /// ShinyDB through shinydb-client's pipelined streams, plaintext.
    Stream,
    /// ShinyDB through shinydb-client's pipelined streams, TLS.
    StreamTls,
    /// ShinyDB through plain unary calls, one connection per thread, plaintext.
    Unary,
    /// ShinyDB through shinydb-client's pipelined streams, plaintext, on a leader with two
    /// followers: writes on the leader, reads spread over the followers (B and C only: the
    /// other workloads read what they just wrote, which a follower may not have yet).
    Followers,
}

impl Line {
    /// A column heading.
    pub fn title(self) -> &'static str {
        match self {
            Line::Postgres => "PostgreSQL",
            Line::Stream => "ShinyDB stream",
            Line::StreamTls => "ShinyDB stream, TLS",
            Line::Unary => "ShinyDB unary",
            Line::Followers => "ShinyDB stream, reads on 2 followers",
        }
    }

    /// Which database the line talks to: lines on the same database share its records.
    fn database(self) -> u8 {
        match self {
            Line::Postgres => 0,
            Line::Stream | Line::Unary => 1,
            Line::StreamTls => 2,
            Line::Followers => 3,
        }
    }

    /// Whether the line runs `workload`.
    fn runs(self, workload: Letter) -> bool {
        self != Line::Followers || matches!(workload, Letter::B | Letter::C)
    }
}

/// Everything a suite run needs.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// Records loaded in every database.
    pub records: u64,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Durability tiers.
    pub tiers: Vec<Tier>,
    /// Workloads, run in this order without reloading (D and E add records).
    pub workloads: Vec<Letter>,
    /// Lines measured.
    pub lines: Vec<Line>,
    /// Each run's plan.
    pub plan: Plan,
    /// Record shape.
    pub shape: Shape,
    /// Longest scan.
    pub scan_max: usize,
    /// How thoroughly reads are checked.
    pub check: Check,
    /// The shinydb-server executable.
    pub server_bin: PathBuf,
    /// Connections of the pipelined client.
    pub connections: usize,
    /// Threads loading.
    pub load_threads: usize,
    /// Records per load request.
    pub batch: usize,
    /// Bytes per echo message.
    pub echo_size: usize,
}

/// One workload run.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Tier.
    pub tier: Tier,
    /// Workload.
    pub workload: Letter,
    /// Threads.
    pub threads: usize,
    /// Line.
    pub line: Line,
    /// What it measured.
    pub measurement: Measurement,
}

/// One echo run.
#[derive(Debug, Clone)]
pub struct EchoEntry {
    /// Over TLS.
    pub tls: bool,
    /// Threads, each on its own stream.
    pub threads: usize,
    /// What it measured.
    pub measurement: Measurement,
}

/// One load.
#[derive(Debug, Clone)]
pub struct LoadEntry {
    /// Tier.
    pub tier: Tier,
    /// What was loaded.
    pub what: String,
    /// How long it took.
    pub took: Duration,
}

/// Everything a suite run measured, with the facts a report states.
#[derive(Debug, Clone)]
pub struct SuiteResults {
    /// The configuration.
    pub config: SuiteConfig,
    /// Workload runs.
    pub entries: Vec<Entry>,
    /// Echo runs.
    pub echo: Vec<EchoEntry>,
    /// Loads.
    pub loads: Vec<LoadEntry>,
    /// `postgres --version`.
    pub postgres_version: String,
    /// When the suite started (RFC 3339, UTC).
    pub started: String,
    /// Wall time of the whole suite.
    pub wall: Duration,
    /// /proc/loadavg when the suite started.
    pub loadavg_before: String,
    /// /proc/loadavg when it ended.
    pub loadavg_after: String,
}

/// The first three fields of /proc/loadavg.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BenchError> + Send + 'static,
) -> Result<T, BenchError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BenchError::Task(e.to_string()))?
}

struct ShinyInstance {
    server: ShinyServer,
    dir: tempfile::TempDir,
    endpoint: shinydb::Endpoint,
}

async fn start_shiny(
    cfg: &SuiteConfig,
    durability: Durability,
    pki: Option<&Pki>,
    env: Vec<(String, String)>,
) -> Result<ShinyInstance, BenchError> {
    let dir = tempfile::Builder::new()
        .prefix("shinydb-bench-data")
        .tempdir()
        .map_err(|e| BenchError::io(std::env::temp_dir(), e))?;
    let (bin, path, p) = (
        cfg.server_bin.clone(),
        dir.path().to_path_buf(),
        pki.cloned(),
    );
    let server =
        blocking(move || ShinyServer::start(&bin, &path, durability, p.as_ref(), &env)).await?;
    let endpoint = shinydb::Endpoint {
        uri: server.uri(),
        ca_pem: pki.map(|p| p.ca_pem.clone()),
        password: ADMIN_PASSWORD.into(),
        connections: cfg.connections,
        followers: Vec::new(),
    };
    Ok(ShinyInstance {
        server,
        dir,
        endpoint,
    })
}

fn replication_env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (format!("SHINYDB_REPLICATION_{k}"), (*v).to_string()))
        .collect()
}

/// A plaintext leader and two followers of it; the leader's endpoint lists the followers.
async fn start_replicas(
    cfg: &SuiteConfig,
    durability: Durability,
) -> Result<Vec<ShinyInstance>, BenchError> {
    let mut leader = start_shiny(
        cfg,
        durability,
        None,
        replication_env(&[("ROLE", "leader"), ("NAME", "leader")]),
    )
    .await?;
    let key = leader.dir.path().join("replication.key");
    shinydb::create_replication_key(&leader.endpoint, &key).await?;
    let mut set = Vec::new();
    for name in ["f1", "f2"] {
        let key = key.display().to_string();
        let env = replication_env(&[
            ("ROLE", "follower"),
            ("NAME", name),
            ("LEADER", &leader.endpoint.uri),
            ("CREDENTIAL_FILE", &key),
            ("HEARTBEAT_MS", "200"),
        ]);
        set.push(start_shiny(cfg, durability, None, env).await?);
    }
    leader.endpoint.followers = set.iter().map(|f| f.endpoint.uri.clone()).collect();
    set.insert(0, leader);
    Ok(set)
}

/// Runs the whole suite.
pub async fn run(cfg: SuiteConfig) -> Result<SuiteResults, BenchError> {
    let started = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let loadavg_before = loadavg();
    let t0 = Instant::now();
    let pki = Pki::new()?;
    let pg = if cfg.lines.contains(&Line::Postgres) {
        Some(blocking(|| PgCluster::start(&PgSettings::default())).await?)
    } else {
        None
    };
    let postgres_version = pg
        .as_ref()
        .map_or_else(|| "not run".into(), PgCluster::version);

    let mut echo = Vec::new();
    for tls in [false, true] {
        let host = EchoHost::start(tls.then_some(&pki))?;
        let uri = host.uri();
        for &threads in &cfg.threads {
            let m = runner::echo(
                &uri,
                tls.then_some(pki.ca_pem.as_str()),
                threads,
                cfg.connections,
                cfg.echo_size,
                cfg.plan,
            )
            .await?;
            info!(
                tls,
                threads,
                ops = m.throughput as u64,
                p50 = m.overall.p50,
                "echo"
            );
            echo.push(EchoEntry {
                tls,
                threads,
                measurement: m,
            });
        }
    }

    let mut entries = Vec::new();
    let mut loads = Vec::new();
    for &tier in &cfg.tiers {
        let durability = match tier {
            Tier::Fsync => Durability::Sync,
            Tier::Relaxed => Durability::Interval,
        };
        let plain = if cfg
            .lines
            .iter()
            .any(|l| matches!(l, Line::Stream | Line::Unary))
        {
            Some(start_shiny(&cfg, durability, None, Vec::new()).await?)
        } else {
            None
        };
        let tls = if cfg.lines.contains(&Line::StreamTls) {
            Some(start_shiny(&cfg, durability, Some(&pki), Vec::new()).await?)
        } else {
            None
        };
        let replicas = if cfg.lines.contains(&Line::Followers) {
            start_replicas(&cfg, durability).await?
        } else {
            Vec::new()
        };
        let spec = |line: Line| -> Option<TargetSpec> {
            match line {
                Line::Postgres => pg.as_ref().map(|pg| TargetSpec::Postgres {
                    conninfo: pg.conninfo(),
                    synchronous_commit: tier == Tier::Fsync,
                }),
                Line::Stream | Line::Unary => plain.as_ref().map(|s| TargetSpec::ShinyDb {
                    endpoint: s.endpoint.clone(),
                    api: if line == Line::Stream {
                        Api::Stream
                    } else {
                        Api::Unary
                    },
                }),
                Line::StreamTls => tls.as_ref().map(|s| TargetSpec::ShinyDb {
                    endpoint: s.endpoint.clone(),
                    api: Api::Stream,
                }),
                Line::Followers => replicas.first().map(|s| TargetSpec::ShinyDb {
                    endpoint: s.endpoint.clone(),
                    api: Api::Stream,
                }),
            }
        };
        let mut counts: HashMap<u8, u64> = HashMap::new();
        for &line in &cfg.lines {
            if counts.contains_key(&line.database()) {
                continue;
            }
            let Some(s) = spec(line) else { continue };
            let took =
                runner::load(&s, cfg.records, cfg.load_threads, cfg.batch, cfg.shape).await?;
            info!(tier = ?tier, what = %s.label(), records = cfg.records,
                secs = took.as_secs_f64(), "loaded");
            loads.push(LoadEntry {
                tier,
                what: s.label(),
                took,
            });
            counts.insert(line.database(), cfg.records);
        }
        if let Some((leader, followers)) = replicas.split_first() {
            for f in followers {
                shinydb::wait_caught_up(&f.endpoint, &leader.endpoint).await?;
            }
        }
        for (wi, &workload) in cfg.workloads.iter().enumerate() {
            for &threads in &cfg.threads {
                for &line in &cfg.lines {
                    if !line.runs(workload) {
                        continue;
                    }
                    let Some(s) = spec(line) else { continue };
                    let records = counts.get(&line.database()).copied().unwrap_or(cfg.records);
                    let out = runner::run(
                        &s,
                        RunConfig {
                            workload,
                            distribution: None,
                            records,
                            threads,
                            shape: cfg.shape,
                            scan_max: cfg.scan_max,
                            plan: cfg.plan,
                            check: cfg.check,
                            seed: (wi as u64 + 1) * 1000 + threads as u64,
                        },
                    )
                    .await?;
                    info!(tier = ?tier, workload = workload.name(), threads, line = line.title(),
                        ops = out.measurement.throughput as u64,
                        p50 = out.measurement.overall.p50, p99 = out.measurement.overall.p99,
                        "run");
                    *counts.entry(line.database()).or_insert(cfg.records) += out.inserted;
                    entries.push(Entry {
                        tier,
                        workload,
                        threads,
                        line,
                        measurement: out.measurement,
                    });
                }
            }
        }
        for inst in [plain, tls].into_iter().flatten().chain(replicas) {
            let ShinyInstance {
                server, dir: _dir, ..
            } = inst;
            blocking(move || server.stop()).await?;
        }
    }
    if let Some(pg) = pg {
        blocking(move || pg.stop()).await?;
    }
    Ok(SuiteResults {
        config: cfg,
        entries,
        echo,
        loads,
        postgres_version,
        started,
        wall: t0.elapsed(),
        loadavg_before,
        loadavg_after: loadavg(),
    })
}
