//! `build`: the pure function from a [`ShinyDB`] (and what was observed of its Secrets) to
//! every child object the operator applies. No client, no clock, no I/O: the caller passes
//! the time and the observed Secrets, so tests drive it from YAML fixtures.

mod config;
mod names;
mod pdb;
mod restore_job;
mod secrets;
mod services;
mod statefulset;
pub mod tls;

pub use config::{ConfigError, ServerConfig, backup_env, config_hash, server_config_yaml};
pub use names::{Names, labels, selector_labels};
pub use restore_job::{RESTORE_LABEL, RestoreJob, data_claim, restore_job};
pub use secrets::admin_secret_copy;
pub use statefulset::{CONFIG_HASH_ANNOTATION, image};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Resource;

use crate::crd::{ShinyDB, TlsMode};

/// The gRPC port of the server.
pub const GRPC_PORT: i32 = 23469;
/// The HTTP port of the server (`/healthz`, `/readyz`, `/metrics`).
pub const HTTP_PORT: i32 = 23470;
/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "shinydb-operator";

/// What the operator saw that a build depends on: its Secrets, and a restore holding it.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The operator's CA Secret (`<name>-ca`), if it exists.
    pub ca_secret: Option<Secret>,
    /// The operator's server certificate Secret (`<name>-tls`), if it exists.
    pub tls_secret: Option<Secret>,
    /// The generated admin password Secret (`<name>-admin`), if it exists.
    pub admin_secret: Option<Secret>,
    /// The unfinished in-place ShinyRestore that holds the instance stopped, if any.
    pub held_by: Option<String>,
    /// Whether `spec.bootstrap.restore` has not made the data yet (or failed): the
    /// instance stays at zero pods.
    pub bootstrapping: bool,
}

/// Every child object of one ShinyDB, ready for server-side apply.
#[derive(Clone, Debug)]
pub struct Desired {
    /// Server configuration.
    pub config_map: ConfigMap,
    /// Secrets the operator owns (CA, server certificate, admin password), as needed.
    pub secrets: Vec<Secret>,
    /// The headless Service (pod DNS) and the client Service.
    pub services: Vec<Service>,
    /// The server pods.
    pub stateful_set: StatefulSet,
    /// Present when more than one replica is asked for.
    pub pdb: Option<PodDisruptionBudget>,
    /// Certificates after this build and when they must be looked at again.
    pub tls: Option<tls::TlsOutcome>,
    /// The configuration hash on the pod template.
    pub config_hash: String,
}

/// Why a ShinyDB cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The object lacks a name or namespace (never true for objects from the API server).
    #[error("the ShinyDB has no {0}")]
    MissingMetadata(&'static str),
    /// A certificate could not be issued or an existing one could not be read.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Builds every child object of `db` at time `now`, with the server configuration `validate`
/// parsed.
pub fn build(
    db: &ShinyDB,
    config: &ServerConfig,
    observed: &Observed,
    now: jiff::Timestamp,
) -> Result<Desired, BuildError> {
    let names = Names::of(db)?;
    let owner = owner_reference(db)?;
    let hash = config_hash(config);
    let config_map = config::config_map(&names, &owner, db, config);

    let mut secrets = Vec::new();
    let tls = match db.spec.tls.mode {
        TlsMode::OperatorManaged => {
            let outcome = tls::operator_managed(db, &names, observed, now)?;
            secrets.push(tls::ca_secret(&names, &owner, db, &outcome));
            secrets.push(tls::tls_secret(&names, &owner, db, &outcome));
            Some(outcome)
        }
        TlsMode::Provided | TlsMode::Disabled => None,
    };
    if db.spec.auth.admin_password_secret.is_none() {
        secrets.push(secrets::admin_secret(
            &names,
            &owner,
            db,
            observed.admin_secret.as_ref(),
        ));
    }
    let services = vec![
        services::headless(&names, &owner, db),
        services::client(&names, &owner, db),
    ];
    let held = observed.held_by.is_some() || observed.bootstrapping;
    let stateful_set = statefulset::stateful_set(&names, &owner, db, config, &hash, held);
    let pdb = (db.spec.replicas > 1).then(|| pdb::pdb(&names, &owner, db));
    Ok(Desired {
        config_map,
        secrets,
        services,
        stateful_set,
        pdb,
        tls,
        config_hash: hash,
    })
}

/// The controller owner reference children carry, so they are garbage-collected with the
/// ShinyDB and their changes wake its reconciler.
pub fn owner_reference(db: &ShinyDB) -> Result<OwnerReference, BuildError> {
    db.controller_owner_ref(&())
        .ok_or(BuildError::MissingMetadata("uid"))
}
