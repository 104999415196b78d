//! Test harness: the real `shinydb-server` binary from `shinydb_testkit`, generated tonic
//! clients connected to it (the [`Grpc`] trait), and small helpers.

#![allow(dead_code)]

pub mod proxy;
pub mod replica;
pub mod restore;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use bson::{Document, doc};
use shinydb_proto::v1::{
    self, backups_client::BackupsClient, catalog_client::CatalogClient,
    documents_client::DocumentsClient, pipeline_client::PipelineClient,
    server_client::ServerClient, users_client::UsersClient,
};
pub use shinydb_testkit::{ADMIN_PASSWORD, Ca, S3Server, Server, ServerOptions, eventually};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

/// The `shinydb-server` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shinydb-server")
}

/// Generated gRPC clients for a test server.
pub trait Grpc {
    /// A TLS configuration trusting the test CA (with TLS).
    fn tls_config(&self) -> Option<ClientTlsConfig>;
    /// An endpoint for the server, with a client certificate when it requires one.
    fn endpoint(&self) -> Endpoint;
    /// A connected channel.
    async fn channel(&self) -> Channel;
    /// Logs in; the session token.
    async fn login(&self, user: &str, password: &str) -> Result<String, Status>;
    /// Clients authenticated as admin.
    async fn admin(&self) -> Clients;
    /// Clients with a given token.
    async fn clients(&self, token: &str) -> Clients;
}

impl Grpc for Server {
    fn tls_config(&self) -> Option<ClientTlsConfig> {
        self.ca.as_ref().map(|ca| {
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&ca.pem))
                .domain_name("localhost")
        })
    }

    fn endpoint(&self) -> Endpoint {
        let mut ep = Endpoint::from_shared(self.endpoint_uri())
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        if let Some(tls) = self.tls_config() {
            let tls = match &self.client_ca {
                Some(cca) => {
                    let leaf = cca.client("test-client");
                    tls.identity(Identity::from_pem(leaf.cert_pem, leaf.key_pem))
                }
                None => tls,
            };
            ep = ep.tls_config(tls).expect("tls config");
        }
        ep
    }

    async fn channel(&self) -> Channel {
        self.endpoint().connect().await.expect("connect")
    }

    async fn login(&self, user: &str, password: &str) -> Result<String, Status> {
        let mut c = UsersClient::new(self.channel().await);
        c.login(v1::LoginRequest {
            user: user.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().token)
    }

    async fn admin(&self) -> Clients {
        let token = self
            .login("admin", ADMIN_PASSWORD)
            .await
            .expect("admin login");
        Clients::new(self.channel().await, &token)
    }

    async fn clients(&self, token: &str) -> Clients {
        Clients::new(self.channel().await, token)
    }
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(pub MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// Every generated client, sharing one connection and one token.
pub struct Clients {
    pub docs: DocumentsClient<Authed>,
    pub catalog: CatalogClient<Authed>,
    pub users: UsersClient<Authed>,
    pub server: ServerClient<Authed>,
    pub pipeline: PipelineClient<Authed>,
    pub query: v1::query_client::QueryClient<Authed>,
    pub backups: BackupsClient<Authed>,
    pub channel: Channel,
}

impl Clients {
    pub fn new(channel: Channel, token: &str) -> Clients {
        let b = Bearer(format!("Bearer {token}").parse().expect("ascii token"));
        let i = |c: Channel| InterceptedService::new(c, b.clone());
        Clients {
            docs: DocumentsClient::new(i(channel.clone())),
            catalog: CatalogClient::new(i(channel.clone())),
            users: UsersClient::new(i(channel.clone())),
            server: ServerClient::new(i(channel.clone())),
            pipeline: PipelineClient::new(i(channel.clone())),
            query: v1::query_client::QueryClient::new(i(channel.clone())),
            backups: BackupsClient::new(i(channel.clone())),
            channel,
        }
    }

    pub async fn create_store(&mut self, space: &str, store: &str) {
        let r = self
            .catalog
            .create_space(v1::CreateSpaceRequest { name: space.into() })
            .await;
        if let Err(e) = r {
            assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e}");
        }
        self.catalog
            .create_store(v1::CreateStoreRequest {
                space: space.into(),
                name: store.into(),
            })
            .await
            .expect("create store");
    }

    pub async fn insert(&mut self, space: &str, store: &str, docs: Vec<Document>) -> Vec<v1::Id> {
        self.docs
            .insert(v1::InsertRequest {
                space: space.into(),
                store: store.into(),
                documents: docs.iter().map(bson_bytes).collect(),
            })
            .await
            .expect("insert")
            .into_inner()
            .ids
    }

    pub async fn get(&mut self, space: &str, store: &str, id: v1::Id) -> Option<Document> {
        self.docs
            .get(v1::GetRequest {
                space: space.into(),
                store: store.into(),
                id: Some(id),
            })
            .await
            .expect("get")
            .into_inner()
            .document
            .map(|b| Document::from_reader(&b[..]).expect("bson"))
    }
}

pub fn bson_bytes(d: &Document) -> bytes::Bytes {
    let mut v = Vec::new();
    d.to_writer(&mut v).expect("encode");
    v.into()
}

pub fn doc_of(b: &[u8]) -> Document {
    Document::from_reader(b).expect("bson")
}

pub fn sid(s: &str) -> v1::Id {
    v1::Id {
        kind: Some(v1::id::Kind::String(s.into())),
    }
}

pub fn iid(i: i64) -> v1::Id {
    v1::Id {
        kind: Some(v1::id::Kind::Int64(i)),
    }
}

pub fn sample(i: i64) -> Document {
    doc! {"_id": i, "name": format!("item {i}"), "n": i}
}

/// `n` documents of `kib` KiB of text that compresses poorly.
pub fn bulky(n: usize, kib: usize) -> Vec<bson::Document> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            let body: String = (0..kib * 1024)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'!' + (x % 90) as u8)
                })
                .collect();
            doc! {"_id": i as i64, "body": body}
        })
        .collect()
}

