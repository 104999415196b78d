//! A circuit breaker: closed (calls flow), open (calls fail at once), half-open (one trial).

use std::time::Instant;

use parking_lot::Mutex;

use crate::options::BreakerConfig;

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; consecutive failures are counted.
    Closed,
    /// Calls fail at once with [`crate::Error::CircuitOpen`] until the open period ends.
    Open,
    /// One trial call is in flight; its outcome closes or re-opens the breaker.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
}

/// A circuit breaker shared by every operation of one client.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at: None,
            }),
        }
    }

    /// The current state (an open breaker whose period has ended reports half-open).
    pub fn state(&self) -> BreakerState {
        let g = self.inner.lock();
        match (g.state, g.opened_at) {
            (BreakerState::Open, Some(at)) if at.elapsed() >= self.config.open_for => {
                BreakerState::HalfOpen
            }
            (s, _) => s,
        }
    }

    /// Whether a call may go out now; an open breaker past its period lets exactly one trial
    /// through and turns half-open.
    pub fn allow(&self) -> bool {
        let mut g = self.inner.lock();
        match g.state {
            BreakerState::Closed => true,
            BreakerState::HalfOpen => false,
            BreakerState::Open => {
                let expired = g
                    .opened_at
                    .is_some_and(|at| at.elapsed() >= self.config.open_for);
                if expired {
                    g.state = BreakerState::HalfOpen;
                }
                expired
            }
        }
    }

    /// A call succeeded (or failed in a way that says nothing against the server).
    pub fn on_success(&self) {
        let mut g = self.inner.lock();
        if g.state != BreakerState::Closed {
            tracing::info!("circuit breaker closed");
        }
        g.state = BreakerState::Closed;
        g.failures = 0;
        g.opened_at = None;
    }

    /// A call failed with a server-health failure.
    pub fn on_failure(&self) {
        let mut g = self.inner.lock();
        g.failures = g.failures.saturating_add(1);
        let trip = g.state == BreakerState::HalfOpen || g.failures >= self.config.failure_threshold;
        if trip && g.state != BreakerState::Open {
            tracing::warn!(failures = g.failures, "circuit breaker opened");
            g.state = BreakerState::Open;
            g.opened_at = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn opens_half_opens_and_closes() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_millis(30),
        });
        assert!(b.allow());
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(), "one trial");
        assert!(!b.allow(), "only one trial");
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open, "a failed trial re-opens");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow());
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow());
    }
}
