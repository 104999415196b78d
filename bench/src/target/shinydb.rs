//! ShinyDB, two ways: through `shinydb-client` (the main line: every client thread shares one
//! client whose pooled connections each carry a pipelined stream, so concurrent operations
//! travel together), and through plain unary `Documents` calls of the generated tonic client,
//! one connection per client thread (the second line, which pays HTTP/2's per-call cost).

use bson::{Bson, Document};
use shinydb_client::{BreakerConfig, Client, DocId, RetryPolicy, Store, Timeouts};
use shinydb_proto::v1::{
    self, documents_client::DocumentsClient, id::Kind, users_client::UsersClient,
};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

use super::{Fields, Row};
use crate::{error::BenchError, transport};

/// The space and store the benchmark uses.
pub const SPACE: &str = "ycsb";
/// The store (YCSB's table name).
pub const STORE: &str = "usertable";
/// The user the benchmark logs in as.
pub const USER: &str = "admin";

const NAME: &str = "shinydb";

fn err(op: &'static str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Operation {
        target: NAME,
        op,
        message: e.to_string(),
    }
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `http://…` or `https://…`.
    pub uri: String,
    /// The CA to trust for https.
    pub ca_pem: Option<String>,
    /// The admin password.
    pub password: String,
    /// Pooled connections of the pipelined client.
    pub connections: usize,
    /// Followers the pipelined client spreads reads over (empty: reads go to `uri`).
    pub followers: Vec<String>,
}

/// A `shinydb-client` for the endpoint: no retries and no circuit breaker, so any failure
/// fails the run instead of being hidden.
pub async fn client(ep: &Endpoint) -> Result<Client, BenchError> {
    let mut b = Client::builder(&ep.uri)
        .password(USER, &ep.password)
        .connections(ep.connections)
        .timeouts(Timeouts::default())
        .retry(RetryPolicy::never())
        .breaker(BreakerConfig::disabled());
    if !ep.followers.is_empty() {
        let followers: Vec<&str> = ep.followers.iter().map(String::as_str).collect();
        b = b.read_from_followers(&followers, None);
    }
    if let Some(ca) = &ep.ca_pem {
        b = b
            .ca_cert_pem(ca.as_bytes().to_vec())
            .tls_domain(crate::tls::SERVER_NAME);
    }
    b.connect().await.map_err(|e| BenchError::Connect {
        target: NAME,
        message: format!("{}: {e}", ep.uri),
    })
}

/// Creates a user with the `replication` role and writes an API key of it to `path`, the
/// credential followers present to the leader at `leader`.
pub async fn create_replication_key(
    leader: &Endpoint,
    path: &std::path::Path,
) -> Result<(), BenchError> {
    const PASSWORD: &str = "shinydb-bench-replicator";
    let admin = client(leader).await?;
    let grant = v1::Grant {
        role: v1::Role::Replication as i32,
        space: None,
    };
    admin
        .create_user("replicator", PASSWORD, vec![grant])
        .await
        .map_err(|e| err("create the replication user", e))?;
    let replicator = Client::builder(&leader.uri)
        .password("replicator", PASSWORD)
        .build()
        .map_err(|e| err("connect as the replication user", e))?;
    let key = replicator
        .create_api_key("", "bench followers", None)
        .await
        .map_err(|e| err("create the replication key", e))?
        .key;
    std::fs::write(path, key).map_err(|e| BenchError::io(path, e))
}

