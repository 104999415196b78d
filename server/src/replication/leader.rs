//! The leader's side: a follower's stream, the followers' positions, the log held for them,
//! and synchronous acknowledgement.
//!
//! Each stream has a sender task that reads the log after the follower's position (from the
//! engine's in-memory tail when the follower is near it) and ships it in messages of at most
//! [`MAX_MESSAGE_BYTES`], or a heartbeat when there is nothing new; a slow follower only fills
//! its own stream's buffer. Acknowledgements move the follower's hold on the log
//! ([`shinydb_engine::Db::hold_log`]) and wake writes waiting for `sync_replicas`.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use shinydb_engine::Db;
use shinydb_proto::v1::{FollowerMessage, LeaderMessage, StreamStart, follower_message};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming, metadata::MetadataValue};
use tracing::{info, warn};

use super::{Replication, Role, epoch, now_ms};
use crate::{config::SyncDurability, metrics::Metrics};

/// The most log bytes in one message.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Batches read from the engine per message at most.
const BATCHES_PER_READ: usize = 4096;
/// The header a refusal carries to tell a follower what to do: `seed`, `diverged:<seq>`
/// (its data after that batch is not the leader's) or `newer-epoch`.
pub const ACTION_HEADER: &str = "x-shinydb-replication";
/// The hold that keeps the log from a leader's start until its followers say where they are.
const START_HOLD: &str = "replicas-since-start";

/// One connected follower.
struct Connected {
    name: String,
    addr: String,
    durable: u64,
    applied: u64,
    /// Batches shipped and not yet acknowledged: (last seq of the message, its commit time,
    /// its bytes).
    in_flight: VecDeque<(u64, u64, u64)>,
    stop: CancellationToken,
}

/// A follower as status shows it.
#[derive(Debug, Clone)]
pub struct FollowerView {
    /// Its name.
    pub name: String,
    /// Its address.
    pub addr: String,
    /// What it acknowledged.
    pub durable: u64,
    /// What it applied.
    pub applied: u64,
    /// The commit time of the oldest batch it has not acknowledged (0: none).
    pub oldest_unacked_ms: u64,
    /// Bytes shipped and not acknowledged.
    pub unacked_bytes: u64,
}

/// The followers connected to this leader.
pub struct Followers {
    connected: Mutex<BTreeMap<u64, Connected>>,
    next_id: AtomicU64,
    acks: watch::Sender<u64>,
    max_retained: u64,
}

impl Followers {
    /// No followers yet; the log held for them is capped at `max_retained` bytes.
    pub fn new(max_retained: u64) -> Followers {
        Followers {
            connected: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            acks: watch::channel(0).0,
            max_retained,
        }
    }

    /// Holds the whole log from now until followers report where they are (or the cap lets
    /// it go).
    pub fn hold_start(&self, db: &Db) {
        db.hold_log(
            START_HOLD,
            Some(
                db.first_log_seq()
                    .ok()
                    .flatten()
                    .unwrap_or(1)
                    .saturating_sub(1),
            ),
        );
    }

    /// Every connected follower.
    pub fn views(&self) -> Vec<FollowerView> {
        self.connected
            .lock()
            .values()
            .map(|c| FollowerView {
                name: c.name.clone(),
                addr: c.addr.clone(),
                durable: c.durable,
                applied: c.applied,
                oldest_unacked_ms: c.in_flight.front().map_or(0, |f| f.1),
                unacked_bytes: c.in_flight.iter().map(|f| f.2).sum(),
            })
            .collect()
    }

    /// How many followers are connected.
    pub fn count(&self) -> usize {
        self.connected.lock().len()
    }

    /// The newest batch durable on at least `k` followers (and so, with the leader, on
    /// `k + 1` servers).
    pub fn commit_seq(&self, k: u32, leader_seq: u64) -> u64 {
        if k == 0 {
            return leader_seq;
        }
        let mut durable: Vec<u64> = self.connected.lock().values().map(|c| c.durable).collect();
        durable.sort_unstable_by(|a, b| b.cmp(a));
        durable
            .get(usize::try_from(k).unwrap_or(usize::MAX) - 1)
            .copied()
            .unwrap_or(0)
            .min(leader_seq)
    }

