//! Replication: a leader ships its log to followers, which apply it read-only and can take
//! over.
//!
//! - [`leader`]: serving a follower's stream from its position (from the engine's in-memory
//!   tail when it is near), holding the log each follower still needs, and waiting for
//!   `sync_replicas` acknowledgements before a write's client is told.
//! - [`follower`]: the loop that connects to the leader, applies its batches (many per sync)
//!   and acknowledges them; it seeds, or rolls back a diverged tail and seeds, by itself.
//! - [`seed`]: a consistent snapshot of the leader's files, streamed with a SHA-256 per
//!   chunk, checked, opened and swapped in before the engine opens.
//! - [`epoch`]: epochs, recorded in the data itself (`_system.epochs`), so they replicate
//!   like data and survive a seed.
//!
//! Who leads is decided outside (a person, or the operator); servers never elect themselves.

pub mod epoch;
mod error;
pub mod follower;
pub mod leader;
pub mod role_file;
pub mod seed;

use std::{path::PathBuf, sync::Arc};

pub use error::ReplicationError;
use parking_lot::Mutex;
use shinydb_engine::Db;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::{Status, metadata::MetadataValue};
use tracing::{error, info, warn};

use crate::{
    auth::Auth,
    config::{ReplicationConfig, ReplicationRole, TlsConfig},
    metrics::Metrics,
};

/// The response header naming the leader, on writes a follower refuses.
pub const LEADER_HEADER: &str = "x-shinydb-leader";
/// The request header bounding how stale a follower's answer may be, in milliseconds.
pub const MAX_STALENESS_HEADER: &str = "x-shinydb-max-staleness-ms";

/// What this server is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// No replication.
    Standalone,
    /// Takes writes and serves its log.
    Leader,
    /// Applies the log of the leader at this endpoint.
    Follower(String),
    /// A former leader, read-only, not yet told whom to follow.
    Demoted,
}

impl Role {
    /// The role `cfg` gives (a follower without a leader is demoted: read-only, following
    /// nobody).
    pub fn configured(cfg: &ReplicationConfig) -> Role {
        match (&cfg.role, &cfg.leader) {
            (ReplicationRole::Standalone, _) => Role::Standalone,
            (ReplicationRole::Leader, _) => Role::Leader,
            (ReplicationRole::Follower, Some(l)) => Role::Follower(l.clone()),
            (ReplicationRole::Follower, None) => Role::Demoted,
        }
    }

    /// The name status reports.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower(_) => "follower",
            Role::Demoted => "demoted",
        }
    }
}

/// The staleness bound of a request from its `x-shinydb-max-staleness-ms` value, if any.
pub fn staleness_bound(value: Option<&[u8]>) -> Result<Option<u64>, Status> {
    let Some(v) = value else {
        return Ok(None);
    };
    std::str::from_utf8(v)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "{MAX_STALENESS_HEADER} must be a whole number of milliseconds"
            ))
        })
}

/// Why the server must stop serving and start again: the data directory is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restart {
    /// Seed from the leader at this endpoint (the follower fell behind what it keeps, or
    /// diverged), then follow it.
    Seed {
        /// The leader.
        leader: String,
    },
}

/// The replication state of one server.
pub struct Replication {
    db: Arc<Db>,
    /// Users and keys, reloaded on a follower when the leader's log changes them.
    auth: Arc<Auth>,
    cfg: ReplicationConfig,
    tls: TlsConfig,
    data_dir: PathBuf,
    lineage: String,
    metrics: Arc<Metrics>,
    role: Mutex<Role>,
    visible: watch::Receiver<u64>,
    /// The leader side: connected followers and their positions.
    pub(crate) followers: leader::Followers,
    /// The follower side: the running loop and what it saw.
    follower: Mutex<Option<CancellationToken>>,
    pub(crate) follower_status: Arc<Mutex<follower::FollowerState>>,
    restart: watch::Sender<Option<Restart>>,
}

