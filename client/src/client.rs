//! The client: connection set-up and every operation of the protocol.

use std::{future::Future, sync::Arc, time::Duration};

use futures::{Stream, StreamExt};
use shinydb_proto::v1::{
    self, backups_client::BackupsClient, catalog_client::CatalogClient, pipeline_request::Op,
    pipeline_response::Result as R, query_client::QueryClient, query_request,
    replication_client::ReplicationClient, server_client::ServerClient, users_client::UsersClient,
};
use tonic::{Code, Status, transport::Channel};

use crate::{
    error::{Applied, Error, Result},
    metrics::{Metrics, MetricsSnapshot},
    options::{BreakerConfig, Credentials, Options, RetryPolicy, Timeouts},
    query::{Query, QueryOutput},
    resilience::{BreakerState, CircuitBreaker, Idempotency, with_retries},
    routing::{Members, Route},
    store::Store,
};

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use shinydb_client::{BreakerConfig, Client, RetryPolicy, Timeouts};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), shinydb_client::Error> {
/// let client = Client::builder("https://db.example:23469")
///     .password("alice", "correct horse battery")
///     .timeouts(Timeouts::fast())
///     .retry(RetryPolicy { max_attempts: 3, ..RetryPolicy::default() })
///     .breaker(BreakerConfig { failure_threshold: 10, open_for: Duration::from_secs(2) })
///     .connections(4)
///     .build()?; // connects lazily: nothing is sent yet
/// assert_eq!(client.endpoint(), "https://db.example:23469");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    options: Options,
}

impl ClientBuilder {
    /// Trusts these PEM CA certificates (for `https://` endpoints).
    pub fn ca_cert_pem(mut self, pem: Vec<u8>) -> Self {
        self.options.ca_pem = Some(pem);
        self
    }

    /// Verifies the server's certificate for this name instead of the endpoint's host.
    pub fn tls_domain(mut self, name: &str) -> Self {
        self.options.tls_domain = Some(name.to_string());
        self
    }

    /// Logs in with a user name and password (and again when the session expires).
    pub fn password(mut self, user: &str, password: &str) -> Self {
        self.options.credentials = Credentials::Password {
            user: user.to_string(),
            password: password.to_string(),
        };
        self
    }

    /// Authenticates with an API key.
    pub fn api_key(mut self, key: &str) -> Self {
        self.options.credentials = Credentials::ApiKey(key.to_string());
        self
    }

    /// Sets the credentials.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.options.credentials = c;
        self
    }

    /// Sets the time limits ([`Timeouts::default`], [`Timeouts::fast`], [`Timeouts::none`]).
    pub fn timeouts(mut self, t: Timeouts) -> Self {
        self.options.timeouts = t;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.options.retry = r;
        self
    }

    /// Sets the circuit breaker.
    pub fn breaker(mut self, b: BreakerConfig) -> Self {
        self.options.breaker = b;
        self
    }

    /// Connections in each server's pool (default 2); each carries one pipelined stream.
    pub fn connections(mut self, n: usize) -> Self {
        self.options.connections = n.max(1);
        self
    }

    /// Spreads reads (gets, scans, queries that write nothing, listings) over these
    /// followers, round-robin; each read accepts an answer at most `max_staleness` behind
    /// the leader (`None`: any). A follower that is further behind, or unreachable, is
    /// passed over for the leader. Writes still go to the leader.
    pub fn read_from_followers(
        mut self,
        endpoints: &[&str],
        max_staleness: Option<Duration>,
    ) -> Self {
        self.options.followers = endpoints.iter().map(ToString::to_string).collect();
        self.options.max_staleness = max_staleness;
        self
    }

    /// Whether writes follow a follower's hint to its leader, and look for the leader among
    /// the followers when it is unreachable (default: yes). Off, such a write fails with
    /// [`Error::NotLeader`].
    pub fn follow_leader(mut self, on: bool) -> Self {
        self.options.follow_leader = on;
        self
    }

    /// The client; connections open on first use. Must be called within a Tokio runtime.
    pub fn build(self) -> Result<Client> {
        Ok(Client {
            inner: Arc::new(Inner {
                breaker: CircuitBreaker::new(self.options.breaker),
                members: Members::new(self.options.clone())?,
                options: self.options,
                metrics: Metrics::default(),
            }),
        })
    }

    /// The client, after checking that the server answers and the credentials are accepted.
    pub async fn connect(self) -> Result<Client> {
        let c = self.build()?;
        c.whoami().await?;
        Ok(c)
    }
}