    /// Ends every follower's stream (a demotion).
    pub fn disconnect_all(&self) {
        for c in self.connected.lock().values() {
            c.stop.cancel();
        }
    }

    /// Waits until `k` followers have batch `seq` durably.
    pub async fn wait_durable(
        &self,
        seq: u64,
        k: u32,
        durability: SyncDurability,
        metrics: &Metrics,
    ) -> Result<(), Status> {
        let mut acks = self.acks.subscribe();
        loop {
            let (have, connected) = {
                let c = self.connected.lock();
                let have = c.values().filter(|f| f.durable >= seq).count();
                (have, c.len())
            };
            let k_usize = usize::try_from(k).unwrap_or(usize::MAX);
            if have >= k_usize {
                return Ok(());
            }
            if connected < k_usize {
                metrics.replication_sync_degraded.set(1);
                if durability == SyncDurability::Preferred {
                    return Ok(());
                }
            }
            // The request's deadline ends the wait (the write stays on the leader).
            if acks.changed().await.is_err() {
                return Err(Status::unavailable("the server is shutting down"));
            }
        }
    }

    fn register(&self, name: String, addr: String, at: u64, stop: CancellationToken) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.connected.lock().insert(
            id,
            Connected {
                name,
                addr,
                durable: at,
                applied: at,
                in_flight: VecDeque::new(),
                stop,
            },
        );
        id
    }

    fn shipped(&self, id: u64, last: u64, commit_ms: u64, bytes: u64) {
        if let Some(c) = self.connected.lock().get_mut(&id) {
            c.in_flight.push_back((last, commit_ms, bytes));
        }
    }

    fn acked(&self, id: u64, durable: u64, applied: u64) -> Option<String> {
        let mut all = self.connected.lock();
        let c = all.get_mut(&id)?;
        c.durable = c.durable.max(durable);
        c.applied = c.applied.max(applied);
        while c.in_flight.front().is_some_and(|f| f.0 <= c.durable) {
            c.in_flight.pop_front();
        }
        let name = c.name.clone();
        drop(all);
        self.acks.send_modify(|n| *n += 1);
        Some(name)
    }

    fn leave(&self, id: u64) {
        self.connected.lock().remove(&id);
        self.acks.send_modify(|n| *n += 1);
    }
}

/// The hold on the log for the follower named `name`.
fn hold_name(name: &str) -> String {
    format!("follower:{name}")
}

/// A refusal that tells the follower what to do (`seed`, `diverged:<seq>`, `newer-epoch`).
fn refusal(message: String, action: &str) -> Status {
    let mut s = Status::failed_precondition(message);
    if let Ok(v) = MetadataValue::try_from(action) {
        s.metadata_mut().insert(ACTION_HEADER, v);
    }
    s
}