impl Replication {
    /// Replication for `db` as `cfg` starts it; does not start the follower loop
    /// ([`Replication::start`] does).
    pub fn new(
        db: Arc<Db>,
        auth: Arc<Auth>,
        cfg: ReplicationConfig,
        tls: TlsConfig,
        data_dir: PathBuf,
        lineage: String,
        metrics: Arc<Metrics>,
    ) -> Arc<Replication> {
        let (tx, visible) = watch::channel(db.last_seq());
        db.on_visible(Some(Box::new(move |seq| {
            tx.send_replace(seq);
        })));
        let role = Role::configured(&cfg);
        if role != Role::Standalone {
            db.keep_log_tail(tail_bytes(&cfg));
        }
        db.set_read_only(matches!(role, Role::Follower(_) | Role::Demoted));
        let (restart, _) = watch::channel(None);
        Arc::new(Replication {
            followers: leader::Followers::new(cfg.max_retained_bytes.0),
            db,
            auth,
            cfg,
            tls,
            data_dir,
            lineage,
            metrics,
            role: Mutex::new(role),
            visible,
            follower: Mutex::new(None),
            follower_status: Arc::new(Mutex::new(follower::FollowerState::default())),
            restart,
        })
    }

    /// Starts what the role needs: a leader's epoch and log hold, a follower's loop.
    pub async fn start(self: &Arc<Self>) -> Result<(), ReplicationError> {
        let role = self.role();
        self.metrics.replication_role.set(role_metric(&role));
        match role {
            Role::Leader => {
                let db = Arc::clone(&self.db);
                let name = self.name();
                let epoch = crate::state::blocking_engine(move || epoch::ensure(&db, &name))
                    .await
                    .map_err(ReplicationError::Epoch)?;
                self.metrics.replication_epoch.set(epoch as i64);
                self.followers.hold_start(&self.db);
                leader::spawn_retention(Arc::clone(self));
            }
            Role::Follower(leader) => self.spawn_follower(leader),
            Role::Standalone | Role::Demoted => {}
        }
        Ok(())
    }

    /// The role now.
    pub fn role(&self) -> Role {
        self.role.lock().clone()
    }

    /// The configuration.
    pub fn config(&self) -> &ReplicationConfig {
        &self.cfg
    }

    /// The TLS configuration (a follower's client certificate and trusted CA).
    pub fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    /// The data directory's lineage.
    pub fn lineage(&self) -> &str {
        &self.lineage
    }

    /// The engine.
    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The name this server goes by: `replication.name`, else the host name.
    pub fn name(&self) -> String {
        self.cfg.name.clone().unwrap_or_else(|| {
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        })
    }

    /// The newest epoch in the data.
    pub fn epoch(&self) -> Result<u64, ReplicationError> {
        epoch::current(&self.db).map_err(ReplicationError::Epoch)
    }

    /// Users and API keys.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// A receiver of the engine's visible sequence number.
    pub fn visible(&self) -> watch::Receiver<u64> {
        self.visible.clone()
    }

    /// Resolves when the server must stop and start again, with why.
    pub fn restart_requested(&self) -> watch::Receiver<Option<Restart>> {
        self.restart.subscribe()
    }

    /// Asks the server to stop serving and start again.
    pub(crate) fn request_restart(&self, why: Restart) {
        self.restart.send_replace(Some(why));
    }

    /// `Ok` when this server takes writes; otherwise the error a client gets: the leader's
    /// endpoint (also in the `x-shinydb-leader` header) for a follower.
    pub fn check_writable(&self) -> Result<(), Status> {
        match &*self.role.lock() {
            Role::Standalone | Role::Leader => Ok(()),
            Role::Follower(leader) => {
                let mut s = Status::failed_precondition(format!(
                    "this server is a read-only follower of {leader}: send writes to the leader"
                ));
                if let Ok(v) = MetadataValue::try_from(leader.as_str()) {
                    s.metadata_mut().insert(LEADER_HEADER, v);
                }
                Err(s)
            }
            Role::Demoted => Err(Status::unavailable(
                "this server was demoted and follows no leader yet: retry against the new leader",
            )),
        }
    }

