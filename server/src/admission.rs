//! Admission: every gRPC request but the anonymous ones (`Users/Login` and the health service)
//! must carry valid credentials in its headers, checked before its body is read. A client
//! without them is answered `UNAUTHENTICATED` at once, so it cannot make the server wait for,
//! decode or hold a large message.
//!
//! The handlers check the credentials again (and the roles): this layer only decides whether a
//! body is worth reading. It also refuses a request whose staleness bound
//! (`x-shinydb-max-staleness-ms`) a follower cannot meet (for a stream: when it opens).

use std::task::{Context, Poll};

use futures::future::{BoxFuture, Either, Ready, ready};
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::debug;

use crate::state::State;

/// Paths anyone may call.
fn anonymous(path: &str) -> bool {
    path == "/shinydb.v1.Users/Login" || path.starts_with("/grpc.health.v1.Health/")
}

/// The layer.
#[derive(Clone)]
pub struct Admission {
    state: State,
}

impl Admission {
    /// Checks credentials with `state`'s users.
    pub fn new(state: State) -> Admission {
        Admission { state }
    }
}

impl<S> Layer<S> for Admission {
    type Service = Admitted<S>;

    fn layer(&self, inner: S) -> Admitted<S> {
        Admitted {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service [`Admission`] wraps.
#[derive(Clone)]
pub struct Admitted<S> {
    inner: S,
    state: State,
}

impl<S> Service<http::Request<Body>> for Admitted<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<
        Ready<Result<Self::Response, Self::Error>>,
        BoxFuture<'static, Result<Self::Response, Self::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if !anonymous(req.uri().path()) {
            let value = req
                .headers()
                .get(shinydb_proto::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or(""));
            if let Err(status) = self.state.auth.authenticate(value) {
                debug!(
                    path = req.uri().path(),
                    message = status.message(),
                    "request refused before its body was read"
                );
                return Either::Left(ready(Ok(status.into_http())));
            }
            if let Err(status) = self.state.replication.check_staleness(req.headers()) {
                return Either::Left(ready(Ok(status.into_http())));
            }
        }
        Either::Right(Box::pin(self.inner.call(req)))
    }
}
