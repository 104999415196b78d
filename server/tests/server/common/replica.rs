//! Leaders and followers on loopback: one CA for every server, a replication user's API key
//! in a file, and the Replication service's status.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use shinydb_proto::v1::{self, replication_client::ReplicationClient};
use tonic::service::interceptor::InterceptedService;

use super::{ADMIN_PASSWORD, Bearer, Ca, Grpc, Server, ServerOptions};

/// Servers that replicate: one CA, one credential, each in its own directory.
pub struct Cluster {
    /// The CA every server's certificate comes from.
    pub ca: Arc<Ca>,
    /// Holds the credential file.
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// A new cluster (no servers yet).
    pub fn new() -> Cluster {
        Cluster {
            ca: Arc::new(Ca::new("ShinyDB replication test CA")),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The file holding the replication user's API key.
    pub fn credential(&self) -> PathBuf {
        self.dir.path().join("replication.key")
    }

    /// Starts a server in a new directory with `yaml` as its configuration.
    pub fn start(&self, yaml: &str) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        Server::start_in(dir, Some(Arc::clone(&self.ca)), None, options(yaml))
    }

    /// Starts `server` again (after a kill) on its directory and port with `yaml`.
    pub fn restart_as(&self, server: &mut Server, yaml: &str) {
        server.kill();
        let mut o = options(yaml);
        o.args.extend(["--listen".into(), server.grpc.to_string()]);
        let next = Server::start_in(Arc::clone(&server.dir), Some(Arc::clone(&self.ca)), None, o);
        *server = next;
    }

    /// Starts a leader (`extra` YAML under `replication:`), and creates the replication user
    /// and its key.
    pub async fn leader(&self, extra: &str) -> Server {
        let s = self.start(&format!(
            "replication:\n  role: leader\n  name: leader\n{extra}"
        ));
        let mut c = s.admin().await;
        c.users
            .create_user(v1::CreateUserRequest {
                name: "replicator".into(),
                password: "replicator-password".into(),
                grants: vec![v1::Grant {
                    role: v1::Role::Replication as i32,
                    space: None,
                }],
            })
            .await
            .expect("create the replication user");
        let token = s
            .login("replicator", "replicator-password")
            .await
            .expect("login");
        let mut rc = s.clients(&token).await;
        let key = rc
            .users
            .create_api_key(v1::CreateApiKeyRequest {
                user: String::new(),
                description: "followers".into(),
                expires_in_seconds: 0,
            })
            .await
            .expect("api key")
            .into_inner()
            .key;
        std::fs::write(self.credential(), key).expect("write the key");
        s
    }

    /// The YAML of a follower named `name` of `leader`.
    pub fn follower_yaml(&self, leader: &Server, name: &str, extra: &str) -> String {
        format!(
            "replication:\n  role: follower\n  name: {name}\n  leader: {}\n  credential_file: {}\n  \
             ca_file: {}\n  heartbeat_ms: 200\n  leader_timeout_ms: 2000\n{extra}",
            leader.endpoint_uri(),
            self.credential().display(),
            leader.ca_path().display()
        )
    }

    /// Starts a follower of `leader` in a new directory.
    pub fn follower(&self, leader: &Server, name: &str) -> Server {
        self.start(&self.follower_yaml(leader, name, ""))
    }
}

fn options(yaml: &str) -> ServerOptions {
    ServerOptions::default().config(yaml)
}

/// A Replication client authenticated as admin.
pub async fn admin(
    s: &Server,
) -> ReplicationClient<InterceptedService<tonic::transport::Channel, Bearer>> {
    let token = s.login("admin", ADMIN_PASSWORD).await.expect("admin login");
    let b = Bearer(format!("Bearer {token}").parse().expect("ascii"));
    ReplicationClient::new(InterceptedService::new(s.channel().await, b))
}

/// The server's replication status.
pub async fn status(s: &Server) -> v1::ReplicationStatusResponse {
    admin(s)
        .await
        .status(v1::ReplicationStatusRequest {})
        .await
        .expect("status")
        .into_inner()
}

/// Waits until `follower` has every batch `leader` has, streaming.
pub async fn caught_up(follower: &Server, leader: &Server, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let want = status(leader).await.last_seq;
        let got = match tokio::time::timeout(Duration::from_secs(5), try_status(follower)).await {
            Ok(Some(s)) => s,
            _ => v1::ReplicationStatusResponse::default(),
        };
        if got.state == "streaming" && got.last_seq >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the follower did not catch up ({} of {want}, state {:?}, error {:?}); its log:\n{}",
            got.last_seq,
            got.state,
            got.last_error,
            follower.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status, or `None` while the server does not answer (restarting to seed).
pub async fn try_status(s: &Server) -> Option<v1::ReplicationStatusResponse> {
    let token = s.login("admin", ADMIN_PASSWORD).await.ok()?;
    let b = Bearer(format!("Bearer {token}").parse().ok()?);
    let ch = s.endpoint().connect().await.ok()?;
    ReplicationClient::new(InterceptedService::new(ch, b))
        .status(v1::ReplicationStatusRequest {})
        .await
        .ok()
        .map(tonic::Response::into_inner)
}

/// Files in `dir`, if any.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