    /// How stale this server's data may be, in milliseconds (`None`: it leads or stands
    /// alone, so it is current). A follower that has every batch its leader announced is as
    /// stale as the leader's last message; one that lacks some, as old as its newest batch
    /// (by the leader's clock); one that never heard from a leader, `u64::MAX`.
    pub fn staleness_ms(&self) -> Option<u64> {
        if matches!(*self.role.lock(), Role::Standalone | Role::Leader) {
            return None;
        }
        let st = self.follower_status.lock();
        let fresh_at = if self.db.last_seq() >= st.leader_seq {
            u64::try_from(st.leader_time_ms).unwrap_or(0)
        } else {
            st.applied_commit_ms
        };
        if fresh_at == 0 {
            return Some(u64::MAX);
        }
        let now = now_ms();
        Some(now.saturating_sub(fresh_at))
    }

    /// `Ok` unless the request bounds its staleness (`x-shinydb-max-staleness-ms`) below how
    /// stale this follower may be.
    pub fn check_staleness(&self, headers: &http::HeaderMap) -> Result<(), Status> {
        match staleness_bound(
            headers
                .get(MAX_STALENESS_HEADER)
                .map(http::HeaderValue::as_bytes),
        )? {
            Some(bound) => self.check_staleness_bound(bound),
            None => Ok(()),
        }
    }

    /// `Ok` unless this follower may be more than `bound` milliseconds behind its leader; the
    /// refusal names the leader (also in the `x-shinydb-leader` header).
    pub fn check_staleness_bound(&self, bound: u64) -> Result<(), Status> {
        match self.staleness_ms() {
            Some(stale) if stale > bound => {
                let behind = if stale == u64::MAX {
                    "has not heard from its leader".to_string()
                } else {
                    format!("may be {stale} ms behind its leader")
                };
                let mut s = Status::failed_precondition(format!(
                    "this follower {behind}; the request accepts at most {bound} ms \
                     ({MAX_STALENESS_HEADER}): read from the leader or a fresher follower"
                ));
                if let Role::Follower(l) = &*self.role.lock()
                    && let Ok(v) = MetadataValue::try_from(l.as_str())
                {
                    s.metadata_mut().insert(LEADER_HEADER, v);
                }
                Err(s)
            }
            _ => Ok(()),
        }
    }

