//! Retries against a server that restarts, and the circuit breaker opening, half-opening and
//! closing again.

use std::time::Duration;

use crate::common::{ADMIN_PASSWORD, Connect, server};
use shinydb_client::{BreakerConfig, BreakerState, Error, RetryPolicy, Timeouts, bson::doc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_retry_through_a_server_restart() {
    let mut s = server();
    let c = s
        .builder()
        .password("admin", ADMIN_PASSWORD)
        .retry(RetryPolicy {
            max_attempts: 60,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
        })
        .breaker(BreakerConfig::disabled())
        .build()
        .expect("client");
    c.create_space("app").await.expect("space");
    c.create_store("app", "t").await.expect("store");
    let t = c.store("app", "t");
    t.insert(doc! {"_id": 1, "v": "before"})
        .await
        .expect("insert");

    // Kill the server and start it again in the background while reads are retried.
    s.kill();
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        s.restart();
        s
    });
    let got = t
        .get(1)
        .await
        .expect("read retried until the server is back");
    assert_eq!(
        got.and_then(|d| d.get_str("v").ok().map(str::to_string)),
        Some("before".into())
    );
    let s = restarter.join().expect("restart");
    let m = c.metrics();
    assert!(m.retries > 0, "the read was retried: {m:?}");

    // An idempotent write is retried; a non-idempotent insert whose stream broke is not.
    t.update(1, doc! {"v": "after"}, &[]).await.expect("update");
    assert_eq!(
        t.get(1)
            .await
            .expect("get")
            .and_then(|d| d.get_str("v").ok().map(str::to_string)),
        Some("after".into())
    );
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_and_closes() {
    let mut s = server();
    let c = s
        .builder()
        .password("admin", ADMIN_PASSWORD)
        .timeouts(Timeouts::fast())
        .retry(RetryPolicy::never())
        .breaker(BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_millis(800),
        })
        .build()
        .expect("client");
    c.create_space("app").await.expect("space");
    c.create_store("app", "t").await.expect("store");
    let t = c.store("app", "t");
    t.insert(doc! {"_id": 1}).await.expect("insert");
    assert_eq!(c.breaker_state(), BreakerState::Closed);

    // NotFound says nothing against the server: the breaker stays closed.
    for _ in 0..5 {
        c.store("app", "missing")
            .get(1)
            .await
            .expect_err("no store");
    }
    assert_eq!(c.breaker_state(), BreakerState::Closed);

    s.kill();
    for _ in 0..3 {
        let e = t.get(1).await.expect_err("server down");
        assert!(e.is_transient(), "{e}");
    }
    assert_eq!(c.breaker_state(), BreakerState::Open);
    let e = t.get(1).await.expect_err("open breaker");
    assert!(matches!(e, Error::CircuitOpen), "{e}");
    assert!(c.metrics().rejected_by_breaker >= 1);

    s.restart();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(c.breaker_state(), BreakerState::HalfOpen);
    // The trial call succeeds (reconnecting) and closes the breaker.
    let mut ok = false;
    for _ in 0..20 {
        match t.get(1).await {
            Ok(d) => {
                assert!(d.is_some());
                ok = true;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(900)).await,
        }
    }
    assert!(ok, "the breaker closed again once the server was back");
    assert_eq!(c.breaker_state(), BreakerState::Closed);
}
