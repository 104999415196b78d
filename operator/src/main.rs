//! `shinydb-operator`: `run` the controller, or print the `crd`s.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use shinydb_operator::error::RunError;
use shinydb_operator::leader::{LeaseOptions, run_as_leader};
use shinydb_operator::metrics::{self, Metrics};
use tracing_subscriber::EnvFilter;

/// The ShinyDB Kubernetes operator.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (with leader election) and the metrics and health listener.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Namespaces to watch (repeat, or comma-separated); all namespaces when none.
    #[arg(
        long = "watch-namespace",
        env = "SHINYDB_OPERATOR_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    watch_namespaces: Vec<String>,
    /// Address of the /metrics, /healthz and /readyz listener.
    #[arg(
        long,
        env = "SHINYDB_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    metrics_addr: SocketAddr,
    /// Name of the leader election Lease.
    #[arg(
        long,
        env = "SHINYDB_OPERATOR_LEASE_NAME",
        default_value = "shinydb-operator"
    )]
    lease_name: String,
    /// Namespace of the Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Log filter, such as `info` or `shinydb_operator=debug,info`.
    #[arg(long, env = "SHINYDB_OPERATOR_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log format.
    #[arg(
        long,
        env = "SHINYDB_OPERATOR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => match shinydb_operator::crd::to_yaml() {
            Ok(yaml) => {
                if std::io::stdout().write_all(yaml.as_bytes()).is_err() {
                    return ExitCode::FAILURE;
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("shinydb-operator: cannot render the CRDs: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run(args) => {
            let filter = match EnvFilter::try_new(&args.log_level) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("shinydb-operator: --log-level {:?}: {e}", args.log_level);
                    return ExitCode::from(2);
                }
            };
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match args.log_format {
                LogFormat::Text => builder.init(),
                LogFormat::Json => builder.json().init(),
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("shinydb-operator: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "shinydb-operator stopped");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(mut args: RunArgs) -> Result<(), RunError> {
    // An empty SHINYDB_OPERATOR_WATCH_NAMESPACES (the chart's default) means every namespace.
    args.watch_namespaces.retain(|ns| !ns.trim().is_empty());
    let client = kube::Client::try_default().await?;
    let metrics = Arc::new(Metrics::new()?);
    let identity = args.identity.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME")
            .unwrap_or_else(|_| format!("shinydb-operator-{}", std::process::id()))
    });
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        namespaces = ?args.watch_namespaces,
        metrics = %args.metrics_addr,
        "starting"
    );
    let lease = LeaseOptions {
        name: args.lease_name,
        namespace: args.lease_namespace,
        identity,
    };
    let server = metrics::serve(args.metrics_addr, metrics.clone());
    tokio::select! {
        r = server => r,
        r = run_as_leader(client, lease, args.watch_namespaces, metrics) => r,
    }
}
