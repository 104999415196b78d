//! The generated admin password Secret (when the user names none). It lives as long as the
//! data it opens: owned by the ShinyDB (and deleted with it) only when the volumes are deleted
//! with it too; with `storage.reclaimPolicy: Retain` it stays with the kept volume, so a ShinyDB
//! created again under the same name finds the password its data directory knows.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use rand::distr::{Alphanumeric, SampleString};

use super::{BuildError, Names, labels};
use crate::crd::{ShinyDB, VolumeReclaimPolicy};

/// Length of generated passwords (alphanumeric, about 190 bits).
const PASSWORD_LEN: usize = 32;

/// The admin Secret: the stored password is kept; a new one is generated only when none is
/// stored. Owned by the ShinyDB only when its volumes go with it.
pub(super) fn admin_secret(
    names: &Names,
    owner: &OwnerReference,
    db: &ShinyDB,
    existing: Option<&Secret>,
) -> Secret {
    let password = existing
        .and_then(|s| s.data.as_ref()?.get("password"))
        .filter(|p| !p.0.is_empty())
        .cloned()
        .unwrap_or_else(|| {
            ByteString(
                Alphanumeric
                    .sample_string(&mut rand::rng(), PASSWORD_LEN)
                    .into_bytes(),
            )
        });
    Secret {
        metadata: ObjectMeta {
            name: Some(names.admin_secret()),
            namespace: Some(names.namespace.clone()),
            labels: Some(labels(db)),
            owner_references: matches!(db.spec.storage.reclaim_policy, VolumeReclaimPolicy::Delete)
                .then(|| vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/basic-auth".into()),
        data: Some(BTreeMap::from([
            (
                "username".to_string(),
                ByteString(shinydb_server::ADMIN_USER.as_bytes().to_vec()),
            ),
            ("password".to_string(), password),
        ])),
        ..Secret::default()
    }
}

/// The admin Secret of `db` holding `password`, for an instance restored from another one's
/// backup (whose user catalog, and so the admin's password, came with the data). It is made
/// before `db` exists, so that `db`'s first reconciliation finds it instead of generating a
/// password: it has no owner yet, and carries `restore`'s label, by which `db` adopts it.
pub fn admin_secret_copy(
    db: &ShinyDB,
    password: ByteString,
    restore: &str,
) -> Result<Secret, BuildError> {
    let names = Names::of(db)?;
    let existing = Secret {
        data: Some(BTreeMap::from([("password".to_string(), password)])),
        ..Secret::default()
    };
    let unowned = OwnerReference::default();
    let mut secret = admin_secret(&names, &unowned, db, Some(&existing));
    secret.metadata.owner_references = None;
    secret
        .metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(super::RESTORE_LABEL.into(), restore.into());
    Ok(secret)
}