/// Waits (up to 10 minutes) until the follower at `follower` streams with every batch the
/// leader has.
pub async fn wait_caught_up(follower: &Endpoint, leader: &Endpoint) -> Result<(), BenchError> {
    let (f, l) = (client(follower).await?, client(leader).await?);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let want = l
            .replica_status()
            .await
            .map_err(|e| err("leader status", e))?
            .last_seq;
        let got = f
            .replica_status()
            .await
            .map_err(|e| err("follower status", e))?;
        if got.state == "streaming" && got.last_seq >= want {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(err(
                "follower status",
                format!(
                    "{} did not catch up: {} of {want}, {}",
                    follower.uri, got.last_seq, got.last_error
                ),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Creates the space if needed and the store afresh.
pub async fn create_store(ep: &Endpoint) -> Result<(), BenchError> {
    let c = client(ep).await?;
    if let Err(e) = c.create_space(SPACE).await
        && e.code() != tonic::Code::AlreadyExists
    {
        return Err(err("create space", e));
    }
    if let Err(e) = c.drop_store(SPACE, STORE).await
        && e.code() != tonic::Code::NotFound
    {
        return Err(err("drop store", e));
    }
    c.create_store(SPACE, STORE)
        .await
        .map_err(|e| err("create store", e))
}

fn document(key: &str, fields: &Fields) -> Document {
    let mut d = Document::new();
    d.insert("_id", key);
    for (k, v) in fields {
        d.insert(k.clone(), v.clone());
    }
    d
}

/// The key and fields of a stored document.
fn row_of(d: Document) -> Result<Row, BenchError> {
    let mut key = None;
    let mut fields = Vec::with_capacity(d.len().saturating_sub(1));
    for (k, v) in d {
        match (k.as_str(), v) {
            ("_id", Bson::String(s)) => key = Some(s),
            (_, Bson::String(s)) => fields.push((k, s)),
            (_, other) => {
                return Err(err("read", format!("field {k} is not a string: {other}")));
            }
        }
    }
    let key = key.ok_or_else(|| err("read", "a document without a string _id"))?;
    Ok((key, fields))
}

/// A client thread on the pipelined stream (shares its client with the other threads).
pub struct StreamSession {
    store: Store,
}

impl StreamSession {
    /// A session on `client`.
    pub fn new(client: &Client) -> StreamSession {
        StreamSession {
            store: client.store(SPACE, STORE),
        }
    }

    /// Reads a whole record.
    pub async fn read(&mut self, key: &str) -> Result<Option<Fields>, BenchError> {
        let d = self.store.get(key).await.map_err(|e| err("read", e))?;
        d.map(|d| row_of(d).map(|(_, f)| f)).transpose()
    }

    /// Sets one field; false when no record has the key.
    pub async fn update(
        &mut self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, BenchError> {
        let mut set = Document::new();
        set.insert(field, value);
        let r = self
            .store
            .update(key, set, &[])
            .await
            .map_err(|e| err("update", e))?;
        Ok(r.matched)
    }

    /// Inserts one record.
    pub async fn insert(&mut self, key: &str, fields: &Fields) -> Result<(), BenchError> {
        self.store
            .insert(document(key, fields))
            .await
            .map_err(|e| err("insert", e))?;
        Ok(())
    }

    /// Inserts many records in one atomic batch (loading).
    pub async fn insert_many(&mut self, rows: &[Row]) -> Result<(), BenchError> {
        let docs: Vec<Document> = rows.iter().map(|(k, f)| document(k, f)).collect();
        self.store
            .insert_many(&docs)
            .await
            .map_err(|e| err("load", e))?;
        Ok(())
    }

    /// Up to `len` records from `start` on, in key order.
    pub async fn scan(&mut self, start: &str, len: usize) -> Result<Vec<Row>, BenchError> {
        let limit = u32::try_from(len).unwrap_or(u32::MAX);
        let page = self
            .store
            .scan(Some(DocId::from(start)), limit)
            .await
            .map_err(|e| err("scan", e))?;
        page.documents.into_iter().map(row_of).collect()
    }
}

/// Logs in as the admin with a unary call; returns the session token.
pub async fn login(ep: &Endpoint) -> Result<String, BenchError> {
    let channel = transport::connect(&transport::endpoint(&ep.uri, ep.ca_pem.as_deref())?).await?;
    let r = UsersClient::new(channel)
        .login(v1::LoginRequest {
            user: USER.into(),
            password: ep.password.clone(),
        })
        .await
        .map_err(|e| BenchError::Connect {
            target: NAME,
            message: format!("login: {e}"),
        })?;
    Ok(r.into_inner().token)
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        req.metadata_mut()
            .insert(shinydb_proto::AUTHORIZATION, self.0.clone());
        Ok(req)
    }
}

/// A client thread making plain unary calls on a connection of its own.
pub struct UnarySession {
    docs: DocumentsClient<InterceptedService<Channel, Bearer>>,
}

fn sid(s: &str) -> Option<v1::Id> {
    Some(v1::Id {
        kind: Some(Kind::String(s.to_string())),
    })
}

fn encode(d: &Document) -> Result<bytes::Bytes, BenchError> {
    let mut v = Vec::with_capacity(1200);
    d.to_writer(&mut v).map_err(|e| err("encode", e))?;
    Ok(v.into())
}

fn decode(b: &[u8]) -> Result<Document, BenchError> {
    Document::from_reader(b).map_err(|e| err("decode", e))
}

impl UnarySession {
    /// Connects with a session token from [`login`].
    pub async fn open(ep: &Endpoint, token: &str) -> Result<UnarySession, BenchError> {
        let channel =
            transport::connect(&transport::endpoint(&ep.uri, ep.ca_pem.as_deref())?).await?;
        let bearer = MetadataValue::try_from(format!("Bearer {token}")).map_err(|e| {
            BenchError::Connect {
                target: NAME,
                message: format!("the session token is not ASCII: {e}"),
            }
        })?;
        Ok(UnarySession {
            docs: DocumentsClient::with_interceptor(channel, Bearer(bearer)),
        })
    }

    /// Reads a whole record.
    pub async fn read(&mut self, key: &str) -> Result<Option<Fields>, BenchError> {
        let r = self
            .docs
            .get(v1::GetRequest {
                space: SPACE.into(),
                store: STORE.into(),
                id: sid(key),
            })
            .await
            .map_err(|e| err("read", e))?
            .into_inner();
        r.document
            .map(|b| decode(&b).and_then(row_of).map(|(_, f)| f))
            .transpose()
    }

    /// Sets one field; false when no record has the key.
    pub async fn update(
        &mut self,
        key: &str,
        field: &str,
        value: &str,
    ) -> Result<bool, BenchError> {
        let mut set = Document::new();
        set.insert(field, value);
        let r = self
            .docs
            .update(v1::UpdateRequest {
                space: SPACE.into(),
                store: STORE.into(),
                id: sid(key),
                set: encode(&set)?,
                unset: Vec::new(),
            })
            .await
            .map_err(|e| err("update", e))?;
        Ok(r.into_inner().matched)
    }

    /// Inserts records in one atomic batch.
    pub async fn insert_many(&mut self, rows: &[Row]) -> Result<(), BenchError> {
        let documents = rows
            .iter()
            .map(|(k, f)| encode(&document(k, f)))
            .collect::<Result<_, _>>()?;
        self.docs
            .insert(v1::InsertRequest {
                space: SPACE.into(),
                store: STORE.into(),
                documents,
            })
            .await
            .map_err(|e| err("insert", e))?;
        Ok(())
    }

    /// Up to `len` records from `start` on, in key order.
    pub async fn scan(&mut self, start: &str, len: usize) -> Result<Vec<Row>, BenchError> {
        let r = self
            .docs
            .scan(v1::ScanRequest {
                space: SPACE.into(),
                store: STORE.into(),
                start: sid(start),
                limit: u32::try_from(len).unwrap_or(u32::MAX),
                reverse: false,
            })
            .await
            .map_err(|e| err("scan", e))?
            .into_inner();
        r.documents
            .iter()
            .map(|b| decode(b).and_then(row_of))
            .collect()
    }
}
