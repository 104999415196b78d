//! Test harness: starts the real `shinydb-server` binary with TLS (rcgen certificates made at
//! test time) on a free port, builds clients for it, and runs the `shinydb` binary.
//!
//! The server binary is taken from the target directory these tests were built in
//! (`cargo test --workspace` builds it; alone, run `cargo build -p shinydb-server` first).

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use shinydb_client::{Client, ClientBuilder};

/// The first admin's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A certificate authority and a server certificate it signed, written to a directory.
pub struct Certs {
    pub ca_pem: String,
    pub ca_path: PathBuf,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl Certs {
    pub fn new(dir: &Path) -> Certs {
        let ca_key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "ShinyDB client-test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&ca_key).expect("self-signed");
        let issuer = Issuer::new(params, ca_key);
        let key = KeyPair::generate().expect("key");
        let mut leaf =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).expect("params");
        leaf.distinguished_name.push(DnType::CommonName, "server");
        let cert = leaf.signed_by(&key, &issuer).expect("signed");
        let c = Certs {
            ca_pem: ca.pem(),
            ca_path: dir.join("ca.crt"),
            cert_path: dir.join("server.crt"),
            key_path: dir.join("server.key"),
        };
        std::fs::write(&c.ca_path, &c.ca_pem).expect("write ca");
        std::fs::write(&c.cert_path, cert.pem()).expect("write cert");
        std::fs::write(&c.key_path, key.serialize_pem()).expect("write key");
        c
    }
}

/// The `shinydb-server` binary next to this test's target directory.
pub fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/<test> -> target/<profile>/shinydb-server
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join(format!("shinydb-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test --workspace` or `cargo build -p shinydb-server` first",
        bin.display()
    );
    bin
}

/// The `shinydb` command line binary.
pub fn cli_bin() -> &'static str {
    env!("CARGO_BIN_EXE_shinydb")
}

/// A running server.
pub struct Server {
    child: Option<Child>,
    pub grpc: SocketAddr,
    pub dir: Arc<tempfile::TempDir>,
    pub certs: Arc<Certs>,
    pub config_yaml: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// A server with TLS on a free port and an empty data directory.
    pub fn start() -> Server {
        Server::start_with("")
    }

    /// A server with extra YAML configuration.
    pub fn start_with(config_yaml: &str) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let certs = Arc::new(Certs::new(dir.path()));
        Server::spawn(dir, certs, "127.0.0.1:0", config_yaml)
    }

    fn spawn(
        dir: Arc<tempfile::TempDir>,
        certs: Arc<Certs>,
        listen: &str,
        config_yaml: &str,
    ) -> Server {
        let root = dir.path();
        let config = root.join("config.yaml");
        std::fs::write(&config, config_yaml).expect("write config");
        let mut child = Command::new(server_bin())
            .arg("--data-dir")
            .arg(root.join("data"))
            .args(["--listen", listen, "--http-listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(&certs.cert_path)
            .arg("--tls-key")
            .arg(&certs.key_path)
            .arg("--config")
            .arg(&config)
            .env("SHINYDB_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SHINYDB_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shinydb-server");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut err = child.stderr.take().expect("stderr");
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .expect("lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("shinydb-server listening") {
                    let _ = tx.send(line);
                }
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server did not start:\n{}",
                stderr.lock().expect("lock")
            );
        };
        let grpc = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("grpc="))
            .expect("grpc address")
            .parse()
            .expect("socket address");
        Server {
            child: Some(child),
            grpc,
            dir,
            certs,
            config_yaml: config_yaml.to_string(),
            stderr,
        }
    }

    /// `https://localhost:<port>`.
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.grpc.port())
    }

    /// A client builder trusting the test CA, without credentials.
    pub fn builder(&self) -> ClientBuilder {
        Client::builder(&self.endpoint()).ca_cert_pem(self.certs.ca_pem.clone().into_bytes())
    }

    /// A client logged in as admin.
    pub fn admin(&self) -> Client {
        self.builder()
            .password("admin", ADMIN_PASSWORD)
            .build()
            .expect("client")
    }

    /// Kills the server at once (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        let listen = self.grpc.to_string();
        let next = Server::spawn(
            Arc::clone(&self.dir),
            Arc::clone(&self.certs),
            &listen,
            &self.config_yaml,
        );
        *self = next;
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// A `shinydb` command with the endpoint and CA set (no credentials).
    pub fn cli(&self) -> Command {
        let mut c = Command::new(cli_bin());
        c.env_remove("SHINYDB_USER")
            .env_remove("SHINYDB_PASSWORD")
            .env_remove("SHINYDB_API_KEY")
            .env("SHINYDB_ENDPOINT", self.endpoint())
            .env("SHINYDB_CA_CERT", &self.certs.ca_path)
            .env("SHINYDB_HISTORY", self.dir.path().join("history"));
        c
    }

    /// A `shinydb` command logged in as admin through the environment.
    pub fn admin_cli(&self) -> Command {
        let mut c = self.cli();
        c.env("SHINYDB_USER", "admin")
            .env("SHINYDB_PASSWORD", ADMIN_PASSWORD);
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command with `stdin` as its standard input.
pub fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shinydb");
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

/// Runs `shinydb` as admin with arguments; returns (exit code, stdout, stderr).
pub fn admin_cli(s: &Server, args: &[&str]) -> (i32, String, String) {
    let mut c = s.admin_cli();
    c.args(args);
    let out = run(c, "");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
