//! A connection to one server of an instance, as its administrator: the CA from the
//! instance's TLS Secret, the password from its admin Secret.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::build::{GRPC_PORT, Names};
use crate::crd::{ShinyDB, TlsMode};

/// Why the operator cannot talk to an instance's server.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A Secret the connection needs cannot be read.
    #[error("reading Secret {name}: {source}")]
    Secret {
        /// Secret name.
        name: String,
        /// The API's error.
        source: kube::Error,
    },
    /// A Secret the connection needs lacks its key.
    #[error("Secret {name} has no key {key}")]
    MissingKey {
        /// Secret name.
        name: String,
        /// The key.
        key: String,
    },
    /// The client could not be built (bad CA, for example).
    #[error("connecting to {endpoint}: {source}")]
    Client {
        /// The server.
        endpoint: String,
        /// The client's error.
        source: shinydb_client::Error,
    },
}

async fn secret_key(secrets: &Api<Secret>, name: &str, key: &str) -> Result<Vec<u8>, ConnectError> {
    let secret = secrets
        .get(name)
        .await
        .map_err(|source| ConnectError::Secret {
            name: name.into(),
            source,
        })?;
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.0.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConnectError::MissingKey {
            name: name.into(),
            key: key.into(),
        })
}

/// The endpoint of pod `ordinal` of `db`.
pub fn pod_endpoint(db: &ShinyDB, names: &Names, ordinal: i32) -> String {
    let scheme = match db.spec.tls.mode {
        TlsMode::Disabled => "http",
        TlsMode::OperatorManaged | TlsMode::Provided => "https",
    };
    let host = names.pod_host(ordinal, &db.spec.tls.cluster_domain);
    format!("{scheme}://{host}:{GRPC_PORT}")
}

/// The password of `db`'s `admin` user, from its admin Secret.
pub async fn admin_password(
    kube: &kube::Client,
    db: &ShinyDB,
    names: &Names,
) -> Result<Vec<u8>, ConnectError> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), &names.namespace);
    let (name, key) = match &db.spec.auth.admin_password_secret {
        Some(s) => (s.name.clone(), s.key.clone()),
        None => (names.admin_secret(), "password".to_string()),
    };
    secret_key(&secrets, &name, &key).await
}

/// A client of pod `ordinal` of `db`, logged in as `admin`, whose calls may last `request`
/// (`None`: as long as they take).
pub async fn admin_client(
    kube: &kube::Client,
    db: &ShinyDB,
    names: &Names,
    ordinal: i32,
    request: Option<Duration>,
) -> Result<shinydb_client::Client, ConnectError> {
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), &names.namespace);
    let password = admin_password(kube, db, names).await?;
    let endpoint = pod_endpoint(db, names, ordinal);
    let mut builder = shinydb_client::Client::builder(&endpoint)
        .password("admin", &String::from_utf8_lossy(&password))
        .timeouts(shinydb_client::Timeouts {
            connect: Duration::from_secs(5),
            request,
        })
        .connections(1);
    let tls_secret = match (db.spec.tls.mode, &db.spec.tls.secret_name) {
        (TlsMode::OperatorManaged, _) => Some(names.tls_secret()),
        (TlsMode::Provided, Some(name)) => Some(name.clone()),
        (TlsMode::Provided, None) | (TlsMode::Disabled, _) => None,
    };
    if let Some(name) = tls_secret {
        builder = builder.ca_cert_pem(secret_key(&secrets, &name, "ca.crt").await?);
    }
    builder
        .build()
        .map_err(|source| ConnectError::Client { endpoint, source })
}
