//! Test support for ShinyDB's integration tests (a dev-dependency only, never shipped).
//!
//! [`Server`] starts the real `shinydb-server` binary on free loopback ports, with a temporary
//! data directory and TLS certificates from a [`Ca`] made at test time; each crate's tests add
//! their own way of talking to it (generated gRPC clients, the client library, the CLI).
//! [`S3Server`] is a real S3-compatible server (moto's) for backup tests.
//! Failures panic with what went wrong: these are test helpers.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic with what went wrong"
)]

mod certs;
mod http;
mod s3;
mod server;

use std::time::{Duration, Instant};

pub use certs::{Ca, Leaf};
pub use http::http_get;
pub use s3::{AccessKey, S3Server};
pub use server::{ADMIN_PASSWORD, Server, ServerOptions, workspace_bin};

/// Polls `f` every 25 ms until it is true; panics naming `what` after `timeout`.
pub fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}
