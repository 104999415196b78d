//! Which server an operation goes to: reads to a follower when the client has some, writes
//! to the leader, the leader learnt from a follower that refuses a write and names it.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use parking_lot::{Mutex, RwLock};

use crate::{
    error::{Error, Result},
    options::Options,
    transport::Pool,
};

/// Where an operation may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The server the client was built for, and only it (replication control, health, the
    /// server's own statistics).
    Home,
    /// The leader: writes, and reads that must see every acknowledged write.
    Leader,
    /// A follower if the client reads from followers, else the leader.
    Read,
}

/// Redirections one attempt follows at most (a hint, then the hint's hint, ...).
const MAX_HOPS: usize = 4;

/// The servers a client talks to.
pub(crate) struct Members {
    options: Options,
    /// The server the client was built for.
    home: Arc<Pool>,
    /// Where writes go now.
    leader: RwLock<Arc<Pool>>,
    /// Pools without a staleness bound, by endpoint (the home's, and those learnt).
    by_endpoint: Mutex<HashMap<String, Arc<Pool>>>,
    /// Followers reads go to, round-robin, each request carrying the staleness bound.
    followers: Vec<Arc<Pool>>,
    next_follower: AtomicUsize,
}

impl Members {
    /// The pools `options` asks for (connected lazily).
    pub(crate) fn new(options: Options) -> Result<Members> {
        let home = Arc::new(Pool::new(&options, &options.endpoint, None)?);
        let followers = options
            .followers
            .iter()
            .map(|e| Pool::new(&options, e, options.max_staleness).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let by_endpoint = HashMap::from([(options.endpoint.clone(), Arc::clone(&home))]);
        Ok(Members {
            leader: RwLock::new(Arc::clone(&home)),
            home,
            by_endpoint: Mutex::new(by_endpoint),
            followers,
            next_follower: AtomicUsize::new(0),
            options,
        })
    }

    /// The server the client was built for.
    pub(crate) fn home(&self) -> &Arc<Pool> {
        &self.home
    }

    /// The endpoint writes go to now.
    pub(crate) fn leader_endpoint(&self) -> String {
        self.leader.read().endpoint.clone()
    }

    /// Every pool, for ending their sessions.
    pub(crate) fn all(&self) -> Vec<Arc<Pool>> {
        let mut all: Vec<Arc<Pool>> = self.by_endpoint.lock().values().cloned().collect();
        all.extend(self.followers.iter().cloned());
        all
    }

    /// The unbounded pool of `endpoint`, made on first use.
    fn member(&self, endpoint: &str) -> Result<Arc<Pool>> {
        let mut m = self.by_endpoint.lock();
        if let Some(p) = m.get(endpoint) {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(Pool::new(&self.options, endpoint, None)?);
        m.insert(endpoint.to_string(), Arc::clone(&p));
        Ok(p)
    }

    fn next_follower(&self) -> Option<Arc<Pool>> {
        if self.followers.is_empty() {
            return None;
        }
        let i = self.next_follower.fetch_add(1, Ordering::Relaxed) % self.followers.len();
        self.followers.get(i).cloned()
    }

    /// Runs one attempt of an operation on the server `route` picks:
    /// - `Read`: a follower; if it refuses (too stale) or cannot be reached, the leader.
    /// - `Leader`: the leader; a follower's refusal naming another leader is followed (and
    ///   remembered); when the leader cannot be reached and the operation certainly was not
    ///   applied, the followers are asked in turn (each refuses naming its leader, or leads
    ///   now and takes it).
    /// - `Home`: the server the client was built for.
    pub(crate) async fn run<T, F, Fut>(&self, route: Route, attempt: F) -> Result<T>
    where
        F: Fn(Arc<Pool>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        match route {
            Route::Home => return attempt(Arc::clone(&self.home)).await,
            Route::Read => {
                if let Some(f) = self.next_follower() {
                    match attempt(Arc::clone(&f)).await {
                        Err(e) if e.leader().is_some() || e.is_transient() => {
                            tracing::debug!(follower = %f.endpoint, error = %e,
                                "the follower cannot answer: reading from the leader");
                        }
                        r => return r,
                    }
                }
            }
            Route::Leader => {}
        }
        let mut pool = Arc::clone(&self.leader.read());
        let mut asked = self.options.followers.iter();
        let follow = self.options.follow_leader;
        for _ in 0..MAX_HOPS {
            let e = match attempt(Arc::clone(&pool)).await {
                Ok(v) => {
                    self.remember_leader(&pool, route);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let next = match e.leader() {
                Some(l) if follow && l != pool.endpoint => l.to_string(),
                None if follow
                    && route == Route::Leader
                    && e.is_transient()
                    && e.certainly_not_applied() =>
                {
                    match asked.find(|f| **f != pool.endpoint) {
                        Some(f) => f.clone(),
                        None => return Err(e),
                    }
                }
                _ => return Err(e),
            };
            tracing::debug!(from = %pool.endpoint, to = %next, error = %e, "looking for the leader");
            pool = self.member(&next)?;
        }
        Err(Error::Invalid(format!(
            "no leader found after {MAX_HOPS} redirections (last tried {})",
            pool.endpoint
        )))
    }

    /// After a success on `pool` for a write: it leads.
    fn remember_leader(&self, pool: &Arc<Pool>, route: Route) {
        if route != Route::Leader {
            return;
        }
        let mut l = self.leader.write();
        if !Arc::ptr_eq(&l, pool) {
            tracing::info!(from = %l.endpoint, to = %pool.endpoint, "writes now go to a new leader");
            *l = Arc::clone(pool);
        }
    }
}
