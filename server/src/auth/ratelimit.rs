//! Failed-login limits: after `max` failures within a window, a user name or a client address
//! is refused until the window that began with its first failure has passed.

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Peer(IpAddr),
}

/// Entries kept at most; past this, expired entries are pruned on the next failure.
const PRUNE_AT: usize = 10_000;

/// Counts failed logins per user and per client address.
#[derive(Debug)]
pub struct FailedLogins {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<Key, (u32, Instant)>>,
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

    /// `Err(wait)` when the user or the address is locked out for `wait` more.
    pub fn check(&self, user: &str, peer: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let counts = self.counts.lock();
        let keys = [Some(Key::User(user.to_string())), peer.map(Key::Peer)];
        let mut wait = Duration::ZERO;
        for key in keys.iter().flatten() {
            if let Some((n, since)) = counts.get(key) {
                let end = *since + self.window;
                if *n >= self.max && end > now {
                    wait = wait.max(end - now);
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failure against the user and the address.
    pub fn failed(&self, user: &str, peer: Option<IpAddr>) {
        let now = Instant::now();
        let mut counts = self.counts.lock();
        if counts.len() >= PRUNE_AT {
            let window = self.window;
            counts.retain(|_, (_, since)| *since + window > now);
        }
        for key in [Some(Key::User(user.to_string())), peer.map(Key::Peer)]
            .into_iter()
            .flatten()
        {
            let e = counts.entry(key).or_insert((0, now));
            if e.1 + self.window <= now {
                *e = (0, now);
            }
            e.0 += 1;
        }
    }

    /// Forgets the user's failures after a successful login.
    pub fn succeeded(&self, user: &str) {
        self.counts.lock().remove(&Key::User(user.to_string()));
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
            assert!(l.check("ann", Some(ip)).is_ok());
            l.failed("ann", Some(ip));
        }
        assert!(l.check("ann", Some(ip)).is_err());
        assert!(l.check("ann", None).is_err(), "per user");
        assert!(l.check("bob", Some(ip)).is_err(), "per address");
        assert!(l.check("bob", None).is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(l.check("ann", Some(ip)).is_ok());
    }
}
