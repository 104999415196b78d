//! Failed-login limits. A login reserves its attempt while it checks the limit, under one lock,
//! so a burst of concurrent guesses gets no more tries than a sequence would; a successful login
//! gives the reservation back. Failures count per (user, address) and per address, never per
//! user alone: nobody can lock a user (say `admin`) out of every address but their own. A key is
//! refused until the window that began with its first failure has passed.

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// One user from one address.
    UserAt(String, IpAddr),
    /// Every user from one address.
    Peer(IpAddr),
    /// One user when the address is unknown.
    User(String),
}

/// Entries kept at most; past this, expired entries are pruned on the next attempt.
const PRUNE_AT: usize = 10_000;

/// Counts login attempts that did not succeed, per user and address and per address.
#[derive(Debug)]
pub struct FailedLogins {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<Key, (u32, Instant)>>,
}

fn keys(user: &str, peer: Option<IpAddr>) -> Vec<Key> {
    match peer {
        Some(ip) => vec![Key::UserAt(user.to_string(), ip), Key::Peer(ip)],
        None => vec![Key::User(user.to_string())],
    }
}

impl FailedLogins {
    /// Allows `max` failures per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        FailedLogins {
            max,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves one attempt for `user` from `peer`: counted as a failure until
    /// [`succeeded`](Self::succeeded) gives it back. `Err(wait)` when the user at that address,
    /// or the address, is locked out for `wait` more (nothing is reserved then).
    pub fn begin(&self, user: &str, peer: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let mut counts = self.counts.lock();
        if counts.len() >= PRUNE_AT {
            let window = self.window;
            counts.retain(|_, (_, since)| *since + window > now);
        }
        let keys = keys(user, peer);
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some((n, since)) = counts.get(key) {
                let end = *since + self.window;
                if *n >= self.max && end > now {
                    wait = wait.max(end - now);
                }
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for key in keys {
            let e = counts.entry(key).or_insert((0, now));
            if e.1 + self.window <= now {
                *e = (0, now);
            }
            e.0 += 1;
        }
        Ok(())
    }

    /// Gives back the attempt [`begin`](Self::begin) reserved, and forgets the user's failures
    /// at that address.
    pub fn succeeded(&self, user: &str, peer: Option<IpAddr>) {
        let mut counts = self.counts.lock();
        for key in keys(user, peer) {
            match key {
                Key::Peer(_) => {
                    if let Some(e) = counts.get_mut(&key) {
                        e.0 = e.0.saturating_sub(1);
                    }
                }
                key => {
                    counts.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_max_failures_then_recovers() {
        let l = FailedLogins::new(3, Duration::from_millis(200));
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(l.begin("ann", Some(ip)).is_ok());
        }
        assert!(l.begin("ann", Some(ip)).is_err());
        assert!(l.begin("bob", Some(ip)).is_err(), "per address");
        let other: IpAddr = [127, 0, 0, 2].into();
        assert!(l.begin("ann", Some(other)).is_ok(), "not per user alone");
        std::thread::sleep(Duration::from_millis(250));
        assert!(l.begin("ann", Some(ip)).is_ok());
    }

    #[test]
    fn a_success_gives_its_attempt_back() {
        let l = FailedLogins::new(2, Duration::from_secs(60));
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..10 {
            assert!(l.begin("ann", Some(ip)).is_ok());
            l.succeeded("ann", Some(ip));
        }
        assert!(l.begin("ann", Some(ip)).is_ok());
        assert!(l.begin("ann", Some(ip)).is_ok());
        assert!(l.begin("ann", Some(ip)).is_err());
    }

    #[test]
    fn concurrent_attempts_get_no_more_tries_than_the_limit() {
        let l = std::sync::Arc::new(FailedLogins::new(5, Duration::from_secs(60)));
        let ip: IpAddr = [127, 0, 0, 1].into();
        let allowed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..40)
                .map(|_| {
                    let l = &l;
                    s.spawn(move || l.begin("admin", Some(ip)).is_ok())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap_or(false)))
                .sum()
        });
        assert_eq!(allowed, 5);
    }
}