    /// Waits until `sync_replicas` followers have batch `seq` durably (on a leader with
    /// synchronous followers); with too few connected, `preferred` returns at once.
    pub async fn wait_replicated(&self, seq: u64) -> Result<(), Status> {
        if self.cfg.sync_replicas == 0 || *self.role.lock() != Role::Leader {
            return Ok(());
        }
        let wait = self.followers.wait_durable(
            seq,
            self.cfg.sync_replicas,
            self.cfg.sync_durability,
            &self.metrics,
        );
        let Some(until) = crate::state::request_deadline() else {
            return wait.await;
        };
        tokio::time::timeout_at(until, wait)
            .await
            .unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(format!(
                    "written on this leader but not acknowledged: fewer than {} follower(s) \
                 (replication.sync_replicas, sync_durability: required) had it durably within \
                 the request's deadline, {} connected; the write stays on the leader and \
                 reaches followers when they connect",
                    self.cfg.sync_replicas,
                    self.followers.count()
                )))
            })
    }

    /// Makes this server the leader of a new epoch: stops following, writes the epoch record,
    /// takes writes.
    pub async fn promote(self: &Arc<Self>) -> Result<(u64, u64), ReplicationError> {
        if *self.role.lock() == Role::Leader {
            return Err(ReplicationError::AlreadyLeader);
        }
        self.stop_follower();
        self.db.keep_log_tail(tail_bytes(&self.cfg));
        self.db.set_read_only(false);
        let db = Arc::clone(&self.db);
        let name = self.name();
        let begun = crate::state::blocking_engine(move || epoch::begin(&db, &name)).await;
        let (epoch, start) = match begun {
            Ok(v) => v,
            Err(e) => {
                self.db.set_read_only(true);
                return Err(ReplicationError::Epoch(e));
            }
        };
        *self.role.lock() = Role::Leader;
        self.followers.hold_start(&self.db);
        leader::spawn_retention(Arc::clone(self));
        self.metrics
            .replication_role
            .set(role_metric(&Role::Leader));
        self.metrics.replication_epoch.set(epoch as i64);
        info!(epoch, start_seq = start, "promoted: this server leads");
        self.save_role(&Role::Leader);
        Ok((epoch, start))
    }

    /// Makes this leader read-only; its followers' streams end.
    pub fn demote(&self) -> Result<u64, ReplicationError> {
        let mut role = self.role.lock();
        if *role != Role::Leader {
            return Err(ReplicationError::NotLeader(role.name()));
        }
        self.db.set_read_only(true);
        *role = Role::Demoted;
        drop(role);
        self.followers.disconnect_all();
        self.metrics
            .replication_role
            .set(role_metric(&Role::Demoted));
        let last = self.db.last_seq();
        warn!(last_seq = last, "demoted: this server takes no writes");
        self.save_role(&Role::Demoted);
        Ok(last)
    }

    /// Follows the leader at `endpoint` from now on.
    pub fn follow(self: &Arc<Self>, endpoint: &str) -> Result<(), ReplicationError> {
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(ReplicationError::BadEndpoint(endpoint.to_string()));
        }
        {
            let mut role = self.role.lock();
            self.db.set_read_only(true);
            if *role == Role::Leader {
                self.followers.disconnect_all();
            }
            *role = Role::Follower(endpoint.to_string());
        }
        self.db.keep_log_tail(tail_bytes(&self.cfg));
        self.stop_follower();
        self.spawn_follower(endpoint.to_string());
        self.metrics
            .replication_role
            .set(role_metric(&Role::Follower(String::new())));
        self.save_role(&Role::Follower(endpoint.to_string()));
        Ok(())
    }

    /// Keeps a role given at run time across restarts ([`role_file`]), with the role the
    /// configuration gives (this server's configuration, unless a saved role overrode it at
    /// start: then the one saved with that). A failure is logged: the role holds until the
    /// restart, and the next change tries again.
    fn save_role(&self, role: &Role) {
        let configured = match role_file::load(&self.data_dir) {
            Ok(Some(saved)) => saved.configured,
            _ => Role::configured(&self.cfg),
        };
        let saved = role_file::Saved {
            role: role.clone(),
            configured,
        };
        if let Err(e) = role_file::save(&self.data_dir, &saved) {
            error!(error = %e, role = role.name(), "the new role could not be saved: a restart \
                   takes the configured one");
        }
    }

    /// Stops the follower loop, if one runs (at shutdown, or before a role change).
    pub fn stop_follower(&self) {
        if let Some(t) = self.follower.lock().take() {
            t.cancel();
        }
    }

    fn spawn_follower(self: &Arc<Self>, leader: String) {
        let stop = CancellationToken::new();
        *self.follower.lock() = Some(stop.clone());
        let me = Arc::clone(self);
        tokio::spawn(async move { follower::run(me, leader, stop).await });
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn now_ms() -> u64 {
    u64::try_from(crate::auth::now_ms()).unwrap_or(0)
}

/// The in-memory log tail's budget, in bytes.
fn tail_bytes(cfg: &ReplicationConfig) -> usize {
    usize::try_from(cfg.tail_bytes.0).unwrap_or(usize::MAX)
}

/// The `shinydb_replication_role` gauge's value: 0 standalone, 1 leader, 2 follower,
/// 3 demoted.
fn role_metric(r: &Role) -> i64 {
    match r {
        Role::Standalone => 0,
        Role::Leader => 1,
        Role::Follower(_) => 2,
        Role::Demoted => 3,
    }
}
