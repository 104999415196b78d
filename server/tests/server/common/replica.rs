//! Leaders and followers on loopback: one CA for every server, the replica set's peer key in
//! a file every server is configured with, and the Replication service's status.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use shinydb_proto::v1::{self, replication_client::ReplicationClient};
use tonic::service::interceptor::InterceptedService;

use super::{ADMIN_PASSWORD, Bearer, Ca, Grpc, Server, ServerOptions};

/// Servers that replicate: one CA, one peer key, each server in its own directory.
pub struct Cluster {
    /// The CA every server's certificate comes from.
    pub ca: Arc<Ca>,
    /// Holds the credential file.
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// A new cluster (no servers yet) with a random peer key on file.
    pub fn new() -> Cluster {
        let c = Cluster {
            ca: Arc::new(Ca::new("ShinyDB replication test CA")),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let key: String = rand::Rng::sample_iter(rand::rng(), rand::distr::Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        std::fs::write(c.credential(), key).expect("write the peer key");
        c
    }

    /// The file holding the replica set's peer key (`replication.credential_file`).
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

    /// Starts a leader (`extra` YAML under `replication:`) that accepts the peer key.
    pub fn leader(&self, extra: &str) -> Server {
        self.start(&format!(
            "replication:\n  role: leader\n  name: leader\n  credential_file: {}\n{extra}",
            self.credential().display()
        ))
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

/// Tells `server` to follow `leader`, retrying while it restarts itself (to seed).
pub async fn follow(server: &Server, leader: &Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let token = server.login("admin", ADMIN_PASSWORD).await;
        let answer = match token {
            Ok(token) => {
                let b = Bearer(format!("Bearer {token}").parse().expect("ascii"));
                let ch = server.endpoint().connect().await;
                match ch {
                    Ok(ch) => ReplicationClient::new(InterceptedService::new(ch, b))
                        .follow(v1::FollowRequest {
                            leader: leader.endpoint_uri(),
                        })
                        .await
                        .map(drop),
                    Err(e) => Err(tonic::Status::unavailable(e.to_string())),
                }
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok(()) => return,
            Err(e) => assert!(
                Instant::now() < deadline,
                "follow {}: {e}; its log:\n{}",
                leader.endpoint_uri(),
                server.log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
