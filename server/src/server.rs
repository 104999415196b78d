//! Starting, serving and stopping: binds the listeners, opens the engine and the user catalog,
//! serves gRPC and HTTP, and shuts down gracefully on SIGTERM or SIGINT.

use std::{
    io::Write as _,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use shinydb_engine::Db;
use shinydb_proto::v1::{
    backups_server::BackupsServer, catalog_server::CatalogServer,
    documents_server::DocumentsServer, pipeline_server::PipelineServer, query_server::QueryServer,
    replication_server::ReplicationServer, server_server::ServerServer, users_server::UsersServer,
};
use tokio::{
    net::TcpListener,
    signal::unix::{SignalKind, signal},
    sync::watch,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tracing::{info, warn};

use crate::{
    admission::Admission,
    auth::Auth,
    backup::Backups,
    config::{Config, ReplicationRole},
    error::ServerError,
    http,
    metrics::Metrics,
    net::{self, Accept},
    replication::{Replication, Restart, Role, follower, role_file, seed},
    service::{
        backup::BackupsService, catalog::CatalogService, documents::DocumentsService,
        query::QueryService, replication::ReplicationService, server::ServerService,
        stream::PipelineService, users::UsersService,
    },
    state::{Shared, State, stopped},
    status_layer,
    telemetry::LogControl,
    tls::{ReloadingTls, TlsFiles},
};

/// What the server needs besides its configuration.
pub struct RunContext {
    /// The run-time log filter.
    pub log: LogControl,
    /// The first admin password from `SHINYDB_ADMIN_PASSWORD`, used on a new data directory.
    pub admin_password: Option<String>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

fn local(l: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
    l.local_addr()
        .map_err(|source| ServerError::Bind { addr, source })
}

/// How one round of serving ended.
enum Served {
    /// A signal: the server stopped.
    Stopped,
    /// Replication asked for a new data directory: seed from this leader, then serve again
    /// as its follower.
    Reseed(String),
}

/// Runs the server until SIGTERM or SIGINT, then shuts down gracefully: stops accepting, lets
/// requests in flight finish within `shutdown.grace_seconds`, checkpoints the engine. A second
/// signal exits the process at once (acknowledged writes are in the WAL either way).
///
/// A follower whose data directory is empty, or marked for seeding, seeds it from its leader
/// first; when it must seed again while serving, it closes the engine, seeds and serves again
/// on the same sockets.
pub async fn run(mut cfg: Config, ctx: RunContext) -> Result<(), ServerError> {
    let metrics = Arc::new(Metrics::new().map_err(|e| ServerError::Telemetry(e.to_string()))?);
    let grpc = bind(cfg.network.listen).await?;
    let http = bind(cfg.network.http_listen).await?;
    let std_listener = |l: TcpListener, addr| {
        l.into_std()
            .map_err(|source| ServerError::Bind { addr, source })
    };
    let grpc = std_listener(grpc, cfg.network.listen)?;
    let http = std_listener(http, cfg.network.http_listen)?;
    let again = |l: &std::net::TcpListener, addr| {
        l.try_clone()
            .and_then(TcpListener::from_std)
            .map_err(|source| ServerError::Bind { addr, source })
    };
    take_saved_role(&mut cfg)?;
    loop {
        if cfg.replication.role == ReplicationRole::Follower
            && cfg.replication.leader.is_some()
            && follower::needs_seed(&cfg.data_dir)
        {
            if !seed_with_retries(&cfg).await? {
                return Ok(());
            }
            metrics.replication_seeds.inc();
        }
        let listeners = (
            again(&grpc, cfg.network.listen)?,
            again(&http, cfg.network.http_listen)?,
        );
        match serve(&cfg, &ctx, Arc::clone(&metrics), listeners).await? {
            Served::Stopped => return Ok(()),
            Served::Reseed(leader) => {
                info!(
                    leader,
                    "seeding from the leader, then serving again as its follower"
                );
                cfg.replication.role = ReplicationRole::Follower;
                cfg.replication.leader = Some(leader);
            }
        }
    }
}

/// Applies the role saved at run time ([`role_file`]) to `cfg`, while the configuration still
/// gives the role it gave when that was saved; else the configuration wins and the file goes.
fn take_saved_role(cfg: &mut Config) -> Result<(), ServerError> {
    let Some(saved) = role_file::load(&cfg.data_dir)? else {
        return Ok(());
    };
    let file = cfg.data_dir.join(role_file::ROLE_FILE);
    if saved.configured != Role::configured(&cfg.replication) {
        info!(file = %file.display(), saved = saved.role.name(),
            "the replication configuration changed since a role was given at run time: it wins");
        role_file::remove(&cfg.data_dir)?;
        return Ok(());
    }
    let r = &mut cfg.replication;
    (r.role, r.leader) = match saved.role {
        Role::Standalone => (ReplicationRole::Standalone, None),
        Role::Follower(leader) => (ReplicationRole::Follower, Some(leader)),
        // A follower of nobody: read-only until told whom to follow.
        Role::Demoted => (ReplicationRole::Follower, None),
        // Another server may lead by now: never a writer again on its own.
        Role::Leader if r.role != ReplicationRole::Leader => {
            warn!(file = %file.display(),
                "this server led (promoted at run time) when it stopped; it comes back \
                 read-only, as another may lead by now: `shinydb replica promote` to lead \
                 again (a new epoch), or `shinydb replica follow ENDPOINT`");
            (ReplicationRole::Follower, None)
        }
        Role::Leader => (ReplicationRole::Leader, None),
    };
    info!(role = ?r.role, leader = ?r.leader, file = %file.display(),
        "taking the role given at run time (promote, demote, follow) over replication.role");
    Ok(())
}

/// Seeds from the leader, retrying until it works; `false` when a signal came first.
async fn seed_with_retries(cfg: &Config) -> Result<bool, ServerError> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| ServerError::Serve(e.to_string()))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| ServerError::Serve(e.to_string()))?;
    loop {
        match seed::seed(cfg).await {
            Ok(_) => return Ok(true),
            Err(e) => warn!(error = %e, "seeding from the leader failed; retrying in 2 s"),
        }
        tokio::select! {
            _ = terminate.recv() => return Ok(false),
            _ = interrupt.recv() => return Ok(false),
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

async fn serve(
    cfg: &Config,
    ctx: &RunContext,
    metrics: Arc<Metrics>,
    (grpc_listener, http_listener): (TcpListener, TcpListener),
) -> Result<Served, ServerError> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| ServerError::Serve(e.to_string()))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| ServerError::Serve(e.to_string()))?;

    let tls = match (&cfg.tls.cert, &cfg.tls.key) {
        (Some(cert), Some(key)) => {
            let m = Arc::clone(&metrics);
            Some(Arc::new(ReloadingTls::load(
                TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca: cfg.tls.client_ca.clone(),
                },
                Box::new(move || m.cert_reloads.inc()),
            )?))
        }
        _ => None,
    };
    if tls.is_none() && !cfg.network.listen.ip().is_loopback() {
        warn!(listen = %cfg.network.listen,
            "serving plaintext gRPC on a non-loopback address (allow_insecure): credentials and \
             data cross the network unencrypted");
    }
    let grpc_addr = local(&grpc_listener, cfg.network.listen)?;
    let http_addr = local(&http_listener, cfg.network.http_listen)?;

    // Health and metrics answer from now on, also while the engine replays its WAL.
    let status = http::Status::new(Arc::clone(&metrics));
    let http_task = {
        let router = http::router(Arc::clone(&status));
        let listener = net::HttpListener::new(
            http_listener,
            cfg.network.http_max_connections,
            Duration::from_secs(cfg.network.http_idle_timeout_seconds),
        );
        tokio::spawn(async move { axum::serve(listener, router).await })
    };

    let opened = Instant::now();
    // A restore or seed that a crash cut short in its swap is finished before anything opens.
    crate::staging::finish_interrupted(&cfg.data_dir).map_err(crate::backup::BackupError::from)?;
    let data_dir = cfg.data_dir.clone();
    let opts = cfg.engine_options();
    let db = tokio::task::spawn_blocking(move || Db::open(&data_dir, opts))
        .await
        .map_err(|e| ServerError::Serve(e.to_string()))??;
    let db = Arc::new(db);
    info!(dir = %cfg.data_dir.display(), elapsed_ms = opened.elapsed().as_millis() as u64,
        "storage engine open");
    let auth = {
        let db = Arc::clone(&db);
        let auth_cfg = cfg.auth.clone();
        let dir = cfg.data_dir.clone();
        let pw = ctx.admin_password.clone();
        tokio::task::spawn_blocking(move || Auth::open(db, &auth_cfg, &dir, pw))
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))??
    };
    if let (Some(key), Some(path)) = (
        follower::peer_key(&cfg.replication)?,
        &cfg.replication.credential_file,
    ) {
        auth.set_peer_key(&key).map_err(|e| {
            ServerError::Auth(format!(
                "replication.credential_file {}: {e}",
                path.display()
            ))
        })?;
        info!("peers presenting the replica set's key may replicate from this server");
    }

    let lineage = {
        let dir = cfg.data_dir.clone();
        tokio::task::spawn_blocking(move || crate::backup::lineage(&dir))
            .await
            .map_err(|e| ServerError::Serve(e.to_string()))??
    };
    // The leader archives the log; a follower's copy of it is the leader's, until it is
    // promoted.
    let backups = Arc::new(Backups::standby(
        Arc::clone(&db),
        cfg.backup.clone(),
        lineage.clone(),
        Arc::clone(&metrics),
    ));
    if cfg.replication.role != ReplicationRole::Follower {
        backups.resume_archiving();
    }
    let auth = Arc::new(auth);
    let replication = Replication::new(
        Arc::clone(&db),
        Arc::clone(&auth),
        cfg.replication.clone(),
        cfg.tls.clone(),
        cfg.data_dir.clone(),
        lineage,
        Arc::clone(&metrics),
    );
    replication
        .start()
        .await
        .map_err(|e| ServerError::Serve(e.to_string()))?;
    let mut restart = replication.restart_requested();

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state: State = Arc::new(Shared::new(
        Arc::clone(&replication),
        auth,
        Arc::clone(&metrics),
        cfg.limits.clone(),
        tls.is_some(),
        ctx.log.clone(),
        shutdown_rx.clone(),
    ));

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    health
        .set_serving::<DocumentsServer<DocumentsService>>()
        .await;
    health.set_serving::<CatalogServer<CatalogService>>().await;
    health.set_serving::<QueryServer<QueryService>>().await;
    health.set_serving::<UsersServer<UsersService>>().await;
    health.set_serving::<ServerServer<ServerService>>().await;
    health.set_serving::<BackupsServer<BackupsService>>().await;
    health
        .set_serving::<ReplicationServer<ReplicationService>>()
        .await;
    health
        .set_serving::<PipelineServer<PipelineService>>()
        .await;

    let max_msg = usize::try_from(cfg.limits.max_message_size.0).unwrap_or(usize::MAX);
    let n = &cfg.network;
    let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
    let router = Server::builder()
        .initial_stream_window_size(u32::try_from(n.stream_window_size.0).unwrap_or(u32::MAX))
        .initial_connection_window_size(
            u32::try_from(n.connection_window_size.0).unwrap_or(u32::MAX),
        )
        .max_concurrent_streams(n.max_concurrent_streams)
        .http2_adaptive_window(Some(false))
        .http2_keepalive_interval(secs(n.keepalive_interval_seconds))
        .http2_keepalive_timeout(secs(n.keepalive_timeout_seconds))
        .max_connection_age_grace(Duration::from_secs(n.keepalive_timeout_seconds));
    let router = match secs(n.max_connection_age_seconds) {
        Some(age) => router.max_connection_age(age),
        None => router,
    };
    // Outermost first: status rewrites, then request tracking (for the idle timeout), then the
    // credentials check before any body is read.
    let router = router
        .layer(status_layer::rewrite(cfg.limits.max_message_size.0))
        .layer(net::TrackRequests)
        .layer(Admission::new(Arc::clone(&state)))
        .add_service(health_service)
        .add_service(
            DocumentsServer::new(DocumentsService::new(Arc::clone(&state)))
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg),
        )
        .add_service(
            CatalogServer::new(CatalogService::new(Arc::clone(&state)))
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg),
        )
        .add_service(
            QueryServer::new(QueryService::new(Arc::clone(&state)))
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg),
        )
        .add_service(
            UsersServer::new(UsersService::new(Arc::clone(&state)))
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg),
        )
        .add_service(
            ServerServer::new(ServerService::new(Arc::clone(&state)))
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg),
        )
        .add_service(
            PipelineServer::new(PipelineService::new(Arc::clone(&state)))
                .max_decoding_message_size(max_msg)
                .max_encoding_message_size(max_msg),
        )
        .add_service(BackupsServer::new(BackupsService::new(
            Arc::clone(&state),
            Arc::clone(&backups),
        )))
        .add_service(
            ReplicationServer::new(ReplicationService::new(
                Arc::clone(&state),
                Arc::clone(&replication),
                Arc::clone(&backups),
            ))
            .max_decoding_message_size(max_msg)
            .max_encoding_message_size(max_msg),
        );
    let kill = CancellationToken::new();
    let incoming = net::incoming(
        grpc_listener,
        Accept {
            tls: tls.clone(),
            metrics: Arc::clone(&metrics),
            max_connections: n.max_connections,
            max_connections_per_ip: n.max_connections_per_ip,
            idle_timeout: Duration::from_secs(n.idle_timeout_seconds),
            handshake_timeout: Duration::from_secs(n.handshake_timeout_seconds),
            kill: kill.clone(),
        },
        shutdown_rx.clone(),
    );
    let mut grpc_stop = shutdown_rx.clone();
    let mut grpc_task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        stopped(&mut grpc_stop).await;
    }));
    status.serving(Arc::clone(&state));
    info!(grpc = %grpc_addr, http = %http_addr, tls = tls.is_some(),
        client_ca = cfg.tls.client_ca.is_some(), version = crate::service::server::VERSION,
        "shinydb-server ready");
    // One machine-readable line on stdout, for scripts and tests that bind port 0.
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "shinydb-server listening grpc={grpc_addr} http={http_addr}"
        );
        let _ = out.flush();
    }

    // Serve until a signal, a restart replication asks for, or until the gRPC server stops on
    // its own (an error).
    let mut reseed = None;
    let early = tokio::select! {
        _ = terminate.recv() => { info!("SIGTERM: shutting down gracefully"); None }
        _ = interrupt.recv() => { info!("SIGINT: shutting down gracefully"); None }
        r = restart.wait_for(Option::is_some) => {
            info!("stopping to seed from the leader");
            reseed = r.ok().and_then(|why| why.clone()).map(|Restart::Seed { leader }| leader);
            None
        }
        r = &mut grpc_task => Some(r),
    };
    let _ = shutdown_tx.send(true);
    replication.stop_follower();
    replication.followers.disconnect_all();
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    if reseed.is_none() {
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            eprintln!(
                "shinydb-server: second signal: exiting at once (the WAL holds every acknowledged write)"
            );
            std::process::exit(1);
        });
    }

    let grace = Duration::from_secs(cfg.shutdown.grace_seconds);
    let stopped_early = early.is_some();
    let served = match early {
        Some(r) => r,
        None => {
            if let Ok(r) = tokio::time::timeout(grace, &mut grpc_task).await {
                r
            } else {
                warn!(
                    grace_seconds = cfg.shutdown.grace_seconds,
                    "requests still running after the grace period: closing their connections"
                );
                grpc_task.abort();
                Ok(Ok(()))
            }
        }
    };
    let serve_result = match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ServerError::Serve(e.to_string())),
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(ServerError::Serve(e.to_string())),
    };
    http_task.abort();
    drop(status);
    drop(state);
    // After a clean drain every request has released the engine at once; connections cut at
    // the end of the grace period may take a moment longer.
    let wait = if stopped_early || kill.is_cancelled() {
        Duration::from_secs(2)
    } else {
        grace.max(Duration::from_secs(1))
    };
    // The log committed before the stop goes to the archive before the engine closes.
    backups.stop().await;
    drop(backups);
    db.on_visible(None);
    drop(replication);
    close_engine(db, wait).await?;
    serve_result?;
    Ok(reseed.map_or(Served::Stopped, Served::Reseed))
}

/// Waits (at most `wait`) for the last request to release the engine, then closes it, which
/// checkpoints; if a cut connection still holds it, checkpoints without closing (the WAL is
/// synced either way, and the process exits next).
async fn close_engine(db: Arc<Db>, wait: Duration) -> Result<(), ServerError> {
    let deadline = Instant::now() + wait;
    let mut db = db;
    loop {
        match Arc::try_unwrap(db) {
            Ok(owned) => {
                tokio::task::spawn_blocking(move || owned.close())
                    .await
                    .map_err(|e| ServerError::Serve(e.to_string()))??;
                info!("storage engine closed cleanly");
                return Ok(());
            }
            Err(shared) if Instant::now() < deadline => {
                db = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(shared) => {
                warn!(
                    holders = Arc::strong_count(&shared) - 1,
                    "the engine is still held by cut connections: checkpointing without closing"
                );
                tokio::task::spawn_blocking(move || shared.checkpoint())
                    .await
                    .map_err(|e| ServerError::Serve(e.to_string()))??;
                info!("storage engine checkpointed");
                return Ok(());
            }
        }
    }
}
