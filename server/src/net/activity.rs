//! What a gRPC connection is doing: how many requests are in flight on it and when the last one
//! started or ended. The listener closes a connection that has had none in flight for
//! `network.idle_timeout_seconds` (HTTP/2 pings do not count), so connections cannot be held
//! open forever without using them.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::BodyExt;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::state::PeerInfo;

/// The requests of one connection.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    in_flight: AtomicU32,
    /// Milliseconds after `opened` at which a request last started or ended.
    last_ms: AtomicU64,
}

impl Activity {
    /// A connection opened now, with nothing in flight.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            last_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::SeqCst);
    }

    /// A request starts; it ends when the guard drops.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InFlight(Arc::clone(self))
    }

    /// When the connection becomes idle for `timeout` if nothing starts before; `None` while a
    /// request is in flight.
    pub fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::SeqCst));
        Some(self.opened + last + timeout)
    }
}

/// A request in flight; ends when dropped (after its response body is sent or abandoned).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // The end time first, so that a reader seeing nothing in flight sees it.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts every request on its connection's [`Activity`] until its response body is done.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrackRequests;

impl<S> Layer<S> for TrackRequests {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked { inner }
    }
}

/// The service [`TrackRequests`] wraps.
#[derive(Clone, Debug)]
pub struct Tracked<S> {
    inner: S,
}

impl<S, B> Service<http::Request<Body>> for Tracked<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let guard = req
            .extensions()
            .get::<PeerInfo>()
            .map(|p| p.activity.begin());
        let response = self.inner.call(req);
        Box::pin(async move {
            let res = response.await?;
            Ok(res.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _in_flight = &guard;
                    frame
                }))
            }))
        })
    }
}
