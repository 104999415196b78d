//! The retry loop: exponential backoff with jitter, for transient errors only, and never
//! again for a write that may have been applied unless it is idempotent.

use std::{future::Future, time::Instant};

use crate::{
    error::{Error, Result},
    metrics::Metrics,
    options::RetryPolicy,
    resilience::CircuitBreaker,
};

/// Whether an operation may safely be applied twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads, and writes whose repetition leaves the same state (set, replace, delete).
    Idempotent,
    /// Writes that must not be repeated once they may have been applied (insert, batch).
    NotIdempotent,
}

/// Runs `op` under the breaker, retrying as the policy allows, and records metrics under
/// `name`.
pub(crate) async fn with_retries<T, F, Fut>(
    name: &'static str,
    policy: &RetryPolicy,
    breaker: &CircuitBreaker,
    metrics: &Metrics,
    idempotency: Idempotency,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    let mut attempt = 1;
    let result = loop {
        if !breaker.allow() {
            metrics.rejected();
            break Err(Error::CircuitOpen);
        }
        let r = op().await;
        match &r {
            Ok(_) => breaker.on_success(),
            Err(e) if e.is_failure_of_server() => breaker.on_failure(),
            Err(_) => breaker.on_success(),
        }
        let e = match r {
            Ok(v) => break Ok(v),
            Err(e) => e,
        };
        let safe = idempotency == Idempotency::Idempotent || e.certainly_not_applied();
        if !(e.is_transient() && safe) || attempt >= policy.max_attempts {
            break Err(e);
        }
        let delay = policy.backoff(attempt);
        tracing::debug!(op = name, attempt, ?delay, error = %e, "retrying");
        metrics.retried();
        tokio::time::sleep(delay).await;
        attempt += 1;
    };
    metrics.observe(name, started.elapsed(), result.is_ok());
    result
}
