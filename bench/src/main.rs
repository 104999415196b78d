//! `shinydb-bench`: flags → load, run, echo or the whole suite. Exit code 0 on success, 1 when
//! anything failed (every error fails the run loudly), 2 for a bad command line.

use std::process::ExitCode;

use clap::Parser;
use shinydb_bench::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHINYDB_BENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shinydb-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(shinydb_bench::BenchError::Usage(m)) => {
            eprintln!("shinydb-bench: {m}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("shinydb-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
