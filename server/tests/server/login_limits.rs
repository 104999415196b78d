//! Failed-login limits hold under concurrency and lock out an address, never a user everywhere:
//! forty concurrent wrong passwords for `admin` get exactly `max_failed_logins` tries, and the
//! right password still works from another address. Names no user can have are refused before
//! any of that, without echoing megabytes back.

use crate::common::{ADMIN_PASSWORD, Grpc, Server, ServerOptions};
use shinydb_proto::v1::{self, users_client::UsersClient};
use tonic::Code;

fn login(user: &str, password: &str) -> v1::LoginRequest {
    v1::LoginRequest {
        user: user.into(),
        password: password.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_get_the_limit_and_do_not_lock_the_user_out() {
    let server = Server::start(
        ServerOptions::default()
            .config("auth:\n  max_failed_logins: 5\n  failed_login_window_seconds: 600\n"),
    );
    let channel = server.channel().await;
    let guesses = (0..40).map(|i| {
        let mut c = UsersClient::new(channel.clone());
        async move { c.login(login("admin", &format!("guess-number-{i}"))).await }
    });
    let results = futures::future::join_all(guesses).await;
    let code_count = |code: Code| {
        results
            .iter()
            .filter(|r| matches!(r, Err(e) if e.code() == code))
            .count()
    };
    assert_eq!(
        (
            code_count(Code::Unauthenticated),
            code_count(Code::ResourceExhausted)
        ),
        (5, 35),
        "five passwords checked, the rest refused: {results:?}"
    );

    // This address waits out the window, even with the right password...
    let e = server
        .login("admin", ADMIN_PASSWORD)
        .await
        .expect_err("this address is locked");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    // ...but the administrator is not locked out: from another address the password works.
    let elsewhere = server
        .endpoint()
        .local_address(Some([127, 0, 0, 2].into()))
        .connect()
        .await
        .expect("connect from 127.0.0.2");
    UsersClient::new(elsewhere)
        .login(login("admin", ADMIN_PASSWORD))
        .await
        .expect("admin logs in from another address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_no_user_can_have_is_refused_with_a_short_message() {
    let server = Server::start(ServerOptions::default());
    let mut c = UsersClient::new(server.channel().await);
    let e = c
        .login(login(&"x".repeat(1 << 20), "whatever-password"))
        .await
        .expect_err("a 1 MiB user name");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("at most 64 characters"), "{e}");
    assert!(e.message().len() < 300, "{}", e.message().len());
}
