//! Test harness: starts the real `shinydb-server` binary on free ports (TLS certificates made
//! with rcgen at test time), connects generated tonic clients, and offers small helpers.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bson::{Document, doc};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use shinydb_proto::v1::{
    self, catalog_client::CatalogClient, documents_client::DocumentsClient,
    pipeline_client::PipelineClient, server_client::ServerClient, users_client::UsersClient,
};
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

/// The first admin's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A certificate authority that signs server and client certificates.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-signed");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for localhost and 127.0.0.1, with `cn` as its common name.
    pub fn server(&self, cn: &str) -> Leaf {
        self.leaf(cn, vec!["localhost".into(), "127.0.0.1".into()])
    }

    /// A client certificate.
    pub fn client(&self, cn: &str) -> Leaf {
        self.leaf(cn, vec![format!("{cn}.clients.test")])
    }

    fn leaf(&self, cn: &str, names: Vec<String>) -> Leaf {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// How to start a server.
pub struct Opts {
    pub tls: bool,
    pub client_ca: bool,
    pub config_yaml: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub admin_password: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            tls: true,
            client_ca: false,
            config_yaml: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            admin_password: Some(ADMIN_PASSWORD.into()),
        }
    }
}

impl Opts {
    pub fn plaintext() -> Opts {
        Opts {
            tls: false,
            ..Opts::default()
        }
    }

    pub fn config(mut self, yaml: &str) -> Opts {
        self.config_yaml.push_str(yaml);
        self
    }
}

/// A running server binary.
pub struct Server {
    pub child: Option<Child>,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub dir: Arc<tempfile::TempDir>,
    pub ca: Option<Arc<Ca>>,
    pub client_ca: Option<Arc<Ca>>,
    pub opts_args: Vec<String>,
    pub stderr: Arc<Mutex<String>>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_shinydb-server")
}

impl Server {
    pub fn start(opts: Opts) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let ca = opts.tls.then(|| Arc::new(Ca::new("ShinyDB test CA")));
        let client_ca = opts
            .client_ca
            .then(|| Arc::new(Ca::new("ShinyDB client CA")));
        Self::start_in(dir, ca, client_ca, opts)
    }

    /// Starts a server on an existing data directory (a restart).
    pub fn start_in(
        dir: Arc<tempfile::TempDir>,
        ca: Option<Arc<Ca>>,
        client_ca: Option<Arc<Ca>>,
        opts: Opts,
    ) -> Server {
        let root = dir.path();
        let mut args: Vec<String> = vec![
            "--data-dir".into(),
            root.join("data").display().to_string(),
            "--http-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if !opts.args.iter().any(|a| a == "--listen") {
            args.extend(["--listen".into(), "127.0.0.1:0".into()]);
        }
        if let Some(ca) = &ca {
            let cert = root.join("server.crt");
            let key = root.join("server.key");
            if !cert.exists() {
                let leaf = ca.server("server-1");
                std::fs::write(&cert, &leaf.cert_pem).expect("write cert");
                std::fs::write(&key, &leaf.key_pem).expect("write key");
            }
            args.extend([
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ]);
        }
        if let Some(cca) = &client_ca {
            let path = root.join("client-ca.crt");
            std::fs::write(&path, &cca.pem).expect("write client ca");
            args.extend(["--client-ca".into(), path.display().to_string()]);
        }
        let config = root.join("config.yaml");
        std::fs::write(&config, &opts.config_yaml).expect("write config");
        args.extend(["--config".into(), config.display().to_string()]);
        args.extend(opts.args.iter().cloned());
        let mut cmd = Command::new(bin());
        cmd.args(&args)
            .env_remove("SHINYDB_ADMIN_PASSWORD")
            .env("SHINYDB_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(pw) = &opts.admin_password {
            cmd.env("SHINYDB_ADMIN_PASSWORD", pw);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start shinydb-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut err = child.stderr.take().expect("stderr");
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match err.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let text = String::from_utf8_lossy(&buf[..n]).to_string();
                            if std::env::var_os("SHINYDB_TEST_LOGS").is_some() {
                                eprint!("{text}");
                            }
                            sink.lock().expect("lock").push_str(&text);
                        }
                    }
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if line.starts_with("shinydb-server listening") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not start; stderr:\n{}",
                    stderr.lock().expect("lock")
                );
            }
        };
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .expect("address in the listening line")
                .parse()
                .expect("socket address")
        };
        Server {
            child: Some(child),
            grpc: field("grpc="),
            http: field("http="),
            dir,
            ca,
            client_ca,
            opts_args: args,
            stderr,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    pub fn signal(&self, sig: i32) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return st.code();
            }
            if Instant::now() > end {
                panic!(
                    "the server did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(&mut self) {
        self.signal(9);
        let _ = self.wait(Duration::from_secs(10));
    }

    pub fn endpoint_uri(&self) -> String {
        if self.ca.is_some() {
            format!("https://localhost:{}", self.grpc.port())
        } else {
            format!("http://{}", self.grpc)
        }
    }

    /// A TLS configuration trusting the test CA.
    pub fn tls_config(&self) -> Option<ClientTlsConfig> {
        self.ca.as_ref().map(|ca| {
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&ca.pem))
                .domain_name("localhost")
        })
    }

    pub fn endpoint(&self) -> Endpoint {
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

    pub async fn channel(&self) -> Channel {
        self.endpoint().connect().await.expect("connect")
    }

    pub async fn login(&self, user: &str, password: &str) -> Result<String, Status> {
        let mut c = UsersClient::new(self.channel().await);
        c.login(v1::LoginRequest {
            user: user.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner().token)
    }

    /// Clients authenticated as admin.
    pub async fn admin(&self) -> Clients {
        let token = self
            .login("admin", ADMIN_PASSWORD)
            .await
            .expect("admin login");
        Clients::new(self.channel().await, &token)
    }

    /// Clients with a given token.
    pub async fn clients(&self, token: &str) -> Clients {
        Clients::new(self.channel().await, token)
    }

    /// GET over HTTP/1.1 on the HTTP port: (status, body).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Undo chunked encoding if present (axum streams small bodies with a length, but be safe).
    (status, dechunk(&out, body))
}

fn dechunk(raw: &str, body: String) -> String {
    if !raw
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body;
    }
    let mut out = String::new();
    let mut rest = body.as_str();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
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

/// Polls until `f` is true or panics after `timeout`.
pub fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
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
