//! Test harness: the real `shinydb-server` binary from `shinydb_testkit` (TLS, free port),
//! clients of this crate for it (the [`Connect`] trait), and the `shinydb` binary.

#![allow(dead_code)]

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use shinydb_client::{Client, ClientBuilder};
pub use shinydb_testkit::{ADMIN_PASSWORD, Ca, Server, ServerOptions};

/// A server with TLS on a free port and an empty data directory.
pub fn server() -> Server {
    Server::start(ServerOptions::default())
}

/// A server with extra YAML configuration.
pub fn server_with(config_yaml: &str) -> Server {
    Server::start(ServerOptions::default().config(config_yaml))
}

/// The `shinydb` command line binary.
pub fn cli_bin() -> &'static str {
    env!("CARGO_BIN_EXE_shinydb")
}

/// This crate's clients and the CLI, pointed at a test server.
pub trait Connect {
    /// A client builder trusting the test CA, without credentials.
    fn builder(&self) -> ClientBuilder;
    /// A client logged in as admin.
    fn admin(&self) -> Client;
    /// A `shinydb` command with the endpoint and CA set (no credentials).
    fn cli(&self) -> Command;
    /// A `shinydb` command logged in as admin through the environment.
    fn admin_cli(&self) -> Command;
}

impl Connect for Server {
    fn builder(&self) -> ClientBuilder {
        let ca = self.ca.as_ref().expect("a TLS test server");
        Client::builder(&self.endpoint_uri()).ca_cert_pem(ca.pem.clone().into_bytes())
    }

    fn admin(&self) -> Client {
        self.builder()
            .password("admin", ADMIN_PASSWORD)
            .build()
            .expect("client")
    }

    fn cli(&self) -> Command {
        let mut c = Command::new(cli_bin());
        c.env_remove("SHINYDB_USER")
            .env_remove("SHINYDB_PASSWORD")
            .env_remove("SHINYDB_API_KEY")
            .env("SHINYDB_ENDPOINT", self.endpoint_uri())
            .env("SHINYDB_CA_CERT", self.ca_path())
            .env("SHINYDB_HISTORY", self.dir.path().join("history"));
        c
    }

    fn admin_cli(&self) -> Command {
        let mut c = self.cli();
        c.env("SHINYDB_USER", "admin")
            .env("SHINYDB_PASSWORD", ADMIN_PASSWORD);
        c
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
