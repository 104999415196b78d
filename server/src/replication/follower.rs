//! The follower's loop: connect to the leader, open a stream at this server's position,
//! apply the batches it sends (one sync per message) and acknowledge them; reconnect when the
//! leader goes quiet. When the leader says the follower must seed (it fell behind what the
//! leader keeps, or has another lineage) or that its tail diverged, the loop sets the tail
//! aside in `rollback/`, marks the data directory for seeding and asks the server to start
//! again, which seeds before it opens the engine.

use std::{path::Path, sync::Arc, time::Duration};

use futures::FutureExt as _;
use shinydb_engine::{Db, LogRecord};
use shinydb_proto::v1::{
    FollowerMessage, LeaderMessage, StreamAck, StreamStart, follower_message,
    replication_client::ReplicationClient,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{
    Status,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};
use tracing::{info, warn};

use super::{Replication, ReplicationError, Restart, leader::ACTION_HEADER};
use crate::{
    auth::store::{API_KEYS, SYSTEM_SPACE, USERS},
    config::{ReplicationConfig, TlsConfig},
};

/// The file that marks a data directory to be seeded from the leader at the next start.
pub const SEED_MARKER: &str = "seed-needed";
/// Where diverged log tails are kept for people to inspect.
pub const ROLLBACK_DIR: &str = "rollback";

/// At most this much of the leader's log (wire form) goes into one apply: messages that
/// arrived while the previous ones were applied are taken together, up to here.
const MAX_APPLY_BYTES: usize = 16 << 20;

/// What the follower loop saw last.
#[derive(Debug, Clone, Default)]
pub struct FollowerState {
    /// `connecting`, `streaming` or `error`.
    pub state: &'static str,
    /// The last failure (cleared by the next message).
    pub last_error: String,
    /// The newest batch the leader said it has.
    pub leader_seq: u64,
    /// The leader's clock at its last message, ms since the epoch.
    pub leader_time_ms: i64,
    /// The commit time of the last batch applied here.
    pub applied_commit_ms: u64,
}

/// How one stream ended.
enum Ended {
    /// The leader went quiet or closed it: connect again.
    Reconnect,
    /// The data must be seeded again.
    Seed,
    /// The data after this batch is not the leader's.
    Diverged(u64),
    /// Stopped (a role change or shutdown).
    Stopped,
}

/// A channel to `endpoint` as the replication configuration says (CA, domain, and this
/// server's certificate as the client's, for leaders that require one).
pub async fn connect(
    cfg: &ReplicationConfig,
    tls: &TlsConfig,
    endpoint: &str,
) -> Result<Channel, ReplicationError> {
    let err = |message: String| ReplicationError::Connect {
        endpoint: endpoint.to_string(),
        message,
    };
    let mut ep = Endpoint::from_shared(endpoint.to_string())
        .map_err(|e| err(e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10));
    if endpoint.starts_with("https://") {
        let mut t = ClientTlsConfig::new();
        if let Some(ca) = cfg.ca_file.as_ref().or(tls.client_ca.as_ref()) {
            let pem = std::fs::read(ca).map_err(|e| err(format!("{}: {e}", ca.display())))?;
            t = t.ca_certificate(Certificate::from_pem(pem));
        } else {
            t = t.with_webpki_roots();
        }
        if let Some(d) = &cfg.tls_domain {
            t = t.domain_name(d.clone());
        }
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            let c = std::fs::read(cert).map_err(|e| err(format!("{}: {e}", cert.display())))?;
            let k = std::fs::read(key).map_err(|e| err(format!("{}: {e}", key.display())))?;
            t = t.identity(Identity::from_pem(c, k));
        }
        ep = ep.tls_config(t).map_err(|e| err(e.to_string()))?;
    }
    ep.connect().await.map_err(|e| err(format!("{e:?}")))
}

/// The credential in `replication.credential_file`, trimmed (`None`: no file configured).
fn credential(cfg: &ReplicationConfig) -> Result<Option<String>, ReplicationError> {
    let Some(path) = &cfg.credential_file else {
        return Ok(None);
    };
    let key = std::fs::read_to_string(path).map_err(|source| ReplicationError::Credential {
        path: path.clone(),
        source,
    })?;
    Ok(Some(key.trim().to_string()))
}

/// The `authorization` value from `replication.credential_file` (re-read every time).
pub fn bearer(cfg: &ReplicationConfig) -> Result<Option<String>, ReplicationError> {
    Ok(credential(cfg)?.map(|key| format!("Bearer {key}")))
}

/// The replica set's shared peer key from `replication.credential_file`, when the file holds
/// one (a secret that is not a ShinyDB token). A user's API key is checked against the users
/// instead, so that revoking it works.
pub fn peer_key(cfg: &ReplicationConfig) -> Result<Option<String>, ReplicationError> {
    Ok(credential(cfg)?.filter(|key| crate::auth::token::Token::parse(key).is_none()))
}