/// Checks a follower's opening message against this leader; returns where to stream from.
pub async fn admit(r: &Arc<Replication>, start: &StreamStart) -> Result<u64, Status> {
    match r.role() {
        Role::Leader => {}
        other => {
            return Err(Status::failed_precondition(format!(
                "this server is {}, not a leader: it serves no log",
                other.name()
            )));
        }
    }
    // Another database: seeding over it would destroy it, so a person must empty it first.
    if start.lineage != r.lineage() {
        return Err(Status::failed_precondition(format!(
            "the follower's data has lineage {}, the leader's {}: it is another database; \
             empty its data directory to seed it from this leader",
            start.lineage,
            r.lineage()
        )));
    }
    let db = Arc::clone(r.db());
    let history = crate::state::blocking_engine(move || epoch::history(&db))
        .await
        .map_err(crate::error::engine_status)?;
    let mine = history.last().map_or(0, |e| e.epoch);
    if start.epoch > mine {
        // Someone was promoted after this server: it must take no more writes.
        warn!(
            follower = start.name,
            their_epoch = start.epoch,
            our_epoch = mine,
            "a follower has a newer epoch: demoting this leader"
        );
        let _ = r.demote();
        return Err(refusal(
            format!(
                "the follower has epoch {}, newer than this leader's {mine}: this server no \
                 longer leads",
                start.epoch
            ),
            "newer-epoch",
        ));
    }
    let last = r.db().last_seq();
    let diverged_after = match epoch::end_of(&history, start.epoch) {
        Some(end) if start.last_seq > end => Some(end),
        _ if start.last_seq > last => Some(last),
        _ => None,
    };
    if let Some(end) = diverged_after {
        return Err(refusal(
            format!(
                "the follower's log (epoch {}, up to batch {}) left this leader's history after \
                 batch {end}: its later batches were never acknowledged by this epoch and are \
                 set aside before it seeds again",
                start.epoch, start.last_seq
            ),
            &format!("diverged:{end}"),
        ));
    }
    if start.last_seq < last {
        let first = r
            .db()
            .first_log_seq()
            .map_err(crate::error::engine_status)?;
        if first.is_none_or(|f| f > start.last_seq + 1) {
            return Err(refusal(
                format!(
                    "this leader no longer holds the log after batch {} (it keeps at most \
                     replication.max_retained_bytes): the follower must seed again",
                    start.last_seq
                ),
                "seed",
            ));
        }
    }
    Ok(start.last_seq)
}

/// Serves one admitted follower: a sender task shipping the log into `tx`, and this task
/// reading its acknowledgements from `inbound`, until either side ends.
pub fn serve(
    r: Arc<Replication>,
    start: StreamStart,
    addr: String,
    from: u64,
    mut inbound: Streaming<FollowerMessage>,
    tx: mpsc::Sender<Result<LeaderMessage, Status>>,
) {
    let stop = CancellationToken::new();
    let id = r
        .followers
        .register(start.name.clone(), addr.clone(), from, stop.clone());
    r.db().hold_log(&hold_name(&start.name), Some(from));
    r.metrics()
        .replication_followers
        .set(i64::try_from(r.followers.count()).unwrap_or(0));
    info!(follower = start.name, %addr, from, "follower connected");
    let sender = tokio::spawn(ship(Arc::clone(&r), id, from, tx, stop.clone()));
    tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                () = stop.cancelled() => break,
                m = inbound.message() => m,
            };
            match msg {
                Ok(Some(FollowerMessage {
                    kind: Some(follower_message::Kind::Ack(a)),
                })) => {
                    if let Some(name) = r.followers.acked(id, a.durable_seq, a.applied_seq) {
                        r.db().hold_log(&hold_name(&name), Some(a.durable_seq));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    info!(follower = start.name, error = %e, "follower stream ended");
                    break;
                }
            }
        }
        stop.cancel();
        let _ = sender.await;
        r.followers.leave(id);
        r.metrics()
            .replication_followers
            .set(i64::try_from(r.followers.count()).unwrap_or(0));
        info!(follower = start.name, %addr, "follower disconnected");
    });
}

