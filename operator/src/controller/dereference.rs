//! The dereference step: everything one reconciliation reads from the API server, fetched in
//! one place into [`Fetched`], so that validate, build and the ownership check are pure.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ListParams;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::build::{Names, Observed, RESTORE_LABEL};
use crate::crd::{ShinyBackup, ShinyDB, ShinyRestore, TlsMode};
use crate::error::Error;
use crate::restore::{HOLD_ANNOTATION, holds};
use crate::validate::{Referenced, backup_secret_keys};

/// What exists now of a ShinyDB's world.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    /// The user's Secrets it names.
    pub referenced: Referenced,
    /// The operator's own Secrets (CA, server certificate, admin password).
    pub observed: Observed,
    /// The existing children, by kind (each `None` when absent).
    pub config_map: Option<ConfigMap>,
    /// The headless and the client Service.
    pub services: Vec<Service>,
    /// The StatefulSet.
    pub stateful_set: Option<StatefulSet>,
    /// The PodDisruptionBudget.
    pub pdb: Option<PodDisruptionBudget>,
}

/// The ShinyBackups of `instance` in `ns`.
pub async fn backups_of(
    client: &Client,
    ns: &str,
    instance: &str,
) -> Result<Vec<ShinyBackup>, Error> {
    let api: Api<ShinyBackup> = Api::namespaced(client.clone(), ns);
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Fetch {
            what: "ShinyBackups".into(),
            source,
        })?;
    Ok(all
        .items
        .into_iter()
        .filter(|b| b.spec.instance == instance)
        .collect())
}

/// Object `name` of kind `K` in `ns`, if it exists.
pub async fn get<K>(client: &Client, ns: &str, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.get_opt(name).await.map_err(|source| Error::Fetch {
        what: format!("{} {name}", K::kind(&())),
        source,
    })
}

/// The in-place ShinyRestore holding `db` stopped: the one its [`HOLD_ANNOTATION`] names,
/// while it restores `db` in place and has not finished, and after that (deleted, failed)
/// for as long as a pod of its Job still runs: the volume is that pod's until it is gone.
/// Otherwise the hold holds nothing (the restore controller removes the annotation too).
async fn held_by(client: &Client, db: &ShinyDB, names: &Names) -> Result<Option<String>, Error> {
    let Some(name) = db.annotations().get(HOLD_ANNOTATION) else {
        return Ok(None);
    };
    let restore: Option<ShinyRestore> = get(client, &names.namespace, name).await?;
    if restore.is_some_and(|r| holds(&r, &names.instance)) {
        return Ok(Some(name.clone()));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &names.namespace);
    let selector = format!(
        "{RESTORE_LABEL}={name},app.kubernetes.io/instance={}",
        names.instance
    );
    let jobs = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::Fetch {
            what: format!("pods of ShinyRestore {name}"),
            source,
        })?;
    let running = jobs.items.iter().find(|p| {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        !matches!(phase, Some("Succeeded" | "Failed"))
    });
    Ok(running.map(|p| format!("{name} (its pod {} still runs)", p.name_any())))
}

/// Reads everything reconciling `db` needs.
pub async fn dereference(client: &Client, db: &ShinyDB, names: &Names) -> Result<Fetched, Error> {
    let ns = names.namespace.as_str();
    let mut referenced = Referenced {
        tls_secret: match (db.spec.tls.mode, &db.spec.tls.secret_name) {
            (TlsMode::Provided, Some(name)) => get(client, ns, name).await?,
            _ => None,
        },
        admin_secret: match &db.spec.auth.admin_password_secret {
            Some(a) => get(client, ns, &a.name).await?,
            None => None,
        },
        backup_secrets: BTreeMap::new(),
    };
    for (_, name, _) in backup_secret_keys(db) {
        if !referenced.backup_secrets.contains_key(name)
            && let Some(secret) = get::<Secret>(client, ns, name).await?
        {
            referenced.backup_secrets.insert(name.to_string(), secret);
        }
    }
    let observed = Observed {
        ca_secret: get::<Secret>(client, ns, &names.ca_secret()).await?,
        tls_secret: get::<Secret>(client, ns, &names.tls_secret()).await?,
        admin_secret: get::<Secret>(client, ns, &names.admin_secret()).await?,
        held_by: held_by(client, db, names).await?,
        bootstrapping: false,
    };
    let mut services = Vec::new();
    for name in [names.headless_service(), names.client_service()] {
        services.extend(get::<Service>(client, ns, &name).await?);
    }
    Ok(Fetched {
        referenced,
        observed,
        config_map: get(client, ns, &names.config_map()).await?,
        services,
        stateful_set: get(client, ns, &names.stateful_set()).await?,
        pdb: get(client, ns, &names.pdb()).await?,
    })
}
