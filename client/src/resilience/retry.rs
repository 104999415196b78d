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
            Err(e) if e.is_failure_of_server() => breaker.on_failure(),
            // A success, or the caller's own mistake: the server answered.
            _ => breaker.on_success(),
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

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU32, Ordering},
        time::Duration,
    };

    use tonic::Code;

    use super::*;
    use crate::{error::Applied, options::BreakerConfig};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    fn unavailable(applied: Applied) -> Error {
        Error::Server {
            code: Code::Unavailable,
            message: "down".into(),
            applied,
        }
    }

    /// Runs an operation that always fails with `e`; returns how often it was attempted.
    async fn attempts(idem: Idempotency, e: Error) -> u32 {
        let n = AtomicU32::new(0);
        let breaker = CircuitBreaker::new(BreakerConfig::disabled());
        let metrics = Metrics::default();
        let r: Result<()> = with_retries("t", &policy(), &breaker, &metrics, idem, || {
            n.fetch_add(1, Ordering::Relaxed);
            let e = e.clone();
            async move { Err(e) }
        })
        .await;
        assert!(r.is_err());
        n.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn only_safe_transient_failures_are_retried() {
        use Idempotency::{Idempotent, NotIdempotent};
        // Transient and certainly not applied: retried whatever the operation.
        assert_eq!(attempts(NotIdempotent, unavailable(Applied::No)).await, 4);
        // Possibly applied: only an idempotent operation goes again.
        assert_eq!(attempts(Idempotent, unavailable(Applied::Maybe)).await, 4);
        assert_eq!(
            attempts(NotIdempotent, unavailable(Applied::Maybe)).await,
            1
        );
        assert_eq!(
            attempts(NotIdempotent, Error::Timeout(Duration::ZERO)).await,
            1
        );
        // Not transient: never retried.
        let not_found = Error::Server {
            code: Code::NotFound,
            message: "no".into(),
            applied: Applied::No,
        };
        assert_eq!(attempts(Idempotent, not_found).await, 1);
    }

    #[tokio::test]
    async fn a_success_after_retries_is_counted() {
        let n = AtomicU32::new(0);
        let breaker = CircuitBreaker::new(BreakerConfig::default());
        let metrics = Metrics::default();
        let r = with_retries(
            "op",
            &policy(),
            &breaker,
            &metrics,
            Idempotency::Idempotent,
            || {
                let i = n.fetch_add(1, Ordering::Relaxed);
                async move {
                    if i < 2 {
                        Err(unavailable(Applied::Maybe))
                    } else {
                        Ok(i)
                    }
                }
            },
        )
        .await;
        assert_eq!(r.expect("third attempt succeeds"), 2);
        let m = metrics.snapshot();
        assert_eq!((m.retries, m.ops["op"].ok, m.ops["op"].errors), (2, 1, 0));
    }
}
