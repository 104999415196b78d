//! How a client connects and behaves: endpoint, TLS, credentials, timeouts, retries, breaker.

use std::time::Duration;

/// How the client authenticates.
#[derive(Clone)]
pub enum Credentials {
    /// A user name and password, exchanged for a session token at connect time and again
    /// whenever the session expires.
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// An API key (sent as the bearer token).
    ApiKey(String),
    /// No credentials: only `ping`-style calls will succeed.
    None,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => write!(f, "Password {{ user: {user:?} }}"),
            Credentials::ApiKey(_) => f.write_str("ApiKey(..)"),
            Credentials::None => f.write_str("None"),
        }
    }
}

/// Time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// One attempt of one operation (`None`: no limit). Also sent to the server as the
    /// operation's deadline.
    pub request: Option<Duration>,
}

impl Timeouts {
    /// Connect within 10 s; each operation within 30 s.
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        request: Some(Duration::from_secs(30)),
    };

    /// For latency-sensitive callers: connect within 1 s; each operation within 2 s.
    pub const fn fast() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(1),
            request: Some(Duration::from_secs(2)),
        }
    }

    /// No operation limit (long imports, exports and queries); connect within 10 s.
    pub const fn none() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            request: None,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

/// Retries with exponential backoff and full jitter, for transient errors only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1: never retry).
    pub max_attempts: u32,
    /// The backoff ceiling before the first retry; it doubles each retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// Never retry.
    pub const fn never() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// The delay before retry number `retry` (1-based): a uniformly random duration up to
    /// `min(max_backoff, initial_backoff * 2^(retry-1))` ("full jitter").
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let ceiling = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        if ceiling.is_zero() {
            return ceiling;
        }
        ceiling.mul_f64(rand::random::<f64>())
    }
}

impl Default for RetryPolicy {
    /// Five attempts, backoff from 50 ms up to 2 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// When the circuit breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed operations (transient errors after their retries) that open it.
    pub failure_threshold: u32,
    /// How long it stays open before letting one trial operation through (half-open).
    pub open_for: Duration,
}

impl BreakerConfig {
    /// A breaker that never opens.
    pub const fn disabled() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: u32::MAX,
            open_for: Duration::ZERO,
        }
    }
}

impl Default for BreakerConfig {
    /// Opens after 5 consecutive failures, for 5 s.
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(5),
        }
    }
}

/// Everything a client is built from; see [`crate::ClientBuilder`].
#[derive(Debug, Clone)]
pub struct Options {
    /// `http://host:port` (plaintext) or `https://host:port` (TLS).
    pub endpoint: String,
    /// PEM of the CA certificates to trust (`None`: the public web PKI roots).
    pub ca_pem: Option<Vec<u8>>,
    /// The TLS server name to verify (`None`: the endpoint's host).
    pub tls_domain: Option<String>,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Retries.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
    /// Connections in each server's pool (each carries unary calls and one pipelined stream).
    pub connections: usize,
    /// Followers to spread reads over (empty: reads go to the leader).
    pub followers: Vec<String>,
    /// How stale a follower's answer may be (`None`: any); a follower further behind refuses
    /// and the read goes to the leader.
    pub max_staleness: Option<Duration>,
    /// Whether a write refused by a follower goes to the leader it names (and stays there),
    /// and a write the leader cannot take is offered to the followers to find who leads now.
    pub follow_leader: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ceiling_with_jitter() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        for retry in 1..=8 {
            let ceiling = Duration::from_millis((100u64 << (retry - 1)).min(500));
            let samples: Vec<Duration> = (0..200).map(|_| p.backoff(retry)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "retry {retry}");
            // Full jitter spreads the delays: they are not all the same.
            assert!(samples.iter().any(|d| *d != samples[0]), "retry {retry}");
        }
        assert_eq!(RetryPolicy::never().backoff(1), Duration::ZERO);
    }
}
