//! Mutual TLS: with a client CA configured, only clients presenting a certificate it signed get
//! through the handshake.

use std::time::Duration;

use crate::common::{ADMIN_PASSWORD, Ca, Server, ServerOptions};
use shinydb_proto::v1::{self, users_client::UsersClient};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

async fn try_login(server: &Server, identity: Option<Identity>) -> Result<(), String> {
    let ca = server.ca.as_ref().expect("tls");
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca.pem))
        .domain_name("localhost");
    if let Some(id) = identity {
        tls = tls.identity(id);
    }
    let channel = Endpoint::from_shared(server.endpoint_uri())
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    UsersClient::new(channel)
        .login(v1::LoginRequest {
            user: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .map(drop)
        .map_err(|e| format!("call: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_with_a_certificate_from_the_client_ca_connect() {
    let server = Server::start(ServerOptions {
        client_ca: true,
        ..ServerOptions::default()
    });
    let client_ca = server.client_ca.clone().expect("client ca");
    let good = client_ca.client("app");
    try_login(
        &server,
        Some(Identity::from_pem(good.cert_pem, good.key_pem)),
    )
    .await
    .expect("a client certificate from the client CA");

    try_login(&server, None)
        .await
        .expect_err("no client certificate");
    let stranger = Ca::new("Other CA").client("intruder");
    try_login(
        &server,
        Some(Identity::from_pem(stranger.cert_pem, stranger.key_pem)),
    )
    .await
    .expect_err("a certificate from another CA");
    let (_, metrics) = server.http_get("/metrics");
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("shinydb_tls_handshake_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("metric");
    assert!(failures >= 2, "{metrics}");
}
