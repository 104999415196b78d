//! `validate`: what the schema and its CEL rules cannot check, because it needs other objects
//! (referenced Secrets) or the server's configuration parser. Pure: the caller fetches the
//! referenced Secrets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use crate::build::tls::{CertInfo, cert_info};
use crate::build::{ConfigError, ServerConfig, server_config_yaml};
use crate::crd::{Encryption, ObjectStore, ShinyDB, TlsMode};
use crate::schedule::{Schedule, ScheduleError};

/// The user's Secrets a ShinyDB names, as fetched (`None`: not found or not named).
#[derive(Clone, Debug, Default)]
pub struct Referenced {
    /// `spec.tls.secretName` (mode `Provided`).
    pub tls_secret: Option<Secret>,
    /// `spec.auth.adminPasswordSecret.name`.
    pub admin_secret: Option<Secret>,
    /// The Secrets `spec.backup` names, by name (absent: not found).
    pub backup_secrets: BTreeMap<String, Secret>,
}

/// Why a ShinyDB cannot be rolled out; each names the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// `spec.config` is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `spec.tls.mode: Disabled` without `allowInsecure` (also a CEL rule).
    #[error("spec.tls.allowInsecure must be true when spec.tls.mode is Disabled")]
    InsecureNotAllowed,
    /// `spec.tls.secretName` is missing or names no Secret.
    #[error("spec.tls.secretName: Secret {0:?} not found")]
    TlsSecretMissing(String),
    /// The provided TLS Secret lacks a key.
    #[error("spec.tls.secretName: Secret {name:?} has no key {key:?}")]
    TlsSecretKey {
        /// Secret name.
        name: String,
        /// Missing key.
        key: &'static str,
    },
    /// The provided certificate does not parse.
    #[error("spec.tls.secretName: Secret {name:?}: {message}")]
    TlsSecretInvalid {
        /// Secret name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The admin password Secret does not exist.
    #[error("spec.auth.adminPasswordSecret.name: Secret {0:?} not found")]
    AdminSecretMissing(String),
    /// A Secret `spec.backup` names does not exist.
    #[error("{field}: Secret {name:?} not found")]
    BackupSecretMissing {
        /// The field naming it.
        field: &'static str,
        /// Secret name.
        name: String,
    },
    /// A Secret `spec.backup` names lacks the key.
    #[error("{field}: Secret {name:?} has no non-empty key {key:?}")]
    BackupSecretKey {
        /// The field naming the key.
        field: &'static str,
        /// Secret name.
        name: String,
        /// Missing key.
        key: String,
    },
    /// A backup schedule cannot be read.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The admin password Secret lacks the key.
    #[error("spec.auth.adminPasswordSecret.key: Secret {name:?} has no non-empty key {key:?}")]
    AdminSecretKey {
        /// Secret name.
        name: String,
        /// Missing key.
        key: String,
    },
}

/// What validation learned: the server configuration, parsed once for `build`, and what the
/// status reports.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The merged server configuration, accepted by the server's own parser.
    pub config: ServerConfig,
    /// The provided server certificate, with mode `Provided`.
    pub provided_certificate: Option<CertInfo>,
}

fn key<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    secret
        .data
        .as_ref()?
        .get(key)
        .map(|v| v.0.as_slice())
        .filter(|v| !v.is_empty())
}

/// Checks `db` against the Secrets it references and the server's configuration parser.
pub fn validate(db: &ShinyDB, referenced: &Referenced) -> Result<Validated, ValidationError> {
    let mut validated = Validated {
        config: server_config_yaml(db)?,
        provided_certificate: None,
    };
    let tls = &db.spec.tls;
    match tls.mode {
        TlsMode::Disabled if !tls.allow_insecure => {
            return Err(ValidationError::InsecureNotAllowed);
        }
        TlsMode::Disabled | TlsMode::OperatorManaged => {}
        TlsMode::Provided => {
            let name = tls.secret_name.clone().unwrap_or_default();
            let secret = referenced
                .tls_secret
                .as_ref()
                .ok_or_else(|| ValidationError::TlsSecretMissing(name.clone()))?;
            for k in ["tls.crt", "tls.key", "ca.crt"] {
                if key(secret, k).is_none() {
                    return Err(ValidationError::TlsSecretKey { name, key: k });
                }
            }
            let cert = key(secret, "tls.crt").unwrap_or_default();
            let info =
                cert_info("tls.crt", cert).map_err(|e| ValidationError::TlsSecretInvalid {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
            validated.provided_certificate = Some(info);
        }
    }
    if let Some(admin) = &db.spec.auth.admin_password_secret {
        let secret = referenced
            .admin_secret
            .as_ref()
            .ok_or_else(|| ValidationError::AdminSecretMissing(admin.name.clone()))?;
        if key(secret, &admin.key).is_none() {
            return Err(ValidationError::AdminSecretKey {
                name: admin.name.clone(),
                key: admin.key.clone(),
            });
        }
    }
    for schedule in db
        .spec
        .backup
        .iter()
        .flat_map(|b| b.schedules.iter().chain(&b.drills))
    {
        Schedule::parse(schedule)?;
    }
    for (field, name, wanted) in backup_secret_keys(db) {
        let secret = referenced.backup_secrets.get(name).ok_or_else(|| {
            ValidationError::BackupSecretMissing {
                field,
                name: name.into(),
            }
        })?;
        if key(secret, wanted).is_none() {
            return Err(ValidationError::BackupSecretKey {
                field,
                name: name.into(),
                key: wanted.into(),
            });
        }
    }
    Ok(validated)
}

/// Every Secret key `spec.backup` and `spec.bootstrap.restore` name: (the field naming the
/// key, Secret, key).
pub fn backup_secret_keys(db: &ShinyDB) -> Vec<(&'static str, &str, &str)> {
    let mut out = Vec::new();
    if let Some(backup) = &db.spec.backup {
        store_keys(
            &mut out,
            [
                "spec.backup.store.credentials.accessKeyIdKey",
                "spec.backup.store.credentials.secretAccessKeyKey",
                "spec.backup.store.caSecret",
                "spec.backup.encryption.keySecret",
            ],
            &backup.store,
            backup.encryption.as_ref(),
        );
    }
    if let Some(restore) = db.spec.bootstrap.as_ref().and_then(|b| b.restore.as_ref()) {
        store_keys(
            &mut out,
            [
                "spec.bootstrap.restore.store.credentials.accessKeyIdKey",
                "spec.bootstrap.restore.store.credentials.secretAccessKeyKey",
                "spec.bootstrap.restore.store.caSecret",
                "spec.bootstrap.restore.encryption.keySecret",
            ],
            &restore.store,
            restore.encryption.as_ref(),
        );
    }
    out
}

/// The Secret keys of one store and its encryption key, named by `fields` (access key id,
/// secret key, CA, encryption key).
fn store_keys<'a>(
    out: &mut Vec<(&'static str, &'a str, &'a str)>,
    fields: [&'static str; 4],
    store: &'a ObjectStore,
    encryption: Option<&'a Encryption>,
) {
    let [access, secret, ca_field, key] = fields;
    if let Some(c) = &store.credentials {
        out.push((access, c.secret_name.as_str(), c.access_key_id_key.as_str()));
        out.push((
            secret,
            c.secret_name.as_str(),
            c.secret_access_key_key.as_str(),
        ));
    }
    if let Some(ca) = &store.ca_secret {
        out.push((ca_field, ca.name.as_str(), ca.key.as_str()));
    }
    if let Some(e) = encryption {
        out.push((key, e.key_secret.name.as_str(), e.key_secret.key.as_str()));
    }
}
