//! No default password: the first admin password comes from SHINYDB_ADMIN_PASSWORD, from
//! --admin-password-file, or is generated, written to <data-dir>/initial-admin-password
//! (mode 0600) and logged once. Later starts keep the stored password.

use std::{os::unix::fs::PermissionsExt, sync::Arc, time::Duration};

use crate::common::{Grpc, Server, ServerOptions};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_password_is_written_privately_and_logged_once() {
    let mut server = Server::start(ServerOptions {
        admin_password: None,
        ..ServerOptions::default()
    });
    let file = server.data_dir().join("initial-admin-password");
    let mode = std::fs::metadata(&file)
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let password = std::fs::read_to_string(&file)
        .expect("read")
        .trim()
        .to_string();
    assert!(password.len() >= 20, "{password}");
    server
        .login("admin", &password)
        .await
        .expect("generated password works");
    assert_eq!(
        server.log().matches(&password).count(),
        1,
        "logged exactly once"
    );
    assert_eq!(
        server
            .login("admin", "admin")
            .await
            .expect_err("no default")
            .code(),
        Code::Unauthenticated
    );

    // A restart neither regenerates nor logs it again, and ignores a new variable.
    server.signal(15);
    assert_eq!(server.wait(Duration::from_secs(30)), Some(0));
    let dir = Arc::clone(&server.dir);
    let again = Server::start_in(
        dir,
        server.ca.clone(),
        None,
        ServerOptions {
            admin_password: Some("another-password".into()),
            ..ServerOptions::default()
        },
    );
    again
        .login("admin", &password)
        .await
        .expect("same password");
    assert!(again.login("admin", "another-password").await.is_err());
    assert!(!again.log().contains(&password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_file_flag_sets_the_first_password() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-a-file-password\n").expect("write");
    let server = Server::start(ServerOptions {
        admin_password: None,
        args: vec!["--admin-password-file".into(), file.display().to_string()],
        ..ServerOptions::default()
    });
    server
        .login("admin", "from-a-file-password")
        .await
        .expect("file password");
    assert!(!server.data_dir().join("initial-admin-password").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_short_first_password_stops_the_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(crate::common::bin())
        .args(["--data-dir", &dir.path().join("d").display().to_string()])
        .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .env("SHINYDB_ADMIN_PASSWORD", "short")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shorter than auth.min_password_length"),
        "{err}"
    );
}
