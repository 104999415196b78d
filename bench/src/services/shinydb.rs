//! A `shinydb-server` process on a data directory of its own, on free loopback ports, with a
//! durability mode and optionally TLS; stopped with SIGTERM (a clean shutdown) on drop.

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tracing::{info, warn};

use crate::{error::BenchError, tls::Pki};

/// When the server acknowledges a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After fdatasync (group commit).
    Sync,
    /// Once the OS has it; synced every 100 ms.
    Interval,
}

impl Durability {
    /// The value of `storage.durability`.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Sync => "sync",
            Durability::Interval => "interval",
        }
    }
}

/// The admin password the benchmark gives a new server.
pub const ADMIN_PASSWORD: &str = "shinydb-bench-admin-password";

/// `shinydb-server` next to this executable (or next to its `deps/` folder, for tests).
pub fn default_server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir.join("shinydb-server")
}

/// A running server.
pub struct ShinyServer {
    child: Option<Child>,
    /// The gRPC address.
    pub grpc: SocketAddr,
    /// Whether it serves TLS.
    pub tls: bool,
    stderr: Arc<Mutex<String>>,
}

impl ShinyServer {
    /// Starts `bin` on `data_dir` (created if new); TLS with `pki`'s certificate when given;
    /// `env` adds configuration overrides (`SHINYDB_REPLICATION_ROLE`, ...).
    pub fn start(
        bin: &Path,
        data_dir: &Path,
        durability: Durability,
        pki: Option<&Pki>,
        env: &[(String, String)],
    ) -> Result<ShinyServer, BenchError> {
        if !bin.exists() {
            return Err(BenchError::service(
                "shinydb-server",
                format!(
                    "{} does not exist: build it (cargo build --release -p shinydb-server) or \
                     pass --server-bin",
                    bin.display()
                ),
            ));
        }
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir")
            .arg(data_dir.join("data"))
            .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .env("SHINYDB_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SHINYDB_STORAGE_DURABILITY", durability.name())
            .env("SHINYDB_LOG_LEVEL", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = pki {
            let cert = data_dir.join("server.crt");
            let key = data_dir.join("server.key");
            std::fs::write(&cert, &p.cert_pem).map_err(|e| BenchError::io(&cert, e))?;
            std::fs::write(&key, &p.key_pem).map_err(|e| BenchError::io(&key, e))?;
            cmd.arg("--tls-cert").arg(&cert).arg("--tls-key").arg(&key);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| BenchError::service(format!("starting {}", bin.display()), e))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = err.read(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push_str(&text);
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if line.starts_with("shinydb-server listening") {
                        let _ = tx.send(line);
                    }
                }
            });
        }
        let mut server = ShinyServer {
            child: Some(child),
            grpc: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: pki.is_some(),
            stderr,
        };
        let line = rx.recv_timeout(Duration::from_secs(120)).map_err(|_| {
            BenchError::service("shinydb-server did not start", server.stderr_text())
        })?;
        server.grpc = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("grpc="))
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| BenchError::service("shinydb-server", format!("odd line: {line}")))?;
        info!(grpc = %server.grpc, durability = durability.name(), tls = server.tls,
            "shinydb-server started");
        Ok(server)
    }

    fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The URI clients connect to.
    pub fn uri(&self) -> String {
        if self.tls {
            format!("https://{}:{}", crate::tls::SERVER_NAME, self.grpc.port())
        } else {
            format!("http://{}", self.grpc)
        }
    }

    /// SIGTERM, then waits for a clean exit (status 0).
    pub fn stop(mut self) -> Result<(), BenchError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), BenchError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = rustix::process::Pid::from_raw(child.id().cast_signed());
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            match child.try_wait() {
                Ok(Some(st)) if st.success() => return Ok(()),
                Ok(Some(st)) => {
                    return Err(BenchError::service(
                        "shinydb-server",
                        format!("exited with {st}: {}", self.stderr_text()),
                    ));
                }
                Ok(None) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(BenchError::service(
                        "shinydb-server",
                        "did not stop within 60 s of SIGTERM; killed",
                    ));
                }
            }
        }
    }
}

impl Drop for ShinyServer {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            warn!(error = %e, "stopping shinydb-server");
        }
    }
}