struct Inner {
    options: Options,
    members: Members,
    breaker: CircuitBreaker,
    metrics: Metrics,
}

/// A ShinyDB client: cheap to clone, safe to share between tasks. Document operations and
/// queries go over the pipelined streams of its connection pool; concurrent callers' requests
/// are in flight together.
///
/// ```no_run
/// use shinydb_client::{Client, bson::doc};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), shinydb_client::Error> {
/// let client = Client::builder("https://localhost:23469")
///     .ca_cert_pem(std::fs::read("ca.crt").expect("CA file"))
///     .password("admin", "secret-password")
///     .connect()
///     .await?;
/// client.create_space("sales").await?;
/// client.create_store("sales", "orders").await?;
/// let orders = client.store("sales", "orders");
/// let id = orders.insert(doc! {"_id": 1, "total": 25.0}).await?;
/// let got = orders.get(id).await?;
/// assert_eq!(got.and_then(|d| d.get_f64("total").ok()), Some(25.0));
/// let big = client.query("sales.orders.filter(total > 10).count()").await?;
/// println!("{}", big.to_json());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.options.endpoint)
            .finish_non_exhaustive()
    }
}

fn unexpected(what: &str) -> Error {
    Error::Invalid(format!(
        "the server answered {what} with another kind of result"
    ))
}

/// Whether a unary call's failure may have been applied: a status the server itself chose
/// (such as `NotFound`) means it was not; transport failures are ambiguous.
fn unary_error(s: &Status) -> Error {
    let applied = match crate::error::transport_code(s) {
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => {
            Applied::Maybe
        }
        _ => Applied::No,
    };
    Error::from_status(s, applied)
}

impl Client {
    /// A builder for `endpoint` (`http://host:port` or `https://host:port`), with default
    /// timeouts, retries, breaker and two pooled connections, and no credentials.
    pub fn builder(endpoint: &str) -> ClientBuilder {
        ClientBuilder {
            options: Options {
                endpoint: endpoint.to_string(),
                ca_pem: None,
                tls_domain: None,
                credentials: Credentials::None,
                timeouts: Timeouts::default(),
                retry: RetryPolicy::default(),
                breaker: BreakerConfig::default(),
                connections: 2,
                followers: Vec::new(),
                max_staleness: None,
                follow_leader: true,
            },
        }
    }

    /// The endpoint it was built for.
    pub fn endpoint(&self) -> &str {
        &self.inner.options.endpoint
    }

    /// The endpoint writes go to now: the one it was built for, until a follower named
    /// another leader.
    pub fn leader_endpoint(&self) -> String {
        self.inner.members.leader_endpoint()
    }

    /// A handle to one store, for document operations.
    pub fn store(&self, space: &str, store: &str) -> Store {
        Store::new(self.clone(), space, store)
    }