pub fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

/// Writes under load until the server stops answering: `unary` tasks inserting one document
/// per call and one pipelined stream inserting continuously. Returns every acknowledged `_id`.
pub struct Load {
    pub acked: Arc<Mutex<Vec<i64>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub async fn start(server: &Server, unary: usize, space: &str, store: &str) -> Load {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let token = server.login("admin", ADMIN_PASSWORD).await.expect("login");
        for t in 0..unary {
            let mut c = server.clients(&token).await;
            let acked = Arc::clone(&acked);
            let (space, store) = (space.to_string(), store.to_string());
            tasks.push(tokio::spawn(async move {
                for i in 0_i64.. {
                    let id = (t as i64) * 1_000_000 + i;
                    let r = c
                        .docs
                        .insert(v1::InsertRequest {
                            space: space.clone(),
                            store: store.clone(),
                            documents: vec![bson_bytes(&doc! {"_id": id, "t": t as i64})],
                        })
                        .await;
                    match r {
                        Ok(_) => acked.lock().expect("lock").push(id),
                        Err(_) => break,
                    }
                }
            }));
        }
        // One pipelined stream with up to 64 inserts in flight.
        let mut c = server.clients(&token).await;
        let acked_p = Arc::clone(&acked);
        let (space, store) = (space.to_string(), store.to_string());
        tasks.push(tokio::spawn(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            let Ok(resp) = c
                .pipeline
                .stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
            else {
                return;
            };
            let mut responses = resp.into_inner();
            let window = Arc::new(tokio::sync::Semaphore::new(64));
            let w = Arc::clone(&window);
            let sender = tokio::spawn(async move {
                for i in 0_i64.. {
                    let Ok(p) = Arc::clone(&w).acquire_owned().await else {
                        break;
                    };
                    p.forget();
                    let id: i64 = 900_000_000 + i;
                    let req = v1::PipelineRequest {
                        id: id as u64,
                        timeout_ms: 0,
                        op: Some(v1::pipeline_request::Op::Insert(v1::InsertRequest {
                            space: space.clone(),
                            store: store.clone(),
                            documents: vec![bson_bytes(&doc! {"_id": id})],
                        })),
                    };
                    if tx.send(req).await.is_err() {
                        break;
                    }
                }
            });
            while let Ok(Some(r)) = responses.message().await {
                if let Some(v1::pipeline_response::Result::Insert(_)) = r.result {
                    acked_p.lock().expect("lock").push(r.id as i64);
                }
                window.add_permits(1);
            }
            window.close();
            sender.abort();
        }));
        Load { acked, tasks }
    }

    pub fn count(&self) -> usize {
        self.acked.lock().expect("lock").len()
    }

    /// Stops every writer now (a write in flight may still be applied, unacknowledged).
    pub async fn stop(self) -> Vec<i64> {
        for t in &self.tasks {
            t.abort();
        }
        let _ = futures::future::join_all(self.tasks).await;
        let mut v = self.acked.lock().expect("lock").clone();
        v.sort_unstable();
        v
    }

    /// Waits for every writer to stop (they stop when the server does).
    pub async fn finish(self, timeout: Duration) -> Vec<i64> {
        let all = futures::future::join_all(self.tasks);
        let _ = tokio::time::timeout(timeout, all).await;
        let mut v = self.acked.lock().expect("lock").clone();
        v.sort_unstable();
        v
    }
}

/// Every `_id` (as i64) in a store, by scanning it page by page.
pub async fn all_ids(c: &mut Clients, space: &str, store: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .docs
            .scan(v1::ScanRequest {
                space: space.into(),
                store: store.into(),
                start: start.clone(),
                limit: 1000,
                reverse: false,
            })
            .await
            .expect("scan")
            .into_inner();
        out.extend(page.documents.iter().map(|d| {
            doc_of(d)
                .get("_id")
                .and_then(bson::Bson::as_i64)
                .expect("i64 id")
        }));
        match page.next {
            Some(n) => start = Some(n),
            None => return out,
        }
    }
}
