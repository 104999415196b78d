//! Certificate hot reload: replacing the certificate and key files makes new connections get
//! the new certificate, while a connection made before keeps working; files that do not load
//! leave the last good certificate in place.

use std::time::Duration;

use crate::common::{ADMIN_PASSWORD, Ca, Clients, Server, ServerOptions, sample};
use shinydb_proto::v1::{self, users_client::UsersClient};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

async fn connect(server: &Server, ca: &Ca) -> Result<tonic::transport::Channel, String> {
    Endpoint::from_shared(server.endpoint_uri())
        .expect("uri")
        .connect_timeout(Duration::from_secs(5))
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&ca.pem))
                .domain_name("localhost"),
        )
        .expect("tls")
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))
}

async fn login(channel: tonic::transport::Channel) -> Result<String, tonic::Status> {
    UsersClient::new(channel)
        .login(v1::LoginRequest {
            user: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .map(|r| r.into_inner().token)
}

/// Replaces a file the way Kubernetes does: write aside, then rename over.
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificates_serve_new_connections_and_old_ones_keep_working() {
    let server = Server::start(ServerOptions::default());
    let old_ca = server.ca.clone().expect("tls");
    let old_channel = connect(&server, &old_ca).await.expect("old CA works");
    let token = login(old_channel.clone()).await.expect("login");
    let mut old = Clients::new(old_channel, &token);
    old.create_store("s", "t").await;

    // Rotate to a certificate from a different CA.
    let new_ca = Ca::new("Rotated CA");
    let leaf = new_ca.server("server-2");
    let dir = server.dir.path();
    replace(&dir.join("server.key"), &leaf.key_pem);
    replace(&dir.join("server.crt"), &leaf.cert_pem);

    let fresh = connect(&server, &new_ca)
        .await
        .expect("the new certificate is served");
    login(fresh).await.expect("a call on the new connection");
    let e = match connect(&server, &old_ca).await {
        Ok(ch) => login(ch)
            .await
            .expect_err("old CA no longer trusted")
            .to_string(),
        Err(e) => e,
    };
    assert!(!e.is_empty());

    // The connection made before the rotation still works.
    old.insert("s", "t", vec![sample(1)]).await;
    assert!(old.get("s", "t", crate::common::iid(1)).await.is_some());
    let (_, metrics) = server.http_get("/metrics");
    assert!(
        metrics.contains("shinydb_tls_certificate_reloads_total 1"),
        "{metrics}"
    );

    // Broken files are not loaded: the last good certificate stays.
    replace(
        &dir.join("server.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    );
    let still = connect(&server, &new_ca)
        .await
        .expect("last good certificate");
    login(still).await.expect("still serving");
    assert!(server.log().contains("keeping the previous certificate"));

    // Fixing the files is picked up again.
    let third_ca = Ca::new("Third CA");
    let leaf = third_ca.server("server-3");
    replace(&dir.join("server.key"), &leaf.key_pem);
    replace(&dir.join("server.crt"), &leaf.cert_pem);
    let third = connect(&server, &third_ca)
        .await
        .expect("third certificate");
    login(third).await.expect("served");
}