    /// The client's metrics now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    fn timeout_ms(&self) -> u32 {
        self.inner
            .options
            .timeouts
            .request
            .map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
    }

    /// Bounds one attempt by the request timeout (with a little slack over the server's own
    /// deadline, so that its answer arrives first).
    async fn bounded<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match self.inner.options.timeouts.request {
            None => fut.await,
            Some(d) => {
                let limit = d + Duration::from_millis(250);
                tokio::time::timeout(limit, fut)
                    .await
                    .unwrap_or(Err(Error::Timeout(d)))
            }
        }
    }

    /// Runs one pipelined operation with retries, on the server its route picks;
    /// `Unauthenticated` after an expired session logs in again once.
    pub(crate) async fn pipelined(
        &self,
        name: &'static str,
        idem: Idempotency,
        op: Op,
    ) -> Result<R> {
        let i = &self.inner;
        let route = match op {
            Op::Get(_) | Op::Scan(_) => Route::Read,
            _ => Route::Leader,
        };
        with_retries(name, &i.options.retry, &i.breaker, &i.metrics, idem, || {
            i.members.run(route, |pool| {
                let op = op.clone();
                async move {
                    let conn = pool.get();
                    let r = self
                        .bounded(conn.pipeline.call(op.clone(), self.timeout_ms()))
                        .await;
                    match r {
                        Err(Error::Server {
                            code: Code::Unauthenticated,
                            ..
                        }) if pool.auth.can_refresh() => {
                            let stale = pool.auth.bearer(&conn.channel).await?;
                            pool.auth.refresh(&conn.channel, &stale).await?;
                            self.bounded(conn.pipeline.call(op, self.timeout_ms()))
                                .await
                        }
                        r => r,
                    }
                }
            })
        })
        .await
    }

    /// Runs one unary call on the leader, with retries (and one login again on an expired
    /// session).
    async fn unary<M, T, F, Fut>(
        &self,
        name: &'static str,
        idem: Idempotency,
        msg: M,
        call: F,
    ) -> Result<T>
    where
        M: Clone,
        F: Fn(Channel, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.unary_on(Route::Leader, name, idem, msg, call).await
    }

    /// Runs one unary call on the server `route` picks, with retries (and one login again on
    /// an expired session).
    async fn unary_on<M, T, F, Fut>(
        &self,
        route: Route,
        name: &'static str,
        idem: Idempotency,
        msg: M,
        call: F,
    ) -> Result<T>
    where
        M: Clone,
        F: Fn(Channel, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let i = &self.inner;
        let call = &call;
        with_retries(name, &i.options.retry, &i.breaker, &i.metrics, idem, || {
            i.members.run(route, |pool| {
                let msg = msg.clone();
                async move {
                    let conn = pool.get();
                    let mut token = pool.auth.bearer(&conn.channel).await?;
                    let mut refreshed = false;
                    loop {
                        let mut req = tonic::Request::new(msg.clone());
                        pool.auth.apply(&token, req.metadata_mut())?;
                        pool.bound.apply(req.metadata_mut());
                        if let Some(d) = i.options.timeouts.request {
                            req.set_timeout(d);
                        }
                        match self
                            .bounded(async {
                                call(conn.channel.clone(), req)
                                    .await
                                    .map_err(|s| unary_error(&s))
                            })
                            .await
                        {
                            Ok(r) => return Ok(r.into_inner()),
                            Err(Error::Server {
                                code: Code::Unauthenticated,
                                ..
                            }) if !refreshed && pool.auth.can_refresh() => {
                                token = pool.auth.refresh(&conn.channel, &token).await?;
                                refreshed = true;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            })
        })
        .await
    }

    // ---- Queries ----

    /// Runs a YQL query and collects its result.
    pub async fn query(&self, yql: &str) -> Result<QueryOutput> {
        let (idem, route) = yql_kind(yql);
        self.run_query(query_request::Query::Yql(yql.to_string()), idem, route)
            .await
    }

    /// Runs a typed query (from [`crate::query::QueryBuilder`]) and collects its result.
    pub async fn query_typed(&self, q: &Query) -> Result<QueryOutput> {
        let json = serde_json::to_string(q)
            .map_err(|e| Error::Invalid(format!("encoding the typed query: {e}")))?;
        let (idem, route) = typed_kind(q);
        self.run_query(query_request::Query::TypedJson(json), idem, route)
            .await
    }

    async fn run_query(
        &self,
        query: query_request::Query,
        idem: Idempotency,
        route: Route,
    ) -> Result<QueryOutput> {
        let i = &self.inner;
        let req = v1::QueryRequest {
            query: Some(query),
            chunk_size: 0,
        };
        with_retries(
            "query",
            &i.options.retry,
            &i.breaker,
            &i.metrics,
            idem,
            || {
                i.members.run(route, |pool| {
                    let op = Op::Query(req.clone());
                    async move {
                        self.bounded(async {
                            let conn = pool.get();
                            let mut rx = conn.pipeline.query(op, self.timeout_ms()).await?;
                            let mut acc = None;
                            while let Some(chunk) = rx.recv().await {
                                QueryOutput::push(&mut acc, chunk?)?;
                            }
                            acc.ok_or_else(|| {
                                Error::Invalid("the server answered a query with no result".into())
                            })
                        })
                        .await
                    }
                })
            },
        )
        .await
    }

    /// Runs a YQL query over the `Query` RPC and yields its result chunk by chunk as the
    /// server streams it (for results too large to hold at once). Not retried once started.
    pub async fn query_stream(
        &self,
        yql: &str,
        chunk_size: u32,
    ) -> Result<impl Stream<Item = Result<QueryOutput>> + Send + use<>> {
        let req = v1::QueryRequest {
            query: Some(query_request::Query::Yql(yql.to_string())),
            chunk_size,
        };
        let (idem, route) = yql_kind(yql);
        let stream = self
            .unary_on(route, "query_stream", idem, req, |ch, r| async move {
                QueryClient::new(ch)
                    .max_decoding_message_size(usize::MAX)
                    .query(r)
                    .await
            })
            .await?;
        Ok(stream.map(|chunk| {
            let mut acc = None;
            QueryOutput::push(&mut acc, chunk.map_err(|s| unary_error(&s))?)?;
            acc.ok_or_else(|| Error::Invalid("an empty chunk".into()))
        }))
    }

    /// Plans a YQL query and runs it to count what it reads, without returning rows.
    pub async fn explain(&self, yql: &str) -> Result<crate::query::Plan> {
        let req = v1::QueryRequest {
            query: Some(query_request::Query::Yql(yql.to_string())),
            chunk_size: 0,
        };
        let r = self
            .unary_on(
                Route::Read,
                "explain",
                Idempotency::Idempotent,
                req,
                |ch, r| async move { QueryClient::new(ch).explain(r).await },
            )
            .await?;
        Ok(crate::query::Plan::from_proto(r))
    }

    // ---- Catalog ----

    /// Creates a space (global admin).
    pub async fn create_space(&self, name: &str) -> Result<()> {
        let req = v1::CreateSpaceRequest { name: name.into() };
        self.unary(
            "create_space",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).create_space(r).await },
        )
        .await
        .map(drop)
    }

    /// Drops a space; `cascade` also drops its stores.
    pub async fn drop_space(&self, name: &str, cascade: bool) -> Result<()> {
        let req = v1::DropSpaceRequest {
            name: name.into(),
            cascade,
        };
        self.unary(
            "drop_space",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).drop_space(r).await },
        )
        .await
        .map(drop)
    }

    /// The spaces the caller may read.
    pub async fn list_spaces(&self) -> Result<Vec<v1::Space>> {
        let r = self
            .unary_on(
                Route::Read,
                "list_spaces",
                Idempotency::Idempotent,
                v1::ListSpacesRequest {},
                |ch, r| async move { CatalogClient::new(ch).list_spaces(r).await },
            )
            .await?;
        Ok(r.spaces)
    }

    /// Creates a store.
    pub async fn create_store(&self, space: &str, store: &str) -> Result<()> {
        let req = v1::CreateStoreRequest {
            space: space.into(),
            name: store.into(),
        };
        self.unary(
            "create_store",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).create_store(r).await },
        )
        .await
        .map(drop)
    }

    /// Drops a store and its documents.
    pub async fn drop_store(&self, space: &str, store: &str) -> Result<()> {
        let req = v1::DropStoreRequest {
            space: space.into(),
            name: store.into(),
        };
        self.unary(
            "drop_store",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).drop_store(r).await },
        )
        .await
        .map(drop)
    }

    /// The stores of a space.
    pub async fn list_stores(&self, space: &str) -> Result<Vec<v1::Store>> {
        let req = v1::ListStoresRequest {
            space: space.into(),
        };
        let r = self
            .unary_on(
                Route::Read,
                "list_stores",
                Idempotency::Idempotent,
                req,
                |ch, r| async move { CatalogClient::new(ch).list_stores(r).await },
            )
            .await?;
        Ok(r.stores)
    }

    /// Creates a secondary index on dotted field paths and builds it.
    pub async fn create_index(
        &self,
        space: &str,
        store: &str,
        name: &str,
        fields: &[&str],
        unique: bool,
    ) -> Result<()> {
        let req = v1::CreateIndexRequest {
            space: space.into(),
            store: store.into(),
            name: name.into(),
            fields: fields
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            unique,
        };
        self.unary(
            "create_index",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).create_index(r).await },
        )
        .await
        .map(drop)
    }

    /// Drops a secondary index.
    pub async fn drop_index(&self, space: &str, store: &str, name: &str) -> Result<()> {
        let req = v1::DropIndexRequest {
            space: space.into(),
            store: store.into(),
            name: name.into(),
        };
        self.unary(
            "drop_index",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).drop_index(r).await },
        )
        .await
        .map(drop)
    }

    /// The indexes of a store.
    pub async fn list_indexes(&self, space: &str, store: &str) -> Result<Vec<v1::Index>> {
        let req = v1::ListIndexesRequest {
            space: space.into(),
            store: store.into(),
        };
        let r = self
            .unary_on(
                Route::Read,
                "list_indexes",
                Idempotency::Idempotent,
                req,
                |ch, r| async move { CatalogClient::new(ch).list_indexes(r).await },
            )
            .await?;
        Ok(r.indexes)
    }

    /// Statistics of one store.
    pub async fn store_stats(&self, space: &str, store: &str) -> Result<v1::StoreStatsResponse> {
        let req = v1::StoreStatsRequest {
            space: space.into(),
            store: store.into(),
        };
        self.unary_on(
            Route::Read,
            "store_stats",
            Idempotency::Idempotent,
            req,
            |ch, r| async move { CatalogClient::new(ch).store_stats(r).await },
        )
        .await
    }

    // ---- Users and access ----

    /// Who the caller is and what it may do.
    pub async fn whoami(&self) -> Result<v1::WhoAmIResponse> {
        self.unary(
            "whoami",
            Idempotency::Idempotent,
            v1::WhoAmIRequest {},
            |ch, r| async move { UsersClient::new(ch).who_am_i(r).await },
        )
        .await
    }

    /// Ends the client's sessions on every server it logged in to (later calls log in
    /// again).
    pub async fn logout(&self) -> Result<()> {
        for pool in self.inner.members.all() {
            let token = pool.auth.session();
            if token.is_empty() {
                continue;
            }
            let mut req = tonic::Request::new(v1::LogoutRequest {});
            pool.auth.apply(&token, req.metadata_mut())?;
            let channel = pool.get().channel.clone();
            self.bounded(async {
                UsersClient::new(channel)
                    .logout(req)
                    .await
                    .map_err(|s| unary_error(&s))
            })
            .await?;
            pool.auth.forget(&token);
        }
        Ok(())
    }

    /// Creates a user with roles (global admin).
    pub async fn create_user(
        &self,
        name: &str,
        password: &str,
        grants: Vec<v1::Grant>,
    ) -> Result<()> {
        let req = v1::CreateUserRequest {
            name: name.into(),
            password: password.into(),
            grants,
        };
        self.unary(
            "create_user",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).create_user(r).await },
        )
        .await
        .map(drop)
    }

    /// Drops a user, its sessions and its API keys.
    pub async fn drop_user(&self, name: &str) -> Result<()> {
        let req = v1::DropUserRequest { name: name.into() };
        self.unary(
            "drop_user",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).drop_user(r).await },
        )
        .await
        .map(drop)
    }

    /// Every user (global admin).
    pub async fn list_users(&self) -> Result<Vec<v1::User>> {
        let r = self
            .unary(
                "list_users",
                Idempotency::Idempotent,
                v1::ListUsersRequest {},
                |ch, r| async move { UsersClient::new(ch).list_users(r).await },
            )
            .await?;
        Ok(r.users)
    }

    /// Changes a password: `user` empty for one's own (then `old` is required).
    pub async fn change_password(&self, user: &str, old: &str, new: &str) -> Result<()> {
        let req = v1::ChangePasswordRequest {
            name: user.into(),
            old_password: old.into(),
            new_password: new.into(),
        };
        self.unary(
            "change_password",
            Idempotency::Idempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).change_password(r).await },
        )
        .await
        .map(drop)
    }

    /// Grants a role, globally (`space` `None`) or in one space.
    pub async fn grant_role(&self, user: &str, role: v1::Role, space: Option<&str>) -> Result<()> {
        let req = v1::GrantRoleRequest {
            name: user.into(),
            grant: Some(grant(role, space)),
        };
        self.unary(
            "grant_role",
            Idempotency::Idempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).grant_role(r).await },
        )
        .await
        .map(drop)
    }

    /// Revokes a role exactly as granted.
    pub async fn revoke_role(&self, user: &str, role: v1::Role, space: Option<&str>) -> Result<()> {
        let req = v1::RevokeRoleRequest {
            name: user.into(),
            grant: Some(grant(role, space)),
        };
        self.unary(
            "revoke_role",
            Idempotency::Idempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).revoke_role(r).await },
        )
        .await
        .map(drop)
    }

    /// Creates an API key for `user` (empty: the caller); `expires_in` `None`: never expires.
    pub async fn create_api_key(
        &self,
        user: &str,
        description: &str,
        expires_in: Option<Duration>,
    ) -> Result<v1::CreateApiKeyResponse> {
        let req = v1::CreateApiKeyRequest {
            user: user.into(),
            description: description.into(),
            expires_in_seconds: expires_in.map_or(0, |d| d.as_secs().max(1)),
        };
        self.unary(
            "create_api_key",
            Idempotency::NotIdempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).create_api_key(r).await },
        )
        .await
    }

    /// Revokes an API key by id.
    pub async fn revoke_api_key(&self, id: &str) -> Result<()> {
        let req = v1::RevokeApiKeyRequest { id: id.into() };
        self.unary(
            "revoke_api_key",
            Idempotency::Idempotent,
            req,
            |ch, r| async move { UsersClient::new(ch).revoke_api_key(r).await },
        )
        .await
        .map(drop)
    }

    /// API keys (never their secrets) of `user` (empty: the caller's; `*`: everyone's).
    pub async fn list_api_keys(&self, user: &str) -> Result<Vec<v1::ApiKey>> {
        let req = v1::ListApiKeysRequest { user: user.into() };
        let r = self
            .unary(
                "list_api_keys",
                Idempotency::Idempotent,
                req,
                |ch, r| async move { UsersClient::new(ch).list_api_keys(r).await },
            )
            .await?;
        Ok(r.keys)
    }

    // ---- Backups ----

    /// Takes an online base backup labelled `tag` (empty: none) to the server's configured
    /// store (global admin); answers when its manifest is written. Not retried: a second
    /// attempt would be a second backup; a caller that loses the answer finds the backup by
    /// its tag in [`Client::list_backups`].
    pub async fn create_backup(&self, tag: &str) -> Result<v1::BackupSummary> {
        self.unary(
            "create_backup",
            Idempotency::NotIdempotent,
            v1::CreateBackupRequest { tag: tag.into() },
            |ch, r| async move { BackupsClient::new(ch).create(r).await },
        )
        .await
    }

    /// The backups in the server's store, newest first (global admin).
    pub async fn list_backups(&self) -> Result<Vec<v1::BackupSummary>> {
        let r = self
            .unary(
                "list_backups",
                Idempotency::Idempotent,
                v1::ListBackupsRequest {},
                |ch, r| async move { BackupsClient::new(ch).list(r).await },
            )
            .await?;
        Ok(r.backups)
    }

    /// Downloads every chunk of backup `id` and checks its hashes; `deep` also rebuilds the
    /// data directory beside the server's and opens it (global admin).
    pub async fn verify_backup(&self, id: &str, deep: bool) -> Result<v1::VerifyBackupResponse> {
        self.unary(
            "verify_backup",
            Idempotency::Idempotent,
            v1::VerifyBackupRequest {
                id: id.into(),
                deep,
            },
            |ch, r| async move { BackupsClient::new(ch).verify(r).await },
        )
        .await
    }

    /// Deletes backup `id`: its manifest first, then its chunks (global admin). Returns the
    /// objects deleted.
    pub async fn delete_backup(&self, id: &str) -> Result<u64> {
        let r = self
            .unary(
                "delete_backup",
                Idempotency::Idempotent,
                v1::DeleteBackupRequest { id: id.into() },
                |ch, r| async move { BackupsClient::new(ch).delete(r).await },
            )
            .await?;
        Ok(r.objects)
    }

    /// Whether the server archives its log, how far, and which moments a restore can reach
    /// (global admin).
    pub async fn backup_status(&self) -> Result<v1::BackupStatusResponse> {
        self.unary(
            "backup_status",
            Idempotency::Idempotent,
            v1::BackupStatusRequest {},
            |ch, r| async move { BackupsClient::new(ch).status(r).await },
        )
        .await
    }

    // ---- Replication ----

    /// The server's role, epoch, positions and its followers' lag (global admin).
    pub async fn replica_status(&self) -> Result<v1::ReplicationStatusResponse> {
        self.unary_on(
            Route::Home,
            "replica_status",
            Idempotency::Idempotent,
            v1::ReplicationStatusRequest {},
            |ch, r| async move { ReplicationClient::new(ch).status(r).await },
        )
        .await
    }

    /// Makes a follower the leader of a new epoch (global admin); returns the epoch and its
    /// first batch.
    pub async fn promote(&self) -> Result<v1::PromoteResponse> {
        self.unary_on(
            Route::Home,
            "promote",
            Idempotency::NotIdempotent,
            v1::PromoteRequest {},
            |ch, r| async move { ReplicationClient::new(ch).promote(r).await },
        )
        .await
    }

    /// Makes a leader read-only (global admin); returns its last batch.
    pub async fn demote(&self) -> Result<u64> {
        let r = self
            .unary_on(
                Route::Home,
                "demote",
                Idempotency::NotIdempotent,
                v1::DemoteRequest {},
                |ch, r| async move { ReplicationClient::new(ch).demote(r).await },
            )
            .await?;
        Ok(r.last_seq)
    }

    /// Makes the server follow the leader at `leader` (global admin).
    pub async fn follow(&self, leader: &str) -> Result<()> {
        self.unary_on(
            Route::Home,
            "follow",
            Idempotency::Idempotent,
            v1::FollowRequest {
                leader: leader.to_string(),
            },
            |ch, r| async move { ReplicationClient::new(ch).follow(r).await },
        )
        .await?;
        Ok(())
    }

    // ---- Server ----

    /// Asks the server's gRPC health service whether it serves; needs no credentials and is
    /// neither retried nor counted by the breaker.
    pub async fn ping(&self) -> Result<()> {
        use tonic_health::pb::{
            HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
        };
        let conn = self.inner.members.home().get();
        let mut health = HealthClient::new(conn.channel.clone());
        let r = self
            .bounded(async {
                health
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map_err(|s| unary_error(&s))
            })
            .await?;
        if r.into_inner().status == ServingStatus::Serving as i32 {
            Ok(())
        } else {
            Err(Error::Server {
                code: Code::Unavailable,
                message: "the server answers but does not serve yet".into(),
                applied: Applied::No,
            })
        }
    }

    /// Version, uptime and role.
    pub async fn server_info(&self) -> Result<v1::InfoResponse> {
        self.unary_on(
            Route::Home,
            "server_info",
            Idempotency::Idempotent,
            v1::InfoRequest {},
            |ch, r| async move { ServerClient::new(ch).info(r).await },
        )
        .await
    }

    /// Engine and server statistics (global admin).
    pub async fn server_stats(&self) -> Result<v1::StatsResponse> {
        self.unary_on(
            Route::Home,
            "server_stats",
            Idempotency::Idempotent,
            v1::StatsRequest {},
            |ch, r| async move { ServerClient::new(ch).stats(r).await },
        )
        .await
    }

    /// Changes the server's log filter (global admin); returns the filter in force.
    pub async fn set_log_level(&self, filter: &str) -> Result<String> {
        let req = v1::SetLogLevelRequest {
            filter: filter.into(),
        };
        let r = self
            .unary_on(
                Route::Home,
                "set_log_level",
                Idempotency::Idempotent,
                req,
                |ch, r| async move { ServerClient::new(ch).set_log_level(r).await },
            )
            .await?;
        Ok(r.filter)
    }

    /// Applies writes to any stores atomically: all or none. Not retried once it may have
    /// been applied.
    pub async fn batch(&self, ops: Vec<v1::WriteOp>) -> Result<Vec<v1::WriteOutcome>> {
        match self
            .pipelined(
                "batch",
                Idempotency::NotIdempotent,
                Op::Batch(v1::BatchRequest { ops }),
            )
            .await?
        {
            R::Batch(b) => Ok(b.outcomes),
            _ => Err(unexpected("a batch")),
        }
    }
}

fn grant(role: v1::Role, space: Option<&str>) -> v1::Grant {
    v1::Grant {
        role: role as i32,
        space: space.map(str::to_string),
    }
}

/// Whether a query may be repeated safely (reads and writes other than inserts) and where it
/// goes (one that writes nothing may go to a follower); text that does not parse is treated
/// as a write (the server will refuse it anyway).
fn yql_kind(yql: &str) -> (Idempotency, Route) {
    match shinydb_engine::query::parse(yql) {
        Ok(q) => typed_kind(&q),
        Err(_) => (Idempotency::NotIdempotent, Route::Leader),
    }
}

fn typed_kind(q: &Query) -> (Idempotency, Route) {
    use shinydb_engine::query::Mutation;
    let idem = match &q.write {
        Some(Mutation::Insert(_)) if !q.explain => Idempotency::NotIdempotent,
        _ => Idempotency::Idempotent,
    };
    let route = if q.write.is_none() {
        Route::Read
    } else {
        Route::Leader
    };
    (idem, route)
}
