//! The command line and configuration: the documented default configuration, unknown keys and
//! bad values named in errors (exit 2), environment overrides, plaintext refused off
//! loopback unless --allow-insecure, and a peer key too short to be a secret refused.

use std::process::Command;

use crate::common::{Grpc, Server, ServerOptions, bin};

fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("SHINYDB_ADMIN_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn print_default_config_prints_every_key_with_its_default() {
    let (code, out, _) = run(&["--print-default-config"], &[]);
    assert_eq!(code, Some(0));
    let parsed: shinydb_server::config::Config = serde_yaml_ng::from_str(&out).expect("yaml");
    assert_eq!(parsed, shinydb_server::config::Config::default());
    for key in [
        "durability: sync",
        "listen: 127.0.0.1:23469",
        "session_lifetime_seconds",
    ] {
        assert!(out.contains(key), "{key}");
    }
}

#[test]
fn unknown_keys_and_bad_values_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "storage:\n  durabilty: sync\n").expect("write");
    let (code, _, err) = run(&["--config", cfg.to_str().expect("utf8")], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("storage.durabilty"), "{err}");

    std::fs::write(&cfg, "limits:\n  max_page_documents: -3\n").expect("write");
    let (code, _, err) = run(&["--config", cfg.to_str().expect("utf8")], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("limits.max_page_documents"), "{err}");

    let (code, _, err) = run(&[], &[("SHINYDB_STORAGE_DURABILITY", "sometimes")]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("storage.durability") && err.contains("SHINYDB_STORAGE_DURABILITY"),
        "{err}"
    );

    let (code, _, err) = run(&["--log-level", "info,=[bad"], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("logging.level"), "{err}");

    let (code, _, err) = run(&["--tls-cert", "/nonexistent.crt"], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("tls.key"), "{err}");
}

#[test]
fn a_peer_key_too_short_to_be_a_secret_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("peer.key");
    std::fs::write(&key, "letmein\n").expect("write");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "replication:\n  role: leader\n  credential_file: {}\n",
            key.display()
        ),
    )
    .expect("write");
    let data = dir.path().join("data");
    let (code, _, err) = run(
        &[
            "--config",
            cfg.to_str().expect("utf8"),
            "--data-dir",
            data.to_str().expect("utf8"),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("replication.credential_file") && err.contains("at least 32"),
        "{err}"
    );
}

#[test]
fn plaintext_off_loopback_needs_allow_insecure() {
    let (code, _, err) = run(&["--listen", "0.0.0.0:0"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("allow_insecure") && err.contains("--allow-insecure"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_insecure_serves_plaintext_with_a_warning() {
    let server = Server::start(ServerOptions {
        tls: false,
        args: vec![
            "--allow-insecure".into(),
            "--listen".into(),
            "0.0.0.0:0".into(),
        ],
        ..ServerOptions::default()
    });
    assert!(
        server
            .log()
            .contains("serving plaintext gRPC on a non-loopback address")
    );
    let uri = format!("http://127.0.0.1:{}", server.grpc.port());
    let channel = tonic::transport::Endpoint::from_shared(uri)
        .expect("uri")
        .connect()
        .await
        .expect("plaintext connect");
    let mut users = shinydb_proto::v1::users_client::UsersClient::new(channel);
    users
        .login(shinydb_proto::v1::LoginRequest {
            user: "admin".into(),
            password: crate::common::ADMIN_PASSWORD.into(),
        })
        .await
        .expect("login over plaintext");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_variables_override_the_file() {
    let server = Server::start(ServerOptions {
        config_yaml: "limits:\n  max_page_documents: 500\n".into(),
        env: vec![("SHINYDB_LIMITS_MAX_PAGE_DOCUMENTS".into(), "3".into())],
        ..ServerOptions::default()
    });
    let mut c = server.admin().await;
    c.create_store("s", "t").await;
    c.insert("s", "t", (0..10).map(crate::common::sample).collect())
        .await;
    let page = c
        .docs
        .scan(shinydb_proto::v1::ScanRequest {
            space: "s".into(),
            store: "t".into(),
            start: None,
            limit: 0,
            reverse: false,
        })
        .await
        .expect("scan")
        .into_inner();
    assert_eq!(page.documents.len(), 3, "the variable won over the file");
}
