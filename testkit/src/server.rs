//! The real `shinydb-server` binary, started on free loopback ports.

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::{certs::Ca, http};

/// The first admin's password in tests.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A binary of this workspace, from the target directory the running test was built in
/// (`target/<profile>/deps/<test>` → `target/<profile>/<name>`). `cargo test --workspace`
/// builds every binary; a single package's tests build only that package's own.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test --workspace` or `cargo build --bin {name}` first",
        bin.display()
    );
    bin
}

/// How to start a server.
#[derive(Clone)]
pub struct ServerOptions {
    /// Serve TLS with a certificate from a new test CA (the default).
    pub tls: bool,
    /// Require client certificates from a second test CA.
    pub client_ca: bool,
    /// The configuration file's contents.
    pub config_yaml: String,
    /// Extra command-line arguments (a `--listen` here replaces the free port).
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// `SHINYDB_ADMIN_PASSWORD` for the first start ([`ADMIN_PASSWORD`] by default).
    pub admin_password: Option<String>,
    /// A command to start the server through (say a shell setting resource limits); the
    /// binary and its arguments follow it. Empty: the binary itself.
    pub launcher: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tls: true,
            client_ca: false,
            config_yaml: String::new(),
            args: Vec::new(),
            env: Vec::new(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            launcher: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// A server without TLS.
    pub fn plaintext() -> ServerOptions {
        ServerOptions {
            tls: false,
            ..ServerOptions::default()
        }
    }

    /// Appends YAML to the configuration file.
    pub fn config(mut self, yaml: &str) -> ServerOptions {
        self.config_yaml.push_str(yaml);
        self
    }
}

/// A running `shinydb-server`; killed when dropped.
pub struct Server {
    /// The process (`None` once it has exited).
    pub child: Option<Child>,
    /// The gRPC address.
    pub grpc: SocketAddr,
    /// The HTTP (health, metrics) address.
    pub http: SocketAddr,
    /// The test's directory: `data/`, the configuration and the certificates.
    pub dir: Arc<TempDir>,
    /// The CA that signed the server certificate (with TLS).
    pub ca: Option<Arc<Ca>>,
    /// The CA that client certificates must come from (with mutual TLS).
    pub client_ca: Option<Arc<Ca>>,
    /// The command-line arguments it was started with.
    pub args: Vec<String>,
    options: ServerOptions,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server on a new, empty directory.
    pub fn start(options: ServerOptions) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let ca = options.tls.then(|| Arc::new(Ca::new("ShinyDB test CA")));
        let client_ca = options
            .client_ca
            .then(|| Arc::new(Ca::new("ShinyDB client CA")));
        Server::start_in(dir, ca, client_ca, options)
    }

    /// Starts a server on an existing test directory (a restart, perhaps with other options).
    /// The server certificate written there before is reused.
    pub fn start_in(
        dir: Arc<TempDir>,
        ca: Option<Arc<Ca>>,
        client_ca: Option<Arc<Ca>>,
        options: ServerOptions,
    ) -> Server {
        let root = dir.path();
        let mut args: Vec<String> = vec![
            "--data-dir".into(),
            root.join("data").display().to_string(),
            "--http-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if !options.args.iter().any(|a| a == "--listen") {
            args.extend(["--listen".into(), "127.0.0.1:0".into()]);
        }
        if let Some(ca) = &ca {
            let cert = root.join("server.crt");
            let key = root.join("server.key");
            if !cert.exists() {
                let leaf = ca.server("server-1");
                write(&cert, &leaf.cert_pem);
                write(&key, &leaf.key_pem);
            }
            write(&root.join("ca.crt"), &ca.pem);
            args.extend([
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
            ]);
        }
        if let Some(cca) = &client_ca {
            let path = root.join("client-ca.crt");
            write(&path, &cca.pem);
            args.extend(["--client-ca".into(), path.display().to_string()]);
        }
        let config = root.join("config.yaml");
        write(&config, &options.config_yaml);
        args.extend(["--config".into(), config.display().to_string()]);
        args.extend(options.args.iter().cloned());

        let bin = workspace_bin("shinydb-server");
        let mut cmd = match options.launcher.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        cmd.args(&args)
            .env_remove("SHINYDB_ADMIN_PASSWORD")
            .env("SHINYDB_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(pw) = &options.admin_password {
            cmd.env("SHINYDB_ADMIN_PASSWORD", pw);
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start shinydb-server");
        let log = collect_log(&mut child);
        let Some(line) = listening_line(&mut child) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server did not start; its log:\n{}",
                log.lock().unwrap()
            );
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
            args,
            options,
            log,
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same directory, options and
    /// gRPC port.
    pub fn restart(&mut self) {
        self.kill();
        let mut options = self.options.clone();
        if !options.args.iter().any(|a| a == "--listen") {
            options
                .args
                .extend(["--listen".into(), self.grpc.to_string()]);
        }
        let next = Server::start_in(
            Arc::clone(&self.dir),
            self.ca.clone(),
            self.client_ca.clone(),
            options,
        );
        *self = next;
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The CA certificate's file (with TLS).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// `https://localhost:<port>` with TLS, else `http://<address>`.
    pub fn endpoint_uri(&self) -> String {
        if self.ca.is_some() {
            format!("https://localhost:{}", self.grpc.port())
        } else {
            format!("http://{}", self.grpc)
        }
    }

    /// Everything the server wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        let id = self.child.as_ref().expect("running").id();
        i32::try_from(id).expect("pid")
    }

    /// Sends signal `sig` (a number, as `kill -<sig>`).
    pub fn signal(&self, sig: i32) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit; returns its exit code (`None`: killed by a signal).
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("running");
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return st.code();
            }
            assert!(
                Instant::now() < end,
                "the server did not exit within {timeout:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server at once (SIGKILL) and waits for it; nothing if it has exited.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// GET `path` on the HTTP port: (status, body).
    pub fn http_get(&self, path: &str) -> (u16, String) {
        http::http_get(self.http, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Copies the child's stderr into a string as it comes (and to our stderr with
/// `SHINYDB_TEST_LOGS` set).
fn collect_log(child: &mut Child) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().expect("stderr");
    let sink = Arc::clone(&log);
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
                    sink.lock().unwrap().push_str(&text);
                }
            }
        }
    });
    log
}

/// Waits for `shinydb-server listening …` on stdout.
fn listening_line(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("shinydb-server listening") {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(START_TIMEOUT).ok()
}
