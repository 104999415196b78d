//! Resilience: the circuit breaker and the retry loop around every operation.

mod breaker;
mod retry;

pub use breaker::{BreakerState, CircuitBreaker};
pub(crate) use retry::{Idempotency, with_retries};
