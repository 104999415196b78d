//! `shinydb-server`: flags → configuration → run.
//!
//! Exit codes: 0 after a clean shutdown, 1 when the server fails (or a second signal cut the
//! shutdown short), 2 for a bad command line or configuration.

use std::{process::ExitCode, sync::Arc};

use clap::Parser;
use shinydb_server::{
    backup::{BackupError, Location, Progress, RestoreOptions, RestoreSummary, RestoreTarget},
    cli::{Cli, Command, RestoreArgs},
    config::{Config, DEFAULT_CONFIG_YAML},
    server::{self, RunContext},
    telemetry,
};

// mimalloc: the server allocates many small, short-lived buffers per request from many
// threads, where it is markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_default_config {
        print!("{DEFAULT_CONFIG_YAML}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref(), std::env::vars(), cli.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shinydb-server: {e}");
            return ExitCode::from(2);
        }
    };
    // One TLS crypto provider for the process: the gRPC listener and the object-store client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let admin_password = std::env::var("SHINYDB_ADMIN_PASSWORD").ok();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("shinydb-worker")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shinydb-server: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let telemetry = match telemetry::init(&config) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("shinydb-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(Command::Restore(args)) = &cli.command {
            let code = restore(&config, args).await;
            telemetry.shutdown();
            return code;
        }
        let ctx = RunContext {
            log: telemetry.log.clone(),
            admin_password,
        };
        let result = server::run(config, ctx).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "shinydb-server failed");
        }
        telemetry.shutdown();
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("shinydb-server: {e}");
                ExitCode::FAILURE
            }
        }
    });
    // Tasks of connections cut at the end of the grace period are dropped here, boundedly.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

/// On a terminal, a bar of the bytes `progress` counts, redrawn until the task is aborted.
fn progress_bar(
    progress: &Arc<Progress>,
) -> Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (shown, progress) = (bar.clone(), Arc::clone(progress));
    let task = tokio::spawn(async move {
        loop {
            let (done, total) = progress.get();
            bar.set_length(total);
            bar.set_position(done);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    Some((shown, task))
}

/// The JSON outcome `restore --report` writes.
fn report(result: &Result<RestoreSummary, BackupError>) -> serde_json::Value {
    match result {
        Ok(s) => serde_json::json!({
            "ok": true,
            "id": s.id,
            "seq": s.seq,
            "commitTimeMs": s.commit_time_ms,
            "replayed": s.replayed,
            "lineage": s.lineage,
            "bytes": s.bytes,
            "seconds": s.seconds,
        }),
        Err(e) => serde_json::json!({
            "ok": false,
            "reason": e.reason(),
            "message": e.to_string(),
        }),
    }
}

/// ` (committed <RFC 3339>)` for a commit time in ms; empty for 0 (unknown).
fn committed(ms: u64) -> String {
    match ms {
        0 => String::new(),
        ms => format!(
            " (committed {})",
            bson::DateTime::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
                .try_to_rfc3339_string()
                .unwrap_or_default()
        ),
    }
}

/// `shinydb-server restore`: restores a backup into the configured data directory.
async fn restore(config: &Config, args: &RestoreArgs) -> ExitCode {
    let target = match (&args.backup, args.target_time, args.target_seq) {
        (Some(id), _, _) => RestoreTarget::Id(id.clone()),
        (_, Some(t), _) => RestoreTarget::Time(t),
        (_, _, Some(n)) => RestoreTarget::Seq(n),
        _ => RestoreTarget::Latest,
    };
    let options = RestoreOptions {
        replace: args.replace,
        parallel: args
            .parallel
            .unwrap_or(usize::try_from(config.backup.parallelism).unwrap_or(1)),
        lineage: args.lineage.clone(),
    };
    let progress = Arc::new(Progress::default());
    let bar = progress_bar(&progress);
    let result = match Location::open(&config.backup) {
        Ok(loc) if args.check => shinydb_server::backup::check(&loc, &target, &options).await,
        Ok(loc) => {
            shinydb_server::backup::restore(&loc, &target, &config.data_dir, &options, &progress)
                .await
        }
        Err(e) => Err(e),
    };
    if let Some((bar, task)) = bar {
        task.abort();
        bar.finish_and_clear();
    }
    if let Some(path) = &args.report
        && let Err(e) = std::fs::write(path, report(&result).to_string())
    {
        eprintln!(
            "shinydb-server restore: writing the report {}: {e}",
            path.display()
        );
    }
    match result {
        Ok(s) if args.check => {
            println!(
                "restorable: backup {} and {} archived batches reach sequence number {}{}, {} bytes to write",
                s.id,
                s.replayed,
                s.seq,
                committed(s.commit_time_ms),
                s.bytes
            );
            ExitCode::SUCCESS
        }
        Ok(s) => {
            println!(
                "restored backup {} and {} archived batches into {}: sequence number {}{}, \
                 {} bytes in {:.1} s, new lineage {}",
                s.id,
                s.replayed,
                config.data_dir.display(),
                s.seq,
                committed(s.commit_time_ms),
                s.bytes,
                s.seconds,
                s.lineage
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shinydb-server restore: {e}");
            ExitCode::FAILURE
        }
    }
}