/// Attaches the credential to a request.
pub fn authorize<T>(req: &mut tonic::Request<T>, bearer: Option<&str>) {
    if let Some(b) = bearer
        && let Ok(v) = b.parse()
    {
        req.metadata_mut().insert(shinydb_proto::AUTHORIZATION, v);
    }
}

/// What a refusal asks for, from its `x-shinydb-replication` header.
fn action(s: &Status) -> Option<Ended> {
    let a = s.metadata().get(ACTION_HEADER)?.to_str().ok()?;
    if a == "seed" {
        return Some(Ended::Seed);
    }
    a.strip_prefix("diverged:")
        .and_then(|n| n.parse().ok())
        .map(Ended::Diverged)
}

/// Follows `leader` until `stop`.
pub async fn run(r: Arc<Replication>, leader: String, stop: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    loop {
        r.follower_status.lock().state = "connecting";
        let ended = tokio::select! {
            () = stop.cancelled() => Ended::Stopped,
            e = stream_once(&r, &leader, &stop) => match e {
                Ok(e) => e,
                Err(e) => {
                    warn!(leader, error = %e, "following the leader failed; retrying");
                    let mut st = r.follower_status.lock();
                    st.state = "error";
                    st.last_error = e.to_string();
                    Ended::Reconnect
                }
            },
        };
        match ended {
            Ended::Stopped => return,
            Ended::Reconnect => {}
            Ended::Seed => {
                mark_for_seed(&r, &leader, None).await;
                return;
            }
            Ended::Diverged(end) => {
                mark_for_seed(&r, &leader, Some(end)).await;
                return;
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Sets a diverged tail aside, marks the data directory and asks for a restart (which seeds).
async fn mark_for_seed(r: &Arc<Replication>, leader: &str, diverged_after: Option<u64>) {
    if let Some(end) = diverged_after {
        let r2 = Arc::clone(r);
        match tokio::task::spawn_blocking(move || save_rollback(&r2, end)).await {
            Ok(Ok(Some(path))) => {
                r.metrics().replication_rollbacks.inc();
                warn!(path = %path.display(), after = end,
                    "this server's log diverged from the leader's: its tail is set aside");
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => warn!(error = %e, "setting the diverged tail aside failed"),
            Err(e) => warn!(error = %e, "setting the diverged tail aside failed"),
        }
    }
    let marker = r.data_dir().join(SEED_MARKER);
    if let Err(e) = std::fs::write(&marker, b"") {
        let mut st = r.follower_status.lock();
        st.state = "error";
        st.last_error = format!("marking {} for seeding: {e}", marker.display());
        return;
    }
    info!("this server seeds from its leader: restarting its engine");
    r.request_restart(Restart::Seed {
        leader: leader.to_string(),
    });
}

/// Writes the batches after `end` to `rollback/<epoch>-<from>-<to>.log` (their wire form,
/// readable with `LogRecord::all_from_bytes`). Returns the file, if there was a tail.
fn save_rollback(
    r: &Replication,
    end: u64,
) -> Result<Option<std::path::PathBuf>, ReplicationError> {
    let db = r.db();
    let mut records = Vec::new();
    let mut pos = end;
    loop {
        let batch = match db.read_log(pos, 4096) {
            Ok(b) => b,
            // What the log no longer holds is in the tree: it cannot be told apart any more.
            Err(shinydb_engine::Error::LogTruncated { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        let Some(last) = batch.last().map(LogRecord::seq) else {
            break;
        };
        pos = last;
        records.extend(batch);
    }
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Ok(None);
    };
    let dir = r.data_dir().join(ROLLBACK_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| ReplicationError::File {
        what: "creating",
        path: dir.clone(),
        source,
    })?;
    let epoch = r.epoch().unwrap_or(0);
    let path = dir.join(format!(
        "epoch{epoch}-{:020}-{:020}.log",
        first.seq(),
        last.seq()
    ));
    let mut bytes = Vec::new();
    for rec in &records {
        rec.encode_into(&mut bytes);
    }
    std::fs::write(&path, bytes).map_err(|source| ReplicationError::File {
        what: "writing",
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

async fn stream_once(
    r: &Arc<Replication>,
    leader: &str,
    stop: &CancellationToken,
) -> Result<Ended, ReplicationError> {
    let channel = connect(r.config(), r.tls(), leader).await?;
    let bearer = bearer(r.config())?;
    let epoch = r.epoch()?;
    let (tx, rx) = mpsc::channel::<FollowerMessage>(16);
    let start = StreamStart {
        name: r.name(),
        lineage: r.lineage().to_string(),
        epoch,
        last_seq: r.db().last_seq(),
    };
    let _ = tx
        .send(FollowerMessage {
            kind: Some(follower_message::Kind::Start(start)),
        })
        .await;
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    authorize(&mut req, bearer.as_deref());
    let refused = |status: Status| match action(&status) {
        Some(e) => Ok(e),
        None => Err(ReplicationError::Leader {
            endpoint: leader.to_string(),
            status,
        }),
    };
    let mut inbound = match ReplicationClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .stream(req)
        .await
    {
        Ok(resp) => resp.into_inner(),
        Err(s) => return refused(s),
    };
    let timeout = Duration::from_millis(r.config().leader_timeout_ms);
    loop {
        let msg = tokio::select! {
            () = stop.cancelled() => return Ok(Ended::Stopped),
            m = tokio::time::timeout(timeout, inbound.message()) => m,
        };
        let msg = match msg {
            Err(_) => {
                warn!(
                    leader,
                    timeout_ms = timeout.as_millis() as u64,
                    "no message from the leader: reconnecting"
                );
                return Ok(Ended::Reconnect);
            }
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => return Ok(Ended::Reconnect),
            Ok(Err(s)) => return refused(s),
        };
        check_epoch(&msg, epoch, leader)?;
        // Messages that arrived while the last ones were applied go in with this one: one
        // sync and one acknowledgement for all, so a group of the leader's writes shares the
        // follower's fsync too, however many messages it came in.
        let mut records = msg.records.to_vec();
        let mut msg = msg;
        let mut ended = None;
        while records.len() < MAX_APPLY_BYTES {
            match inbound.message().now_or_never() {
                None => break,
                Some(Ok(Some(next))) => {
                    check_epoch(&next, epoch, leader)?;
                    records.extend_from_slice(&next.records);
                    msg = next;
                }
                Some(Ok(None)) => {
                    ended = Some(Ok(Ended::Reconnect));
                    break;
                }
                Some(Err(s)) => {
                    ended = Some(refused(s));
                    break;
                }
            }
        }
        let mut applied_commit = None;
        if !records.is_empty() {
            let db = Arc::clone(r.db());
            let auth = Arc::clone(r.auth());
            let applied = crate::state::blocking_engine(move || {
                let records = LogRecord::all_from_bytes(&records)?;
                let commit = records.last().map(LogRecord::commit_time_ms);
                let last = db.apply_logs(&records)?;
                if changes_auth(&db, &records)? {
                    auth.reload()?;
                }
                Ok((last, commit))
            })
            .await?;
            applied_commit = applied.1;
            let ack = FollowerMessage {
                kind: Some(follower_message::Kind::Ack(StreamAck {
                    durable_seq: applied.0,
                    applied_seq: applied.0,
                })),
            };
            if tx.send(ack).await.is_err() {
                return Ok(Ended::Reconnect);
            }
        }
        let mut st = r.follower_status.lock();
        st.state = "streaming";
        st.last_error.clear();
        st.leader_seq = msg.last_seq;
        st.leader_time_ms = msg.time_ms;
        if let Some(c) = applied_commit {
            st.applied_commit_ms = c;
        }
        let lag = lag_seconds(&st, r.db().last_seq());
        drop(st);
        r.metrics().replication_lag.set(lag);
        if let Some(end) = ended {
            return end;
        }
    }
}

/// Refuses a message from an older epoch than this server's: its sender no longer leads.
fn check_epoch(msg: &LeaderMessage, epoch: u64, leader: &str) -> Result<(), ReplicationError> {
    if msg.epoch < epoch {
        return Err(ReplicationError::Leader {
            endpoint: leader.to_string(),
            status: Status::failed_precondition(format!(
                "it is at epoch {}, older than this server's {epoch}: it no longer leads",
                msg.epoch
            )),
        });
    }
    Ok(())
}

/// Whether applied batches wrote users or API keys, which the server caches.
fn changes_auth(db: &Db, records: &[LogRecord]) -> Result<bool, shinydb_engine::Error> {
    let snap = db.snapshot();
    let ids = [USERS, API_KEYS]
        .into_iter()
        .map(|store| snap.store(SYSTEM_SPACE, store).map(|s| s.id))
        .collect::<Result<Vec<u32>, _>>()?;
    Ok(records
        .iter()
        .any(|r| ids.iter().any(|id| r.writes_store(*id))))
}

/// How far behind the leader a follower is: 0 when it has every batch the leader announced,
/// else the age of its newest batch by the leader's clock.
pub fn lag_seconds(st: &FollowerState, applied: u64) -> f64 {
    if applied >= st.leader_seq {
        return 0.0;
    }
    let leader_ms = u64::try_from(st.leader_time_ms).unwrap_or(0);
    leader_ms.saturating_sub(st.applied_commit_ms) as f64 / 1000.0
}

/// Whether `dir` must be seeded before the engine opens: it holds no data yet, or a follower
/// marked it.
pub fn needs_seed(dir: &Path) -> bool {
    !dir.join("data.db").exists() || dir.join(SEED_MARKER).exists()
}
