//! `shinydb`: ShinyDB's command line. See `shinydb --help`.

mod cli;
mod connect;
mod error;
mod manage;
mod output;
mod shell;
mod transfer;

use std::{io::Write, process::ExitCode, time::Duration};

use clap::Parser;
use shinydb_client::{Client, Timeouts};

use crate::{
    cli::{Cli, Command},
    connect::target,
    error::{CliError, CliResult},
};

/// Runs one subcommand (not `shell`); returns what to print on standard output.
pub async fn run_command(c: &Client, cmd: Command) -> CliResult<String> {
    match cmd {
        Command::Query { yql, output } => Ok(output::render(&c.query(&yql).await?, output)),
        Command::Explain { yql } => Ok(c.explain(&yql).await?.to_json().to_string()),
        Command::Import {
            target: t,
            file,
            format,
            batch,
        } => {
            let (space, store) = target(&t)?;
            let n = transfer::import(c, &space, &store, &file, format, batch as usize).await?;
            Ok(format!("imported {n} documents into {t}"))
        }
        Command::Export { source, format: _ } => {
            let (space, store) = target(&source)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = transfer::export(c, &space, &store, &mut out).await?;
            tracing::debug!(documents = n, "exported");
            Ok(String::new())
        }
        Command::Space(cmd) => manage::space(c, cmd).await,
        Command::Store(cmd) => manage::store(c, cmd).await,
        Command::Index(cmd) => manage::index(c, cmd).await,
        Command::User(cmd) => manage::user(c, cmd).await,
        Command::Apikey(cmd) => manage::apikey(c, cmd).await,
        Command::Backup(cmd) => manage::backup(c, cmd).await,
        Command::Replica(cmd) => manage::replica(c, cmd).await,
        Command::Status => manage::status(c).await,
        Command::Ping { wait } => manage::ping(c, Duration::from_secs(wait)).await,
        Command::Shell => Err(CliError::Usage("the shell does not nest".into())),
    }
}

fn run(cli: Cli) -> CliResult<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))?;
    let _guard = rt.enter();
    // Long transfers have no per-operation limit; ping bounds each try itself.
    let timeouts = match &cli.command {
        Command::Import { .. } | Command::Export { .. } => Some(Timeouts::none()),
        Command::Ping { .. } => Some(Timeouts::fast()),
        // As long as the server allows (limits.max_deadline_ms); a longer backup goes on.
        Command::Backup(_) => Some(Timeouts {
            request: Some(Duration::from_secs(24 * 3600)),
            ..Timeouts::DEFAULT
        }),
        _ => None,
    };
    let client = connect::client(&cli.conn, timeouts)?;
    if matches!(cli.command, Command::Shell) {
        let r = shell::run(&rt, &client);
        let _ = rt.block_on(client.logout());
        return r;
    }
    let result = rt.block_on(run_command(&client, cli.command));
    // End the session this command opened, if any (best effort: it expires anyway).
    let _ = rt.block_on(client.logout());
    let text = result?;
    if !text.is_empty() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").map_err(|e| CliError::Input(format!("writing output: {e}")))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber_init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string().trim_end());
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

/// Logs to stderr at the level of `SHINYDB_LOG` (default: warnings).
fn tracing_subscriber_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHINYDB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