/// Ships the log after `from` to one follower until `stop`.
async fn ship(
    r: Arc<Replication>,
    id: u64,
    mut pos: u64,
    tx: mpsc::Sender<Result<LeaderMessage, Status>>,
    stop: CancellationToken,
) {
    let heartbeat = Duration::from_millis(r.config().heartbeat_ms);
    let mut visible = r.visible();
    let epoch = r.epoch().unwrap_or(0);
    let k = r.config().sync_replicas;
    let mut last_sent = Instant::now();
    loop {
        if stop.is_cancelled() {
            return;
        }
        let db = Arc::clone(r.db());
        let read = crate::state::blocking_engine(move || db.read_log(pos, BATCHES_PER_READ)).await;
        let records = match read {
            Ok(v) => v,
            Err(e) => {
                let _ = tx
                    .send(Err(refusal(
                        format!("reading the log after batch {pos}: {e}"),
                        "seed",
                    )))
                    .await;
                return;
            }
        };
        let leader_seq = r.db().last_seq();
        let now_ms = now_ms();
        if records.is_empty() {
            if last_sent.elapsed() >= heartbeat {
                let m = message(epoch, Vec::new(), &r, k, leader_seq, now_ms);
                if tx.send(Ok(m)).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
            let wait = heartbeat.saturating_sub(last_sent.elapsed());
            tokio::select! {
                () = stop.cancelled() => return,
                _ = visible.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let mut buf = Vec::new();
        let mut batch_last = pos;
        let mut commit_ms = 0;
        for rec in &records {
            rec.encode_into(&mut buf);
            batch_last = rec.seq();
            commit_ms = rec.commit_time_ms();
            if buf.len() >= MAX_MESSAGE_BYTES {
                let bytes = std::mem::take(&mut buf);
                if !send(
                    &r, &tx, id, epoch, bytes, batch_last, commit_ms, k, leader_seq,
                )
                .await
                {
                    return;
                }
            }
        }
        if !buf.is_empty()
            && !send(
                &r, &tx, id, epoch, buf, batch_last, commit_ms, k, leader_seq,
            )
            .await
        {
            return;
        }
        pos = batch_last;
        last_sent = Instant::now();
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one message's fields, named at the one call site that builds it"
)]
async fn send(
    r: &Arc<Replication>,
    tx: &mpsc::Sender<Result<LeaderMessage, Status>>,
    id: u64,
    epoch: u64,
    bytes: Vec<u8>,
    last: u64,
    commit_ms: u64,
    k: u32,
    leader_seq: u64,
) -> bool {
    let n = bytes.len() as u64;
    r.followers.shipped(id, last, commit_ms, n);
    let m = message(epoch, bytes, r, k, leader_seq, now_ms());
    if tx.send(Ok(m)).await.is_err() {
        return false;
    }
    r.metrics().replication_shipped_bytes.inc_by(n);
    true
}

fn message(
    epoch: u64,
    records: Vec<u8>,
    r: &Replication,
    k: u32,
    leader_seq: u64,
    now_ms: u64,
) -> LeaderMessage {
    LeaderMessage {
        epoch,
        records: records.into(),
        last_seq: leader_seq,
        commit_seq: r.followers.commit_seq(k, leader_seq),
        time_ms: i64::try_from(now_ms).unwrap_or(i64::MAX),
    }
}

/// Watches the log's size while this server leads: past `replication.max_retained_bytes`,
/// every follower's hold goes. Connected followers hold their position again with their next
/// acknowledgement; those that are gone seed again when they return.
pub fn spawn_retention(r: Arc<Replication>) {
    tokio::spawn(async move {
        let every = Duration::from_millis(r.config().heartbeat_ms).max(Duration::from_secs(1));
        while r.role() == Role::Leader {
            tokio::time::sleep(every).await;
            let db = Arc::clone(r.db());
            let Ok(bytes) = crate::state::blocking_engine(move || db.log_bytes()).await else {
                continue;
            };
            let connected: Vec<FollowerView> = r.followers.views();
            // Once a follower reports where it is, the hold from the start goes.
            if !connected.is_empty() {
                r.db().hold_log(START_HOLD, None);
            }
            if bytes <= r.followers.max_retained {
                r.metrics().replication_sync_degraded.set(i64::from(
                    connected.len() < usize::try_from(r.config().sync_replicas).unwrap_or(0),
                ));
                continue;
            }
            warn!(
                log_bytes = bytes,
                cap = r.followers.max_retained,
                "the log held for followers passed replication.max_retained_bytes: followers \
                 that are gone or furthest behind must seed again"
            );
            r.db().hold_log(START_HOLD, None);
            // Connected followers hold their position again with their next acknowledgement.
            r.db().release_log_holds("follower:");
            // A checkpoint lets the log go now rather than at the next flush.
            let db = Arc::clone(r.db());
            if let Err(e) = crate::state::blocking_engine(move || db.checkpoint()).await {
                warn!(error = %e, "checkpointing to trim the log failed");
            }
        }
    });
}
